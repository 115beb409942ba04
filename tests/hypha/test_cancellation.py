"""Cancellation from anywhere: a handler always sees CancelledError and can clean up (asynchronously
too), its tokens go back, the runner is never left waiting, and nobody gets a CancelledError that was
not meant for them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock
from mycorrhizal.hypha import NetBuilder, Runner, pn

from .conftest import settle


def cleaning_net() -> Any:
    """``jobs`` -> ``work`` -> ``done``; work sleeps 10 s and records how it was interrupted."""

    @pn.net
    def Cleaning(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done])
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            try:
                await timebase.sleep(10)
            except BaseException as exc:
                bb.setdefault("saw", []).append(type(exc).__name__)
                raise
            finally:
                await asyncio.sleep(0)  # cleaning up asynchronously
                bb.setdefault("cleaned", []).append(consumed[0])
            return {done: consumed[0]}

    return Cleaning


def others() -> list[asyncio.Task[Any]]:
    """Every task but the test's own: what an application cancels when it shuts down."""
    return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]


async def test_a_firing_cancelled_from_outside_wakes_run_until_idle_and_is_retried(
    clock: ManualClock,
) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(cleaning_net(), bb, clock)
    runner.add_token("jobs", "a")
    idle = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(0)
    assert runner.in_flight == 1
    for task in others():
        if task is not idle:
            task.cancel()
    # a safety net only: before the fix, nothing ever woke this waiter
    (stuck,) = await asyncio.wait_for(idle, 5)
    assert (stuck.name, stuck.kind, stuck.waiting, stuck.retry_at) == ("Cleaning.work", "transition", 1, 0.1)
    assert runner.marking()["jobs"] == ("a",) and runner.in_flight == 0 and runner.stats.cancelled == 1
    assert bb == {"saw": ["CancelledError"], "cleaned": ["a"]}
    await clock.run_for(0.1)
    assert runner.in_flight == 1  # retried after 0.1 s
    assert await settle(clock, runner.run_until_idle(), step=10) == ()
    assert runner.marking()["done"] == ("a",)
    await runner.stop()


@pytest.mark.parametrize("eager", [True, False])
async def test_a_handler_raising_cancelled_error_itself_is_a_failure_not_a_cancellation(
    clock: ManualClock, eager: bool
) -> None:
    @pn.net
    def Confused(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], eager=eager)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            raise asyncio.CancelledError()  # before its first suspension

    runner = Runner(Confused, {}, clock)
    runner.add_token("jobs", "a")
    (stuck,) = await runner.run_until_idle()  # before the fix: CancelledError into this caller
    assert isinstance(stuck.error, HandlerError) and isinstance(stuck.error.__cause__, asyncio.CancelledError)
    assert "although nothing cancelled the firing" in str(stuck.error)
    assert runner.marking()["jobs"] == ("a",) and runner.stats.failures == 1 and runner.stats.cancelled == 0
    await runner.stop()


async def test_a_handler_awaiting_a_future_someone_else_cancelled_fails_and_is_retried(
    clock: ManualClock,
) -> None:
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[Any]] = []

    @pn.net
    def Waiting(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done])
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            future = loop.create_future()
            futures.append(future)
            return {done: await future}

    runner = Runner(Waiting, {}, clock)
    runner.add_token("jobs", "a")
    idle = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(0)
    futures[0].cancel()  # someone else's future: the firing's task itself was not cancelled
    (stuck,) = await asyncio.wait_for(idle, 5)
    assert runner.stats.failures == 1 and runner.stats.cancelled == 0 and runner.marking()["jobs"] == ("a",)
    await clock.run_for(0.1)  # the retry
    futures[1].set_result("answer")
    assert await settle(clock, runner.run_until_idle()) == ()
    assert runner.marking()["done"] == ("answer",)
    await runner.stop()


async def test_stop_cancel_in_the_turn_a_firing_suspends_lets_the_handler_clean_up(
    clock: ManualClock,
) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(cleaning_net(), bb, clock)
    await runner.start()
    runner.add_token("jobs", "a")
    await asyncio.sleep(0)  # the handler suspends; its task has not run a step yet
    assert runner.in_flight == 1
    await runner.stop(cancel=True)
    # before the fix the coroutine was closed: GeneratorExit, and the await in finally failed
    assert bb == {"saw": ["CancelledError"], "cleaned": ["a"]}
    assert runner.marking()["jobs"] == ("a",) and runner.errors == type(runner.errors)()


async def test_an_async_generator_handler_cancelled_at_once_runs_its_finally(clock: ManualClock) -> None:
    @pn.net
    def Streaming(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done])
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            try:
                await timebase.sleep(10)
                yield {done: consumed[0]}
            finally:
                await asyncio.sleep(0)
                bb["closed"] = True

    bb: dict[str, Any] = {}
    runner = Runner(Streaming, bb, clock)
    await runner.start()
    runner.add_token("jobs", "a")
    await asyncio.sleep(0)
    await runner.stop(cancel=True)
    assert bb == {"closed": True} and runner.marking()["jobs"] == ("a",) and not runner.errors


async def test_a_cancelled_caller_of_run_until_idle_does_not_disturb_the_runner(clock: ManualClock) -> None:
    runner = Runner(cleaning_net(), {}, clock)
    runner.add_tokens("jobs", ["a", "b"])
    caller = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert runner.in_flight == 2 and runner.running
    assert await settle(clock, runner.run_until_idle(), step=10) == ()
    assert sorted(runner.marking()["done"]) == ["a", "b"]
    await runner.stop()
