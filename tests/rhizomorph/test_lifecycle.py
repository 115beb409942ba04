"""Ending a runner: aclose(), async with, and what happens to a runner that is simply dropped."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.rhizomorph import Runner, Status, Tree, TreeBuilder

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
    assert "Stubborn: a leaf of a dropped runner raised while being cancelled" in caplog.text
