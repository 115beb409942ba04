"""A robot whose tree drives its motor's state machine, written the way mycorrhizal 0.x programs
were (FSM-in-BT): runs here unchanged.

``@tree`` declares the tree, ``@Action(fsm=MotorIdle)`` an action that owns a machine and gets it as
``fsm_runner``, ``TreeRunner(tree, bb, tb)`` runs it.  The machine's ``ctx.common`` is the robot's
own blackboard, shared (0.x gave the machine a copy, so its programs copied values back by hand;
the copy-back line below is harmless here).  See docs/compat.md.
"""

import asyncio
from dataclasses import dataclass, field
from enum import Enum, auto

from mycorrhizal.common.timebase import CycleClock
from mycorrhizal.mycelium import Action, Condition, Selector, Sequence, TreeRunner, root, tree
from mycorrhizal.rhizomorph.core import Status
from mycorrhizal.septum.core import LabeledTransition, StateConfiguration, septum


@dataclass
class Robot:
    battery: int = 100
    distance: int = 0
    goal: int = 4
    log: list[str] = field(default_factory=list)


@septum.state(config=StateConfiguration(can_dwell=True))
def MotorIdle():
    class Events(Enum):
        START = auto()

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg == "start":
            ctx.common["log"].append("motor: starting")  # 0.x handlers use the blackboard as a dict
            return Events.START
        return None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.START, MotorRunning)]


@septum.state(config=StateConfiguration(timeout=3.0))
def MotorRunning():
    class Events(Enum):
        STOP = auto()
        OVERHEATED = auto()

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg == "stop":
            return Events.STOP
        return None

    @septum.on_timeout
    async def on_timeout(ctx):
        ctx.common["log"].append("motor: too hot, cooling down")
        return Events.OVERHEATED

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.STOP, MotorIdle), LabeledTransition(Events.OVERHEATED, MotorIdle)]


@tree
def Controller():
    @Condition
    def arrived(bb):
        return bb.distance >= bb.goal

    @Action(fsm=MotorIdle)
    async def drive(bb, tb, fsm_runner):
        if "Idle" in fsm_runner.current_state.name:
            fsm_runner.send_message("start")
            return Status.RUNNING
        bb.distance += 1
        bb.battery -= 5
        bb.battery = fsm_runner.fsm.common.get("battery", 100)  # 0.x's copy-back: the same board here
        bb.log.append(f"t={tb.now():.0f} drove to {bb.distance}")
        if bb.distance >= bb.goal:
            fsm_runner.send_message("stop")
            return Status.SUCCESS
        return Status.RUNNING

    @Action
    async def park(bb, tb):
        bb.log.append(f"parked at {bb.distance} with battery {bb.battery}")
        return Status.SUCCESS

    @Selector
    def go():
        yield arrived
        yield drive

    @root
    @Sequence
    def main():
        yield go
        yield park


DIAGRAMS = {"controller": TreeRunner(Controller, Robot(), CycleClock())}  # what `mycorrhizal diagrams` draws


async def main():
    robot = Robot()
    runner = TreeRunner(Controller, robot, CycleClock())
    status = await runner.run(max_ticks=50)
    motor = runner.fsms.drive
    print(f"controller finished {status.name}; motor {motor.current_state.name}, 'stop' still queued")
    await motor.tick(timeout=0)  # the tree is done: let the motor handle its last message
    await runner.aclose()
    for line in robot.log:
        print(line)
    print(f"motor {motor.current_state.name}")
    print(runner.to_mermaid().splitlines()[0], f"({len(runner.to_mermaid().splitlines())} lines)")
    assert status is Status.SUCCESS and robot.distance == 4 and robot.battery == 80
    assert "motor: too hot, cooling down" in robot.log  # the machine's 3 s timeout ran on the tree's clock
    assert runner.fsms["drive"].current_state is MotorIdle


if __name__ == "__main__":
    asyncio.run(main())
