"""``MemoryStore``: the store interface kept in this process's memory.

Same rules as every store (sequence numbers without gaps, fencing by epoch, payloads serialised when
appended, snapshots pruning the journal), but nothing survives the process: for tests, and for
runtimes that want snapshots and a journal to inspect without a file.  Everything appended is
"durable" at once, so ``flush`` only yields to the event loop.
"""

from __future__ import annotations

import asyncio

from ..common.codecs import JSON
from ..common.errors import FencedError, StoreClosedError, StoreError
from ..common.store import Journal, Record, Recovery, RunInfo, Snapshot, Store
from .journal import JournalBase, check_kind, check_run
from .payloads import dumps, loads

__all__ = ["MemoryJournal", "MemoryStore"]


class _Run:
    __slots__ = ("epoch", "records", "snapshots")

    def __init__(self) -> None:
        self.epoch = 0
        self.records: list[tuple[int, str, str]] = []  # seq, kind, payload text
        self.snapshots: list[tuple[int, str]] = []  # seq, document text; oldest first

    def last_seq(self) -> int:
        last_record = self.records[-1][0] if self.records else 0
        return max(last_record, self.snapshots[-1][0] if self.snapshots else 0)


class MemoryStore:
    """A store in memory: the full store interface, nothing kept past the process."""

    __slots__ = ("_runs", "_keep", "_closed")

    def __init__(self, *, keep_snapshots: int = 2) -> None:
        """``keep_snapshots`` per run, as for :class:`SQLiteStore`."""
        if type(keep_snapshots) is not int or keep_snapshots < 1:
            raise StoreError(f"keep_snapshots must be an int >= 1, got {keep_snapshots!r}. Fix: pass 2")
        self._runs: dict[str, _Run] = {}
        self._keep = keep_snapshots
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._runs)} runs)"

    async def open_journal(self, run: str) -> MemoryJournal:
        """Become ``run``'s only writer (fencing earlier ones), continuing after its last record."""
        self._check_open()
        check_run(run)
        state = self._runs.setdefault(run, _Run())
        state.epoch += 1
        return MemoryJournal(self, run, state)

    async def load(self, run: str) -> Recovery | None:
        """The latest snapshot of ``run`` and the records after it; None for an unknown run."""
        self._check_open()
        state = self._runs.get(run)
        if state is None:
            return None
        snapshot = None
        if state.snapshots:
            seq, text = state.snapshots[-1]
            snapshot = Snapshot(seq, loads(text, f"the snapshot at {seq} of run {run!r}"))
        after = snapshot.seq if snapshot is not None else 0
        records = tuple(
            Record(seq, kind, loads(text, f"record {seq} of run {run!r}"))
            for seq, kind, text in state.records
            if seq > after
        )
        return Recovery(run, snapshot, records)

    async def runs(self) -> tuple[RunInfo, ...]:
        """Every run this store holds, by name."""
        self._check_open()
        return tuple(
            RunInfo(
                run,
                state.epoch,
                state.last_seq(),
                state.snapshots[-1][0] if state.snapshots else None,
                len(state.records),
            )
            for run, state in sorted(self._runs.items())
        )

    async def flush(self) -> None:
        """Everything appended is already kept; yields to the event loop once."""
        await asyncio.sleep(0)

    async def close(self) -> None:
        """Refuse further work; what it held is dropped with it."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the MemoryStore is closed. Fix: make a new one")


class MemoryJournal(JournalBase):
    """The one writer of a run in a :class:`MemoryStore`."""

    __slots__ = ("_store", "_state", "_closed")

    def __init__(self, store: MemoryStore, run: str, state: _Run) -> None:
        super().__init__(run, state.epoch, state.last_seq())
        self._store = store
        self._state = state
        self._closed = False

    @property
    def durable_seq(self) -> int:
        """The same as :attr:`last_seq`: memory keeps what it is given at once."""
        return self._seq

    def append(self, kind: str, payload: JSON) -> int:
        """Record one step; returns its sequence number."""
        self._check_writer()
        check_kind(kind)
        return self._kept(kind, dumps(payload, f"the payload of a {kind!r} record of run {self._run!r}"))

    def append_text(self, kind: str, text: str) -> int:
        """:meth:`append` for a payload already written as compact JSON text."""
        self._check_writer()
        check_kind(kind)
        return self._kept(kind, text)

    def _kept(self, kind: str, text: str) -> int:
        self._seq += 1
        self._state.records.append((self._seq, kind, text))
        return self._seq

    def snapshot(self, document: JSON) -> int:
        """Record ``document`` as standing for every record appended so far; returns that seq."""
        self._check_writer()
        text = dumps(document, f"the snapshot document of run {self._run!r}")
        state = self._state
        if state.snapshots and state.snapshots[-1][0] == self._seq:
            state.snapshots.pop()
        state.snapshots.append((self._seq, text))
        del state.snapshots[: -self._store._keep]
        oldest = state.snapshots[0][0]
        state.records = [record for record in state.records if record[0] > oldest]
        return self._seq

    async def flush(self) -> None:
        """Raise if this journal was fenced; otherwise everything is already kept (closing this
        journal or its store keeps it too, so flushing then returns, as with the other stores)."""
        if not self._closed and not self._store._closed:
            self._check_writer()
        await asyncio.sleep(0)

    async def close(self) -> None:
        """Stop writing; the run stays in the store."""
        self._closed = True

    def _check_writer(self) -> None:
        if self._closed:
            raise StoreClosedError(f"run {self._run!r}: the journal was closed. Fix: open_journal() again")
        if self._store._closed:  # (named by its run, as the other stores' journals say it)
            raise StoreClosedError(
                f"run {self._run!r}: the store was closed. Fix: open_journal() again on an open store "
                "(a new MemoryStore starts empty)"
            )
        if self._state.epoch != self._epoch:
            raise FencedError(
                f"run {self._run!r} was taken over by a newer writer (epoch {self._state.epoch}, this "
                f"journal holds {self._epoch}). Fix: stop this runtime; the newer writer recovers the run"
            )


def _conforms(store: MemoryStore, journal: MemoryJournal) -> tuple[Store, Journal]:
    """Never called: mypy checks here that both classes implement the store interface."""
    return store, journal
