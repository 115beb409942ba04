"""A patrol robot: a reactive behaviour tree with async actions, a timeout and halting.

The robot patrols waypoints.  Every tick the tree re-checks, in priority order, whether the
battery is low (go and charge) or an intruder is visible (sound the alarm); when a
higher-priority branch takes over, the running lower-priority action - the drive to the next
waypoint - is cancelled and its halt hook stops the motors.  Time is simulated with a
ManualClock, so the whole patrol runs in milliseconds.

Run: python examples/rhizomorph/patrol_robot.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from mycorrhizal.common import ManualClock, Timebase
from mycorrhizal.render import to_mermaid
from mycorrhizal.rhizomorph import Node, Runner, Status, bt


@dataclass
class Robot:
    """The blackboard: what the tree reads and writes."""

    battery: float = 40.0
    position: int = 0
    waypoints: int = 4
    intruder: bool = False
    log: list[str] = field(default_factory=list)

    def say(self, clock: Timebase, text: str) -> None:
        self.log.append(f"t={clock.now():5.1f}  {text}")


def stop_motors(bb: Robot, timebase: Timebase) -> None:
    """Halt hook: the drive was abandoned half-way."""
    bb.say(timebase, f"motors stopped on the way to waypoint {(bb.position + 1) % bb.waypoints}")


@bt.tree
def Patrol() -> None:
    @bt.condition
    def battery_low(bb: Robot) -> bool:
        return bb.battery < 20

    @bt.action
    async def charge(bb: Robot, timebase: Timebase) -> Status:
        bb.say(timebase, f"charging from {bb.battery:.0f}%")
        while bb.battery < 100:
            await timebase.sleep(1)
            bb.battery = min(100.0, bb.battery + 25)
        bb.say(timebase, "charged")
        return Status.SUCCESS

    @bt.condition
    def intruder_seen(bb: Robot) -> bool:
        return bb.intruder

    @bt.action
    def sound_alarm(bb: Robot, timebase: Timebase) -> Status:
        bb.say(timebase, "ALARM: intruder!")
        bb.intruder = False
        return Status.SUCCESS

    @bt.action(on_halt=stop_motors)
    async def drive_to_next(bb: Robot, timebase: Timebase) -> Status:
        target = (bb.position + 1) % bb.waypoints
        bb.say(timebase, f"driving to waypoint {target}")
        await timebase.sleep(3)
        bb.battery -= 12
        bb.position = target
        bb.say(timebase, f"reached waypoint {target} (battery {bb.battery:.0f}%)")
        return Status.SUCCESS

    @bt.sequence
    def recharge() -> Iterator[Node]:
        yield battery_low
        yield bt.timeout(10)(charge)

    @bt.sequence
    def guard_duty() -> Iterator[Node]:
        yield intruder_seen
        yield sound_alarm

    @bt.root
    @bt.selector(memory=False)
    def behave() -> Iterator[Node]:
        yield recharge
        yield guard_duty
        yield bt.timeout(5)(drive_to_next)


DIAGRAMS = {"tree": Patrol}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    clock = ManualClock()
    robot = Robot()
    runner = Runner(Patrol, robot, clock)
    # Tick once a second of simulated time for 20 seconds; an intruder shows up at t=14, mid-drive.
    for second in range(20):
        if second == 14:
            robot.intruder = True
        await runner.tick()
        await clock.run_for(1)
    last_tick = runner.trace()
    runner.reset()  # stop whatever is still running
    await runner.settle()
    print("\n".join(robot.log))
    print(f"\nlast tick: {last_tick}")
    print("\nThe tree as Mermaid:\n" + to_mermaid(Patrol))


if __name__ == "__main__":
    asyncio.run(main())
