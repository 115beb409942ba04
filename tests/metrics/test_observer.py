"""mycorrhizal.metrics.observer: what a machine's cancelled steps and timeouts count."""

from __future__ import annotations

import asyncio
from enum import Enum, auto
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from mycorrhizal.common import ManualClock
from mycorrhizal.metrics import Metrics
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


class Go(Enum):
    AWAY = auto()
    BACK = auto()


@septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
class Waiting:
    """Times out after 1 s; a "slow" message, or its timeout while ``common["hold"]``, waits for
    ``common["gate"]`` (a step to cancel); "away" leads to Elsewhere."""

    @septum.on_state
    async def on_state(ctx: Any) -> Any:
        if ctx.msg == "slow":
            await ctx.common["gate"].wait()
        return Go.AWAY if ctx.msg == "away" else None

    @septum.on_timeout
    async def on_timeout(ctx: Any) -> Any:
        if ctx.common["hold"]:
            await ctx.common["gate"].wait()
        return Go.AWAY

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.AWAY, Elsewhere)]


@septum.state(config=StateConfiguration(can_dwell=True))
class Elsewhere:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return Go.BACK if ctx.msg == "back" else None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.BACK, Waiting)]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fsm(registry: CollectorRegistry, clock: ManualClock) -> StateMachine:
    """A machine in Waiting, observed, whose steps wait at the gate while ``hold`` is set."""
    machine = StateMachine(Waiting, common_data={"gate": asyncio.Event(), "hold": True}, timebase=clock)
    Metrics(registry).observe(machine)
    await machine.initialize()
    return machine


def events(registry: CollectorRegistry, kind: str) -> float | None:
    labels = {"machine": "Waiting", "state": "Waiting", "kind": kind}
    return registry.get_sample_value("mycorrhizal_machine_events_total", labels)


async def cancel_held_step(fsm: StateMachine, clock: ManualClock, step: str) -> None:
    """Start the machine's task, let ``step`` (a "slow" message, or the timeout) reach the gate, and
    cancel the task there."""
    if step == "message":
        fsm.send_message("slow")
    task = asyncio.create_task(fsm.run(wait=True))
    if step == "timeout":
        await clock.run_for(1.0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("step", ["message", "timeout"])
async def test_a_cancelled_step_counts_as_cancelled_in_its_state(
    registry: CollectorRegistry, clock: ManualClock, fsm: StateMachine, step: str
) -> None:
    # StepCancelled was not counted: a machine whose steps were cancelled showed nothing of it.
    await cancel_held_step(fsm, clock, step)
    assert events(registry, "cancelled") == 1


@pytest.mark.parametrize(
    ("before_rerun", "timeouts"),
    [([], 1), (["away", "back"], 2)],
    ids=["rerun-counted-once", "dropped-then-a-new-timeout-counted"],
)
async def test_a_cancelled_on_timeout_run_again_counts_one_timeout(
    registry: CollectorRegistry,
    clock: ManualClock,
    fsm: StateMachine,
    before_rerun: list[str],
    timeouts: int,
) -> None:
    # An on_timeout cancelled is told again (TimeoutFired) when it runs again: one timeout counted
    # twice.  When a message of higher priority leads away first, the timeout put back is dropped,
    # and a later timeout of the state, a new one, counts.
    await cancel_held_step(fsm, clock, "timeout")
    fsm.common["hold"] = False
    for message in before_rerun:
        fsm.send_message(message, priority=5)
    await fsm.run()
    if before_rerun:  # back in Waiting: its timer was armed anew
        assert fsm.current_state is Waiting
        await clock.run_for(1.0)
        await fsm.run()
    assert fsm.current_state is Elsewhere
    assert events(registry, "timeout") == timeouts
    assert events(registry, "cancelled") == 1
