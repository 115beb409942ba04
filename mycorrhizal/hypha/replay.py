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
from .memory_journal import Patches
from .snapshot import ENGINE

__all__ = ["replay"]


class _State:
    """A document being replayed: tokens by durable id (in place order), per-transition entries."""

    __slots__ = ("doc", "tokens", "next_id", "seq", "kind", "patches")

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        ids = doc.get("ids")
        if type(ids) is not dict:
            raise StoreError("the snapshot has no token ids: it was not written by a journaled runner")
        # durable id -> (place, encoded token); insertion order is each place's order
        self.tokens: dict[int, tuple[str, JSON]] = {}
        for place, tokens in doc["places"].items():
            for durable, token in zip(ids.get(place, ()), tokens, strict=True):
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
                    f"journal record {self.seq} consumes token {durable}, which is in no place: the journal "
                    "does not belong to this snapshot"
                )
            if place is not None and found[0] != place:
                raise StoreError(
                    f"journal record {self.seq} ({self.kind}) takes token {durable} from place {place!r}, "
                    f"but the token is in place {found[0]!r}: the journal is damaged or does not belong to "
                    "the run's snapshot. Fix: recover from an undamaged copy of the store, or start the "
                    "run afresh under another run= name"
                )

    def put(self, place: str, first: int, tokens: list[JSON]) -> None:
        if first != self.next_id:
            raise StoreError(
                f"journal record {self.seq} numbers its tokens from {first}, expected {self.next_id}: "
                "the journal does not belong to this snapshot"
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
            raise StoreError(f"journal record {self.seq} names transition {name!r}, which the snapshot lacks")
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
    """
    if type(document) is not dict or document.get("engine") != ENGINE:
        raise StoreError("the run's snapshot is not a hypha runner document")
    state = _State(copy.deepcopy(_without_places(document)) | {"places": document["places"]})
    for record in records:
        state.seq, state.kind = record.seq, record.kind
        payload: Any = record.payload
        try:
            _apply(state, record.kind, payload)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StoreError(f"journal record {record.seq} ({record.kind}) is malformed: {exc!r}") from exc
    return state.finish()


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
        raise StoreError(f"journal record {state.seq} is of kind {kind!r}, which hypha does not write")


def _sink_delivered(state: _State, place: str) -> None:
    """A sink delivered a token: its failure streak ends."""
    state.doc["sinks"].pop(place, None)


def _seen(state: _State, now: Any) -> None:
    """A record written at ``now`` on the runner's timebase: the document is at least that recent."""
    if isinstance(now, int | float) and now > state.doc.get("time", now):
        state.doc["time"] = now
