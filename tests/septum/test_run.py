"""Driving a machine: initialize/tick/run, their bounds and return values, concurrency, logging."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.septum import Again, LabeledTransition, StateConfiguration, StateMachine
from mycorrhizal.septum.engine import YIELD_EVERY

from ._helpers import E, log_to, make, terminal

End = terminal()
Echo = make(
    "Echo",
    on_state=lambda ctx: log_to(ctx, ctx.msg) if ctx.msg is not None else None,
    config=StateConfiguration(can_dwell=True),
)
Spinner = make(
    "Spinner", on_state=lambda ctx: E.AGAIN, transitions=lambda: [LabeledTransition(E.AGAIN, Again)]
)


async def test_send_then_run_handles_everything_in_one_await_without_task_switch() -> None:
    other_ran = []

    async def other() -> None:
        other_ran.append(True)

    fsm = StateMachine(Echo)
    await fsm.initialize()
    task = asyncio.create_task(other())
    fsm.send_message("a")
    fsm.send_message("b")
    assert await fsm.run() == 3
    assert fsm.common["log"] == ["a", "b"]
    assert other_ran == []  # nothing else got the loop: no task switch inside run()
    await task


@pytest.mark.parametrize("watched", [False, True], ids=["nobody watches", "observer"])
async def test_run_goes_on_through_steps_of_every_kind_and_counts_them_all(watched) -> None:
    # Messages of both kinds and entry runs in one run(): a message of another priority, sent by a
    # handler mid-run, is taken before the priority-0 one sent with it, and every step is counted.
    def relay(ctx):
        log_to(ctx, ctx.msg)
        if ctx.msg == "a":
            ctx.send_message("b")
            ctx.send_message("urgent", priority=5)
        return E.GO if ctx.msg == "b" else None

    state = make("Relay", on_state=relay, transitions=lambda: [LabeledTransition(E.GO, state)])
    fsm = StateMachine(state)
    if watched:
        fsm.add_observer(lambda event: None)
    assert await fsm.run() == 1  # the entry run
    fsm.send_message("a")
    assert await fsm.run() == 4  # a, urgent (the higher priority first), b, the entry run b's GO owes
    assert fsm.common["log"] == [None, "a", "urgent", "b", None]
    assert fsm.is_idle


async def test_run_returns_when_idle_and_yields_once_when_there_was_nothing_to_do() -> None:
    fsm = StateMachine(Echo)
    assert await fsm.run() == 1  # initializes, then the entry run; then idle
    assert fsm.is_idle
    other_ran = []
    task = asyncio.create_task(asyncio.sleep(0, result=other_ran.append(True)))
    assert await fsm.run() == 0
    await task
    assert other_ran == [True]


async def test_max_steps_bounds_run_and_tick_is_one_step() -> None:
    fsm = StateMachine(Echo)
    for i in range(5):
        fsm.send_message(i)
    assert await fsm.run(max_steps=2) == 2  # entry run + message 0
    assert fsm.common["log"] == [0]
    assert await fsm.tick() is True
    assert fsm.common["log"] == [0, 1]
    assert await fsm.run() == 3
    assert await fsm.tick() is False


async def test_initialize_enters_once() -> None:
    s = make(
        "Counted",
        on_enter=lambda ctx: log_to(ctx, "enter"),
        on_state=lambda ctx: None,
        config=StateConfiguration(can_dwell=True),
    )
    fsm = StateMachine(s)
    assert fsm.current_state is s and not fsm.is_idle
    await fsm.initialize()
    await fsm.initialize()
    await fsm.run()
    assert fsm.common["log"] == ["enter"]


async def test_a_machine_that_never_waits_does_not_starve_the_loop() -> None:
    fsm = StateMachine(Spinner)
    ticks = []

    async def other() -> None:
        for _ in range(3):
            ticks.append(True)
            await asyncio.sleep(0)

    other_task = asyncio.create_task(other())
    run_task = asyncio.create_task(fsm.run(max_steps=10 * YIELD_EVERY))
    assert await run_task == 10 * YIELD_EVERY
    await other_task
    assert ticks == [True, True, True]


async def test_cancelled_run_leaves_the_machine_usable() -> None:
    fsm = StateMachine(Spinner)
    task = asyncio.create_task(fsm.run())
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fsm.run(max_steps=5) == 5


async def test_concurrent_runs_take_turns(clock: ManualClock) -> None:
    async def slow(ctx):
        if ctx.msg == "slow":
            log_to(ctx, "slow start")
            await ctx.timebase.sleep(1)
            log_to(ctx, "slow end")
        elif ctx.msg is not None:
            log_to(ctx, ctx.msg)

    s = make("Slow", on_state=slow, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s, timebase=clock)
    fsm.send_message("slow")
    first = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)
    fsm.send_message("fast")
    second = asyncio.create_task(fsm.run())
    await clock.run_for(1)
    assert await first == 3  # entry, "slow", and "fast" (queued while it was running)
    assert await second == 0
    assert fsm.common["log"] == ["slow start", "slow end", "fast"]


async def test_handler_running_its_own_machine_from_a_timeout_is_refused(clock: ManualClock) -> None:
    holder: list[StateMachine] = []

    async def reenter(ctx):
        await holder[0].run()

    s = make(
        "Reentrant",
        config=StateConfiguration(timeout=1),
        on_state=lambda ctx: None,
        on_timeout=reenter,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    holder.append(fsm)
    await fsm.run()
    await clock.run_for(1)
    said = "state Reentrant: on_timeout called run\\(\\) on its own machine"
    with pytest.raises(ExecutionError, match=said):
        await fsm.run()


@pytest.mark.parametrize("how", ["tick", "run", "run with a message"])
async def test_handler_running_its_own_machine_is_refused_on_every_path(how) -> None:
    # tick() of an async entry run takes its step in a frame of its own (Engine.entry_step): a
    # handler awaiting run() on its own machine is refused there too, as in run().
    holder: list[StateMachine] = []

    async def reenter(ctx):
        if ctx.msg is not None or how != "run with a message":
            await holder[0].run()

    fsm = StateMachine(make("Reentrant", on_state=reenter, config=StateConfiguration(can_dwell=True)))
    holder.append(fsm)
    await fsm.initialize()
    if how == "run with a message":
        fsm.send_message("go")
    with pytest.raises(ExecutionError, match="state Reentrant: on_state called run\\(\\) on its own machine"):
        await (fsm.tick() if how == "tick" else fsm.run())


def test_reentrancy_error_is_an_execution_error() -> None:
    assert issubclass(ExecutionError, RuntimeError)


async def test_info_logs_transitions_and_lifecycle(caplog) -> None:
    s = make("Go", on_state=lambda ctx: E.DONE, transitions=lambda: [LabeledTransition(E.DONE, End)])
    with caplog.at_level(logging.INFO, logger="mycorrhizal.septum"):
        await StateMachine(s).run()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "machine Go: start in Go",
        "machine Go: Go -[DONE]-> End",
        "machine Go: complete in terminal state End",
    ]


async def test_nothing_is_formatted_when_logging_is_off(caplog) -> None:
    class Explosive:
        def __repr__(self) -> str:
            raise AssertionError("formatted although logging is off")

        __str__ = __repr__

    s = make(
        "Quiet",
        on_state=lambda ctx: E.SKIP if ctx.msg is not None else None,
        transitions=lambda: [LabeledTransition(E.SKIP, Again)],
    )
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        fsm = StateMachine(s)
        fsm.send_message(Explosive())
        await fsm.run()
    assert caplog.records == []


async def test_debug_trace_for_timeouts(clock: ManualClock, caplog) -> None:
    s = make(
        "Timed",
        config=StateConfiguration(timeout=1),
        on_state=lambda ctx: None,
        on_timeout=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.septum"):
        fsm = StateMachine(s, timebase=clock)
        await fsm.run()
        await clock.run_for(1)
    assert "machine Timed: timeout of Timed fired" in caplog.text
    assert "machine Timed: Timed timed out" in caplog.text


async def test_repr_and_properties() -> None:
    fsm = StateMachine(Echo)
    assert repr(fsm) == "<StateMachine Echo in Echo>"
    assert fsm.retry_count == 0 and fsm.queue_size == 0 and fsm.state_stack == ()
    fsm.send_message(1)
    assert fsm.queue_size == 1
    await fsm.run()
    assert "Echo" in repr(fsm.ctx)


def _scenario():
    """Three states exercising fast and slow transitions, hooks, an error and Retry."""
    from mycorrhizal.septum import Retry

    async def a_state(ctx):
        log_to(ctx, ("A", ctx.msg, ctx.retry_count))
        if ctx.msg == "boom":
            raise ValueError("boom")
        return {"retry": E.RETRY, "b": E.GO, None: None}.get(ctx.msg, E.AGAIN)

    async def b_state(ctx):
        log_to(ctx, ("B", ctx.msg))
        return E.BACK if ctx.msg is None else None

    A = make(
        "A",
        config=StateConfiguration(retries=5),
        on_state=a_state,
        on_fail=lambda ctx: None,
        transitions=lambda: [
            LabeledTransition(E.RETRY, Retry),
            LabeledTransition(E.GO, B),
            LabeledTransition(E.AGAIN, Again),
        ],
    )
    B = make(
        "B",
        on_enter=lambda ctx: log_to(ctx, "enter B"),
        on_state=b_state,
        transitions=lambda: [LabeledTransition(E.BACK, A)],
    )
    Err = make("Err", on_state=lambda ctx: E.BACK, transitions=lambda: [LabeledTransition(E.BACK, A)])
    return A, Err


async def test_ticking_gives_the_same_trace_as_running() -> None:
    A, Err = _scenario()
    messages = ["x", "retry", "b", "boom", "retry", "y"]

    async def drive(step_by_step: bool) -> list:
        fsm = StateMachine(A, error_state=Err)
        for msg in messages:
            fsm.send_message(msg)
            if step_by_step:
                for _ in range(50):
                    if not await fsm.tick():
                        break
            else:
                await fsm.run(max_steps=50)
        return [*fsm.common["log"], fsm.current_state.name, fsm.retry_count]

    assert await drive(True) == await drive(False)


async def test_tick_raises_undeclared_labels_and_handler_errors() -> None:
    async def odd(ctx):
        return "odd"

    async def broken(ctx):
        raise KeyError("k")

    s = make("Odd", on_state=odd, transitions=lambda: [LabeledTransition(E.GO, End)])
    fsm = StateMachine(s)
    await fsm.initialize()
    with pytest.raises(Exception, match="state Odd: on_state returned 'odd'"):
        await fsm.tick()
    b = make("Broken", on_state=broken, transitions=lambda: [LabeledTransition(E.GO, End)])
    fsm = StateMachine(b)
    await fsm.initialize()
    with pytest.raises(Exception, match="state Broken: on_state raised KeyError"):
        await fsm.tick()


async def test_tick_logs_follow_level_changes(caplog) -> None:
    async def on_state(ctx):
        return E.GO

    looper = make("Looper", on_state=on_state, transitions=lambda: [LabeledTransition(E.GO, looper)])
    fsm = StateMachine(looper)
    await fsm.initialize()
    logger = logging.getLogger("mycorrhizal.septum")
    with caplog.at_level(logging.INFO, logger="mycorrhizal.septum"):
        assert await fsm.tick()
    assert [r.getMessage() for r in caplog.records] == ["machine Looper: Looper -[GO]-> Looper"]
    caplog.clear()
    logger.setLevel(logging.WARNING)
    try:
        assert await fsm.tick()
    finally:
        logger.setLevel(logging.NOTSET)
    assert caplog.records == []


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
async def test_max_steps_must_be_a_count(bad) -> None:
    with pytest.raises(ValueError, match=r"^machine Echo: run\(max_steps=...\) takes an int >= 0 or None"):
        await StateMachine(Echo).run(bad)


async def test_zero_max_steps_does_nothing() -> None:
    fsm = StateMachine(Echo)
    assert await fsm.run(0) == 0
    assert not fsm.is_idle  # initialized, entry run still owed


async def test_plain_handlers_returning_awaitables_are_awaited() -> None:
    async def decide(ctx):
        return E.DONE if ctx.msg == "go" else None

    async def enter(ctx):
        log_to(ctx, "entered")

    s = make(
        "Lazy",
        on_enter=lambda ctx: enter(ctx),
        on_state=lambda ctx: decide(ctx),
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is End and fsm.common["log"] == ["entered"]


async def test_tick_one_frame_path_handles_slow_transitions_and_routed_errors() -> None:
    from mycorrhizal.septum import Retry

    attempts = []

    async def flaky(ctx):
        attempts.append(ctx.retry_count)
        if ctx.retry_count == 2:
            raise RuntimeError("third time")
        return E.RETRY

    Err = make("TickErr", on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    s = make("TickFlaky", on_state=flaky, transitions=lambda: [LabeledTransition(E.RETRY, Retry)])
    fsm = StateMachine(s, error_state=Err)
    await fsm.initialize()
    assert await fsm.tick() and await fsm.tick()  # entry runs whose labels ask for a (slow) Retry
    assert await fsm.tick()  # the third raises: routed to the error state
    assert attempts == [0, 1, 2] and fsm.current_state is Err


async def test_info_log_of_retries_on_fail_and_interrupting_timeouts(clock: ManualClock, caplog) -> None:
    from mycorrhizal.septum import Retry

    async def hang(ctx):
        if ctx.retry_count == 0:
            await ctx.timebase.sleep(100)
        return E.RETRY

    Parking = make("Parking", on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    s = make(
        "Hanging",
        config=StateConfiguration(timeout=1, retries=1),
        on_state=hang,
        on_timeout=lambda ctx: E.RETRY,
        on_fail=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.DONE, Parking)],
    )
    fsm = StateMachine(s, timebase=clock)
    with caplog.at_level(logging.INFO, logger="mycorrhizal.septum"):
        task = asyncio.create_task(fsm.run())
        await clock.run_for(1)
        await task
    text = caplog.text
    assert "machine Hanging: Hanging timed out during on_state" in text
    assert "machine Hanging: Hanging -[RETRY retry 1]-> Hanging" in text
    assert "machine Hanging: Hanging out of retries (1), calling on_fail" in text
    assert fsm.current_state is Parking  # on_fail's label took the plain (fast) transition


async def test_error_state_whose_on_enter_fails_raises() -> None:
    def fail(ctx):
        raise OSError("cannot even fail properly")

    async def boom(ctx):
        raise ValueError("first")

    Err = make(
        "FailingErr", on_enter=fail, on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True)
    )
    s = make("Boom", on_state=boom, config=StateConfiguration(can_dwell=True))
    with pytest.raises(Exception, match="state FailingErr: on_enter raised OSError"):
        await StateMachine(s, error_state=Err).run()


async def test_awaitable_from_a_plain_handler_that_raises_is_routed() -> None:
    async def broken(ctx):
        raise KeyError("inside")

    Err = make("AwaitErr", on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    s = make(
        "Lambda",
        on_state=lambda ctx: broken(ctx) if ctx.msg else None,
        config=StateConfiguration(can_dwell=True),
    )
    fsm = StateMachine(s, error_state=Err)
    fsm.send_message("x")
    await fsm.run()
    assert fsm.current_state is Err and "KeyError" in str(fsm.ctx.error)  # type: ignore[union-attr]
