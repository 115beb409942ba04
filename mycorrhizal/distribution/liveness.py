"""Which workers are alive: each worker's heartbeat in Redis, its unique name, and the live count."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from redis.asyncio import Redis

from ..common.errors import StoreError
from .shared import GROUP, Keys

__all__ = ["claim_name", "heartbeat", "leave", "live_workers"]


async def claim_name(client: Redis, keys: Keys, name: str, lease: float) -> None:
    """Raise StoreError if a live worker already has ``name`` (its heartbeat is under 3 leases old)."""
    last = await client.zscore(keys.workers, name)
    if last is not None and time.time() * 1000 - float(last) < 3000 * lease:
        raise StoreError(
            f"a live worker named {name!r} already works on net {keys.net!r} (its last heartbeat is "
            f"{time.time() - float(last) / 1000:.1f}s old). Fix: give each worker its own name, or none "
            "(host-pid-random); a dead worker's name is free 3 leases after its last heartbeat"
        )


async def heartbeat(client: Redis, keys: Keys, name: str, lease: float, info: dict[str, Any]) -> None:
    """Tell Redis worker ``name`` is alive now, with what it says about itself (host, pid, ...)."""
    about: dict[Any, Any] = {"host": socket.gethostname(), "pid": os.getpid(), **info}
    async with client.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.workers, {name: int(time.time() * 1000)})
        pipe.hset(keys.worker(name), mapping=about)
        pipe.pexpire(keys.worker(name), int(lease * 3000))
        await pipe.execute()


async def live_workers(client: Redis, keys: Keys, lease: float) -> int:
    """Workers whose last heartbeat is younger than ``lease`` seconds."""
    since = int(time.time() * 1000 - lease * 1000)
    return int(await client.zcount(keys.workers, since, "+inf"))


async def leave(client: Redis, keys: Keys, name: str, streams: list[str]) -> None:
    """Worker ``name`` leaves: off the list of workers, and out of the consumer group of ``streams``
    if nothing is pending under its name there (entries it still holds stay for the next owner)."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.workers, name)
        pipe.delete(keys.worker(name))
        for stream in streams:
            pipe.xpending_range(stream, GROUP, "-", "+", 1, consumername=name)
        replies = await pipe.execute()
    if not any(replies[2:]):  # nothing pending under our name: the consumer can go
        async with client.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xgroup_delconsumer(stream, GROUP, name)
            await pipe.execute()
