"""Entries of shared places that cannot be decoded: moved, with the error, to the place's ``dead``
stream, so that they neither block the place nor are lost (``mycorrhizal inspect`` counts them)."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis

from .shared import GROUP, Keys

__all__ = ["bury"]

log = logging.getLogger("mycorrhizal.distribution")


async def bury(
    client: Redis,
    keys: Keys,
    worker: str,
    place: str,
    stream: str,
    entry: str,
    fields: dict[str, str],
    error: str,
) -> None:
    """Move ``entry`` of ``stream`` (shared place ``place``) to the place's dead stream, atomically."""
    log.error(
        "worker %s: entry %s of %s cannot be decoded (%s); moved to %s",
        worker,
        entry,
        stream,
        error,
        keys.dead(place),
    )
    async with client.pipeline(transaction=True) as pipe:
        dead: dict[Any, Any] = {**fields, "entry": entry, "error": error}
        pipe.xadd(keys.dead(place), dead)
        pipe.xack(stream, GROUP, entry)
        pipe.xdel(stream, entry)
        await pipe.execute()
