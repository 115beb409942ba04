"""Stopping a runner: in-flight firings finish or give their tokens back, sources stop, and the
runner can start again (also on another event loop) without anything lost or counted twice."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, Runner, pn

from .conftest import pipeline, settle, sleepy_net


async def test_stop_lets_in_flight_firings_finish(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(sleepy_net(2), bb, clock)
    runner.add_tokens("jobs", range(5))
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 2
    stopping = asyncio.ensure_future(runner.stop())
    await clock.run_for(1)
    await stopping
    marking = runner.marking()
    assert sorted(marking["done"]) == [0, 1] and marking["jobs"] == (2, 3, 4)
    assert not runner.running and runner.in_flight == 0


async def test_stop_with_cancel_returns_in_flight_tokens(clock: ManualClock) -> None:
    runner = Runner(sleepy_net(3), {}, clock)
    runner.add_tokens("jobs", range(5))
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 3
    await runner.stop(cancel=True)
    assert runner.marking()["jobs"] == (0, 1, 2, 3, 4)
    assert runner.marking()["done"] == ()
    assert runner.stats.cancelled == 3 and runner.stats.returned == 3
    # and it can start again and finish the work
    await settle(clock, runner.run_until_idle())
    assert sorted(runner.marking()["done"]) == [0, 1, 2, 3, 4]


async def test_async_context_manager_starts_and_stops(bb: dict[str, Any]) -> None:
    async with Runner(pipeline(2, initial=[1]), bb) as runner:
        assert runner.running
        await runner.run_until_idle()
    assert not runner.running and runner.marking()["p2"] == (1,)


async def test_stop_timeout_cancels_firings_still_in_flight(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(sleepy_net(4), bb, clock)
    stopped: list[str] = []
    runner.add_stop_callback(lambda: stopped.append("closed"))
    runner.add_tokens("jobs", range(3))
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 3
    stopping = asyncio.ensure_future(runner.stop(timeout=0.5))
    await clock.run_for(0.5)
    await stopping
    assert runner.marking()["jobs"] == (0, 1, 2) and runner.marking()["done"] == ()
    assert stopped == ["closed"]


async def test_stop_awaits_a_stop_callback_that_returns_an_awaitable(clock: ManualClock) -> None:
    runner = Runner(pipeline(2, initial=[1]), {}, clock)
    closed: list[str] = []

    async def close_slowly() -> None:
        await clock.sleep(1.0)  # e.g. closing embedded machines that wind down on the net's clock
        closed.append("async")

    runner.add_stop_callback(close_slowly)
    runner.add_stop_callback(lambda: closed.append("sync"))
    await runner.run_until_idle()
    stopping = asyncio.ensure_future(runner.stop())
    await clock.run_for(0.5)
    assert not stopping.done() and closed == []
    await clock.run_for(0.5)
    await stopping
    assert closed == ["async", "sync"]


def test_a_runner_can_be_driven_by_successive_event_loops() -> None:
    runner = Runner(pipeline(2, initial=[1]), {})
    asyncio.run(runner.run_until_idle())
    runner.add_token("p0", 2)  # the first loop is closed: no error, the token waits
    assert runner.marking()["p0"] == (2,)
    asyncio.run(runner.run_until_idle())
    assert runner.marking()["p2"] == (1, 2)


async def test_stop_cancel_right_after_a_firing_suspended_gives_its_tokens_back(clock: ManualClock) -> None:
    # The firing's task exists but has not run a single step when stop(cancel=True) cancels it.
    runner = Runner(sleepy_net(1), {}, clock)
    await runner.start()
    runner.add_token("jobs", "a")
    await asyncio.sleep(0)  # the scheduler runs, the handler suspends, its task is created
    assert runner.in_flight == 1
    await runner.stop(cancel=True)
    assert runner.marking()["jobs"] == ("a",)
    assert runner.in_flight == 0 and runner.stats.cancelled == 1 and runner.stats.returned == 1
    await settle(clock, runner.run_until_idle())
    assert runner.marking()["done"] == ("a",)


async def test_stop_cancel_returns_the_oldest_firings_tokens_first_even_when_not_started(
    clock: ManualClock,
) -> None:
    runner = Runner(sleepy_net(4), {}, clock)
    runner.add_tokens("jobs", [0, 1])
    await runner.start()
    await clock.run_for(0)  # firings of 0 and 1 are running
    runner.add_tokens("jobs", [2, 3])
    await asyncio.sleep(0)  # firings of 2 and 3 suspended, their tasks not started yet
    assert runner.in_flight == 4
    await runner.stop(cancel=True)
    assert runner.marking()["jobs"] == (0, 1, 2, 3)


async def test_stop_cancel_right_after_a_delivery_suspended_keeps_the_token(clock: ManualClock) -> None:
    @pn.net
    def Out(builder: NetBuilder) -> None:
        src = builder.place("src")

        @builder.io_output_place(capacity=1)
        async def sink(token: Any, bb: Any, timebase: Any) -> None:
            await timebase.sleep(1)
            bb.setdefault("sent", []).append(token)

        @builder.transition(inputs=[src], outputs=[sink])
        def forward(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {sink: consumed[0]}

    bb: dict[str, Any] = {}
    runner = Runner(Out, bb, clock)
    await runner.start()
    runner.add_token("src", "t")
    await asyncio.sleep(0)
    assert runner.in_flight == 1
    await runner.stop(cancel=True)
    assert runner.marking()["sink"] == ("t",) and runner.in_flight == 0
    await settle(clock, runner.run_until_idle())
    assert bb["sent"] == ["t"] and runner.marking()["sink"] == ()


def source_net() -> Any:
    @pn.net
    def Fed(builder: NetBuilder) -> None:
        @builder.io_input_place()
        async def feed(bb: Any, timebase: Any) -> Any:
            yield "x"

        out = builder.place("out")

        @builder.transition(inputs=[feed], outputs=[out])
        def take(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    return Fed


async def test_a_source_stopped_before_it_ran_does_not_keep_the_runner_busy() -> None:
    runner = Runner(source_net(), {})
    await runner.start()
    await runner.stop()  # the source's task is cancelled before its first step
    await asyncio.wait_for(runner.run_until_idle(), 5)  # a safety net: it returns at once
    assert runner.marking()["out"] == ("x",)
    await runner.stop()


def test_a_loop_closing_with_a_firing_in_flight_loses_no_token_and_the_next_loop_finishes_it() -> None:
    clock = ManualClock()
    runner = Runner(sleepy_net(1), {}, clock)

    async def leave_early() -> None:
        await runner.start()
        runner.add_token("jobs", "a")
        await asyncio.sleep(0)  # the firing suspends; asyncio.run then cancels its task
        assert runner.in_flight == 1

    asyncio.run(leave_early())
    assert runner.marking()["jobs"] == ("a",) and runner.in_flight == 0

    async def finish() -> None:
        await settle(clock, runner.run_until_idle())
        await runner.stop()

    asyncio.run(finish())
    assert runner.marking()["done"] == ("a",)


@pytest.mark.parametrize("timeout", [-1, -0.5, math.nan, True, "5"])
async def test_stop_refuses_a_timeout_that_means_nothing(clock: ManualClock, timeout: Any) -> None:
    runner = Runner(sleepy_net(1), {}, clock)
    runner.add_tokens("jobs", range(2))
    await runner.start()
    await clock.run_for(0)
    message = rf"runner of net 'Sleepy': stop\(timeout={re.escape(repr(timeout))}\) means nothing.*Fix: pass"
    with pytest.raises(ValueError, match=message):
        await runner.stop(timeout=timeout)
    assert runner.running and runner.in_flight == 1  # refused before anything stopped
    await runner.stop(cancel=True)


@pytest.mark.parametrize(("timeout", "done"), [(0, ()), (math.inf, (0,)), (None, (0,))])
async def test_stop_timeout_zero_cancels_at_once_and_infinity_waits_like_none(
    clock: ManualClock, timeout: float | None, done: tuple[int, ...]
) -> None:
    runner = Runner(sleepy_net(1), {}, clock)
    runner.add_tokens("jobs", range(2))
    await runner.start()
    await clock.run_for(0)
    await settle(clock, runner.stop(timeout=timeout))
    assert runner.marking()["done"] == done and runner.in_flight == 0


@pytest.mark.parametrize("zero", [0, 0.0])
async def test_stop_timeout_zero_does_not_wait_for_the_clock(clock: ManualClock, zero: float) -> None:
    # timeout=0 used to arm a timer at "now" on the runner's timebase: on a ManualClock nobody moved,
    # `await runner.stop(timeout=0)` never returned, although the docs say 0 cancels them at once.
    runner = Runner(sleepy_net(2), {}, clock)
    runner.add_tokens("jobs", range(3))
    await runner.start()
    await clock.run_for(0)
    stopping = asyncio.ensure_future(runner.stop(timeout=zero))
    for _ in range(20):  # event-loop turns only: the clock stands still
        if stopping.done():
            break
        await asyncio.sleep(0)
    assert stopping.done(), "stop(timeout=0) waited for the clock"
    await stopping
    assert runner.marking()["jobs"] == (0, 1, 2) and runner.in_flight == 0 and clock.now() == 0


def cleaning_up_net() -> Any:
    """``jobs`` -> ``work`` -> ``done``; a cancelled firing of ``"slow"`` takes 1 s of cleanup."""

    @pn.net
    def Cleanup(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], concurrency=4)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            try:
                await timebase.sleep(100)
            finally:
                if consumed[0] == "slow":
                    await timebase.sleep(1)  # cleanup that awaits
            return {done: consumed[0]}

    return Cleanup


@pytest.mark.parametrize("second", [{"cancel": True}, {"cancel": False}, {"timeout": 0}])
async def test_a_stop_while_another_stop_waits_loses_no_token(clock: ManualClock, second: Any) -> None:
    # A second stop() (a second Ctrl-C, a shutdown hook) while a stop(cancel=True) still waits for a
    # cleanup must not forget what the firings cancelled so far give back.
    runner = Runner(cleaning_up_net(), {}, clock)
    runner.add_tokens("jobs", ["fast", "slow"])
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 2
    first = asyncio.ensure_future(runner.stop(cancel=True))
    await clock.run_for(0)  # "fast" has ended, "slow" cleans up
    also = asyncio.ensure_future(runner.stop(**second))
    await clock.run_for(0)
    await settle(clock, asyncio.gather(first, also))
    assert runner.marking()["jobs"] == ("fast", "slow")
    assert runner.in_flight == 0 and runner.stats.cancelled == 2 and runner.stats.returned == 2
    await runner.start()  # and the runner is not left waiting for a firing that no longer exists
    await settle(clock, runner.run_until_idle(), step=50)
    assert runner.marking()["done"] == ("fast", "slow")
