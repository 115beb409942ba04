"""Invariants over random trees (hypothesis)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import ManualClock
from mycorrhizal.rhizomorph import Registry, Runner, Status, Tree, TreeBuilder, load_tree, tree_to_dict
from mycorrhizal.rhizomorph.compile import plan_of
from tests._observing import Recorder

S, F, R = Status.SUCCESS, Status.FAILURE, Status.RUNNING
LEAVES = 6

# A tree shape: ("leaf", k) | (kind, memory, [kids]) | ("par", threshold, [kids]) | ("inv", kid) ...
leaf = st.builds(lambda k: ("leaf", k), st.integers(0, LEAVES - 1))


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    kids = st.lists(children, min_size=1, max_size=4)
    return st.one_of(
        st.tuples(st.sampled_from(["seq", "sel"]), st.booleans(), kids),
        kids.flatmap(lambda ks: st.tuples(st.just("par"), st.integers(1, len(ks)), st.just(ks))),
        st.tuples(st.sampled_from(["inv", "succeeder", "failer"]), children),
        st.tuples(st.sampled_from(["retry", "repeat"]), st.integers(1, 3), children),
    )


shapes = st.recursive(leaf, _extend, max_leaves=12)


class Leaves:
    """Leaf functions whose results the test sets per tick; records calls and halts."""

    def __init__(self) -> None:
        self.results: list[Status] = [S] * LEAVES
        self.calls: list[int] = []
        self.halts: list[int] = []
        self.user_code: Callable[[], object] = lambda: None  # called by every leaf and halt hook
        self.fns = [self._make(k) for k in range(LEAVES)]
        self.hooks = [self._hook(k) for k in range(LEAVES)]

    def _make(self, k: int) -> Any:
        def fn() -> Status:
            self.calls.append(k)
            self.user_code()
            return self.results[k]

        fn.__name__ = f"leaf{k}"
        return fn

    def _hook(self, k: int) -> Any:
        def hook() -> None:
            self.halts.append(k)
            self.user_code()

        hook.__name__ = f"halt{k}"
        return hook


def build(shape: Any, leaves: Leaves) -> Tree:
    b = TreeBuilder("Random")
    counter = iter(range(10_000))

    def make(s: Any) -> Any:
        kind = s[0]
        if kind == "leaf":
            return b.action(leaves.fns[s[1]], on_halt=leaves.hooks[s[1]])
        name = f"{kind}{next(counter)}"
        if kind in ("seq", "sel"):
            maker = b.sequence if kind == "seq" else b.selector
            return maker(name, *[make(k) for k in s[2]], memory=s[1])
        if kind == "par":
            return b.parallel(name, *[make(k) for k in s[2]], success_threshold=s[1])
        if kind in ("retry", "repeat"):
            return getattr(b, kind)(s[1], make(s[2]), name=name)
        return {"inv": b.inverter, "succeeder": b.succeeder, "failer": b.failer}[kind](make(s[1]), name=name)

    b.root(make(shape))
    return b.build()


def reference(shape: Any, results: list[Status], calls: list[int]) -> Status:
    """What a tree of instantaneous leaves must report (and which leaves it calls, in order)."""
    kind = shape[0]
    if kind == "leaf":
        calls.append(shape[1])
        return results[shape[1]]
    if kind == "seq":
        for kid in shape[2]:
            r = reference(kid, results, calls)
            if r is not S:
                return r
        return S
    if kind == "sel":
        r = F
        for kid in shape[2]:
            r = reference(kid, results, calls)
            if r is S:
                return r
        return r
    if kind == "par":
        need, n, ok, bad = shape[1], len(shape[2]), 0, 0
        for kid in shape[2]:
            r = reference(kid, results, calls)
            ok, bad = ok + (r is S), bad + (r is not S)
            if ok >= need:
                return S
            if bad >= n - need + 1:
                return r
        raise AssertionError("a parallel of instantaneous children always decides")
    if kind in ("retry", "repeat"):
        r = S
        for _ in range(shape[1]):
            r = reference(shape[2], results, calls)
            if (r is S) == (kind == "retry"):
                return r
        return r
    r = reference(shape[1], results, calls)
    return {"inv": {S: F, F: S}, "succeeder": {F: S}, "failer": {S: F}}[kind].get(r, r)


instant = st.lists(st.sampled_from([S, F]), min_size=LEAVES, max_size=LEAVES)
any_status = st.lists(st.sampled_from([S, F, R]), min_size=LEAVES, max_size=LEAVES)


@settings(max_examples=80, deadline=None)
@given(shape=shapes, ticks=st.lists(instant, min_size=1, max_size=4))
async def test_instantaneous_trees_match_the_reference_semantics(
    shape: Any, ticks: list[list[Status]]
) -> None:
    leaves = Leaves()
    runner = Runner(build(shape, leaves), None)
    for results in ticks:
        leaves.results = results
        leaves.calls = []
        expected_calls: list[int] = []
        expected = reference(shape, results, expected_calls)
        assert await runner.tick() is expected
        assert leaves.calls == expected_calls
        assert not runner.running


@settings(max_examples=80, deadline=None)
@given(shape=shapes, ticks=st.lists(any_status, min_size=1, max_size=6))
async def test_nothing_keeps_running_without_a_running_parent_and_reset_halts_all(
    shape: Any, ticks: list[list[Status]]
) -> None:
    leaves = Leaves()
    tree = build(shape, leaves)
    runner = Runner(tree, None)
    plan = plan_of(tree)
    parents = plan.parents
    for results in ticks:
        leaves.results = results
        await runner.tick()
        # Every RUNNING node's parent is RUNNING: abandoned work was halted, not left running.
        for i, status in enumerate(runner.status):
            if status is R and parents[i] >= 0:
                assert runner.status[parents[i]] is R
        running_leaves = sorted(
            i for i, spec in enumerate(plan.specs) if spec.kind == "action" and runner.status[i] is R
        )
    leaves.halts = []
    runner.reset()
    assert R not in runner.status
    assert len(leaves.halts) == len(running_leaves)


async def _observed_run(shape: Any, ticks: list[list[Status]], at: int, late: bool) -> tuple[Recorder, int]:
    """The records an observer is told of ``ticks`` and a reset, attached before them (``late``
    False) or by the ``at``-th leaf call or halt hook; and how many it had been told by then
    (-1: there were fewer)."""
    leaves = Leaves()
    runner = Runner(build(shape, leaves), None, ManualClock())
    seen, mark, calls = Recorder(), [-1], itertools.count()

    def user_code() -> None:
        if next(calls) == at:
            mark[0] = len(seen)
            if late:
                runner.add_observer(seen)

    leaves.user_code = user_code
    if not late:
        runner.add_observer(seen)
    for results in ticks:
        leaves.results = results
        await runner.tick()
    runner.reset()
    return seen, mark[0]


@settings(max_examples=150, deadline=None)
@given(shape=shapes, ticks=st.lists(any_status, min_size=1, max_size=5), at=st.integers(0, 30))
async def test_an_observer_attached_by_a_leaf_or_halt_hook_is_told_what_one_attached_before_is(
    shape: Any, ticks: list[list[Status]], at: int
) -> None:
    # From the moment it is attached - in the middle of a tick, or of a halt - on: the rest of that
    # tick or halt, told by the plain program's writes, and everything after.
    early, mark = await _observed_run(shape, ticks, at, late=False)
    assume(mark >= 0)
    late, _ = await _observed_run(shape, ticks, at, late=True)
    assert late == early[mark:]


@settings(max_examples=60, deadline=None)
@given(shape=shapes, ticks=st.lists(any_status, min_size=1, max_size=5))
async def test_declarative_round_trip_of_random_trees(shape: Any, ticks: list[list[Status]]) -> None:
    leaves = Leaves()
    tree = build(shape, leaves)
    loaded = load_tree(json.dumps(tree_to_dict(tree)), Registry.of(tree))
    assert tree_to_dict(loaded) == tree_to_dict(tree)
    seen = []
    for candidate in (tree, loaded):
        runner = Runner(candidate, None)
        leaves.calls = []
        trace = []
        for results in ticks:
            leaves.results = results
            trace.append((await runner.tick(), runner.last_tick()))
        seen.append((trace, leaves.calls))
    assert seen[0] == seen[1]


timed_shapes = st.recursive(
    leaf,
    lambda children: st.one_of(_extend(children), st.tuples(st.just("timeout"), st.integers(1, 6), children)),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(
    shape=timed_shapes,
    durations=st.lists(st.integers(0, 5), min_size=LEAVES, max_size=LEAVES),
    results=st.lists(st.sampled_from([S, F]), min_size=LEAVES, max_size=LEAVES),
)
async def test_when_a_run_ends_no_coroutine_or_timer_it_started_is_left_behind(
    shape: Any, durations: list[int], results: list[Status]
) -> None:
    from mycorrhizal.common import ManualClock

    clock = ManualClock()
    started: list[int] = []
    ended: list[str] = []

    def make(k: int) -> Any:
        async def work(timebase: ManualClock) -> Status:
            started.append(k)
            try:
                if durations[k]:
                    await timebase.sleep(durations[k])
            except BaseException:
                ended.append("cancelled")
                raise
            ended.append("finished")
            return results[k]

        work.__name__ = f"work{k}"
        return work

    b = TreeBuilder("Timed")

    def node(s: Any) -> Any:
        if s[0] == "leaf":
            return b.action(make(s[1]))
        if s[0] == "timeout":
            return b.timeout(s[1], node(s[2]))
        if s[0] in ("seq", "sel"):
            return (b.sequence if s[0] == "seq" else b.selector)("c", *[node(k) for k in s[2]], memory=s[1])
        if s[0] == "par":
            return b.parallel("p", *[node(k) for k in s[2]], success_threshold=s[1])
        if s[0] in ("retry", "repeat"):
            return getattr(b, s[0])(s[1], node(s[2]))
        return getattr(b, {"inv": "inverter"}.get(s[0], s[0]))(node(s[1]))

    b.root(node(shape))
    runner = Runner(b.build(), None, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    for _ in range(100):
        if run.done():
            break
        await clock.run_for(1)
    if run.done():
        assert run.result() in (S, F)
    else:
        # Some trees never finish (two async actions in a reactive sequence restart each other):
        # abandoning the run must clean up just the same.
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        await runner.settle()
    assert len(ended) == len(started)  # every coroutine finished or was cancelled, none still waits
    assert clock.pending == 0  # no sleeper and no timeout timer left
    assert R not in runner.status
