"""A state machine driven by a tree action, and a tree run by a state."""

import asyncio
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.mycelium import machine_action, pn, tree_state
from mycorrhizal.rhizomorph import Runner, Status, bt
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


@septum.state(config=StateConfiguration(timeout=2.0))
def Reaching():
    class Events(Enum):
        ARRIVED = auto()
        LOST = auto()

    @septum.on_enter
    def on_enter(ctx):  # type: ignore[no-untyped-def]
        ctx.common.setdefault("arm", []).append(f"reach@{ctx.timebase.now():g}")

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        return None

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return Events.ARRIVED if ctx.common.get("target_visible", True) else Events.LOST

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.ARRIVED, Gripped), LabeledTransition(Events.LOST, Lost)]


@septum.state(config=StateConfiguration(terminal=True))
def Gripped():
    @septum.on_enter
    def on_enter(ctx):  # type: ignore[no-untyped-def]
        ctx.common["arm"].append(f"grip@{ctx.timebase.now():g}")


@septum.state(config=StateConfiguration(terminal=True))
def Lost():
    pass


def arm_tree(**options: Any) -> Any:
    @bt.tree
    def Pick():
        bt.root(machine_action(Reaching, name="move_arm", **options))

    return Pick


@pytest.mark.parametrize(
    "visible, options, expected",
    [
        (True, {}, Status.SUCCESS),
        (False, {}, Status.SUCCESS),  # any terminal state counts by default
        (False, {"succeed_in": [Gripped]}, Status.FAILURE),
    ],
)
async def test_machine_action_runs_the_machine_to_a_terminal_state(
    clock: ManualClock, visible: bool, options: dict[str, Any], expected: Status
) -> None:
    bb: dict[str, Any] = {"target_visible": visible}
    runner = Runner(arm_tree(**options), bb, clock)
    assert await runner.tick() is Status.RUNNING
    done = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(2)
    assert await done is expected
    assert bb["arm"][0] == "reach@0" and (bb["arm"][1:] == ["grip@2"]) == visible


async def test_halting_the_action_cancels_the_machine_and_its_timers(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}

    @bt.tree
    def Impatient():
        bt.root(bt.timeout(1)(machine_action(Reaching)))

    runner = Runner(Impatient, bb, clock)
    done = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(1)
    assert await done is Status.FAILURE
    await clock.run_for(5)  # Reaching's 2 s timeout would have gripped: the machine must be gone
    assert bb["arm"] == ["reach@0"]
    assert clock.pending == 0


def test_machine_action_validates_the_machine_when_the_tree_is_defined() -> None:
    @septum.state(config=StateConfiguration(retries=2))
    def Sloppy():
        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(DefinitionError, match="Sloppy: has retries=2 but no @septum.on_fail"):
        machine_action(Sloppy)


@bt.tree
def Scan():
    @bt.action
    async def sweep(bb, timebase):  # type: ignore[no-untyped-def]
        await timebase.sleep(3)
        bb["scans"] = bb.get("scans", 0) + 1
        return Status.SUCCESS if bb.get("clear", True) else Status.FAILURE

    bt.root(sweep)


@septum.state(config=StateConfiguration(terminal=True))
def Clear():
    pass


@septum.state(config=StateConfiguration(terminal=True))
def Blocked():
    pass


@pytest.mark.parametrize("clear, final", [(True, Clear), (False, Blocked)])
async def test_tree_state_runs_the_tree_then_leaves_by_its_outcome(
    clock: ManualClock, clear: bool, final: Any
) -> None:
    Scanning = tree_state(Scan, success=Clear, failure=Blocked)
    bb = {"clear": clear}
    fsm = StateMachine(Scanning, common_data=bb, timebase=clock)
    run = asyncio.create_task(fsm.run())
    await clock.run_for(3)
    await run
    assert fsm.current_state is final and bb["scans"] == 1
    assert Scanning.name == "RunScan"


async def test_tree_state_timeout_halts_the_tree_and_fails(clock: ManualClock) -> None:
    Hurried = tree_state(
        Scan, success=Clear, failure=Blocked, name="Hurried", config=StateConfiguration(timeout=1.0)
    )
    bb: dict[str, Any] = {}
    fsm = StateMachine(Hurried, common_data=bb, timebase=clock)
    run = asyncio.create_task(fsm.run())
    await clock.run_for(5)
    await run
    assert fsm.current_state is Blocked and "scans" not in bb


async def test_tree_state_runs_its_enter_and_leave_hooks(clock: ManualClock) -> None:
    seen: list[str] = []

    async def leaving(ctx: Any) -> None:
        seen.append(f"leave@{ctx.timebase.now():g}")

    Scanning = tree_state(
        Scan, success=Clear, failure=Blocked, on_enter=lambda ctx: seen.append("enter"), on_leave=leaving
    )
    fsm = StateMachine(Scanning, common_data={}, timebase=clock)
    run = asyncio.create_task(fsm.run())
    await clock.run_for(3)
    await run
    assert seen == ["enter", "leave@3"] and fsm.current_state is Clear


@pytest.mark.parametrize("option", ["common_data", "timebase"])
def test_machine_action_refuses_options_the_tree_provides(option: str) -> None:
    message = f"machine options may not set {option}: the machine uses the tree's"
    with pytest.raises(DefinitionError, match=message) as info:
        machine_action(Reaching, **{option: None})
    assert "machine_action 'run_Reaching'" in str(info.value)


# -- one blackboard: the net, its trees, its machines, and trees and machines nested in them -------


@septum.state(config=StateConfiguration(terminal=True))
def Noted():
    @septum.on_enter
    def on_enter(ctx):  # type: ignore[no-untyped-def]
        ctx.common["seen"].append(("machine in a tree in a machine", ctx.common))


@bt.tree
def Nested():
    @bt.action
    def look(bb):  # type: ignore[no-untyped-def]
        bb["seen"].append(("tree in a machine", bb))
        return Status.SUCCESS

    @bt.root
    @bt.sequence
    def both():  # type: ignore[no-untyped-def]
        yield look
        yield machine_action(Noted)


@septum.state(config=StateConfiguration(can_dwell=True))
def Forwarding():
    class Events(Enum):
        DIG = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        ctx.common["seen"].append(("machine in the net", ctx.common))
        ctx.msg.route("done")
        return Events.DIG

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.DIG, tree_state(Nested, success=Forwarding, failure=Forwarding))]


@bt.tree
def Passing():
    @bt.action
    def note(ctx, bb):  # type: ignore[no-untyped-def]
        bb["seen"].extend([("tree in the net", bb), ("its ctx.bb", ctx.bb)])
        ctx.route("middle")
        return Status.SUCCESS

    bt.root(note)


async def test_one_blackboard_object_everywhere(running: Any) -> None:
    @pn.net
    def Layers(builder):  # type: ignore[no-untyped-def]
        inbox, middle, done = builder.place("inbox"), builder.place("middle"), builder.place("done")

        @builder.transition(bt=Passing, inputs=[inbox], outputs=[middle])
        async def first(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            bb["seen"].append(("net handler", bb))

        @builder.transition(fsm=Forwarding, inputs=[middle], outputs=[done])
        async def second(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            bb["seen"].append(("net handler", bb))

    bb: dict[str, Any] = {"seen": []}
    runner = await running(Layers, bb)
    runner.add_token("inbox", "t")
    await runner.run_until_idle()
    assert runner.tokens("done") == ("t",)
    assert [where for where, _ in bb["seen"]] == [
        "net handler",
        "tree in the net",
        "its ctx.bb",
        "net handler",
        "machine in the net",
        "tree in a machine",
        "machine in a tree in a machine",
    ]
    assert all(board is bb for _, board in bb["seen"])


@bt.tree
def RoutingOut():
    @bt.action
    def send(ctx, bb):  # type: ignore[no-untyped-def]
        for token in ctx.tokens:  # the one token, or each of a batch
            ctx.route("out", token)
        return Status.SUCCESS

    bt.root(send)


@pytest.mark.parametrize("bt_mode", ["token", "batch"])
@pytest.mark.parametrize("mutate", ["pop", "clear", "append"])
async def test_a_body_changing_its_list_leaves_the_tree_every_token(
    running: Any, mutate: str, bt_mode: str
) -> None:
    @pn.net
    def Bodies(builder):  # type: ignore[no-untyped-def]
        inbox, out = builder.place("inbox"), builder.place("out")

        @builder.transition(bt=RoutingOut, bt_mode=bt_mode, inputs=[(inbox, 2)], outputs=[out])
        def body(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            getattr(consumed, mutate)(*(["intruder"] if mutate == "append" else []))

    runner = await running(Bodies, {})
    runner.add_tokens("inbox", ["a", "b"])
    await runner.run_until_idle()
    assert runner.tokens("out") == ("a", "b") and runner.tokens("inbox") == ()
