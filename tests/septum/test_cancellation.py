"""Cancelling the task that runs a machine in the middle of a step loses nothing and strands nothing."""

from __future__ import annotations

import asyncio
from enum import Enum, auto
from typing import Any

from mycorrhizal.common import ManualClock
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


async def test_an_entry_run_that_is_cancelled_runs_again() -> None:
    gate = asyncio.Event()
    fsm = StateMachine(Starting, common_data={"gate": gate})
    await cancel_when_held(fsm, fsm.run())
    assert fsm.common["entries"] == 1 and not fsm.is_idle  # the entry run is still owed
    gate.set()
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
