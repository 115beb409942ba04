"""What a node's tick and halt functions may use of the runner that runs them.

Each node becomes a closure ``tick(rt) -> Status`` that calls its children's closures directly and
keeps what changes in the runner's flat per-node lists (``status``, ``seen``, ``cur``, ``data``), so
one compiled tree serves any number of runners.  A node is *active* exactly when its last reported
status is RUNNING; ``halt(rt)`` of an active node cancels its work (tasks, timers), halts its
active children, runs halt hooks and marks it CANCELLED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from ...common.eager import EagerStarter
from ...common.errors import ExecutionError
from ...common.observers import Event, Observers
from ...common.timebase import Timebase
from ..status import Status

__all__ = ["Call", "HaltFn", "Host", "TickFn"]


class Host(Protocol):
    """The runner as its nodes see it (:class:`~mycorrhizal.rhizomorph.Runner` is the one host)."""

    #: The tree it runs (its ``name`` is said in errors).
    tree: Any
    bb: Any
    timebase: Timebase
    ctx: Any
    #: Each node's last status (None: never ticked); RUNNING means the node is active.
    status: list[Status | None]
    #: The tick number at which each node last reported (or was halted).
    seen: list[int]
    #: Per-node cursor: the child a composite is at, a retry's count, a timeout's expiry flag.
    cur: list[int]
    #: Per-node working data: an async leaf's task, a timeout's timer, a parallel's results ...
    data: list[Any]
    ticks: int
    #: What starts async leaves on the running loop (checked once per tick of a tree that has some).
    eager: EagerStarter | None
    #: Set when a plain-function leaf reported RUNNING (it can only be polled).
    polling: bool
    #: The runner's observers (None until one is attached).
    _observers: Observers | None
    #: The program the runner runs now (a ``Program``: its plain or its observed one).
    _program: Any

    def _view(self, interface: type) -> Any:
        """The blackboard seen through ``interface`` (one view per blackboard and interface)."""

    def _leaf_raised(self, i: int, exc: Exception) -> Status:
        """Apply the error policy to leaf ``i``'s exception: a status, or raise."""

    def _refuse(self, i: int, error: ExecutionError) -> NoReturn:
        """Leaf ``i`` returned something that is not a status: raise ``error``."""

    def _track(self, i: int, task: asyncio.Task[Any]) -> None:
        """Leaf ``i``'s task, which keeps running after its tick."""

    def _abandon(self, i: int, task: asyncio.Task[Any]) -> None:
        """Cancel leaf ``i``'s task, which nobody will collect (the leaf was halted); a done one is
        only forgotten (a tick took its exception, or the halt logs it)."""

    def _run_halt_hook(self, i: int, hook: Call) -> None:
        """Run leaf ``i``'s halt hook; a hook that raises is reported, halting goes on."""

    def _timed_out(self, i: int, seconds: float) -> None:
        """Timeout node ``i`` expired (its child is halted next)."""

    def _emit(self, event: Event) -> None:
        """Tell the observers (only the observed program calls this: there are observers)."""

    def _halted(self) -> None:
        """A halt outside a tick is over (an observer attached meanwhile is told it now)."""

    def _wake(self) -> None:
        """Something changed between ticks (a timer fired): a waiting run should tick again."""


TickFn = Callable[[Host], Status]
HaltFn = Callable[[Host], None]
Call = Callable[[Host], Any]
