"""The partitions of keyed places a worker holds: one owner per partition, by a lease with an epoch.

A keyed place (consumed by an ``fsm=`` transition) is split into partition streams by the key of
each token.  Each partition is owned by one worker at a time through a lease key in Redis holding
``"<worker> <epoch>"`` and expiring after the worker's lease unless renewed; every new owner gets
the next epoch.  Only the owner reads the partition's stream, so every key is handled by one worker
at a time, and each commit of a firing from a partition carries the lease value it was fired under:
Redis refuses it once the lease has moved on (fencing), so a worker that paused past its lease cannot
write a token or a machine state after another took the partition over.

Every sweep (``lease / 3``) a worker renews its leases and balances: with ``n`` live workers each
aims at ``ceil(partitions / n)`` partitions of each keyed place, takes free ones up to that and
gives up those above it (*leaving*: it stops reading them, lets what it holds of them commit, then
deletes its lease so another worker takes them at its next sweep).
"""

from __future__ import annotations

import asyncio
import logging
import math
import zlib
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .places_lua import ACQUIRE, REFENCE, RELEASE
from .shared import SharedNet

__all__ = ["Partition", "Partitions"]

log = logging.getLogger("mycorrhizal.distribution")

Partition = tuple[str, int]
"""(qualified name of a keyed place, partition index)."""


class Partitions:
    """The leases of one worker on the partitions of a net's keyed places."""

    __slots__ = (
        "_client", "_shared", "_name", "_lease_ms", "_acquire", "_release", "_refence", "_lock",
        "epochs", "leaving", "opening",
    )  # fmt: skip

    def __init__(self, client: Redis, shared: SharedNet, name: str, lease: float) -> None:
        """Leases of ``lease`` seconds for the worker ``name`` on the keyed places of ``shared``."""
        self._client = client
        self._shared = shared
        self._name = name
        self._lease_ms = int(lease * 1000)
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)
        self._refence = client.register_script(REFENCE)
        self._lock = asyncio.Lock()  # one change of the leases at a time: each reads what it changes
        self.epochs: dict[Partition, int] = {}
        """The partitions this worker holds, with the epoch of its lease on each."""
        self.leaving: set[Partition] = set()
        """Held partitions this worker is giving up: not read any more, released once settled."""
        self.opening: set[Partition] = set()
        """Partitions just taken, not read until the worker has claimed what their last owner left."""

    def fence(self, part: Partition) -> str | None:
        """The lease value a commit from ``part`` must find in Redis (None: not held)."""
        epoch = self.epochs.get(part)
        return None if epoch is None else self._value(part)

    def _value(self, part: Partition) -> str:
        return f"{self._name} {self.epochs[part]}"

    def reading(self) -> list[Partition]:
        """Held partitions that are not being given up: those whose streams this worker reads."""
        return [part for part in self.epochs if part not in self.leaving and part not in self.opening]

    def opened(self, part: Partition) -> None:
        """The worker has taken ``part`` over: it may read its stream."""
        self.opening.discard(part)

    def lease_key(self, part: Partition) -> str:
        """The Redis key of the lease on ``part``."""
        return self._shared.keys.lease(*part)

    async def balance(
        self, live: int, settled: Callable[[Partition], bool]
    ) -> tuple[list[Partition], list[Partition]]:
        """Renew, take and give up leases for ``live`` workers; (partitions gained, partitions gone:
        lost to another worker or released).

        ``settled(part)``: this worker holds nothing of ``part`` any more (no token, no commit on
        its way, no machine state unwritten), so a partition it is leaving can be released.
        """
        if not self._shared.keyed:
            return [], []
        async with self._lock:
            return await self._balance(live, settled)

    async def _balance(
        self, live: int, settled: Callable[[Partition], bool]
    ) -> tuple[list[Partition], list[Partition]]:
        wanted = await self._candidates(max(1, live))
        held = list(self.epochs)
        keys = [self._shared.keys.epochs, *(self.lease_key(p) for p in (*held, *wanted))]
        args: list[Any] = [self._name, self._lease_ms, *(self.epochs[p] for p in held), *(0 for _ in wanted)]
        reply = [int(epoch) for epoch in await self._acquire(keys=keys, args=args)]
        lost = [p for p, epoch in zip(held, reply, strict=False) if epoch == 0]
        # A held lease that had run out is taken again under a new epoch: taken over like a new one
        # (another worker may have had it meanwhile).
        again = [p for p, epoch in zip(held, reply, strict=False) if epoch not in (0, self.epochs[p])]
        gained = [*again, *(p for p, epoch in zip(wanted, reply[len(held) :], strict=True) if epoch)]
        for part in lost:
            del self.epochs[part]
            self.leaving.discard(part)
        for part, epoch in zip([*held, *wanted], reply, strict=True):
            if epoch:
                self.epochs[part] = epoch
        self.opening.update(gained)
        if lost:
            log.warning("worker %s lost the lease on partitions %s (its lease ran out)", self._name, lost)
        self._choose_leaving(max(1, live))
        return gained, [*lost, *await self._release_settled(settled)]

    async def refence(self, part: Partition) -> bool:
        """Move the lease on ``part`` to a new epoch: commits read under the old one are refused.
        False (and ``part`` no longer held here) if the lease was not this worker's any more."""
        async with self._lock:
            if part not in self.epochs:
                return False
            keys = [self._shared.keys.epochs, self.lease_key(part)]
            epoch = int(await self._refence(keys=keys, args=[self._value(part), self._name, self._lease_ms]))
            if not epoch:
                self.forget(part)
                return False
            self.epochs[part] = epoch
            return True

    async def give_up(self, part: Partition) -> None:
        """Release the lease on ``part`` if Redis can be reached, and hold it no more here."""
        async with self._lock:
            if part not in self.epochs:
                return
            value = self._value(part)
            self.forget(part)
            try:
                await self._release(keys=[self.lease_key(part)], args=[value])
            except (RedisError, OSError):  # it runs out on its own, after a lease
                pass

    def forget(self, part: Partition) -> None:
        """Hold ``part`` no more here (its lease runs out unless released)."""
        self.epochs.pop(part, None)
        self.leaving.discard(part)
        self.opening.discard(part)

    async def release_all(self) -> None:
        """Give up every lease this worker holds (a clean stop)."""
        async with self._lock:
            parts = list(self.epochs)
            if parts:
                values = [self._value(p) for p in parts]
                await self._release(keys=[self.lease_key(p) for p in parts], args=values)
        self.epochs.clear()
        self.leaving.clear()
        self.opening.clear()

    def _target(self, q: str, live: int) -> int:
        return math.ceil(self._shared.keyed[q].partitions / live)

    async def _candidates(self, live: int) -> list[Partition]:
        """Free partitions to take, up to the target of each keyed place (one MGET per place)."""
        wanted: list[Partition] = []
        for q, keyed in self._shared.keyed.items():
            room = self._target(q, live) - sum(1 for p in self.epochs if p[0] == q and p not in self.leaving)
            if room <= 0:
                continue
            start = zlib.crc32(self._name.encode()) % keyed.partitions  # workers start at different ones
            order = [(q, (start + n) % keyed.partitions) for n in range(keyed.partitions)]
            order = [p for p in order if p not in self.epochs]
            owners = await self._client.mget([self.lease_key(p) for p in order]) if order else []
            wanted += [p for p, owner in zip(order, owners, strict=True) if owner is None][:room]
        return wanted

    def _choose_leaving(self, live: int) -> None:
        for q in self._shared.keyed:
            staying = sorted(p for p in self.epochs if p[0] == q and p not in self.leaving)
            extra = len(staying) - self._target(q, live)
            if extra > 0:
                going = staying[-extra:]
                self.leaving.update(going)
                log.info("worker %s gives up partitions %s to balance %d workers", self._name, going, live)

    async def _release_settled(self, settled: Callable[[Partition], bool]) -> list[Partition]:
        done = [p for p in self.leaving if settled(p)]
        if done:
            await self._release(keys=[self.lease_key(p) for p in done], args=[self._value(p) for p in done])
        for part in done:
            del self.epochs[part]
            self.leaving.discard(part)
        return done
