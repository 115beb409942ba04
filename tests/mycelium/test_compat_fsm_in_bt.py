"""0.x's FSM-in-BT forms (UPSTREAM-API.md §4.1): @tree, Action(fsm=...), TreeRunner, fsm_runner."""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal import spores
from mycorrhizal.common import BlackboardView, DefinitionError, ExecutionError, HandlerError, ManualClock
from mycorrhizal.common.errors import split_fix
from mycorrhizal.common.timebase import CycleClock, MonotonicClock
from mycorrhizal.mycelium import (
    Action,
    Condition,
    FSMInstantiationError,
    FSMRunner,
    MyceliumError,
    Parallel,
    Selector,
    Sequence,
    TreeDefinitionError,
    TreeInstance,
    TreeRunner,
    root,
    tree,
)
from mycorrhizal.mycelium.instance import DrivenMachine
from mycorrhizal.mycelium.spores_integration import TreeSporesAdapter
from mycorrhizal.rhizomorph import Runner, Status, Tree, bt
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

from ..spores.conftest import MemorySink


@septum.state(config=StateConfiguration(can_dwell=True))
def Off():
    class Events(Enum):
        ON = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg == "on":
            ctx.common["switched"] = ctx.common.get("switched", 0) + 1
            return Events.ON
        return None

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.ON, On)]


@septum.state(config=StateConfiguration(timeout=2.0))
def On():
    class Events(Enum):
        OFF = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        return Events.OFF if ctx.msg == "off" else None

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        ctx.common["timed_out"] = True
        return Events.OFF

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.OFF, Off)]


def lamp(seen: list[str]) -> Tree:
    """A tree whose action ``switch`` turns its machine on and reports what it saw each tick."""

    @tree
    def Lamp():
        @Action(fsm=Off)
        async def switch(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
            seen.append(fsm_runner.current_state.name)
            if fsm_runner.current_state is Off:
                fsm_runner.send_message("on")
                return Status.RUNNING
            return Status.SUCCESS

        @root
        @Sequence
        def main():  # type: ignore[no-untyped-def]
            yield switch

    return Lamp


async def test_the_machine_handles_what_is_pending_before_the_action_runs() -> None:
    seen: list[str] = []
    bb: dict[str, Any] = {}
    runner = TreeRunner(lamp(seen), bb, ManualClock())
    assert await runner.tick() is Status.RUNNING  # first tick: the machine enters Off; 'on' sent
    assert runner.fsms.switch.current_state is Off and seen == ["Off"]
    assert await runner.tick() is Status.SUCCESS  # the machine handled 'on' before the action ran
    assert seen == ["Off", "On"] and bb == {"switched": 1}  # its ctx.common is the tree's dict itself
    await runner.aclose()


async def test_machines_live_as_long_as_the_runner_and_keep_their_state() -> None:
    seen: list[str] = []
    runner = TreeRunner(lamp(seen), {}, ManualClock())
    assert await runner.run() is Status.SUCCESS
    machine = runner.fsms["switch"].fsm
    assert await runner.run() is Status.SUCCESS  # a second run: the same machine, still On
    assert runner.fsms["switch"].fsm is machine and seen == ["Off", "On", "On"]
    await runner.aclose()


async def test_the_machine_times_out_on_the_tree_timebase_and_reset_makes_new_machines(
    clock: ManualClock,
) -> None:
    bb: dict[str, Any] = {}
    runner = TreeRunner(lamp([]), bb, clock)
    await runner.run()
    before = runner.fsms.switch
    assert before.current_state is On
    runner.reset()  # halts the tree and cancels the machine's timer: it never fires
    await clock.run_for(5)
    assert "timed_out" not in bb and before.current_state is On
    assert runner.fsms.switch is not before and runner.fsms.switch.current_state is Off
    await runner.run()
    await clock.run_for(2)  # the new machine's own timeout
    assert bb["timed_out"] is True and runner.fsms.switch.current_state is Off
    await runner.aclose()


def timed_out_badly(declares_on_timeout: bool) -> Any:
    """A machine whose 2 s timeout fails: its on_timeout raises, or it declares none (0.x ran that)."""

    @septum.state(config=StateConfiguration(timeout=2.0))
    def Stalled():
        class Events(Enum):
            GO = auto()

        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            return None

        if declares_on_timeout:

            @septum.on_timeout
            def on_timeout(ctx):  # type: ignore[no-untyped-def]
                raise ValueError("the sensor is gone")

        @septum.transitions
        def transitions():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Events.GO, Off)]

    @tree
    def Watch():
        @Action(fsm=Stalled)
        async def watch(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
            return Status.RUNNING

        @root
        @Sequence
        def main():  # type: ignore[no-untyped-def]
            yield watch

    return Watch


STALLED = (
    r"^state Stalled: on_timeout raised ValueError: the sensor is gone\. Fix: handle ValueError in "
    r"on_timeout, returning the label of a state that recovers \(an Action\(fsm=\.\.\.\) machine "
    r"takes no error_state or on_error to route failures to\)$"
)
"""What the machine of :func:`timed_out_badly` raises: its fix cannot be to give it an error_state."""


@pytest.mark.parametrize(
    ("declares_on_timeout", "message"),
    [
        (
            True,
            STALLED,
        ),
        (False, r"^state Stalled: timed out \(timeout=2\.0\) but declares no @septum\.on_timeout handler"),
    ],
    ids=["on_timeout raises", "no on_timeout"],
)
async def test_an_error_the_machines_timeout_hit_is_raised_by_the_actions_next_tick(
    clock: ManualClock, declares_on_timeout: bool, message: str
) -> None:
    # Nobody ticks the tree when the timer fires, so the machine's own background run hits the error;
    # the action's next tick raises it, as it raises any error of its machine's handlers.
    runner = TreeRunner(timed_out_badly(declares_on_timeout), {}, clock)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(2)
    with pytest.raises(HandlerError, match=message) as raised:
        await runner.tick()
    assert raised.value.state == "Stalled"
    assert await runner.tick() is Status.RUNNING  # raised once: the machine waits in its state
    await runner.aclose()


async def test_fsm_runner_run_raises_its_machines_error_with_a_fix_an_action_can_follow(
    clock: ManualClock,
) -> None:
    runner = TreeRunner(timed_out_badly(True), {}, clock)
    running = asyncio.create_task(runner.fsms.watch.run(timeout=5))
    await clock.run_for(2)  # the run waiting for work handles the timeout, whose handler raises
    with pytest.raises(HandlerError, match=STALLED):
        await running
    await runner.aclose()


async def test_tree_runner_attributes_and_accessor() -> None:
    bb: dict[str, Any] = {}
    clock = ManualClock()
    runner = TreeRunner(lamp([]), bb, clock)
    assert runner.spec.name == "Lamp" and runner.bb is bb and runner.tb is clock
    assert runner.tree is runner.spec and "switch" in runner.tree.to_mermaid()  # (0.x's documents)
    assert isinstance(runner.instance, TreeInstance)
    fsms = runner.fsms
    assert "switch" in fsms and len(fsms) == 1 and list(fsms) == ["switch"]
    assert fsms.switch is fsms["switch"] is runner.instance.get_fsm_runner("switch")
    assert isinstance(fsms.switch, FSMRunner) and fsms.switch.name == "switch"
    with pytest.raises(KeyError, match=r"no Action\(fsm=...\) named 'lamp'; the tree's are \['switch'\]"):
        fsms["lamp"]
    with pytest.raises(AttributeError, match="no Action"):
        _ = fsms.lamp
    await runner.aclose()


async def test_a_subclass_of_tree_runner_wraps_its_ticks_and_reads_the_machine_context() -> None:
    class LoggedTreeRunner(TreeRunner):  # as 0.x's examples did
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.statuses: list[Status] = []

        async def tick(self) -> Status:
            status = await super().tick()
            self.statuses.append(status)
            return status

    bb: dict[str, Any] = {}
    runner = LoggedTreeRunner(lamp([]), bb, ManualClock())
    while await runner.tick() is Status.RUNNING:
        pass
    assert runner.statuses == [Status.RUNNING, Status.SUCCESS]
    runner.reset()
    assert await runner.run() is Status.SUCCESS  # run() drives the tree itself, waiting between ticks
    assert len(runner.statuses) == 2
    machine = runner.fsms.switch.fsm
    assert machine.context.common is bb and bb == {"switched": 2}  # 0.x: a snapshot; here the board
    await runner.aclose()


async def test_tree_runner_without_a_timebase_uses_the_default_one() -> None:
    """0.x's docs wrote TreeRunner(Tree, bb=bb) (0.x itself required tb)."""
    bb: dict[str, Any] = {}
    runner = TreeRunner(lamp([]), bb=bb)
    assert isinstance(runner.tb, MonotonicClock) and runner.instance.tb is runner.tb
    assert await runner.tick() is Status.RUNNING
    await runner.aclose()


async def test_to_mermaid_is_fenced_and_draws_each_machine_beside_its_action() -> None:
    runner = TreeRunner(lamp([]), {}, ManualClock())
    text = runner.to_mermaid()
    lines = text.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    assert "FSM: switch" in text and "ticks" in text and "On" in text
    assert runner.instance.to_mermaid() == "\n".join(lines[1:-1])
    picture = runner.to_diagram()
    assert {c.label for c in picture.clusters} == {"FSM: switch"}
    await runner.aclose()


@pytest.mark.parametrize("max_ticks", [True, 2.5, float("nan"), float("inf"), "3"])
async def test_run_refuses_a_max_ticks_that_is_not_a_count(max_ticks: Any) -> None:
    runner = TreeRunner(lamp([]), {}, ManualClock())
    message = (
        rf"tree 'Lamp': tick_until_complete\(\) got max_ticks={re.escape(repr(max_ticks))}\. "
        r"Fix: max_ticks must be"
    )
    with pytest.raises(ValueError, match=message):
        await runner.run(max_ticks=max_ticks)
    assert runner.instance.runner.ticks == 0
    await runner.aclose()


async def test_run_stops_after_max_ticks_with_running() -> None:
    @tree
    def Forever():
        @Action(fsm=Off)
        async def wait(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
            return Status.RUNNING

        root(wait)

    runner = TreeRunner(Forever, {}, CycleClock())
    assert await runner.run(max_ticks=5) is Status.RUNNING
    assert runner.instance.runner.ticks == 5 and runner.tb.now() == 5  # a CycleClock: one step a tick
    await runner.aclose()


@dataclass
class Robot:
    battery: int = 100
    log: list[str] = field(default_factory=list)


@septum.state(config=StateConfiguration(can_dwell=True))
def Draining():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg == "drain":
            ctx.common["battery"] = ctx.common.get("battery", 0) - 10  # 0.x handlers used a dict
            ctx.common.log.append("drained")  # attributes work as well


async def test_an_object_blackboard_reaches_machine_handlers_through_a_dict_style_view() -> None:
    @tree
    def Drainer():
        @Action(fsm=Draining)
        def drain(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]  # a plain function works too
            if bb.battery == 100:
                fsm_runner.send_message("drain")
                return Status.RUNNING
            return Status.SUCCESS

        root(drain)

    robot = Robot()
    runner = TreeRunner(Drainer, robot, ManualClock())
    assert await runner.run() is Status.SUCCESS
    assert robot == Robot(battery=90, log=["drained"])  # the robot itself changed: no copy
    common = runner.fsms.drain.fsm.common
    assert isinstance(common, BlackboardView) and common.target is robot
    await runner.aclose()


async def test_plain_actions_and_conditions_are_called_positionally() -> None:
    calls: list[Any] = []

    @tree
    def Positional():
        @Condition
        def ready(board):  # type: ignore[no-untyped-def]  # any name: 0.x passed it by position
            calls.append(("ready", board))
            return True

        @Condition
        async def awaited(board):  # type: ignore[no-untyped-def]  # 0.x never awaited it (always true)
            return False

        @Action
        async def act(board, clock):  # type: ignore[no-untyped-def]
            calls.append(("act", board, clock))
            return Status.SUCCESS

        @Action
        def only_bb(bb):  # type: ignore[no-untyped-def]
            calls.append(("only_bb", bb))

        @root
        @Selector
        def main():  # type: ignore[no-untyped-def]
            yield bt.sequence(awaited, only_bb)
            yield bt.sequence(ready, act, only_bb)

    bb: dict[str, Any] = {}
    clock = ManualClock()
    assert await Runner(Positional, bb, clock).tick() is Status.SUCCESS
    assert calls == [("ready", bb), ("act", bb, clock), ("only_bb", bb)]


def race(parallel: Any) -> Any:
    """A tree whose root ``parallel`` runs an action that succeeds and one that keeps running."""

    @tree
    def Race():
        @Action
        async def fast(bb, tb):  # type: ignore[no-untyped-def]
            return Status.SUCCESS

        @Action
        async def slow(bb, tb):  # type: ignore[no-untyped-def]
            return Status.RUNNING

        @root
        @parallel
        def both():  # type: ignore[no-untyped-def]
            yield fast
            yield slow

    return Race


async def test_parallel_succeeds_with_one_child_by_default() -> None:
    assert await Runner(race(Parallel), {}).tick() is Status.SUCCESS
    assert await Runner(race(Parallel(success_threshold=2)), {}).tick() is Status.RUNNING


async def test_a_driven_action_outside_tree_runner_says_how_to_run_it() -> None:
    with pytest.raises(ExecutionError, match="run the tree with mycelium.TreeRunner") as caught:
        await Runner(lamp([]), {}).tick()
    assert caught.value.node == "switch"


@pytest.mark.parametrize("call", ["tick", "run"])
@pytest.mark.parametrize("timeout", [-1, float("nan"), True, "3"])
async def test_fsm_runner_refuses_a_timeout_that_means_nothing(call: str, timeout: Any) -> None:
    runner = TreeRunner(lamp([]), {}, ManualClock())
    machine = runner.fsms.switch
    await machine.tick(0)
    message = (
        rf"fsm_runner of action 'switch': {call}\(timeout={re.escape(repr(timeout))}\) means nothing\. Fix:"
    )
    with pytest.raises(ValueError, match=message):
        await getattr(machine, call)(timeout=timeout)
    assert machine.current_state is Off
    await runner.aclose()


async def test_fsm_runner_tick_waits_for_work_and_run_waits_for_a_terminal_state(clock: ManualClock) -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Waiting():
        class Events(Enum):
            GO = auto()

        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            return Events.GO if ctx.msg == "go" else None

        @septum.transitions
        def transitions():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Events.GO, Finished)]

    @septum.state(config=StateConfiguration(terminal=True))
    def Finished():
        pass

    @tree
    def Holder():
        @Action(fsm=Waiting)
        async def hold(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
            return Status.SUCCESS

        root(hold)

    runner = TreeRunner(Holder, {}, clock)
    machine = runner.fsms.hold
    await machine.tick(0)  # enters the initial state, waits for nothing
    assert machine.current_state is Waiting
    waiting = asyncio.create_task(machine.tick(timeout=3))  # idle: waits up to 3 s for work
    await clock.run_for(3)
    await waiting
    assert machine.current_state is Waiting and clock.now() == 3
    finishing = asyncio.create_task(machine.run())
    await asyncio.sleep(0)
    assert not finishing.done()
    machine.send_message("go")
    await finishing
    assert machine.current_state is Finished and machine.fsm.is_complete
    quick = TreeRunner(Holder, {}, clock).fsms.hold
    await quick.tick(0)
    ticking = asyncio.create_task(quick.tick(timeout=10))
    await asyncio.sleep(0)
    quick.send_message("go")  # arrives while it waits: handled at once, no need for the 10 s
    await ticking
    assert quick.current_state is Finished and clock.now() == 3
    bounded = TreeRunner(Holder, {}, clock).fsms.hold
    running = asyncio.create_task(bounded.run(timeout=4))
    await clock.run_for(4)
    await running  # gave up after 4 s; the machine keeps its state
    assert bounded.current_state is Waiting
    await runner.aclose()


# -- definition errors ----------------------------------------------------------------------------


def test_doc_only_composite_taking_a_parameter_says_to_drop_it() -> None:
    with pytest.raises(
        TreeDefinitionError, match=r"takes parameters \(N\)\. Fix: a composite function takes no"
    ):

        @tree
        def Loop():
            @Action
            async def act(bb, tb):  # type: ignore[no-untyped-def]
                return Status.SUCCESS

            @root
            @Sequence
            def control_loop(N):  # type: ignore[no-untyped-def]
                yield N.act


def test_action_condition_and_root_only_inside_tree() -> None:
    for name, use in (
        ("Action", lambda: Action(lambda bb, tb: Status.SUCCESS)),
        ("Condition", lambda: Condition(lambda bb: True)),
        ("root", lambda: root(None)),
    ):
        with pytest.raises(TreeDefinitionError, match=f"{name}: is used outside a @tree function"):
            use()


def test_a_tree_without_root_is_a_tree_definition_error() -> None:
    with pytest.raises(TreeDefinitionError, match="declares no root") as caught:

        @tree
        def Rootless():
            @Action
            async def act(bb, tb):  # type: ignore[no-untyped-def]
                return Status.SUCCESS

    assert isinstance(caught.value, DefinitionError) and isinstance(caught.value, MyceliumError)


def test_an_action_and_a_condition_may_not_share_a_name() -> None:
    with pytest.raises(TreeDefinitionError, match="declares an action and a condition both named 'check'"):

        @tree
        def Clash():
            @Action
            async def check(bb, tb):  # type: ignore[no-untyped-def]
                return Status.SUCCESS

            @Condition
            def check(bb):  # type: ignore[no-untyped-def]  # noqa: F811
                return True

            @root
            @Sequence
            def main():  # type: ignore[no-untyped-def]
                yield check


def test_bad_fsm_actions_are_listed_together() -> None:
    @septum.state
    def Broken():  # no on_state, no can_dwell: septum refuses it
        pass

    with pytest.raises(TreeDefinitionError, match="tree 'Bad' has 3 problems") as caught:

        @tree
        def Bad():
            @Action(fsm=Off)
            async def two(bb, tb):  # type: ignore[no-untyped-def]
                return Status.SUCCESS

            @Action(fsm="Off")  # type: ignore[arg-type]
            async def named(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
                return Status.SUCCESS

            @Action(fsm=Broken)
            async def broken(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
                return Status.SUCCESS

            @root
            @Sequence
            def main():  # type: ignore[no-untyped-def]
                yield two
                yield named
                yield broken

    text = str(caught.value)
    assert "Action 'two': with fsm= it is called as two(bb, tb, fsm_runner), but takes 2 argument(s)" in text
    assert "Action 'named': fsm='Off' is not a state. Fix: pass the initial @septum.state" in text
    assert "Action 'broken' state Broken: has no" in text


def two_parameters(bb: Any, tb: Any) -> Status:
    return Status.SUCCESS


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (
            lambda bb, tb: Status.SUCCESS,
            "Action (<lambda>): with fsm= it is called with (bb, tb, fsm_runner), but takes 2 argument(s). "
            "Fix: write the lambda as `lambda bb, tb, fsm_runner: ...`",
        ),
        (
            functools.partial(two_parameters),
            "Action (partial object): with fsm= it is called with (bb, tb, fsm_runner), but takes 2 "
            "argument(s). Fix: define a function in its place, e.g. `async def step(bb, tb, fsm_runner)` "
            "(the action is named after it)",
        ),
        (
            two_parameters,
            "Action 'two_parameters': with fsm= it is called as two_parameters(bb, tb, fsm_runner), but "
            "takes 2 argument(s). Fix: define it as `async def two_parameters(bb, tb, fsm_runner)`",
        ),
    ],
    ids=["lambda", "partial", "def"],
)
def test_an_fsm_action_of_the_wrong_arity_is_named_with_a_fix_to_follow(action: Any, problem: str) -> None:
    # The subject never holds a repr (a partial's reads 'functools.partial(<function ... at 0x...>)').
    whole = r"tree 'Odd' has 1 problem:\n  - " + re.escape(problem) + "$"
    with pytest.raises(TreeDefinitionError, match=whole):

        @tree
        def Odd():
            root(Action(fsm=Off)(action))


async def test_a_machine_that_cannot_be_made_is_an_fsm_instantiation_error() -> None:
    with pytest.raises(
        FSMInstantiationError, match=r"tree 'Unchecked': the machine of action 'broken' \(from Broken\)"
    ):
        await _a_machine_that_cannot_be_made()
    assert isinstance(FSMInstantiationError("x"), ExecutionError | MyceliumError)


async def test_tree_spores_adapter_logs_an_fsm_action_with_its_machine_state() -> None:
    adapter = TreeSporesAdapter("Lamp")

    @tree
    def Logged():
        @Action(fsm=Off)
        @adapter.log_action("switched", log_blackboard=False)
        async def switch(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
            if fsm_runner.current_state is Off:
                fsm_runner.send_message("on")
                return Status.RUNNING
            return Status.SUCCESS

        root(switch)

    memory = MemorySink()
    spores.configure(transport=memory)
    try:
        runner = TreeRunner(Logged, {}, ManualClock())
        assert await runner.run() is Status.SUCCESS
        await runner.aclose()
    finally:
        spores.configure()
    assert [(e["attributes"]["fsm_state"], e["attributes"]["status"]) for e in memory.events("switched")] == [
        ("Off", Status.RUNNING),
        ("On", Status.SUCCESS),
    ]


async def test_a_tick_writes_nothing_on_the_blackboard_and_leaves_get_the_instance_as_ctx() -> None:
    class Sealed:  # 0.x needed a blackboard that accepts new attributes
        __slots__ = ("seen",)

        def __init__(self) -> None:
            self.seen: list[Any] = []

    @tree
    def Watching():
        @bt.action
        def look(bb, ctx):  # type: ignore[no-untyped-def]
            bb.seen.append(ctx)
            return Status.SUCCESS

        @root
        @Sequence
        def main():  # type: ignore[no-untyped-def]
            yield look

    bb = Sealed()
    runner = TreeRunner(Watching, bb, ManualClock())
    assert await runner.tick() is Status.SUCCESS
    assert bb.seen == [runner.instance] and isinstance(runner.instance, TreeInstance)
    await runner.aclose()


async def _driven_outside_tree_runner() -> None:
    await Runner(lamp([]), {}).tick()


async def _a_machine_that_cannot_be_made() -> None:
    """Only a tree made by hand around mycelium's leaf function skips the checks of @tree."""

    @septum.state
    def Broken():
        pass

    async def fn(bb: Any, tb: Any, fsm_runner: Any) -> Status:
        return Status.SUCCESS

    unchecked = Tree("Unchecked", bt.action(name="broken")(DrivenMachine("broken", Broken, fn, True)))
    TreeRunner(unchecked, {}, ManualClock())


async def _an_unknown_machine() -> None:
    TreeRunner(lamp([]), {}, ManualClock()).fsms["lamp"]


FSM_REFUSALS = [
    (
        _driven_outside_tree_runner,
        ExecutionError,
        "action 'switch' drives a state machine",
        "run the tree with",
    ),
    (
        _a_machine_that_cannot_be_made,
        FSMInstantiationError,
        "the machine of action 'broken'",
        "add `@septum.on_state",
    ),
    (_an_unknown_machine, KeyError, r"no Action\(fsm=...\) named 'lamp'", "name one of those actions"),
]


@pytest.mark.parametrize(
    ("trigger", "kind", "match", "fix"), FSM_REFUSALS, ids=[t.__name__.strip("_") for t, *_ in FSM_REFUSALS]
)
async def test_each_fsm_in_bt_refusal_ends_with_one_fix(
    trigger: Any, kind: type[Exception], match: str, fix: str
) -> None:
    # Before: their advice came after "; " ("...runs elsewhere; run the tree with ..."), which
    # split_fix() and the engines quoting them (fix_last) could not find: no ". Fix: " at all.
    with pytest.raises(kind, match=match) as info:
        await trigger()
    said = info.value.args[0]
    assert said.count(". Fix: ") == 1 and split_fix(said)[1].startswith(fix), said
    cause = info.value.__cause__
    if cause is not None:  # its cause's fix is the one, with nothing glued after it
        assert split_fix(said)[1] == split_fix(str(cause))[1], said
