"""``Reader``: how a worker's tokens come in from Redis, and what it holds of them.

A worker holds at most ``prefetch`` stream entries at a time.  Its reader

- reads the streams it may read (those read by all, and the partitions of keyed places it holds and
  has taken over) through the consumer group (``XREADGROUP``, batched, up to the room left),
- claims entries idle for longer than a lease (``XAUTOCLAIM``: a dead or stale worker's tokens), or
  every entry pending in a partition it takes over,
- delivers each entry into its local place at most once, remembering which entry (and, for a
  partition, which lease) each token came from,
- and moves an entry that cannot be decoded to its place's dead stream (see :mod:`.dead_letters`).

An entry a read brings back after the worker gave its partition up is not delivered: it stays pending
under the worker's name, and the partition's next owner claims it (when it takes the partition over,
or re-takes it: its sweep and its commits find entries pending under another worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError
from ..hypha import Runner
from .connection import Outage, decoded, raise_if_cancelled
from .dead_letters import burier, bury
from .handlers import Source
from .partitions import Partition, Partitions
from .shared import GROUP, SharedNet

__all__ = ["Reader"]

log = logging.getLogger("mycorrhizal.distribution")

Entries = list[tuple[str, dict[str, str]]]


class Reader:
    """Reads and reclaims one worker's stream entries and delivers their tokens into its runner."""

    __slots__ = (
        "_client", "_shared", "_name", "_codecs", "_runner", "_partitions", "prefetch", "block",
        "place_of", "part_of", "unkeyed", "held", "local", "committing", "room", "running", "burials",
        "reads", "read_entries", "reclaimed", "outage", "_burier",
    )  # fmt: skip

    def __init__(
        self,
        client: Redis,
        shared: SharedNet,
        name: str,
        codecs: CodecRegistry,
        runner: Runner,
        partitions: Partitions,
        prefetch: int,
        block: float,
    ) -> None:
        """Entries of ``shared``'s streams for the consumer ``name``, at most ``prefetch`` held at a
        time, each read waiting at most ``block`` seconds for new entries."""
        self._client = client
        self._burier = burier(client)
        self._shared = shared
        self._name = name
        self._codecs = codecs
        self._runner = runner
        self._partitions = partitions
        self.prefetch = prefetch
        self.block = block
        self.place_of = {s: q for q in shared.shared for s in shared.streams[q]}
        """Stream -> the shared place it belongs to."""
        self.part_of: dict[str, Partition] = {shared.streams[q][i]: (q, i) for q, i in shared.parts}
        """Stream of a partition -> that partition."""
        fed = [s for q in shared.fed for s in shared.streams[q]]
        self.unkeyed = [s for s in fed if s not in self.part_of]
        """Streams read by all workers (each entry leased on its own)."""
        self.held: dict[str, dict[str, Any]] = {s: {} for s in fed}
        """Stream -> entry id -> its token, for the entries held here and not being committed."""
        self.local: dict[str, dict[int, tuple[Any, list[Source]]]] = {q: {} for q in shared.fed}
        """Place -> id of a token in the local place -> (token, the entries it was delivered from, oldest
        first: one object may be several tokens, e.g. a small int, which the codec returns cached)."""
        self.committing: dict[str, set[str]] = {s: set() for s in fed}
        """Stream -> entries whose commit is on its way."""
        self.room = asyncio.Event()
        """Set when entries held are let go: the read loop may read again."""
        self.running = False
        self.burials: set[asyncio.Task[bool]] = set()
        """Entries being moved to their dead streams (see :meth:`buried`)."""
        self.reads = 0
        self.read_entries = 0
        self.reclaimed = 0
        self.outage = Outage(f"worker {name}: reading tokens from Redis", runner.timebase.now)
        """Says once (then every minute) that reads fail, and when they work again."""

    @property
    def holding(self) -> int:
        """Stream entries held now (in the local places or being fired)."""
        return sum(len(c) for c in self.committing.values()) + sum(len(h) for h in self.held.values())

    async def groups(self) -> None:
        """Make the consumer group of every stream read here (and the stream), unless it exists."""
        for stream in self.held:
            try:
                await self._client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _reading(self) -> dict[str, str]:
        parts = self._partitions.reading()
        return {**{s: ">" for s in self.unkeyed}, **{self._shared.streams[q][i]: ">" for q, i in parts}}

    async def loop(self) -> None:
        """Read new entries while ``running``, as many as there is room for."""
        block = max(1, int(self.block * 1000))
        while self.running:
            raise_if_cancelled()
            room = self.prefetch - self.holding
            if room <= 0:
                self.room.clear()
                await self.room.wait()
                continue
            streams = self._reading()
            if not streams:  # no partition held yet, and no stream read by all
                await asyncio.sleep(self.block)
                continue
            try:
                reply: Any = await self._client.xreadgroup(
                    GROUP,
                    self._name,
                    streams,  # type: ignore[arg-type]
                    count=room,
                    block=block,
                )
            except (RedisError, OSError) as exc:
                self.outage.failed(exc, self.block)
                await asyncio.sleep(self.block)
                if "NOGROUP" in str(exc):  # the streams were deleted (Client.clear, FLUSHDB): start afresh
                    with contextlib.suppress(RedisError, OSError):
                        await self.groups()
                continue
            self.outage.worked()
            if reply:
                self.reads += 1
            for stream, entries in reply or ():
                self.read_entries += len(entries)
                self.deliver(stream, entries)

    def deliver(self, stream: str, entries: Entries) -> None:
        """Put delivered (or reclaimed) entries into the local place, each at most once."""
        place, part = self.place_of[stream], self.part_of.get(stream)
        fence = None if part is None else self._partitions.fence(part)
        if part is not None and fence is None:  # given up while the read was on its way: the next
            return  # owner claims these entries (pending under this worker's name)
        held, local, tokens = self.held[stream], self.local[place], []
        for entry, fields in entries:
            if entry in held or not fields:
                continue
            try:
                token = self._codecs.loads(fields["t"])
            except (CodecError, KeyError) as exc:
                self._bury(stream, entry, fields, exc)
                continue
            held[entry] = token
            local.setdefault(id(token), (token, []))[1].append((stream, entry, fence))
            tokens.append(token)
        if tokens:
            self._runner.add_tokens(place, tokens)

    def _bury(self, stream: str, entry: str, fields: dict[str, str], exc: Exception) -> None:
        self.held[stream][entry] = None  # (not delivered again while it is being moved)

        def moved(task: asyncio.Task[bool]) -> None:
            self.burials.discard(task)
            self.held[stream].pop(entry, None)
            self.room.set()
            failure = None if task.cancelled() else task.exception()
            if failure is not None:  # it stays pending: reclaimed (here or by another) a lease later
                msg = "worker %s: moving entry %s of %s aside failed: %s"
                log.warning(msg, self._name, entry, stream, failure)

        place = self.place_of[stream]
        burial = bury(self._burier, self._shared.keys, self._name, place, stream, entry, fields, str(exc))
        task = asyncio.get_running_loop().create_task(burial, name=f"worker {self._name} burial of {entry}")
        self.burials.add(task)
        task.add_done_callback(moved)

    async def buried(self, *, cancel: bool = False) -> None:
        """Wait until every entry being moved to its dead stream is (``cancel``: stop moving them, as
        if the process had died: they stay pending under this worker's name, for the next to move)."""
        burials = list(self.burials)
        for task in burials if cancel else ():
            task.cancel()
        await asyncio.gather(*burials, return_exceptions=True)

    async def reclaim(self, stream: str, min_idle: int) -> None:
        """Claim the entries of ``stream`` idle for ``min_idle`` ms or more, oldest first, as many
        as ``prefetch`` leaves room for, and deliver those not held here yet."""
        start = "0-0"
        while True:
            room = self.prefetch - self.holding
            if room <= 0:
                return
            reply = await self._client.xautoclaim(stream, GROUP, self._name, min_idle, start, count=room)
            start = reply[0]
            self._reclaimed(stream, reply[1])
            if start == "0-0" or not self.running:
                return

    async def claim_all(self, stream: str) -> set[str]:
        """Claim every entry pending in ``stream`` (a partition taken over) and deliver those not
        held here, in the stream's order; the ids of all.

        If one of them is older than a token held here already (a former owner read it after this
        worker's last claim), every entry is delivered again in order, and the tokens held from
        before are dropped unfired when taken."""
        start, entries = "0-0", []
        while True:
            reply = await self._client.xautoclaim(stream, GROUP, self._name, 0, start, count=1000)
            start = reply[0]
            entries += reply[1]
            if start == "0-0":
                break
        held = self.held[stream]
        again = [entry for entry, token in held.items() if token is not None]  # (not one being buried)
        oldest = min((_order(entry) for entry, _ in entries if not self._mine(stream, entry)), default=None)
        if oldest is not None and any(oldest < _order(entry) for entry in again):
            for entry in again:
                del held[entry]
        self._reclaimed(stream, entries, set(again))
        return {entry for entry, _ in entries}

    async def strays(self, parts: list[Partition]) -> list[Partition]:
        """The partitions of ``parts`` (held here) with entries pending under another worker."""
        if not parts:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for q, i in parts:
                pipe.xpending(self._shared.streams[q][i], GROUP)
            replies = await pipe.execute()
        return [
            part
            for part, reply in zip(parts, replies, strict=True)
            if any(decoded(c["name"]) != self._name for c in reply["consumers"])
        ]

    def _mine(self, stream: str, entry: str) -> bool:
        return entry in self.held[stream] or entry in self.committing[stream]

    def _reclaimed(self, stream: str, entries: Entries, again: set[str] | None = None) -> None:
        """Deliver the claimed ``entries`` not held here (any more: those in ``again`` were)."""
        fresh = [(entry, fields) for entry, fields in entries if not self._mine(stream, entry)]
        taken = sum(1 for entry, _ in fresh if not again or entry not in again)
        if taken:
            self.reclaimed += taken
            log.info("worker %s reclaimed %d entries of %s", self._name, taken, stream)
        self.deliver(stream, fresh)


def _order(entry: str) -> tuple[int, int]:
    """A stream entry id as a sortable pair (milliseconds, sequence)."""
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq)
