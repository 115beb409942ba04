"""Many machines, random handler faults, timeouts and cancelled callers, then a clean shutdown.

Every message sent must end exactly once, handled or failed; nothing may be left running, nothing
printed and no warning raised (the suite turns warnings into errors), under asyncio's debug mode.
The clock is a ManualClock: nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import logging
import random
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


class E(Enum):
    NAP = auto()
    WAKE = auto()
    BACK = auto()


class Fault(Exception):
    """A handler fault the stress test injects."""


async def handle(ctx: Any, *, may_wait: bool = True, may_fail: bool = True) -> Any:
    """Every state handles messages the same way: maybe wait, maybe fail, then record."""
    msg = ctx.msg
    if msg is None:
        return None
    board = ctx.common
    rng: random.Random = board["rng"]
    if may_wait and rng.random() < 0.3:
        await ctx.timebase.sleep(rng.choice([0.1, 0.5, 2.0]))  # a caller may be cancelled here
    if may_fail and rng.random() < 0.15:
        raise Fault(f"fault handling {msg}")
    board["handled"].append(msg)
    return E.NAP if rng.random() < 0.2 else None


@septum.state(config=StateConfiguration(can_dwell=True))
class Working:
    on_state = septum.on_state(handle)

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.NAP, Napping)]


@septum.state(config=StateConfiguration(timeout=1.0))
class Napping:
    @septum.on_state
    async def on_state(ctx):
        # Messages are handled while napping too, without waiting (the nap's timeout would
        # interrupt the handler, and the message with it) and without a second nap.
        return await handle(ctx, may_wait=False) and None

    @septum.on_timeout
    async def on_timeout(ctx):
        ctx.common["naps"] += 1
        return E.WAKE

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.WAKE, Working)]


@septum.state
class Failed:
    """The error state: records the message whose handler failed, then goes back to work."""

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is None:
            ctx.common["failed"].append(ctx.error.event)
            return E.BACK
        return await handle(ctx, may_fail=False) and None  # a fault here would not be routed

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.BACK, Working)]


class Caller:
    """A task that runs one machine with run(wait=True), and may be cancelled at any moment."""

    def __init__(self, fsm: StateMachine) -> None:
        self.fsm = fsm
        self.task: asyncio.Task[int] = asyncio.ensure_future(fsm.run(wait=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_machines_lose_and_repeat_nothing_under_faults_timeouts_and_cancellations(
    seed: int, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 10.0  # a loaded machine is slow, not wrong
    rng = random.Random(seed)
    clock = ManualClock()
    boards = [
        {"rng": random.Random(seed * 1000 + i), "handled": [], "failed": [], "naps": 0} for i in range(30)
    ]  # noqa: E501
    machines = [StateMachine(Working, common_data=b, error_state=Failed, timebase=clock) for b in boards]
    callers: list[list[Caller]] = [[Caller(fsm)] for fsm in machines]
    sent: list[list[int]] = [[] for _ in machines]
    with caplog.at_level(logging.WARNING, logger="mycorrhizal"):
        for n in range(1500):
            i = rng.randrange(len(machines))
            roll = rng.random()
            if roll < 0.6:
                machines[i].send_message(n)
                sent[i].append(n)
            elif roll < 0.75 and callers[i]:  # a caller's task is cancelled, wherever it is
                callers[i].pop(rng.randrange(len(callers[i]))).task.cancel()
            elif roll < 0.85 and len(callers[i]) < 2:
                callers[i].append(Caller(machines[i]))
            else:
                await clock.run_for(rng.choice([0.0, 0.1, 0.7, 1.5]))
        # Let every machine finish its work: each gets a caller again, and time passes.
        for fsm, mine in zip(machines, callers, strict=True):
            if not mine:
                mine.append(Caller(fsm))
        for _ in range(20):
            await clock.run_for(2.0)
        assert all(fsm.queue_size == 0 for fsm in machines)
        await asyncio.gather(*(fsm.aclose() for fsm in machines))
        results = await asyncio.gather(*(c.task for mine in callers for c in mine), return_exceptions=True)
    for board, expected in zip(boards, sent, strict=True):
        ended = board["handled"] + board["failed"]
        assert sorted(ended) == sorted(expected)  # each message ended exactly once
        assert board["handled"] == sorted(board["handled"])  # in the order they were sent
    assert sum(b["naps"] for b in boards) > 0 and sum(len(b["failed"]) for b in boards) > 0
    assert [r for r in results if not isinstance(r, int | asyncio.CancelledError)] == []
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert clock.pending == 0
    unexpected = [r for r in caplog.records if "going to Failed" not in r.getMessage()]
    assert unexpected == []  # only the routed faults, each one WARNING line; nothing from asyncio
    assert capsys.readouterr() == ("", "")
