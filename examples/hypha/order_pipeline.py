"""An order pipeline: a source of orders, validation with a dead-letter place, two packing stations
(one subnet, instantiated twice) behind a bounded buffer, and a sink that ships.

Runs on a ManualClock, so the simulated minutes take milliseconds.  Run:
    python examples/hypha/order_pipeline.py
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import FailedToken, NetBuilder, PlaceType, Runner, pn
from mycorrhizal.render import to_mermaid

ORDERS = [
    {"id": 1, "item": "teapot", "qty": 1},
    {"id": 2, "item": "cups", "qty": 6},
    {"id": 3, "item": "saucer", "qty": 0},  # invalid: goes to the dead letters
    {"id": 4, "item": "spoons", "qty": 12},
    {"id": 5, "item": "tray", "qty": 2},
    {"id": 6, "item": "sugar", "qty": -1},  # invalid
    {"id": 7, "item": "kettle", "qty": 1},
]


@pn.net
def PackingStation(builder: NetBuilder) -> None:
    """Packs one order at a time; packing takes a minute per item kind."""
    inbox = builder.place("inbox")
    packed = builder.place("packed")

    @builder.transition(inputs=[inbox], outputs=[packed], concurrency=1)
    async def pack(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
        order = consumed[0]
        await timebase.sleep(60)
        ctx.memory["count"] = ctx.memory.get("count", 0) + 1
        return {packed: {**order, "packed_by": ctx.transition.rsplit(".", 2)[1], "at": timebase.now()}}


@pn.net
def Shop(builder: NetBuilder) -> None:
    @builder.io_input_place(capacity=2)
    async def orders(bb: Any, timebase: Any) -> Any:
        for order in ORDERS:
            await timebase.sleep(10)  # an order arrives every 10 s
            yield order

    @builder.io_output_place()
    async def shipping(parcel: Any, bb: Any, timebase: Any) -> None:
        bb["shipped"].append(parcel)

    dead_letters = builder.place("dead_letters", type=PlaceType.BAG)
    buffer = builder.place("buffer", capacity=2)
    left = builder.subnet(PackingStation, "left")
    right = builder.subnet(PackingStation, "right")

    @builder.transition(inputs=[orders], outputs=[buffer], on_error=dead_letters)
    def validate(consumed: Any, bb: Any, timebase: Any) -> Any:
        order = consumed[0]
        if order["qty"] < 1:
            raise ValueError(f"order {order['id']}: quantity {order['qty']} must be at least 1")
        return {buffer: order}

    @builder.transition(inputs=[buffer], outputs=[left.inbox, right.inbox])
    def assign(consumed: Any, bb: Any, timebase: Any) -> Any:
        order = consumed[0]
        return {left.inbox if order["id"] % 2 else right.inbox: order}

    for station in (left, right):

        @builder.transition(name=f"ship_{station}", inputs=[station.packed], outputs=[shipping])
        def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {shipping: consumed[0]}


DIAGRAMS = {"net": Shop, "station": PackingStation}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    clock = ManualClock()
    board: dict[str, Any] = {"shipped": []}
    runner = Runner(Shop, board, clock)
    idle = asyncio.ensure_future(runner.run_until_idle())
    while not idle.done():
        await clock.run_for(10)
    await runner.stop()

    print(f"simulated {clock.now():.0f} s; {runner.stats.firings} firings, {runner.stats.failures} failures")
    for parcel in board["shipped"]:
        print(
            f"  shipped order {parcel['id']} ({parcel['item']}) packed by {parcel['packed_by']} "
            f"at t={parcel['at']:.0f}"
        )
    for failed in runner.marking()["dead_letters"]:
        assert isinstance(failed, FailedToken)
        print(f"  dead letter: {failed.error}")
    assert len(board["shipped"]) + len(runner.marking()["dead_letters"]) == len(ORDERS)
    print()
    print(to_mermaid(runner))


if __name__ == "__main__":
    # The failures in this example are expected (and reported above); keep the library's error
    # log, which carries a traceback for each, quiet while it runs.
    logging.getLogger("mycorrhizal.hypha").setLevel(logging.CRITICAL)
    asyncio.run(main())
