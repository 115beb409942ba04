"""Taking partitions over, and back after a failed firing: the local state of a partition is thrown
away and rebuilt from Redis, which is the truth.

A worker *takes a partition over* when it gains its lease (a free one, or its own again under a new
epoch after it ran out).  Until that is done it neither reads the partition nor writes its machines,
and a firing about to take one of its tokens waits for it.  It waits until no firing from the
partition is in flight here any more (their commits, read under the old lease, are refused), closes
its machines of it, restores them as committed in Redis, lets the tokens it still holds of the
partition be fired under the new lease, claims every other entry pending in the partition (oldest
first) and only then reads it again: once the last takeover of it scheduled is done (its lease gained
again while a re-take was on its way: the second closes the machines the first restored).

A firing from a partition that does not commit (its handler raised, the machine's document could
not be written, the commit failed or its reply was lost, or Redis refused it) may have left its
machine with a change Redis does not have.  Unless a takeover since it was read does it already, the
worker *re-takes* the partition: it moves its lease to a new epoch (so that no other firing read
under the old one commits) and takes it over as above.  If that fails (Redis unreachable, the lease
lost), the worker gives the partition up: it releases the lease if it can, drops what it holds of
it (the tokens are dropped unfired when taken), and the partition is taken over again, by this
worker or another, at a later sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from ..common.errors import CodecError, ExecutionError, StoreError
from .machines import KeyedMachines
from .partitions import Partition, Partitions
from .shared import SharedNet

__all__ = ["Takeovers"]

log = logging.getLogger("mycorrhizal.distribution")

Claim = Callable[[str], Awaitable[set[str]]]
"""``claim(stream)`` claims every entry pending in a stream, delivers those not held yet (in the
stream's order), and returns the ids of all."""


class Takeovers:
    """Takes one worker's partitions over: when their leases are gained, and after failed firings."""

    __slots__ = (
        "_shared", "_name", "_partitions", "_machines", "_held", "_committing", "_claim",
        "_local", "_room", "_flying", "_drained", "_tasks", "restoring", "closed",
    )  # fmt: skip

    def __init__(
        self,
        shared: SharedNet,
        name: str,
        partitions: Partitions,
        machines: KeyedMachines,
        held: tuple[dict[str, dict[str, Any]], dict[str, set[str]], dict[str, dict[int, Any]]],
        claim: Claim,
        room: asyncio.Event,
    ) -> None:
        """``held``: the worker's entries per stream (entry id -> token; those being committed) and
        its local tokens' sources per place; ``room``: set when entries held are let go (the reader
        waits on it when ``prefetch`` entries are held)."""
        self._shared = shared
        self._name = name
        self._partitions = partitions
        self._machines = machines
        self._held, self._committing, self._local = held
        self._claim = claim
        self._room = room
        self._flying: Counter[Partition] = Counter()  # firings between take and commit (or failure)
        self._drained: dict[Partition, asyncio.Event] = {}
        self._tasks: dict[Partition, asyncio.Task[None]] = {}  # the last takeover scheduled per partition
        self.restoring: set[Partition] = set()
        """Partitions whose machines here are not (yet) as in Redis: none of them is written."""
        self.closed = False

    # -- firings in flight ------------------------------------------------------------------------

    def began(self, part: Partition) -> None:
        """A firing from ``part`` took its token."""
        self._flying[part] += 1

    def ended(self, part: Partition) -> None:
        """That firing committed, was refused or failed (exactly once per :meth:`began`)."""
        self._flying[part] -= 1
        if not self._flying[part]:
            del self._flying[part]
            drained = self._drained.pop(part, None)
            if drained is not None:
                drained.set()

    def current(self, part: Partition, fence: str | None) -> bool:
        """True if a token of ``part`` read under ``fence`` may be fired and committed here now."""
        held = self._partitions.fence(part)  # (None: not held here, whatever ``fence`` is)
        return held is not None and fence == held and part not in self._partitions.opening

    async def wait(self, part: Partition) -> bool:
        """Wait for the takeover of ``part`` on its way, if any (False: none)."""
        task = self._tasks.get(part)
        if task is None:
            return False
        await asyncio.wait([task])  # (a firing cancelled meanwhile does not cancel the takeover)
        return True

    async def _drain(self, part: Partition) -> None:
        if self._flying[part]:
            await self._drained.setdefault(part, asyncio.Event()).wait()

    def settled(self, part: Partition) -> bool:
        """True if nothing of ``part`` is in flight or being taken over here."""
        stream = self._stream(part)
        return (
            not self._held[stream]
            and not self._committing[stream]
            and not self._flying[part]
            and part not in self._tasks
            and self._machines.settled(part)
        )

    # -- leases gained and lost ---------------------------------------------------------------------

    async def gained(self, part: Partition) -> None:
        """The lease on ``part`` was taken: take it over (awaited, unless firings from it are in
        flight here: then in the background, once they are over)."""
        self.restoring.add(part)
        in_flight = self._flying[part] or part in self._tasks
        task = self._schedule(part, self._take_over)
        if not in_flight:
            await asyncio.wait([task])

    async def lost(self, part: Partition) -> None:
        """``part`` is no longer held here: its entries and machines here are another's now."""
        self.restoring.discard(part)
        self._held[self._stream(part)].clear()  # their tokens in the local place are dropped, unfired
        self._room.set()  # (a reader that held prefetch entries of it reads the other streams again)
        await self._machines.drop(part)

    def failed(self, part: Partition, fence: str | None) -> None:
        """A firing from ``part``, read under ``fence``, did not commit: re-take the partition, unless
        a takeover since then does it; close the machines it may have made if ``part`` is not held."""
        if self.closed:
            return
        current = self._partitions.fence(part)
        if current is None:
            self._schedule(part, self._close_unheld)
        elif fence == current and part not in self._partitions.opening:
            self.restoring.add(part)
            self._partitions.opening.add(part)  # not read until re-taken
            self._schedule(part, self._retake)

    def fenced(self, part: Partition, token: Any, entry: str, fence: str | None) -> None:
        """Redis refused the commit of a firing of ``token`` (``entry`` of ``part``, read under ``fence``):
        the entry stays pending there, and the partition's next takeover (a re-take here, or another
        worker's) claims it and delivers it again, in its order; the token here is not fired again."""
        held = self._held[self._stream(part)]
        if held.get(entry) is token:  # (its commit was not sent)
            del held[entry]
            self._room.set()
        self._machines.end(part, token, failed=True)
        self.ended(part)
        self.failed(part, fence)  # (re-takes the partition, unless a takeover since it was read does)

    def retake(self, part: Partition) -> None:
        """Re-take ``part`` (held here): entries of it are pending under another worker."""
        self.failed(part, self._partitions.fence(part))

    async def close(self) -> None:
        """Stop taking over (the worker stops): cancel what is scheduled."""
        self.closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the steps ----------------------------------------------------------------------------------

    def _schedule(self, part: Partition, step: Callable[[Partition], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``step(part)`` after what is already scheduled for ``part``, in the background."""
        previous = self._tasks.get(part)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await step(part)
            except Exception as exc:  # a defect: the partition goes, named, rather than stay half taken
                log.error("worker %s: taking partition %s over failed", self._name, part, exc_info=exc)
                await self._give_up(part, exc)

        task = asyncio.get_running_loop().create_task(run(), name=f"worker {self._name} partition {part}")
        self._tasks[part] = task
        task.add_done_callback(lambda done: self._tasks.pop(part) if self._tasks.get(part) is done else None)
        return task

    async def _retake(self, part: Partition) -> None:
        if part not in self._partitions.epochs:  # lost meanwhile: the sweep let it go
            self.restoring.discard(part)
            return
        try:
            if not await self._partitions.refence(part):
                log.warning("worker %s lost partition %s while re-taking it", self._name, part)
                await self.lost(part)
                return
        except (RedisError, OSError) as exc:
            await self._give_up(part, exc)
            return
        await self._take_over(part)

    async def _take_over(self, part: Partition) -> None:
        """Rebuild ``part`` here from Redis (see the module's docstring); a machine that cannot be
        restored keeps the partition unread: its tokens wait rather than go to a machine that
        forgot its state."""
        await self._drain(part)
        fence = self._partitions.fence(part)
        if fence is None:  # lost meanwhile
            self.restoring.discard(part)
            return
        stream = self._stream(part)
        await self._machines.drop(part)
        try:
            machines = await self._machines.restore(part)
        except (CodecError, ExecutionError) as exc:
            log.error("worker %s cannot take partition %s over: %s; its tokens wait", self._name, part, exc)
            return
        except (RedisError, OSError, StoreError) as exc:
            await self._give_up(part, exc)
            return
        if self._partitions.fence(part) != fence:  # lost (and maybe taken again: its own takeover
            await self._machines.drop(part)  # follows) while restoring: these are no one's machines
            return
        self.restoring.discard(part)
        for _, sources in self._local[part[0]].values():  # held from before: fired under the new lease
            sources[:] = [(s, e, fence if s == stream else f) for s, e, f in sources]
        held = self._held[stream]
        before = set(held)
        try:
            gone = before - await self._claim(stream)
            for entry in gone:  # committed after all (a lost reply): its token is dropped unfired
                held.pop(entry, None)
        except (RedisError, OSError, StoreError) as exc:  # the sweep re-takes it or claims them
            log.warning("worker %s: claiming the entries of partition %s failed: %s", self._name, part, exc)
        finally:
            # Read again only if still held so and no takeover of it is scheduled after this one (a
            # re-take, or a lease gained again meanwhile): that one closes the machines just restored,
            # and a token fired before it restores them again would go to a machine made afresh.
            if self._partitions.fence(part) == fence and self._tasks.get(part) is asyncio.current_task():
                self._partitions.opened(part)
        log.info("worker %s took partition %s over with %d machine(s)", self._name, part, machines)

    async def _give_up(self, part: Partition, exc: BaseException) -> None:
        await self._partitions.give_up(part)
        await self.lost(part)
        log.error(
            "worker %s gave partition %s up: it could not take it over (%s); it is taken "
            "over again at a later sweep, by this worker or another",
            self._name,
            part,
            exc,
        )

    async def _close_unheld(self, part: Partition) -> None:
        await self._drain(part)
        if part not in self._partitions.epochs:
            await self._machines.drop(part)

    def _stream(self, part: Partition) -> str:
        return self._shared.streams[part[0]][part[1]]
