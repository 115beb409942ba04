"""A patrol robot written the way mycorrhizal 0.x programs were: runs here unchanged.

Leaves take ``bb`` (and ``tb``) by name and return bools or nothing; wrappers are chained
(``bt.failer().gate(...).timeout(...)``); the runner takes ``bb=``, ``tb=``, ``trace=`` and
``exception_policy=``; a CycleClock moves one step per tick.  See docs/compat.md.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Annotated

from mycorrhizal.common.interface_builder import blackboard_interface, readonly, readwrite
from mycorrhizal.common.timebase import CycleClock
from mycorrhizal.rhizomorph.core import ExceptionPolicy, Runner, Status, TreeBuilder, bt
from mycorrhizal.rhizomorph.util import to_mermaid


@dataclass
class Robot:
    battery: int = 30
    position: int = 0
    obstacle: str | None = None
    log: list[str] = field(default_factory=list)


@blackboard_interface
class SensorView:
    battery: Annotated[int, readonly]
    obstacle: Annotated[str | None, readonly]
    log: Annotated[list[str], readwrite]


@bt.tree
def Patrol():
    @bt.condition
    def battery_ok(bb: SensorView):  # gets a view: battery and obstacle are read-only here
        return bb.battery > 20

    @bt.action
    def step_forward(bb, tb):
        bb.position += 1
        bb.battery -= 5
        bb.log.append(f"t={tb.now():.1f} step to {bb.position}")  # no return: SUCCESS

    @bt.action
    async def charge(bb):
        await asyncio.sleep(0)  # talking to the dock
        bb.battery = 100
        bb.log.append("charged")
        return True

    @bt.action
    def honk(bb):
        bb.log.append(f"honk at the {bb.obstacle}")
        bb.obstacle = None

    @bt.action
    def go_around(bb):
        bb.log.append(f"around the {bb.obstacle}")
        bb.obstacle = None
        return Status.SUCCESS

    @bt.action
    def give_up(bb):
        bb.log.append("gave up")
        return False

    @bt.action
    def report(bb):
        raise RuntimeError("radio is down")  # logged; the step becomes ERROR and is caught below

    @bt.action
    def write_down(bb):
        bb.log.append("noted instead of radioed")

    @bt.sequence
    def handle_obstacle():
        yield bt.match(lambda bb: bb.obstacle, name="what_is_it")(
            bt.case("cat")(honk),
            bt.case(lambda kind: kind in ("box", "wall"))(go_around),
            bt.defaultcase(give_up),
        )

    @bt.selector
    def unused_helper():  # declared but never used: a WARNING, as 0.x accepted it
        yield give_up

    @bt.root
    @bt.sequence
    def patrol():
        yield bt.when(lambda bb: bb.obstacle is not None)(handle_obstacle)
        yield bt.selector(battery_ok, charge)
        yield bt.do_while(lambda bb: bb.position % 3 != 0 or bb.position == 0)(
            bt.succeeder().timeout(1.0)(step_forward)
        )
        yield bt.try_catch(report)(write_down)


DIAGRAMS = {"tree": Patrol}  # what `mycorrhizal diagrams` draws


def fluent_tree():
    """The same checks made with TreeBuilder's 0.x forms."""
    b = TreeBuilder("Fluent")
    ok = b.condition("battery_ok", lambda bb: bb.battery > 10)
    step = b.action("step", lambda bb: setattr(bb, "position", bb.position + 1))
    return b.build(b.sequence(step.gate(ok).retry(max_attempts=2).timeout(seconds=1.0), memory=True))


async def main():
    logging.getLogger("mycorrhizal").setLevel(logging.CRITICAL)  # the radio failure is expected here
    robot = Robot(obstacle="box")
    clock = CycleClock(stepsize=0.5)
    runner = Runner(
        Patrol,
        bb=robot,
        tb=clock,
        trace=logging.getLogger("patrol.trace"),
        exception_policy=ExceptionPolicy.LOG_AND_CONTINUE,
    )
    status = await runner.tick_until_complete()
    for line in robot.log:
        print(line)
    print(f"patrol finished {status.name} at position {robot.position}, battery {robot.battery}")
    print(f"the clock moved one step per tick: t={clock.now()}")
    assert status is Status.SUCCESS and robot.position == 3
    assert robot.log[:2] == ["around the box", "t=0.0 step to 1"]
    assert robot.log[-1] == "noted instead of radioed"

    fluent = fluent_tree()
    assert await Runner(fluent, bb=robot).tick() is Status.SUCCESS and robot.position == 4
    print(to_mermaid(fluent).splitlines()[0], f"({len(to_mermaid(Patrol).splitlines())} lines for Patrol)")


if __name__ == "__main__":
    asyncio.run(main())
