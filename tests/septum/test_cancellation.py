"""Cancelling the task that runs a machine in the middle of a step loses nothing and strands nothing."""

from __future__ import annotations

import asyncio
import logging
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock
from mycorrhizal.septum import (
    LabeledTransition,
    MachineEvent,
    StateConfiguration,
    StateMachine,
    StepCancelled,
    septum,
)


class E(Enum):
    NEXT = auto()


@septum.state(config=StateConfiguration(can_dwell=True))
class Worker:
    """Handles each message once, but may be held up in the middle of it."""

    @septum.on_state
    async def on_state(ctx):
        board = ctx.common
        board.setdefault("started", []).append(ctx.msg)
        if ctx.msg in board.get("hold", ()):
            await board["gate"].wait()
        board.setdefault("done", []).append(ctx.msg)


def worker() -> StateMachine:
    return StateMachine(Worker, common_data={"gate": asyncio.Event(), "hold": {"b"}})


async def cancel_when_held(fsm: StateMachine, run: Any) -> None:
    task = asyncio.create_task(run)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_message_whose_handler_is_cancelled_goes_back_to_the_head_of_the_queue() -> None:
    fsm = worker()
    events: list[MachineEvent] = []
    fsm.add_observer(events.append)
    for msg in "abc":
        fsm.send_message(msg)
    await cancel_when_held(fsm, fsm.run())
    assert fsm.common["done"] == [None, "a"] and fsm.queue_size == 2  # "b" is back, before "c"
    cancelled = [e for e in events if isinstance(e, StepCancelled)]
    assert [(e.state, e.role, e.message) for e in cancelled] == [("Worker", "on_state", "b")]
    fsm.common["hold"] = set()
    await fsm.run()
    assert fsm.common["done"] == [None, "a", "b", "c"]  # "b" handled once, in order


async def test_a_requeued_message_keeps_its_priority() -> None:
    fsm = worker()
    fsm.send_message("x", priority=-1)
    fsm.send_message("b", priority=5)
    fsm.send_message("y", priority=5)
    await fsm.initialize()
    await cancel_when_held(fsm, fsm.run())
    fsm.common["hold"] = set()
    await fsm.run()
    assert fsm.common["done"] == [None, "b", "y", "x"]


@septum.state
class Starting:
    """Its entry run is held up; then it goes on."""

    @septum.on_state
    async def on_state(ctx):
        ctx.common["entries"] = ctx.common.get("entries", 0) + 1
        await ctx.common["gate"].wait()
        return E.NEXT

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.NEXT, Arrived)]


@septum.state(config=StateConfiguration(terminal=True))
class Arrived:
    pass


@pytest.mark.parametrize("step", ["run", "tick"])  # tick() takes an entry run in a frame of its own
async def test_an_entry_run_that_is_cancelled_runs_again(step: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "mycorrhizal.septum")
    gate = asyncio.Event()
    fsm = StateMachine(Starting, common_data={"gate": gate})
    await fsm.initialize()
    await cancel_when_held(fsm, getattr(fsm, step)())
    assert fsm.common["entries"] == 1 and not fsm.is_idle  # the entry run is still owed
    assert "on_state cancelled in Starting; the entry run is owed again" in caplog.text
    gate.set()
    assert await fsm.tick() and fsm.common["entries"] == 2
    await fsm.run()
    assert fsm.common["entries"] == 2 and fsm.current_state is Arrived


@septum.state
class Before:
    @septum.on_state
    async def on_state(ctx):
        return E.NEXT

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.NEXT, SlowEntry)]


async def _slow_enter(ctx: Any) -> None:
    await ctx.common["gate"].wait()


@septum.state
class SlowEntry:
    on_enter = septum.on_enter(_slow_enter)

    @septum.on_state
    async def on_state(ctx):
        ctx.common["entry runs"] = ctx.common.get("entry runs", 0) + 1
        return E.NEXT

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.NEXT, Arrived)]


async def test_a_cancelled_on_enter_leaves_the_state_entered_and_its_entry_run_owed() -> None:
    gate = asyncio.Event()
    fsm = StateMachine(Before, common_data={"gate": gate})
    await cancel_when_held(fsm, fsm.run())
    assert fsm.current_state is SlowEntry and not fsm.is_idle
    gate.set()
    await fsm.run()
    assert fsm.common["entry runs"] == 1 and fsm.current_state is Arrived


@septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
class Timed:
    @septum.on_state
    async def on_state(ctx):
        return None

    @septum.on_timeout
    async def on_timeout(ctx):
        ctx.common["timeouts"] = ctx.common.get("timeouts", 0) + 1
        await ctx.common["gate"].wait()
        ctx.common["handled"] = True


async def test_a_timeout_whose_handler_is_cancelled_is_handled_later() -> None:
    clock = ManualClock()
    gate = asyncio.Event()
    fsm = StateMachine(Timed, common_data={"gate": gate}, timebase=clock)
    task = asyncio.create_task(fsm.run(wait=True))
    await clock.run_for(1.0)  # fired: on_timeout runs in the task, and waits at the gate
    assert fsm.common["timeouts"] == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not fsm.is_idle  # the timeout waits to be handled again
    gate.set()
    await fsm.run()
    assert fsm.common["timeouts"] == 2 and fsm.common["handled"]


class Own(Enum):
    DONE = auto()


@septum.state(config=StateConfiguration(terminal=True))
class Caught:
    """Where a machine built with error_state=Caught goes when a handler fails."""

    @septum.on_state
    def on_state(ctx):
        ctx.common["error"] = ctx.error


def confused(raise_it: Any, role: str = "on_state") -> Any:
    """A state whose ``role`` handler is ``raise_it`` (which raises CancelledError itself)."""

    @septum.state(config=StateConfiguration(can_dwell=True))
    class Confused:
        @septum.on_state
        async def on_state(ctx):
            if role == "on_state" and ctx.msg is not None:
                await raise_it(ctx)
            ctx.common.setdefault("handled", []).append(ctx.msg)

        @septum.on_enter
        async def on_enter(ctx):
            if role == "on_enter":
                await raise_it(ctx)

    return Confused


async def _raises(ctx: Any) -> None:
    raise asyncio.CancelledError()  # before any suspension: nobody cancelled anything


async def _awaits_a_cancelled_future(ctx: Any) -> None:
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.cancel)  # someone else's future, cancelled
    await future


@pytest.mark.parametrize("raise_it", [_raises, _awaits_a_cancelled_future])
async def test_a_handler_raising_cancelled_error_itself_is_a_failure_not_a_cancellation(
    raise_it: Any,
) -> None:
    fsm = StateMachine(confused(raise_it), common_data={})
    await fsm.initialize()
    fsm.send_message("a")
    fsm.send_message("b")
    # Before the fix: CancelledError out of run(), "a" back at the head of the queue for ever.
    with pytest.raises(
        HandlerError,
        match=r"state Confused: on_state raised CancelledError.*although nothing cancelled the run",
    ) as raised:
        await fsm.run()
    assert isinstance(raised.value.__cause__, asyncio.CancelledError) and raised.value.event == "a"
    assert fsm.queue_size == 1  # "a" is consumed, as any failed message is
    with pytest.raises(HandlerError, match="on_state raised CancelledError"):
        await fsm.run()  # "b" fails the same way, once
    assert fsm.queue_size == 0
    await fsm.run()  # nothing is stuck


@pytest.mark.parametrize("role", ["on_state", "on_enter"])
async def test_a_handler_s_own_cancelled_error_goes_to_the_error_state(role: str) -> None:
    fsm = StateMachine(confused(_raises, role), common_data={}, error_state=Caught)
    await fsm.initialize()  # on_enter fails here
    if role == "on_state":
        fsm.send_message("a")
        await fsm.run()
    assert fsm.current_state is Caught and fsm.is_complete
    error = fsm.common["error"]
    assert isinstance(error, HandlerError) and isinstance(error.__cause__, asyncio.CancelledError)
    assert f"{role} raised CancelledError" in str(error)


async def test_a_real_cancellation_of_run_still_puts_the_message_back() -> None:
    fsm = worker()
    fsm.send_message("b")
    await cancel_when_held(fsm, fsm.run())  # task.cancel() while its handler waits: not a failure
    assert fsm.queue_size == 1 and fsm.common["done"] == [None]


def test_the_synchronous_door_treats_a_handler_s_own_cancelled_error_as_a_failure() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    class Plain:
        @septum.on_state
        def on_state(ctx):
            if ctx.msg is not None:
                raise asyncio.CancelledError()

    fsm = StateMachine(Plain)
    fsm.run_sync()
    with pytest.raises(
        HandlerError, match="state Plain: on_state raised CancelledError although nothing cancelled"
    ):
        fsm.send("a")  # before the fix: CancelledError, "a" put back at the head of the queue
    assert fsm.queue_size == 0
