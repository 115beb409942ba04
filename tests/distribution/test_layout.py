"""Every worker and client of a net splits its keyed places into the same number of partitions: the
first to use the net writes the count in Redis, and one given another count is refused before it
sends a token to (or reads one from) a stream that the others do not use."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import StoreError
from mycorrhizal.distribution import Client, Worker
from mycorrhizal.mycelium import pn as mpn

from .nets import Counting, Tally

MISMATCH = (
    r"keyed place 'Tally\.jobs' of net 'Tally' is split into 4 partitions in Redis \(prefix '.*'\), "
    r"but this {who} was given partitions=16.*Fix: pass partitions=4 \(--partitions 4\) to every "
    r"worker and client of net 'Tally'"
)


@mpn.net
def Single(builder: Any) -> None:
    """jobs -> count (one machine for every token: no fsm_key, so one partition) -> done."""
    jobs, done = builder.place("jobs"), builder.place("done")

    @builder.transition(fsm=Counting, inputs=[jobs], outputs=[done])
    async def count(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


async def test_a_client_given_another_partition_count_sends_nothing(
    redis_url: str, redis_prefix: str
) -> None:
    worker = Worker(Tally, redis_url, prefix=redis_prefix, lease=0.3, partitions=4)
    await worker.start()
    try:
        async with Client(Tally, redis_url, prefix=redis_prefix) as client:  # partitions=16
            with pytest.raises(StoreError, match=MISMATCH.format(who="client")):
                await client.submit("jobs", [[f"key-{n}", n] for n in range(10)])
            with pytest.raises(StoreError, match=MISMATCH.format(who="client")):
                await client.status()
        async with Client(Tally, redis_url, prefix=redis_prefix, partitions=4) as client:
            assert await client.depth("jobs") == 0  # nothing went to a stream no worker reads
    finally:
        await worker.stop()


async def test_a_worker_given_another_partition_count_does_not_start(
    redis_url: str, redis_prefix: str
) -> None:
    async with Client(Tally, redis_url, prefix=redis_prefix, partitions=4) as client:
        await client.submit("jobs", [["north", 0]])  # the first to use the net: 4 partitions
    worker = Worker(Tally, redis_url, prefix=redis_prefix, lease=0.3)  # partitions=16
    with pytest.raises(StoreError, match=MISMATCH.format(who=f"worker {worker.name}")):
        await worker.start()
    assert worker.partitions == [] and not worker.runner.running


@pytest.mark.parametrize("partitions", [4, 16])
async def test_a_place_without_fsm_key_has_one_partition_whatever_the_count(
    redis_url: str, redis_prefix: str, partitions: int
) -> None:
    async with Client(Single, redis_url, prefix=redis_prefix, partitions=8) as client:
        await client.submit("jobs", [["north", 0]])
        async with Client(Single, redis_url, prefix=redis_prefix, partitions=partitions) as other:
            assert await other.depth("jobs") == 1
