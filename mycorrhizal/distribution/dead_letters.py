"""Entries of shared places that cannot be decoded: moved, with the error, to the place's ``dead``
stream, so that they neither block the place nor are lost (``mycorrhizal inspect`` counts them)."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from .places_lua import BURY
from .shared import GROUP, Keys

__all__ = ["bury", "burier"]

log = logging.getLogger("mycorrhizal.distribution")


def burier(client: Redis) -> AsyncScript:
    """The script :func:`bury` runs, registered once per client (it sends its source once)."""
    return client.register_script(BURY)


async def bury(
    script: AsyncScript,
    keys: Keys,
    worker: str,
    place: str,
    stream: str,
    entry: str,
    fields: dict[str, str],
    error: str,
) -> bool:
    """Move ``entry`` of ``stream`` (shared place ``place``) to the place's dead stream, atomically
    and only if it still belongs to ``worker`` (so it is moved once), with ``script`` (from
    :func:`burier`); whether it was moved."""
    dead = {**fields, "entry": entry, "error": error}
    args = [GROUP, worker, entry, *(x for pair in dead.items() for x in pair)]
    moved = int(await script(keys=[stream, keys.dead(place)], args=args)) == 1
    if moved:
        msg = "worker %s: entry %s of %s cannot be decoded (%s); moved to %s"
        log.error(msg, worker, entry, stream, error, keys.dead(place))
    else:  # (its lease ran out while it was read or moved: the other worker's move is the one)
        msg = (
            "worker %s: entry %s of %s cannot be decoded, but it is no longer this worker's (its lease "
            "ran out): the worker that took it over moves it aside"
        )
        log.info(msg, worker, entry, stream)
    return moved
