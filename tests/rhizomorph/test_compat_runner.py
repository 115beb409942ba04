"""0.x's Runner (UPSTREAM-API.md §3.5, §5.1): keywords, ExceptionPolicy, trace, clock steps, timeout."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, HandlerError, ManualClock
from mycorrhizal.common.timebase import CycleClock, MonotonicClock
from mycorrhizal.rhizomorph import ErrorPolicy, ExceptionPolicy, Runner, Status, Tree, bt


@pytest.fixture
def counting() -> Tree:
    @bt.tree
    def Counting() -> None:
        @bt.action
        def count(bb: dict[str, Any], tb: Any) -> Status:
            bb["times"].append(tb.now())
            return Status.SUCCESS

        bt.root(count)

    return Counting


def test_exception_policy_is_the_error_policy_under_its_0x_names() -> None:
    assert ExceptionPolicy is ErrorPolicy
    assert ExceptionPolicy.LOG_AND_CONTINUE is ErrorPolicy.ERROR
    assert ExceptionPolicy.PROPAGATE is ErrorPolicy.PROPAGATE


async def test_runner_takes_the_0x_keywords(counting: Tree) -> None:
    clock = ManualClock(start=3.0)
    bb: dict[str, Any] = {"times": []}
    runner = Runner(counting, bb=bb, tb=clock, exception_policy=ExceptionPolicy.LOG_AND_CONTINUE)
    assert runner.tb is clock and runner.timebase is clock and runner.bb is bb
    assert runner.exception_policy is ErrorPolicy.ERROR
    assert await runner.tick() is Status.SUCCESS
    assert bb["times"] == [3.0]
    assert isinstance(Runner(counting, bb).tb, MonotonicClock)  # the default clock


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timebase": ManualClock(), "tb": ManualClock()}, "both timebase=.* and tb="),
        (
            {"on_error": ErrorPolicy.FAILURE, "exception_policy": ErrorPolicy.ERROR},
            "both on_error=.*exception_policy",
        ),
    ],
)
def test_both_names_of_one_setting_is_an_error(counting: Tree, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Runner(counting, {}, **kwargs)


def test_an_unknown_keyword_is_a_type_error(counting: Tree) -> None:
    # (the 0.x keywords arrive through **legacy: anything else must still be refused)
    with pytest.raises(TypeError, match="unexpected keyword argument 'on_eror'"):
        Runner(counting, {}, on_eror=ErrorPolicy.FAILURE)


@pytest.fixture
def raising() -> Tree:
    @bt.tree
    def Raising() -> None:
        @bt.action
        def boom(bb: Any) -> Status:
            raise ValueError("boom")

        bt.root(bt.selector(boom, bt.action(lambda bb: None, name="fallback")))

    return Raising


async def test_log_and_continue_turns_an_exception_into_error(raising: Tree) -> None:
    runner = Runner(raising, {}, exception_policy=ExceptionPolicy.LOG_AND_CONTINUE)
    assert await runner.tick() is Status.SUCCESS
    assert runner.statuses()["boom"] is Status.ERROR


async def test_propagate_raises_naming_the_leaf(raising: Tree) -> None:
    with pytest.raises(HandlerError, match="action 'boom'") as err:
        await Runner(raising, {}, exception_policy=ExceptionPolicy.PROPAGATE).tick()
    assert isinstance(err.value.__cause__, ValueError)


async def test_trace_logs_each_leaf_ticked_with_its_status(
    caplog: pytest.LogCaptureFixture, raising: Tree
) -> None:
    trace = logging.getLogger("robot.trace")
    calls: list[Status] = []
    runner = Runner(
        raising,
        {},
        exception_policy=ExceptionPolicy.LOG_AND_CONTINUE,
        trace=trace,
        on_tick=lambda r, s: calls.append(s),
    )
    with caplog.at_level(logging.DEBUG, logger="robot.trace"):
        await runner.tick()
    lines = [r.getMessage() for r in caplog.records if r.name == "robot.trace"]
    assert lines == [
        f"action: {__name__}.raising.<locals>.Raising.<locals>.boom | ERROR",
        f"action: {__name__}.raising.<locals>.Raising.<locals>.<lambda> | SUCCESS",
    ]
    assert calls == [Status.SUCCESS]  # the caller's on_tick still runs


async def test_trace_costs_nothing_when_its_level_is_off(
    caplog: pytest.LogCaptureFixture, counting: Tree
) -> None:
    quiet = logging.getLogger("robot.quiet")
    quiet.setLevel(logging.INFO)
    with caplog.at_level(logging.DEBUG):
        await Runner(counting, {"times": []}, trace=quiet).tick()
    assert not [r for r in caplog.records if r.name == "robot.quiet"]


async def test_each_tick_steps_a_cycle_clock(counting: Tree) -> None:
    clock = CycleClock(stepsize=0.5)
    bb: dict[str, Any] = {"times": []}
    runner = Runner(counting, bb, tb=clock)
    for _ in range(3):
        await runner.tick()
    assert bb["times"] == [0.0, 0.5, 1.0] and clock.now() == 1.5


async def test_a_manual_clock_is_not_moved_by_ticks(counting: Tree) -> None:
    clock = ManualClock()
    runner = Runner(counting, {"times": []}, tb=clock)
    await runner.tick()
    await runner.tick()
    assert clock.now() == 0.0


async def test_tick_until_complete_with_a_cycle_clock_keeps_ticking_so_sleepers_wake() -> None:
    @bt.tree
    def Nap() -> None:
        @bt.action
        async def nap(tb: Any) -> Status:
            await tb.sleep(2)
            return Status.SUCCESS

        bt.root(nap)

    clock = CycleClock(stepsize=1)
    runner = Runner(Nap, {}, tb=clock)
    assert await asyncio.wait_for(runner.tick_until_complete(), 5) is Status.SUCCESS
    assert clock.now() >= 2


async def test_tick_until_complete_timeout_halts_and_reports_cancelled() -> None:
    halted: list[str] = []

    @bt.tree
    def Forever() -> None:
        @bt.action(on_halt=lambda: halted.append("wait"))
        async def wait(tb: Any) -> Status:
            await tb.sleep(100)
            return Status.SUCCESS

        bt.root(wait)

    clock = ManualClock()
    runner = Runner(Forever, {}, tb=clock)
    run = asyncio.create_task(runner.tick_until_complete(5))
    await clock.run_for(5)
    assert await run is Status.CANCELLED
    assert halted == ["wait"] and not runner.running


async def test_tick_until_complete_timeout_with_a_cycle_clock() -> None:
    @bt.tree
    def Spin() -> None:
        bt.root(bt.action(lambda: Status.RUNNING, name="spin"))

    clock = CycleClock(stepsize=0.1)
    assert await Runner(Spin, {}, tb=clock).tick_until_complete(timeout=1.0) is Status.CANCELLED
    assert (
        1.0 <= clock.now() + 1e-9 <= 1.2
    )  # the tick at which the deadline passed (0.1 steps add up in floats)
