"""A traffic light whose every state run and state change is logged, in upstream's spores style.

The machine's states are declared with function-form ``@septum.state()``; the spores adapter sits
between the engine decorator and the handler.  The blackboard marks what goes into the log:
``EventAttr`` fields become attributes of every event, ``ObjectRef`` fields become related objects.
Records go to a JSON-lines file through the batching ``AsyncFileTransport``; the file is then
converted to an OCEL 2.0 document for process-mining tools.

    python examples/spores/septum_spores.py [output folder]
"""

import asyncio
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from enum import Enum, auto
from pathlib import Path
from typing import Annotated

from mycorrhizal.septum.core import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import (
    EventAttr,
    ObjectRef,
    ObjectScope,
    SporesAttr,
    configure,
    convert_jsonl,
    spore,
)
from mycorrhizal.spores import aclose as close_spores
from mycorrhizal.spores.dsl import SeptumAdapter
from mycorrhizal.spores.transport import AsyncFileTransport


@spore.object(object_type="TrafficLight")
@dataclass
class TrafficLight:
    id: str
    color: Annotated[str, SporesAttr] = "red"
    cycles: Annotated[int, SporesAttr] = 0


@dataclass
class Crossing:
    intersection: Annotated[str, EventAttr]
    light: Annotated[TrafficLight, ObjectRef(qualifier="light", scope=ObjectScope.GLOBAL)]
    cars_waiting: Annotated[int, EventAttr] = 0


adapter = SeptumAdapter()
CYCLES = 3


def create_traffic_light_fsm():
    @septum.state(config=StateConfiguration(can_dwell=True))
    def RedState():
        class Events(Enum):
            GO = auto()

        @septum.on_enter
        @adapter.log_state_lifecycle(event_type="light_turned_red")
        async def on_enter(ctx):
            ctx.common.light.color = "red"

        @septum.on_state
        @adapter.log_state(event_type="red_light_tick")
        async def on_state(ctx):
            if ctx.msg == "timer":
                return Events.GO
            return None

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.GO, GreenState)]

    @septum.state(config=StateConfiguration(can_dwell=True))
    def GreenState():
        class Events(Enum):
            SLOW = auto()

        @septum.on_enter
        @adapter.log_state_lifecycle(event_type="light_turned_green")
        async def on_enter(ctx):
            ctx.common.light.color = "green"
            ctx.common.cars_waiting = 0

        @septum.on_state
        @adapter.log_state(event_type="green_light_tick")
        async def on_state(ctx):
            return Events.SLOW if ctx.msg == "timer" else None

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.SLOW, YellowState)]

    @septum.state(config=StateConfiguration(can_dwell=True))
    def YellowState():
        class Events(Enum):
            STOP = auto()
            DONE = auto()

        @septum.on_enter
        @adapter.log_state_lifecycle(event_type="light_turned_yellow")
        async def on_enter(ctx):
            ctx.common.light.color = "yellow"

        @septum.on_state
        @adapter.log_state(event_type="yellow_light_tick")
        async def on_state(ctx):
            if ctx.msg != "timer":
                return None
            ctx.common.light.cycles += 1
            return Events.DONE if ctx.common.light.cycles >= CYCLES else Events.STOP

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.STOP, RedState), LabeledTransition(Events.DONE, OffState)]

    @septum.state(config=StateConfiguration(terminal=True))
    def OffState():
        @septum.on_enter
        @adapter.log_state_lifecycle(event_type="light_switched_off")
        async def on_enter(ctx):
            ctx.common.light.color = "off"

    return RedState


async def main(out: Path) -> None:
    log_file = out / "traffic_light.jsonl"
    log_file.unlink(missing_ok=True)
    configure(transport=AsyncFileTransport(log_file))
    crossing = Crossing(intersection="Main & 1st", light=TrafficLight("light-1"))
    fsm = StateMachine(create_traffic_light_fsm(), common_data=crossing)
    await fsm.initialize()
    for _ in range(CYCLES):
        crossing.cars_waiting += 4
        for _ in range(3):
            fsm.send_message("timer")
        await fsm.run()
    await close_spores()  # writes what is still batched in memory

    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    events = Counter(r["event"]["type"] for r in records if r["event"])
    print(f"{len(records)} records in {log_file}")
    for event_type, count in sorted(events.items()):
        print(f"  {count:2d} x {event_type}")
    colors = [
        a["value"] for r in records if r["object"] for a in r["object"]["attributes"] if a["name"] == "color"
    ]
    print(f"the light object was written {len(colors)} times: {' -> '.join(colors)}")
    ocel = out / "traffic_light.ocel.json"
    print(f"{convert_jsonl(log_file, ocel)} records converted to OCEL 2.0: {ocel}")


if __name__ == "__main__":
    if len(sys.argv) > 1:  # keep the files there
        Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
        asyncio.run(main(Path(sys.argv[1])))
    else:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(Path(folder)))
