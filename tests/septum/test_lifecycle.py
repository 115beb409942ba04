"""A machine's lifecycle: closing it, and what stopping the task that runs it leaves behind."""

from __future__ import annotations

import asyncio
import copy
import gc
import subprocess
import sys
import warnings
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


class E(Enum):
    TICK = auto()
    DONE = auto()


@septum.state(config=StateConfiguration(timeout=1.0))
class Ticking:
    """Counts its timeouts, re-entering itself each time; counts the messages it handles."""

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is not None:
            ctx.common.setdefault("handled", []).append(ctx.msg)
        return E.DONE if ctx.msg == "stop" else None

    @septum.on_timeout
    async def on_timeout(ctx):
        ctx.common["timeouts"] = ctx.common.get("timeouts", 0) + 1
        await ctx.timebase.sleep(0.5)  # the background run is suspended here at times
        return E.TICK

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.TICK, Ticking), LabeledTransition(E.DONE, Finished)]


@septum.state(config=StateConfiguration(terminal=True))
class Finished:
    pass


def machine(clock: ManualClock, **options: Any) -> StateMachine:
    return StateMachine(Ticking, common_data={}, timebase=clock, **options)


async def test_aclose_stops_the_timer_and_the_background_run() -> None:
    clock = ManualClock()
    fsm = machine(clock)
    await fsm.run()
    await clock.run_for(1.2)  # fired; the background run is suspended in on_timeout's sleep
    assert fsm.common["timeouts"] == 1
    await fsm.aclose()
    assert fsm.closed
    await clock.run_for(10)
    assert fsm.common["timeouts"] == 1  # nothing moves any more
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    with pytest.raises(ExecutionError, match="machine Ticking is closed; it takes no more messages"):
        fsm.send_message("late")
    with pytest.raises(ExecutionError, match="machine Ticking is closed"):
        await fsm.run()
    with pytest.raises(ExecutionError, match="machine Ticking is closed"):
        await fsm.tick()
    await fsm.aclose()  # closing twice is harmless


async def test_async_with_closes_the_machine() -> None:
    clock = ManualClock()
    async with machine(clock) as fsm:
        await fsm.run()
        fsm.send_message("a")
        await fsm.run()
    assert fsm.closed and fsm.common["handled"] == ["a"]
    assert clock.pending == 0


async def test_aclose_ends_a_run_that_waits_for_work() -> None:
    clock = ManualClock()
    fsm = machine(clock)
    task = asyncio.create_task(fsm.run(wait=True))
    fsm.send_message("a")
    await clock.run_for(0)
    await fsm.aclose()
    assert await task == 2  # the entry run and "a"; then it returned instead of waiting
    assert fsm.common["handled"] == ["a"]


@septum.state(config=StateConfiguration(can_dwell=True))
class Slow:
    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is not None:
            await ctx.common["gate"].wait()
            ctx.common.setdefault("handled", []).append(ctx.msg)


async def test_aclose_waits_for_the_step_in_progress() -> None:
    gate = asyncio.Event()
    fsm = StateMachine(Slow, common_data={"gate": gate})
    fsm.send_message("slow")
    fsm.send_message("never")
    running = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)  # suspended in on_state, handling "slow"
    closing = asyncio.create_task(fsm.aclose())
    await asyncio.sleep(0)
    assert fsm.closed and not closing.done()  # refuses new work at once, waits for the step
    gate.set()
    await closing
    assert await running == 2  # the entry run and "slow": a closed machine takes no next step
    assert fsm.common["handled"] == ["slow"] and fsm.queue_size == 1


@septum.state(config=StateConfiguration(can_dwell=True))
class Handing:
    """Its step in progress leads to Ticking, a timed state."""

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is not None:
            await ctx.common["gate"].wait()
            return E.TICK
        return None

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.TICK, Ticking)]


async def test_a_timed_state_the_step_in_progress_enters_starts_no_timer_once_closed(caplog) -> None:
    clock, gate = ManualClock(), asyncio.Event()
    fsm = StateMachine(Handing, common_data={"gate": gate}, timebase=clock)
    fsm.send_message("go")
    running = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)  # suspended in on_state
    closing = asyncio.create_task(fsm.aclose())
    await asyncio.sleep(0)
    gate.set()
    await closing
    await running
    assert fsm.current_state is Ticking and clock.pending == 0  # entered, its timer not running
    await clock.run_for(10)
    assert "timeouts" not in fsm.common and "ERROR" not in caplog.text  # nothing runs any more
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_cancelling_run_wait_leaves_the_machine_still() -> None:
    # The shutdown recipe of docs/production.md: cancel the task running run(wait=True).
    clock = ManualClock()
    fsm = machine(clock)
    task = asyncio.create_task(fsm.run(wait=True))
    await clock.run_for(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.run_for(10)
    assert fsm.common.get("timeouts", 0) == 0  # its timer fired, but nobody runs it in the background
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    # The timeout is not lost: it waits for the next run().
    again = asyncio.create_task(fsm.run(max_steps=1))
    await clock.run_for(0.5)  # on_timeout sleeps half a second
    assert await again == 1 and fsm.common["timeouts"] == 1
    await fsm.aclose()


async def test_a_clean_shutdown_of_a_thousand_timed_machines_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = ManualClock()
    machines = [machine(clock) for _ in range(1000)]
    for fsm in machines:
        await fsm.run()
    await clock.run_for(1.2)  # every one fired: background runs suspended in on_timeout
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await asyncio.gather(*(fsm.aclose() for fsm in machines))
        del machines
        gc.collect()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert clock.pending == 0
    assert capsys.readouterr() == ("", "")


def test_copying_a_state_gives_the_state_itself() -> None:
    assert copy.copy(Ticking) is Ticking
    assert copy.deepcopy(Ticking) is Ticking
    assert copy.deepcopy({"state": Finished})["state"] is Finished


async def test_copying_a_machine_gives_an_idle_machine_at_the_same_point() -> None:
    clock = ManualClock()
    fsm = machine(clock)
    await fsm.run()
    fsm.send_message(["queued"])
    twin = copy.deepcopy(fsm)
    assert twin is not fsm and twin.spec is fsm.spec
    assert twin.current_state is Ticking and twin.queue_size == 1
    assert twin.common == fsm.common and twin.common is not fsm.common
    await twin.run()
    assert twin.common["handled"] == [["queued"]] and "handled" not in fsm.common
    shallow = copy.copy(fsm)
    assert shallow.common is fsm.common  # a shallow copy shares the blackboard and the messages
    await clock.run_for(1.2)  # each copy has its own timer
    assert fsm.common["timeouts"] == 2 and twin.common["timeouts"] == 1
    for each in (fsm, twin, shallow):
        await each.aclose()


async def test_a_machine_is_not_copied_while_it_runs() -> None:
    clock = ManualClock()
    fsm = machine(clock)
    await fsm.run()
    await clock.run_for(1.2)  # the background run is suspended in on_timeout
    refused = r"machine Ticking is running a step\. Fix: copy it between steps$"
    with pytest.raises(ExecutionError, match=refused):
        copy.deepcopy(fsm)
    await fsm.aclose()
    with pytest.raises(ExecutionError, match="machine Ticking is closed"):
        copy.copy(fsm)


#: An app that returns from asyncio.run() leaving 1000 timed machines open (no aclose()), while the
#: clock moves on every turn of the loop to its last: their timers fire during asyncio's shutdown.
SHUTDOWN_WITH_OPEN_MACHINES = """
import asyncio
from enum import Enum, auto

from mycorrhizal.common import ManualClock
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


class E(Enum):
    AGAIN = auto()


@septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
class Tick:
    @septum.on_state
    def on_state(ctx):
        return None

    @septum.on_timeout
    def on_timeout(ctx):
        return E.AGAIN

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.AGAIN, Tick)]


clock = ManualClock()


def tick():
    '''Move the clock on every turn of the loop, to its very last one: timers fire during shutdown.'''
    clock.advance(1.0)
    asyncio.get_running_loop().call_soon(tick)


async def left_over():
    try:
        await asyncio.Event().wait()
    finally:  # asyncio.run cancels this while it closes the loop
        tick()


async def main():
    machines = [StateMachine(Tick, timebase=clock) for _ in range(1000)]
    for machine in machines:
        await machine.initialize()
    asyncio.get_running_loop().create_task(left_over())
    await asyncio.sleep(0)


asyncio.run(main())
"""


def test_timers_firing_while_asyncio_run_closes_the_loop_start_no_task() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_WITH_OPEN_MACHINES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Before the fix: 1000 x "Task was destroyed but it is pending!" and "coroutine
    # 'Clock._background' was never awaited" on stderr.
    assert done.returncode == 0 and done.stderr == ""
