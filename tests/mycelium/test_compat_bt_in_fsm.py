"""0.x's BT-in-FSM forms (UPSTREAM-API.md §4.2): @state(bt=...), @on_state(ctx, bt_result), events."""

from __future__ import annotations

import asyncio
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal import mycelium, septum
from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.mycelium import StateConfiguration, events, on_state, state, transitions
from mycorrhizal.rhizomorph import Runner, Status, Tree, bt
from mycorrhizal.septum import LabeledTransition, StateMachine


def counting_tree(outcome: Status, calls: list[Any]) -> Tree:
    """A tree whose one action records the blackboard and ctx it got, then ends ``outcome``."""

    @bt.tree
    def Counting():
        @bt.action
        def count(bb, ctx):  # type: ignore[no-untyped-def]
            calls.append((bb, ctx.msg))
            return outcome

        bt.root(count)

    return Counting


def test_the_re_exports_are_septums_own() -> None:
    for name in ("LabeledTransition", "StateConfiguration", "Push", "Pop", "Again", "Unhandled", "Retry"):
        assert getattr(mycelium, name) is getattr(septum, name)
    assert mycelium.Restart is septum.Restart and mycelium.Repeat is septum.Repeat
    assert transitions == septum.septum.transitions


async def test_the_handler_gets_the_tree_result_over_the_machine_blackboard() -> None:
    calls: list[Any] = []

    @state(bt=counting_tree(Status.FAILURE, calls), config=StateConfiguration(can_dwell=True))
    def Checking():
        @events
        class Events(Enum):
            BAD = auto()

        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            ctx.common["results"].append(bt_result)
            return Events.BAD if ctx.msg == "judge" else None

        @transitions
        def transitions_():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Events.BAD, Rejected)]

    @septum.septum.state(config=StateConfiguration(terminal=True))
    def Rejected():
        pass

    bb: dict[str, Any] = {"results": []}
    fsm = StateMachine(Checking, common_data=bb)
    await fsm.run()
    assert bb["results"] == [Status.FAILURE] and calls == [(bb, None)]  # the tree ran on entry
    fsm.send_message("judge")
    await fsm.run()  # and again for the message, before the handler saw it
    assert bb["results"] == [Status.FAILURE, Status.FAILURE] and calls[1] == (bb, "judge")
    assert fsm.current_state is Rejected
    assert Checking.Events.BAD.name == "BAD"  # @events marks it; the state shows its Events anyway


async def test_a_handler_in_a_state_without_a_tree_gets_none() -> None:
    seen: list[Any] = []

    @state(config=StateConfiguration(can_dwell=True))
    def Plain():
        @on_state
        def handler(ctx, bt_result):  # type: ignore[no-untyped-def]  # a plain function works too
            seen.append(bt_result)

    await StateMachine(Plain).run()
    assert seen == [None]


async def test_a_one_argument_handler_is_septums_on_state() -> None:
    seen: list[Any] = []

    @state(bt=counting_tree(Status.SUCCESS, []), config=StateConfiguration(can_dwell=True))
    def OneArgument():
        @on_state
        def handler(ctx):  # type: ignore[no-untyped-def]
            seen.append(ctx.msg)

    await StateMachine(OneArgument).run()
    assert seen == [None]


class StepsRunner:
    """A runner as 0.x programs built them: ``tick()`` reports each status of ``steps`` in turn."""

    def __init__(self, *steps: Status) -> None:
        self.steps, self.ticks = list(steps), 0

    async def tick(self) -> Status:
        self.ticks += 1
        return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


@pytest.mark.parametrize(
    ("steps", "result", "ticks"),
    [
        ((Status.RUNNING, Status.RUNNING, Status.SUCCESS), Status.SUCCESS, 3),
        ((Status.FAILURE,), Status.FAILURE, 1),
        ((Status.RUNNING,), Status.RUNNING, 10),  # 0.x's bound: ten ticks, then RUNNING
    ],
)
async def test_a_runner_hung_on_the_context_is_ticked_instead_of_the_tree(
    steps: tuple[Status, ...], result: Status, ticks: int
) -> None:
    calls: list[Any] = []
    seen: list[Any] = []

    @state(bt=counting_tree(Status.FAILURE, calls), config=StateConfiguration(can_dwell=True))
    def Attached():
        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            seen.append(bt_result)

    fsm = StateMachine(Attached)
    assert fsm.context._mycelium_bt_runner is None  # nothing attached: the state runs its own tree
    await fsm.run()
    assert seen == [Status.FAILURE] and len(calls) == 1
    runner = StepsRunner(*steps)
    fsm.context._mycelium_bt_runner = runner  # what 0.x programs did before each tick
    fsm.send_message("again")
    await fsm.tick()
    assert seen == [Status.FAILURE, result] and runner.ticks == ticks
    assert len(calls) == 1  # the state's own tree did not run
    fsm.context._mycelium_bt_runner = None
    fsm.send_message("again")
    await fsm.tick()
    assert seen[-1] is Status.FAILURE and len(calls) == 2


async def test_a_hung_runner_is_ticked_only_by_states_that_have_a_tree() -> None:
    # 0.x's handler ticked the hung runner in @state(bt=...) states only; a runner left hung when
    # the machine moves on (0.x programs set it before each tick) must not re-run in the next state.
    seen: list[tuple[str, Any]] = []

    @state(bt=counting_tree(Status.FAILURE, []))
    def Deploying():
        class Events(Enum):
            LIVE = auto()

        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            seen.append(("Deploying", bt_result))
            return Events.LIVE

        @transitions
        def transitions_():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Events.LIVE, Live)]

    @state(config=StateConfiguration(can_dwell=True))
    def Live():
        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            seen.append(("Live", bt_result))

    fsm = StateMachine(Deploying)
    runner = StepsRunner(Status.SUCCESS)
    fsm.context._mycelium_bt_runner = runner
    fsm.send_message("look")
    await fsm.run()
    assert seen == [("Deploying", Status.SUCCESS), ("Live", None), ("Live", None)]
    assert runner.ticks == 1


async def test_an_attached_rhizomorph_runner_waits_for_its_async_leaves_between_ticks() -> None:
    @bt.tree
    def Slow():
        @bt.action
        async def work(bb):  # type: ignore[no-untyped-def]
            for _ in range(3):
                await asyncio.sleep(0)
            bb["worked"] = True
            return Status.SUCCESS

        bt.root(work)

    seen: list[Any] = []

    @state(bt=counting_tree(Status.FAILURE, []), config=StateConfiguration(can_dwell=True))
    def Waiting():
        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            seen.append(bt_result)

    bb: dict[str, Any] = {}
    fsm = StateMachine(Waiting, common_data=bb)
    fsm.context._mycelium_bt_runner = Runner(Slow, bb=bb)
    await fsm.tick()
    assert seen == [Status.SUCCESS] and bb == {"worked": True}


def test_the_context_takes_no_other_attribute() -> None:
    @state(config=StateConfiguration(can_dwell=True))
    def Strict():
        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(AttributeError, match="'BlankContext' object has no attribute 'anything_else'"):
        StateMachine(Strict).context.anything_else = 1  # type: ignore[attr-defined]


async def test_bare_state_and_the_class_form() -> None:
    calls: list[Any] = []

    @state
    def Bare():
        @on_state
        def handler(ctx):  # type: ignore[no-untyped-def]
            return None

    assert isinstance(Bare, septum.State) and Bare.name == "Bare"

    @state(bt=counting_tree(Status.SUCCESS, calls), config=StateConfiguration(can_dwell=True))
    class Classy:
        @on_state
        def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            calls.append(bt_result)

    await StateMachine(Classy, common_data={}).run()
    assert calls[-1] is Status.SUCCESS and len(calls) == 2  # the class body ran before @state: still its tree


async def test_bt_tree_is_deprecated_but_used_when_the_state_has_no_tree() -> None:
    calls: list[Any] = []
    with pytest.warns(DeprecationWarning, match=r"on_state\(bt_tree=...\) is deprecated"):

        @state(config=StateConfiguration(can_dwell=True))
        def Old():
            @on_state(bt_tree=counting_tree(Status.SUCCESS, calls))
            def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
                calls.append(bt_result)

    await StateMachine(Old, common_data={}).run()
    assert calls[-1] is Status.SUCCESS


async def test_the_state_timeout_halts_a_tree_that_hangs(clock: ManualClock) -> None:
    halted: list[str] = []

    @bt.tree
    def Hanging():
        async def forever(timebase):  # type: ignore[no-untyped-def]
            try:
                await timebase.sleep(1e9)
            except asyncio.CancelledError:
                halted.append("halted")
                raise
            return Status.SUCCESS

        bt.root(bt.action(forever))

    @state(bt=Hanging, config=StateConfiguration(timeout=5.0))
    def Waiting():
        class Events(Enum):
            GAVE_UP = auto()

        @on_state
        async def handler(ctx, bt_result):  # type: ignore[no-untyped-def]
            return None

        @septum.septum.on_timeout
        def on_timeout(ctx):  # type: ignore[no-untyped-def]
            return Events.GAVE_UP

        @transitions
        def transitions_():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Events.GAVE_UP, Gone)]

    @septum.septum.state(config=StateConfiguration(terminal=True))
    def Gone():
        pass

    fsm = StateMachine(Waiting, common_data={}, timebase=clock)
    run = asyncio.create_task(fsm.run(wait=True))
    await clock.run_for(5)
    await run
    assert fsm.current_state is Gone and halted == ["halted"]


def test_bt_must_be_a_tree() -> None:
    with pytest.raises(
        DefinitionError, match=r"bt='Tree' is not a behaviour tree\. Fix: pass a @bt.tree tree"
    ):
        state(bt="Tree", config=StateConfiguration())


@pytest.mark.parametrize("name", ["common", "bb", "blackboard"])
async def test_doc_only_handler_naming_the_blackboard_second_gets_it_in_a_state_without_a_tree(
    name: str,
) -> None:
    seen: list[Any] = []
    source = f"async def on_state(ctx, {name}):\n    seen.append({name})\n"
    scope: dict[str, Any] = {"seen": seen}
    exec(source, scope)  # the parameter's name is what is tested

    @state(config=StateConfiguration(can_dwell=True))
    def Documented():
        on_state(scope["on_state"])

    bb = {"k": 1}
    await StateMachine(Documented, common_data=bb).run()
    assert seen == [bb] and seen[0] is bb


async def test_a_handler_naming_its_second_parameter_bb_in_a_state_with_a_tree_gets_the_result() -> None:
    seen: list[Any] = []

    @state(bt=counting_tree(Status.SUCCESS, []), config=StateConfiguration(can_dwell=True))
    def Treed():
        @on_state
        async def handler(ctx, bb):  # type: ignore[no-untyped-def]
            seen.append(bb)

    await StateMachine(Treed, common_data={}).run()
    assert seen == [Status.SUCCESS]


def test_doc_only_unaliased_on_state_inside_a_state_says_how_to_fix_it() -> None:
    with pytest.raises(DefinitionError, match="hides the decorator on_state .* import it under another name"):

        @state(config=StateConfiguration(can_dwell=True))
        def Shadowed():
            @on_state  # noqa: F823 - the name below makes this one local: 0.x's documents did this
            async def on_state(ctx, bt_result):  # type: ignore[no-untyped-def]
                return None
