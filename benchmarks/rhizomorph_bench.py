"""Behaviour trees: mycorrhizal.rhizomorph against py_trees and a bare floor.

Workloads (issues 4 and 16), every contender in the same interleaved rounds:

* 15-node tree, sync leaves: one tick of the tree below; microseconds per tick.
* 15-node tree, async leaves that finish without suspending (``async def`` leaves that return at
  once): one tick (the leaves run eagerly, so one tick decides the tree).  Target: at most 2x the
  sync-leaf tick, computed round by round.
* 15-node tree, async leaves that suspend once (``await asyncio.sleep(0)`` each, as a leaf doing I/O
  does): the tree run to completion, ``await runner.tick_until_complete()``: 7 ticks, 6 leaf runs
  that each suspend once; microseconds per completed run, and per tick (target: at most 40 us per
  tick; py_trees per ``tick_once()`` of its tick loop, which also takes about 7 per run).
* 1,501-node tree: a root sequence over 100 copies of the 15-node tree (sync leaves), one tick;
  target at most 3x the floor, computed round by round.
* runner build: a fresh, independent execution of an existing 15-node tree spec.

The 15-node tree (every contender builds exactly this shape, with the same leaf functions)::

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

A run visits 13 of the 15 nodes (6 leaves) and the root succeeds.  Every contender's leaves call the
same functions over one blackboard object; after each sample the counters must equal the number of
completed runs.

* mycorrhizal: ``Runner(tree, bb)``; sync ticks ``await runner.tick()``.
* py_trees: ``Behaviour`` subclasses calling the same functions in ``update()``, ``Sequence`` /
  ``Selector(memory=True)`` (mycorrhizal's default), ticked with ``root.tick_once()``, its cheapest
  tick.  py_trees cannot await: for the async rows each leaf's coroutine is submitted to an asyncio
  loop in a background thread (``asyncio.run_coroutine_threadsafe``) in ``initialise()`` and
  ``update()`` polls its future (RUNNING until done); the tick loop blocks until one of the pending
  futures is done and ticks again: the best a py_trees program can do (a fixed tick period would
  add up to that period per leaf).  Its "runner build" constructs the 15 nodes (py_trees has no
  spec/runtime split).
* floor: the same decisions without a library.  15 nodes: nested expressions (``or`` for a selector,
  ``and`` for a sequence) in one ``async`` tick; with async leaves, the leaves' coroutines awaited
  directly (no tasks).  1,501 nodes: one plain function per node (a composite loops over its
  children's functions), the least a tree of separately built nodes costs.

Every async row ends its sample with one ``await asyncio.sleep(0)``, so work a tick left to the event
loop (finished tasks' callbacks) is paid inside the measurement.

Run ``python benchmarks/rhizomorph_bench.py`` (``--quick`` for a smoke run, ``--help`` for options).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from _harness import Case, Derived, Row, Settings, run_benchmark

TARGET_TICK_US = 8.0  # issue 4
TARGET_BUILD_US = 20.0  # issue 4
TARGET_ASYNC_RATIO = 2.0  # issue 16: async leaves that do not suspend, at most 2x the sync tick
TARGET_SUSPEND_US = 40.0  # issue 16: async leaves that suspend once, per tick
TARGET_BIG_RATIO = 3.0  # issue 16: 1,501-node tick at most 3x the floor

W_SYNC = "15 nodes, sync leaves: tick"
W_ASYNC = "15 nodes, async leaves, no suspension: tick"
W_SUSPEND = "15 nodes, async leaves suspend once: run"
W_SUSPEND_TICK = "15 nodes, async leaves suspend once: per tick"
W_BIG = "1,501 nodes, sync leaves: tick"
W_BUILD = "runner build (15 nodes)"
W_ASYNC_RATIO = "async no-suspension tick / sync tick"
W_BIG_RATIO = "1,501-node tick / floor"

MYCORRHIZAL, PY_TREES, FLOOR = "mycorrhizal", "py_trees", "floor"
COPIES = 100  # 1 + 100 x 15 = 1,501 nodes


class Blackboard:
    """What the leaves read and count; the same class for every contender."""

    __slots__ = ("idle", "work", "cached", "fetched", "computed", "fallbacks", "logged", "runs")

    def __init__(self) -> None:
        self.runs = 0  # completed runs of the 15-node tree, counted by the benchmark driver
        self.idle = False
        self.work = True
        self.cached = False
        self.fetched = 0
        self.computed = 0
        self.fallbacks = 0
        self.logged = 0

    def check(self, contender: str) -> None:
        """Every contender must have made exactly the same decisions on every run."""
        runs = self.runs
        counts = (self.fetched, self.computed, self.fallbacks, self.logged)
        assert counts == (runs, runs, runs, 0), f"{contender}: leaf counters {counts} after {runs} runs"


# The leaves: conditions return a bool, actions True for SUCCESS and False for FAILURE; each
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


# The shape as data, so every contender builds it from one description: a composite is
# (kind, name, children); a leaf is ("condition" | "action", name, function).
Shape = tuple[Any, ...]
LEAVES = ("condition", "action")


def tree15(suffix: str = "") -> Shape:
    def c(fn: Callable[[Blackboard], bool]) -> Shape:
        return ("condition", fn.__name__ + suffix, fn)

    def a(fn: Callable[[Blackboard], bool]) -> Shape:
        return ("action", fn.__name__ + suffix, fn)

    def n(name: str) -> str:
        return name + suffix

    ready = ("selector", n("ready"), [c(is_idle), c(has_work)])
    produce = ("selector", n("produce"), [c(is_cached), a(compute)])
    work = ("sequence", n("work"), [ready, ("sequence", n("process"), [a(fetch), produce])])
    fall_back = ("sequence", n("fall_back"), [a(fallback)])
    recover = ("selector", n("recover"), [fall_back, ("sequence", n("report"), [a(log_it)])])
    return ("selector", n("root"), [work, recover])


def tree1501() -> Shape:
    return ("sequence", "big", [tree15(f"_{i}") for i in range(COPIES)])


def count_nodes(shape: Shape) -> int:
    return 1 if shape[0] in LEAVES else 1 + sum(count_nodes(child) for child in shape[2])


# --- floor ---------------------------------------------------------------------------------------


def _floor_tree(bb: Blackboard) -> bool:
    # Nested calls with the tree's shape; `or` is a selector, `and` a sequence.
    work = (is_idle(bb) or has_work(bb)) and (fetch(bb) and (is_cached(bb) or compute(bb)))
    return work or (fallback(bb) or log_it(bb))


def _awaitable(fn: Callable[[Blackboard], bool], suspend: bool) -> Callable[[Blackboard], Any]:
    if suspend:

        async def leaf(bb: Blackboard) -> bool:
            await asyncio.sleep(0)
            return fn(bb)

    else:

        async def leaf(bb: Blackboard) -> bool:
            return fn(bb)

    return leaf


def floor_async_tree(suspend: bool) -> Callable[[Blackboard], Any]:
    """The nested-expression floor with every leaf an awaited coroutine."""
    idle, work, cached = (_awaitable(f, suspend) for f in (is_idle, has_work, is_cached))
    fetch_, compute_, fallback_, log_ = (_awaitable(f, suspend) for f in (fetch, compute, fallback, log_it))

    async def tree(bb: Blackboard) -> bool:
        ok = ((await idle(bb)) or (await work(bb))) and (
            (await fetch_(bb)) and ((await cached(bb)) or (await compute_(bb)))
        )
        return ok or (await fallback_(bb)) or (await log_(bb))

    return tree


def floor_nodes(shape: Shape) -> Callable[[Blackboard], bool]:
    """One plain function per node: a composite loops over its children's functions."""
    if shape[0] in LEAVES:
        return shape[2]  # type: ignore[no-any-return]
    kind, _, children = shape
    calls = tuple(floor_nodes(child) for child in children)
    if kind == "sequence":

        def sequence(bb: Blackboard) -> bool:
            for call in calls:
                if not call(bb):
                    return False
            return True

        return sequence

    def selector(bb: Blackboard) -> bool:
        for call in calls:
            if call(bb):
                return True
        return False

    return selector


def floor_cases(settings: Settings) -> list[Case]:
    bbs = [Blackboard() for _ in range(4)]

    async def sync(n: int) -> None:
        bb = bbs[0]
        bb.runs += n
        for _ in range(n):
            _floor_tree(bb)
        bb.check(FLOOR)

    def awaited(bb: Blackboard, suspend: bool) -> Callable[[int], Any]:
        tree = floor_async_tree(suspend)

        async def run(n: int) -> None:
            bb.runs += n
            for _ in range(n):
                await tree(bb)
            await asyncio.sleep(0)
            bb.check(FLOOR)

        return run

    big = floor_nodes(tree1501())

    async def big_tick(n: int) -> None:
        bb = bbs[3]
        bb.runs += n * COPIES
        for _ in range(n):
            big(bb)
        bb.check(FLOOR)

    return [
        Case(FLOOR, W_SYNC, sync),
        Case(FLOOR, W_ASYNC, awaited(bbs[1], False)),
        Case(FLOOR, W_SUSPEND, awaited(bbs[2], True)),
        Case(FLOOR, W_BIG, big_tick, note="one plain function per node"),
    ]


def per_tick(elapsed: float, runs: int, ticks: int) -> float:
    """What a self-timed case returns so that its figure (seconds / runs) is seconds per tick."""
    return elapsed * runs / ticks


# --- mycorrhizal.rhizomorph ----------------------------------------------------------------------


def rhizomorph_tree(shape: Shape, leaves: str = "sync") -> Any:
    """``shape`` built with TreeBuilder; ``leaves`` is "sync", "async" or "suspend"."""
    from mycorrhizal.rhizomorph import Status, TreeBuilder

    builder = TreeBuilder(shape[1])
    success, failure = Status.SUCCESS, Status.FAILURE

    def leaf(kind: str, name: str, fn: Callable[[Blackboard], bool]) -> Any:
        if kind == "condition":
            call = fn if leaves == "sync" else _awaitable(fn, leaves == "suspend")
            return builder.condition(call, name=name)
        if leaves == "sync":

            def action(bb: Blackboard) -> Status:
                return success if fn(bb) else failure

        elif leaves == "async":

            async def action(bb: Blackboard) -> Status:
                return success if fn(bb) else failure

        else:

            async def action(bb: Blackboard) -> Status:
                await asyncio.sleep(0)
                return success if fn(bb) else failure

        return builder.action(action, name=name)

    def node(item: Shape) -> Any:
        kind, name, rest = item
        if kind in LEAVES:
            return leaf(kind, name, rest)
        made = [node(child) for child in rest]
        return (builder.sequence if kind == "sequence" else builder.selector)(name, *made)

    builder.root(node(shape))
    return builder.build()


def rhizomorph_cases(settings: Settings) -> list[Case]:
    from mycorrhizal.rhizomorph import Runner, Status

    def ticking(shape: Shape, leaves: str, runs_per_tick: int, *, until_complete: bool = False) -> Any:
        bb = Blackboard()
        runner = Runner(rhizomorph_tree(shape, leaves), bb)
        assert len(runner.status) == count_nodes(shape)

        async def run(n: int) -> None:
            bb.runs += n * runs_per_tick
            if until_complete:
                complete = runner.tick_until_complete
                for _ in range(n):
                    await complete()
            else:
                tick = runner.tick
                for _ in range(n):
                    await tick()
            await asyncio.sleep(0)
            assert runner.last_status is Status.SUCCESS
            bb.check(f"{MYCORRHIZAL} ({leaves} leaves)")

        return run

    def suspending_per_tick() -> Callable[[int], Any]:
        """Runs to completion like the W_SUSPEND case, timed per tick the runs took (7 each)."""
        bb = Blackboard()
        runner = Runner(rhizomorph_tree(tree15(), "suspend"), bb)

        async def run(n: int) -> float:
            bb.runs += n
            complete, before = runner.tick_until_complete, runner.ticks
            start = time.perf_counter()
            for _ in range(n):
                await complete()
            await asyncio.sleep(0)
            elapsed = time.perf_counter() - start
            assert runner.last_status is Status.SUCCESS
            bb.check(f"{MYCORRHIZAL} (suspend leaves, per tick)")
            return per_tick(elapsed, n, runner.ticks - before)

        return run

    tree = rhizomorph_tree(tree15())

    def build(n: int) -> None:
        bb = Blackboard()
        for _ in range(n):
            Runner(tree, bb)

    return [
        Case(MYCORRHIZAL, W_SYNC, ticking(tree15(), "sync", 1), TARGET_TICK_US),
        Case(MYCORRHIZAL, W_ASYNC, ticking(tree15(), "async", 1)),
        Case(MYCORRHIZAL, W_SUSPEND, ticking(tree15(), "suspend", 1, until_complete=True)),
        Case(MYCORRHIZAL, W_SUSPEND_TICK, suspending_per_tick(), TARGET_SUSPEND_US, self_timed=True),
        Case(MYCORRHIZAL, W_BIG, ticking(tree1501(), "sync", COPIES)),
        Case(MYCORRHIZAL, W_BUILD, build, TARGET_BUILD_US),
    ]


# --- py_trees ------------------------------------------------------------------------------------


class LoopThread:
    """An asyncio loop running in a background thread: where a py_trees program awaits coroutines."""

    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def start(self) -> None:
        # Made here, not in __init__: a case filtered out by --only is never started nor closed.
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="py_trees-asyncio", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def py_trees_tree(
    shape: Shape, bb: Blackboard, threads: LoopThread | None = None, suspend: bool = False
) -> Any:
    """``shape`` as py_trees behaviours over ``bb``; with ``threads`` the leaves are coroutines run
    on that loop and polled (see the module docstring)."""
    import py_trees

    status = py_trees.common.Status
    success, failure, running = status.SUCCESS, status.FAILURE, status.RUNNING

    class Leaf(py_trees.behaviour.Behaviour):  # type: ignore[misc]
        """A condition or action: ``update()`` calls the shared leaf function."""

        def __init__(self, fn: Callable[[Blackboard], bool]) -> None:
            super().__init__(fn.__name__)
            self.fn = fn

        def update(self) -> Any:
            return success if self.fn(bb) else failure

    class AsyncLeaf(py_trees.behaviour.Behaviour):  # type: ignore[misc]
        """Submits the leaf's coroutine to the background loop, then polls its future."""

        pending: set[concurrent.futures.Future[bool]] = set()

        def __init__(self, fn: Callable[[Blackboard], bool]) -> None:
            super().__init__(fn.__name__)
            self.coroutine = _awaitable(fn, suspend)
            self.future: concurrent.futures.Future[bool] | None = None

        def initialise(self) -> None:
            assert threads is not None
            self.future = asyncio.run_coroutine_threadsafe(self.coroutine(bb), threads.loop)
            AsyncLeaf.pending.add(self.future)

        def update(self) -> Any:
            future = self.future
            assert future is not None
            if not future.done():
                return running
            AsyncLeaf.pending.discard(future)
            return success if future.result() else failure

    def node(item: Shape) -> Any:
        if item[0] in LEAVES:
            return (Leaf if threads is None else AsyncLeaf)(item[2])
        kind, name, children = item
        composite = py_trees.composites.Sequence if kind == "sequence" else py_trees.composites.Selector
        return composite(name, memory=True, children=[node(child) for child in children])

    root = node(shape)
    root.pending = AsyncLeaf.pending  # the futures the tick loop waits for
    return root


def py_trees_cases(settings: Settings) -> list[Case]:
    import py_trees

    success, running = py_trees.common.Status.SUCCESS, py_trees.common.Status.RUNNING

    def ticking(shape: Shape, runs_per_tick: int) -> Callable[[int], None]:
        bb = Blackboard()
        root = py_trees_tree(shape, bb)
        assert sum(1 for _ in root.iterate()) == count_nodes(shape)

        def run(n: int) -> None:
            bb.runs += n * runs_per_tick
            tick_once = root.tick_once
            for _ in range(n):
                tick_once()
            assert root.status == success
            bb.check(PY_TREES)

        return run

    def threaded(suspend: bool, workload: str) -> Case:
        bb, threads = Blackboard(), LoopThread()
        root = py_trees_tree(tree15(), bb, threads, suspend)
        wait, first = concurrent.futures.wait, concurrent.futures.FIRST_COMPLETED
        timed_per_tick = workload == W_SUSPEND_TICK

        def run(n: int) -> float | None:
            bb.runs += n
            ticks = 0
            start = time.perf_counter()
            for _ in range(n):
                while True:
                    root.tick_once()
                    ticks += 1
                    if root.status != running:
                        break
                    wait(root.pending, return_when=first)
            elapsed = time.perf_counter() - start
            assert root.status == success
            bb.check(PY_TREES)
            return per_tick(elapsed, n, ticks) if timed_per_tick else None

        note = "leaf coroutines run on an asyncio loop in a thread, polled from update()"
        if timed_per_tick:
            note = "per tick_once() of its tick loop (about 7 per run, as mycorrhizal's); " + note
        return Case(
            PY_TREES,
            workload,
            run,
            note=note,
            self_timed=timed_per_tick,
            setup=threads.start,
            teardown=threads.close,
        )

    bb = Blackboard()

    def build(n: int) -> None:
        for _ in range(n):
            py_trees_tree(tree15(), bb)

    return [
        Case(PY_TREES, W_SYNC, ticking(tree15(), 1)),
        threaded(False, W_ASYNC),
        threaded(True, W_SUSPEND),
        threaded(True, W_SUSPEND_TICK),
        Case(PY_TREES, W_BIG, ticking(tree1501(), COPIES)),
        Case(PY_TREES, W_BUILD, build, note="constructs the 15 nodes: the nodes are the execution"),
    ]


# --- run -----------------------------------------------------------------------------------------

WORKLOADS = [W_SYNC, W_ASYNC, W_SUSPEND, W_SUSPEND_TICK, W_BIG, W_BUILD]

DERIVED = [
    Derived(
        MYCORRHIZAL,
        W_ASYNC_RATIO,
        (MYCORRHIZAL, W_ASYNC),
        (MYCORRHIZAL, W_SYNC),
        "/",
        "x",
        TARGET_ASYNC_RATIO,
    ),
    Derived(MYCORRHIZAL, W_BIG_RATIO, (MYCORRHIZAL, W_BIG), (FLOOR, W_BIG), "/", "x", TARGET_BIG_RATIO),
]


def cases(settings: Settings) -> list[Case]:
    every = [*rhizomorph_cases(settings), *py_trees_cases(settings), *floor_cases(settings)]
    return sorted(every, key=lambda case: WORKLOADS.index(case.workload))


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""
    return run_benchmark(
        argv,
        __doc__,
        name="rhizomorph",
        peers=(PY_TREES,),
        cases=cases,
        derived=DERIVED,
        unit=", microseconds per tick or run",
    )


if __name__ == "__main__":
    main()
