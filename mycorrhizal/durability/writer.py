"""The one thread that touches an :class:`SQLiteStore`'s file: group commit, jobs, fencing.

The event loop never waits for the disk.  ``append`` puts a row on :attr:`Writer.queue` (a deque:
appending and popping are atomic) and wakes the thread if it sleeps.  The thread waits up to
``commit_interval`` for more rows to join (or less, once ``max_batch`` are pending or someone waits
in ``flush``), then writes everything pending in one transaction.  Jobs (open a journal, load a run,
flush barriers, stop) travel in the same queue, so they see every row appended before them.

A commit first checks that each run it writes still belongs to this store's journal (the epoch in
``runs`` is the one the journal got when it opened): a run taken over by another writer is fenced,
its rows dropped, and its journal refuses any further work.  A file whose write lock another
connection held past ``busy_timeout`` is reported to whoever waits (:class:`StoreBusyError`) and
the commit's rows are kept, in order, and tried again (every ``RETRY_BUSY`` seconds, even if
nothing else comes, and first in the next commit); jobs behind them wait for them too.  Any other
database error stops the store for good: what was appended after the last successful commit is not
written, so the file always holds a prefix of what was appended.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..common.errors import FencedError, StoreBusyError, StoreClosedError, StoreError
from .journal import fresh

__all__ = ["RETRY_BUSY", "Job", "Owner", "SnapshotRow", "Writer"]

log = logging.getLogger("mycorrhizal.durability")

RETRY_BUSY = 0.1
"""Seconds between the writer's tries to commit what a busy file held back (each try itself waits
up to ``busy_timeout`` for the lock)."""

Row = tuple[int, int, str]  # run id, seq, the record as JSON text ``[kind, payload]``
_INSERT = "INSERT INTO journal (run_id, first_seq, last_seq, records) VALUES (?, ?, ?, ?)"
_SNAPSHOT = "INSERT OR REPLACE INTO snapshots (run_id, seq, written, document) VALUES (?, ?, ?, ?)"
_PRUNE_SNAPSHOTS = (
    "DELETE FROM snapshots WHERE run_id = :run AND seq < "
    "(SELECT seq FROM snapshots WHERE run_id = :run ORDER BY seq DESC LIMIT 1 OFFSET :keep)"
)
_PRUNE_JOURNAL = (
    "DELETE FROM journal WHERE run_id = :run"
    " AND last_seq <= (SELECT min(seq) FROM snapshots WHERE run_id = :run)"
)


class Owner:
    """What the writer knows of a journal: its run, its epoch, and how to stop it."""

    __slots__ = ("run", "run_id", "epoch", "durable_seq", "broken")

    def __init__(self, run: str, run_id: int, epoch: int, last_seq: int) -> None:
        self.run = run
        self.run_id = run_id
        self.epoch = epoch
        self.durable_seq = last_seq
        self.broken: StoreError | None = None  # set once; the journal refuses work from then on


class SnapshotRow:
    """A snapshot on its way to the file."""

    __slots__ = ("run_id", "seq", "text")

    def __init__(self, run_id: int, seq: int, text: str) -> None:
        self.run_id = run_id
        self.seq = seq
        self.text = text


class Job:
    """Work for the thread after the rows before it are committed; ``action=None`` is a barrier.
    ``what`` says it in its errors (``open the journal of run 'orders'``)."""

    __slots__ = ("action", "future", "loop", "what")

    def __init__(
        self,
        action: Callable[[sqlite3.Connection], Any] | None,
        future: asyncio.Future[Any] | None,
        what: str = "do what was asked",
    ) -> None:
        self.action = action
        self.future = future
        self.loop = future.get_loop() if future is not None else None
        self.what = what


class Writer:
    """Owns the connection and the thread; the store and its journals feed :attr:`queue`."""

    __slots__ = (
        "queue",
        "wake",
        "hurry",
        "owners",
        "failure",
        "path",
        "busy_timeout",
        "_connection",
        "_interval",
        "_max_batch",
        "_keep",
        "_thread",
        "_gate",
        "_closed",
        "_held",
    )

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        path: str,
        interval: float,
        max_batch: int,
        keep: int,
        busy_timeout: float,
    ) -> None:
        self.path = path  # the store's file and how long it waits for its lock, for the errors
        self.busy_timeout = busy_timeout
        self.queue: deque[Row | SnapshotRow | Job] = deque()
        self.wake = threading.Event()  # something is pending
        self.hurry = threading.Event()  # commit now: a batch is full or someone waits
        self.owners: dict[int, Owner] = {}  # run id -> the journal currently writing it
        self.failure: StoreError | None = None
        self._connection = connection
        self._interval = interval
        self._max_batch = max_batch
        self._keep = keep
        self._gate = threading.Lock()  # orders submit() against the thread's last look at the queue
        self._closed = False
        # What a commit could not write because the file was busy: retried, and first in the next commit.
        self._held: tuple[list[Row], list[SnapshotRow]] = ([], [])
        # A daemon: a store never closed must not keep the interpreter alive (its finalizer stops it).
        self._thread = threading.Thread(target=self._run, name=f"mycorrhizal-sqlite {path}", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue ``job`` behind everything appended so far and have it done without delay."""
        with self._gate:
            if self._closed:  # the thread ended (stopped or crashed): nobody else will answer
                _settle(job, None, self.failure or _closed_error())
                return
            self.queue.append(job)
        self.wake.set()
        self.hurry.set()

    def stop_job(self, future: asyncio.Future[None] | None) -> Job:
        """A job that commits what is pending, closes the file, ends the thread, then settles."""
        return Job(_stop, future)

    def stop(self) -> None:
        """Stop (see :meth:`stop_job`) and block until the thread has ended; harmless twice."""
        self.submit(self.stop_job(None))
        if self._thread is not threading.current_thread():
            self._thread.join()

    # --- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        stop: Job | None = None
        items: list[Row | SnapshotRow | Job] = []
        try:
            while stop is None:
                # Records a busy file held back are tried again even if nothing else comes: a journal
                # gone quiet must not keep them in memory only until its next append.
                self.wake.wait(RETRY_BUSY if any(self._held) else None)
                if self._interval and not self.hurry.is_set() and len(self.queue) < self._max_batch:
                    self.hurry.wait(self._interval)  # let more rows join this commit
                self.wake.clear()
                self.hurry.clear()
                queue = self.queue
                items = [queue.popleft() for _ in range(len(queue))]
                stop = self._process(items)
        except Exception as exc:  # a bug: never leave a caller awaiting an answer that cannot come
            log.exception("the SQLite store's writer thread crashed")
            _rollback(self._connection)
            self._fail(StoreError(f"the store's writer thread crashed: {exc!r}"), exc)
            for job in items:  # those of the batch it crashed in (settling twice is harmless)
                if isinstance(job, Job):
                    _settle(job, None, self.failure)
        finally:
            self._close(stop)

    def _close(self, stop: Job | None) -> None:
        try:
            self._connection.close()  # the last connection checkpoints the WAL into the file
        except sqlite3.Error as exc:
            log.warning("closing the SQLite store failed: %s", exc)
        with self._gate:
            self._closed = True
            left = [item for item in self.queue if isinstance(item, Job)]
            self.queue.clear()
        if stop is not None:
            _settle(stop, None, self.failure)
        for job in left:
            _settle(job, None, self.failure or _closed_error())

    def _process(self, items: list[Row | SnapshotRow | Job]) -> Job | None:
        """Write ``items`` in order; returns the stop job if there was one (what follows it is
        refused)."""
        rows: list[Row] = []
        snapshots: list[SnapshotRow] = []
        barriers: list[Job] = []
        for index, item in enumerate(items):
            if isinstance(item, tuple):
                rows.append(item)
            elif isinstance(item, SnapshotRow):
                snapshots.append(item)
            elif item.action is None:
                barriers.append(item)
            else:
                busy = self._commit(rows, snapshots)
                rows, snapshots = [], []
                self._settle_all(barriers, busy)
                barriers = []
                if item.action is _stop:
                    if busy is not None:  # closing: what the busy file kept back is lost
                        self._fail(self._lost(busy.__cause__), busy)
                    for job in items[index + 1 :]:
                        if isinstance(job, Job):
                            _settle(job, None, _closed_error())
                    return item
                if busy is not None:  # a job comes after the rows before it: those wait, so does it
                    _settle(item, None, busy)
                else:
                    self._run_job(item)
        self._settle_all(barriers, self._commit(rows, snapshots))
        return None

    def _settle_all(self, jobs: list[Job], busy: StoreBusyError | None) -> None:
        for job in jobs:
            _settle(job, None, busy or self.failure)

    def _run_job(self, job: Job) -> None:
        assert job.action is not None
        if self.failure is not None:
            _settle(job, None, self.failure)
            return
        try:
            result = job.action(self._connection)
        except StoreError as exc:
            _rollback(self._connection)
            _settle(job, None, exc)
        except sqlite3.Error as exc:
            _rollback(self._connection)
            _settle(job, None, self._refused(exc, job.what))
        except Exception as exc:
            _rollback(self._connection)
            _settle(job, None, exc)
        else:
            _settle(job, result, None)

    # --- group commit ----------------------------------------------------------------------------

    def _commit(self, rows: list[Row], snapshots: list[SnapshotRow]) -> StoreBusyError | None:
        """Write ``rows`` and ``snapshots`` after those a busy file kept back, in one transaction; the
        error if the file is still busy (they are all kept back then), None otherwise."""
        held_rows, held_snapshots = self._held
        retrying = bool(held_rows or held_snapshots)
        if retrying:
            rows, snapshots = held_rows + rows, held_snapshots + snapshots
            self._held = ([], [])
        if not rows and not snapshots or self.failure is not None:
            return None
        chunks = self._chunks(rows)
        last = {run_id: last_seq for run_id, _, last_seq, _ in chunks}  # run id -> its last seq here
        for snapshot in snapshots:
            last.setdefault(snapshot.run_id, snapshot.seq)
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            fenced = self._fenced(last)
            if fenced:
                chunks = [chunk for chunk in chunks if chunk[0] not in fenced]
                snapshots = [s for s in snapshots if s.run_id not in fenced]
            connection.executemany(_INSERT, chunks)
            if snapshots:
                self._write_snapshots(snapshots)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(connection)
            if _is_busy(exc):
                self._held = (rows, snapshots)
                return self._busy(last, exc, retrying)
            failure = StoreError(
                f"the SQLite store {self.path!r} could not commit {self._runs_named(last)}: {exc}; nothing "
                "more is written. Fix: free the disk or repair the file, then open a new SQLiteStore on it "
                "and recover the run from it"
            )
            self._fail(failure, exc)
            return None
        owners = self.owners
        for run_id, seq in last.items():
            owner = owners.get(run_id)
            if owner is not None and run_id not in fenced:
                owner.durable_seq = seq
        if retrying:  # (said once they are durable: whoever reads the line sees durable_seq moved)
            log.info("the SQLite store %r wrote the records a busy file had held back (%s)", self.path,
                     self._runs_named(last))  # fmt: skip
        return None

    def _refused(self, exc: sqlite3.Error, what: str) -> StoreError:
        """The error for a job (``what``: open a journal, load a run) that SQLite refused."""
        if not _is_busy(exc):
            return StoreError(
                f"the SQLite store {self.path!r} could not {what}: {exc}. Fix: check that the file can be "
                "read and written and its disk has room, then try again"
            )
        return StoreBusyError(
            f"the SQLite store {self.path!r} could not {what}: another connection held the "
            f"file's write lock longer than busy_timeout={self.busy_timeout:g} s ({exc}). Fix: raise "
            "SQLiteStore(busy_timeout=...) or stop the other writer"
        )

    def _busy(self, runs: dict[int, int], exc: sqlite3.Error, retrying: bool) -> StoreBusyError:
        """The error for a commit of ``runs`` that another connection's write lock held off (logged
        as a warning when the file is found busy, not at each try after)."""
        busy = StoreBusyError(
            f"the SQLite store {self.path!r} could not commit {self._runs_named(runs)}: another connection "
            f"held the file's write lock longer than busy_timeout={self.busy_timeout:g} s ({exc}); nothing "
            f"is lost: the records stay queued, and the writer tries again every {RETRY_BUSY:g} s and at "
            "every flush, append or close. Fix: raise SQLiteStore(busy_timeout=...) or stop the other writer"
        )
        busy.__cause__ = exc
        if retrying:
            log.debug("%s", busy)
        else:
            log.warning("%s", busy)
        return busy

    def _lost(self, cause: BaseException | None) -> StoreError:
        """Why a store closed while its file was busy did not write the records it kept back."""
        rows, snapshots = self._held
        runs = dict.fromkeys([row[0] for row in rows] + [snapshot.run_id for snapshot in snapshots], 0)
        return StoreError(
            f"the SQLite store {self.path!r} was closed while another connection held its write lock "
            f"({cause}): the records of {self._runs_named(runs)} after its last commit were not written. "
            "Fix: stop the other writer (or raise busy_timeout), then open a new SQLiteStore and recover "
            "the run from the file"
        )

    def _runs_named(self, runs: dict[int, int]) -> str:
        """``run 'a'`` or ``runs 'a', 'b'``: the runs of a commit, by name, for its errors."""
        names = sorted(repr(owner.run) for run_id in runs if (owner := self.owners.get(run_id)) is not None)
        return ("run " if len(names) == 1 else "runs ") + ", ".join(names)

    def _chunks(self, rows: list[Row]) -> list[tuple[int, int, int, str]]:
        """One table row per run and up to ``max_batch`` consecutive records: (run id, first seq,
        last seq, the records as one JSON array).  Far cheaper than a table row per record."""
        chunks = []
        start, count, limit = 0, len(rows), self._max_batch
        while start < count:
            run_id = rows[start][0]
            end = start + 1
            while end < count and rows[end][0] == run_id and end - start < limit:
                end += 1
            texts = [row[2] for row in rows[start:end]]
            chunks.append((run_id, rows[start][1], rows[end - 1][1], "[" + ",".join(texts) + "]"))
            start = end
        return chunks

    def _fenced(self, runs: dict[int, int]) -> set[int]:
        fenced = set()
        for run_id in runs:
            owner = self.owners.get(run_id)
            (epoch,) = self._connection.execute("SELECT epoch FROM runs WHERE id = ?", (run_id,)).fetchone()
            if owner is None:  # cannot happen: rows come only from the run's current journal
                fenced.add(run_id)
            elif epoch != owner.epoch:
                fenced.add(run_id)
                owner.broken = FencedError(
                    f"run {owner.run!r} was taken over by a newer writer (epoch {epoch}, this journal "
                    f"holds {owner.epoch}); its unwritten records were dropped. Fix: stop this runtime; "
                    f"the newer writer recovers the run"
                )
                log.warning(
                    "run %r fenced: epoch %d in the store, journal has %d", owner.run, epoch, owner.epoch
                )
        return fenced

    def _write_snapshots(self, snapshots: list[SnapshotRow]) -> None:
        now = time.time()
        connection = self._connection
        connection.executemany(_SNAPSHOT, [(s.run_id, s.seq, now, s.text) for s in snapshots])
        for run_id in {s.run_id for s in snapshots}:
            connection.execute(_PRUNE_SNAPSHOTS, {"run": run_id, "keep": self._keep - 1})
            connection.execute(_PRUNE_JOURNAL, {"run": run_id})

    def _fail(self, failure: StoreError, cause: BaseException) -> None:
        failure.__cause__ = cause
        self.failure = failure
        log.error("SQLite store stopped writing: %s", failure)
        for owner in list(self.owners.values()):  # the loop's thread may add one meanwhile
            if owner.broken is None:
                owner.broken = failure
        for job in [item for item in self.queue if isinstance(item, Job)]:
            _settle(job, None, failure)


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused for a write lock another connection held past ``busy_timeout``."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # (extended codes keep it in the low byte)


def _closed_error() -> StoreClosedError:
    return StoreClosedError("the store is closed. Fix: open a new SQLiteStore")


def _stop(connection: sqlite3.Connection) -> None:
    """The stop job's marker action (never called: the thread recognises it)."""


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("rolling back failed: %s", exc)


def _settle(job: Job, result: Any, error: BaseException | None) -> None:
    """Hand ``job``'s outcome to the event loop that waits for it (from any thread)."""
    if job.future is None or job.loop is None:
        return
    try:
        job.loop.call_soon_threadsafe(_resolve, job.future, result, error)
    except RuntimeError:  # that loop is closed: nobody waits any more
        pass


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled by its waiter
        return
    if error is not None:
        future.set_exception(fresh(error) if isinstance(error, StoreError) else error)
    else:
        future.set_result(result)
