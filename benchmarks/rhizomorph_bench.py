"""Behaviour trees: mycorrhizal.rhizomorph against py_trees and a bare nested-call floor.

Workloads (issue 4), all measured in one run:

* tick: the same 15-node tree (8 sequence/selector composites, 7 leaves) ticked 10,000 times;
  figure = microseconds per tick.
* runner build: a fresh, independent execution of an existing tree spec; figure = microseconds.

The tree (every contender builds exactly this shape, with the same leaf functions)::

    root: selector
    |-- work: sequence
    |   |-- ready: selector
    |   |   |-- is_idle        condition   -> False
    |   |   `-- has_work       condition   -> True
    |   `-- process: sequence
    |       |-- fetch          action      -> SUCCESS  (counts fetched)
    |       `-- produce: selector
    |           |-- is_cached  condition   -> False
    |           `-- compute    action      -> FAILURE  (counts computed)
    `-- recover: selector
        |-- fall_back: sequence
        |   `-- fallback       action      -> SUCCESS  (counts fallbacks)
        `-- report: sequence
            `-- log_it         action      -> SUCCESS  (never reached)

A tick visits 13 of the 15 nodes (both composite kinds take their success and failure paths) and the
root succeeds.  How the workloads are kept equivalent: the leaves are the same plain (synchronous)
functions reading and counting on one blackboard object, for every contender; after the run the
counters must equal the number of ticks, which each contender's row is checked against.
* mycorrhizal: ``@bt.tree``, ticked with ``await runner.tick()``.
* py_trees: ``Behaviour`` subclasses calling the same functions in ``update()``, ``Sequence``/
  ``Selector(memory=True)`` (mycorrhizal's default; no child ever runs, so memory changes nothing),
  ticked with ``root.tick_once()`` - its cheapest way to tick (no ``BehaviourTree`` visitors).  py_trees
  has no spec/runtime split: the nodes are the execution, so its "runner build" constructs the nodes.
* floor: one ``async`` tick calling hand-written nested functions that make the same decisions.

Run ``python benchmarks/rhizomorph_bench.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from _harness import (
    Row,
    Settings,
    abest_per_op,
    best_per_op,
    run_benchmark,
)

TARGET_TICK_US = 8.0
TARGET_BUILD_US = 20.0

WORKLOAD_TICK = "tick of a 15-node tree"
WORKLOAD_BUILD = "runner build"
TICKS = 10_000


class Blackboard:
    """What the leaves read and count; the same class for every contender."""

    __slots__ = ("idle", "work", "cached", "fetched", "computed", "fallbacks", "logged", "ticks")

    def __init__(self) -> None:
        self.ticks = 0  # counted by the benchmark driver, not by the leaves
        self.idle = False
        self.work = True
        self.cached = False
        self.fetched = 0
        self.computed = 0
        self.fallbacks = 0
        self.logged = 0

    def check(self, contender: str) -> None:
        """Every contender must have made exactly the same decisions on every tick."""
        ticks = self.ticks
        counts = (self.fetched, self.computed, self.fallbacks, self.logged)
        assert counts == (ticks, ticks, ticks, 0), f"{contender}: leaf counters {counts} after {ticks} ticks"


# The leaves: conditions return a bool, actions return True for SUCCESS and False for FAILURE; each
# contender maps that onto its own status type in the thinnest way it offers.
def is_idle(bb: Blackboard) -> bool:
    return bb.idle


def has_work(bb: Blackboard) -> bool:
    return bb.work


def is_cached(bb: Blackboard) -> bool:
    return bb.cached


def fetch(bb: Blackboard) -> bool:
    bb.fetched += 1
    return True


def compute(bb: Blackboard) -> bool:
    bb.computed += 1
    return False


def fallback(bb: Blackboard) -> bool:
    bb.fallbacks += 1
    return True


def log_it(bb: Blackboard) -> bool:
    bb.logged += 1
    return True


def _ticks(settings: Settings) -> int:
    return settings.scale(TICKS, 50)


# --- floor ---------------------------------------------------------------------------------------


def _floor_tree(bb: Blackboard) -> bool:
    # Nested calls with the tree's shape; `or` is a selector, `and` a sequence.
    work = (is_idle(bb) or has_work(bb)) and (fetch(bb) and (is_cached(bb) or compute(bb)))
    return work or (fallback(bb) or log_it(bb))


async def _floor_tick(bb: Blackboard) -> bool:
    return _floor_tree(bb)


def bench_floor(settings: Settings) -> list[Row]:
    ticks = _ticks(settings)
    bb = Blackboard()

    async def run(n: int) -> None:
        bb.ticks += n
        for _ in range(n):
            await _floor_tick(bb)

    per_tick = abest_per_op(run, settings, ops=ticks)
    bb.check("floor")
    return [Row("floor", WORKLOAD_TICK, per_tick * 1e6, "us")]


# --- py_trees ------------------------------------------------------------------------------------


def py_trees_tree(bb: Blackboard) -> Any:
    """The 15-node tree as py_trees behaviours over ``bb``."""
    import py_trees

    success, failure = py_trees.common.Status.SUCCESS, py_trees.common.Status.FAILURE

    class Leaf(py_trees.behaviour.Behaviour):  # type: ignore[misc]
        """A condition or action: ``update()`` calls the shared leaf function."""

        def __init__(self, fn: Callable[[Blackboard], bool]) -> None:
            super().__init__(fn.__name__)
            self.fn = fn

        def update(self) -> Any:
            return success if self.fn(bb) else failure

    sequence, selector = py_trees.composites.Sequence, py_trees.composites.Selector
    ready = selector("ready", memory=True, children=[Leaf(is_idle), Leaf(has_work)])
    produce = selector("produce", memory=True, children=[Leaf(is_cached), Leaf(compute)])
    process = sequence("process", memory=True, children=[Leaf(fetch), produce])
    work = sequence("work", memory=True, children=[ready, process])
    fall_back = sequence("fall_back", memory=True, children=[Leaf(fallback)])
    report = sequence("report", memory=True, children=[Leaf(log_it)])
    recover = selector("recover", memory=True, children=[fall_back, report])
    return selector("root", memory=True, children=[work, recover])


def bench_py_trees(settings: Settings) -> list[Row]:
    import py_trees

    ticks = _ticks(settings)
    bb = Blackboard()
    root = py_trees_tree(bb)
    assert sum(1 for _ in root.iterate()) == 15

    def run(n: int) -> None:
        bb.ticks += n
        tick_once = root.tick_once
        for _ in range(n):
            tick_once()

    per_tick = best_per_op(run, settings.once(), ops=ticks)  # ~1 s per repeat: one per pass
    assert root.status == py_trees.common.Status.SUCCESS
    bb.check("py_trees")

    def build(n: int) -> None:
        for _ in range(n):
            py_trees_tree(bb)

    return [
        Row("py_trees", WORKLOAD_TICK, per_tick * 1e6, "us"),
        Row("py_trees", WORKLOAD_BUILD, best_per_op(build, settings) * 1e6, "us"),
    ]


# --- mycorrhizal.rhizomorph ----------------------------------------------------------------------


def rhizomorph_tree() -> Any:
    """The 15-node tree declared with ``@bt.tree``."""
    from mycorrhizal.rhizomorph import Status, bt

    success, failure = Status.SUCCESS, Status.FAILURE

    def action(fn: Callable[[Blackboard], bool]) -> Any:
        def leaf(bb: Blackboard) -> Status:
            return success if fn(bb) else failure

        return bt.action(leaf, name=fn.__name__)

    @bt.tree
    def Tree15() -> None:
        is_idle_ = bt.condition(is_idle)
        has_work_ = bt.condition(has_work)
        is_cached_ = bt.condition(is_cached)
        fetch_, compute_ = action(fetch), action(compute)
        fallback_, log_it_ = action(fallback), action(log_it)

        @bt.selector
        def ready() -> Any:
            yield is_idle_
            yield has_work_

        @bt.selector
        def produce() -> Any:
            yield is_cached_
            yield compute_

        @bt.sequence
        def process() -> Any:
            yield fetch_
            yield produce

        @bt.sequence
        def work() -> Any:
            yield ready
            yield process

        @bt.sequence
        def fall_back() -> Any:
            yield fallback_

        @bt.sequence
        def report() -> Any:
            yield log_it_

        @bt.selector
        def recover() -> Any:
            yield fall_back
            yield report

        @bt.root
        @bt.selector
        def root() -> Any:
            yield work
            yield recover

    return Tree15


def bench_rhizomorph(settings: Settings) -> list[Row]:
    from mycorrhizal.rhizomorph import Runner, Status

    ticks = _ticks(settings)
    bb = Blackboard()
    tree = rhizomorph_tree()
    runner = Runner(tree, bb)  # compiles the spec once: from here on it is "existing"
    assert len(runner.status) == 15, f"the rhizomorph tree has {len(runner.status)} nodes, not 15"

    async def run(n: int) -> None:
        bb.ticks += n
        tick = runner.tick
        for _ in range(n):
            await tick()

    per_tick = abest_per_op(run, settings, ops=ticks)
    assert runner.last_status is Status.SUCCESS
    bb.check("mycorrhizal")

    def build(n: int) -> None:
        for _ in range(n):
            Runner(tree, bb)

    return [
        Row("mycorrhizal", WORKLOAD_TICK, per_tick * 1e6, "us", TARGET_TICK_US),
        Row("mycorrhizal", WORKLOAD_BUILD, best_per_op(build, settings) * 1e6, "us", TARGET_BUILD_US),
    ]


# --- run -----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""

    def measure(settings: Settings, first: bool) -> list[Row]:
        return [*bench_rhizomorph(settings), *bench_py_trees(settings), *bench_floor(settings)]

    return run_benchmark(argv, __doc__, measure, name="rhizomorph", peers=("py_trees",))


if __name__ == "__main__":
    main()
