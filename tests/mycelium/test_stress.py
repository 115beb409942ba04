"""A composed net under random faults, random cancellations of the caller's tasks and random stops.

A tree triages each token (its leaf may fail, and failures are retried), then a machine per key
handles it (its handler may fail, and failures go to an error place), with machines evicted by
idle TTL and an LRU bound. The caller starts and cancels tasks that wait for the net, stops and
restarts the runner, and finally shuts down. Whatever happened: every token is in exactly one
final place, no task is left pending, and asyncio (in debug mode) has nothing to complain about.
"""

import asyncio
import gc
import logging
import random
from collections.abc import Awaitable, Callable
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import FailedToken
from mycorrhizal.mycelium import PNRunner, Rejection, machines, pn
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

Chaos = Callable[[Any], Awaitable[None]]
FINAL = ("done", "bounced", "refused", "dead")


def chaos(rng: random.Random) -> Chaos:
    async def maybe_fail(timebase: Any) -> None:
        roll = rng.random()
        if roll < 0.15:
            raise ConnectionError("injected fault")
        if roll < 0.35:
            await timebase.sleep(rng.uniform(0.1, 3.0))

    return maybe_fail


@bt.tree
def Triage():
    @bt.action
    async def triage(ctx, bb):  # type: ignore[no-untyped-def]
        await bb["chaos"](ctx.timebase)
        if ctx.token % 10 == 0:
            ctx.reject("multiple of ten")
        else:
            ctx.route("keyed")
        return Status.SUCCESS

    bt.root(triage)


@septum.state(config=StateConfiguration(can_dwell=True))
def Serving():
    class Events(Enum):
        COOL = auto()

    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        await ctx.common["chaos"](ctx.timebase)
        ctx.msg.route("done")
        return Events.COOL if ctx.msg.token % 7 == 3 else None

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.COOL, Cooling)]


@septum.state(config=StateConfiguration(timeout=2.0))
def Cooling():
    class Events(Enum):
        WARM = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.reject("cooling")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return Events.WARM

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.WARM, Serving)]


@pn.net
def Composed(builder):  # type: ignore[no-untyped-def]
    inbox, keyed = builder.place("inbox"), builder.place("keyed")
    done, bounced, refused, dead = (builder.place(name) for name in FINAL)

    @builder.transition(
        bt=Triage, inputs=[inbox], outputs=[keyed], rejected=bounced, retry_delay=1.0, concurrency=4
    )
    async def triage(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass

    @builder.transition(
        fsm=Serving,
        fsm_key=lambda token: token % 9,
        fsm_idle_ttl=2.0,
        fsm_max_machines=4,
        inputs=[keyed],
        outputs=[done],
        rejected=refused,
        on_error=dead,
    )
    async def serve(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


def final_tokens(runner: PNRunner) -> list[int]:
    out = []
    for place in FINAL:
        for token in runner.tokens(place):
            out.append(token.token if isinstance(token, Rejection | FailedToken) else token)
    return sorted(out)


async def stop(runner: PNRunner, clock: ManualClock, *, cancel: bool) -> None:
    """Stop the runner; firings left to finish (cancel=False) may be sleeping on the virtual clock."""
    stopping = asyncio.ensure_future(runner.stop(cancel=cancel))
    while not stopping.done():
        await clock.run_for(0.5)
    await stopping
    # A stopped runner leaves nothing running: no firing, no leaf, no machine's background work.
    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []


async def caller(runner: PNRunner, clock: ManualClock, rng: random.Random, tokens: list[int]) -> None:
    """Random moves of an application around the runner: feed, wait and give up, stop and restart."""
    pending = list(tokens)
    for _ in range(60):
        roll = rng.random()
        if roll < 0.3 and pending:
            batch, pending = pending[:10], pending[10:]
            runner.add_tokens("inbox", batch)
        elif roll < 0.55:
            waiting = asyncio.ensure_future(runner.run_until_idle())
            await clock.run_for(rng.uniform(0.0, 2.0))
            waiting.cancel()  # the caller gives up waiting (or it had finished)
            await asyncio.gather(waiting, return_exceptions=True)
        elif roll < 0.65:
            await stop(runner, clock, cancel=rng.random() < 0.5)
            await runner.start()
        else:
            await clock.run_for(rng.uniform(0.0, 3.0))
    runner.add_tokens("inbox", pending)


@pytest.mark.parametrize("seed", range(4))
async def test_nothing_is_lost_and_nothing_is_left_behind(
    seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    asyncio.get_running_loop().set_debug(True)
    asyncio.get_running_loop().slow_callback_duration = 60.0  # debug mode, but no timing verdicts
    rng = random.Random(seed)
    clock = ManualClock()
    tokens = list(range(200))
    runner = PNRunner(Composed, {"chaos": chaos(rng)}, clock)
    await runner.start()
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        await caller(runner, clock, rng, tokens)
        for _ in range(1_000):  # drain: retries and sleeps run on the virtual clock
            if len(final_tokens(runner)) == len(tokens) and runner.in_flight == 0:
                break
            await clock.run_for(1.0)
        await stop(runner, clock, cancel=False)
        gc.collect()  # a coroutine never awaited would warn here (and warnings are errors)
        await asyncio.sleep(0)
    assert final_tokens(runner) == tokens  # each token in exactly one final place
    assert runner.tokens("inbox") == () and runner.tokens("keyed") == ()
    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    assert len(machines(runner, "serve")) == 0 and clock.pending == 0
    # The chaos really happened: retried tree failures, machine failures, evictions.
    assert runner.stats.failures > len(runner.tokens("dead")) > 0
    view = machines(runner, "serve")
    assert view.evicted_idle > 0 and view.evicted_lru > 0
