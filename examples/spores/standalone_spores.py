"""Event logging for ordinary functions, in upstream's spores style: ``log_event`` decorators.

An order service's functions are decorated with ``get_spore_async(...).log_event`` (async code)
and ``get_spore_sync(...).log_event`` (plain code).  Each call that returns writes the related
objects (customer, order, payment), then one event related to them with the given qualifiers.
A transport of our own (a subclass of ``Transport``) prints every record; any transport works
from sync and async code alike.

    python examples/spores/standalone_spores.py
"""

import asyncio
import json
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Annotated

from mycorrhizal.septum.core import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import SporesAttr, configure, get_spore_async, get_spore_sync, spore
from mycorrhizal.spores import aclose as close_spores
from mycorrhizal.spores.transport import Transport


class ConsoleTransport(Transport):
    """Prints each record on one line: the kind, the type, the id and the relationships."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, data: bytes, content_type: str) -> None:
        self.count += 1
        record = json.loads(data)
        if record["event"] is not None:
            event = record["event"]
            links = ", ".join(f"{r['qualifier']}={r['objectId']}" for r in event["relationships"])
            values = ", ".join(f"{a['name']}={a['value']}" for a in event["attributes"])
            print(f"  event  {event['type']:15s} [{values}] -> {links}")
        else:
            obj = record["object"]
            values = ", ".join(f"{a['name']}={a['value']}" for a in obj["attributes"])
            print(f"  object {obj['type']:15s} {obj['id']} [{values}]")

    async def close(self) -> None:
        print(f"  ({self.count} records)")


@spore.object(object_type="Customer")
@dataclass
class Customer:
    id: str
    name: Annotated[str, SporesAttr]
    email: str  # not marked: not logged


@spore.object(object_type="Order")
@dataclass
class Order:
    id: str
    customer_id: str
    items: list[str] = field(default_factory=list)
    total: Annotated[float, SporesAttr] = 0.0
    status: Annotated[str, SporesAttr] = "created"


# The order's lifecycle, which the service functions below move along.
@septum.state(config=StateConfiguration(can_dwell=True))
def Created():
    class Events(Enum):
        PAID = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.PAID if ctx.msg == "paid" else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.PAID, Paid)]


@septum.state(config=StateConfiguration(can_dwell=True))
def Paid():
    class Events(Enum):
        SHIPPED = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.SHIPPED if ctx.msg == "shipped" else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.SHIPPED, Shipped)]


@septum.state(config=StateConfiguration(terminal=True))
def Shipped():
    @septum.on_enter
    async def on_enter(ctx):
        ctx.common["shipped"] = True


DIAGRAMS = {"order_lifecycle": Created}  # what `mycorrhizal diagrams` draws

spore_async = get_spore_async(__name__)
spore_sync = get_spore_sync(__name__)
PRICES = {"tea": 4.5, "cup": 12.0, "pot": 30.0}


@spore_async.log_event(
    event_type="OrderCreated",
    relationships={"order": ("return", "Order"), "customer": ("customer", "Customer")},
    attributes={"item_count": lambda items: len(items), "channel": "web"},
)
async def create_order(customer: Customer, items: list[str]) -> Order:
    await asyncio.sleep(0)  # a database call, say
    return Order(f"order-{customer.id}-{len(items)}", customer.id, items, sum(PRICES[i] for i in items))


@spore_sync.log_event(
    event_type="PaymentTaken",
    relationships={
        "order": ("order", "Order"),
        "payment": ("return", "Payment", {"amount": "amount", "method": lambda p: p["method"].upper()}),
    },
    attributes={"amount": "order.total"},
)
def take_payment(order: Order, method: str = "card") -> dict:
    order.status = "paid"
    return {"id": f"pay-{order.id}", "amount": order.total, "method": method}


@spore_async.log_event(event_type="OrderShipped", relationships={"order": ("order", "Order")})
async def ship(order: Order) -> None:
    order.status = "shipped"


async def main() -> None:
    configure(transport=ConsoleTransport())
    lifecycle = StateMachine(Created, common_data={})
    await lifecycle.initialize()
    ann = Customer("c1", "Ann", "ann@example.com")
    order = await create_order(ann, ["tea", "pot"])
    take_payment(order)  # plain function: its records wait in order behind the async transport
    lifecycle.send_message("paid")
    await ship(order)
    lifecycle.send_message("shipped")
    await lifecycle.run()
    print(f"  (the order's lifecycle ended in {lifecycle.current_state.name})")
    try:
        take_payment(None)  # type: ignore[arg-type] - raises: nothing is logged for it
    except AttributeError:
        print("  (a failed call writes no event)")
    await close_spores()


if __name__ == "__main__":
    asyncio.run(main())
