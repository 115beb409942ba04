"""mycorrhizal.metrics: the counters, histograms and gauges of observed runtimes, read from the registry."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from enum import Enum, auto
from typing import Any

import attrs
import prometheus_client
import pytest
from prometheus_client import CollectorRegistry

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.metrics import Metrics
from mycorrhizal.metrics import observer as metrics_observer
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.septum import (
    LabeledTransition,
    StateConfiguration,
    StateEntered,
    StateLeft,
    StateMachine,
    septum,
)

from ..runtimes import Broken, Edges, Idle, Shop, patrol_tree


@attrs.frozen
class Job:
    id: str
    size: int


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_a_net_counts_firings_by_outcome_tokens_latencies_and_place_depths(
    registry: CollectorRegistry, caplog: Any
) -> None:
    metrics = Metrics(registry)
    runner = NetRunner(Shop, {}, ManualClock())
    metrics.observe(runner)
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        runner.add_tokens("inbox", [Job("j1", 1), Job("j2", -1), Job("j3", 2)])
        await runner.run_until_idle()
        runner.add_token("inbox", Job("j4", 500))
        for _ in range(5):
            await asyncio.sleep(0)
        await runner.stop(cancel=True)
    work = {"net": "Shop", "transition": "work"}
    assert value(registry, "mycorrhizal_net_firings_total", **work, outcome="committed") == 2
    assert value(registry, "mycorrhizal_net_firings_total", **work, outcome="failed") == 1
    assert value(registry, "mycorrhizal_net_firings_total", **work, outcome="cancelled") == 1
    # consumed by committed firings only: j2's failure sent it to "dead", j4 went back when cancelled
    assert value(registry, "mycorrhizal_net_tokens_consumed_total", net="Shop", place="inbox") == 2
    assert value(registry, "mycorrhizal_net_tokens_produced_total", net="Shop", place="done") == 2
    assert value(registry, "mycorrhizal_net_firing_seconds_count", **work) == 4  # every firing timed
    assert value(registry, "mycorrhizal_net_firing_seconds_bucket", **work, le="+Inf") == 4
    # gauges are read when the registry is collected: j4 went back to the inbox
    for place, count in {"inbox": 1, "done": 2, "dead": 1}.items():
        assert value(registry, "mycorrhizal_net_place_tokens", net="Shop", place=place) == count


async def test_errors_outside_firings_are_counted_by_element_and_kind(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    # docs/observing.md's table: net_errors_total counts a guard, a sink ("delivery") or a
    # source that raised, under the element's short name; no test read the family.
    Metrics(registry).observe(runner := NetRunner(Edges, {}, ManualClock()))
    with caplog.at_level(logging.CRITICAL, "mycorrhizal.hypha"):
        await runner.run_until_idle()
        await runner.stop()
    errors = {
        (labels["element"], labels["kind"]): sample.value
        for metric in registry.collect()
        if metric.name == "mycorrhizal_net_errors"
        for sample in metric.samples
        if sample.name.endswith("_total") and (labels := sample.labels)["net"] == "Edges"
    }
    assert errors == {("feed", "source"): 1.0, ("forward", "guard"): 1.0, ("sink", "delivery"): 1.0}


async def test_concurrent_firings_are_timed_by_their_own_start(registry: CollectorRegistry) -> None:
    @pn.net
    def Slow(builder: NetBuilder) -> None:
        inbox, done = builder.place("inbox"), builder.place("done")

        @builder.transition(inputs=[inbox], outputs=[done], concurrency=3)
        async def wait(consumed: Any, bb: Any, timebase: Any) -> Any:
            await timebase.sleep(consumed.token)
            return {done: consumed.token}

    clock = ManualClock()
    metrics = Metrics(registry)
    runner = NetRunner(Slow, {}, clock)
    observer = metrics.observe(runner)
    runner.add_tokens("inbox", [3.0, 1.0, 2.0])
    await runner.start()
    await clock.run_for(5)
    await runner.run_until_idle()
    await runner.stop()
    assert value(registry, "mycorrhizal_net_firing_seconds_count", net="Slow", transition="wait") == 3
    assert observer._firings == {}  # every start was matched with its own outcome


async def test_a_tree_counts_ticks_statuses_and_node_events(registry: CollectorRegistry) -> None:
    clock = ManualClock()
    metrics = Metrics(registry)
    runner = TreeRunner(patrol_tree(), {}, clock)
    metrics.observe(runner)
    await runner.tick()
    await clock.run_for(5)
    await runner.tick()
    await runner.aclose()
    assert value(registry, "mycorrhizal_tree_ticks_total", tree="Patrol", status="RUNNING") == 1
    assert value(registry, "mycorrhizal_tree_ticks_total", tree="Patrol", status="FAILURE") == 1
    assert value(registry, "mycorrhizal_tree_tick_seconds_count", tree="Patrol") == 2
    main = {"tree": "Patrol", "node": "main"}
    assert value(registry, "mycorrhizal_tree_node_status_total", **main, status="FAILURE") == 1
    for node, kind in [("flaky", "failed"), ("limit", "timed out"), ("slow", "halted")]:
        assert value(registry, "mycorrhizal_tree_node_events_total", tree="Patrol", node=node, kind=kind) == 1


async def test_detach_stops_counting_and_nothing_touches_the_global_registry(
    registry: CollectorRegistry,
) -> None:
    metrics = Metrics(registry, namespace="shop")
    runner = NetRunner(Shop, {})
    observer = metrics.observe(runner)
    runner.add_token("inbox", Job("j1", 1))
    await runner.run_until_idle()
    metrics.detach(observer)
    runner.add_token("inbox", Job("j2", 1))
    await runner.run_until_idle()
    await runner.stop()
    labels = {"net": "Shop", "transition": "work", "outcome": "committed"}
    assert value(registry, "shop_net_firings_total", **labels) == 1
    assert value(registry, "shop_net_place_tokens", net="Shop", place="done") is None  # its gauges went
    names = {metric.name for metric in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith(("mycorrhizal_", "shop_")) for name in names)


def test_one_metrics_per_registry_and_runtimes_only(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(registry)
    with pytest.raises(TypeError, match=r"\. Fix: pass the runner, not the spec$"):
        metrics.observe(Shop)


@pytest.mark.parametrize(
    "taken", ["mycorrhizal_net_firings", "mycorrhizal_machine_state_seconds", "mycorrhizal_net_place_tokens"]
)
def test_a_registry_with_the_names_taken_is_refused_saying_what_to_do_and_left_as_it_was(
    registry: CollectorRegistry, taken: str
) -> None:
    # prometheus_client's 'Duplicated timeseries in CollectorRegistry: {...}' said nothing of what
    # to do, and the families registered before the one whose name was taken stayed in the registry.
    prometheus_client.Counter(taken, "the user's own", registry=registry)
    with pytest.raises(
        ValueError,
        match=r"Metrics\(registry, namespace='mycorrhizal'\): the registry has metrics of these names "
        r"already \(Duplicated timeseries in CollectorRegistry: \{.*'"
        + taken
        + r"'.*\}\)\. Fix: one Metrics per registry "
        r"\(use the one made on it\), or pass another namespace= or registry$",
    ):
        Metrics(registry)
    assert {metric.name for metric in registry.collect()} == {taken.removesuffix("_total")}
    Metrics(registry, namespace="other")  # the other names are free


async def test_detaching_what_this_metrics_does_not_observe_says_so(registry: CollectorRegistry) -> None:
    # A second detach() failed in the runtime: 'remove_observer(<MetricsObserver object at ...>):
    # that observer is not attached; pass the same object given to add_observer()', which it was.
    metrics = Metrics(registry)
    runner = NetRunner(Shop, {}, ManualClock())
    observer = metrics.observe(runner)
    metrics.detach(observer)
    with pytest.raises(
        ValueError,
        match=r"Metrics.detach\(\): this Metrics does not observe <hypha Runner 'Shop'.*> \(detached "
        r"already\?\)\. Fix: detach what its observe\(\) returned, once$",
    ):
        metrics.detach(observer)


def test_without_prometheus_client_the_import_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "try:\n    import mycorrhizal.metrics\n"
        "except ModuleNotFoundError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    needs = "mycorrhizal.metrics needs prometheus_client: pip install 'mycorrhizal[metrics]'"
    assert done.stdout.strip() == needs


async def test_a_machine_counts_transitions_messages_timeouts_retries_failures_and_dwell(
    registry: CollectorRegistry, caplog: Any
) -> None:
    clock = ManualClock()
    metrics = Metrics(registry)
    fsm = StateMachine(Idle, error_state=Broken, timebase=clock)
    metrics.observe(fsm)
    await fsm.initialize()
    fsm.send_message("work")
    await fsm.run()
    await clock.run_for(5)
    fsm.send_message("bad")
    fsm.send_message("queued behind the failure")
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.septum"):
        await fsm.run()
    m = {"machine": "Idle"}
    assert value(registry, "mycorrhizal_machine_transitions_total", **m, source="Idle", target="Working") == 1
    assert (
        value(registry, "mycorrhizal_machine_transitions_total", **m, source="Working", target="Working") == 1
    )
    assert value(registry, "mycorrhizal_machine_transitions_total", **m, source="Working", target="Idle") == 1
    assert value(registry, "mycorrhizal_machine_messages_total", **m, state="Idle") == 1
    for state, kind in [("Working", "timeout"), ("Working", "retry"), ("Idle", "failure")]:
        assert value(registry, "mycorrhizal_machine_events_total", **m, state=state, kind=kind) == 1
    # time in Working: 0 s before its retry, then the 5 s until its timeout (on the machine's clock)
    assert value(registry, "mycorrhizal_machine_state_seconds_count", **m, state="Working") == 2
    assert value(registry, "mycorrhizal_machine_state_seconds_sum", **m, state="Working") == 5.0
    assert value(registry, "mycorrhizal_machine_queue_size", **m) == fsm.queue_size


async def test_a_firing_retried_after_giving_its_tokens_back_counts_them_consumed_once(
    registry: CollectorRegistry, caplog: Any
) -> None:
    @pn.net
    def Flaky(builder: NetBuilder) -> None:
        inbox, done = builder.place("inbox"), builder.place("done")

        @builder.transition(inputs=[inbox], outputs=[done], retry_delay=1.0)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            bb["calls"] = bb.get("calls", 0) + 1
            if bb["calls"] == 1:
                raise ValueError("first try")  # the token goes back to the inbox
            return {done: consumed.token}

    clock = ManualClock()
    metrics = Metrics(registry)
    runner = NetRunner(Flaky, {}, clock)
    metrics.observe(runner)
    runner.add_token("inbox", "job")
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await runner.start()
        await clock.run_for(1)  # the retry
        await runner.run_until_idle()
        await runner.stop()
    work = {"net": "Flaky", "transition": "work"}
    assert value(registry, "mycorrhizal_net_firings_total", **work, outcome="failed") == 1
    assert value(registry, "mycorrhizal_net_firings_total", **work, outcome="committed") == 1
    assert value(registry, "mycorrhizal_net_tokens_consumed_total", net="Flaky", place="inbox") == 1


class Go(Enum):
    ON = auto()
    BAD = auto()


@septum.compound
class Errand:
    """Errand { Busy { Step }, Done }: "next" takes Busy's transition to Done, leaving Step and Busy."""

    @septum.compound
    class Busy:
        @septum.on_state
        def on_state(ctx: Any) -> Any:
            return Go.ON if ctx.msg == "next" else None

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(Go.ON, Errand.Done)]

        @septum.state
        class Step:
            @septum.on_state
            def on_state(ctx: Any) -> Any:
                if ctx.msg == "bad":
                    raise KeyError("bad input")
                return None

    @septum.state(config=StateConfiguration(can_dwell=True))
    class Done:
        @septum.on_state
        def on_state(ctx: Any) -> Any:
            if ctx.msg == "bad":
                raise KeyError("bad input")
            return None


@septum.state(config=StateConfiguration(can_dwell=True))
class Failed:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return None


async def test_a_statechart_move_counts_one_transition_and_every_state_left_its_dwell(
    registry: CollectorRegistry,
) -> None:
    clock = ManualClock()
    metrics = Metrics(registry)
    fsm = StateMachine(Errand, timebase=clock)
    metrics.observe(fsm)
    await fsm.initialize()
    await clock.run_for(2)
    fsm.send_message("next")  # leaves Step (inside the source) and Busy (the source)
    await fsm.run()
    m = {"machine": "Errand"}
    transitions = "mycorrhizal_machine_transitions_total"
    assert value(registry, transitions, **m, source="Busy", target="Done") == 1
    assert value(registry, transitions, **m, source="Step", target="Done") is None  # not a transition
    for state in ("Busy", "Step"):  # each state left: 2 s in it
        assert value(registry, "mycorrhizal_machine_state_seconds_sum", **m, state=state) == 2.0


def test_an_observer_forgets_the_machine_followed_longest_past_its_limit(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A net's per-token machines come and go with no record saying so: each kept its entry for ever.
    monkeypatch.setattr(metrics_observer, "MACHINES_FOLLOWED", 2)
    observer = Metrics(registry).observe(StateMachine(Errand))
    for name in ("m1", "m2", "m3"):  # three machines enter a state at 0, leave it at 5
        observer(StateEntered(source=name, time=0.0, state="A", previous=None, label=None))
    for name in ("m3", "m2", "m1"):  # (m1, forgotten, is followed again from its next record)
        observer(StateLeft(source=name, time=5.0, state="A", label=None, target="B"))
    dwell = "mycorrhizal_machine_state_seconds_sum"
    assert value(registry, dwell, machine="m1", state="A") is None  # forgotten: its time unknown
    assert [value(registry, dwell, machine=m, state="A") for m in ("m2", "m3")] == [5.0, 5.0]
    assert len(observer._machines) == 2  # (what grew without a bound)


@pytest.mark.parametrize("initial", [Idle, Errand], ids=["flat", "statechart"])
async def test_a_failure_routed_to_the_error_state_counts_a_transition_and_the_dwell_it_ends(
    registry: CollectorRegistry, caplog: Any, initial: Any
) -> None:
    clock = ManualClock()
    metrics = Metrics(registry)
    fsm = StateMachine(initial, error_state=Failed, timebase=clock)
    metrics.observe(fsm)
    await fsm.initialize()
    await clock.run_for(3)
    fsm.send_message("bad")
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.septum"):
        await fsm.run()
    m, failing = {"machine": initial.name}, "Idle" if initial is Idle else "Step"
    transitions = "mycorrhizal_machine_transitions_total"
    assert value(registry, transitions, **m, source=failing, target="Failed") == 1
    assert value(registry, "mycorrhizal_machine_events_total", **m, state=failing, kind="failure") == 1
    abandoned = ["Idle"] if initial is Idle else ["Step", "Busy", "Errand"]
    for state in abandoned:  # every state the route abandoned: 3 s in it
        assert value(registry, "mycorrhizal_machine_state_seconds_sum", **m, state=state) == 3.0


def samples(registry: CollectorRegistry, name: str) -> list[tuple[tuple[tuple[str, str], ...], float]]:
    """Every sample of metric family ``name``, as (sorted labels, value), duplicates kept."""
    return [
        (tuple(sorted(s.labels.items())), s.value)
        for family in registry.collect()
        if family.name == name
        for s in family.samples
    ]


async def test_gauges_of_runtimes_with_one_name_are_one_sample_each(registry: CollectorRegistry) -> None:
    # Two nets (or machines) of one name each added their own sample with the same labels: the
    # exposition held duplicate series (a scrape keeps one of them, read back as a wrong depth),
    # while the counters of the two add up under those labels.
    metrics = Metrics(registry)
    first, second = NetRunner(Shop, {}, ManualClock()), NetRunner(Shop, {}, ManualClock())
    idle, other = StateMachine(Idle), StateMachine(Idle)
    for runtime in (first, second, idle, other):
        metrics.observe(runtime)
    first.add_tokens("inbox", [Job("j1", 1)])
    second.add_tokens("inbox", [Job("j2", 1), Job("j3", 1)])
    await first.run_until_idle()
    await second.run_until_idle()
    idle.send_message("x")
    other.send_message("y")
    other.send_message("z")
    tokens = samples(registry, "mycorrhizal_net_place_tokens")
    expected = {"dead": 0, "done": 3, "inbox": 0}
    assert sorted(tokens) == [((("net", "Shop"), ("place", p)), n) for p, n in expected.items()]
    produced = value(registry, "mycorrhizal_net_tokens_produced_total", net="Shop", place="done")
    assert produced == expected["done"]
    assert samples(registry, "mycorrhizal_machine_queue_size") == [((("machine", "Idle"),), 3)]
    await first.stop()
    await second.stop()


async def test_a_runtime_observed_twice_is_refused_not_counted_twice(registry: CollectorRegistry) -> None:
    # A second observe() of one runtime attached a second observer: every firing counted twice.
    metrics = Metrics(registry)
    runner = NetRunner(Shop, {}, ManualClock())
    observer = metrics.observe(runner)
    refused = r"already observes <hypha Runner 'Shop'.* twice\)\. Fix: metrics\.detach\(\) it first"
    with pytest.raises(ValueError, match=refused):
        metrics.observe(runner)
    runner.add_token("inbox", Job("j1", 1))
    await runner.run_until_idle()
    metrics.detach(observer)
    metrics.observe(runner)  # detached: observed again
    runner.add_token("inbox", Job("j2", 1))
    await runner.run_until_idle()
    await runner.stop()
    committed = {"net": "Shop", "transition": "work", "outcome": "committed"}
    assert value(registry, "mycorrhizal_net_firings_total", **committed) == 2


async def _step(runtime: Any, n: int) -> None:
    """One firing of the net (a job of size 1), or one message the machine handles."""
    if isinstance(runtime, NetRunner):
        runtime.add_token("inbox", Job(f"j{n}", 1))
        await runtime.run_until_idle()
    else:
        runtime.send_message("hello")
        await runtime.run()


@pytest.mark.parametrize("how", ["raised", "removed"])
@pytest.mark.parametrize("kind", ["net", "machine"])
async def test_an_observer_the_runtime_detached_is_forgotten(
    registry: CollectorRegistry, kind: str, how: str, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # Detached by the runtime (it raised), the observer stayed in metrics.observers: observe()
    # refused the runtime as observed already, and its gauges were still collected.
    metrics = Metrics(registry)
    runtime: Any = NetRunner(Shop, {}, ManualClock()) if kind == "net" else StateMachine(Idle)
    if kind == "machine":
        await runtime.initialize()
    first = metrics.observe(runtime)

    def broken(self: Any, event: Any) -> None:
        raise RuntimeError("counting broke")

    if how == "raised":
        monkeypatch.setattr(metrics_observer.MetricsObserver, "__call__", broken)
        with caplog.at_level(logging.WARNING):
            await _step(runtime, 1)
        assert "counting broke; it is detached" in caplog.text
        monkeypatch.undo()
    else:
        runtime.remove_observer(first)
    assert metrics.observers == []
    assert samples(registry, f"mycorrhizal_{kind}_{'place_tokens' if kind == 'net' else 'queue_size'}") == []
    with pytest.raises(ValueError, match=r"does not observe .* \(detached already\?\)\. Fix: detach what"):
        metrics.detach(first)
    second = metrics.observe(runtime)  # not refused: the runtime is not observed
    await _step(runtime, 2)
    assert metrics.observers == [second]
    if kind == "net":
        labels = {"net": "Shop", "transition": "work", "outcome": "committed"}
        assert value(registry, "mycorrhizal_net_firings_total", **labels) == 1
        await runtime.stop()
    else:
        assert value(registry, "mycorrhizal_machine_messages_total", machine="Idle", state="Idle") == 1
    metrics.detach(second)
    assert metrics.observers == []
