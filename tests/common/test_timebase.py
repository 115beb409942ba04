import asyncio

import pytest

from mycorrhizal.common import ManualClock, MonotonicClock, TimerScope, WallClock, default_timebase


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


@pytest.mark.parametrize("timebase", [MonotonicClock(), WallClock(), default_timebase()])
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
