"""How many partitions each keyed place of a net has, kept in Redis so that its users agree.

A token of a keyed place goes to the partition stream ``crc32(key) mod partitions``, and a worker
reads partitions ``0 .. partitions - 1``: a client or worker given another count than the others
would append tokens to streams nobody reads, or split one key's tokens (and machine) over two
partitions.  The first worker or client to use the net writes each keyed place's count in the hash
``<prefix>:{<net>}:partitions``; every later one compares its own and is refused if it differs.
"""

from __future__ import annotations

from redis.asyncio import Redis

from ..common.errors import StoreError
from .shared import SharedNet

__all__ = ["agree_on_partitions"]


async def agree_on_partitions(client: Redis, shared: SharedNet, who: str) -> None:
    """Write the partition count of each keyed place of ``shared`` unless Redis has one; raise
    StoreError naming ``who`` (``"client"``, ``"worker <name>"``) if the count there differs."""
    keyed = shared.keyed
    if not keyed:
        return
    key = shared.keys.partitions
    async with client.pipeline(transaction=True) as pipe:  # one MULTI: set if absent, then read
        for qname, place in keyed.items():
            pipe.hsetnx(key, qname, place.partitions)
        pipe.hmget(key, list(keyed))
        found = (await pipe.execute())[-1]
    net = shared.flat.name
    for (qname, place), count in zip(keyed.items(), found, strict=True):
        if int(count) != place.partitions:
            raise StoreError(
                f"keyed place {qname!r} of net {net!r} is split into {int(count)} partitions in Redis "
                f"(prefix {shared.keys.prefix!r}), but this {who} was given partitions={place.partitions}: "
                "its tokens would go to (or be read from) other streams than those of the net's other "
                f"workers and clients. Fix: pass partitions={int(count)} (--partitions {int(count)}) to "
                f"every worker and client of net {net!r}; to change the count, use another prefix (or "
                "let the workers finish, stop them and Client.clear() the net)"
            )
