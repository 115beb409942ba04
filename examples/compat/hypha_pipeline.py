"""An order pipeline written the way mycorrhizal 0.x programs were: runs here unchanged.

Nets are ``@pn.net`` functions wired with arc chains (``builder.arc(a, t).arc(b)``) and
``builder.forward``; handlers are async generators yielding ``{place: token}`` (a list is one token,
a batch); a subnet is embedded with ``builder.subnet``; the source is a zero-argument generator and
the sink takes only the token; a handler annotated with an interface gets a view of the blackboard.
The runner is started on a ``CycleClock`` (``await runner.start(clock)``) and work is injected and
read through ``runner.runtime.places[(...)]``.  See docs/compat.md.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Annotated

from mycorrhizal.common.interface_builder import blackboard_interface, readonly, readwrite
from mycorrhizal.common.timebase import CycleClock
from mycorrhizal.hypha.core import PlaceType, Runner, pn
from mycorrhizal.hypha.util import to_mermaid


@dataclass
class Warehouse:
    max_weight: int = 10
    shipped: list[str] = field(default_factory=list)
    rejected: int = 0


@blackboard_interface
class Checking:
    max_weight: Annotated[int, readonly]
    rejected: Annotated[int, readwrite]


@pn.net
def Packing(builder):
    """Packs one batch at a time: a reusable subnet."""
    batches = builder.place("batches", type=PlaceType.QUEUE)
    boxes = builder.place("boxes", type=PlaceType.QUEUE)

    @builder.transition()
    async def pack(consumed, bb, timebase):
        for batch in consumed:
            await timebase.sleep(0.5)  # half a time unit to pack
            yield {boxes: "box[" + "+".join(order["id"] for order in batch) + "]"}

    builder.arc(batches, pack).arc(boxes)


@pn.net
def OrderPipeline(builder):
    @builder.io_input_place()
    async def incoming():
        for i, weight in enumerate([3, 12, 4, 5, 2, 9]):
            yield {"id": f"o{i}", "weight": weight}

    validated = builder.place("validated", type=PlaceType.QUEUE)
    refused = builder.place("refused")

    @builder.transition()
    async def check(consumed, bb: Checking, timebase):
        for order in consumed:
            if order["weight"] <= bb.max_weight:
                yield {validated: order}
            else:
                bb.rejected += 1
                yield {refused: order}

    builder.arc(incoming, check).arc(validated)
    builder.arc(check, refused)

    @builder.transition()
    async def batch(consumed, bb, timebase):
        yield {"ready": list(consumed)}  # a list value: one token, the batch

    ready = builder.place("ready", type=PlaceType.QUEUE)
    builder.arc(validated, batch, weight=2).arc(ready)

    packing = builder.subnet(Packing, "packing")
    builder.forward(ready, packing.batches)

    @builder.io_output_place()
    async def dock(token):
        print(f"  shipping {token}")

    @builder.transition()
    async def ship(consumed, bb, timebase):
        for box in consumed:
            bb.shipped.append(box)
            yield {dock: box}

    builder.arc(packing.boxes, ship).arc(dock)


DIAGRAMS = {"net": OrderPipeline}  # what `mycorrhizal diagrams` draws


async def main():
    logging.getLogger("mycorrhizal").setLevel(logging.ERROR)
    warehouse = Warehouse()
    runner = Runner(OrderPipeline, warehouse)
    clock = CycleClock(stepsize=0.1)
    await runner.start(clock)

    places = runner.runtime.places
    places[("OrderPipeline", "validated")].add_token({"id": "rush", "weight": 1})
    for _ in range(40):  # drive the clock: 4 time units
        clock.advance()
        await asyncio.sleep(0)
    await runner.stop()

    print(f"shipped {len(warehouse.shipped)} boxes: {warehouse.shipped}")
    print(f"refused: {[order['id'] for order in places[('OrderPipeline', 'refused')].tokens]}")
    print(f"rejected count on the blackboard: {warehouse.rejected}")
    print(f"waiting for a partner in a batch: {places[('OrderPipeline', 'validated')].tokens}")
    print(to_mermaid(OrderPipeline._spec).splitlines()[0], "...")


if __name__ == "__main__":
    asyncio.run(main())
