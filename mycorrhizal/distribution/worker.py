"""``Worker``: one process's share of a net whose places live in Redis Streams.

Every worker runs the same net in a local hypha :class:`~mycorrhizal.hypha.Runner`.  Tokens of the
shared places it consumes come from their streams through one consumer group (read and reclaimed by
its :mod:`.reader`, bounded by ``prefetch``); each firing commits in Redis in one atomic step (see
:mod:`.handlers` and :mod:`.committer`).  A background *sweep*, every ``lease / 3`` seconds,

- renews the lease of every entry the worker holds (resets its idle time, if it still owns it),
- reclaims entries of other workers idle for longer than ``lease`` (``XAUTOCLAIM``), in streams
  read by all and in the partitions it holds: a dead or stale worker's tokens are fired by the living,
- tells Redis the worker is alive (for ``inspect``),
- and renews, takes and gives up the leases on partitions of keyed places (see :mod:`.partitions`):
  a partition's stream is read only by the worker holding its lease, which takes it over (and
  back, after a firing from it did not commit, or when another worker that read on after its lease
  moved has entries of it pending) from Redis (see :mod:`.takeover`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError, ExecutionError, StoreError, fix_last, reason
from ..common.timebase import Timebase, WallClock
from ..hypha import NetSpec
from .committer import Committer, refusal
from .connection import (
    Outage,
    check_stop_timeout,
    check_worker_options,
    client_for,
    raise_if_cancelled,
    redis_failure,
)
from .handlers import LocalRunner, Outputs, Source, local_net
from .layout import agree_on_partitions
from .liveness import claim_name, heartbeat, leave, live_workers
from .machines import KeyedMachines, Write
from .partitions import Partition, Partitions
from .places_lua import GIVE_BACK, RENEW
from .reader import Reader
from .shared import GROUP, SharedNet
from .takeover import Takeovers

__all__ = ["Worker"]

log = logging.getLogger("mycorrhizal.distribution")

_PASS = "Worker(..., codecs=registry) to every worker, and the same to every Client(..., codecs=registry)"
"""How workers given no registry are given one (every worker and client must read what one writes)."""
_FENCED_FIX = (
    "nothing, for this token; if firings are fenced often, give the workers a longer lease "
    "(Worker(lease=...), --lease) than their longest pauses"
)
"""What to do about a refused commit: Redis has the token right; frequent refusals mean short leases."""
_DEFECT = "this is a defect (of a codec, or of mycorrhizal: report it with the traceback logged)"
"""The fix of a failure that says none of its own."""


class Worker:
    """Runs a net with shared places in Redis: ``await worker.start()`` ... ``await worker.stop()``."""

    def __init__(
        self,
        net: NetSpec,
        redis: str | Redis = "redis://127.0.0.1:6379/0",
        *,
        shared: list[str] | None = None,
        prefix: str = "mycorrhizal",
        blackboard: Any = None,
        codecs: CodecRegistry | None = None,
        concurrency: int | None = None,
        prefetch: int | None = None,
        lease: float = 30.0,
        name: str | None = None,
        partitions: int = 16,
        timebase: Timebase | None = None,
    ) -> None:
        """See docs/distribution.md: ``lease`` in seconds; ``prefetch``: tokens held at most;
        ``partitions``: streams per keyed place; ``timebase``: the runner's clock (the wall clock).

        Raises DefinitionError for options out of range and for what the net may not share.
        """
        check_worker_options(lease, concurrency, prefetch)
        self.shared = SharedNet(net, shared, prefix=prefix, partitions=partitions)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.codecs = codecs if codecs is not None else CodecRegistry()
        self._pass_codecs = None if codecs is not None else _PASS
        self.lease = float(lease)
        self._client, self._own_client = client_for(redis)
        self.url = redis if isinstance(redis, str) else repr(redis)
        self._keys = self.shared.commit_keys
        self._index = {key: i for i, key in enumerate(self._keys, 1)}  # Lua counts from 1
        self._committer = Committer(self._client, self._keys, GROUP, self.name, self.url)
        self._renew, self._give_back = (self._client.register_script(lua) for lua in (RENEW, GIVE_BACK))
        self._partitions = Partitions(self._client, self.shared, self.name, self.lease)
        self.concurrency = concurrency
        clock = timebase if timebase is not None else WallClock()
        net_here, pass_as = local_net(self.shared, self, concurrency), self._pass_codecs
        self.runner = LocalRunner(net_here, blackboard, clock, self.shared, self.codecs, self.name, pass_as)
        """The local runner (its stats count this worker's firings)."""
        self._reader = Reader(
            self._client, self.shared, self.name, self.codecs, self.runner, self._partitions,
            prefetch if prefetch is not None else 2 * (concurrency or 16), min(0.2, self.lease / 4),
        )  # fmt: skip
        reader = self._reader
        self._part_of, self._held, self._local = reader.part_of, reader.held, reader.local
        self._committing, self._unkeyed = reader.committing, reader.unkeyed
        self._keep_machines()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Task[None] | None = None
        self._over = asyncio.Event()
        self.failure: ExecutionError | None = None
        """The defect that stopped this worker on its own (its reader or sweep failed), or None."""
        self.sweeps = 0
        """Sweeps done (lease renewals, reclaiming, heartbeat), one every ``lease / 3`` seconds."""
        self.fenced = 0
        """Firings that did not commit because their token's lease had moved on meanwhile (Redis
        refused the commit, or the worker did not send it)."""
        self.dropped = 0
        """Tokens dropped unfired: their entry was no longer this worker's as read (another worker's,
        committed after all, or delivered again by a takeover): they are fired from Redis, or were."""

    def _keep_machines(self) -> None:
        """The fsm= machines of the partitions held, and their takeovers."""
        self._machines = KeyedMachines(
            self.shared, self.runner, self.codecs, self._client, self._index, self._commit_machines,
            pass_codecs=self._pass_codecs,
        )  # fmt: skip
        held = (self._held, self._committing, self._local)
        self._takeovers = Takeovers(
            self.shared, self.name, self._partitions, self._machines, held, self._reader.claim_all,
            self._reader.room,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<Worker {self.name!r} of {self.shared.flat.name!r}, holding {self.holding}>"

    @property
    def prefetch(self) -> int:
        """Stream entries this worker holds at most (in its places or being fired)."""
        return self._reader.prefetch

    @property
    def holding(self) -> int:
        """Stream entries this worker holds now (in its places or being fired)."""
        return self._reader.holding

    @property
    def reads(self) -> int:
        """``XREADGROUP`` calls that delivered entries (round trips that fed this worker)."""
        return self._reader.reads

    @property
    def read_entries(self) -> int:
        """Entries those calls delivered."""
        return self._reader.read_entries

    @property
    def reclaimed(self) -> int:
        """Entries this worker took over from others whose lease ran out."""
        return self._reader.reclaimed

    @property
    def partitions(self) -> list[Partition]:
        """The partitions of keyed places this worker holds and has taken over (their machines
        restored, what their last owner left claimed): (place, index)."""
        return [part for part in self._partitions.epochs if part not in self._partitions.opening]

    @property
    def commits(self) -> tuple[int, int]:
        """(commit calls sent to Redis, firings they carried)."""
        return self._committer.calls, self._committer.firings

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the consumer groups, start the local runner, the reader and the sweep.

        Raises StoreError if Redis cannot be reached, a live worker already has this name, or the
        net's keyed places have another number of partitions in Redis.
        """
        if self._reader.running:
            return
        try:
            await claim_name(self._client, self.shared.keys, self.name, self.lease)
            await agree_on_partitions(self._client, self.shared, f"worker {self.name}")
            await self._reader.groups()
            await self.runner.start()
            await self._sweep_once()  # takes over what dead workers left at once
        except (RedisError, OSError) as exc:
            await self.runner.stop()
            raise redis_failure(
                f"worker {self.name}: cannot reach Redis at {self.url}", self.url, exc
            ) from exc
        self._reader.running = True
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._reader.loop(), name=f"worker {self.name} reader"),
            loop.create_task(self._sweep_loop(), name=f"worker {self.name} sweep"),
        ]
        for task, what in zip(self._tasks, ("reading tokens from Redis", "its sweep"), strict=True):
            task.add_done_callback(functools.partial(self._failed, what=what))
        log.info("worker %s started on net %s (prefetch %d)", self.name, self.shared.flat.name, self.prefetch)

    async def stop(self, *, timeout: float | None = None) -> None:
        """Stop taking tokens; let firings in flight finish and commit (cancelled after ``timeout``
        seconds) and entries that cannot be decoded move aside, give every token not fired back to
        the group, release the partitions held, leave, and close the connection.  Raises the
        ExecutionError that stopped the worker on its own, if one did (see ``failure``)."""
        check_stop_timeout(self.name, timeout)
        if self._reader.running:
            self._reader.running = False
            self._stopping = asyncio.get_running_loop().create_task(self._stop(timeout))
        if self._stopping is not None:
            await self._stopping
        if self.failure is not None:
            raise self.failure

    def _failed(self, task: asyncio.Task[None], what: str) -> None:
        """A task of the worker ended: if by a defect, say so and stop, so that others take over."""
        exc = None if task.cancelled() else task.exception()
        if exc is None:
            return
        log.error("worker %s: %s failed; the worker stops", self.name, what, exc_info=exc)
        said = f"worker {self.name!r}: {what} failed with {type(exc).__name__}: {reason(exc)}"
        stopped = "; the worker stopped (what it held went back to Redis, for other workers to fire)"
        # (an error that says its own fix is told with it, last)
        told = fix_last(said, stopped, otherwise=_DEFECT)
        self.failure = ExecutionError(f"{told}; start the worker again")
        self.failure.__cause__ = exc
        if self._reader.running:
            self._reader.running = False
            self._stopping = asyncio.get_running_loop().create_task(self._stop_failed())

    async def _stop_failed(self) -> None:
        try:
            await self._stop(self.lease)
        except Exception:  # (Redis unreachable too: its leases run out and others take over)
            log.exception("worker %s: stopping after the failure failed", self.name)
            self._over.set()

    async def _stop(self, timeout: float | None) -> None:
        self._reader.room.set()
        reader, sweep = self._tasks
        await asyncio.wait([reader], timeout=1.0 + self._reader.block)  # lets a read in progress deliver
        reader.cancel()
        await self._machines.flush()  # what timeouts changed: the next owner continues from there
        await self._takeovers.close()
        await self.runner.stop(timeout=timeout)
        sweep.cancel()
        await asyncio.gather(reader, sweep, return_exceptions=True)
        await self._reader.buried()  # (else given back too, and moved aside again by the next worker)
        held = self.holding
        try:
            given = await self._hand_back()
            await self._partitions.release_all()
            await leave(self._client, self.shared.keys, self.name, list(self._held))
        except (RedisError, OSError) as exc:  # what it held stays leased to it: others wait a lease
            what = (
                f"worker {self.name!r}: stopping, it could not reach Redis at {self.url} to give back the "
                f"{held} token(s) it held, release its partitions and leave (other workers take what it "
                f"held over once its lease of {self.lease:g} s runs out)"
            )
            raise redis_failure(what, self.url, exc) from exc
        finally:
            if self._own_client:
                await self._client.aclose()
            self._over.set()
        log.info("worker %s stopped; %d token(s) given back", self.name, given)

    async def abort(self) -> None:
        """Stop at once, as if the process had died (for failure drills and tests): nothing more
        reaches Redis from this worker (no commit, renewal, give-back or release; the connection is
        closed), and its runner stops, cancelling firings in flight.  Other workers take its tokens
        and partitions over once its leases run out."""
        self._reader.running = False
        if self._stopping is not None:  # (stopping after a failure: dies instead)
            self._stopping.cancel()
            await asyncio.gather(self._stopping, return_exceptions=True)
        await self._committer.abort()  # first: a commit queued just before must not go out after
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._machines.abort()
        await self._takeovers.close()
        await self._reader.buried(cancel=True)
        await self._client.aclose()
        await self.runner.stop(timeout=0)
        self._over.set()

    async def run(self, stop: asyncio.Event, *, timeout: float | None = None) -> None:
        """Start, work until ``stop`` is set (e.g. by a SIGTERM handler) or the worker fails, then stop
        cleanly (see :meth:`stop`).  Raises ExecutionError if it failed (see ``failure``)."""
        check_stop_timeout(self.name, timeout)
        await self.start()
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._over.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            await self.stop(timeout=timeout)

    # -- the Port of the wrapped handlers -------------------------------------------------------

    async def take(self, place: str, token: Any) -> Source | None:
        """The entry ``token`` came from (its firing has started; it waits for a takeover of its
        partition on its way); None if this worker no longer holds that entry as read (dropped)."""
        local = self._local[place]
        slot = local.get(id(token))
        if slot is None:  # added by hand (runner.add_token): it cannot commit here, so it goes to Redis
            await self.commit(None, None, None, [(place, token)])  # (fired from there, as if submitted)
            msg = "a token in shared place %r of worker %r did not come from Redis (was it added with "
            msg += "runner.add_token?); it was appended to the place in Redis, to be fired from there like a "
            log.warning(msg + "submitted one. Fix: submit tokens of shared places with Client.submit "
                        "(mycorrhizal submit)", place, self.name)  # fmt: skip
            return None
        # Tokens equal to one cached object (small ints, one-character strings, ...) share one slot:
        # each firing takes the oldest entry, as the runner fires a place's tokens in their order.
        stream, entry, fence = source = slot[1][0]
        part = self._part_of.get(stream)
        held = self._held[stream]
        current = part is None or self._takeovers.current(part, fence)
        if not current and held.get(entry) is token and await self._takeovers.wait(part):  # type: ignore[arg-type]
            stream, entry, fence = source = slot[1][0]  # (its new fence, if still held)
            current = self._takeovers.current(part, fence)  # type: ignore[arg-type]
        stale = held.get(entry) is not token or not current
        if part is not None and not stale:
            self._machines.begin(part, token)  # (raises if fsm_key does: nothing is taken then)
            self._takeovers.began(part)
        slot[1].pop(0)
        if not slot[1]:
            local.pop(id(token), None)
        if stale:  # a takeover since it was read claims its entry again (or another worker has it)
            if held.get(entry) is token:  # (else: gone, or delivered again, in order, by a takeover)
                del held[entry]
                self._reader.room.set()
            self.dropped += 1
            return None
        return source

    def untake(self, place: str, token: Any, source: Source) -> None:
        """The firing did not commit: the token is back in its place, with its entry."""
        stream, entry, fence = source
        self._local[place].setdefault(id(token), (token, []))[1].insert(0, source)  # (first, as the token)
        part = self._part_of.get(stream)
        if part is not None:
            self._machines.end(part, token, failed=True)
            self._takeovers.ended(part)
            self._takeovers.failed(part, fence)  # its machine may hold what Redis does not

    async def commit(self, place: str | None, token: Any, source: Source | None, outputs: Outputs) -> bool:
        """One firing's atomic commit (batched with others); False if its token's lease had moved on
        (Redis refused it, or it was not sent): its outputs are dropped, and the entry is Redis's.
        From a keyed partition it is fired again by the partition's next takeover (a re-take here, or
        another worker's), which claims it from Redis and delivers it again, in its order."""
        encoded = []
        for q, out in outputs:
            try:
                index = self._index[self.shared.stream_of(q, out, self.codecs)]
                encoded.append([index, self.codecs.dumps(out)])
            except CodecError as exc:
                where = f"a token for place {q!r} cannot be encoded"
                raise ExecutionError(str(exc.at(where, pass_as=self._pass_codecs)), place=q) from exc
        if source is None:
            return await self._committer.commit([[], encoded])
        stream, entry, fence = source
        part = self._part_of.get(stream)
        held = self._held[stream]
        ok = held.get(entry) is token and (part is None or self._takeovers.current(part, fence))
        if ok:
            fenced_by: list[Any] = [] if part is None else [self._index[self.shared.keys.lease(*part)], fence]
            machines = [] if part is None else self._machines.written(part, token)
            del held[entry]  # not renewed while its commit is on the way
            self._committing[stream].add(entry)
            try:
                ok = await self._committer.commit(
                    [[[self._index[stream], entry]], encoded, fenced_by, machines]
                )
            except BaseException:
                held[entry] = token  # not committed: the token goes back with its entry
                raise
            finally:
                self._committing[stream].discard(entry)
                self._reader.room.set()
        if ok:
            if part is not None:
                self._machines.end(part, token)
                self._takeovers.ended(part)
            return True
        self.fenced += 1
        place = self._reader.place_of[stream]
        why = await refusal(self._client, self.name, (stream, entry, place), part)
        if part is not None:  # Not a failure of the transition: its retry, on the runner's clock (maybe
            self._takeovers.fenced(part, token, entry, fence)  # virtual), would hold back the tokens after it
        fix = "" if part is None else f". Fix: {_FENCED_FIX}"
        log.warning("worker %s: the commit of a firing of %s; its outputs were dropped%s",
                    self.name, why, fix)  # fmt: skip
        return False

    async def _commit_machines(self, part: Partition, writes: list[Write]) -> bool:
        """Write machine documents of ``part`` on their own (a timeout fired), under its lease."""
        fence = self._partitions.fence(part)
        if fence is None or part in self._takeovers.restoring:
            return False
        return await self._committer.commit(
            [[], [], [self._index[self.shared.keys.lease(*part)], fence], writes]
        )

    # -- the sweep: leases, reclaiming, liveness ------------------------------------------------

    async def _sweep_loop(self) -> None:
        outage = Outage(f"worker {self.name}: sweeping Redis (leases, heartbeat)", self.runner.timebase.now)
        while self._reader.running:
            raise_if_cancelled()
            await asyncio.sleep(self.lease / 3)
            try:
                await self._sweep_once()
            except (RedisError, OSError, StoreError) as exc:
                outage.failed(exc, self.lease / 3)
                continue
            except Exception:  # a defect: said once per sweep, and the leases are still renewed
                log.exception("worker %s: sweep failed; retrying", self.name)
                continue
            outage.worked()

    async def _sweep_once(self) -> None:
        self.sweeps += 1
        await self._renew_held()
        for stream in self._unkeyed:
            await self._reader.reclaim(stream, int(self.lease * 1000))
        about = {"lease": self.lease, "concurrency": self.concurrency or 0, "holding": self.holding}
        await heartbeat(self._client, self.shared.keys, self.name, self.lease, about)
        if self.shared.keyed:
            await self._balance()
            # A former owner reading on until it noticed its lease had moved on left entries pending
            # under its name (read after this worker's takeover claimed): re-take the partition, which
            # claims them and fires them in their order (and entries idle for a lease, as a last resort).
            for part in await self._reader.strays(self.partitions):
                self._takeovers.retake(part)
            for place, index in self.partitions:
                await self._reader.reclaim(self.shared.streams[place][index], int(self.lease * 1000))

    async def _balance(self) -> None:
        """Renew the partition leases; take free partitions over and give up extra ones."""
        live = await live_workers(self._client, self.shared.keys, self.lease)
        gained, gone = await self._partitions.balance(live, self._takeovers.settled)
        for part in gone:
            await self._takeovers.lost(part)
            log.info("worker %s no longer holds partition %s", self.name, part)
        for part in gained:
            await self._takeovers.gained(part)

    async def _renew_held(self) -> None:
        pairs = [(stream, entry) for stream in self._unkeyed for entry in self._held[stream]]
        for start in range(0, len(pairs), 1000):
            chunk = pairs[start : start + 1000]
            args = [x for stream, entry in chunk for x in (self._index[stream], entry)]
            lost = set(await self._renew(keys=self._keys, args=[GROUP, self.name, *args]))
            # Entries committed while the renewal was on its way are gone too: those are not lost.
            lost_held = [entry for stream, entry in chunk if entry in lost and entry in self._held[stream]]
            if lost_held:
                log.warning(
                    "worker %s lost %d entries to other workers (its lease ran out); their firings "
                    "here will not commit",
                    self.name,
                    len(lost_held),
                )

    # -- leaving ----------------------------------------------------------------------------------

    async def _hand_back(self) -> int:
        """Give the tokens held but not fired back: those of streams read by all go to the end of
        their stream; those of partitions stay pending for the partition's next owner (in order)."""
        args: list[Any] = []
        for stream, held in self._held.items():
            if stream not in self._part_of:
                args += [x for entry in held for x in (self._index[stream], entry)]
            held.clear()
        for local in self._local.values():
            local.clear()
        if not args:
            return 0
        return int(await self._give_back(keys=self._keys, args=[GROUP, self.name, *args]))
