"""The pacer: how fast it moves a virtual clock, and that Pause stops it at once whatever the speed."""

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mycorrhizal.cli import parser
from mycorrhizal.common import ManualClock
from mycorrhizal.live import Pacer
from mycorrhizal.live.pacer import MAX_SPEED, check_speed

WAIT = 10.0  # real seconds: a bound for the pacer to settle, not an expected duration


@pytest.mark.parametrize("speed", [0.001, 1, 4.5, MAX_SPEED])
def test_a_speed_from_above_0_to_the_most_is_taken(speed: float) -> None:
    assert check_speed(speed) == speed


@pytest.mark.parametrize("speed", [0, -1, math.nan, math.inf, MAX_SPEED * 1.5, 1e300, True, "fast", None])
def test_any_other_speed_is_refused_saying_what_is_accepted(speed: Any) -> None:
    with pytest.raises(
        ValueError,
        match=r"^speed must be a number above 0 and at most 1e\+06 .*got .*\. Fix: pass a speed like 0\.5",
    ):
        check_speed(speed)


def test_the_command_line_refuses_the_speeds_the_pacer_refuses() -> None:
    assert parser.MAX_SPEED == MAX_SPEED  # (the parser has its own copy: it loads no web server)


def test_a_pacer_refuses_a_real_time_clock() -> None:
    with pytest.raises(
        TypeError,
        match=r"^a live view paces virtual clocks only .* got 42: .*\. Fix: leave clock= out",
    ):
        Pacer(42)  # type: ignore[arg-type]


def test_a_pacer_refuses_an_absurd_speed(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match=r"at most 1e\+06 \(virtual seconds per real second.*got 1e\+300"):
        Pacer(clock, speed=1e300)


async def every_second_by_timer(clock: ManualClock, beat: Callable[[], None]) -> None:
    """Call ``beat`` every virtual second, with a timer set again by its own callback."""

    def tick() -> None:
        beat()
        clock.call_later(1.0, tick)

    clock.call_later(1.0, tick)


async def every_second_by_sleeping(clock: ManualClock, beat: Callable[[], None]) -> None:
    """The same from a task sleeping on the clock (as a handler, a source or a machine's timeout)."""

    async def loop() -> None:
        while True:
            await clock.sleep(1.0)
            beat()

    task = asyncio.get_running_loop().create_task(loop())
    RUNNING.add(task)
    await asyncio.sleep(0)  # its first sleep is set


RUNNING: set[asyncio.Task[None]] = set()


@pytest.mark.parametrize("periodic", [every_second_by_timer, every_second_by_sleeping])
@pytest.mark.parametrize("speed", [1000.0, MAX_SPEED])
async def test_pause_stops_the_clock_at_the_next_deadline_whatever_the_speed(
    clock: ManualClock, speed: float, periodic: Callable[..., Awaitable[None]]
) -> None:
    # Something every virtual second; a slice of the pacer spans many seconds.  The third beat
    # pauses, as the page's Pause does when it arrives while the pacer moves the clock.
    beats: list[float] = []
    settled = asyncio.Event()

    def beat() -> None:
        beats.append(clock.now())
        if len(beats) == 3:
            pacer.pause()

    def moved() -> None:
        if pacer.paused:
            settled.set()

    await periodic(clock, beat)
    pacer = Pacer(clock, speed=speed, moved=moved)
    pacer.start()
    try:
        async with asyncio.timeout(WAIT):
            await settled.wait()
        for _ in range(50):  # what was woken last runs; nothing moves the clock any more
            await asyncio.sleep(0)
    finally:
        await pacer.stop()
        for task in RUNNING:
            task.cancel()
        RUNNING.clear()
    assert beats == [1.0, 2.0, 3.0] and clock.now() == 3.0


async def test_a_step_leaves_a_timer_set_for_ever_alone(clock: ManualClock) -> None:
    # e.g. a state with timeout=math.inf: its timer is never due, so a step has nothing to reach
    # (before: the step moved the clock to inf, firing it and ending time; the page's state said
    # "next": Infinity, which is no JSON)
    fired: list[float] = []
    clock.call_later(math.inf, lambda: fired.append(clock.now()))
    stepped = asyncio.Event()
    pacer = Pacer(clock, paused=True, moved=stepped.set)
    pacer.start()
    try:
        pacer.step()
        async with asyncio.timeout(WAIT):
            await stepped.wait()
    finally:
        await pacer.stop()
    assert fired == [] and clock.now() == 0.0 and pacer.steps == 1
    assert pacer.state()["next"] is None
