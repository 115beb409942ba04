"""Who runs a machine: a caller's run(), the timer's background run, and handlers calling run()."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.septum import LabeledTransition, Repeat, StateConfiguration, StateMachine

from ._helpers import E, log_to, make, terminal

End = terminal()


@pytest.mark.parametrize("driver", ["run", "tick"])
@pytest.mark.parametrize("nested", ["run", "tick", "initialize"])
async def test_a_handler_driving_its_own_machine_is_refused_not_deadlocked(driver, nested) -> None:
    holder: list[StateMachine] = []

    async def reenter(ctx):
        if ctx.msg is None:  # the entry run: tick() takes its one-frame path for it
            await getattr(holder[0], nested)()

    s = make("SelfRunner", on_state=reenter, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s)
    holder.append(fsm)
    if nested == "initialize":
        await fsm.initialize()  # done: a second call returns at once, inside a handler too
        await getattr(fsm, driver)()
        return
    with pytest.raises(Exception, match=r"a handler called run\(\) on its own machine") as info:
        await getattr(fsm, driver)()
    assert isinstance(info.value.__cause__, ExecutionError)


async def test_a_handler_may_start_its_own_machine_in_another_task() -> None:
    tasks: list[asyncio.Task[int]] = []
    holder: list[StateMachine] = []

    async def later(ctx):
        if ctx.msg == "spawn":
            ctx.send_message("spawned")
            tasks.append(asyncio.create_task(holder[0].run()))  # waits its turn: no deadlock
        elif ctx.msg is not None:
            log_to(ctx, ctx.msg)

    s = make("Spawner", on_state=later, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s)
    holder.append(fsm)
    fsm.send_message("spawn")
    assert await fsm.run() == 3
    assert await tasks[0] == 0 and fsm.common["log"] == ["spawned"]


async def test_the_timers_background_run_waits_for_a_callers_run_instead_of_failing(
    clock: ManualClock,
) -> None:
    async def on_timeout(ctx):
        log_to(ctx, "timeout")
        await ctx.timebase.sleep(1)  # the caller's run() is suspended here
        log_to(ctx, "timeout handled")

    s = make(
        "Busy",
        config=StateConfiguration(timeout=1.0),
        on_state=lambda ctx: log_to(ctx, ctx.msg) if ctx.msg is not None else None,
        on_timeout=on_timeout,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    clock.advance(1)  # fires: the timer schedules a background run, which has not started yet
    later = asyncio.create_task(clock.run_for(1))
    await fsm.run()  # ...and a caller gets there first; the background run starts while it waits
    await later
    fsm.send_message("next")
    await fsm.run()  # nothing went wrong in the background, so nothing is raised here
    assert fsm.common["log"] == ["timeout", "timeout handled", "next"]


async def test_a_cancelled_waiter_does_not_strand_the_runs_behind_it(clock: ManualClock) -> None:
    async def slow(ctx):
        if ctx.msg == "slow":
            await ctx.timebase.sleep(1)
        if ctx.msg is not None:
            log_to(ctx, ctx.msg)

    s = make("Queue", on_state=slow, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s, timebase=clock)
    fsm.send_message("slow")
    first = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)
    second = asyncio.create_task(fsm.run())
    third = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)
    second.cancel()
    await clock.run_for(1)
    assert await first == 2
    assert await third == 0  # not stranded behind the cancelled second: it got its turn, idle
    with pytest.raises(asyncio.CancelledError):
        await second
    assert fsm.common["log"] == ["slow"]


async def test_a_background_failure_while_a_caller_waited_is_raised_to_that_caller(
    clock: ManualClock,
) -> None:
    async def on_timeout(ctx):
        await ctx.timebase.sleep(1)
        return None

    def on_state(ctx):
        if ctx.msg == "poison":
            raise RuntimeError("poisoned")

    s = make(
        "Shared",
        config=StateConfiguration(timeout=1.0),
        on_state=on_state,
        on_timeout=on_timeout,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(1)  # the background run is now suspended in on_timeout
    fsm.send_message("poison")
    caller = asyncio.create_task(fsm.run())  # waits its turn; the background run handles "poison"
    await clock.run_for(1)
    with pytest.raises(Exception, match="on_state raised RuntimeError: poisoned"):
        await caller
    assert await fsm.run() == 0  # reported once


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("send"), st.booleans()),  # a message; True: its handler suspends
            st.tuples(st.just("run"), st.just(False)),  # a caller's run(), as a task
            st.tuples(st.just("time"), st.sampled_from([0.5, 1.0, 2.0])),
        ),
        max_size=25,
    )
)
async def test_callers_and_the_timer_share_a_machine_without_losing_or_repeating_anything(ops) -> None:
    clock = ManualClock()

    async def on_state(ctx):
        if ctx.msg is not None:
            number, slow = ctx.msg
            if slow:
                try:
                    await ctx.timebase.sleep(0.5)
                except asyncio.CancelledError:  # the state's timeout interrupted it, as documented
                    log_to(ctx, number)
                    raise
            log_to(ctx, number)

    async def on_timeout(ctx):
        ctx.common.setdefault("timeouts", []).append(ctx.timebase.now() - ctx.common["entered"])
        await ctx.timebase.sleep(0.25)  # the timer's background run is suspended here for a while
        return E.REPEAT

    s = make(
        "Shared",
        config=StateConfiguration(timeout=1.0),
        on_enter=lambda ctx: ctx.common.__setitem__("entered", ctx.timebase.now()),
        on_state=on_state,
        on_timeout=on_timeout,
        transitions=lambda: [LabeledTransition(E.REPEAT, Repeat)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    callers = []
    sent = 0
    for what, arg in ops:
        if what == "send":
            fsm.send_message((sent, arg))
            sent += 1
        elif what == "run":
            callers.append(asyncio.create_task(fsm.run()))
        else:
            await clock.run_for(arg)
    callers.append(asyncio.create_task(fsm.run()))  # the last: it also raises a background failure
    while not all(c.done() for c in callers) or fsm.queue_size:
        await clock.run_for(0.5)  # a run() may wait behind the timer's, asleep on this clock
    for caller in callers:
        await caller  # none of them raises: nothing failed, in a caller or in the background
    assert fsm.common.get("log", []) == list(range(sent))  # once each, handled or interrupted, in order
    assert all(elapsed >= 1.0 for elapsed in fsm.common.get("timeouts", []))
