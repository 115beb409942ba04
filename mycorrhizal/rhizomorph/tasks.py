"""The tasks of a runner's async leaves: those still at work, and those cancelled but still unwinding.

The tasks' done-callbacks reach the runner only through a weak reference, so a runner that is
dropped without :meth:`~mycorrhizal.rhizomorph.Runner.aclose` can be garbage collected while its
leaves are still at work; its tasks are then cancelled (:meth:`LeafTasks.drop`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
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

    __slots__ = ("name", "live", "abandoned", "_owner")

    def __init__(self, name: str, owner: Owner) -> None:
        self.name = name
        #: Tasks still at work whose result a tick will collect.
        self.live: dict[asyncio.Task[Any], int] = {}
        #: Tasks cancelled because their leaf was halted, until they have finished unwinding.
        self.abandoned: dict[asyncio.Task[Any], int] = {}
        # When the owner is garbage collected, whatever it left running is cancelled.
        self._owner = weakref.ref(owner, self._owner_gone)

    def track(self, i: int, task: asyncio.Task[Any]) -> None:
        """Follow leaf ``i``'s task until it finishes or is abandoned."""
        self.live[task] = i
        task.add_done_callback(self.done)

    def abandon(self, i: int, task: asyncio.Task[Any]) -> None:
        """Cancel leaf ``i``'s task (if it already finished, its result no longer matters)."""
        self.live.pop(task, None)
        if not task.done():
            task.cancel()
            self.abandoned[task] = i

    def drop(self) -> None:
        """Cancel every task still at work."""
        for task, i in tuple(self.live.items()):
            self.abandon(i, task)

    def _owner_gone(self, _: object) -> None:
        self.drop()

    def done(self, task: asyncio.Task[Any]) -> None:
        """A tracked task finished: wake the runner to collect it, or report a failed cleanup."""
        if not task.cancelled():
            task.exception()  # retrieved: a tick collects it, or nobody will (no warning either way)
        if self.live.pop(task, None) is not None:
            owner = self._owner()
            if owner is not None:
                owner._wake()
            return
        i = self.abandoned.pop(task, None)
        if i is None or task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failed(i, error)

    def _failed(self, i: int, error: BaseException) -> None:
        owner = self._owner()
        if owner is not None:
            owner._cleanup_failed(i, error, "cancellation")
        else:
            log.error(
                "%s: a leaf of a dropped runner raised while being cancelled", self.name, exc_info=error
            )
