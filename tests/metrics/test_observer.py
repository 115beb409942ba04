"""mycorrhizal.metrics.observer: what a machine's cancelled steps and timeouts count."""

from __future__ import annotations

import asyncio
import logging
from enum import Enum, auto
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from mycorrhizal.common import ManualClock
from mycorrhizal.metrics import Metrics
from mycorrhizal.mycelium import Delivery, PNRunner, machines, pn
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


class Go(Enum):
    AWAY = auto()
    BACK = auto()


async def held_timeout(ctx: Any) -> Any:
    """An ``on_timeout`` that, while ``common["hold"]``, waits for ``common["gate"]`` (a step to
    cancel), then leaves by AWAY."""
    if ctx.common["hold"]:
        await ctx.common["gate"].wait()
    return Go.AWAY


@septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
class Waiting:
    """Times out after 1 s; a "slow" message, or its timeout while ``common["hold"]``, waits for
    ``common["gate"]`` (a step to cancel); "away" leads to Elsewhere."""

    @septum.on_state
    async def on_state(ctx: Any) -> Any:
        if ctx.msg == "slow":
            await ctx.common["gate"].wait()
        return Go.AWAY if ctx.msg == "away" else None

    on_timeout = septum.on_timeout(held_timeout)

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


# -- a net's fsm= machines: counted under the transition's name, followed per key ----------------


@septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
class Desk:
    """A net's machine: times out after 1 s; while ``common["hold"]``, a token ``{"slow": True}``
    and its timeout wait for ``common["gate"]`` (a step to cancel); every token is routed to done."""

    @septum.on_state
    async def on_state(ctx: Any) -> Any:
        if isinstance(ctx.msg, Delivery):
            if ctx.msg.token.get("slow") and ctx.common["hold"]:
                await ctx.common["gate"].wait()
            ctx.msg.route("done")
        return None

    on_timeout = septum.on_timeout(held_timeout)

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.AWAY, Away)]


@septum.state(config=StateConfiguration(can_dwell=True))
class Away:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if isinstance(ctx.msg, Delivery):
            ctx.msg.route("done")


@pn.net
def Desks(builder: Any) -> None:
    """inbox -> desk (a Desk machine per token["key"]) -> done."""
    inbox, done = builder.place("inbox"), builder.place("done")

    @builder.transition(fsm=Desk, fsm_key=lambda token: token["key"], inputs=[inbox], outputs=[done])
    async def desk(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


def desk_events(registry: CollectorRegistry, kind: str) -> float | None:
    labels = {"machine": "desk", "state": "Desk", "kind": kind}
    return registry.get_sample_value("mycorrhizal_machine_events_total", labels)


def others() -> list[asyncio.Task[Any]]:
    """The tasks running besides the test's own."""
    return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]


async def test_a_nets_machines_count_cancelled_steps_and_a_rerun_timeout_once_per_key(
    registry: CollectorRegistry, clock: ManualClock, caplog: Any
) -> None:
    # A net's machine records reach the observer forwarded, paired per (transition, key): k2's
    # cancelled on_timeout is owed to k2 alone, so k1's own timeout meanwhile counts, and k2's
    # re-run does not; both cancelled steps count under the transition's name.
    runner = PNRunner(Desks, {"gate": asyncio.Event(), "hold": True}, clock)
    Metrics(registry).observe(runner)
    runner.add_token("inbox", {"key": "k2"})
    await runner.run_until_idle()
    await clock.run_for(1.0)  # k2's timeout runs in the background, held at the gate
    (background,) = others()
    background.cancel()
    await asyncio.gather(background, return_exceptions=True)
    assert (desk_events(registry, "timeout"), desk_events(registry, "cancelled")) == (1, 1)
    runner.add_token("inbox", {"key": "k1", "slow": True})  # its machine's timer: at 2.0
    idle = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(0)
    (firing,) = [task for task in others() if task is not idle]  # k1's step, held at the gate
    with caplog.at_level(logging.CRITICAL):
        firing.cancel()
        await idle
    assert (desk_events(registry, "timeout"), desk_events(registry, "cancelled")) == (1, 2)
    runner.bb["hold"] = False
    await clock.run_for(1.0)  # k1's token is taken again (at 1.1) and its timeout runs (at 2.0)
    assert machines(runner, "desk")["k1"].current_state is Away
    assert desk_events(registry, "timeout") == 2
    runner.add_token("inbox", {"key": "k2"})  # k2 runs its owed timeout again, then the token
    await runner.run_until_idle()
    assert machines(runner, "desk")["k2"].current_state is Away
    assert len(runner.tokens("done")) == 3
    assert (desk_events(registry, "timeout"), desk_events(registry, "cancelled")) == (2, 2)
    await runner.stop()


# -- a statechart: a nested state's timeout ---------------------------------------------------------


@septum.compound
class Shift:
    """Its child Waiting times out after 1 s (held at ``common["gate"]`` while ``common["hold"]``);
    "away", declared by Shift, leaves Shift for Rest."""

    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return Go.AWAY if ctx.msg == "away" else None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.AWAY, Rest)]

    @septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
    class Waiting:
        @septum.on_state
        def on_state(ctx: Any) -> Any:
            return None

        @septum.on_timeout
        async def on_timeout(ctx: Any) -> Any:
            if ctx.common["hold"]:
                await ctx.common["gate"].wait()
            return Go.BACK

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(Go.BACK, Served)]  # noqa: F821 - a sibling, resolved by septum

    @septum.state(config=StateConfiguration(can_dwell=True))
    class Served:
        @septum.on_state
        def on_state(ctx: Any) -> Any:
            return None


@septum.state(config=StateConfiguration(can_dwell=True))
class Rest:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return Go.BACK if ctx.msg == "back" else None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.BACK, Shift)]


@pytest.fixture
async def chart(registry: CollectorRegistry, clock: ManualClock) -> StateMachine:
    """A statechart in Shift > Waiting, observed, whose timeout waits at the gate while ``hold``."""
    machine = StateMachine(Shift, common_data={"gate": asyncio.Event(), "hold": True}, timebase=clock)
    Metrics(registry).observe(machine)
    await machine.initialize()
    return machine


def nested_events(registry: CollectorRegistry, kind: str) -> float | None:
    labels = {"machine": "Shift", "state": "Waiting", "kind": kind}
    return registry.get_sample_value("mycorrhizal_machine_events_total", labels)


@pytest.mark.parametrize(
    ("before_rerun", "timeouts"),
    [([], 1), (["away", "back"], 2)],
    ids=["rerun-counted-once", "left-with-its-parent-then-a-new-timeout-counted"],
)
async def test_a_nested_states_cancelled_on_timeout_run_again_counts_one_timeout(
    registry: CollectorRegistry,
    clock: ManualClock,
    chart: StateMachine,
    before_rerun: list[str],
    timeouts: int,
) -> None:
    # The nested state's timeout is owed by its own name; leaving it with its parent (a transition
    # Shift declares) drops the timeout put back, and its next timeout, a new one, counts.
    await cancel_held_step(chart, clock, "timeout")
    assert (nested_events(registry, "timeout"), nested_events(registry, "cancelled")) == (1, 1)
    chart.common["hold"] = False
    for message in before_rerun:
        chart.send_message(message, priority=5)
    await chart.run()
    if before_rerun:  # back in Shift > Waiting: its timer was armed anew
        assert chart.current_state is Shift.Waiting
        await clock.run_for(1.0)
        await chart.run()
    assert chart.current_state is Shift.Served
    assert (nested_events(registry, "timeout"), nested_events(registry, "cancelled")) == (timeouts, 1)


# -- a parallel state: each region's timed state owes its own timeout --------------------------------


@septum.parallel
class Counter:
    """Two regions: Till (1 s) and Queue (2 s), each timed, each ``on_timeout`` held at
    ``common["gate"]`` while ``common["hold"]``; a "slow" message waits in Queue's ``on_state``
    (its timeout interrupts it)."""

    @septum.compound
    class Till:
        @septum.state(config=StateConfiguration(timeout=1.0, can_dwell=True))
        class Open:
            @septum.on_state
            def on_state(ctx: Any) -> Any:
                return None

            on_timeout = septum.on_timeout(held_timeout)

            @septum.transitions
            def transitions() -> list[Any]:
                return [LabeledTransition(Go.AWAY, Closed)]  # noqa: F821 - a sibling, resolved by septum

        @septum.state(config=StateConfiguration(can_dwell=True))
        class Closed:
            @septum.on_state
            def on_state(ctx: Any) -> Any:
                return None

    @septum.compound
    class Queue:
        @septum.state(config=StateConfiguration(timeout=2.0, can_dwell=True))
        class Line:
            @septum.on_state
            async def on_state(ctx: Any) -> Any:
                if ctx.msg == "slow":
                    await ctx.common["gate"].wait()
                return None

            on_timeout = septum.on_timeout(held_timeout)

            @septum.transitions
            def transitions() -> list[Any]:
                return [LabeledTransition(Go.AWAY, Empty)]  # noqa: F821 - a sibling, resolved by septum

        @septum.state(config=StateConfiguration(can_dwell=True))
        class Empty:
            @septum.on_state
            def on_state(ctx: Any) -> Any:
                return None


@pytest.fixture
async def counter(registry: CollectorRegistry, clock: ManualClock) -> StateMachine:
    """Counter, observed, both regions' timeouts held at the gate while ``hold``."""
    machine = StateMachine(Counter, common_data={"gate": asyncio.Event(), "hold": True}, timebase=clock)
    Metrics(registry).observe(machine)
    await machine.initialize()
    return machine


def counter_events(registry: CollectorRegistry, state: str) -> tuple[float | None, float | None]:
    """(timeouts, cancelled steps) counted for ``state`` of Counter."""
    return tuple(  # type: ignore[return-value]
        registry.get_sample_value(
            "mycorrhizal_machine_events_total", {"machine": "Counter", "state": state, "kind": kind}
        )
        for kind in ("timeout", "cancelled")
    )


async def test_each_regions_cancelled_on_timeout_run_again_counts_one_timeout(
    registry: CollectorRegistry, clock: ManualClock, counter: StateMachine
) -> None:
    # Before: the observer remembered one owed timeout per machine.  Open's on_timeout was
    # cancelled (owed), then Line's (its timeout, interrupting a "slow" message of higher priority,
    # went first): Line's replaced Open's, so Open's re-run counted a second timeout.
    await cancel_held_step(counter, clock, "timeout")  # Open's, at 1 s
    assert counter_events(registry, "Open") == (1, 1)
    counter.send_message("slow", priority=5)  # before Open's re-run: held in Line's on_state
    task = asyncio.create_task(counter.run(wait=True))
    await clock.run_for(1.0)  # Line times out (2 s): it interrupts "slow", and is held in turn
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert counter_events(registry, "Line") == (1, 1)
    counter.common["hold"] = False
    await counter.run()  # both re-run: told again, counted once each
    assert counter.in_state(Counter.Till.Closed) and counter.in_state(Counter.Queue.Empty)
    assert counter_events(registry, "Open") == (1, 1)
    assert counter_events(registry, "Line") == (1, 1)
