"""A CI/CD pipeline whose states run behaviour trees, written the way mycorrhizal 0.x programs were
(BT-in-FSM): runs here unchanged.

``@state(bt=Tree)`` gives a state a tree; its ``@on_state`` handler receives ``(ctx, bt_result)``
(``on_state`` and ``transitions`` are imported under other names, as 0.x required, because the
handlers inside a state have those names).  Here the machine runs each state's tree itself,
over the machine's blackboard and clock (0.x needed every program to build the trees' runners and
hang them on a private attribute of the context; ``release_with_own_runners`` shows that such a
program still runs, its runners ticked instead).  See docs/compat.md.
"""

import asyncio
from enum import Enum, auto

from mycorrhizal.common.timebase import CycleClock
from mycorrhizal.mycelium import LabeledTransition, StateConfiguration, events, state
from mycorrhizal.mycelium import on_state as mycelium_on_state
from mycorrhizal.mycelium import transitions as mycelium_transitions
from mycorrhizal.rhizomorph.core import Runner, Status, bt
from mycorrhizal.septum.core import StateMachine, StateMachineComplete, septum


@bt.tree
def BuildTree():
    @bt.action
    async def compile_code(bb):
        await asyncio.sleep(0)  # the compiler runs elsewhere
        bb["artifacts"].append(f"app-{bb['commit']}.whl")
        return Status.SUCCESS

    @bt.condition
    def lint_clean(bb):
        return not bb["lint_errors"]

    @bt.root
    @bt.sequence
    def build():
        yield lint_clean
        yield compile_code


@bt.tree
def DeployTree():
    @bt.action
    def push(bb):
        bb["deployed"].append(bb["artifacts"][-1])
        return Status.SUCCESS

    @bt.action
    def smoke_test(bb):
        return bb["commit"] != "bad"  # True / False: SUCCESS / FAILURE, as in 0.x

    @bt.root
    @bt.sequence
    def deploy():
        yield push
        yield smoke_test


@state(bt=BuildTree, config=StateConfiguration(timeout=60))
def Building():
    @events
    class Events(Enum):
        BUILT = auto()
        BROKEN = auto()

    @mycelium_on_state
    async def on_state(ctx, bt_result):
        ctx.common["history"].append(f"build: {bt_result.name}")
        return Events.BUILT if bt_result == Status.SUCCESS else Events.BROKEN

    @septum.on_timeout
    async def on_timeout(ctx):
        return Events.BROKEN

    @mycelium_transitions
    def transitions():
        return [LabeledTransition(Events.BUILT, Deploying), LabeledTransition(Events.BROKEN, Failed)]


@state(bt=DeployTree)
def Deploying():
    @events
    class Events(Enum):
        LIVE = auto()
        ROLL_BACK = auto()

    @mycelium_on_state
    async def on_state(ctx, bt_result):
        ctx.common["history"].append(f"deploy: {bt_result.name}")
        return Events.LIVE if bt_result == Status.SUCCESS else Events.ROLL_BACK

    @mycelium_transitions
    def transitions():
        return [LabeledTransition(Events.LIVE, Live), LabeledTransition(Events.ROLL_BACK, Failed)]


@state(config=StateConfiguration(can_dwell=True))
def Live():
    @mycelium_on_state
    async def on_state(ctx, bt_result):  # a state without bt=: bt_result is None
        assert bt_result is None
        ctx.common["history"].append("live")


@state(config=StateConfiguration(can_dwell=True))
def Failed():
    @mycelium_on_state
    async def on_state(ctx, bt_result):
        ctx.common["history"].append("failed")


DIAGRAMS = {"pipeline": Building}  # what `mycorrhizal diagrams` draws


async def release(commit, lint_errors=0):
    bb = {"commit": commit, "lint_errors": lint_errors, "artifacts": [], "deployed": [], "history": []}
    fsm = StateMachine(initial_state=Building, common_data=bb, timebase=CycleClock())
    try:
        await fsm.run()
    except StateMachineComplete:  # 0.x's run() ended this way; here it returns when the machine rests
        pass
    print(f"{commit}: {' -> '.join(bb['history'])} (deployed: {bb['deployed']})")
    return fsm.current_state.name, bb


async def release_with_own_runners(commit):
    """0.x's way: a runner per state, hung on the machine's context before every tick."""
    bb = {"commit": commit, "lint_errors": 0, "artifacts": [], "deployed": [], "history": []}
    runners = {"Building": Runner(BuildTree, bb=bb), "Deploying": Runner(DeployTree, bb=bb)}
    fsm = StateMachine(initial_state=Building, common_data=bb)
    await fsm.initialize()
    for _ in range(10):
        state_short_name = fsm.current_state.name.split(".")[-1]
        if state_short_name in ("Live", "Failed"):
            break
        fsm.context._mycelium_bt_runner = runners[state_short_name]
        await fsm.tick(timeout=0)
    return fsm.current_state.name, bb


async def main():
    assert await release("abc123") == (
        "Live",
        {
            "commit": "abc123",
            "lint_errors": 0,
            "artifacts": ["app-abc123.whl"],
            "deployed": ["app-abc123.whl"],
            "history": ["build: SUCCESS", "deploy: SUCCESS", "live"],
        },
    )
    state_name, bb = await release("ugly", lint_errors=3)
    assert state_name == "Failed" and bb["history"] == ["build: FAILURE", "failed"]
    state_name, bb = await release("bad")
    assert state_name == "Failed" and bb["history"] == ["build: SUCCESS", "deploy: FAILURE", "failed"]
    state_name, bb = await release_with_own_runners("abc123")
    assert state_name == "Live" and bb["deployed"] == ["app-abc123.whl"]
    assert bb["history"] == ["build: SUCCESS", "deploy: SUCCESS"]  # (the loop stops on reaching Live)
    state_name, bb = await release_with_own_runners("bad")
    assert state_name == "Failed" and bb["history"] == ["build: SUCCESS", "deploy: FAILURE"]


if __name__ == "__main__":
    asyncio.run(main())
