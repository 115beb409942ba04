"""The tasks of a runner's async leaves: those still at work, and those cancelled but still unwinding.

The tasks' done-callbacks reach the runner only through a weak reference, so a runner that is
dropped without :meth:`~mycorrhizal.rhizomorph.Runner.aclose` can be garbage collected while its
leaves are still at work; its tasks are then cancelled (:meth:`LeafTasks.drop`), and an exception
a leaf's coroutine raised that no tick collected is logged at ERROR, naming the tree and the leaf.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["LeafTasks", "Owner"]

log = logging.getLogger("mycorrhizal.rhizomorph")


class Owner(Protocol):
    """What the tasks tell their runner."""

    def _wake(self) -> None:
        """A task finished: a tick can collect its result."""

    def _cleanup_failed(self, i: int, error: BaseException, during: str) -> None:
        """Leaf ``i``'s cancelled coroutine raised ``error`` while unwinding."""


class LeafTasks:
    """Which leaf (by node number) each task belongs to, and what to tell when one ends."""

    __slots__ = ("name", "specs", "live", "abandoned", "failed", "_owner")

    def __init__(self, name: str, owner: Owner, specs: Sequence[Any]) -> None:
        self.name = name
        #: The node specs by node number (the tree's, shared): a dropped runner's report names the leaf.
        self.specs = specs
        #: Tasks still at work whose result a tick will collect.
        self.live: dict[asyncio.Task[Any], int] = {}
        #: Tasks cancelled because their leaf was halted, until they have finished unwinding.
        self.abandoned: dict[asyncio.Task[Any], int] = {}
        #: Tasks whose coroutine raised, until a tick collects the exception or a halt logs it.
        self.failed: dict[asyncio.Task[Any], int] = {}
        self._owner = weakref.ref(owner)
        # When the owner is garbage collected, whatever it left running is cancelled and whatever
        # it left uncollected reported.  A finalizer, not a weakref callback: the registry keeps it,
        # so it runs even when the cycle collector frees the runner together with this object.
        weakref.finalize(owner, self._owner_gone).atexit = False

    def track(self, i: int, task: asyncio.Task[Any]) -> None:
        """Follow leaf ``i``'s task until it finishes or is abandoned."""
        self.live[task] = i
        task.add_done_callback(self.done)

    def abandon(self, i: int, task: asyncio.Task[Any]) -> None:
        """Cancel leaf ``i``'s task (if it already finished, its result no longer matters: a tick
        collected it, or the leaf's halt logs its exception; either way, nothing left to report)."""
        self.live.pop(task, None)
        self.failed.pop(task, None)
        if not task.done():
            task.cancel()
            self.abandoned[task] = i

    def drop(self) -> None:
        """Cancel every task still at work."""
        for task, i in tuple(self.live.items()):
            self.abandon(i, task)

    def _owner_gone(self) -> None:
        """The runner was garbage collected: cancel what it left running, report what it left uncollected."""
        lost = list(self.failed.items())
        self.failed.clear()
        for task, i in tuple(self.live.items()):
            if task.done():  # finished, but its done-callback has not run yet
                del self.live[task]
                lost.append((task, i))
            else:
                self.abandon(i, task)
        for task, i in lost:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                spec = self.specs[i]
                log.error(
                    "%s: %s %r raised %r, but its runner was dropped before a tick collected it; "
                    "the exception is discarded. Fix: tick the runner until the leaf finishes, "
                    "or await runner.aclose() before dropping it",
                    self.name,
                    spec.kind,
                    spec.name,
                    error,
                    exc_info=error,
                )

    def done(self, task: asyncio.Task[Any]) -> None:
        """A tracked task finished: wake the runner to collect it, or report a failed cleanup."""
        # Retrieved here: a tick collects it, or a halt or the runner's finalizer reports it, naming
        # the leaf (asyncio's own "never retrieved" warning could not).
        error = None if task.cancelled() else task.exception()
        i = self.live.pop(task, None)
        if i is not None:
            if error is not None:
                self.failed[task] = i
            owner = self._owner()
            if owner is not None:
                owner._wake()
            return
        i = self.abandoned.pop(task, None)
        if i is not None and error is not None:
            self._failed(i, error)

    def _failed(self, i: int, error: BaseException) -> None:
        owner = self._owner()
        if owner is not None:
            owner._cleanup_failed(i, error, "cancellation")
        else:
            spec = self.specs[i]
            log.error(
                "%s: %s %r, a leaf of a dropped runner, raised %r while being cancelled. Fix: let the "
                "leaf's coroutine unwind without raising when it is cancelled (handle the error in its "
                "finally block)",
                self.name,
                spec.kind,
                spec.name,
                error,
                exc_info=error,
            )
