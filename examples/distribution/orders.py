"""Orders priced and shipped by several workers sharing the net's places in Redis.

Run a worker per terminal (or machine), then feed and watch them:

    mycorrhizal worker examples/distribution/orders.py:Orders --redis redis://127.0.0.1:6379/0
    mycorrhizal submit examples/distribution/orders.py:Orders incoming '{"id": 1, "qty": 2}'
    mycorrhizal inspect examples/distribution/orders.py:Orders

Run as a script, it starts two workers in this process against the Redis of $REDIS_URL (default
redis://127.0.0.1:6379/0), submits 200 orders and prints who shipped what.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from mycorrhizal.distribution import Client, Worker
from mycorrhizal.hypha import NetBuilder, pn


@pn.net
def Orders(builder: NetBuilder) -> None:
    """incoming -> price -> priced -> ship -> shipped; every place is shared in Redis."""
    incoming = builder.place("incoming")
    priced = builder.place("priced")
    shipped = builder.place("shipped")

    @builder.transition(inputs=[incoming], outputs=[priced])
    async def price(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        order = consumed[0]
        await asyncio.sleep(0.002)  # a call to the pricing service
        return {priced: {**order, "total": order["qty"] * 3}}

    @builder.transition(inputs=[priced], outputs=[shipped])
    async def ship(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        await asyncio.sleep(0.001)  # a call to the carrier
        return {shipped: consumed[0]["id"]}


DIAGRAMS = {"net": Orders}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"example-{uuid.uuid4().hex[:8]}"  # this run's keys only
    workers = [Worker(Orders, url, prefix=prefix, lease=5.0, concurrency=16) for _ in range(2)]
    for worker in workers:
        await worker.start()
    async with Client(Orders, url, prefix=prefix) as client:
        await client.submit("incoming", [{"id": n, "qty": 1 + n % 5} for n in range(200)])
        while await client.depth("shipped") < 200:
            await asyncio.sleep(0.01)
        shipped = await client.tokens("shipped")
        for worker in workers:
            await worker.stop()
        print(f"{len(set(shipped))} orders shipped, each once: {sorted(shipped) == list(range(200))}")
        for worker in workers:
            print(f"  worker {worker.name}: {worker.runner.stats.firings} firings")
        await client.clear()  # leave the Redis as we found it


if __name__ == "__main__":
    asyncio.run(main())
