"""What a tree's runner tells its observers: small frozen records, one per thing that happened.

Attach an observer with :meth:`Runner.add_observer <mycorrhizal.rhizomorph.Runner.add_observer>`.
Every record carries ``source`` (the tree's name) and ``time`` (the runner's timebase reading); node
records name the node by its id (``node``, unique in the tree, as in ``runner.statuses()``) and by
its ``path`` from the root (ids joined by ``/``).
"""

from __future__ import annotations

from typing import ClassVar

from ..common.observers import Event, maker
from .status import Status

__all__ = [
    "CleanupFailed",
    "LeafFailed",
    "NodeEvent",
    "NodeHalted",
    "NodeStatusChanged",
    "TickFinished",
    "TickStarted",
    "TimedOut",
]


class TickStarted(Event):
    """A tick began; ``tick`` is its number (1 for the first).  Told on request: only observers
    whose ``wants(TickStarted)`` is true get it (``TickFinished`` repeats the number)."""

    on_request: ClassVar[bool] = True
    tick: int


class TickFinished(Event):
    """A tick ended with the root reporting ``status``."""

    tick: int
    status: Status


class NodeEvent(Event):
    """Base of the records about one node."""

    node: str
    """The node's id (unique in the tree)."""
    path: str
    """Ids from the root to the node, joined by ``/``."""


class NodeStatusChanged(NodeEvent):
    """A node reported a status different from the one it reported before (``old``: None at first)."""

    old: Status | None
    new: Status


class NodeHalted(NodeEvent):
    """A RUNNING node was halted (its status is now CANCELLED; its work was cancelled)."""


class LeafFailed(NodeEvent):
    """A leaf raised ``error``; ``outcome`` is the status the error policy made of it (None: propagated)."""

    error: Exception
    outcome: Status | None


class TimedOut(NodeEvent):
    """A timeout node's child was still RUNNING ``seconds`` after it started: the child is halted."""

    seconds: float


class CleanupFailed(NodeEvent):
    """A leaf's cleanup raised ``error``: its halt hook (``during="halt hook"``), or its coroutine
    while it was being cancelled (``during="cancellation"``).  Halting went on."""

    error: BaseException
    during: str


# Positional makers of the records an observed tick tells (see ``maker``): the hot path.
make_tick_started = maker(TickStarted)
make_tick_finished = maker(TickFinished)
make_status_changed = maker(NodeStatusChanged)
make_halted = maker(NodeHalted)
make_leaf_failed = maker(LeafFailed)
make_cleanup_failed = maker(CleanupFailed)
make_timed_out = maker(TimedOut)
