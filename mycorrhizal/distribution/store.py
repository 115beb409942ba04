"""``RedisStore``: the durability store interface on Redis, a drop-in for ``SQLiteStore``.

Each run keeps its records in a stream whose entry ids are ``0-<seq>`` and its snapshots in a list
and a hash (see :mod:`.journal_lua`).  ``append`` serialises the record and queues it; one writer
task per store sends what is queued every ``commit_interval`` (sooner once ``max_batch`` records wait
or someone flushes) as one pipeline holding one Lua call per run.  Each call checks the run's epoch
first, so a journal taken over by another process (or another store) commits nothing more: it is
fenced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..common.codecs import JSON
from ..common.errors import FencedError, StoreClosedError, StoreError
from ..common.numbers import is_seconds
from ..common.store import Journal, Record, Recovery, RunInfo, Snapshot, Store
from ..durability.journal import JournalBase, Retired, check_kind, check_run, fresh, superseded
from ..durability.payloads import dumps, loads, record_from, record_of_text, record_text
from .connection import check_options, client_for, decoded, raise_if_cancelled, redis_failure
from .journal_lua import COMMIT, LOAD, OPEN, SUMMARY

__all__ = ["RedisJournal", "RedisStore"]

log = logging.getLogger("mycorrhizal.distribution")

Op = tuple[str, int, str]  # 'r' (record) or 's' (snapshot), seq, JSON text


class RedisStore:
    """A durability store in Redis (group commit, fencing by epoch), for runs shared by machines."""

    __slots__ = (
        "url",
        "prefix",
        "_client",
        "_own_client",
        "_interval",
        "_max_batch",
        "_keep",
        "_journals",
        "_queue",
        "_appended",
        "_committed",
        "_waiters",
        "_wake",
        "_hurry",
        "_writer",
        "_failure",
        "_closed",
        "_scripts",
    )

    def __init__(
        self,
        url: str | Redis = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "mycorrhizal",
        commit_interval: float = 0.002,
        max_batch: int = 1000,
        keep_snapshots: int = 2,
    ) -> None:
        """Use the Redis server at ``url`` (or a ``redis.asyncio.Redis`` client), keys under ``prefix``.

        Raises DefinitionError listing every option out of range.
        """
        interval_ok = is_seconds(commit_interval) and commit_interval <= 60
        check_options(
            "RedisStore",
            [
                ("commit_interval", commit_interval, interval_ok, "seconds between 0 and 60", "0.002"),
                ("max_batch", max_batch, type(max_batch) is int and max_batch >= 1, "an int >= 1", "1000"),
                ("keep_snapshots", keep_snapshots, type(keep_snapshots) is int and keep_snapshots >= 1,
                 "an int >= 1", "2"),
                ("prefix", prefix, type(prefix) is str and bool(prefix), "a non-empty str", "'mycorrhizal'"),
            ],
        )  # fmt: skip
        self._client, self._own_client = client_for(url)
        self.url = url if isinstance(url, str) else repr(url)
        self.prefix = prefix
        self._interval = float(commit_interval)
        self._max_batch = max_batch
        self._keep = keep_snapshots
        self._journals: dict[str, RedisJournal] = {}
        self._queue: deque[tuple[RedisJournal, Op]] = deque()
        self._appended = 0  # ops ever queued
        self._committed = 0  # ops ever settled (committed, or dropped with a fenced journal)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._failure: StoreError | None = None
        self._closed = False
        self._scripts = {name: self._client.register_script(text) for name, text in _SCRIPTS.items()}

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"

    async def __aenter__(self) -> RedisStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the Store interface ---------------------------------------------------------------------

    async def open_journal(self, run: str) -> RedisJournal:
        """Become ``run``'s only writer (fencing earlier ones), continuing after its last record."""
        check_run(run)
        self._check_open()
        earlier = self._journals.pop(run, None)
        if earlier is not None:  # this store's own older journal: commit what it queued, then fence it
            await self.flush()
            earlier._broken = superseded(run)
        keys = self._keys(run)
        epoch, seq = await self._run(self._scripts["open"](keys=keys[:1]), f"open run {run!r}")
        await self._run(self._client.sadd(self._runs_key, run), f"list run {run!r}")
        journal = RedisJournal(self, run, keys, int(epoch), int(seq))
        self._journals[run] = journal
        log.info("journal of run %r opened at epoch %d after seq %d", run, journal.epoch, journal.last_seq)
        return journal

    async def load(self, run: str) -> Recovery | None:
        """The latest snapshot of ``run`` and the durable records after it; None for an unknown run."""
        self._check_open()
        found = await self._run(self._scripts["load"](keys=self._keys(run)), f"load run {run!r}")
        if found is None:
            return None
        at, document, entries = found
        snapshot = None
        if at:
            snapshot = Snapshot(int(at), loads(decoded(document), f"the snapshot at {at} of run {run!r}"))
        return Recovery(run, snapshot, _records(run, snapshot.seq if snapshot else 0, entries))

    async def runs(self) -> tuple[RunInfo, ...]:
        """Every run this store holds, by name."""
        self._check_open()
        names = sorted(
            decoded(n) for n in await self._run(self._client.smembers(self._runs_key), "list runs")
        )
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                await self._scripts["summary"](keys=self._keys(name), client=pipe)  # queued, not sent
            rows = await self._run(pipe.execute(), "summarise runs")
        return tuple(
            RunInfo(name, int(epoch), int(seq), int(snap) if snap else None, int(kept))
            for name, (epoch, seq, snap, kept) in zip(names, rows, strict=True)
        )

    async def flush(self) -> None:
        """Return once everything appended so far, by any of this store's journals, is committed."""
        await self._settled(self._appended)
        if self._failure is not None:
            raise fresh(self._failure)

    async def close(self) -> None:
        """Commit what is queued, stop the writer and close the connection (if this store made it)."""
        if self._closed:
            return
        try:
            await self._settled(self._appended)
        finally:
            self._closed = True
            for journal in self._journals.values():
                journal._retire("the store was closed")
            self._journals.clear()
            if self._writer is not None:
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)
            if self._own_client:
                await self._client.aclose()
        if self._failure is not None:
            raise fresh(self._failure)

    # --- the writer --------------------------------------------------------------------------------

    @property
    def _runs_key(self) -> str:
        return f"{self.prefix}:runs"

    def _keys(self, run: str) -> list[str]:
        base = f"{self.prefix}:run:{{{run}}}"
        return [f"{base}:meta", f"{base}:log", f"{base}:snaps", f"{base}:docs"]

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the store {self!r} is closed. Fix: make a new RedisStore")
        if self._failure is not None:
            raise fresh(self._failure)

    async def _run(self, awaitable: Any, what: str) -> Any:
        try:
            return await awaitable
        except RedisError as exc:
            raise redis_failure(f"{self!r} could not {what}", self.url, exc) from exc

    def _queued(self, journal: RedisJournal, op: Op) -> None:
        self._queue.append((journal, op))
        self._appended += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name=f"{self!r} writer")
        self._wake.set()
        if len(self._queue) >= self._max_batch:
            self._hurry.set()

    async def _settled(self, target: int) -> None:
        if self._committed >= target or self._failure is not None or self._writer is None:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        self._hurry.set()
        await future

    async def _write(self) -> None:
        """Commit what is queued, group by group, until the store closes or fails."""
        while True:
            raise_if_cancelled()
            await self._wake.wait()
            if not self._hurry.is_set() and self._interval:
                try:
                    await asyncio.wait_for(self._hurry.wait(), self._interval)
                except TimeoutError:
                    pass
            self._wake.clear()
            self._hurry.clear()
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            if len(self._queue):
                self._wake.set()
            try:
                await self._commit(batch)
            except StoreError as exc:
                self._fail(exc)
                return
            self._committed += len(batch)
            self._release()

    async def _commit(self, batch: list[tuple[RedisJournal, Op]]) -> None:
        per_journal: dict[RedisJournal, list[Op]] = {}
        for journal, op in batch:
            per_journal.setdefault(journal, []).append(op)
        live = [(j, ops) for j, ops in per_journal.items() if j._fenced is None]
        if not live:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for journal, ops in live:
                args: list[Any] = [journal.epoch, self._keep]
                for op in ops:
                    args.extend(op)
                await self._scripts["commit"](keys=journal._keys, args=args, client=pipe)  # queued
            results = await self._run(pipe.execute(), "commit journal records")
        for (journal, ops), (status, detail) in zip(live, results, strict=True):
            journal._committed(int(status), decoded(detail), ops)

    def _release(self) -> None:
        waiting = []
        for target, future in self._waiters:
            if self._committed >= target or self._failure is not None:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((target, future))
        self._waiters = waiting

    def _fail(self, error: StoreError) -> None:
        log.error("%r stopped writing: %s", self, error)
        self._failure = error
        self._queue.clear()
        self._release()


class RedisJournal(JournalBase):
    """The one writer of a run in a :class:`RedisStore` (made by ``open_journal``)."""

    __slots__ = ("_store", "_keys", "_durable", "_broken", "_fenced")

    def __init__(self, store: RedisStore, run: str, keys: list[str], epoch: int, seq: int) -> None:
        super().__init__(run, epoch, seq)
        self._store = store
        self._keys = keys
        self._durable = seq
        self._broken: StoreError | None = None  # set once: refuse appends from then on
        self._fenced: FencedError | None = None  # set when Redis refused a commit of this journal

    @property
    def durable_seq(self) -> int:
        """Sequence number of the last record Redis confirmed."""
        return self._durable

    def append(self, kind: str, payload: JSON) -> int:
        """Record one step; returns its sequence number at once (committed with the next group)."""
        self._check_writer()
        check_kind(kind)
        return self._queued(record_text(kind, payload, self._run))

    def append_text(self, kind: str, text: str) -> int:
        """:meth:`append` for a payload already written as compact JSON text."""
        self._check_writer()
        check_kind(kind)
        return self._queued(record_of_text(kind, text))

    def _queued(self, record: str) -> int:
        self._seq += 1
        self._store._queued(self, ("r", self._seq, record))
        return self._seq

    def snapshot(self, document: JSON) -> int:
        """Record ``document`` as standing for every record appended so far; returns that seq."""
        self._check_writer()
        text = dumps(document, f"the snapshot document of run {self._run!r}")
        self._store._queued(self, ("s", self._seq, text))
        return self._seq

    async def flush(self) -> None:
        """Return once every record and snapshot appended so far is committed."""
        if not self._store._closed:
            await self._store.flush()
        broken = self._fenced or self._broken
        if broken is not None and not isinstance(broken, Retired):
            raise fresh(broken)

    async def close(self) -> None:
        """Flush, then stop writing; the run stays in the store for recovery."""
        if self._broken is None and self._fenced is None:
            await self.flush()
            self._retire("the journal was closed")
            if self._store._journals.get(self._run) is self:
                del self._store._journals[self._run]

    def _retire(self, why: str) -> None:
        if self._broken is None:
            self._broken = Retired(f"run {self._run!r}: {why}. Fix: open_journal() again on an open store")

    def _check_writer(self) -> None:
        if self._store._closed and self._broken is None:
            self._retire("the store was closed")
        broken = self._fenced or self._broken
        if broken is not None:
            raise fresh(broken)
        if self._store._failure is not None:
            raise fresh(self._store._failure)

    def _committed(self, status: int, detail: str, ops: list[Op]) -> None:
        if status == 1:
            self._durable = int(detail)
            return
        if status == 0:
            self._fenced = FencedError(
                f"run {self._run!r} was taken over by a newer writer (epoch {detail}, this journal holds "
                f"{self._epoch}); {len(ops)} queued step(s) were not written. Fix: stop this runtime; "
                f"the newer writer recovers the run"
            )
            log.warning("%s", self._fenced)
            return
        raise StoreError(
            f"run {self._run!r}: Redis expected record {detail} next, not {ops[0][1]}: the keys of the run "
            f"were changed by something else. Fix: restore them, or start the run under a new name"
        )


def _records(run: str, after: int, entries: list[Any]) -> tuple[Record, ...]:
    """Stream entries as records; StoreError if one is missing or damaged."""
    records = []
    for seq, (entry_id, fields) in enumerate(entries, after + 1):
        if decoded(entry_id) != f"0-{seq}":
            raise StoreError(
                f"the journal of run {run!r} lacks record {seq} (next is {decoded(entry_id)}): the keys "
                f"were changed by something else. Fix: restore them from a backup"
            )
        pair = loads(decoded(fields[1]) if len(fields) == 2 else "", f"record {seq} of run {run!r}")
        records.append(record_from(seq, pair, run))
    return tuple(records)


_SCRIPTS = {"open": OPEN, "commit": COMMIT, "load": LOAD, "summary": SUMMARY}


def _conforms(store: RedisStore, journal: RedisJournal) -> tuple[Store, Journal]:
    """Never called: mypy checks here that both classes implement the store interface."""
    return store, journal
