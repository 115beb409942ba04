"""An order-fulfilment Petri net whose firings are logged into an OCEL 2.0 SQLite database.

``HyphaAdapter.log_transition`` goes between ``@builder.transition(...)`` and the handler: each
firing becomes an event related to the tokens it consumed (qualifier ``input``) and, with
``log_outputs=True``, produced (``output``).  ``log_place`` logs each token a source yields.
``Ocel2SqliteTransport`` writes the OCEL 2.0 SQLite layout as the log grows, the format to use
for large logs; the example reads it back with plain SQL.

    python examples/spores/hypha_spores.py [output folder]
"""

import asyncio
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha.core import PlaceType, Runner, pn
from mycorrhizal.spores import EventAttr, ObjectRef, ObjectScope, Ocel2SqliteTransport, configure, spore
from mycorrhizal.spores import aclose as close_spores
from mycorrhizal.spores.dsl import HyphaAdapter


@spore.object("Order")
@dataclass
class Order:
    id: str
    items: int
    status: str = "new"


@spore.object("Warehouse")
@dataclass
class Warehouse:
    id: str
    stock: int


@dataclass
class Shop:
    region: Annotated[str, EventAttr]
    warehouse: Annotated[Warehouse, ObjectRef("warehouse", ObjectScope.GLOBAL)]


adapter = HyphaAdapter()
ORDERS = [Order(f"order-{i}", items=n) for i, n in enumerate([2, 9, 1, 4, 12, 3])]


@pn.net
def Fulfilment(builder):
    @builder.io_input_place()
    @adapter.log_place(event_type="order_received")
    async def incoming(bb, timebase):
        for order in ORDERS:
            await timebase.sleep(60)
            yield order

    packed = builder.place("packed", type=PlaceType.QUEUE)
    backorder = builder.place("backorder", type=PlaceType.BAG)
    shipped = builder.place("shipped", type=PlaceType.BAG)

    @builder.transition(inputs=[incoming], outputs=[packed, backorder])
    @adapter.log_transition(event_type="pick", attributes={"items": lambda consumed: consumed[0].items})
    async def pick(consumed, bb, timebase):
        order = consumed[0]
        if order.items > bb.warehouse.stock:
            order.status = "backordered"
            return {backorder: order}
        bb.warehouse.stock -= order.items
        order.status = "picked"
        return {packed: order}

    @builder.transition(inputs=[packed], outputs=[shipped])
    @adapter.log_transition(event_type="ship", log_outputs=True)
    async def ship(consumed, bb, timebase):
        await timebase.sleep(30)
        for order in consumed:
            order.status = "shipped"
            yield {shipped: order}


DIAGRAMS = {"fulfilment": Fulfilment}  # what `mycorrhizal diagrams` draws


async def main(out: Path) -> None:
    path = out / "fulfilment.sqlite"
    configure(transport=Ocel2SqliteTransport(path))
    clock = ManualClock()
    shop = Shop(region="north", warehouse=Warehouse("wh-1", stock=20))
    runner = Runner(Fulfilment, shop, clock)
    idle = asyncio.ensure_future(runner.run_until_idle())
    while not idle.done():
        await clock.run_for(30)
    await runner.stop()
    await close_spores()

    marking = runner.marking()
    shipped, backordered = len(marking["shipped"]), len(marking["backorder"])
    print(f"shipped {shipped}, backordered {backordered}; stock left {shop.warehouse.stock}")
    db = sqlite3.connect(path)
    print("events per type:", dict(db.execute("SELECT ocel_type, COUNT(*) FROM event GROUP BY ocel_type")))
    print("objects per type:", dict(db.execute("SELECT ocel_type, COUNT(*) FROM object GROUP BY ocel_type")))
    rows = db.execute(
        "SELECT e.ocel_type, eo.ocel_qualifier, COUNT(*) FROM event_object eo "
        "JOIN event e ON e.ocel_id = eo.ocel_event_id GROUP BY 1, 2 ORDER BY 1, 2"
    )
    for event_type, qualifier, count in rows:
        print(f"  {event_type:15s} -[{qualifier}]-> {count}")
    history = db.execute(
        "SELECT ocel_changed_field, status FROM object_Order WHERE ocel_id = 'order-0' ORDER BY ocel_time"
    ).fetchall()
    print("order-0 status history:", [status for _, status in history])
    db.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:  # keep the files there
        Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
        asyncio.run(main(Path(sys.argv[1])))
    else:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(Path(folder)))
