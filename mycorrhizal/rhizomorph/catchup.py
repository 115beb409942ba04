"""Telling an observer attached during a tick the rest of that tick.

A runner with no observer runs its tree's plain program, which tells nothing; the first observer
switches it to the observed program (:mod:`.program`).  A tick already under way goes on in the
plain program's functions, though, and so does a halt (a halt hook may attach the observer too).
Until that tick ends, the runner's status list is a :class:`CatchUp`, which tells the observers
what the observed program would have told of each status the plain functions write: a node
reporting a new status (``NodeStatusChanged``), a RUNNING node halted (``NodeHalted``, once the
halts of its children are done, as the observed program tells it), the tick's end
(``TickFinished``).  What the observed program's functions write they tell themselves.

Which function writes is read from the caller's frame: a few hundred nanoseconds per write, for the
rest of one tick, and only after an observer was attached in the middle of one.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from ..common.interpreter import called_within
from .behaviours import composites, leaves
from .behaviours.host import Host
from .events import make_halted, make_status_changed, make_tick_finished
from .program import OBSERVED_CODES
from .status import Status

__all__ = ["CatchUp", "catch_up"]

RUNNING = Status.RUNNING


def _inner_code(outer: Callable[..., Any], name: str) -> types.CodeType:
    """The code of the function called ``name`` that ``outer`` makes (a closure)."""
    code = outer.__code__
    return next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)


# The plain halt functions of composites/decorators and of leaves: their write is a halt's start.
_HALTS = frozenset({_inner_code(composites.composite_halt, "halt"), _inner_code(leaves.leaf_halt, "halt")})


def catch_up(runner: Host) -> None:
    """The first observer was just attached to ``runner``: if that was in the middle of a tick or a
    halt of its plain program (by a leaf or a halt hook), what is left of it is told write by write."""
    kind = type(runner)
    # Where the plain program's functions run user code; a leaf raising out of the tick writes no report.
    user_code = (kind._tick.__code__, kind._run_halt_hook.__code__)  # type: ignore[attr-defined]
    if runner.status.__class__ is list and called_within(runner, user_code, skip=2):
        quiet = frozenset({kind._leaf_raised.__code__, kind._refuse.__code__})
        runner.status = CatchUp(runner, quiet)


def _halts_under_way(runner: Host) -> list[int]:
    """The nodes of ``runner`` whose plain halt function is on the stack, outermost first."""
    nodes = []
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code in _HALTS and frame.f_locals.get("rt") is runner:
            nodes.append(frame.f_locals["i"])
        frame = frame.f_back  # type: ignore[assignment]
    return nodes[::-1]


class CatchUp(list[Status | None]):
    """A runner's status list that tells its observers what the plain program's functions write."""

    __slots__ = ("runner", "halting", "quiet")

    def __init__(self, runner: Host, quiet: frozenset[types.CodeType]) -> None:
        super().__init__(runner.status)
        self.runner = runner
        #: Nodes whose halt began and is told when it is over (innermost last): at first, those
        #: being halted as the observer comes (a halt hook attached it).
        self.halting: list[int] = _halts_under_way(runner)
        #: Runner methods whose write is no report (a leaf's error raised out of the tick).
        self.quiet = quiet

    def __setitem__(self, i: Any, value: Any) -> None:
        if i.__class__ is not int:
            list.__setitem__(self, i, value)  # (a snapshot restored: the whole list)
            return
        old = self[i]
        list.__setitem__(self, i, value)
        writer = sys._getframe(1)
        self.settle(i)
        caller = writer.f_back
        code = writer.f_code
        if caller is not None and caller.f_code in OBSERVED_CODES:
            if i == 0 and code not in _HALTS:
                self.runner.status = list(self)  # the tick is over; its end is told by the program
            return
        if code in _HALTS:
            if old is RUNNING:
                self.halting.append(i)
        elif code not in self.quiet:
            self._report(i, old, value)

    def _report(self, i: int, old: Status | None, new: Status) -> None:
        runner = self.runner
        plan = runner._program.plan
        if new is not old:
            now = runner.timebase.now()
            runner._emit(make_status_changed((plan.name, now, plan.ids[i], plan.paths[i], old, new)))
        if i == 0:  # the root reported: the tick is over
            runner.status = list(self)
            runner._emit(make_tick_finished((plan.name, runner.timebase.now(), runner.ticks, new)))

    def settle(self, i: int = -1) -> None:
        """Tell the halts that are over before something happens to node ``i`` (-1: every halt):
        those of the nodes ``i`` is not in the subtree of."""
        halting = self.halting
        if not halting:
            return
        runner = self.runner
        plan = runner._program.plan
        parents = plan.parents
        while halting:
            top = halting[-1]
            node = i
            while node > top:
                node = parents[node]
            if node == top:
                return  # part of that halt: it goes on
            halting.pop()
            runner._emit(make_halted((plan.name, runner.timebase.now(), plan.ids[top], plan.paths[top])))
