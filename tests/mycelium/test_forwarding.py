"""The net's observers see what the machines of its fsm= transitions and the trees of its bt=
transitions do, as Forwarded records naming the transition and key (docs/observing.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from mycorrhizal import spores
from mycorrhizal.common import ManualClock
from mycorrhizal.common.observers import Dropped, Forwarded
from mycorrhizal.hypha.events import FiringEvent
from mycorrhizal.metrics import Metrics
from mycorrhizal.mycelium import PNRunner, machines, pn
from mycorrhizal.mycelium.machine_pool import POOL
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.septum import StateMachine
from mycorrhizal.septum.events import StateEntered
from tests._observing import Recorder

from ..spores.conftest import MemorySink
from .conftest import Gate, PriorityRouter, RunNet, machine_failing_on
from .test_eviction import keyed
from .test_machine_transitions import gate_net


def line(event: Any) -> tuple[Any, ...]:
    """An event as (record, transition, key, inner record, its state or node) or (record, transition)."""
    if isinstance(event, Forwarded):
        inner = event.event
        what = getattr(inner, "state", None) or getattr(inner, "node", None) or getattr(inner, "status", None)
        return (type(inner).__name__, event.transition, event.key, inner.source, getattr(what, "name", what))
    assert isinstance(event, FiringEvent)
    return (type(event).__name__, event.transition)


async def test_a_machines_life_reaches_the_nets_observer(running: RunNet, clock: ManualClock) -> None:
    runner = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    seen = Recorder()
    runner.add_observer(seen)
    runner.add_tokens("inbox", ["east:close", "west:x"])
    await runner.run_until_idle()
    await clock.run_for(5.0)  # east's Shut times out, no token involved
    assert all(event.source == "Gated" for event in seen)
    east, west = ("Gated.gate", "east", "Gate"), ("Gated.gate", "west", "Gate")
    assert [line(e) for e in seen] == [
        ("FiringStarted", "Gated.gate"),
        ("StateEntered", *east, "Gate"),  # the machine is made for the token, and enters its state
        ("MessageHandled", *east, "Gate"),
        ("StateLeft", *east, "Gate"),
        ("StateEntered", *east, "Shut"),
        ("FiringCommitted", "Gated.gate"),
        ("FiringStarted", "Gated.gate"),
        ("StateEntered", *west, "Gate"),
        ("MessageHandled", *west, "Gate"),
        ("FiringCommitted", "Gated.gate"),
        ("TimeoutFired", *east, "Shut"),  # told as its on_timeout runs
        ("StateLeft", *east, "Shut"),
        ("StateEntered", *east, "Gate"),
        ("TimeoutFired", *west, "Gate"),  # (Gate's on_timeout keeps it there)
    ]
    assert seen[-2].time == 5.0 and seen[-2].event.previous == "Shut"


async def test_forwarded_records_told_on_request_reach_only_the_net_observers_asking(
    running: RunNet, clock: ManualClock
) -> None:
    runner = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    default: list[Any] = []
    asking = Recorder()
    runner.add_observer(default.append)
    runner.add_observer(asking)
    runner.add_tokens("inbox", ["east:close", "west:x"])
    await runner.run_until_idle()
    told = [line(e) for e in asking]
    # Told on request as the machine tells them: east's message moves it (its StateEntered names
    # the message), west's leaves it where it is (told to everyone, as the machine tells it).
    moved, stayed = (
        ("MessageHandled", "Gated.gate", "east", "Gate", "Gate"),
        ("MessageHandled", "Gated.gate", "west", "Gate", "Gate"),
    )
    assert ("StateLeft", "Gated.gate", "east", "Gate", "Gate") in told and moved in told and stayed in told
    assert [line(e) for e in default] == [
        t for t in told if t[0] not in {"FiringStarted", "StateLeft"} and t != moved
    ]
    shut = next(
        e.event for e in default if isinstance(e, Forwarded) and getattr(e.event, "state", "") == "Shut"
    )
    assert (shut.previous, shut.message.token) == ("Gate", "east:close")


def engaged(runner: Any) -> list[bool]:
    """Whether each machine of the gate transition has observers (it builds records only then)."""
    return [fsm.observers is not None for fsm in machines(runner, "gate").values()]


async def test_machines_forward_while_the_net_is_observed(running: RunNet, clock: ManualClock) -> None:
    runner = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    runner.add_tokens("inbox", ["east:close", "west:x"])
    await runner.run_until_idle()
    assert engaged(runner) == [False, False]  # nobody observes: the machines build no records
    seen = Recorder()
    runner.add_observer(seen)  # machines that already exist start forwarding at once
    assert engaged(runner) == [True, True]
    await clock.run_for(5.0)
    assert [line(e)[:3] for e in seen] == [
        ("TimeoutFired", "Gated.gate", "east"),
        ("StateLeft", "Gated.gate", "east"),
        ("StateEntered", "Gated.gate", "east"),
        ("TimeoutFired", "Gated.gate", "west"),
    ]
    runner.remove_observer(seen)
    assert engaged(runner) == [False, False]
    runner.add_token("inbox", "north:x")
    await runner.run_until_idle()
    assert engaged(runner) == [False, False, False] and len(seen) == 4


@pn.net
def Triage(builder):  # type: ignore[no-untyped-def]
    inbox, fast, slow, refused = (builder.place(n) for n in ("inbox", "fast", "slow", "refused"))

    @builder.transition(bt=PriorityRouter, inputs=[inbox], outputs=[fast, slow], rejected=refused)
    async def triage(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


async def test_each_tree_run_reaches_the_nets_observer_with_its_token(running: RunNet) -> None:
    runner = await running(Triage)
    seen = Recorder()
    runner.add_observer(seen)
    urgent, late = {"priority": 9}, {"priority": -1}
    runner.add_tokens("inbox", [urgent, late])
    await runner.run_until_idle()
    trees = [e for e in seen if isinstance(e, Forwarded)]
    assert {id(e.key) for e in trees} == {id(urgent), id(late)}
    assert [line(e) for e in trees if e.key is urgent] == [
        ("TickStarted", "Triage.triage", urgent, "PriorityRouter", None),
        ("NodeStatusChanged", "Triage.triage", urgent, "PriorityRouter", "route"),
        ("TickFinished", "Triage.triage", urgent, "PriorityRouter", "SUCCESS"),
    ]
    assert runner.tokens("fast") == (urgent,)


async def test_a_forwarded_record_names_the_machine_or_tree_run_that_told_it(running: RunNet) -> None:
    # (what a record does not say is read from it: spores writes a statechart's innermost state)
    gated = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    triage = await running(Triage)
    seen = Recorder()
    gated.add_observer(seen)
    triage.add_observer(seen)
    gated.add_tokens("inbox", ["east:close", "west:x"])
    triage.add_tokens("inbox", [{"priority": 9}, {"priority": 1}])
    await gated.run_until_idle()
    await triage.run_until_idle()
    gates = machines(gated, "gate")
    told = [e for e in seen if isinstance(e, Forwarded)]
    machine_of = {e.key: e.runtime for e in told if e.source == "Gated"}
    assert machine_of == {"east": gates["east"], "west": gates["west"]}
    runs = {id(e.key): e.runtime for e in told if e.source == "Triage"}
    assert len(runs) == 2 and all(isinstance(run, TreeRunner) for run in runs.values())
    assert len({id(run) for run in runs.values()}) == 2  # one run per token


@pytest.fixture
def sink() -> Iterator[MemorySink]:
    memory = MemorySink()
    spores.configure(transport=memory)
    yield memory
    spores.configure()


async def test_spores_observe_on_the_net_logs_its_machines_and_trees(
    running: RunNet, clock: ManualClock, sink: MemorySink
) -> None:
    gated = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    triage = await running(Triage)
    spores.observe(gated)
    spores.observe(triage)
    gated.add_token("inbox", "east:close")
    triage.add_token("inbox", {"priority": 1, "id": "t1"})
    await gated.run_until_idle()
    await triage.run_until_idle()
    await clock.run_for(5.0)
    events = [(e["type"], e["relationships"]) for e in sink.events()]
    east = [("gate[east]", "machine")]  # the machine of key east in transition gate
    route = [("triage", "tree"), ("triage/route", "node")]  # the tree of transition triage
    assert events == [
        ("Gate entered", east),
        ("Gate handled", [*east, ("east:close", "message")]),  # the token the machine handled
        ("Gate left", east),
        ("Shut entered", east),
        ("gate", [("Gated", "net"), ("east:close", "consumed:inbox produced:passed")]),
        ("route SUCCESS", [*route, ("t1", "token")]),  # the token the tree's run decided about
        ("tick", [("triage", "tree"), ("t1", "token")]),
        ("triage", [("Triage", "net"), ("t1", "consumed:inbox produced:slow")]),
        ("Shut timed out", east),
        ("Shut left", east),
        ("Gate entered", east),
    ]
    states = [o["attributes"]["state"] for o in sink.objects("gate[east]") if o["attributes"]]
    assert states == ["Gate", "Shut", "Gate"]


@pn.net
def Fragile(builder):  # type: ignore[no-untyped-def]
    inbox, done, failed = builder.place("inbox"), builder.place("done"), builder.place("failed")

    fragile = machine_failing_on("bad", "done")

    @builder.transition(fsm=fragile, inputs=[inbox], outputs=[done], on_error=failed)
    async def handle(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


async def test_a_machine_failure_is_forwarded_inside_the_failed_firing(running: RunNet) -> None:
    runner = await running(Fragile)
    seen = Recorder()
    runner.add_observer(seen)
    runner.add_tokens("inbox", ["ok", "bad"])
    await runner.run_until_idle()
    handle = ("Fragile.handle", None, "Fragile", "Fragile")
    assert [line(e) for e in seen] == [
        ("FiringStarted", "Fragile.handle"),
        ("StateEntered", *handle),
        ("MessageHandled", *handle),
        ("FiringCommitted", "Fragile.handle"),
        ("FiringStarted", "Fragile.handle"),
        ("HandlerFailed", *handle),  # the machine's record of it, then the firing's
        ("FiringFailed", "Fragile.handle"),
    ]
    assert seen[5].event.error is seen[6].error and seen[6].error_place == "Fragile.failed"


async def test_an_async_observer_gets_every_forwarded_record_by_stop_evictions_included(
    clock: ManualClock,
) -> None:
    runner = PNRunner(gate_net(fsm_key=lambda token: token.split(":")[0], fsm_max_machines=1), {}, clock)
    plain: list[Any] = []
    queued: list[Any] = []

    async def slow(event: Any) -> None:
        await asyncio.sleep(0)
        queued.append(event)

    runner.add_observer(plain.append)
    runner.add_observer(slow)
    runner.add_tokens("inbox", ["east:close", "west:x", "east:y"])  # each new key evicts the other's machine
    await runner.run_until_idle()
    await runner.stop()
    assert queued == plain
    forwarded = [e for e in plain if isinstance(e, Forwarded)]
    entered = [(e.key, e.event.state) for e in forwarded if isinstance(e.event, StateEntered)]
    assert entered == [("east", "Gate"), ("east", "Shut"), ("west", "Gate"), ("east", "Gate")]
    assert machines(runner, "gate").evicted_lru == 2


def life(event: Any) -> tuple[Any, ...] | None:
    """A machine's entering of a state, or its being let go: (key, state or reason)."""
    if isinstance(event, Dropped):
        return (event.key, f"dropped ({event.reason})")
    if isinstance(event, Forwarded) and isinstance(event.event, StateEntered):
        return (event.key, event.event.state)
    return None


async def test_a_machine_let_go_is_told_after_its_last_record(clock: ManualClock) -> None:
    # An evicted machine, or one closed at stop, went with no record saying so: an observer
    # following each machine (metrics' dwell times) kept its states, and paired them with the next
    # machine of its key.
    runner = PNRunner(gate_net(fsm_key=lambda token: token.split(":")[0], fsm_max_machines=1), {}, clock)
    seen: list[Any] = []
    runner.add_observer(seen.append)
    runner.add_tokens("inbox", ["east:close", "west:x", "east:y"])  # each new key evicts the other's machine
    await runner.run_until_idle()
    pool = runner.memory("gate")[POOL]
    replaced = pool.adopt("east", StateMachine(Gate, timebase=clock))  # (a restored machine comes in)
    assert replaced is not None
    await replaced.aclose()
    moved = pool.forget("east")  # (its key goes to another runner)
    assert moved is not None
    await moved.aclose()
    runner.add_token("inbox", "north:z")
    await runner.run_until_idle()
    await runner.stop()
    assert [found for found in map(life, seen) if found] == [
        ("east", "Gate"),
        ("east", "Shut"),
        ("east", "dropped (lru)"),
        ("west", "Gate"),
        ("west", "dropped (lru)"),
        ("east", "Gate"),
        ("east", "dropped (replaced)"),
        ("east", "dropped (moved)"),
        ("north", "Gate"),
        ("north", "dropped (stopped)"),
    ]
    dropped = next(e for e in seen if isinstance(e, Dropped))
    assert (dropped.source, dropped.transition) == ("Gated", "Gated.gate")


async def test_metrics_count_a_nets_machines_and_trees_under_their_transition(
    running: RunNet, clock: ManualClock
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    gated = await running(gate_net(fsm_key=lambda token: token.split(":")[0]))
    triage = await running(Triage)
    metrics.observe(gated)
    metrics.observe(triage)
    gated.add_tokens("inbox", ["east:close", "west:x", "west:y"])
    triage.add_tokens("inbox", [{"priority": 1}, {"priority": 9}])
    await gated.run_until_idle()
    await triage.run_until_idle()
    await clock.run_for(5.0)  # east's Shut times out: back to Gate

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"mycorrhizal_{name}", labels)

    gate = {"machine": "gate"}  # every key's machine together, under the transition's name
    assert value("machine_messages_total", **gate, state="Gate") == 3
    assert value("machine_transitions_total", **gate, source="Gate", target="Shut") == 1
    assert value("machine_transitions_total", **gate, source="Shut", target="Gate") == 1
    # east's time in Shut, paired by its key although west entered Gate meanwhile
    assert value("machine_state_seconds_count", **gate, state="Shut") == 1
    assert value("machine_state_seconds_sum", **gate, state="Shut") == 5.0
    assert value("machine_events_total", **gate, state="Shut", kind="timeout") == 1
    assert value("tree_ticks_total", tree="triage", status="SUCCESS") == 2
    assert value("tree_tick_seconds_count", tree="triage") == 2
    assert value("tree_node_status_total", tree="triage", node="route", status="SUCCESS") == 2
    assert value("net_firings_total", net="Triage", transition="triage", outcome="committed") == 2


def told(event: Any) -> tuple[Any, ...]:
    """A record after a removal: (record, key, reason) for a Dropped, else (record,)."""
    if isinstance(event, Dropped):
        return ("Dropped", event.key, event.reason)
    return (type(event).__name__,)


@pytest.mark.parametrize(
    "options", [{}, {"fsm_idle_ttl": 60.0}, {"fsm_max_machines": 4}], ids=["kept", "idle ttl", "bounded"]
)
async def test_the_machines_of_a_removed_transition_are_closed_and_told_let_go(
    clock: ManualClock, options: dict[str, Any]
) -> None:
    # runner.remove() of an fsm= transition told nothing of its machines: no Dropped, so what
    # follows each machine (spores' log, metrics) kept them; and they lived on, a timeout or an
    # idle eviction telling of them later, for a transition the net no longer had.
    runner = PNRunner(keyed(**options), {}, clock)
    seen: list[Any] = []
    runner.add_observer(seen.append)
    runner.add_tokens("inbox", ["a:close", "b:x"])  # a is closed for 100 s, b is at rest
    await runner.run_until_idle()
    living = dict(machines(runner, "work"))
    assert list(living) == ["a", "b"] and clock.pending > 0
    before = len(seen)
    await runner.remove("work")
    removed = seen[before:]
    assert [told(e) for e in removed] == [
        ("Dropped", "a", "removed"),
        ("Dropped", "b", "removed"),
        ("NetChanged",),
    ]
    assert all((e.source, e.transition, e.time) == ("Keyed", "Keyed.work", 0.0) for e in removed[:2])
    assert clock.pending == 0  # no machine's timeout, no eviction sweep is left
    await clock.run_for(200.0)  # past a's timeout and fsm_idle_ttl
    await runner.stop()
    assert len(seen) == before + 3  # closed: nothing more of them, not "stopped" at stop either
    assert [fsm.current_state.name for fsm in living.values()] == ["Closed", "Idle"]  # (where they were)
