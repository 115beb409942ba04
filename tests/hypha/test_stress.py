"""A seeded stress run: random handler and sink faults, random cancellation of the caller's tasks and
of the runner's own firing and delivery tasks, then a shutdown.  Afterwards every token is exactly
once somewhere, no task is left, and asyncio (in debug mode) has nothing to complain about."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import random
from collections import Counter
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import FailedToken, NetBuilder, Runner

ROUNDS = 80


def pipeline(rng: random.Random) -> Any:
    """inbox -> parse -> parsed (capacity 5) -> store -> stored -> ship -> outbox (a sink)."""
    builder = NetBuilder("Stress")
    inbox, parsed, stored = (
        builder.place("inbox"),
        builder.place("parsed", capacity=5),
        builder.place("stored"),
    )
    dead, undeliverable = builder.place("dead"), builder.place("undeliverable")

    async def chaos(timebase: Any, rate: float) -> None:
        roll = rng.random()
        try:
            if roll < rate:
                raise ConnectionError("injected fault")
            if roll < 0.6:
                await timebase.sleep(rng.uniform(0.1, 2.0))
        finally:
            await asyncio.sleep(0)  # cleaning up asynchronously, whatever happened

    @builder.io_output_place(on_error=undeliverable)
    async def outbox(token: Any, bb: Any, timebase: Any) -> None:
        await chaos(timebase, 0.1)
        bb["shipped"].append(token)

    @builder.transition(inputs=[inbox], outputs=[parsed], concurrency=4)
    async def parse(consumed: Any, bb: Any, timebase: Any) -> Any:
        await chaos(timebase, 0.2)
        return {parsed: consumed[0]}

    @builder.transition(inputs=[parsed], outputs=[stored], on_error=dead, eager=False)
    async def store(consumed: Any, bb: Any, timebase: Any) -> Any:
        await chaos(timebase, 0.1)
        yield {stored: consumed[0]}

    @builder.transition(inputs=[stored], outputs=[outbox])
    def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {outbox: consumed[0]}

    return builder.build()


def everywhere(runner: Runner, bb: dict[str, Any]) -> Counter[Any]:
    """Every token the net holds or delivered, unwrapped from FailedToken."""
    found: Counter[Any] = Counter(bb["shipped"])
    for tokens in runner.marking().values():
        found.update(t.token if isinstance(t, FailedToken) else t for t in tokens)
    return found


@pytest.mark.parametrize("seed", range(4))
async def test_random_faults_and_cancellations_then_shutdown_lose_nothing(seed: int, caplog: Any) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 3600  # debug mode's slow-callback report measures the machine
    me = asyncio.current_task()
    rng = random.Random(seed)
    clock = ManualClock()
    bb: dict[str, Any] = {"shipped": []}
    runner = Runner(pipeline(rng), bb, clock)
    ids = itertools.count()
    added: list[int] = []
    callers: list[asyncio.Future[Any]] = []
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        await runner.start()
        for _ in range(ROUNDS):
            roll = rng.random()
            if roll < 0.3:
                batch = [next(ids) for _ in range(rng.randint(1, 5))]
                runner.add_tokens("inbox", batch)
                added.extend(batch)
            elif roll < 0.5:
                callers.append(asyncio.ensure_future(runner.run_until_idle()))
            else:  # the application cancels some of what runs: firings, deliveries, its own callers
                tasks = [task for task in asyncio.all_tasks() if task is not me]
                for task in rng.sample(tasks, k=min(len(tasks), rng.randint(0, 2))):
                    task.cancel()
            await clock.run_for(rng.uniform(0, 1.5))
        for _ in range(200):  # then let it finish: every retry comes, every fault is retried
            await clock.run_for(1)
        drained = runner.marking().counts()
        waiting = [caller for caller in callers if not caller.done()]
        await runner.stop(cancel=True)
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        gc.collect()  # a coroutine never awaited would warn now (and warnings are errors here)
        await asyncio.sleep(0)
    assert waiting == []  # every caller of run_until_idle() that was not cancelled was answered
    assert sum(drained[f"Stress.{p}"] for p in ("inbox", "parsed", "stored", "outbox")) == 0
    causes = {type(e.__cause__).__name__ for e in runner.errors}
    assert causes <= {"ConnectionError", "HandlerError"}, causes  # injected faults, outside cancels
    assert everywhere(runner, bb) == Counter(added)  # nothing lost, nothing twice
    assert runner.in_flight == 0 and runner.stats.returned > 0
    assert [task for task in asyncio.all_tasks() if task is not me] == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    loop.set_debug(False)
