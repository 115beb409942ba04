"""The keyword arguments of :class:`~mycorrhizal.rhizomorph.Runner`, checked and resolved once.

Besides its own names (``timebase``, ``on_error``, ``on_tick``) a runner accepts the 0.x ones:
``tb`` for the timebase, ``exception_policy`` for the error policy, and ``trace``, a logger that
gets one DEBUG line per leaf ticked (``action: module.function | SUCCESS``).  Giving both names
of one setting is an error, so no argument is silently ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from ..common.errors import DefinitionError, Problem
from ..common.numbers import is_count, is_seconds
from ..common.timebase import CycleClock, Timebase
from .compile import Plan, plan_of
from .nodes import Leaf
from .status import ErrorPolicy, Status
from .tree import Tree

__all__ = [
    "RAISED",
    "Traced",
    "check_drive",
    "chain_hooks",
    "refuse_arguments",
    "resolve",
    "steps_per_tick",
    "tracer",
    "with_clock_step",
]

_DEBUG = logging.DEBUG
RAISED = (
    "catch the exception in the leaf, or give the leaf (or the Runner) on_error=ErrorPolicy.FAILURE "
    "or ErrorPolicy.ERROR to turn it into a status"
)
"""The fix of the ``HandlerError`` a leaf's exception becomes under ``ErrorPolicy.PROPAGATE``."""


class Traced(Protocol):
    """What a trace reads of a runner after a tick."""

    ticks: int
    status: list[Status | None]
    seen: list[int]


def _both(first: str, second: str, a: Any, b: Any) -> NoReturn:
    raise DefinitionError(
        [
            Problem(
                "Runner", f"got both {first}={a!r} and {second}={b!r}", f"pass only one of {first}, {second}"
            )
        ],
        what="Runner",
    )


def resolve(
    tree: Any,
    timebase: Timebase | None,
    on_error: ErrorPolicy,
    on_tick: Callable[[Any, Status], object] | None,
    tb: Timebase | None,
    exception_policy: ErrorPolicy | None,
    trace: logging.Logger | None,
) -> tuple[Timebase | None, ErrorPolicy, Callable[[Any, Status], object] | None]:
    """The runner's timebase, error policy and tick hook from its own and its 0.x keywords
    (``tb``, ``exception_policy``, ``trace``)."""
    if tb is not None:
        if timebase is not None and timebase is not tb:
            _both("timebase", "tb", timebase, tb)
        timebase = tb
    if exception_policy is not None:
        if on_error is not ErrorPolicy.PROPAGATE and on_error is not exception_policy:
            _both("on_error", "exception_policy", on_error, exception_policy)
        on_error = exception_policy
    if trace is not None and isinstance(tree, Tree):  # (a runner of something else is refused next)
        on_tick = chain_hooks(tracer(trace, plan_of(tree)), on_tick)
    return timebase, on_error, on_tick


def with_clock_step(
    timebase: Timebase, on_tick: Callable[[Any, Status], object] | None
) -> Callable[[Any, Status], object] | None:
    """``on_tick`` preceded by ``timebase.advance()`` when the timebase has something to step (0.x
    steps its clock after every tick: a CycleClock moves one ``stepsize``); real clocks: as is."""
    if type(timebase).advance is Timebase.advance:
        return on_tick
    advance = timebase.advance

    def step(runner: Any, status: Status) -> None:
        advance()

    return chain_hooks(step, on_tick)


def steps_per_tick(timebase: Timebase) -> bool:
    """True if only ticks move this timebase's time (a CycleClock): a run must keep ticking."""
    return isinstance(timebase, CycleClock)


def _leaf_label(leaf: Leaf) -> str:
    fn = leaf.fn
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or leaf.name
    return f"{leaf.leaf_kind}: {module}.{name}" if module else f"{leaf.leaf_kind}: {name}"


def tracer(logger: logging.Logger, plan: Plan) -> Callable[[Traced, Status], None]:
    """An ``on_tick`` hook logging, at DEBUG on ``logger``, each leaf the tick reached and its status."""
    leaves = [(i, _leaf_label(spec)) for i, spec in enumerate(plan.specs) if isinstance(spec, Leaf)]

    def trace(runner: Traced, _: Status) -> None:
        if not logger.isEnabledFor(_DEBUG):
            return
        ticks, status, seen = runner.ticks, runner.status, runner.seen
        for i, label in leaves:
            s = status[i]
            if seen[i] == ticks and s is not None:
                logger.debug("%s | %s", label, s.name)

    return trace


def chain_hooks(
    first: Callable[[Any, Status], object] | None, second: Callable[[Any, Status], object] | None
) -> Callable[[Any, Status], object] | None:
    """One ``on_tick`` hook calling ``first`` then ``second`` (either may be None)."""
    if first is None or second is None:
        return first or second

    def both(runner: Any, status: Status) -> None:
        first(runner, status)
        second(runner, status)

    return both


def refuse_arguments(tree: Any, on_error: Any) -> NoReturn:
    """Raise the DefinitionError for a runner of something that is not a tree, or a bad policy."""
    problems = []
    if not isinstance(tree, Tree):
        problems.append(
            Problem(
                "Runner",
                f"needs a behaviour tree, got {tree!r}",
                "pass a tree made with @bt.tree, TreeBuilder or load_tree",
            )
        )
    if on_error.__class__ is not ErrorPolicy:
        problems.append(
            Problem(
                "Runner",
                f"on_error={on_error!r} is not an error policy",
                "use ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE or ErrorPolicy.ERROR",
            )
        )
    raise DefinitionError(problems, what="Runner")


def check_drive(tree: str, timeout: Any, period: Any, max_ticks: Any) -> None:
    """Refuse (``ValueError`` naming ``tree``) ``tick_until_complete()`` arguments that mean nothing."""
    wrong, fixes = [], []  # (a bool, a str or NaN is no number of seconds; math.inf is: no timeout, no poll)
    if timeout is not None and not is_seconds(timeout):
        wrong.append(f"timeout={timeout!r}")
        fixes.append("timeout is seconds on the timebase: pass 0 or more, or None for no timeout")
    if period is not None and not is_seconds(period):
        wrong.append(f"period={period!r}")
        fixes.append("period is seconds between polls: pass 0 or more, or None to poll at once")
    if max_ticks is not None and not is_count(max_ticks):
        wrong.append(f"max_ticks={max_ticks!r}")
        fixes.append("max_ticks must be >= 1 and an int (or None for no limit)")
    if wrong:
        said = f"tree {tree!r}: tick_until_complete() got {', '.join(wrong)}"
        raise ValueError(f"{said}. Fix: {'; '.join(fixes)}")
