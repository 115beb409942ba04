"""The tasks of a runner's async leaves: those still at work, and those cancelled but still unwinding.

The tasks' done-callbacks reach the runner only through a weak reference, so a runner that is
dropped without :meth:`~mycorrhizal.rhizomorph.Runner.aclose` can be garbage collected while its
leaves are still at work; :meth:`LeafTasks.drop` (run by a finalizer then) cancels them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["LeafTasks"]


class LeafTasks:
    """Which leaf (by node number) each task belongs to, and what to tell when one ends."""

    __slots__ = ("name", "live", "abandoned", "_wake", "_failed")

    def __init__(
        self,
        name: str,
        wake: Callable[[], None],
        failed: Callable[[int, BaseException], None],
    ) -> None:
        self.name = name
        #: Tasks whose result a tick will collect.
        self.live: dict[asyncio.Task[Any], int] = {}
        #: Tasks cancelled because their leaf was halted, until they have finished unwinding.
        self.abandoned: dict[asyncio.Task[Any], int] = {}
        self._wake = wake
        self._failed = failed

    def track(self, i: int, task: asyncio.Task[Any]) -> None:
        """Follow leaf ``i``'s task until it is collected or abandoned."""
        self.live[task] = i
        task.add_done_callback(self._done)

    def abandon(self, task: asyncio.Task[Any]) -> None:
        """Cancel ``task`` (or, if it already finished, discard its result)."""
        i = self.live.pop(task, -1)
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: its result no longer matters
            return
        task.cancel()
        self.abandoned[task] = i

    def drop(self) -> None:
        """Cancel every task still at work: their runner is gone."""
        for task in tuple(self.live):
            self.abandon(task)

    def _done(self, task: asyncio.Task[Any]) -> None:
        if task in self.live:
            self._wake()  # a tick will collect it
            return
        i = self.abandoned.pop(task, None)
        if i is None or task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failed(i, error)
