"""Stress: random leaf faults and random cancellations of the callers, then a shutdown.

Several runners of one tree (async leaves that suspend, timeouts, a parallel, a reactive selector,
retries) are driven by caller tasks that the test cancels at random moments, on a ManualClock, in
asyncio debug mode.  After the shutdown (callers cancelled, every runner closed) every leaf
coroutine that started ended exactly once - returned, raised or was cancelled - its halt hook ran
exactly when it was cancelled, no task is left pending and the event loop reported nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import random
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock
from mycorrhizal.rhizomorph import ErrorPolicy, Runner, Status, Tree, TreeBuilder

RUNNERS = 4
STEPS = 100
DURATIONS = (0.5, 1.0, 1.5, 2.5, 4.0)


class Lives:
    """Every start of a leaf coroutine, how it ended and how often its halt hook ran."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids = itertools.count()
        self.ends: dict[int, list[str]] = {}
        self.hooks: dict[int, int] = {}

    def leaf(self, b: TreeBuilder, name: str, policy: ErrorPolicy | None = None) -> Any:
        rng = self.rng

        async def work(bb: dict[str, int], timebase: ManualClock) -> Status:
            life = next(self.ids)
            bb[name] = life
            self.ends[life] = []
            self.hooks[life] = 0
            try:
                await timebase.sleep(rng.choice(DURATIONS))
            except asyncio.CancelledError:
                self.ends[life].append("cancelled")
                raise
            roll = rng.random()
            if roll < 0.2:
                self.ends[life].append("raised")
                raise RuntimeError(f"{name} fault")
            self.ends[life].append("returned")
            return Status.SUCCESS if roll < 0.75 else Status.FAILURE

        def halted(bb: dict[str, int]) -> None:
            self.hooks[bb[name]] += 1

        work.__name__ = name
        return b.action(work, on_halt=halted, on_error=policy)


def stress_tree(lives: Lives) -> Tree:
    b = TreeBuilder("Stress")
    steps = b.sequence("steps", b.timeout(3, lives.leaf(b, "fetch")), lives.leaf(b, "store"))
    choice = b.selector("choice", lives.leaf(b, "quick"), b.timeout(2, lives.leaf(b, "slow")), memory=False)
    strict = lives.leaf(b, "strict", ErrorPolicy.PROPAGATE)  # its faults reach the caller
    b.root(b.retry(3, b.parallel("all", steps, choice, strict, success_threshold=2)))
    return b.build()


async def caller(runner: Runner, clock: ManualClock) -> None:
    while True:
        with contextlib.suppress(HandlerError):
            await runner.tick_until_complete()
        await clock.sleep(0.5)


@pytest.mark.parametrize("seed", range(4))
async def test_random_faults_and_cancellations_then_shutdown_leave_nothing_behind(
    seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        await run_and_check(seed, caplog, reported)
    finally:
        loop.set_debug(False)
        loop.set_exception_handler(None)


async def run_and_check(seed: int, caplog: pytest.LogCaptureFixture, reported: list[dict[str, Any]]) -> None:
    rng = random.Random(seed)
    clock = ManualClock()
    lives = Lives(rng)
    tree = stress_tree(lives)
    runners = [Runner(tree, {}, clock, on_error=ErrorPolicy.ERROR) for _ in range(RUNNERS)]
    callers = [asyncio.create_task(caller(r, clock)) for r in runners]

    with caplog.at_level(logging.WARNING, logger="mycorrhizal.rhizomorph"):
        for _ in range(STEPS):
            await clock.run_for(rng.choice((0.1, 0.25, 0.5, 1.0)))
            for k, task in enumerate(callers):
                if rng.random() < 0.08:  # the application cancels this caller
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    callers[k] = asyncio.create_task(caller(runners[k], clock))

        for task in callers:  # shutdown: the callers first, then every runner
            task.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        for runner in runners:
            await runner.aclose()

    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    assert len(lives.ends) > 50  # the run did start many leaves
    assert {life: ends for life, ends in lives.ends.items() if len(ends) != 1} == {}
    cancelled = {life for life, ends in lives.ends.items() if ends == ["cancelled"]}
    assert {life: n for life, n in lives.hooks.items() if n != (life in cancelled)} == {}
    assert {"cancelled", "raised", "returned"} <= {ends[0] for ends in lives.ends.values()}
    assert all(not r.running for r in runners)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert reported == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
