"""A delivery robot's behaviour tree whose leaves log what they did, written as an OCEL 2.0 JSON log.

The ``RhizomorphAdapter`` decorators go between ``@bt.action``/``@bt.condition`` and the leaf;
``log_tree_event`` logs each run of the function that drives the tree.  The log goes straight to
an OCEL 2.0 JSON document (``Ocel2JsonTransport``), which any OCEL 2.0 tool reads.

    python examples/spores/rhizomorph_spores.py [output folder]
"""

import asyncio
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from mycorrhizal.common import ManualClock
from mycorrhizal.rhizomorph.core import Runner, Status, bt
from mycorrhizal.spores import EventAttr, ObjectRef, ObjectScope, Ocel2JsonTransport, configure, spore
from mycorrhizal.spores import close as close_spores
from mycorrhizal.spores.dsl import RhizomorphAdapter
from mycorrhizal.spores.dsl.rhizomorph import log_tree_event


@spore.object("Robot")
@dataclass
class Robot:
    id: str
    battery: int = 100


@spore.object("Parcel")
@dataclass
class Parcel:
    id: str
    address: str
    delivered: bool = False


@dataclass
class Mission:
    name: Annotated[str, EventAttr]
    robot: Annotated[Robot, ObjectRef("robot", ObjectScope.GLOBAL)]
    parcel: Annotated[Parcel | None, ObjectRef("parcel", ObjectScope.EVENT)] = None
    queue: list[Parcel] = field(default_factory=list)


adapter = RhizomorphAdapter()


@bt.tree
def Delivery():
    @bt.condition
    @adapter.log_node(event_type="check_battery")
    def battery_ok(bb: Mission) -> bool:
        return bb.robot.battery >= 30

    @bt.action
    @adapter.log_node(event_type="charge", attributes={"battery_before": lambda bb: bb.robot.battery})
    async def charge(bb: Mission, timebase) -> Status:
        await timebase.sleep(10)
        bb.robot.battery = 100
        return Status.SUCCESS

    @bt.action
    @adapter.log_node(event_type="pick_parcel")
    def pick(bb: Mission) -> Status:
        if not bb.queue:
            return Status.FAILURE
        bb.parcel = bb.queue.pop(0)
        return Status.SUCCESS

    @bt.action
    @adapter.log_node(event_type="deliver", attributes={"address": lambda bb: bb.parcel.address})
    async def deliver(bb: Mission, timebase) -> Status:
        await timebase.sleep(5)
        bb.robot.battery -= 25
        bb.parcel.delivered = True
        return Status.SUCCESS

    @bt.sequence
    def power():
        yield bt.inverter(battery_ok)
        yield charge

    @bt.sequence
    def delivery():
        yield pick
        yield deliver

    @bt.root
    @bt.selector
    def work():
        yield power
        yield delivery


DIAGRAMS = {"delivery": Delivery}  # what `mycorrhizal diagrams` draws


async def main(out: Path) -> None:
    path = out / "delivery.ocel.json"
    configure(transport=Ocel2JsonTransport(path, indent=1))
    clock = ManualClock()
    bb = Mission("morning round", Robot("robot-7"), queue=[Parcel(f"p{i}", f"{i} Elm St") for i in range(4)])
    runner = Runner(Delivery, bb, clock)

    @log_tree_event(event_type="round", tree_name="Delivery", attributes={"left": lambda bb: len(bb.queue)})
    async def one_round(bb: Mission) -> Status:
        status = await runner.tick()
        while status is Status.RUNNING:
            await clock.run_for(1)
            status = await runner.tick()
        return status

    while await one_round(bb) is Status.SUCCESS and (bb.queue or bb.parcel and not bb.parcel.delivered):
        pass
    close_spores()  # writes the OCEL document

    log = json.loads(path.read_text())
    print(f"OCEL 2.0 log {path.name}: {len(log['events'])} events, {len(log['objects'])} objects")
    print("event types:", ", ".join(t["name"] for t in log["eventTypes"]))
    for name, count in sorted(Counter(e["type"] for e in log["events"]).items()):
        print(f"  {count:2d} x {name}")
    battery = [a["value"] for o in log["objects"] if o["id"] == "robot-7" for a in o["attributes"]]
    print("robot battery over time:", battery)


if __name__ == "__main__":
    if len(sys.argv) > 1:  # keep the files there
        Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
        asyncio.run(main(Path(sys.argv[1])))
    else:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(Path(folder)))
