"""Recovery's arithmetic: a hypha snapshot document plus the journal records after it -> the document
of the state those records reached.

This works on the documents alone (encoded tokens are moved, never decoded, and no handler runs), so
it needs neither the net nor the token types: ``mycorrhizal inspect`` uses it to show a run as
recovery would rebuild it.  The records are those of :mod:`.journal`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ..common.codecs import JSON
from ..common.errors import StoreError
from ..common.store import Record
from .memory_journal import DAMAGED as _DAMAGED
from .memory_journal import Patches
from .snapshot import ENGINE, VERSION

__all__ = ["replay"]


class _State:
    """A document being replayed: tokens by durable id (in place order), per-transition entries."""

    __slots__ = ("doc", "tokens", "next_id", "seq", "kind", "patches")

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        ids = doc["ids"]
        # durable id -> (place, encoded token); insertion order is each place's order
        self.tokens: dict[int, tuple[str, JSON]] = {}
        for place, tokens in doc["places"].items():
            known = ids.get(place, [])
            if type(tokens) is not list or type(known) is not list or len(known) != len(tokens):
                raise _malformed(f"place {place!r} holds {str(tokens)[:40]}, with ids {str(known)[:40]}")
            for durable, token in zip(known, tokens, strict=True):
                self.tokens[durable] = (place, token)
        self.next_id: int = doc["next_id"]
        self.seq = 0
        self.kind = ""
        self.patches = Patches()

    def take(self, ids: Iterable[int], place: str | None = None) -> None:
        """Take the tokens ``ids`` out of the marking; from ``place``, when the record names it (a
        firing's or a transition's parked tokens come from inputs the document does not list)."""
        for durable in ids:
            found = self.tokens.pop(durable, None)
            if found is None:
                raise StoreError(
                    f"journal record {self.seq} consumes token {durable}, which is in no place: {_DAMAGED}"
                )
            if place is not None and found[0] != place:
                raise StoreError(
                    f"journal record {self.seq} ({self.kind}) takes token {durable} from place {place!r}, "
                    f"but the token is in place {found[0]!r}: {_DAMAGED}"
                )

    def put(self, place: str, first: int, tokens: list[JSON]) -> None:
        if first != self.next_id:
            raise StoreError(
                f"journal record {self.seq} numbers its tokens from {first}, expected {self.next_id}: "
                f"{_DAMAGED}"
            )
        for token in tokens:
            self.tokens[self.next_id] = (place, token)
            self.next_id += 1
        for entry in self.doc["transitions"].values():
            blocked = entry.get("blocked")
            if blocked is not None and place in blocked.get("inputs", ()):
                del entry["blocked"]  # a new token releases a transition held back by a failure
        sink = self.doc["sinks"].get(place)
        if sink is not None:
            sink.pop("blocked", None)

    def transition(self, name: str) -> dict[str, Any]:
        entry = self.doc["transitions"].get(name)
        if entry is None:
            raise StoreError(
                f"journal record {self.seq} names transition {name!r}, which the snapshot lacks: {_DAMAGED}"
            )
        return entry  # type: ignore[no-any-return]

    def finish(self) -> dict[str, JSON]:
        places: dict[str, list[JSON]] = {name: [] for name in self.doc["places"]}
        ids: dict[str, list[int]] = {name: [] for name in self.doc["places"]}
        for durable, (place, token) in self.tokens.items():
            places.setdefault(place, []).append(token)
            ids.setdefault(place, []).append(durable)
        self.doc["places"] = places
        self.doc["ids"] = ids
        self.doc["next_id"] = self.next_id
        self.patches.finish()
        return self.doc


def replay(document: JSON, records: Iterable[Record]) -> dict[str, JSON]:
    """The document of the state ``records`` (the journal after ``document``) lead to.

    ``document`` is not changed.  A record that does not fit the document (a token consumed twice,
    taken from a place that does not hold it, unknown names, ids out of order) is a
    :class:`StoreError`: the journal is damaged, or it and the snapshot do not belong together.
    So is a snapshot in a newer format than this code reads, or one that is malformed.
    """
    checked = _checked(document)
    state = _State(copy.deepcopy(_without_places(checked)) | {"places": checked["places"]})
    for record in records:
        state.seq, state.kind = record.seq, record.kind
        payload: Any = record.payload
        try:
            _apply(state, record.kind, payload)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StoreError(
                f"journal record {record.seq} ({record.kind}) is malformed ({exc!r}): {_DAMAGED}"
            ) from exc
    return state.finish()


def _checked(document: JSON) -> dict[str, Any]:
    """``document`` if it is a journaled hypha runner's snapshot in a format this code reads, with the
    parts replay works on; otherwise a StoreError saying which and what to do."""
    if type(document) is not dict or document.get("engine") != ENGINE:
        raise StoreError(
            f"its snapshot is not a hypha runner document: {str(document)[:80]!r}. Fix: recover the run "
            "with what wrote it, or give this runner another run= name"
        )
    version = document.get("version")
    if type(version) is int and version > VERSION:  # before its parts: a newer format may lay them out anew
        raise StoreError(
            f"its snapshot is in hypha format {version}, newer than format {VERSION} that this mycorrhizal "
            "reads. Fix: recover it with the (newer) mycorrhizal version that wrote it"
        )
    if type(version) is not int or version < 1:
        raise _malformed(f"version {version!r}")
    for key in ("places", "transitions", "sinks"):
        if type(document.get(key)) is not dict:
            raise _malformed(f"no {key!r}" if key not in document else f"{key!r} is not an object")
    if type(document.get("ids")) is not dict:
        raise StoreError(
            "its snapshot has no token ids: it was not written by a journaled runner. Fix: recover only "
            "runs a Runner(..., store=...) journaled; read a runner.snapshot() document with Runner.restore"
        )
    next_id = document.get("next_id")
    if "next_id" not in document:
        raise _malformed("no 'next_id'")
    if type(next_id) is not int:
        raise StoreError(
            f"malformed next_id {next_id!r} in its snapshot: the store was damaged or edited. Fix: restore "
            "the store from a backup"
        )
    return document


def _malformed(what: str) -> StoreError:
    return StoreError(
        f"its snapshot is malformed ({what}): the store was damaged or edited. Fix: restore the store from "
        "a backup"
    )


def _without_places(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "places"}


def _apply(state: _State, kind: str, payload: dict[str, Any]) -> None:
    if kind == "fire":
        state.take(payload["in"])
        entry = state.transition(payload["t"])
        entry["fired"] = entry.get("fired", 0) + 1
        entry.pop("blocked", None)
        first = payload.get("id", state.next_id)
        for place, tokens in payload.get("out", ()):
            state.put(place, first, tokens)
            first += len(tokens)
        if "m" in payload:
            entry["memory"] = payload["m"]
        for name, change in payload.get("mc", ()):
            state.patches.apply(payload["t"], entry, name, change)
    elif kind == "memory":
        name = payload["t"]
        state.patches.apply(name, state.transition(name), payload["k"], payload["c"])
    elif kind == "add":
        state.put(payload["place"], payload["id"], payload["tokens"])
    elif kind == "remove":
        state.take(payload["in"], payload["place"])
    elif kind == "park":
        # "place" is where the tokens go; a sink's come from the sink ("t": a transition's inputs)
        state.take(payload["in"], payload.get("sink"))
        state.put(payload["place"], payload["id"], payload["tokens"])
    elif kind == "deliver":
        state.take(payload["in"], payload["place"])
        _sink_delivered(state, payload["place"])
    elif kind == "block":
        _seen(state, payload["now"])
        entry = state.transition(payload["t"])
        entry["streak"], entry["fired_at"] = payload["streak"], payload["fired_at"]
        entry["blocked"] = {key: payload[key] for key in ("at", "error", "inputs")}
    elif kind == "sink_block":
        _seen(state, payload["now"])
        state.doc["sinks"][payload["sink"]] = {
            "streak": payload["streak"],
            "blocked": {"at": payload["at"], "error": payload["error"]},
        }
    else:
        raise StoreError(
            f"journal record {state.seq} is of kind {kind!r}, which this mycorrhizal does not write: the "
            "journal is damaged, or was written by a newer mycorrhizal. Fix: recover it with the version "
            "that wrote it, or from an undamaged copy of the store"
        )


def _sink_delivered(state: _State, place: str) -> None:
    """A sink delivered a token: its failure streak ends."""
    state.doc["sinks"].pop(place, None)


def _seen(state: _State, now: Any) -> None:
    """A record written at ``now`` on the runner's timebase: the document is at least that recent."""
    if isinstance(now, int | float) and now > state.doc.get("time", now):
        state.doc["time"] = now
