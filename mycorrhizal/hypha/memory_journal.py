"""Values in ``ctx.memory`` that journal their own changes, and recovery's way of applying them.

A transition with a ``memory_codecs`` hook keeps live objects in ``ctx.memory`` (an embedder's:
mycelium's ``fsm=`` machines).  Writing the whole memory into every firing's record would cost as
much as a snapshot per firing, and such objects also change outside firings (a machine's timeout).
So each such value journals itself, as *changes* to its encoded document:

- a firing's record carries, in ``mc``, ``[[memory key, change], ...]``: what the firing changed,
  in the same record (so the same atomic commit) as the tokens it consumed and produced;
- a change outside any firing is a ``memory`` record of its own: ``{"t": transition, "k": memory
  key, "c": change}``.

A change is JSON: ``{"value": document}`` replaces the value's whole encoded document (a value made
since the last snapshot), or ``{"rows": [[field, key, row, move], ...], "set": {field: data}}``
patches it: the encoded value is a tagged object (``{"$t": ..., "v": {...}}``) whose ``v`` holds,
under ``field``, a list of rows ``[key, ...]``; a row replaces the one with the same key (``move``
1: moved to the end, as a use moves a key in an LRU order), is added at the end if there is none,
and ``null`` removes it.  ``set`` replaces whole fields.  This needs neither the embedder nor its
types, so :func:`.replay.replay` (and ``mycorrhizal inspect``) apply changes to documents alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..common.codecs import JSON, CodecRegistry
from ..common.errors import StoreError
from ..common.interpreter import compact_json

__all__ = ["DAMAGED", "JournaledMemory", "Patches", "RecordChange"]

RecordChange = Callable[[JSON], None]
"""Appends a change made outside any firing as a ``memory`` record."""


DAMAGED = (
    "the journal is damaged or does not belong to the run's snapshot. Fix: recover from an undamaged copy "
    "of the store, or start the run afresh under another run= name"
)
"""Why a journal record does not fit the state before it, and what to do."""


class JournaledMemory(Protocol):
    """A value in ``ctx.memory`` that journals its own changes (found by its ``journal_changes``)."""

    def journal_attach(self, record: RecordChange, codecs: CodecRegistry) -> bool:
        """From now on, record changes made outside firings with ``record``; False if it already did."""

    def journal_changes(self, consumed: Sequence[Any], record: RecordChange, codecs: CodecRegistry) -> JSON:
        """What the firing that consumed ``consumed`` changed (None: nothing); attaches if it was not."""

    def journal_ready(self) -> bool:
        """True if the journal's snapshot can write the value down now (it waits until it can)."""

    def journal_writing(self, writing: bool) -> None:
        """The journal's own snapshot starts (True) or ends (False) writing the value: meanwhile it is
        written as the journal's records write it.  Optional: what a document cannot hold (say, a
        failure kept for a later caller) may refuse a user's ``runner.snapshot()``, which would lose
        it, but not the journal's, whose records do not hold it either."""


class Patches:
    """Applies changes to the encoded memory of transitions, with an index of rows by key."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        # (transition, memory key, field) -> (the rows list, row key text -> position in it)
        self._index: dict[tuple[str, str, str], tuple[list[Any], dict[str, int]]] = {}

    def apply(self, transition: str, entry: dict[str, Any], name: str, change: Any) -> None:
        """Apply ``change`` to the value ``name`` in the memory of ``entry`` (a transition's)."""
        memory = entry.setdefault("memory", {})
        if "value" in change:
            memory[name] = change["value"]
            self._forget(transition, name)
            return
        value = memory.get(name)
        if type(value) is not dict or type(value.get("v")) is not dict:
            raise StoreError(
                f"a change to {name!r} of transition {transition!r} comes before the value it changes: "
                f"{DAMAGED}"
            )
        body = value["v"]
        for field, key, row, move in change.get("rows", ()):
            self._row(transition, name, body, field, key, row, move)
        for field, data in change.get("set", {}).items():
            body[field] = data
            self._index.pop((transition, name, field), None)

    def _row(
        self, transition: str, name: str, body: dict[str, Any], field: str, key: JSON, row: Any, move: Any
    ) -> None:
        rows, index = self._rows(transition, name, body, field)
        text = compact_json(key)
        at = index.get(text)
        if at is not None and (row is None or move):
            rows[at] = None  # removed, or moved to the end (dropped from the list in finish())
            del index[text]
            at = None
        if row is None:
            return
        if at is None:
            index[text] = len(rows)
            rows.append(row)
        else:
            rows[at] = row

    def _rows(
        self, transition: str, name: str, body: dict[str, Any], field: str
    ) -> tuple[list[Any], dict[str, int]]:
        found = self._index.get((transition, name, field))
        if found is None:
            rows = body.get(field)
            if type(rows) is not list:
                rows = body[field] = []
            index = {compact_json(row[0]): at for at, row in enumerate(rows) if row is not None}
            found = self._index[transition, name, field] = (rows, index)
        return found

    def _forget(self, transition: str, name: str) -> None:
        for key in [key for key in self._index if key[:2] == (transition, name)]:
            del self._index[key]

    def finish(self) -> None:
        """Drop the holes removed and moved rows left in their lists."""
        for rows, _ in self._index.values():
            rows[:] = [row for row in rows if row is not None]
        self._index.clear()
