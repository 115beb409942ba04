"""State machines inside Petri-net transitions: state across firings, keys, timeouts, faults."""

import asyncio
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import (
    DefinitionError,
    ExecutionError,
    HandlerError,
    ManualClock,
    UndeclaredLabelError,
)
from mycorrhizal.hypha import Runner
from mycorrhizal.mycelium import PNRunner, Rejection, machines, pn
from mycorrhizal.septum import LabeledTransition, Repeat, StateConfiguration, septum

from .conftest import STRAY, STRAY_FIX, Gate, RunNet, Shut, Tally, machine_failing_on, machine_mislabelling


def gate_net(initial: Any = Gate, **options: Any) -> Any:
    @pn.net
    def Gated(builder):  # type: ignore[no-untyped-def]
        inbox, passed, refused, failed = (builder.place(n) for n in ("inbox", "passed", "refused", "failed"))

        @builder.transition(
            fsm=initial, inputs=[inbox], outputs=[passed], rejected=refused, on_error=failed, **options
        )
        async def gate(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Gated


async def test_machine_keeps_its_state_across_firings(running: RunNet) -> None:
    runner = await running(gate_net())
    runner.add_tokens("inbox", ["a", "close", "b", "c"])
    await runner.run_until_idle()
    assert runner.tokens("passed") == ("a", "close")
    assert runner.tokens("refused") == (
        Rejection("b", "gate is shut", "Gated.gate"),
        Rejection("c", "gate is shut", "Gated.gate"),
    )


async def test_timeouts_run_on_the_nets_clock_without_any_token(running: RunNet, clock: ManualClock) -> None:
    runner = await running(gate_net())
    runner.add_token("inbox", "close")
    await runner.run_until_idle()
    await clock.run_for(4.9)
    runner.add_token("inbox", "early")
    await runner.run_until_idle()
    assert runner.tokens("refused")[-1].token == "early"
    await clock.run_for(0.1)  # Shut's timeout: back to Gate with no token needed
    runner.add_token("inbox", "late")
    await runner.run_until_idle()
    assert runner.tokens("passed") == ("close", "late")


async def test_fsm_key_gives_one_machine_per_key(running: RunNet) -> None:
    runner = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    runner.add_tokens("inbox", ["east:close", "west:x", "east:y", "west:z"])
    await runner.run_until_idle()
    # east's gate is shut; west's machine never saw a close and keeps letting tokens through
    assert runner.tokens("passed") == ("east:close", "west:x", "west:z")
    assert [r.token for r in runner.tokens("refused")] == ["east:y"]
    living = machines(runner, "gate")
    assert {key: fsm.current_state.name for key, fsm in living.items()} == {"east": "Shut", "west": "Gate"}


async def test_blackboard_is_the_same_object_for_net_and_machine(running: RunNet) -> None:
    @pn.net
    def Counting(builder):  # type: ignore[no-untyped-def]
        inbox, done = builder.place("inbox"), builder.place("done")

        @builder.transition(fsm=Tally, inputs=[inbox], outputs=[done])
        async def count(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            bb.setdefault("boards", []).append(bb)

    bb: dict[str, Any] = {}
    runner = await running(Counting, bb)
    runner.add_tokens("inbox", range(3))
    await runner.run_until_idle()
    assert bb["tally"] == 3 and all(board is bb for board in bb["boards"])
    assert runner.tokens("done") == (0, 1, 2)


Fragile = machine_failing_on("poison", "passed")


async def test_a_raising_machine_handler_loses_no_token(running: RunNet) -> None:
    runner = await running(gate_net(Fragile))
    runner.add_tokens("inbox", ["a", "poison", "b"])
    await runner.run_until_idle()
    assert runner.tokens("passed") == ("a", "b")
    (failed,) = runner.tokens("failed")
    assert failed.token == "poison" and isinstance(failed.error, HandlerError)
    assert failed.error.state == "Fragile"


@septum.state(config=StateConfiguration(terminal=True))
def Finished():
    pass


@septum.state
def OneShot():
    class Events(Enum):
        DONE = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("passed")
            return Events.DONE

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        from mycorrhizal.septum import LabeledTransition

        return [LabeledTransition(Events.DONE, Finished)]


async def test_tokens_after_the_machine_finished_are_rejected(running: RunNet) -> None:
    runner = await running(gate_net(OneShot))
    runner.add_tokens("inbox", ["first", "second"])
    await runner.run_until_idle()
    assert runner.tokens("passed") == ("first",)
    (rejection,) = runner.tokens("refused")
    assert rejection.reason == "its machine has finished (terminal state Finished)"


@septum.state(config=StateConfiguration(timeout=3.0))
def Careless():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        return None


def test_invalid_embedded_machine_fails_the_net_definition() -> None:
    expected = "transition 'gate' fsm state Careless: has no transitions and is not terminal"
    with pytest.raises(DefinitionError, match=expected) as info:
        gate_net(Careless)
    assert "net 'Gated'" in str(info.value)


@septum.state(config=StateConfiguration(timeout=5.0))
def Calling():
    class Events(Enum):
        GAVE_UP = auto()

    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            await asyncio.Event().wait()  # a backend call that never answers

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return Events.GAVE_UP

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        from mycorrhizal.septum import LabeledTransition

        return [LabeledTransition(Events.GAVE_UP, Calling)]


async def test_a_hung_handler_is_interrupted_by_its_timeout(running: RunNet, clock: ManualClock) -> None:
    runner = await running(gate_net(Calling))
    runner.add_token("inbox", "request")
    idle = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(4.9)
    assert runner.in_flight == 1
    await clock.run_for(0.1)
    await idle
    (rejection,) = runner.tokens("refused")
    assert rejection.token == "request" and "did not route it" in rejection.reason


@pytest.mark.parametrize(
    "options, message",
    [
        ({"common_data": {}}, "fsm_options may not set common_data: the machine uses the net's"),
        ({"timebase": ManualClock()}, "fsm_options may not set timebase: the machine uses the net's"),
        ({"eror_state": Finished}, "fsm_options has eror_state, which StateMachine does not take"),
        ({"max_queue_size": 0}, "fsm_options: max_queue_size must be an int >= 1 or None"),
    ],
)
def test_bad_fsm_options_are_definition_errors_naming_the_transition(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        gate_net(Tally, fsm_options=options)
    assert "transition 'gate'" in str(info.value)


@septum.state(config=StateConfiguration(can_dwell=True))
def Salvage():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.reject(f"salvaged after {ctx.error}")


def test_the_machines_picture_shows_its_error_state() -> None:
    from mycorrhizal.render import to_dot

    dot = to_dot(gate_net(Fragile, fsm_options={"error_state": Salvage}))
    assert 'label="gate: Fragile"' in dot and "Salvage" in dot


async def test_stop_closes_the_machines_and_a_restart_starts_fresh_ones(clock: ManualClock) -> None:
    # Until issue 8 the machines outlived runner.stop(): their timers kept firing with the net stopped.
    runner = PNRunner(gate_net(), {}, clock)
    await runner.start()
    runner.add_token("inbox", "close")
    await runner.run_until_idle()
    shut = machines(runner, "gate")[None]
    assert shut.current_state is Shut and clock.pending == 1
    await runner.stop()
    assert len(machines(runner, "gate")) == 0 and clock.pending == 0
    await clock.run_for(5)
    assert shut.current_state is Shut  # its timeout did not fire
    await runner.start()
    runner.add_token("inbox", "again")
    await runner.run_until_idle()
    assert runner.tokens("passed") == ("close", "again")  # a fresh machine, at the Gate
    assert machines(runner, "gate")[None] is not shut
    await runner.stop()


@septum.state(config=StateConfiguration(timeout=0.001))
def Ticking():
    """Counts its own timeouts on the blackboard, forever; routes tokens to 'passed'."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("passed")

    class Events(Enum):
        TICK = auto()

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        ctx.common["timeouts"] += 1
        return Events.TICK

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.TICK, Repeat)]


async def test_no_timeout_fires_after_stop_from_any_of_many_machines(clock: ManualClock) -> None:
    bb = {"timeouts": 0}
    runner = PNRunner(gate_net(Ticking, fsm_key=lambda token: token), bb, clock)
    await runner.start()
    runner.add_tokens("inbox", range(200))
    await runner.run_until_idle()
    await clock.run_for(0.01)
    assert bb["timeouts"] >= 200 and len(machines(runner, "gate")) == 200
    await runner.stop()
    before = bb["timeouts"]
    await clock.run_for(0.2)
    assert bb["timeouts"] == before and clock.pending == 0
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


@septum.state(config=StateConfiguration(timeout=1.0))
def Winding():
    """Its timeout handler takes 100 s (on the net's clock) before it moves on."""

    class Events(Enum):
        WOUND = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("passed")

    @septum.on_timeout
    async def on_timeout(ctx):  # type: ignore[no-untyped-def]
        await ctx.timebase.sleep(100)
        ctx.common["wound"] = True
        return Events.WOUND

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.WOUND, Winding)]


async def test_stop_cancels_a_timeout_handler_running_in_the_background(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = PNRunner(gate_net(Winding), bb, clock)
    runner.add_token("inbox", "a")
    await runner.run_until_idle()
    await clock.run_for(1)  # the timeout fires with no token in hand: the machine handles it alone
    assert len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()]) == 1
    await runner.stop()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    await clock.run_for(200)
    assert "wound" not in bb and clock.pending == 0


# -- an fsm= transition added to a running net ------------------------------------------------------


@pn.net(name="Gated")
def Ungated(builder):  # type: ignore[no-untyped-def]
    """:func:`gate_net`'s places, without its transition (a running net is given it)."""
    for name in ("inbox", "passed", "refused", "failed"):
        builder.place(name)


async def gate(consumed: Any, bb: Any, timebase: Any) -> None:
    """The body of an fsm= transition added while running: the machine routes the tokens."""


def by_zone(token: str) -> str:
    return token.split(":")[0]


@pytest.mark.parametrize("runner_class", [Runner, PNRunner])
@pytest.mark.parametrize("options", [{}, {"fsm_key": by_zone}], ids=["one machine", "fsm_key"])
async def test_an_fsm_transition_added_while_running_routes_as_a_declared_one(
    runner_class: type[Runner], options: dict[str, Any], clock: ManualClock
) -> None:
    declared = runner_class(gate_net(**options), {}, clock)
    added = runner_class(Ungated, {}, clock)
    await declared.start()
    await added.start()
    added.add_transition(
        "gate",
        gate,
        fsm=Gate,
        inputs=["inbox"],
        outputs=["passed"],
        rejected="refused",
        on_error="failed",
        **options,
    )
    for runner in (declared, added):
        runner.add_tokens("inbox", ["east:a", "east:close", "west:b", "east:c"])
        await runner.run_until_idle()
    assert dict(added.marking()) == dict(declared.marking())
    assert added.tokens("refused")[-1] == Rejection("east:c", "gate is shut", "Gated.gate")
    assert {k: m.current_state.name for k, m in machines(added, "gate").items()} == {
        k: m.current_state.name for k, m in machines(declared, "gate").items()
    }
    await clock.run_for(5.0)  # the added machine's timeout runs on the net's clock too: it reopens
    added.add_token("inbox", "east:d")
    await added.run_until_idle()
    assert added.tokens("passed")[-1] == "east:d"
    await declared.stop()
    await added.stop()
    assert machines(added, "gate") == {}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"fsm": Careless}, "transition 'gate' fsm state Careless: has no transitions and is not terminal"),
        ({"fsm": Tally, "fsm_options": {"common_data": {}}}, "fsm_options may not set common_data"),
        ({"fsm": Tally, "fsm_key": "zone"}, "transition 'gate'.*fsm_key"),
        ({"fsm_key": by_zone}, "transition 'gate'.*fsm_key"),
    ],
)
async def test_a_broken_fsm_transition_added_while_running_is_a_definition_error_and_changes_nothing(
    options: dict[str, Any], message: str, running: RunNet
) -> None:
    runner = await running(Ungated)
    before = runner.spec
    with pytest.raises(DefinitionError, match=message):
        runner.add_transition("gate", gate, inputs=["inbox"], outputs=["passed"], **options)
    assert runner.spec is before and runner.spec.lookup("gate") is None


KeyedFragile = machine_failing_on(("k2", "poison"), "passed")


@pytest.mark.parametrize("arcs", [1, 2])
async def test_a_machines_error_names_its_key_the_token_and_the_state(running: RunNet, arcs: int) -> None:
    @pn.net
    def Keyed(builder):  # type: ignore[no-untyped-def]
        inbox, passed = builder.place("inbox"), builder.place("passed")

        @builder.transition(
            fsm=KeyedFragile, fsm_key=lambda token: token[0], inputs=[(inbox, arcs)], outputs=[passed]
        )
        async def gate(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    poison = ("k2", "poison")
    runner = await running(Keyed)
    runner.add_tokens("inbox", [("k1", "a"), poison])
    await runner.run_until_idle()
    (error,) = runner.errors
    assert error.state == "Fragile" and error.transition == "Keyed.gate"
    said = r"machine of key 'k2', token \('k2', 'poison'\): state Fragile: on_state raised .*\. Fix: "
    with pytest.raises(HandlerError, match=said):
        raise error


@septum.state(config=StateConfiguration(timeout=5.0, can_dwell=True))
def TimerBreaks():
    """Its timeout handler raises, after ``bb["stall"]`` seconds (on the net's clock) if that is set."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("passed")

    @septum.on_timeout
    async def on_timeout(ctx):  # type: ignore[no-untyped-def]
        if "stall" in ctx.common:
            await ctx.timebase.sleep(ctx.common["stall"])
        raise RuntimeError("timer handler broke")


KEYED = pytest.mark.parametrize(
    "key, machine",
    [(lambda token: token[0], r"machine of key 'k1'"), (None, r"the machine")],
    ids=["keyed", "unkeyed"],
)


def said_as_the_machines(failed: Any, machine: str) -> None:
    """``failed`` (a FailedToken of token ('k1', 'second')) holds TimerBreaks' background failure,
    said as the machine's, the token only receiving it."""
    said = (
        rf"^{machine}, in state TimerBreaks, failed earlier in the background \(its timeout handler "
        r"ran with nobody running the machine\); received by the firing of token \('k1', 'second'\), "
        r"which did not cause it: state TimerBreaks: on_timeout raised RuntimeError"
    )
    assert failed.token == ("k1", "second")
    assert failed.error.state == "TimerBreaks" and failed.error.transition == "Gated.gate"
    with pytest.raises(HandlerError, match=said):
        raise failed.error


@KEYED
async def test_a_background_failure_is_said_as_the_machines_not_the_receiving_tokens(
    running: RunNet, clock: ManualClock, key: Any, machine: str
) -> None:
    runner = await running(gate_net(TimerBreaks, fsm_key=key))
    runner.add_token("inbox", ("k1", "first"))
    await runner.run_until_idle()
    await clock.run_for(5)  # on_timeout raises with nobody running the machine: kept for a firing
    runner.add_token("inbox", ("k1", "second"))
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    said_as_the_machines(failed, machine)


@KEYED
async def test_a_background_failure_while_a_firing_waits_for_the_machine_is_said_as_the_machines(
    running: RunNet, clock: ManualClock, key: Any, machine: str
) -> None:
    runner = await running(gate_net(TimerBreaks, fsm_key=key), {"stall": 10.0})
    runner.add_token("inbox", ("k1", "first"))
    await runner.run_until_idle()
    await clock.run_for(5)  # the timer fires with nobody running the machine: on_timeout stalls
    runner.add_token("inbox", ("k1", "second"))
    firing = asyncio.create_task(runner.run_until_idle())
    await asyncio.sleep(0)
    meanwhile = runner.tokens("inbox") + runner.tokens("failed")
    await clock.run_for(10)  # on_timeout raises now, and the waiting firing's run() raises it
    await firing
    assert meanwhile == ()  # the firing had taken the token, and waited for the machine
    (failed,) = runner.tokens("failed")
    said_as_the_machines(failed, machine)


Mislabelled = machine_mislabelling("passed")


@pytest.mark.parametrize(
    "then, token, said",
    [
        (
            10.0,
            ("k1", "second"),
            r"^machine of key 'k1', in state Mislabelled, failed earlier in the background \(its timeout "
            r"handler ran with nobody running the machine\); received by the firing of token "
            r"\('k1', 'second'\), which did not cause it: state Mislabelled: on_timeout ",
        ),
        (
            0.0,
            ("k1", "mislabel"),
            r"^machine of key 'k1', token \('k1', 'mislabel'\): state Mislabelled: on_state ",
        ),
    ],
    ids=["its timeout's, in the background", "the firing's own"],
)
async def test_a_machines_undeclared_label_is_said_with_its_key_and_state(
    running: RunNet, clock: ManualClock, then: float, token: Any, said: str
) -> None:
    # Before: only a HandlerError was labelled; an UndeclaredLabelError said neither key nor token,
    # and one its timeout hit in the background was taken for the receiving token's.
    runner = await running(gate_net(Mislabelled, fsm_key=lambda token: token[0]))
    runner.add_token("inbox", ("k1", "first"))
    await runner.run_until_idle()
    await clock.run_for(then)
    runner.add_token("inbox", token)
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    assert failed.token == token
    assert (failed.error.state, failed.error.transition) == ("Mislabelled", "Gated.gate")
    with pytest.raises(UndeclaredLabelError, match=said + STRAY + STRAY_FIX):
        raise failed.error


@pytest.mark.parametrize(
    "options, fix",
    [
        ({}, r"or give fsm_options an error_state \(or on_error\) to route failures to$"),
        (
            {"on_error": lambda ctx, error: None},
            r"or have on_error return a state for it \(or give fsm_options an error_state\)$",
        ),
    ],
    ids=["no error_state nor on_error", "on_error returned None"],
)
async def test_a_machines_fix_in_a_net_says_to_give_the_error_state_in_fsm_options(
    running: RunNet, options: dict[str, Any], fix: str
) -> None:
    # Before: "give the machine an error_state", which a net's machine is given through fsm_options.
    runner = await running(gate_net(Fragile, fsm_options=options))
    runner.add_token("inbox", "poison")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    said = r"^token 'poison': state Fragile: on_state raised ValueError: cannot handle 'poison'\. Fix: "
    with pytest.raises(HandlerError, match=said + r"handle ValueError in on_state, " + fix):
        raise failed.error
    assert str(failed.error).count(". Fix: ") == 1


@septum.state(config=StateConfiguration(can_dwell=True))
def Restless():
    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            await ctx.machine.run()  # a bug: the machine is running this very handler


@pytest.mark.parametrize("options", [{}, {"error_state": Salvage}], ids=["no error_state", "error_state"])
async def test_a_machine_driving_itself_from_its_handler_is_raised_never_routed(
    running: RunNet, options: dict[str, Any]
) -> None:
    # Before: the refusal was the handler's failure, routed like one: with an error_state the machine
    # went to Salvage (which rejected the token), else a HandlerError saying to route failures.
    runner = await running(gate_net(Restless, fsm_options=options))
    runner.add_token("inbox", "go")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    said = (
        r"^token 'go': machine Restless: state Restless: on_state called run\(\) on its own machine"
        r"[^\n]*\. Fix: send a message with ctx\.send_message\(\.\.\.\) \(or return a label\) instead "
        r"of driving the machine from its own handler$"
    )
    with pytest.raises(ExecutionError, match=said):
        raise failed.error
    assert not isinstance(failed.error, HandlerError) and runner.tokens("refused") == ()
    assert machines(runner, "gate")[None].current_state is Restless
