import asyncio
import math
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import (
    CycleClock,
    DefinitionError,
    DictatedClock,
    ManualClock,
    MonotonicClock,
    Timebase,
    TimerScope,
    UTCClock,
    WallClock,
    default_timebase,
)
from mycorrhizal.common import timebase as timebase_module


def test_advance_fires_exactly_the_due_timers_in_deadline_order(clock: ManualClock) -> None:
    fired: list[tuple[str, float]] = []
    for name, delay in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("late", 10.0)]:
        clock.call_later(delay, lambda n=name: fired.append((n, clock.now())))
    assert clock.advance(3.0) == 3
    assert fired == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.now() == 3.0
    assert clock.pending == 1
    assert clock.next_deadline() == 10.0


def test_equal_deadlines_fire_in_the_order_they_were_set(clock: ManualClock) -> None:
    fired: list[int] = []
    for i in range(100):
        clock.call_later(1.0, lambda i=i: fired.append(i))
    clock.advance(1.0)
    assert fired == list(range(100))


def test_cancelled_timer_never_fires(clock: ManualClock) -> None:
    fired: list[str] = []
    handle = clock.call_later(1.0, lambda: fired.append("x"))
    handle.cancel()
    assert clock.advance(5.0) == 0
    assert fired == []
    assert clock.pending == 0


def test_timer_set_by_a_callback_fires_if_due_within_the_window(clock: ManualClock) -> None:
    fired: list[float] = []

    def first() -> None:
        fired.append(clock.now())
        clock.call_later(1.0, lambda: fired.append(clock.now()))

    clock.call_later(1.0, first)
    clock.advance(2.5)
    assert fired == [1.0, 2.0]


def test_negative_advance_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="delay >= 0"):
        clock.advance(-1)


async def test_sleepers_wake_only_when_due(clock: ManualClock) -> None:
    woke: list[str] = []

    async def sleeper(name: str, delay: float) -> None:
        await clock.sleep(delay)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("short", 1)), asyncio.create_task(sleeper("long", 60))]
    await clock.run_for(1.0)
    assert woke == ["short"]
    await clock.run_for(58.9)
    assert woke == ["short"]
    await clock.run_for(0.1)
    assert woke == ["short", "long"]
    await asyncio.gather(*tasks)


async def test_run_for_lets_chained_sleeps_progress(clock: ManualClock) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(5):
            await clock.sleep(1.0)
            ticks.append(clock.now())

    task = asyncio.create_task(ticker())
    await clock.run_for(3.5)
    assert ticks == [1.0, 2.0, 3.0]
    await clock.run_for(10)
    assert ticks == [1.0, 2.0, 3.0, 4.0, 5.0]
    await task


async def test_cancelled_sleeper_leaves_no_timer(clock: ManualClock) -> None:
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending == 0


@pytest.mark.parametrize("timebase", [MonotonicClock(), WallClock(), UTCClock(), default_timebase()])
async def test_real_clocks_schedule_on_the_loop(timebase) -> None:  # type: ignore[no-untyped-def]
    done = asyncio.Event()
    before = timebase.now()
    timebase.call_later(0, done.set)
    await asyncio.wait_for(done.wait(), 1)
    await timebase.sleep(0)
    assert timebase.now() >= before


def test_timer_scope_close_cancels_every_pending_timer(clock: ManualClock) -> None:
    scope = TimerScope(clock)
    fired: list[str] = []
    scope.call_later(1, lambda: fired.append("early"))
    kept = scope.call_later(5, lambda: fired.append("late"))
    scope.call_later(9, lambda: fired.append("cancelled by owner")).cancel()
    assert scope.pending == 2
    clock.advance(2)
    assert fired == ["early"] and scope.pending == 1
    scope.close()
    scope.call_later(1, lambda: fired.append("after close"))
    clock.advance(10)
    assert fired == ["early"] and scope.pending == 0 and scope.now() == 12
    kept.cancel()  # harmless after close


async def test_timer_scope_with_an_owner_drops_timers_once_the_owner_is_cancelled(clock: ManualClock) -> None:
    fired: list[str] = []
    started = asyncio.Event()

    async def owner() -> None:
        scope = TimerScope(clock, owner=asyncio.current_task())
        scope.call_later(2, lambda: fired.append("late"))
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(owner())
    await started.wait()
    task.cancel()  # asked to cancel, not yet unwound
    assert clock.advance(5) == 1  # the timer came due, but was void
    assert fired == []
    with pytest.raises(asyncio.CancelledError):
        await task


# --- memory: cancelled timers do not pile up (issue 8 #4) ------------------------------------------


def test_a_timer_set_and_cancelled_over_and_over_keeps_the_heap_small(clock: ManualClock) -> None:
    # The pattern of a machine re-entering a timeout=30 state: each entry sets the state's timer,
    # each exit cancels it, and time barely moves, so no deadline is ever reached.
    keep = clock.call_later(1_000, lambda: None)
    largest = 0
    for _ in range(100_000):
        clock.call_later(30, lambda: None).cancel()
        clock.advance(0.001)
        largest = max(largest, clock.heap_size)
    assert clock.pending == 1
    assert largest <= 2 * timebase_module._COMPACT_AT_LEAST
    keep.cancel()
    assert clock.pending == 0 and clock.next_deadline() is None and clock.heap_size == 0


def test_compaction_keeps_the_order_of_the_live_timers(clock: ManualClock) -> None:
    fired: list[int] = []
    handles = [clock.call_later(1 + i % 7, lambda i=i: fired.append(i)) for i in range(1_000)]
    for i, handle in enumerate(handles):
        if i % 3:
            handle.cancel()
    assert clock.heap_size < 1_000  # compacted at least once
    clock.advance(10)
    expected = sorted((i for i in range(1_000) if i % 3 == 0), key=lambda i: (1 + i % 7, i))
    assert fired == expected


@given(st.lists(st.tuples(st.sampled_from(["set", "cancel", "advance"]), st.integers(0, 50)), max_size=400))
def test_heap_stays_proportional_to_the_live_timers(steps: list[tuple[str, int]]) -> None:
    clock = ManualClock()
    live: list[object] = []
    peak = 0
    for op, n in steps:
        if op == "set":
            live.append(clock.call_later(n, lambda: None))
        elif op == "cancel" and live:
            live.pop(n % len(live)).cancel()  # type: ignore[attr-defined]
        elif op == "advance":
            clock.advance(n / 10)
        peak = max(peak, clock.pending)
        assert clock.heap_size <= 2 * peak + timebase_module._COMPACT_AT_LEAST
    assert clock.pending == sum(1 for t in live if t.clock is not None)  # type: ignore[attr-defined]


# --- the advance/reset/set interface and the clocks of mycorrhizal 0.x -----------------------------


@pytest.mark.parametrize("timebase", [MonotonicClock(), WallClock(), UTCClock()])
def test_real_clocks_ignore_advance_reset_and_set(timebase: Timebase) -> None:
    before = timebase.now()
    assert timebase.advance() == 0 and timebase.advance(100) == 0
    timebase.reset()
    timebase.set(before + 1e6)
    timebase.set(0.0)
    assert before <= timebase.now() < before + 1e5
    assert timebase.rewinds == 0  # real time is never put back


def test_utc_clock_reads_the_utc_timestamp() -> None:
    assert abs(UTCClock().now() - datetime.now(UTC).timestamp()) < 60
    assert abs(UTCClock().now() - time.time()) < 60


def test_manual_clock_has_no_step_but_can_be_set_and_reset() -> None:
    clock = ManualClock(start=5)
    fired: list[float] = []
    clock.call_later(10, lambda: fired.append(clock.now()))
    assert clock.advance() == 0 and clock.now() == 5
    clock.set(20)
    assert fired == [15.0] and clock.now() == 20
    assert clock.rewinds == 0  # forward only so far
    clock.reset()
    assert clock.now() == 5 and clock.rewinds == 1
    clock.reset()  # already at its start: not put back
    clock.set(30)
    clock.set(12)
    assert clock.rewinds == 2


async def test_cycle_clock_counts_steps_and_wakes_sleepers_when_due() -> None:
    clock = CycleClock()
    assert clock.now() == 0 and clock.stepsize == 1 and clock.cycles == 0
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(3)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    for _ in range(2):
        clock.advance()
        await asyncio.sleep(0)
    assert woke == [] and clock.now() == 2
    clock.advance()
    await task
    assert woke == [3.0]
    clock.reset()
    assert clock.now() == 0


async def test_cycle_clock_with_a_fractional_step_drives_a_loop_like_the_0x_demo() -> None:
    clock = CycleClock(stepsize=0.1)
    done = asyncio.Event()

    async def worker() -> None:
        await clock.sleep(0.5)
        done.set()

    task = asyncio.create_task(worker())
    steps = 0
    while not done.is_set():
        clock.advance()
        steps += 1
        await asyncio.sleep(0)
    await task
    assert 5 <= steps <= 6  # 0.1 added five times is 0.5 up to float rounding
    assert clock.now() == pytest.approx(steps * 0.1)


def test_cycle_clock_doc_forms_initial_and_amount() -> None:
    clock = CycleClock(initial=10.0)
    assert clock.now() == 10
    clock.advance(amount=2.5)
    assert clock.now() == 12.5
    clock.reset()
    assert clock.now() == 10


@pytest.mark.parametrize("stepsize", [0, -1, float("nan")])
def test_cycle_clock_refuses_a_step_that_does_not_move(stepsize: float) -> None:
    with pytest.raises(DefinitionError, match="CycleClock: stepsize must be > 0.*Fix: pass a positive"):
        CycleClock(stepsize=stepsize)


@pytest.mark.parametrize("stepsize", [float("inf"), float("-inf")])
def test_cycle_clock_refuses_an_endless_step(stepsize: float) -> None:
    # advance() would jump to inf: every timer fires at once and the time never moves again
    refusal = r"CycleClock: stepsize must be > 0 and finite, got -?inf\. Fix: pass a positive stepsize"
    with pytest.raises(DefinitionError, match=refusal):
        CycleClock(stepsize=stepsize)


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda value: ManualClock(start=value), "start"),
        (lambda value: CycleClock(initial=value), "initial"),
        (lambda value: DictatedClock(initial=value), "initial"),
    ],
)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_virtual_clocks_refuse_a_start_that_is_not_a_finite_number(
    make: Callable[[float], Timebase], argument: str, value: float
) -> None:
    refusal = rf"\({argument}=\.\.\.\): {argument} must be a finite number, got -?(nan|inf)\. Fix: pass"
    with pytest.raises(ValueError, match=refusal):
        make(value)


async def test_dictated_clock_moves_only_when_set_and_wakes_sleepers() -> None:
    clock = DictatedClock(100.0)
    assert clock.now() == 100 and clock.value == 100
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    assert clock.advance() == 0 and clock.now() == 100
    clock.set(104.9)
    await asyncio.sleep(0)
    assert not task.done()
    clock.set_time(105)
    await task
    assert clock.now() == 105


def test_dictated_clock_may_go_back_and_timers_keep_their_deadlines() -> None:
    clock = DictatedClock(initial=0.0)
    fired: list[float] = []
    clock.call_later(10, lambda: fired.append(clock.now()))
    clock.set(8)
    clock.reset()
    assert clock.now() == 0 and fired == []
    clock.set(9.5)
    assert fired == []
    clock.set(12)
    assert fired == [10.0] and clock.now() == 12


def test_timer_scope_passes_advance_reset_and_set_to_its_clock() -> None:
    clock = CycleClock(stepsize=2)
    scope = TimerScope(clock)
    fired: list[float] = []
    scope.call_later(2, lambda: fired.append(scope.now()))
    assert scope.advance() == 1 and fired == [2.0]
    scope.set(7)
    assert clock.now() == 7
    scope.reset()
    assert clock.now() == 0 and scope.rewinds == clock.rewinds == 1


def test_virtual_clocks_fire_in_deadline_order_whatever_the_order_set() -> None:
    rng = random.Random(8)
    clock = DictatedClock(0)
    fired: list[float] = []
    for _ in range(200):
        clock.call_later(rng.randint(1, 50), lambda: fired.append(clock.now()))
    clock.set(50)
    assert fired == sorted(fired) and len(fired) == 200


class OldStyleClock(Timebase):
    """A custom clock written for 0.x: only now() and sleep()."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(0)
        self.t += delay


async def test_a_clock_with_only_now_and_sleep_still_schedules_timers() -> None:
    clock = OldStyleClock()
    fired: list[float] = []
    clock.call_later(5, lambda: fired.append(clock.now()))
    cancelled = clock.call_later(7, lambda: fired.append(-1))
    cancelled.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert fired == [5.0] and clock.sleeps == [5]  # the cancelled timer never even slept
    assert not timebase_module._SleepTimer._live  # nothing left pending


# --- what engines accept as a timebase ------------------------------------------------------------


class _DuckClock:
    """Not a Timebase subclass, but it has what an engine calls."""

    def now(self) -> float:
        return 0.0

    async def sleep(self, delay: float) -> None:
        return None

    def call_later(self, delay: float, callback: object) -> None:
        return None


def test_checked_timebase_gives_the_default_for_none_and_keeps_any_clock() -> None:
    assert timebase_module.checked_timebase(None, "Runner") is timebase_module.default_timebase()
    assert timebase_module.default_timebase() is timebase_module.DEFAULT_TIMEBASE
    assert isinstance(timebase_module.DEFAULT_TIMEBASE, MonotonicClock)
    clock, duck = ManualClock(), _DuckClock()
    assert timebase_module.checked_timebase(clock, "Runner") is clock
    assert timebase_module.checked_timebase(duck, "Runner") is duck  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "fix"),
    [
        (
            "clock",
            "pass a clock such as MonotonicClock(), ManualClock() or CycleClock(), or subclass Timebase",
        ),
        (5.0, "pass a clock such as MonotonicClock(), ManualClock() or CycleClock(), or subclass Timebase"),
        (MonotonicClock, "pass an instance: MonotonicClock()"),  # the class, not a clock
    ],
)
def test_checked_timebase_refuses_what_is_not_a_clock_naming_the_owner(bad: object, fix: str) -> None:
    with pytest.raises(
        DefinitionError, match=re.escape(f"Runner of net 'N': timebase={bad!r} is not a timebase")
    ) as info:
        timebase_module.checked_timebase(bad, "Runner of net 'N'")  # type: ignore[arg-type]
    assert [str(p) for p in info.value.problems] == [
        f"Runner of net 'N': timebase={bad!r} is not a timebase (it needs now(), sleep() and call_later()). "
        f"Fix: {fix}"
    ]


NAN = float("nan")


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (lambda c: c.advance(NAN), r"advance\(\) needs a delay >= 0, got nan"),
        (lambda c: c.set(NAN), r"set\(\) needs a time that is a number, got nan"),
    ],
)
@pytest.mark.parametrize("make", [ManualClock, CycleClock, DictatedClock])
def test_a_nan_move_is_refused_and_leaves_time_and_timers_alone(make: Any, move: Any, message: str) -> None:
    clock = make()
    fired: list[float] = []
    clock.call_later(100, lambda: fired.append(clock.now()))
    with pytest.raises(ValueError, match=message):
        move(clock)
    assert fired == [] and clock.now() == 0.0 and clock.pending == 1


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (
            lambda c: c.advance(math.inf),
            r"advance\(\) needs a delay >= 0, got inf: a finite number, not a bool",
        ),
        (lambda c: c.advance(True), r"advance\(\) needs a delay >= 0, got True: a finite number, not a bool"),
        (lambda c: c.advance("5"), r"advance\(\) needs a delay >= 0, got '5'"),
        (lambda c: c.set(math.inf), r"set\(\) needs a time that is a number, got inf"),
        (lambda c: c.set(True), r"set\(\) needs a time that is a number, got True"),
        (lambda c: c.set("5"), r"set\(\) needs a time that is a number, got '5'"),
    ],
)
@pytest.mark.parametrize("make", [ManualClock, CycleClock, DictatedClock])
def test_a_move_to_the_end_of_time_or_by_a_bool_is_refused(make: Any, move: Any, message: str) -> None:
    # inf fired every timer and left the time at inf for good; True moved one second; '5' was a TypeError
    clock = make()
    clock.call_later(100, lambda: None)
    with pytest.raises(ValueError, match=message):
        move(clock)
    assert clock.now() == 0.0 and clock.pending == 1


@pytest.mark.parametrize("delay", [math.inf, True, "5"])
async def test_run_for_refuses_the_end_of_time_and_bools(clock: ManualClock, delay: Any) -> None:
    clock.call_later(100, lambda: None)
    with pytest.raises(ValueError, match=rf"run_for\(\) needs a delay >= 0, got {re.escape(repr(delay))}"):
        await clock.run_for(delay)
    assert clock.now() == 0.0 and clock.pending == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: ManualClock(start=True),
            r"ManualClock\(start=\.\.\.\): start must be a finite number, got True",
        ),
        (lambda: ManualClock(start="0"), r"start must be a finite number, got '0'"),
        (lambda: DictatedClock(initial=True), r"initial must be a finite number, got True"),
        (lambda: CycleClock(initial="0"), r"initial must be a finite number, got '0'"),
        (lambda: CycleClock(stepsize=True), r"CycleClock: stepsize must be > 0 and finite, got True"),
        (lambda: CycleClock(stepsize="1"), r"CycleClock: stepsize must be > 0 and finite, got '1'"),
    ],
)
def test_a_clock_does_not_start_at_or_step_by_a_bool_or_a_str(make: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message + r"\. Fix: pass"):
        make()


async def test_run_for_nan_is_refused(clock: ManualClock) -> None:
    clock.call_later(100, lambda: None)
    with pytest.raises(ValueError, match=r"run_for\(\) needs a delay >= 0, got nan"):
        await clock.run_for(NAN)
    assert clock.now() == 0.0 and clock.pending == 1


async def test_a_nan_sleep_returns_at_once_as_asyncio_sleep_does(clock: ManualClock) -> None:
    sleeper = asyncio.create_task(clock.sleep(NAN))
    for _ in range(3):
        await asyncio.sleep(0)
    assert sleeper.done()  # not waiting for a deadline that no advance would ever be said to reach
    assert clock.now() == 0.0 and clock.pending == 0


@pytest.mark.parametrize("make", [ManualClock, CycleClock])
async def test_run_for_never_moves_back_a_clock_another_driver_moved_past_its_end(make: Any) -> None:
    clock = make()
    seen: list[float] = []

    async def other_driver() -> None:  # a second runtime on the same clock, stepping it meanwhile
        await asyncio.sleep(0)
        clock.advance(20)
        seen.append(clock.now())

    driver = asyncio.create_task(other_driver())
    await clock.run_for(10)
    await driver
    assert seen == [20.0]
    assert clock.now() == 20.0 and clock.rewinds == 0


async def _advance_to_10(clock: Any) -> None:
    clock.advance(10)


async def _set_to_10(clock: Any) -> None:
    clock.set(10)


async def _run_for_10(clock: Any) -> None:
    await clock.run_for(10)


@pytest.mark.parametrize("move", [_advance_to_10, _set_to_10, _run_for_10], ids=["advance", "set", "run_for"])
@pytest.mark.parametrize("make", [ManualClock, CycleClock, DictatedClock])
async def test_a_raising_timer_stops_the_move_at_its_deadline_and_the_later_timers_wait(
    make: Any, move: Any
) -> None:
    clock = make()
    fired: list[tuple[str, float]] = []

    def broken() -> None:
        fired.append(("broken", clock.now()))
        raise RuntimeError("timer broke")

    clock.call_later(1, lambda: fired.append(("first", clock.now())))
    clock.call_later(2, broken)
    clock.call_later(2, lambda: fired.append(("same deadline", clock.now())))
    clock.call_later(3, lambda: fired.append(("later", clock.now())))
    clock.call_later(20, lambda: fired.append(("beyond", clock.now())))
    with pytest.raises(RuntimeError, match="^timer broke$"):
        await move(clock)
    assert clock.now() == 2.0  # at the failing timer's deadline, not at the end of the move
    assert fired == [("first", 1.0), ("broken", 2.0)]
    assert clock.pending == 3 and clock.next_deadline() == 2.0  # the failing timer is spent
    assert clock.advance(8) == 2  # the next move fires the rest at their own deadlines
    assert fired[2:] == [("same deadline", 2.0), ("later", 3.0)]
    assert clock.now() == 10.0 and clock.pending == 1


# --- what a delay may be ---------------------------------------------------------------------------


def _all_clocks() -> list[Any]:
    return [
        pytest.param(ManualClock, id="ManualClock"),
        pytest.param(CycleClock, id="CycleClock"),
        pytest.param(DictatedClock, id="DictatedClock"),
        pytest.param(lambda: TimerScope(ManualClock()), id="TimerScope"),
        pytest.param(MonotonicClock, id="MonotonicClock"),
        pytest.param(WallClock, id="WallClock"),
        pytest.param(UTCClock, id="UTCClock"),
    ]


@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("make", _all_clocks())
async def test_a_bool_is_not_a_delay_to_sleep(make: Callable[[], Timebase], delay: bool) -> None:
    # True slept one second and False none, as if they were numbers (the loop's clocks: for real)
    clock = make()
    with pytest.raises(ValueError, match=rf"sleep\(\) needs a delay in seconds, got {delay}: a bool is not"):
        await asyncio.wait_for(clock.sleep(delay), 0.5)  # (the bound: a real clock slept for real)
    assert getattr(clock, "pending", 0) == 0


@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize(
    "make", [*_all_clocks(), pytest.param(OldStyleClock, id="a 0.x clock with only now() and sleep()")]
)
async def test_a_bool_is_not_a_delay_to_call_later(make: Callable[[], Timebase], delay: bool) -> None:
    clock = make()
    fired: list[float] = []
    with pytest.raises(
        ValueError,
        match=rf"call_later\(\) needs a delay in seconds, got {delay}: a bool is not a number of seconds\. "
        rf"Fix: pass the seconds as a number, e.g\. {float(delay)}",
    ):
        clock.call_later(delay, lambda: fired.append(clock.now()))
    clock.advance(2)
    await asyncio.sleep(0)
    assert fired == [] and getattr(clock, "pending", 0) == 0
    assert not timebase_module._SleepTimer._live


@pytest.mark.parametrize("delay", [0, 1, 2.5, -1.0])
async def test_numbers_are_still_delays(clock: ManualClock, delay: float) -> None:
    fired: list[float] = []
    clock.call_later(delay, lambda: fired.append(clock.now()))
    sleeper = asyncio.create_task(clock.sleep(delay))
    await asyncio.sleep(0)
    await clock.run_for(3)
    await sleeper
    assert fired == [max(0.0, delay)]
