"""Firings and sink deliveries that suspended: the tasks they continue in, and cancelling them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from .coroutines import Continue
from .ready import Ready
from .reporting import Reporter

__all__ = ["InFlight"]


class InFlight:
    """The tasks of one runner's suspended firings and deliveries, in start order."""

    __slots__ = ("tasks", "_ready", "_report")

    def __init__(self, ready: Ready, report: Reporter) -> None:
        self.tasks: dict[asyncio.Task[Any], Callable[[], None] | None] = {}
        """Task -> what to do if it is cancelled before its first step (see :meth:`adopt`), or None
        once it has started."""
        self._ready = ready
        self._report = report

    def adopt(self, coro: Coroutine[Any, Any, None], unstarted: Callable[[], None]) -> None:
        """Run ``coro`` (a firing or delivery that suspended) in a task the runner keeps track of.

        The coroutine gives its tokens back itself when it is cancelled, but only once it has started:
        a task cancelled before its first step (``stop(cancel=True)`` or the event loop closing in the
        same loop iteration) never runs its body.  Until it starts, ``unstarted()`` does that job
        instead, at cancel time (:meth:`cancel`) or at the latest when the task ends.
        """
        assert self._ready.loop is not None
        task = self._ready.loop.create_task(coro)
        self.tasks[task] = unstarted
        task.add_done_callback(self._forget)

    def started(self) -> None:
        """The first thing a task from :meth:`adopt` does: it now cleans up after itself."""
        self.tasks[asyncio.current_task()] = None  # type: ignore[index]

    def cancel(self, task: asyncio.Task[Any]) -> None:
        """Cancel one task (giving its tokens back now if it never started)."""
        unstarted = self.tasks.get(task)
        if unstarted is not None:
            self.tasks[task] = None
            unstarted()
        task.cancel()

    def cancel_all(self) -> None:
        """Cancel every task, newest first: each returns its tokens to the front of its places, so
        the oldest firing's tokens end up first again."""
        for task in reversed(list(self.tasks)):
            self.cancel(task)

    def close_handler(self, awaitable: Any, what: str) -> None:
        """Close a handler's coroutine that will never be resumed (its ``finally`` blocks run)."""
        coro = awaitable.coro if isinstance(awaitable, Continue) else awaitable
        try:
            coro.close()
        except Exception as exc:
            self._report.record(f"{what} raised {type(exc).__name__} while being closed: {exc}", exc)

    def forget_finished(self) -> None:
        """Drop the tasks of a previous event loop that are done (the runner starts afresh)."""
        self.tasks = {task: unstarted for task, unstarted in self.tasks.items() if not task.done()}

    def _forget(self, task: asyncio.Task[Any]) -> None:
        unstarted = self.tasks.pop(task, None)
        if unstarted is not None:
            unstarted()
