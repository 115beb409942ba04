"""Structural analysis and reachability on textbook nets."""

from __future__ import annotations

import re
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal.common.errors import AnalysisError
from mycorrhizal.hypha import (
    NetBuilder,
    Runner,
    analyze,
    net_graph,
    pn,
    reachability_graph,
    unreachable,
)
from mycorrhizal.hypha.scheduler import _enabled


def passing(*outputs: str) -> Any:
    """A handler that puts one token into each of ``outputs``."""

    def handler(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: "tok" for out in outputs}

    return handler


@pn.net
def MutualExclusion(builder: NetBuilder) -> None:
    """Two processes share a critical section guarded by one mutex token."""
    mutex = builder.place("mutex", initial=["m"])
    for i in (1, 2):
        idle = builder.place(f"idle{i}", initial=["p"])
        critical = builder.place(f"critical{i}")
        builder.transition(name=f"enter{i}", inputs=[idle, mutex], outputs=[critical])(passing(critical))
        builder.transition(name=f"leave{i}", inputs=[critical], outputs=[idle, mutex])(passing(idle, mutex))


def philosophers(n: int) -> Any:
    """Each philosopher takes the left fork, then the right one: all holding a left fork deadlocks."""
    builder = NetBuilder(f"Philosophers{n}")
    forks = [builder.place(f"fork{i}", initial=["f"]) for i in range(n)]
    for i in range(n):
        thinking = builder.place(f"thinking{i}", initial=["p"])
        has_left = builder.place(f"has_left{i}")
        eating = builder.place(f"eating{i}")
        left, right = forks[i], forks[(i + 1) % n]
        builder.transition(name=f"take_left{i}", inputs=[thinking, left], outputs=[has_left])(
            passing(has_left)
        )
        builder.transition(name=f"take_right{i}", inputs=[has_left, right], outputs=[eating])(passing(eating))
        builder.transition(name=f"release{i}", inputs=[eating], outputs=[thinking, left, right])(
            passing(thinking, left, right)
        )
    return builder.build()


def test_mutual_exclusion_has_no_deadlock_and_is_safe() -> None:
    reach = reachability_graph(MutualExclusion)
    assert reach.deadlock_free and reach.deadlocks == []
    assert reach.graph.number_of_nodes() == 3
    for marking in reach.graph.nodes:
        counts = reach.as_dict(marking)
        assert counts.get("MutualExclusion.critical1", 0) + counts.get("MutualExclusion.critical2", 0) <= 1
    assert set(reach.bounds.values()) == {1}
    assert (
        reach.dead_transitions([f"MutualExclusion.{t.name}" for t in MutualExclusion.transitions])
        == frozenset()
    )


@pytest.mark.parametrize("n", [2, 3, 5])
def test_dining_philosophers_deadlock_when_everyone_holds_a_left_fork(n: int) -> None:
    net = philosophers(n)
    reach = reachability_graph(net)
    assert not reach.deadlock_free
    (deadlock,) = reach.deadlocks
    assert deadlock == {f"Philosophers{n}.has_left{i}": 1 for i in range(n)}
    path = reach.path_to(deadlock)
    assert sorted(path) == sorted(f"Philosophers{n}.take_left{i}" for i in range(n))


async def test_the_runner_really_reaches_the_philosophers_deadlock() -> None:
    # priorities force the bad interleaving: every philosopher takes a left fork first
    builder = NetBuilder("Greedy")
    forks = [builder.place(f"fork{i}", initial=["f"]) for i in range(3)]
    for i in range(3):
        thinking = builder.place(f"thinking{i}", initial=["p"])
        has_left = builder.place(f"has_left{i}")
        eating = builder.place(f"eating{i}")
        builder.transition(name=f"left{i}", priority=1, inputs=[thinking, forks[i]], outputs=[has_left])(
            passing(has_left)
        )
        builder.transition(name=f"right{i}", inputs=[has_left, forks[(i + 1) % 3]], outputs=[eating])(
            passing(eating)
        )
    net = builder.build()
    runner = Runner(net, {})
    await runner.run_until_idle()
    assert runner.marking().counts() == {
        **{f"Greedy.fork{i}": 0 for i in range(3)},
        **{f"Greedy.thinking{i}": 0 for i in range(3)},
        **{f"Greedy.has_left{i}": 1 for i in range(3)},
        **{f"Greedy.eating{i}": 0 for i in range(3)},
    }
    assert analyze(net).deadlocks == [{f"Greedy.has_left{i}": 1 for i in range(3)}]


def test_net_graph_is_bipartite_with_weights() -> None:
    builder = NetBuilder("W")
    a = builder.place("a", initial=[1, 2], capacity=4)
    b = builder.place("b")
    builder.transition(name="t", outputs=[(b, 3)])(passing(b))
    builder.arc(a, "t", weight=2)
    graph = net_graph(builder.build())
    assert nx.is_bipartite(graph)
    assert graph.nodes["W.a"] == {"kind": "place", "capacity": 4, "initial": 2, "io": "place"}
    assert graph.nodes["W.t"]["kind"] == "transition"
    assert graph.edges["W.a", "W.t"]["weight"] == 2 and graph.edges["W.t", "W.b"]["weight"] == 3


def test_weights_and_capacities_shape_the_reachable_markings() -> None:
    builder = NetBuilder("W")
    a = builder.place("a", initial=[1, 2, 3, 4])
    b = builder.place("b", capacity=2)
    builder.transition(name="t", outputs=[b])(passing(b))
    builder.arc(a, "t", weight=2)
    reach = reachability_graph(builder.build())
    assert sorted(reach.as_dict(m).get("W.b", 0) for m in reach.graph.nodes) == [0, 1, 2]
    assert reach.deadlocks == [{"W.b": 2}]


def test_unreachable_parts_are_found_structurally() -> None:
    @pn.net
    def Orphans(builder: NetBuilder) -> None:
        start = builder.place("start", initial=[1])
        middle = builder.place("middle")
        lonely = builder.place("lonely")
        never = builder.place("never")
        builder.transition(name="go", inputs=[start], outputs=[middle])(passing(middle))
        builder.transition(name="stuck", inputs=[middle, lonely], outputs=[never])(passing(never))

    found = unreachable(Orphans)
    assert found.places == {"Orphans.lonely", "Orphans.never"}
    assert found.transitions == {"Orphans.stuck"}
    fed = unreachable(Orphans, entry_places=["lonely"])
    assert fed.places == frozenset() and fed.transitions == frozenset()
    with pytest.raises(
        AnalysisError,
        match=r"entry place 'nope' is not a place of net 'Orphans'; places: \['Orphans.start', .*\]\. "
        r"Fix: name one of those places",
    ):
        unreachable(Orphans, entry_places=["nope"])


def test_unbounded_nets_are_reported() -> None:
    @pn.net
    def Pump(builder: NetBuilder) -> None:
        seed = builder.place("seed", initial=[1])
        pile = builder.place("pile")
        builder.transition(name="pump", inputs=[seed], outputs=[seed, pile])(passing(seed, pile))

    with pytest.raises(
        AnalysisError, match=r"net 'Pump' is unbounded: tokens can pile up without limit in \['Pump.pile'\]"
    ):
        reachability_graph(Pump)
    result = analyze(Pump)
    assert result.reachability is None and result.unbounded is not None and "unbounded" in result.unbounded


def test_state_space_limit() -> None:
    with pytest.raises(AnalysisError, match=r"more than 10 reachable markings"):
        reachability_graph(philosophers(5), max_states=10)


@pytest.mark.parametrize("max_states", [0, -1, True, 1e6, float("nan"), float("inf"), "100"])
@pytest.mark.parametrize("explore", [reachability_graph, analyze])
def test_a_state_space_limit_that_is_not_a_count_is_refused(explore: Any, max_states: Any) -> None:
    message = r"net 'MutualExclusion': max_states=.* is not an int >= 1.*Fix: pass"
    with pytest.raises(ValueError, match=message):
        explore(MutualExclusion, max_states=max_states)


def test_initial_marking_can_be_overridden() -> None:
    reach = reachability_graph(MutualExclusion, {"mutex": 0})
    assert reach.deadlocks == [{"MutualExclusion.idle1": 1, "MutualExclusion.idle2": 1}]
    with pytest.raises(AnalysisError, match=r"initial marking names 'ghost'"):
        reachability_graph(MutualExclusion, {"ghost": 1})
    with pytest.raises(AnalysisError, match=r"is not reachable"):
        reachability_graph(MutualExclusion).path_to({"MutualExclusion.critical1": 5})


def test_priorities_are_respected() -> None:
    builder = NetBuilder("P")
    a = builder.place("a", initial=[1])
    hi = builder.place("hi")
    lo = builder.place("lo")
    builder.transition(name="high", priority=1, inputs=[a], outputs=[hi])(passing(hi))
    builder.transition(name="low", inputs=[a], outputs=[lo])(passing(lo))
    net = builder.build()
    reach = reachability_graph(net)
    assert reach.deadlocks == [{"P.hi": 1}]
    assert reach.dead_transitions(["P.high", "P.low"]) == {"P.low"}
    assert analyze(net).dead_transitions == {"P.low"}


def test_io_places_start_empty_and_sinks_absorb() -> None:
    async def source(bb: Any, timebase: Any) -> Any:
        yield 1

    async def sink(token: Any, bb: Any, timebase: Any) -> None:
        return None

    @pn.net
    def IO(builder: NetBuilder) -> None:
        src = builder.io_input_place("src", source)
        out = builder.io_output_place("out", sink)
        builder.transition(name="t", inputs=[src], outputs=[out])(passing(out))

    # the source is an unlimited supply: t can always fire, and the sink drains what it produces
    unlimited = reachability_graph(IO)
    assert unlimited.graph.number_of_nodes() == 1 and unlimited.deadlock_free
    reach = reachability_graph(IO, {"src": 2})
    assert reach.graph.number_of_nodes() == 3 and reach.deadlocks == [{}]
    assert unreachable(IO).transitions == frozenset()


def test_error_places_count_as_reachable_and_are_drawn_in_the_graph() -> None:
    async def sink(token: Any, bb: Any, timebase: Any) -> None:
        return None

    @pn.net
    def Errors(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[1])
        dead = builder.place("dead")
        sink_dead = builder.place("sink_dead")
        out = builder.io_output_place("out", sink, on_error=sink_dead)
        builder.transition(name="t", inputs=[src], outputs=[out], on_error=dead)(passing(out))

    assert unreachable(Errors) == unreachable(Errors, entry_places=[])
    assert unreachable(Errors).places == frozenset()
    graph = net_graph(Errors)
    assert graph.edges["Errors.t", "Errors.dead"] == {"weight": 0, "kind": "error"}
    assert graph.edges["Errors.t", "Errors.out"]["kind"] == "arc"


def test_open_nets_without_back_pressure_are_unbounded() -> None:
    async def source(bb: Any, timebase: Any) -> Any:
        yield 1

    def shop(capacity: int | None) -> Any:
        builder = NetBuilder("Open")
        requests = builder.io_input_place("requests", source)
        backlog = builder.place("backlog", capacity=capacity)
        done = builder.place("done", capacity=1)
        builder.transition(name="accept", inputs=[requests], outputs=[backlog])(passing(backlog))
        builder.transition(name="serve", inputs=[backlog], outputs=[done])(passing(done))
        return builder.build()

    # With capacities everywhere the state space is finite (and 'done' fills up: a deadlock).
    bounded = reachability_graph(shop(2))
    assert bounded.deadlocks == [{"Open.backlog": 2, "Open.done": 1}]
    # Without back-pressure on the backlog, requests can pile up forever.
    with pytest.raises(AnalysisError, match=r"net 'Open' is unbounded: .* in \['Open.backlog'\]"):
        reachability_graph(shop(None))


def test_entry_places_are_unlimited_supplies() -> None:
    builder = NetBuilder("Fed")
    inbox = builder.place("inbox")
    out = builder.place("out")
    builder.transition(name="t", inputs=[inbox], outputs=[out])(passing(out))
    net = builder.build()
    with pytest.raises(
        AnalysisError, match=r"net 'Fed' is unbounded: tokens can pile up without limit in \['Fed.out'\]"
    ):
        reachability_graph(net, sources=["inbox"])
    assert analyze(net, entry_places=["inbox"]).unbounded is not None
    assert reachability_graph(net).deadlocks == [{}]
    with pytest.raises(
        AnalysisError,
        match=r"source 'nope' is not a place of net 'Fed'; places: \['Fed.inbox', 'Fed.out'\]\. "
        r"Fix: name one of those places",
    ):
        reachability_graph(net, sources=["nope"])
    with pytest.raises(
        AnalysisError,
        match=r"initial marking names 'nope', which is not a place of net 'Fed'; places: \['Fed.inbox', "
        r"'Fed.out'\]\. Fix: name one of those places",
    ):
        reachability_graph(net, initial={"nope": 1})


def test_priorities_make_the_search_rely_on_the_state_limit() -> None:
    builder = NetBuilder("Prio")
    seed = builder.place("seed", initial=[1])
    pile = builder.place("pile")
    builder.transition(name="pump", priority=1, inputs=[seed], outputs=[seed, pile])(passing(seed, pile))
    builder.transition(name="other", inputs=[pile], outputs=[pile])(passing(pile))
    with pytest.raises(AnalysisError, match=r"more than 30 reachable markings"):
        reachability_graph(builder.build(), max_states=30)


def requeueing_net() -> Any:
    """``jobs`` (fed by add_token) -> ``work`` -> ``done`` (capacity 1) -> ``requeue`` -> ``jobs``."""
    builder = NetBuilder("Loop")
    jobs, done = builder.place("jobs"), builder.place("done", capacity=1)
    builder.transition(name="work", inputs=[jobs], outputs=[done])(passing(done))
    builder.transition(name="requeue", inputs=[done], outputs=[jobs])(passing(jobs))
    return builder.build()


def test_an_entry_place_the_net_feeds_back_stays_an_unlimited_supply() -> None:
    # A supply is never counted, also when a transition puts tokens back into it: counting them made
    # every loop through an entry place look like tokens piling up there ("unbounded").
    reach = reachability_graph(requeueing_net(), sources=["jobs"])
    assert sorted(reach.graph.nodes) == [(0, 0), (0, 1)]  # (jobs, done)
    assert reach.bounds == {"Loop.jobs": 0, "Loop.done": 1} and reach.deadlock_free
    report = analyze(requeueing_net(), entry_places=["jobs"])
    assert report.unbounded is None and report.deadlocks == []


def test_path_to_refuses_a_marking_naming_no_place() -> None:
    # A short name used to be read as 0 tokens in every place: a path to some other marking.
    reach = reachability_graph(requeueing_net(), initial={"jobs": 1})
    assert reach.path_to({"Loop.done": 1}) == ["Loop.work"]
    with pytest.raises(
        AnalysisError,
        match=r"path_to\(\): 'done' is not a place of net 'Loop'; places: \['Loop.jobs', 'Loop.done'\]\. "
        r"Fix: name places by qualified name",
    ):
        reach.path_to({"done": 1})
    with pytest.raises(
        AnalysisError,
        match=r"marking \{'Loop.jobs': 2\} is not reachable in net 'Loop'\. Fix: ",
    ):
        reach.path_to({"Loop.jobs": 2})


@pytest.mark.parametrize(
    ("count", "match"),
    [
        (-1, r"-1 tokens, which is not an int >= 0"),
        (True, r"True tokens, which is not an int >= 0"),
        (1.0, r"1\.0 tokens, which is not an int >= 0"),
        ("1", r"'1' tokens, which is not an int >= 0"),
        (2, r"2 tokens, more than its capacity 1"),
    ],
)
def test_an_initial_count_a_place_cannot_hold_is_refused(count: Any, match: str) -> None:
    # Such a count used to be explored as given: a negative or fractional count, or one over the
    # place's capacity, gave markings the net can never be in (and a string a bare TypeError).
    with pytest.raises(
        AnalysisError, match=rf"initial marking gives place 'Loop\.done' {match}\. Fix: give it "
    ):
        reachability_graph(requeueing_net(), initial={"done": count})


@pytest.mark.parametrize(
    ("first", "second"),
    [("mutex", "MutualExclusion.mutex"), ("MutualExclusion.mutex", "mutex")],
)
@pytest.mark.parametrize("counts", [(0, 1), (1, 1)])
def test_an_initial_marking_naming_one_place_twice_is_refused(
    first: str, second: str, counts: tuple[int, int]
) -> None:
    # The last of the two counts used to win silently, so a marking written with two counts for
    # one place was explored with one the writer may not have meant.
    with pytest.raises(
        AnalysisError,
        match=rf"initial marking names place 'MutualExclusion\.mutex' twice, as {re.escape(repr(first))} and "
        rf"{re.escape(repr(second))}\. Fix: give each place one count, under one name",
    ):
        reachability_graph(MutualExclusion, initial={first: counts[0], second: counts[1]})


@pytest.mark.parametrize("count", [-1, True, 1.0, "1", None])
def test_path_to_refuses_a_count_that_is_no_token_count(count: Any) -> None:
    # True and 1.0 used to be read as 1 (a path to another marking than the one written), and the
    # others as a marking "not reachable", as if it were one.
    reach = reachability_graph(requeueing_net(), initial={"jobs": 1})
    with pytest.raises(
        AnalysisError,
        match=rf"path_to\(\): marking gives place 'Loop\.done' {re.escape(repr(count))} tokens, which is "
        r"not an int >= 0\. Fix: give each place it names a whole number of tokens",
    ):
        reach.path_to({"Loop.done": count})


@pytest.mark.parametrize(
    ("capacity", "max_states", "match"),
    [
        (None, 100, r"net 'Pile' is unbounded: .*\. Fix: give those places a capacity"),
        (10, 3, r"net 'Pile' has more than 3 reachable markings\. Fix: raise max_states"),
    ],
)
def test_analysis_errors_end_with_a_fix(capacity: int | None, max_states: int, match: str) -> None:
    builder = NetBuilder("Pile")
    seed, pile = builder.place("seed", initial=[1]), builder.place("pile", capacity=capacity)
    builder.transition(name="pump", inputs=[seed], outputs=[seed, pile])(passing(seed, pile))
    with pytest.raises(AnalysisError, match=match):
        reachability_graph(builder.build(), max_states=max_states)


@st.composite
def small_nets(draw: Any) -> tuple[list[int | None], list[int], list[Any]]:
    """(capacities, initial counts, transitions as (inputs, outputs, priority)) of a small net with
    weights, capacities, self-loops and two priority levels."""
    capacities = draw(st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=2, max_size=3))
    places = range(len(capacities))

    def arcs(min_size: int) -> Any:
        arc = st.tuples(st.sampled_from(places), st.integers(1, 2)).map(
            lambda a: (a[0], min(a[1], capacities[a[0]] or 2))  # a heavier arc is a definition error
        )
        return st.lists(arc, min_size=min_size, max_size=2, unique_by=lambda a: a[0])

    transitions = draw(
        st.lists(st.tuples(arcs(1), arcs(0), st.integers(0, 1)), min_size=1, max_size=3),
    )
    initial = [draw(st.integers(0, cap or 2)) for cap in capacities]
    return capacities, initial, transitions


def small_net(capacities: list[int | None], initial: Any, transitions: list[Any]) -> Any:
    builder = NetBuilder("Small")
    places = [
        builder.place(f"p{i}", capacity=cap, initial=range(n))
        for i, (cap, n) in enumerate(zip(capacities, initial, strict=True))
    ]
    for number, (inputs, outputs, priority) in enumerate(transitions):
        builder.transition(
            name=f"t{number}",
            inputs=[(places[p], w) for p, w in inputs],
            outputs=[(places[p], w) for p, w in outputs],
            priority=priority,
        )(passing())
    return builder.build()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(small_nets())
def test_the_reachability_graph_fires_what_the_runner_would_fire(shape: Any) -> None:
    # In every reachable marking, the transitions the analysis fires are exactly those the runner
    # may fire there: enabled by its own rule (tokens, room for the outputs), of the highest priority
    # among the enabled ones.
    capacities, initial, transitions = shape
    try:
        reach = reachability_graph(small_net(capacities, initial, transitions), max_states=200)
    except AnalysisError:
        return  # unbounded: nothing to compare
    for marking in sorted(reach.graph.nodes)[:40]:
        runner = Runner(small_net(capacities, marking, transitions), {})
        enabled = [t for t in runner._transitions if _enabled(t)]
        top = max((t.flat.spec.priority for t in enabled), default=None)
        expected = {t.qname for t in enabled if t.flat.spec.priority == top}
        assert {key for _, _, key in reach.graph.out_edges(marking, keys=True)} == expected, marking
