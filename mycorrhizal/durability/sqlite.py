"""``SQLiteStore``: the embedded durability store, one SQLite file in WAL mode, no server.

All file access happens on one writer thread (:mod:`.writer`); the event loop only serialises
payloads and queues them, so ``append`` costs microseconds and never waits for the disk.
``await flush()`` waits for the commit that covers everything appended before it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import weakref
from collections.abc import Callable
from typing import TypeVar

from ..common.codecs import JSON
from ..common.errors import StoreClosedError, StoreError
from ..common.store import Journal, Record, Recovery, RunInfo, Snapshot, Store
from .journal import JournalBase, Retired, check_kind, check_run, fresh, superseded
from .payloads import dumps, loads, record_from, record_of_text, record_text
from .schema import Options, connect
from .writer import Job, Owner, SnapshotRow, Writer

__all__ = ["SQLiteJournal", "SQLiteStore"]

log = logging.getLogger("mycorrhizal.durability")
T = TypeVar("T")


class SQLiteStore:
    """A durability store in one SQLite file (stdlib ``sqlite3``, WAL mode, group commit)."""

    __slots__ = ("path", "options", "_writer", "_journals", "_closed", "_finalizer", "__weakref__")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        commit_interval: float = 0.002,
        max_batch: int = 1000,
        synchronous: str = "FULL",
        keep_snapshots: int = 2,
        autocheckpoint: int = 1000,
        busy_timeout: float = 5.0,
    ) -> None:
        """Open or create the store at ``path``; see docs/durability.md for the options."""
        self.path = os.fspath(path)
        self.options = Options(
            commit_interval, max_batch, synchronous, keep_snapshots, autocheckpoint, busy_timeout
        )
        self.options.check()
        connection = connect(self.path, self.options)
        self._writer = Writer(
            connection,
            path=self.path,
            interval=float(commit_interval),
            max_batch=max_batch,
            keep=keep_snapshots,
            busy_timeout=float(busy_timeout),
        )
        self._journals: dict[str, SQLiteJournal] = {}
        self._closed = False
        # At interpreter exit (or when dropped unclosed) commit what is pending and close the file.
        self._finalizer = weakref.finalize(self, self._writer.stop)
        log.info("opened SQLite store %s", self.path)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the Store interface ---------------------------------------------------------------------

    async def open_journal(self, run: str) -> SQLiteJournal:
        """Become ``run``'s only writer (fencing earlier ones), continuing after its last record."""
        check_run(run)
        self._check_open()
        earlier = self._journals.pop(run, None)
        if earlier is not None:  # this store's own older journal: fenced at once, not at its next commit
            earlier._owner.broken = superseded(run)
        owner = await self._call(
            lambda connection: _claim(connection, run), f"open the journal of run {run!r}"
        )
        self._writer.owners[owner.run_id] = owner
        journal = SQLiteJournal(self, owner)
        self._journals[run] = journal
        log.info("journal of run %r opened at epoch %d after seq %d", run, owner.epoch, owner.durable_seq)
        return journal

    async def load(self, run: str) -> Recovery | None:
        """The latest snapshot of ``run`` and the durable records after it; None for an unknown run."""
        self._check_open()
        return await self._call(lambda connection: _load(connection, run), f"load run {run!r}")

    async def runs(self) -> tuple[RunInfo, ...]:
        """Every run this store holds, by name."""
        self._check_open()
        return await self._call(_runs, "list its runs")

    async def flush(self) -> None:
        """Return once everything appended so far, by any of this store's journals, is durable."""
        if self._closed:
            return  # closing flushed everything
        await self._call(None)

    async def close(self) -> None:
        """Commit what is pending, close the file (checkpointing its WAL) and end the writer thread."""
        if self._closed:
            return
        self._closed = True
        for journal in self._journals.values():
            journal._retire("the store was closed")
        self._journals.clear()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer.submit(self._writer.stop_job(future))
        try:
            await future  # settled once the file is closed
        finally:
            self._finalizer()  # joins the thread, which has nothing left to do
        if self._writer.failure is not None:
            raise fresh(self._writer.failure)

    # --- internals -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the store {self.path!r} is closed. Fix: open a new SQLiteStore")

    async def _call(
        self, action: Callable[[sqlite3.Connection], T] | None, what: str = "do what was asked"
    ) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.submit(Job(action, future, what))
        return await future

    def _forget(self, journal: SQLiteJournal) -> None:
        if self._journals.get(journal.run) is journal:
            del self._journals[journal.run]
            self._writer.owners.pop(journal._owner.run_id, None)


class SQLiteJournal(JournalBase):
    """The one writer of a run in a :class:`SQLiteStore` (made by ``open_journal``)."""

    __slots__ = ("_store", "_owner", "_queue", "_wake", "_hurry", "_max_batch", "_run_id")

    def __init__(self, store: SQLiteStore, owner: Owner) -> None:
        super().__init__(owner.run, owner.epoch, owner.durable_seq)
        self._store = store
        self._owner = owner
        writer = store._writer
        self._queue = writer.queue
        self._wake = writer.wake
        self._hurry = writer.hurry
        self._max_batch = store.options.max_batch
        self._run_id = owner.run_id

    @property
    def durable_seq(self) -> int:
        """Sequence number of the last record known to be committed to the file."""
        return self._owner.durable_seq

    def append(self, kind: str, payload: JSON) -> int:
        """Record one step; returns its sequence number at once (durable after the next commit)."""
        if self._owner.broken is not None:
            raise fresh(self._owner.broken)
        check_kind(kind)
        return self._queued(record_text(kind, payload, self._run))

    def append_text(self, kind: str, text: str) -> int:
        """:meth:`append` for a payload already written as compact JSON text."""
        if self._owner.broken is not None:
            raise fresh(self._owner.broken)
        check_kind(kind)
        return self._queued(record_of_text(kind, text))

    def _queued(self, record: str) -> int:
        seq = self._seq = self._seq + 1
        queue = self._queue
        queue.append((self._run_id, seq, record))
        if not self._wake.is_set():
            self._wake.set()
        if len(queue) >= self._max_batch and not self._hurry.is_set():  # set() takes a lock: once
            self._hurry.set()
        return seq

    def snapshot(self, document: JSON) -> int:
        """Record ``document`` as standing for every record appended so far; returns that seq."""
        if self._owner.broken is not None:
            raise fresh(self._owner.broken)
        text = dumps(document, f"the snapshot document of run {self._run!r}")
        self._queue.append(SnapshotRow(self._run_id, self._seq, text))
        self._wake.set()
        return self._seq

    async def flush(self) -> None:
        """Return once every record and snapshot appended so far is durable."""
        if not self._store._closed:  # a closed store committed everything when it closed
            await self._store._call(None)
        broken = self._owner.broken
        if broken is not None and not isinstance(broken, Retired):
            raise fresh(broken)

    async def close(self) -> None:
        """Flush, then stop writing; the run stays in the store for recovery."""
        if self._owner.broken is None:
            await self.flush()
            self._retire("the journal was closed")
            self._store._forget(self)

    def _retire(self, why: str) -> None:
        if self._owner.broken is None:
            self._owner.broken = Retired(
                f"run {self.run!r}: {why}. Fix: open_journal() again on an open store"
            )


# --- jobs run on the writer thread ---------------------------------------------------------------


def _claim(connection: sqlite3.Connection, run: str) -> Owner:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT OR IGNORE INTO runs (name, epoch) VALUES (?, 0)", (run,))
    connection.execute("UPDATE runs SET epoch = epoch + 1 WHERE name = ?", (run,))
    run_id, epoch = connection.execute("SELECT id, epoch FROM runs WHERE name = ?", (run,)).fetchone()
    last = _last_seq(connection, run_id)
    connection.execute("COMMIT")
    return Owner(run, run_id, epoch, last)


def _last_seq(connection: sqlite3.Connection, run_id: int) -> int:
    (journal,) = connection.execute(
        "SELECT max(last_seq) FROM journal WHERE run_id = ?", (run_id,)
    ).fetchone()
    (snapshot,) = connection.execute("SELECT max(seq) FROM snapshots WHERE run_id = ?", (run_id,)).fetchone()
    return max(journal or 0, snapshot or 0)


def _load(connection: sqlite3.Connection, run: str) -> Recovery | None:
    connection.execute("BEGIN")  # one read transaction: snapshot and records from the same moment
    try:
        found = connection.execute("SELECT id FROM runs WHERE name = ?", (run,)).fetchone()
        if found is None:
            return None
        snapshot = _latest_snapshot(connection, run, found[0])
        after = snapshot.seq if snapshot is not None else 0
        rows = connection.execute(
            "SELECT first_seq, last_seq, records FROM journal WHERE run_id = ? AND last_seq > ?"
            " ORDER BY first_seq",
            (found[0], after),
        ).fetchall()
    finally:
        connection.execute("COMMIT")
    return Recovery(run, snapshot, _records(run, after, rows))


def _records(run: str, after: int, rows: list[tuple[int, int, str]]) -> tuple[Record, ...]:
    """The records after seq ``after`` in journal rows; StoreError if any is missing or damaged."""
    records: list[Record] = []
    expected = after + 1
    for first, last, text in rows:
        pairs = loads(text, f"records {first}..{last} of run {run!r}")
        if type(pairs) is not list or len(pairs) != last - first + 1 or first > expected:
            raise StoreError(
                f"the journal of run {run!r} lacks record {expected} (rows {first}..{last} follow): the "
                f"file was damaged or edited. Fix: restore it from a backup"
            )
        for seq, pair in enumerate(pairs, first):
            if seq >= expected:
                records.append(record_from(seq, pair, run))
        expected = max(expected, last + 1)
    return tuple(records)


def _latest_snapshot(connection: sqlite3.Connection, run: str, run_id: int) -> Snapshot | None:
    row = connection.execute(
        "SELECT seq, document FROM snapshots WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run_id,)
    ).fetchone()
    if row is None:
        return None
    return Snapshot(row[0], loads(row[1], f"the snapshot at {row[0]} of run {run!r}"))


# Records kept: those after the oldest kept snapshot (a row written in one commit may start before it).
_RUNS = """
SELECT name, epoch,
    (SELECT max(last_seq) FROM journal WHERE run_id = runs.id),
    (SELECT max(seq) FROM snapshots WHERE run_id = runs.id),
    (SELECT coalesce(sum(last_seq - max(first_seq, oldest + 1) + 1), 0) FROM journal
        WHERE run_id = runs.id AND last_seq > oldest)
FROM (SELECT *, (SELECT coalesce(min(seq), 0) FROM snapshots WHERE run_id = r.id) AS oldest FROM runs AS r)
    AS runs
ORDER BY name
"""


def _runs(connection: sqlite3.Connection) -> tuple[RunInfo, ...]:
    rows = connection.execute(_RUNS).fetchall()
    return tuple(
        RunInfo(name, epoch, max(last or 0, snap or 0), snap, count)
        for name, epoch, last, snap, count in rows
    )


def _conforms(store: SQLiteStore, journal: SQLiteJournal) -> tuple[Store, Journal]:
    """Never called: mypy checks here that both classes implement the store interface."""
    return store, journal
