"""What 0.x accepted at build time (UPSTREAM-API §1.5, §7.3): terminal states with ``on_state``,
states whose ``transitions()`` is empty, a timeout without ``on_timeout``; WARNINGs, ``strict=True``
and ``mycorrhizal check``."""

from __future__ import annotations

import asyncio
import logging
import re
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, HandlerError, ManualClock
from mycorrhizal.inspection import check_report
from mycorrhizal.septum import (
    LabeledTransition,
    StateConfiguration,
    StateMachine,
    StateMachineComplete,
    septum,
)

from ._helpers import E, make, terminal


def noted(what: str) -> Any:
    def handler(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append((what, ctx.msg))

    return handler


def go_on(ctx: Any) -> Any:
    return E.GO if ctx.msg == "go" else None


# --- terminal states with on_state ---------------------------------------------------------------


@pytest.fixture
def finished() -> Any:
    """Start -go-> Finished, a terminal state with on_enter and on_state."""
    end = terminal(
        "Finished", on_enter=noted("enter"), on_state=lambda ctx: noted("on_state")(ctx) or "ignored"
    )
    return make("Start", on_state=go_on, transitions=lambda: [LabeledTransition(E.GO, end)]), end


async def test_terminal_on_state_runs_once_on_arrival_after_on_enter(finished: Any) -> None:
    start, end = finished
    fsm = StateMachine(start)
    fsm.send_message("go")
    steps = await fsm.run()
    assert fsm.current_state is end and fsm.is_complete
    # Arrival is part of the step that entered the state; its on_state sees no message.
    assert fsm.common["log"] == [("enter", "go"), ("on_state", None)]
    assert steps == 2  # Start's entry run and the message: arrival is not a step of its own
    assert await fsm.run() == 0
    with pytest.raises(StateMachineComplete, match="terminal state Finished"):
        await fsm.tick()
    assert fsm.common["log"] == [("enter", "go"), ("on_state", None)]  # never again


async def test_terminal_on_state_runs_once_with_tick(finished: Any) -> None:
    start, _ = finished
    fsm = StateMachine(start)
    fsm.send_message("go")
    assert await fsm.tick() is True  # Start's entry run
    assert await fsm.tick() is True  # the message: Start -> Finished, which arrives
    assert fsm.is_complete and fsm.common["log"][-1] == ("on_state", None)


async def test_a_terminal_initial_state_runs_its_on_state_on_initialize() -> None:
    only = terminal("Only", on_state=noted("on_state"))
    fsm = StateMachine(only)
    await fsm.initialize()
    assert fsm.is_complete and fsm.common["log"] == [("on_state", None)]


def failing(ctx: Any) -> None:
    raise ValueError("cannot finish")


async def test_a_failing_terminal_on_state_completes_the_machine_and_raises() -> None:
    end = terminal("Broken", on_state=failing)
    start = make("Start", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, end)])
    fsm = StateMachine(start)
    with pytest.raises(HandlerError, match="state Broken: on_state raised ValueError: cannot finish"):
        await fsm.run()
    assert fsm.current_state is end and fsm.is_complete


async def test_a_failing_terminal_on_state_is_routed_to_the_error_state() -> None:
    end = terminal("Broken", on_state=failing)
    oops = terminal("Oops", on_enter=lambda ctx: ctx.common.setdefault("why", ctx.error.state))
    start = make("Start", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, end)])
    fsm = StateMachine(start, error_state=oops)
    await fsm.run()
    assert fsm.current_state is oops and fsm.common["why"] == "Broken"


async def test_a_cancelled_terminal_on_state_leaves_the_machine_complete() -> None:
    gate = asyncio.Event()

    async def slow(ctx: Any) -> None:
        await gate.wait()

    end = terminal("Slow", on_state=slow)
    start = make("Start", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, end)])
    fsm = StateMachine(start)
    task = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert fsm.current_state is end and fsm.is_complete


def test_terminal_states_still_refuse_what_could_never_run() -> None:
    with pytest.raises(DefinitionError, match="is terminal but declares on_timeout"):
        StateMachine(terminal("Final", on_timeout=lambda ctx: None))


# --- accepted with a WARNING; refused by strict machines -----------------------------------------


def empty_transitions() -> Any:
    return make("Stuck", on_state=lambda ctx: None, transitions=lambda: [])


def timed_without_handler(timeout: float = 2.0) -> Any:
    return make(
        "Timed",
        config=StateConfiguration(timeout=timeout),
        on_state=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.GO, terminal())],
    )


def terminal_with_transitions() -> Any:
    end = terminal("Final", transitions=lambda: [LabeledTransition(E.BACK, make("Never", on_state=failing))])
    return make("Start", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, end)])


LENIENT = [
    (empty_transitions, "state Stuck: declares no transitions and is not terminal"),
    (timed_without_handler, "state Timed: has timeout=2.0 but no @septum.on_timeout handler"),
    (terminal_with_transitions, r"state Final: is terminal, so the 1 transition\(s\)"),
]


@pytest.mark.parametrize(("build", "message"), LENIENT, ids=["empty transitions", "timeout", "terminal"])
def test_accepted_with_one_warning_when_compiled(
    build: Any, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    states = build()
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        fsm = StateMachine(states)
        StateMachine(states)  # the spec is cached: its warnings are logged once
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "strict=True" in warned[0].getMessage()
    assert any(re.search(message, str(warning)) for warning in fsm.spec.warnings)


@pytest.mark.parametrize(("build", "message"), LENIENT, ids=["empty transitions", "timeout", "terminal"])
def test_strict_machines_refuse_them(build: Any, message: str) -> None:
    states = build()
    with pytest.raises(DefinitionError, match=message):
        StateMachine(states, strict=True)  # before the spec is cached
    StateMachine(states)
    with pytest.raises(DefinitionError, match=message):
        StateMachine(states, strict=True)  # and once it is


def test_a_group_declared_in_a_function_is_named_as_written_strict_or_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The header and the warning read "state machine test_....<locals>.Grp".
    @septum.group
    class Grp:
        stuck = empty_transitions()

    header = r"^state machine Grp has 1 problem:\n  - state Stuck: declares no transitions"
    with pytest.raises(DefinitionError, match=header):
        StateMachine(Grp, strict=True)  # before the spec is cached
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        StateMachine(Grp)
    assert [r.getMessage().split(": ")[0] for r in caplog.records] == ["state machine Grp"]
    with pytest.raises(DefinitionError, match=header):
        StateMachine(Grp, strict=True)  # and once it is


def test_strict_reports_warnings_with_the_errors() -> None:
    both = make("Both", config=StateConfiguration(timeout=1.0, retries=1), on_state=lambda ctx: None)
    with pytest.raises(DefinitionError, match="state machine Both has 2 problems") as info:
        StateMachine(both, strict=True)
    messages = [problem.message for problem in info.value.problems]
    assert len(messages) == 2, messages  # the retries without on_fail (an error) and the timeout
    assert "no @septum.on_timeout" in messages[1]


@pytest.mark.parametrize(("build", "message"), LENIENT, ids=["empty transitions", "timeout", "terminal"])
def test_mycorrhizal_check_reports_them(build: Any, message: str) -> None:
    ok, lines = check_report(build())
    assert not ok
    assert any(line.startswith("  WARN  ") and re.search(message, line) for line in lines)


def test_a_terminal_states_transitions_are_not_followed() -> None:
    # Never (reached only from Final's transitions) has no handler at all: it is not compiled.
    fsm = StateMachine(terminal_with_transitions())
    assert {s.name for s in fsm.spec.nodes} == {"Start", "Final"}


def test_a_terminal_state_declaring_no_transitions_is_fine() -> None:
    end = terminal("Done", transitions=lambda: [])
    fsm = StateMachine(
        make("Start", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, end)])
    )
    assert fsm.spec.warnings == ()


async def test_a_state_with_empty_transitions_waits(caplog: pytest.LogCaptureFixture) -> None:
    fsm = StateMachine(empty_transitions())
    fsm.send_message("anything")
    assert await fsm.run() == 2
    assert fsm.is_idle and not fsm.is_complete


def missing_on_timeout(timeout: float) -> str:
    """The whole message of the error a timeout without on_timeout fails the machine with."""
    return (
        rf"^state Timed: timed out \(timeout={timeout}\) but declares no @septum\.on_timeout handler\. Fix: "
        r"add an @septum\.on_timeout handler returning a label, or drop timeout= from its "
        r"StateConfiguration$"
    )


@pytest.mark.parametrize("call", ["run", "tick"])
@pytest.mark.parametrize("timeout", [2.0, 0])
async def test_a_timeout_without_on_timeout_fails_the_machine_when_it_fires(
    clock: ManualClock, call: str, timeout: float
) -> None:
    fsm = StateMachine(timed_without_handler(timeout), timebase=clock)
    await fsm.run()
    await clock.run_for(timeout)  # the background run hits the error, and the next run()/tick() raises it
    with pytest.raises(HandlerError, match=missing_on_timeout(timeout)) as raised:
        await getattr(fsm, call)()
    assert raised.value.state == "Timed" and fsm.current_state.name == "Timed"  # it stays, as a handler's
    assert await fsm.run() == 0  # raised once; the machine waits in its state


async def test_a_timeout_without_on_timeout_goes_to_the_error_state(clock: ManualClock) -> None:
    oops = terminal("Oops", on_enter=lambda ctx: ctx.common.setdefault("why", ctx.error))
    fsm = StateMachine(timed_without_handler(), timebase=clock, error_state=oops)
    await fsm.run()
    await clock.run_for(2.0)
    assert fsm.current_state is oops
    assert isinstance(fsm.common["why"], HandlerError)
    assert re.match(missing_on_timeout(2.0), str(fsm.common["why"]))


async def test_a_timeout_without_on_timeout_goes_to_the_on_error_hook(clock: ManualClock) -> None:
    heard: list[BaseException] = []

    def hook(ctx: Any, error: BaseException) -> Any:
        heard.append(error)
        return E.GO  # a label of the failing state, as 0.x's on_error_fn could return

    fsm = StateMachine(timed_without_handler(), timebase=clock, on_error=hook)
    await fsm.run()
    await clock.run_for(2.0)
    assert fsm.is_complete and fsm.current_state.name == "End"
    assert [type(e) for e in heard] == [HandlerError] and re.match(missing_on_timeout(2.0), str(heard[0]))


def test_a_state_function_returning_nothing_from_transitions_is_accepted() -> None:
    @septum.state()
    def Listening():
        class Events(Enum):
            HEARD = auto()

        @septum.on_state
        async def on_state(ctx):
            return None

        @septum.transitions
        def transitions():
            return []

    assert StateMachine(Listening).spec.warnings
