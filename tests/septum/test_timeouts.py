"""Timeouts on the machine's timebase: measured from entry, cancelled on leaving, self-driven."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import HandlerError, ManualClock
from mycorrhizal.septum import LabeledTransition, Pop, Push, Repeat, Retry, StateConfiguration, StateMachine
from mycorrhizal.septum.durable import raised_in_background

from ._helpers import E, log_to, make, terminal

End = terminal()
Later = terminal("Later")


def waiting(
    name,
    timeout,
    *,
    on_timeout=lambda ctx: E.DONE,
    on_state=lambda ctx: E.GO if ctx.msg == "go" else None,
    extra=(),
):
    return make(
        name,
        config=StateConfiguration(timeout=timeout),
        on_state=on_state,
        on_timeout=lambda ctx: (log_to(ctx, ("timeout", ctx.timebase.now(), ctx.msg)), on_timeout(ctx))[1],
        transitions=lambda: [LabeledTransition(E.DONE, End), LabeledTransition(E.GO, Later), *extra],
    )


async def test_timeout_fires_at_entry_plus_timeout_with_nobody_running(clock: ManualClock) -> None:
    s = waiting("Wait", 5.0)
    fsm = StateMachine(s, timebase=clock)
    await clock.run_for(2)  # not initialized: no timer yet
    await fsm.run()  # initialize at t=2, then idle
    await clock.run_for(4.9)
    assert fsm.current_state is s
    await clock.run_for(0.1)  # t=7: due; the timer itself drives the machine
    assert fsm.current_state is End
    assert fsm.common["log"] == [("timeout", 7.0, None)]


async def test_an_infinite_timeout_never_fires_as_in_0x(clock: ManualClock) -> None:
    # kept (not refused with NaN): 0.x slept asyncio.sleep(inf), a timer that never fires
    s = waiting("Forever", float("inf"))
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(1e12)
    assert fsm.current_state is s and "log" not in fsm.common


@pytest.mark.parametrize("zero", [0, 0.0])
async def test_a_zero_timeout_is_due_at_entry_as_in_0x(clock: ManualClock, zero: float) -> None:
    # 0.x slept asyncio.sleep(0), then queued the timeout: a timer due at once on the timebase
    s = waiting("Now", zero, on_state=lambda ctx: log_to(ctx, ("state", ctx.timebase.now(), ctx.msg)))
    fsm = StateMachine(s, timebase=clock)
    await clock.run_for(3)
    await fsm.run()  # initialize at t=3: the entry run comes first, then the machine is idle
    assert fsm.current_state is s and clock.pending == 1
    await clock.run_for(0)  # the clock looks at its due timers: the timer itself drives the machine
    assert fsm.current_state is End and clock.pending == 0
    assert fsm.common["log"] == [("state", 3.0, None), ("timeout", 3.0, None)]


async def test_timeout_is_cancelled_on_leaving(clock: ManualClock) -> None:
    s = waiting("Leave", 5.0)
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is Later
    await clock.run_for(10)
    assert clock.pending == 0
    assert "log" not in fsm.common


async def test_fired_but_unprocessed_timeout_is_dropped_when_the_state_is_left(clock: ManualClock) -> None:
    s = waiting("Race", 5.0)
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    fsm.send_message("go")  # queued before the timeout fires...
    clock.advance(5)  # ...synchronously, outside any loop turn: the timeout is queued behind it
    await fsm.run()
    assert fsm.current_state is Later  # FIFO: the message wins; leaving cancels the queued timeout
    assert "log" not in fsm.common


async def test_timeout_queued_before_a_message_is_handled_first(clock: ManualClock) -> None:
    s = waiting("First", 5.0)
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    clock.advance(5)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is End


async def test_a_fired_timeout_takes_its_place_among_messages_as_priority_zero(clock: ManualClock) -> None:
    s = make(
        "Sorted",
        config=StateConfiguration(timeout=5.0, can_dwell=True),
        on_state=lambda ctx: log_to(ctx, ctx.msg) if ctx.msg is not None else None,
        on_timeout=lambda ctx: log_to(ctx, "timeout"),
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    fsm.send_message("low", priority=-1)
    fsm.send_message("before")
    clock.advance(5)
    fsm.send_message("after")
    fsm.send_message("urgent", priority=1)
    await fsm.run()
    assert fsm.common["log"] == ["urgent", "before", "timeout", "after", "low"]


async def test_on_timeout_returning_none_stays_and_repeat_rearms(clock: ManualClock) -> None:
    count = {"n": 0}

    def on_timeout(ctx):
        count["n"] += 1
        return E.REPEAT if count["n"] < 3 else None

    s = waiting("Tick", 2.0, on_timeout=on_timeout, extra=[LabeledTransition(E.REPEAT, Repeat)])
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(10)
    assert [entry[1] for entry in fsm.common["log"]] == [2.0, 4.0, 6.0]
    assert fsm.current_state is s and clock.pending == 0


async def test_timeout_measured_from_entry_including_on_enter(clock: ManualClock) -> None:
    async def slow_enter(ctx):
        await ctx.timebase.sleep(3)

    s = make(
        "SlowEnter",
        config=StateConfiguration(timeout=5.0),
        on_enter=slow_enter,
        on_state=lambda ctx: None,
        on_timeout=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    task = asyncio.create_task(fsm.run())
    await clock.run_for(3)
    await task
    assert fsm.current_state is s
    await clock.run_for(2)  # t=5: five seconds after entry, not after on_enter finished
    assert fsm.current_state is End


async def test_timeout_interrupts_a_suspended_on_state(clock: ManualClock) -> None:
    calls = []

    async def on_state(ctx):
        calls.append(("state", ctx.msg))
        if ctx.msg == "slow":
            try:
                await ctx.timebase.sleep(100)  # a hung call: the state's timeout must rescue it
            except asyncio.CancelledError:
                calls.append(("cancelled", ctx.timebase.now()))
                raise
            calls.append("never")
        return None

    s = make(
        "Hung",
        config=StateConfiguration(timeout=5.0),
        on_state=on_state,
        on_timeout=lambda ctx: (calls.append(("timeout", ctx.timebase.now())), E.DONE)[1],
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    fsm.send_message("slow")
    task = asyncio.create_task(fsm.run())
    await clock.run_for(10)
    assert await task == 3
    assert calls == [("state", None), ("state", "slow"), ("cancelled", 5.0), ("timeout", 5.0)]
    assert fsm.current_state is End
    assert task.cancelling() == 0  # our cancellation request was taken back


async def test_handler_that_swallows_the_interruption_keeps_its_result(clock: ManualClock) -> None:
    async def on_state(ctx):
        if ctx.msg == "slow":
            try:
                await ctx.timebase.sleep(100)
            except asyncio.CancelledError:
                return E.GO  # finished anyway: its label wins and leaving drops the timeout
        return None

    s = waiting("Stubborn", 5.0, on_state=on_state)
    fsm = StateMachine(s, timebase=clock)
    fsm.send_message("slow")
    task = asyncio.create_task(fsm.run())
    await clock.run_for(10)
    await task
    assert fsm.current_state is Later and "log" not in fsm.common
    assert task.cancelling() == 0


async def test_an_outside_cancellation_during_a_timed_handler_still_cancels(clock: ManualClock) -> None:
    async def on_state(ctx):
        await ctx.timebase.sleep(100)

    s = waiting("Cancelled", 5.0, on_state=on_state)
    fsm = StateMachine(s, timebase=clock)
    task = asyncio.create_task(fsm.run())
    await clock.run_for(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_timeout_during_on_enter_runs_once_after_it(clock: ManualClock) -> None:
    async def slow_enter(ctx):
        await ctx.timebase.sleep(8)  # on_enter is not interrupted; the timeout waits its turn

    s = make(
        "SlowEnter2",
        config=StateConfiguration(timeout=5.0),
        on_enter=slow_enter,
        on_state=lambda ctx: log_to(ctx, "state"),
        on_timeout=lambda ctx: (log_to(ctx, ("timeout", ctx.timebase.now())), E.DONE)[1],
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    task = asyncio.create_task(fsm.run())
    await clock.run_for(8)
    assert await task == 2  # the entry run, then the timeout: handled once, by this run()
    assert fsm.common["log"] == ["state", ("timeout", 8.0)]
    assert fsm.current_state is End


async def test_background_failure_is_logged_and_raised_by_the_next_run(clock: ManualClock, caplog) -> None:
    def boom(ctx):
        raise RuntimeError("timeout handler broke")

    s = make(
        "Fragile",
        config=StateConfiguration(timeout=1.0),
        on_state=lambda ctx: None,
        on_timeout=boom,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(1)
    assert "error while handling a timeout in the background" in caplog.text
    with pytest.raises(Exception, match="on_timeout raised RuntimeError: timeout handler broke"):
        await fsm.run()
    assert await fsm.run() == 0  # reported once


@pytest.mark.parametrize("drive", [lambda fsm: fsm.run(), lambda fsm: fsm.tick()], ids=["run", "tick"])
async def test_a_kept_background_failure_is_logged_and_raised_once_when_a_later_timeout_fires(
    clock: ManualClock, caplog: pytest.LogCaptureFixture, drive
) -> None:
    def boom(ctx):
        raise RuntimeError("on_state broke")

    broken = make(
        "Broken",
        config=StateConfiguration(timeout=1.0),
        on_state=boom,
        on_timeout=lambda ctx: (log_to(ctx, ("broken timeout", ctx.timebase.now())), E.DONE)[1],
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    s = waiting("Before", 1.0, on_timeout=lambda ctx: E.AGAIN, extra=[LabeledTransition(E.AGAIN, broken)])
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(1)  # a background run enters Broken, whose on_state fails: kept and logged
    await clock.run_for(1)  # Broken's timeout fires while that failure is still kept
    failures = [r for r in caplog.records if "error while handling a timeout in the background" in r.message]
    assert len(failures) == 1
    assert fsm.current_state is broken
    assert fsm.common["log"] == [("timeout", 1.0, None)]  # Broken's timeout waits for a caller
    with pytest.raises(Exception, match="state Broken: on_state raised RuntimeError: on_state broke"):
        await drive(fsm)
    assert await fsm.run() == 1  # raised once; the queued timeout is handled next
    assert fsm.current_state is End
    assert fsm.common["log"] == [("timeout", 1.0, None), ("broken timeout", 2.0)]


async def test_a_kept_background_failure_is_raised_to_a_caller_run_outside_any_task(
    clock: ManualClock,
) -> None:
    # As hypha runs a transition's handler: its coroutine stepped by a loop callback, so that
    # asyncio.current_task() is None there, as the clock's background task is once it has ended.
    def boom(ctx):
        raise RuntimeError("timeout handler broke")

    s = make(
        "Eager",
        config=StateConfiguration(timeout=1.0),
        on_state=lambda ctx: None,
        on_timeout=boom,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(1)  # on_timeout raises in the background: kept for the next caller
    outcome: list[BaseException] = []

    def step(coro: Any) -> None:
        assert asyncio.current_task() is None
        try:
            coro.send(None)
        except BaseException as exc:  # noqa: BLE001 - StopIteration or the failure: kept to look at
            outcome.append(exc)

    asyncio.get_running_loop().call_soon(step, fsm.run())
    await asyncio.sleep(0)
    with pytest.raises(Exception, match="on_timeout raised RuntimeError: timeout handler broke"):
        raise outcome[0]


async def _raised_by_the_next_run(fsm: StateMachine, clock: ManualClock) -> None:
    await clock.run_for(1)  # nobody runs the machine: its background run hits the error, kept
    await fsm.run()


async def _raised_to_a_run_that_waited_meanwhile(fsm: StateMachine, clock: ManualClock) -> None:
    fsm.common["stall"] = 5.0
    await clock.run_for(1)  # the background run stalls in on_timeout
    waiting = asyncio.create_task(fsm.run())  # waits for its turn
    await clock.run_for(5)  # on_timeout raises in the background run
    await waiting


async def _hit_by_the_callers_own_run(fsm: StateMachine, clock: ManualClock) -> None:
    running = asyncio.create_task(fsm.run(wait=True))  # the timer wakes this run: it handles it
    await clock.run_for(1)
    await running


@pytest.mark.parametrize(
    ("drive", "background"),
    [
        (_raised_by_the_next_run, True),
        (_raised_to_a_run_that_waited_meanwhile, True),
        (_hit_by_the_callers_own_run, False),
    ],
    ids=["raised by the next run", "raised to a run that waited", "the caller's own run"],
)
async def test_a_failure_a_background_run_hit_is_marked_as_the_machines_own(
    clock: ManualClock, drive: Any, background: bool
) -> None:
    # Its owner (a net's transition) tells it apart from what the caller's own step raised by this.
    async def boom(ctx: Any) -> None:
        if "stall" in ctx.common:
            await ctx.timebase.sleep(ctx.common["stall"])
        raise RuntimeError("timeout handler broke")

    s = make(
        "Marked",
        config=StateConfiguration(timeout=1.0),
        on_state=lambda ctx: None,
        on_timeout=boom,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, common_data={}, timebase=clock)
    await fsm.run()
    said = r"^state Marked: on_timeout raised RuntimeError: timeout handler broke"
    with pytest.raises(HandlerError, match=said) as raised:
        await drive(fsm, clock)
    assert raised_in_background(raised.value) is background


@pytest.mark.parametrize("drive", [lambda fsm: fsm.run(), lambda fsm: fsm.tick()], ids=["run", "tick"])
async def test_a_background_run_outrun_by_a_caller_leaves_later_messages_queued(
    clock: ManualClock, drive
) -> None:
    s = waiting("Outrun", 1.0, on_timeout=lambda ctx: None)
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    clock.advance(1)  # fires with nobody running: a background run is scheduled, not yet started
    await drive(fsm)  # ... and this caller handles the timeout first
    assert fsm.common["log"] == [("timeout", 1.0, None)]
    fsm.send_message("go")
    await clock.run_for(0)  # the background run gets its turn: it has nothing to do
    assert fsm.current_state is s and fsm.queue_size == 1  # "go" waits for a run(), as sent
    assert await fsm.run() == 1
    assert fsm.current_state is Later


def test_advance_with_no_running_loop_is_processed_by_the_next_run(clock: ManualClock) -> None:
    s = waiting("Sync", 1.0)
    fsm = StateMachine(s, timebase=clock)
    asyncio.run(fsm.run())
    clock.advance(1)  # no event loop is running: nothing can be scheduled, the timeout is queued
    assert fsm.current_state is s
    asyncio.run(fsm.run())
    assert fsm.current_state is End


async def test_run_wait_sleeps_until_a_timeout_or_message(clock: ManualClock) -> None:
    s = waiting("Patient", 3.0, on_timeout=lambda ctx: None)
    fsm = StateMachine(s, timebase=clock)
    task = asyncio.create_task(fsm.run(wait=True))
    await clock.run_for(3)  # the timeout wakes the waiting run(), which handles it and waits again
    assert not task.done() and fsm.common["log"] == [("timeout", 3.0, None)]
    fsm.send_message("go")  # a message wakes it too; it then reaches a terminal state and returns
    assert await task == 3
    assert fsm.current_state is Later


async def test_timeout_during_a_direct_initialize_is_handled_once_by_the_timer(clock: ManualClock) -> None:
    async def slow_enter(ctx):
        log_to(ctx, "enter")
        await ctx.timebase.sleep(8)

    s = make(
        "SlowStart",
        config=StateConfiguration(timeout=5.0),
        on_enter=slow_enter,
        on_state=lambda ctx: None,
        on_timeout=lambda ctx: (log_to(ctx, ("timeout", ctx.timebase.now())), E.DONE)[1],
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    init = asyncio.create_task(fsm.initialize())
    await clock.run_for(8)  # fires at 5 while on_enter is still running: not a second initialize
    await init
    await clock.run_for(0)  # the background run the timer scheduled
    assert fsm.common["log"] == ["enter", ("timeout", 8.0)]
    assert fsm.current_state is End


# -- one live timer at most, always the current state's, whatever path the machine takes ---------


def _entered(ctx):
    ctx.common["entered"] = ctx.timebase.now()


def _timed_out(ctx, label=None):
    ctx.common.setdefault("timeouts", []).append((ctx.state.name, ctx.timebase.now() - ctx.common["entered"]))
    return label


def _on(moves):
    def on_state(ctx):
        if ctx.msg == "err":
            raise RuntimeError("handler failed")
        return moves.get(ctx.msg)

    return on_state


_Caller = make(
    "Caller",
    config=StateConfiguration(timeout=3.0),
    on_enter=_entered,
    on_state=_on({"push": E.PUSH, "go": E.GO, "retry": E.RETRY}),
    on_timeout=lambda ctx: _timed_out(ctx, E.REPEAT),
    transitions=lambda: [
        LabeledTransition(E.PUSH, Push(_Callee, _Caller)),
        LabeledTransition(E.GO, _Plain),
        LabeledTransition(E.RETRY, Retry),
        LabeledTransition(E.REPEAT, Repeat),
    ],
)
_Callee = make(
    "Callee",
    config=StateConfiguration(timeout=2.0),
    on_enter=_entered,
    on_state=_on({"pop": E.POP}),
    on_timeout=_timed_out,
    transitions=lambda: [LabeledTransition(E.POP, Pop)],
)
_Plain = make(
    "Plain",
    on_state=_on({"back": E.BACK, "end": E.DONE}),
    transitions=lambda: [LabeledTransition(E.BACK, _Caller), LabeledTransition(E.DONE, End)],
)
_Recovering = make(
    "Recovering",
    config=StateConfiguration(timeout=1.0),
    on_enter=_entered,
    on_state=lambda ctx: None,
    on_timeout=lambda ctx: _timed_out(ctx, E.BACK),
    transitions=lambda: [LabeledTransition(E.BACK, _Caller)],
)


@given(
    errors=st.sampled_from(["error_state", "hook"]),
    steps=st.lists(
        st.one_of(st.sampled_from(["push", "pop", "err", "go", "retry", "back", "end"]), st.integers(1, 4)),
        max_size=30,
    ),
)
async def test_at_most_one_timer_and_every_timeout_is_its_states_own(errors, steps) -> None:
    clock = ManualClock()
    options = (
        {"error_state": _Recovering}
        if errors == "error_state"
        else {"on_error": lambda ctx, error: _Plain if error.state == "Callee" else _Recovering}
    )
    fsm = StateMachine(_Caller, timebase=clock, **options)
    await fsm.run()
    for step in steps:
        if fsm.is_complete:
            break
        if isinstance(step, int):
            await clock.run_for(step)
        else:
            fsm.send_message(step)
            await fsm.run()
        assert clock.pending <= 1  # never a stale timer next to the live one
        if fsm.current_state.config.timeout is None:
            assert clock.pending == 0
    timeout_of = {"Caller": 3.0, "Callee": 2.0, "Recovering": 1.0}
    assert all(elapsed == timeout_of[name] for name, elapsed in fsm.common.get("timeouts", []))
    if fsm.is_complete:
        assert clock.pending == 0
