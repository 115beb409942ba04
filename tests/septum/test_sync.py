"""The synchronous door: send()/step()/run_sync() with no event loop, the same semantics as run()."""

# ruff: noqa: E501 - messages are checked whole, as a user reads them

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.septum import (
    LabeledTransition,
    Retry,
    StateConfiguration,
    StateMachine,
    StateMachineComplete,
)
from tests.septum._helpers import E, log_to, make, terminal


def light() -> Any:
    """Green -(GO after a message 'walk', or its 5 s timeout)-> Red, which retries twice then ends."""
    end = terminal("Off", on_enter=lambda ctx: log_to(ctx, "off"))
    red = make(
        "Red",
        config=StateConfiguration(retries=1),
        on_state=lambda ctx: E.RETRY if ctx.msg == "again" else None,
        on_enter=lambda ctx: log_to(ctx, ("red", ctx.retry_count)),
        on_fail=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.DONE, end)],
    )
    return make(
        "Green",
        config=StateConfiguration(timeout=5),
        on_state=lambda ctx: E.GO if ctx.msg == "walk" else None,
        on_enter=lambda ctx: log_to(ctx, "green"),
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, red)],
    )


def test_send_handles_a_message_at_once_without_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.get_running_loop()  # this test really runs outside any loop
    fsm = StateMachine(light(), timebase=ManualClock())
    assert fsm.send("walk") == 3  # Green's entry run, the message (Green -> Red), Red's entry run
    assert fsm.current_state.name == "Red" and fsm.common["log"] == ["green", ("red", 0)]
    assert fsm.send("again") == 2  # the message (a retry), then Red's entry run
    assert fsm.retry_count == 1
    fsm.send("again")  # the budget is spent: on_fail -> Off
    assert fsm.is_complete and fsm.common["log"][-1] == "off"


def test_step_does_one_step_and_says_whether_it_did() -> None:
    fsm = StateMachine(light(), timebase=ManualClock())
    assert fsm.step() is True  # initializes, then Green's entry run
    assert fsm.step() is False
    fsm.send_message("walk")
    assert fsm.step() is True and fsm.current_state.name == "Red"


def test_timers_run_on_a_manual_clock_and_the_next_call_handles_them() -> None:
    clock = ManualClock()
    fsm = StateMachine(light(), timebase=clock)
    fsm.run_sync()
    clock.advance(4.9)
    assert fsm.run_sync() == 0 and fsm.current_state.name == "Green"
    clock.advance(0.1)  # the timeout fires and is queued: no loop runs the machine in the background
    assert fsm.current_state.name == "Green" and not fsm.is_idle
    assert fsm.run_sync() == 2 and fsm.current_state.name == "Red"


def trace(fsm: StateMachine) -> list[str]:
    seen: list[str] = []
    fsm.add_observer(lambda event: seen.append(f"{type(event).__name__} {event.state}"))
    return seen


SCRIPT = ["x", "walk", "again", "y", "again"]


def test_the_synchronous_door_behaves_exactly_as_run() -> None:
    door = StateMachine(light(), timebase=ManualClock())
    door_seen = trace(door)
    for msg in SCRIPT:
        door.send(msg)

    async def awaited() -> tuple[list[str], list[Any]]:
        fsm = StateMachine(light(), timebase=ManualClock())
        seen = trace(fsm)
        for msg in SCRIPT:
            fsm.send_message(msg)
            await fsm.run()
        return seen, fsm.common["log"]

    seen, log = asyncio.run(awaited())
    assert door_seen == seen and door.common["log"] == log and door.is_complete


def test_a_complete_machine_refuses_more_as_run_does() -> None:
    fsm = StateMachine(terminal("Stop"))
    assert fsm.run_sync() == 0 and fsm.is_complete
    with pytest.raises(
        StateMachineComplete,
        match=r"machine Stop is complete .*; it has no more steps\. Fix: build a new StateMachine",
    ):
        fsm.step()
    with pytest.raises(
        StateMachineComplete,
        match=r"machine Stop is complete .*; it takes no more messages\. Fix: build a new StateMachine",
    ):
        fsm.send("late")


async def async_on_state(ctx: Any) -> None:
    return None


def test_a_machine_with_an_async_handler_is_refused_before_anything_moves() -> None:
    fsm = StateMachine(make("Awaits", config=StateConfiguration(can_dwell=True), on_state=async_on_state))
    with pytest.raises(
        ExecutionError,
        match=r"machine Awaits cannot be driven synchronously: Awaits.on_state is async\. Fix: use `await run\(\)`/`await tick\(\)`, or make it a plain def",
    ):
        fsm.send("x")
    assert fsm.queue_size == 0


def test_an_async_error_hook_is_refused_too() -> None:
    async def hook(ctx: Any, error: Any) -> None:
        return None

    fsm = StateMachine(light(), on_error=hook, timebase=ManualClock())
    with pytest.raises(
        ExecutionError, match="machine Green cannot be driven synchronously: the on_error hook is async"
    ):
        fsm.step()


def test_a_plain_handler_returning_something_that_really_waits_is_an_error() -> None:
    class Waits:
        def __await__(self) -> Any:
            yield asyncio.Future  # what a real wait yields to the loop: here, something not None
            return None

    fsm = StateMachine(
        make(
            "Sneaky",
            config=StateConfiguration(can_dwell=True),
            on_state=lambda ctx: Waits() if ctx.msg else None,
        )
    )
    fsm.run_sync()
    with pytest.raises(ExecutionError, match="machine Sneaky: a handler in state Sneaky waited for"):
        fsm.send("x")
    # Unwound as a cancelled step: the machine can be used again (the handler had returned, so its
    # message counts as handled, as with await run()).
    assert fsm.current_state.name == "Sneaky" and fsm.send(0) == 1


def test_a_handler_cannot_drive_its_own_machine_through_the_door() -> None:
    def reenter(ctx: Any) -> None:
        if ctx.msg == "in":
            ctx.machine.send("again")

    fsm = StateMachine(make("Selfish", config=StateConfiguration(can_dwell=True), on_state=reenter))
    with pytest.raises(ExecutionError, match="machine Selfish is being run"):
        fsm.send("in")


def test_timed_states_on_a_real_clock_are_refused_with_the_fix() -> None:
    with pytest.raises(
        ExecutionError,
        match=r"machine Green has states with a timeout, and its timebase MonotonicClock keeps its timers on an event loop\. Fix: for the synchronous door build it with timebase=ManualClock\(\)",
    ):
        StateMachine(light()).step()
