"""The durability store interface: a journal of committed steps and snapshots, per run.

Engines write through this interface only; the stores themselves (``SQLiteStore``, later Redis) live
in :mod:`mycorrhizal.durability`.  The model:

- A *run* is one durable runtime (a net's runner, a keyed machine...), named by a string.
- :meth:`Store.open_journal` makes the caller the run's only writer: it raises the run's *epoch*, so
  a journal opened earlier for the same run (in this process or another) is *fenced*: its next
  commit fails with :class:`~mycorrhizal.common.errors.FencedError` and writes nothing.
- :meth:`Journal.append` records one step (sequence numbers 1, 2, 3... per run, no gaps) and returns
  at once; the store commits appended records in groups.  :meth:`Journal.snapshot` records a
  document that stands for every record up to the last one appended.  Both are ordered: a crash
  keeps a *prefix* of what was appended, never a record without those before it.
- ``await flush()`` returns once everything appended before it is durable.
- :meth:`Store.load` gives the latest snapshot and the records after it: what recovery replays.

Payloads and documents are JSON-compatible data (see :mod:`mycorrhizal.common.codecs`), serialised
when they are appended, so a caller may reuse or change the objects it passed afterwards.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from .codecs import JSON

__all__ = ["Journal", "Record", "Recovery", "RunInfo", "Snapshot", "Store"]


@attrs.frozen
class Record:
    """One step of a run as it was appended: its place in the run, what kind of step, its data."""

    seq: int
    """1 for a run's first record, then one more for each record, without gaps."""
    kind: str
    """What the step was, in the engine's words (``"fire"``, ``"transition"``...)."""
    payload: JSON


@attrs.frozen
class Snapshot:
    """A document that stands for a run's records 1..``seq`` (replay starts after it)."""

    seq: int
    document: JSON


@attrs.frozen
class Recovery:
    """What a store holds of a run: the latest snapshot and every record after it, in order."""

    run: str
    snapshot: Snapshot | None
    records: tuple[Record, ...]

    @property
    def last_seq(self) -> int:
        """Sequence number of the last durable step (0 for a run with none)."""
        if self.records:
            return self.records[-1].seq
        return self.snapshot.seq if self.snapshot is not None else 0


@attrs.frozen
class RunInfo:
    """A summary of one run in a store, for listings and ``inspect``."""

    run: str
    epoch: int
    """How many times a journal was opened for the run (the current writer's fencing token)."""
    last_seq: int
    snapshot_seq: int | None
    records: int
    """Journal records still kept (older ones are pruned once snapshots cover them)."""


@runtime_checkable
class Journal(Protocol):
    """The one writer of a run: appends steps and snapshots, in order, committed in groups."""

    @property
    def run(self) -> str:
        """The run this journal writes."""

    @property
    def epoch(self) -> int:
        """The fencing token this journal holds; a later ``open_journal`` of the run raises it."""

    @property
    def last_seq(self) -> int:
        """Sequence number of the last record appended (durable or not yet)."""

    @property
    def durable_seq(self) -> int:
        """Sequence number of the last record known to be durable."""

    def append(self, kind: str, payload: JSON) -> int:
        """Record one step; returns its sequence number at once (durable after the next commit)."""

    def append_text(self, kind: str, text: str) -> int:
        """:meth:`append` for a payload already written as compact JSON text (the caller vouches that
        it is valid JSON): what a journaled runner appends per firing, without encoding it twice."""

    def snapshot(self, document: JSON) -> int:
        """Record ``document`` as standing for every record appended so far; returns that seq."""

    async def flush(self) -> None:
        """Return once every record and snapshot appended so far is durable."""

    async def close(self) -> None:
        """Flush, then stop writing; the run stays in the store for recovery."""


@runtime_checkable
class Store(Protocol):
    """Where runs' journals and snapshots are kept (SQLite file, Redis...)."""

    async def open_journal(self, run: str) -> Journal:
        """Become ``run``'s only writer (fencing earlier ones), continuing after its last record."""

    async def load(self, run: str) -> Recovery | None:
        """The latest snapshot of ``run`` and the durable records after it; None for an unknown run."""

    async def runs(self) -> tuple[RunInfo, ...]:
        """Every run this store holds, by name."""

    async def flush(self) -> None:
        """Return once everything appended so far, by any of this store's journals, is durable."""

    async def close(self) -> None:
        """Flush, stop the store's work and release its resources; closing twice is harmless."""
