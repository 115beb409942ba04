"""A tree's program: the tick and halt function of every node, built from its plan once per tree.

The builders are looked up by node kind (:data:`BUILDERS`), so a new kind of node is one builder
function and one table entry.  Each node's function calls its children's functions directly, and
what changes during a run lives in the runner, so one program serves every runner of the tree.

A second, *observed* program is built the first time a runner of the tree has observers: the same
functions, each wrapped to report status changes and halts (:mod:`.events`).  Runners without
observers run the plain program and pay nothing for observability.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..common.eager import LAZY_TASKS, with_starter
from .behaviours import composites, decorators, leaves
from .behaviours.host import HaltFn, Host, TickFn
from .compile import Plan, plan_of
from .events import TickStarted, make_halted, make_status_changed, make_tick_finished, make_tick_started
from .nodes import Composite, Decorator, Leaf, Match
from .status import Status
from .tree import Tree

__all__ = ["BUILDERS", "OBSERVED_CODES", "PROGRAMS", "Program", "observed_program_of", "program_of"]

Build = Callable[[Plan, int, Sequence[TickFn], Sequence[HaltFn]], TickFn]


class Program:
    """The executable form of one tree: its plan, the root's tick function and every halt function."""

    __slots__ = ("plan", "root_tick", "halts", "observed", "rearms")

    def __init__(
        self,
        plan: Plan,
        root_tick: TickFn,
        halts: Sequence[HaltFn],
        observed: bool,
        rearms: dict[int, Callable[[Host, float], None]],
    ) -> None:
        self.plan = plan
        self.root_tick = root_tick
        self.halts = tuple(halts)
        self.observed = observed
        #: For each timeout node: set its timer again to fire at a given time (restoring a runner).
        self.rearms = rearms


# ------------------------------------------------------------------------------------------ builders


def _leaf(
    plan: Plan, i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn], entered: bool = False
) -> TickFn:
    spec = plan.specs[i]
    assert isinstance(spec, Leaf)
    condition = spec.leaf_kind == "condition"
    call = leaves.make_call(spec.fn, spec.params, spec.interface, spec.by_keyword)
    # A function of bb alone (not through an interface view) or of ctx alone is called directly.
    direct = spec.params in (("bb",), ("ctx",)) and spec.interface is None and not spec.by_keyword
    fn, only = (spec.fn, spec.params[0]) if direct else (None, "bb")
    if spec.is_async:
        return leaves.async_leaf(i, plan.ids[i], spec.name, condition, call, fn, only, entered)
    return leaves.sync_leaf(i, plan.ids[i], spec.name, condition, call, fn, only)


def _sequence(plan: Plan, i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn]) -> TickFn:
    spec = plan.specs[i]
    assert isinstance(spec, Composite)
    return composites.sequence(i, kids, halts, spec.memory)


def _selector(plan: Plan, i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn]) -> TickFn:
    spec = plan.specs[i]
    assert isinstance(spec, Composite)
    return composites.selector(i, kids, halts, spec.memory)


def _parallel(plan: Plan, i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn]) -> TickFn:
    spec = plan.specs[i]
    assert isinstance(spec, Composite)
    need_success = spec.success_threshold or len(kids)
    # By default a parallel fails exactly when success has become impossible.
    need_failure = spec.failure_threshold or len(kids) - need_success + 1
    return composites.parallel(i, kids, halts, need_success, need_failure)


def _arg(plan: Plan, i: int) -> float:
    spec = plan.specs[i]
    assert isinstance(spec, Decorator) and spec.arg is not None
    return spec.arg


def _status_map(mapping: dict[Status, Status]) -> Build:
    return lambda plan, i, kids, halts: decorators.status_map(i, kids[0], mapping)


def _counted(again: frozenset[Status]) -> Build:
    return lambda plan, i, kids, halts: decorators.counted(i, kids[0], int(_arg(plan, i)), again)


def _retry(plan: Plan, i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn]) -> TickFn:
    spec = plan.specs[i]
    assert isinstance(spec, Decorator)
    return decorators.counted(i, kids[0], int(_arg(plan, i)), spec.retry_on or decorators.RETRY_ON)


def _match(plan: Plan, i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn]) -> TickFn:
    spec = plan.specs[i]
    assert isinstance(spec, Match)
    return decorators.match(i, leaves.make_call(spec.key, spec.key_params), spec.cases, kids)


BUILDERS: dict[str, Build] = {
    "action": _leaf,
    "condition": _leaf,
    "sequence": _sequence,
    "selector": _selector,
    "parallel": _parallel,
    "inverter": _status_map({Status.SUCCESS: Status.FAILURE, Status.FAILURE: Status.SUCCESS}),
    "succeeder": _status_map({Status.FAILURE: Status.SUCCESS}),
    "failer": _status_map({Status.SUCCESS: Status.FAILURE}),
    "retry": _retry,
    "repeat": _counted(decorators.REPEAT_ON),
    "timeout": lambda plan, i, kids, halts: decorators.timeout(
        i, plan.children[i][0], kids[0], _arg(plan, i)
    ),
    "rate_limit": lambda plan, i, kids, halts: decorators.rate_limit(
        i, plan.children[i][0], kids[0], _arg(plan, i)
    ),
    # A guard's (when's, do_while's) children are (condition, child).
    "guard": lambda plan, i, kids, halts: decorators.guard(i, kids[0], kids[1], halts[1]),
    "when": lambda plan, i, kids, halts: decorators.when(i, kids[0], kids[1], halts[1]),
    "do_while": lambda plan, i, kids, halts: decorators.do_while(i, kids[0], kids[1], halts[1]),
    # A try_catch's children are (try block, catch block); a match's, its cases' children in order.
    "try_catch": lambda plan, i, kids, halts: decorators.try_catch(i, kids[0], kids[1]),
    "match": _match,
    "subtree": lambda plan, i, kids, halts: decorators.passthrough(i, kids[0]),
}
"""How to build the tick function of each kind of node from the plan and its children's functions."""


def _halt(plan: Plan, i: int, halts: Sequence[HaltFn]) -> HaltFn:
    spec = plan.specs[i]
    if isinstance(spec, Leaf):
        hook = leaves.make_call(spec.on_halt, spec.halt_params) if spec.on_halt is not None else None
        return leaves.leaf_halt(i, hook)
    # A rate limit keeps the time of its child's last start across halts (a halt must not reopen it).
    return composites.composite_halt(i, halts, plan.cursors[i], clear_data=plan.kinds[i] != "rate_limit")


# The kinds of node that run no user code of their own when ticked, nor when they halt their
# children: a subtree of these over async leaves without halt hooks runs no user code but the
# leaves' coroutines (see _async_only).
_CODE_FREE = frozenset({"sequence", "selector", "parallel", "inverter", "succeeder", "failer", "subtree"})


def _async_only(plan: Plan) -> list[bool]:
    """Which nodes root a subtree of async leaves (without halt hooks) and code-free nodes only.

    Such a subtree ticks within one stretch of the runner's starter (``eager.with_starter``): the
    task to be is made current once per tick rather than once per leaf (the only user code that
    runs within is the leaves' coroutines, which must see it; their error policies step out).
    """
    pure = [False] * plan.size
    if not LAZY_TASKS:  # (no task to be: every start is run_eager's, which makes its own current)
        return pure
    for i in range(plan.size - 1, -1, -1):  # children first
        spec = plan.specs[i]
        if isinstance(spec, Leaf):
            pure[i] = spec.is_async and spec.on_halt is None
        else:
            pure[i] = plan.kinds[i] in _CODE_FREE and all(pure[k] for k in plan.children[i])
    return pure


def build(plan: Plan, observed: bool = False) -> Program:
    """Build every node's functions, children first (they have higher numbers than their parents)."""
    size = plan.size
    ticks: list[Any] = [None] * size
    halts: list[Any] = [None] * size
    rearms = {}
    pure = [False] * size if observed else _async_only(plan)  # (observers are user code)
    for i in range(size - 1, -1, -1):
        kids = plan.children[i]
        kid_ticks = [ticks[k] for k in kids]
        kid_halts = [halts[k] for k in kids]
        parent = plan.parents[i]
        if plan.kinds[i] in ("action", "condition"):
            ticks[i] = _leaf(plan, i, kid_ticks, kid_halts, parent >= 0 and pure[parent])
        else:
            ticks[i] = BUILDERS[plan.kinds[i]](plan, i, kid_ticks, kid_halts)
            if pure[i] and parent >= 0 and not pure[parent]:
                # A subtree of async leaves and code-free nodes in a tree that has other nodes: one
                # stretch of the runner's starter (the root's is entered below).
                ticks[i] = with_starter(ticks[i], True)
        rearm = getattr(ticks[i], "rearm", None)
        if rearm is not None:
            rearms[i] = rearm
        halts[i] = _halt(plan, i, kid_halts)
        if observed:
            ticks[i] = _observe_tick(plan, i, ticks[i])
            halts[i] = _observe_halt(plan, i, halts[i])
    root = _observe_root(plan, ticks[0]) if observed else ticks[0]
    if any(isinstance(spec, Leaf) and spec.is_async for spec in plan.specs):
        # The starter of the running loop the async leaves start on, looked up once per tick (a
        # tick is synchronous) rather than by each leaf; within one stretch if the whole tree is
        # async leaves and code-free nodes.
        root = with_starter(root, pure[0] and not isinstance(plan.specs[0], Leaf))
    return Program(plan, root, halts, observed, rearms)


# ----------------------------------------------------------------------------------------- observing


# Each wrapper tests the observers before it builds a record (a clock reading, then the record), the
# test ``Runner._emit`` would make after: the last observer detached (it raised) in the middle of a
# tick swaps the runner back to its plain program for the next tick only, and the rest of this one
# goes on in these wrappers, which so build no record for nobody.


def _observe_tick(plan: Plan, i: int, tick: TickFn) -> TickFn:
    source, node, path = plan.name, plan.ids[i], plan.paths[i]

    def observed(rt: Host) -> Status:
        old = rt.status[i]
        r = tick(rt)
        if r is not old and (observers := rt._observers):  # (see the note above)
            observers.emit(make_status_changed((source, rt.timebase.now(), node, path, old, r)))
        return r

    return observed


def _observe_halt(plan: Plan, i: int, halt: HaltFn) -> HaltFn:
    source, node, path = plan.name, plan.ids[i], plan.paths[i]

    def observed(rt: Host) -> None:
        was_running = rt.status[i] is Status.RUNNING
        halt(rt)
        if was_running and (observers := rt._observers):
            observers.emit(make_halted((source, rt.timebase.now(), node, path)))

    return observed


def _observe_root(plan: Plan, tick: TickFn) -> TickFn:
    source = plan.name

    def observed(rt: Host) -> Status:
        observers = rt._observers
        if observers is not None and TickStarted in observers.requested:  # told on request
            observers.emit_requested(make_tick_started((source, rt.timebase.now(), rt.ticks)))
        r = tick(rt)
        if observers:  # (false once the last one was detached during the tick)
            observers.emit(make_tick_finished((source, rt.timebase.now(), rt.ticks, r)))
        return r

    return observed


OBSERVED_CODES = frozenset(
    c for f in (_observe_tick, _observe_halt) for c in f.__code__.co_consts if isinstance(c, types.CodeType)
)
"""The code of the observed program's wrappers: a function they call tells nothing itself (see
:mod:`.catchup`)."""


# ------------------------------------------------------------------------------------------- caching

# Keyed by id(tree): a dict lookup is what building a runner costs.  Each entry is dropped when its
# tree is garbage collected (before the id can be reused), so the cache never outlives a tree.
PROGRAMS: dict[int, Program] = {}
"""The plain program of every live compiled-for-running tree, by ``id(tree)``."""
_observed: dict[int, Program] = {}


def program_of(tree: Tree) -> Program:
    """The plain program of ``tree`` (compiling it first if needed)."""
    program = PROGRAMS.get(id(tree))
    if program is None:
        program = _cache(PROGRAMS, tree, build(plan_of(tree)))
    return program


def observed_program_of(tree: Tree) -> Program:
    """The program of ``tree`` whose functions report to the runner's observers."""
    program = _observed.get(id(tree))
    if program is None:
        program = _cache(_observed, tree, build(plan_of(tree), observed=True))
    return program


def _cache(cache: dict[int, Program], tree: Tree, program: Program) -> Program:
    key = id(tree)
    cache[key] = program
    weakref.finalize(tree, cache.pop, key, None).atexit = False
    return program
