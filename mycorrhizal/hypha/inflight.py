"""Firings and sink deliveries that suspended: the tasks they continue in, and cancelling them.

A suspended handler always sees cancellation as a ``CancelledError`` at the ``await`` where it
waits, so it can clean up, asynchronously if it must, whenever the cancellation comes.  That is why
the coroutine that finishes a firing is started *eagerly* (:func:`~mycorrhizal.common.interpreter.
start_eager`): it is inside its ``try`` before the task is even scheduled, whereas a task cancelled
before its first step would never enter its coroutine at all.  (An ``eager=False`` handler has not
run at all then, so there is nothing to clean up: its coroutine is just closed.)

When ``stop()`` cancels firings, their tokens go back once all of them have ended, newest firing
first, so that the oldest firing's tokens end up at the head of their places again whatever order
the handlers finished cleaning up in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..common.interpreter import start_eager
from ..common.numbers import is_seconds
from .ready import Ready

__all__ = ["InFlight", "check_stop_timeout"]

Abandon = Callable[[asyncio.Task[Any]], None]
"""What to do when a task ends before its coroutine ran at all (given the task)."""


def check_stop_timeout(net: str, timeout: Any) -> None:
    """Refuse a ``stop(timeout=...)`` that means nothing (before anything stops)."""
    if timeout is not None and not is_seconds(timeout):
        raise ValueError(
            f"runner of net {net!r}: stop(timeout={timeout!r}) means nothing: the timeout is the seconds "
            "firings in flight get to finish. Fix: pass a number >= 0 (0 cancels them at once), or None "
            "to let them finish"
        )


class InFlight:
    """The tasks of one runner's suspended firings and deliveries, and what cancelled ones give back."""

    __slots__ = ("tasks", "_ready", "_stopping", "_returns", "_stops")

    def __init__(self, ready: Ready) -> None:
        self.tasks: dict[asyncio.Task[Any], Abandon | None] = {}
        """Tasks in start order -> what to do if one ends before its coroutine ran (None once it runs)."""
        self._ready = ready
        self._stopping: dict[asyncio.Task[Any], int] = {}
        """Tasks ``stop()`` cancelled -> their start order."""
        self._returns: list[tuple[int, Callable[[], None]]] | None = None
        self._stops = 0
        """``stop()`` calls under way: a second one (a second Ctrl-C) may come while the first waits."""

    def start(self, coro: Coroutine[Any, Any, None], abandon: Abandon | None = None) -> None:
        """Run ``coro`` in a task.  Without ``abandon`` it runs its first step right here (up to the
        ``await`` where the handler waits); with it, the task starts it (an ``eager=False`` handler
        must run inside its task from its first line), and ``abandon(task)`` cleans up if the task
        ends before that."""
        if abandon is None:
            task = start_eager(coro)[0]
        else:
            assert self._ready.loop is not None
            task = self._ready.loop.create_task(coro)
        self.tasks[task] = abandon
        task.add_done_callback(self._ended)

    def running(self) -> None:
        """Called first thing by a coroutine started with ``abandon``: it now cleans up after itself."""
        self.tasks[asyncio.current_task()] = None  # type: ignore[index]

    def stopping(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether ``stop()`` cancelled ``task`` (rather than something outside the runner)."""
        return task in self._stopping

    def give_back(self, task: asyncio.Task[Any] | None, give_back: Callable[[], None]) -> None:
        """A cancelled task's tokens go back: now, or in order at the end of the ``stop()`` that
        cancelled it."""
        if self._returns is not None and task in self._stopping:
            self._returns.append((self._stopping[task], give_back))
        else:
            give_back()

    @property
    def settling(self) -> bool:
        """Whether a ``stop()`` is under way that has yet to give back what its cancelled tasks hold."""
        return self._returns is not None

    def collecting(self) -> None:
        """``stop()`` begins: flights it cancels give their tokens back at :meth:`settle`.  A ``stop()``
        overlapping one under way keeps what the first collected (their flights are the same)."""
        self._stops += 1
        if self._returns is None:
            self._returns = []

    def cancel_all(self) -> None:
        """Cancel every task (``stop(cancel=True)``, or its timeout)."""
        for order, task in enumerate(list(self.tasks)):
            self._stopping.setdefault(task, order)
            task.cancel()

    def settle(self) -> None:
        """``stop()`` ends: give back what the cancelled tasks returned, newest first (so the oldest
        firing's tokens end up first).  While another ``stop()`` is still under way, the flights
        cancelled after this give back at its end."""
        returns = self._returns or []
        self._stops -= 1
        if self._stops:
            self._returns = []
        else:
            self._returns, self._stopping = None, {}
        for _, give_back in sorted(returns, key=lambda item: -item[0]):
            give_back()

    def forget_finished(self) -> None:
        """Drop the tasks of a previous event loop that are done (the runner starts afresh)."""
        self.tasks = {task: abandon for task, abandon in self.tasks.items() if not task.done()}

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled():
            # A task ends with an exception only for a KeyboardInterrupt or the like, which the
            # runner has logged and raised to the caller: retrieving it keeps asyncio from
            # reporting it again as an ERROR ("Task exception was never retrieved").
            task.exception()
        abandon = self.tasks.pop(task, None)
        if abandon is not None:
            abandon(task)  # it ended before its coroutine ran: nothing else cleans up after it
