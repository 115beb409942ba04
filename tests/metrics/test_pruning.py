"""mycorrhizal.metrics on a net changed while it runs: the series of what it lost go, the rest stay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.metrics import Metrics
from mycorrhizal.mycelium import PNRunner
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.septum import StateConfiguration, StateMachine, septum

from ..mycelium.test_machine_transitions import gate_net
from ..mycelium.test_tree_transitions import router_net
from ..runtimes import patrol_tree
from .test_composed import desk_net

FIRINGS = "mycorrhizal_net_firings_total"


@pn.net
def Line(builder: NetBuilder) -> None:
    """inbox -> first -> middle -> second -> done."""
    inbox, middle, done = builder.place("inbox"), builder.place("middle"), builder.place("done")

    @builder.transition(inputs=[inbox], outputs=[middle])
    async def first(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {middle: consumed.token}

    @builder.transition(inputs=[middle], outputs=[done])
    async def second(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {done: consumed.token}


async def second(consumed: Any, bb: Any, timebase: Any) -> Any:
    """The handler of a transition 'second' added again: middle -> done."""
    return {"done": consumed.token}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(registry)


@pytest.fixture
async def lines(metrics: Metrics) -> AsyncIterator[Callable[[], Any]]:
    """Start an observed runner of Line; each one started is stopped at the end."""
    started: list[NetRunner] = []

    async def start() -> NetRunner:
        runner = NetRunner(Line, {}, ManualClock())
        metrics.observe(runner)
        await runner.start()
        started.append(runner)
        return runner

    yield start
    for runner in started:
        await runner.stop()


async def run(runner: NetRunner, *tokens: int) -> None:
    runner.add_tokens("inbox", tokens)
    await runner.run_until_idle()


def series(registry: CollectorRegistry, **labels: str) -> list[str]:
    """The exposition's sample lines having every one of ``labels``."""
    wanted = [f'{name}="{value}"' for name, value in labels.items()]
    lines = generate_latest(registry).decode().splitlines()
    return [line for line in lines if not line.startswith("#") and all(w in line for w in wanted)]


async def test_a_removed_transition_and_place_leave_the_exposition(
    registry: CollectorRegistry, lines: Callable[[], Any]
) -> None:
    runner = await lines()
    await run(runner, 1, 2)
    assert (
        registry.get_sample_value(FIRINGS, {"net": "Line", "transition": "second", "outcome": "committed"})
        == 2
    )
    await runner.remove("second")
    assert series(registry, transition="second") == []  # the counter and the latency histogram
    await runner.remove("done", tokens_to="middle")
    assert series(registry, place="done") == []  # tokens produced into it, and its gauge
    # what the net still has keeps its series and counts
    assert (
        registry.get_sample_value(FIRINGS, {"net": "Line", "transition": "first", "outcome": "committed"})
        == 2
    )
    produced = "mycorrhizal_net_tokens_produced_total"
    assert registry.get_sample_value(produced, {"net": "Line", "place": "middle"}) == 2


async def test_a_series_stays_while_another_observed_runner_of_the_net_has_it(
    registry: CollectorRegistry, lines: Callable[[], Any]
) -> None:
    one, two = await lines(), await lines()
    await run(one, 1)
    await run(two, 2)
    committed = {"net": "Line", "transition": "second", "outcome": "committed"}
    await two.remove("second")
    assert registry.get_sample_value(FIRINGS, committed) == 2  # runner one still has 'second'
    await run(one, 3)
    assert registry.get_sample_value(FIRINGS, committed) == 3
    await one.remove("second")
    assert series(registry, transition="second") == []
    # added again: a new series, counted from nothing (a cached child of the old one would be lost)
    one.add_transition("second", second, inputs=["middle"], outputs=["done"])
    await run(one, 4)
    assert registry.get_sample_value(FIRINGS, committed) == 1


@pytest.mark.parametrize(
    ("net", "transition", "token", "label"),
    [
        (desk_net(), "desk", {"key": "a", "do": "go"}, "machine"),
        (router_net(), "route", {"priority": 1}, "tree"),
    ],
    ids=["fsm", "bt"],
)
async def test_the_machines_and_trees_of_a_removed_transition_leave_the_exposition(
    registry: CollectorRegistry, metrics: Metrics, net: Any, transition: str, token: Any, label: str
) -> None:
    runner = PNRunner(net, {}, ManualClock())
    observer = metrics.observe(runner)
    await runner.start()
    runner.add_token("inbox", token)
    await runner.run_until_idle()
    assert series(registry, **{label: transition}) != []
    await runner.remove(transition)
    await runner.stop()
    assert series(registry, **{label: transition}) == [] and series(registry, transition=transition) == []
    assert not observer._machines and not observer._ticks  # nothing followed of what went


async def test_the_machines_of_a_removed_transition_count_nothing_after_it_went(
    registry: CollectorRegistry, metrics: Metrics, clock: ManualClock
) -> None:
    # The machines of a removed fsm= transition lived on: their timeouts, firing later, counted
    # into the series just removed (back in the exposition, for good) and followed the machines
    # again, by (transition, key), in the observer's table.
    runner = PNRunner(gate_net(fsm_key=lambda token: token.split(":")[0]), {}, clock)
    observer = metrics.observe(runner)
    await runner.start()
    runner.add_tokens("inbox", ["a:close", "b:x"])  # both machines wait on a timeout
    await runner.run_until_idle()
    await runner.remove("gate")
    await clock.run_for(60.0)  # past their timeouts
    assert series(registry, machine="gate") == [] and series(registry, transition="gate") == []
    assert not observer._machines
    await runner.stop()


@pn.net
def Elsewhere(builder: NetBuilder) -> None:
    """Another net with a transition 'route'."""
    inbox, out = builder.place("inbox"), builder.place("out")

    @builder.transition(inputs=[inbox], outputs=[out])
    async def route(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: consumed.token}


@septum.state(config=StateConfiguration(can_dwell=True))
class route:  # a machine named as the transition
    @septum.on_state
    def on_state(ctx: Any) -> None:
        return None


@pytest.mark.parametrize(
    "other",
    [
        lambda: TreeRunner(patrol_tree("route"), None, ManualClock()),
        lambda: StateMachine(route),
        lambda: NetRunner(Elsewhere, {}, ManualClock()),
    ],
    ids=["a tree of that name", "a machine of that name", "a net with a transition of that name"],
)
async def test_a_trees_series_stay_while_another_observed_runtime_goes_by_the_transitions_name(
    registry: CollectorRegistry, metrics: Metrics, other: Callable[[], Any]
) -> None:
    # A bt= transition's tree is labelled with the transition's name alone: so is a tree or a
    # machine of that name, and the tree or machines of another net's transition of that name.
    metrics.observe(other())
    runner = PNRunner(router_net(), {}, ManualClock())
    metrics.observe(runner)
    await runner.start()
    runner.add_token("inbox", {"priority": 1})
    await runner.run_until_idle()
    await runner.remove("route")
    await runner.stop()
    assert series(registry, net="Routing", transition="route") == []  # the net's own series of it go
    assert (
        registry.get_sample_value("mycorrhizal_tree_ticks_total", {"tree": "route", "status": "SUCCESS"}) == 1
    )
