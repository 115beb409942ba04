"""Ending a runner: aclose(), async with, and what happens to a runner that is simply dropped."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from typing import Any

import pytest

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.rhizomorph import ErrorPolicy, Runner, Status, Tree, TreeBuilder

S, R, C = Status.SUCCESS, Status.RUNNING, Status.CANCELLED


def sleeper(log: list[str], seconds: float = 60) -> Tree:
    """One async action that sleeps, logging how it ends; its halt hook logs too."""

    async def nap(timebase: Any) -> Status:
        try:
            await timebase.sleep(seconds)
        except asyncio.CancelledError:
            log.append("cancelled")
            await asyncio.sleep(0)  # asynchronous cleanup is allowed
            log.append("unwound")
            raise
        log.append("finished")
        return S

    b = TreeBuilder("Sleeper")
    b.root(b.sequence("main", b.action(nap, on_halt=lambda: log.append("hook"))))
    return b.build()


async def test_aclose_halts_waits_for_unwinding_and_refuses_more_ticks() -> None:
    log: list[str] = []
    runner = Runner(sleeper(log), None, ManualClock())
    assert await runner.tick() is R
    await runner.aclose()
    assert log == ["hook", "cancelled", "unwound"]
    assert runner.closed and runner.statuses()["nap"] is C
    with pytest.raises(
        ExecutionError,
        match=r"tree 'Sleeper': tick\(\) on a closed runner\. Fix: make a new Runner to run the tree again$",
    ):
        await runner.tick()
    await runner.aclose()  # twice is harmless
    assert log == ["hook", "cancelled", "unwound"]


async def test_async_with_closes_the_runner() -> None:
    log: list[str] = []
    async with Runner(sleeper(log), None, ManualClock()) as runner:
        assert await runner.tick() is R
    assert log == ["hook", "cancelled", "unwound"]
    assert runner.closed


async def test_aclose_during_tick_until_complete_returns_cancelled() -> None:
    log: list[str] = []
    runner = Runner(sleeper(log), None, ManualClock())
    run = asyncio.create_task(runner.tick_until_complete())
    await asyncio.sleep(0)
    assert runner.running
    await runner.aclose()
    assert await run is C
    assert log == ["hook", "cancelled", "unwound"]


async def test_a_dropped_runner_cancels_its_leaves_when_collected() -> None:
    log: list[str] = []
    clock = ManualClock()
    runner = Runner(sleeper(log), None, clock)
    assert await runner.tick() is R
    del runner
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    assert log == ["cancelled", "unwound"]  # no halt hook from a garbage collector
    await clock.run_for(120)
    assert log == ["cancelled", "unwound"]
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []


async def test_a_dropped_runner_whose_leaf_raises_while_unwinding_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def stubborn(timebase: Any) -> Status:
        try:
            await timebase.sleep(60)
        finally:
            raise OSError("unwinding")

    b = TreeBuilder("Stubborn")
    b.root(b.action(stubborn))
    runner = Runner(b.build(), None, ManualClock())
    await runner.tick()
    del runner
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    [record] = rhizomorph_records(caplog)
    assert record.levelno == logging.ERROR and isinstance(record.exc_info and record.exc_info[1], OSError)
    assert re.fullmatch(  # names the tree and the leaf, ends with one fix
        r"Stubborn: action 'stubborn', a leaf of a dropped runner, raised OSError\('unwinding'\) while "
        r"being cancelled\. Fix: [^.]+",
        record.getMessage(),
    )


# ------------------------------------------- a leaf's exception left uncollected is never dropped silently


def courier() -> Tree:
    """An async action, named with spaces (its node id differs), whose coroutine raises after 1s."""

    async def fetch(timebase: Any) -> Status:
        await timebase.sleep(1)
        raise ConnectionError("map server down")

    b = TreeBuilder("Courier")
    b.root(b.sequence("deliver", b.action(fetch, name="fetch the map")))
    return b.build()


async def finish_uncollected(runner: Runner, clock: ManualClock, callbacks_ran: bool) -> None:
    """Tick once (the leaf's task starts), then let the task raise without ticking again.

    With ``callbacks_ran`` False it stops as soon as the task is done: asyncio has only scheduled its
    done-callbacks then (the loop's ready queue is first in, first out), they have not run yet."""
    assert await runner.tick() is R
    if callbacks_ran:
        await clock.run_for(1)
        return
    [task] = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    clock.advance(1)
    for _ in range(5):
        await asyncio.sleep(0)
        if task.done():
            break
    assert task.done() and isinstance(task.exception(), ConnectionError)


def rhizomorph_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mycorrhizal.rhizomorph" and r.levelno >= logging.WARNING]


async def end_by_dropping(runner: Runner, tree: Tree, clock: ManualClock) -> None:
    pass  # the test drops its runner after every end


async def end_by_restoring_then_dropping(runner: Runner, tree: Tree, clock: ManualClock) -> None:
    # The raised leaf is not written down (the restored runner starts it again): the original keeps it.
    restored = Runner.restore(tree, runner.snapshot(), timebase=clock)
    assert restored.statuses()["fetch_the_map"] is R


async def end_by_observed_dropping(runner: Runner, tree: Tree, clock: ManualClock) -> None:
    # An observer makes the runner part of a reference cycle: only the cycle collector frees it.
    runner.add_observer(lambda event: None)


async def end_by_reset(runner: Runner, tree: Tree, clock: ManualClock) -> None:
    runner.reset()


async def end_by_aclose(runner: Runner, tree: Tree, clock: ManualClock) -> None:
    await runner.aclose()


RAISED = r"^Courier: action 'fetch the map' raised ConnectionError\('map server down'\)"
DROPPED = RAISED + r", but its runner was dropped before a tick collected it; .* Fix: "
HALTED = RAISED + r", but was halted before a tick collected it"


@pytest.mark.parametrize("callbacks_ran", [True, False], ids=["callbacks-ran", "callbacks-pending"])
@pytest.mark.parametrize(
    ("end", "level", "expected"),
    [
        (end_by_dropping, logging.ERROR, DROPPED),
        (end_by_restoring_then_dropping, logging.ERROR, DROPPED),
        (end_by_observed_dropping, logging.ERROR, DROPPED),
        (end_by_reset, logging.WARNING, HALTED),
        (end_by_aclose, logging.WARNING, HALTED),
    ],
    ids=["dropped", "restored-then-dropped", "observed-then-dropped", "reset", "aclose"],
)
async def test_an_exception_no_tick_collected_is_logged_naming_tree_node_and_exception(
    caplog: pytest.LogCaptureFixture,
    clock: ManualClock,
    callbacks_ran: bool,
    end: Any,
    level: int,
    expected: str,
) -> None:
    """However the runner ends while its leaf's task holds an uncollected exception, it is logged once."""
    tree = courier()
    runner = Runner(tree, {}, clock)
    await finish_uncollected(runner, clock, callbacks_ran)
    with caplog.at_level(logging.DEBUG):
        await end(runner, tree, clock)
        del runner
        gc.collect()
        await clock.run_for(1)
    [record] = rhizomorph_records(caplog)
    assert re.search(expected, record.getMessage())
    assert record.levelno == level
    assert record.exc_info is not None and isinstance(record.exc_info[1], ConnectionError)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]  # once, by us


@pytest.mark.parametrize("callbacks_ran", [True, False], ids=["callbacks-ran", "callbacks-pending"])
async def test_an_exception_a_tick_collected_is_not_reported_again_when_the_runner_is_dropped(
    caplog: pytest.LogCaptureFixture, clock: ManualClock, callbacks_ran: bool
) -> None:
    runner = Runner(courier(), {}, clock, on_error=ErrorPolicy.FAILURE)
    await finish_uncollected(runner, clock, callbacks_ran)
    with caplog.at_level(logging.DEBUG):
        assert await runner.tick() is Status.FAILURE  # collected: the policy logs it
        del runner
        gc.collect()
        await clock.run_for(1)
    [record] = rhizomorph_records(caplog)
    assert re.search(RAISED + r"; reporting FAILURE$", record.getMessage())


async def test_a_dropped_runners_uncollected_exception_is_not_formatted_when_the_level_is_off(
    caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    class Loud(Exception):
        def __repr__(self) -> str:
            raise AssertionError("formatted although nobody logs it")

    async def fails(timebase: Any) -> Status:
        await timebase.sleep(1)
        raise Loud

    b = TreeBuilder("Quiet")
    b.root(b.action(fails, name="fails quietly"))
    runner = Runner(b.build(), {}, clock)
    assert await runner.tick() is R
    await clock.run_for(1)
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.rhizomorph"):
        del runner
        gc.collect()
        await clock.run_for(1)
    assert rhizomorph_records(caplog) == []
