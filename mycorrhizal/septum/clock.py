"""A machine's own activity in time: its state's timer, and what the timer sets off.

When a timed state's timer fires, one of three things happens (the engine decides which): the
state's ``on_state`` is suspended and is interrupted, as ``asyncio.timeout()`` would; a ``run()``
waiting for work is woken; or, with nobody running the machine, the clock runs it in the
background.  A :class:`Clock` holds the timer handle, the task whose ``on_state`` may be
interrupted, and the background run with the failure it hit.  Machines whose states have no
timeout never make one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..common.interpreter import shutting_down
from ..common.timebase import Timebase, TimerHandle

__all__ = ["BACKGROUND", "INTERRUPTED", "Clock"]


class _Marker:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<interrupted>"


#: What :meth:`Clock.guard` returns when the timeout interrupted the handler.
INTERRUPTED: Any = _Marker()

#: The attribute (set to True) of the error a background run hit: a caller's run() raises it later,
#: possibly one that was already waiting for its turn, and its owner tells it apart from that
#: caller's own failure by it (see :func:`~mycorrhizal.septum.durable.raised_in_background`).
BACKGROUND = "septum_background"


class Clock:
    """The timer of the state a machine is in, the handler it may interrupt, its background run."""

    __slots__ = ("timebase", "handle", "deadline", "fired", "owner", "inflight", "task", "failure", "passive")

    def __init__(self, timebase: Timebase) -> None:
        self.timebase = timebase
        self.handle: TimerHandle | None = None
        #: When the running timer fires, on the timebase (what a snapshot writes down).
        self.deadline = 0.0
        #: The timer fired and its timeout is queued (or being handled).
        self.fired = False
        # Task running a timed state's on_state, and 0 / 1 (suspended in it) / 2+n (interrupted by
        # its timeout; n = the task's cancel requests before ours).
        self.owner: asyncio.Task[Any] | None = None
        self.inflight = 0
        #: The background run, while one is scheduled or running.
        self.task: asyncio.Task[None] | None = None
        #: What the last background run raised; the next run() raises it.
        self.failure: Exception | None = None
        #: Whoever drove the machine was cancelled (a ``run(wait=True)``, the background run): a
        #: timeout that fires is queued for the next run(), not run in the background.
        self.passive = False

    @property
    def armed(self) -> bool:
        """True while the timer runs, or fired with its timeout not yet handled."""
        return self.handle is not None or self.fired

    def arm(self, delay: float, callback: Callable[[], object]) -> None:
        """Start the timer: ``callback`` runs after ``delay`` on the timebase."""
        self.handle = self.timebase.call_later(delay, callback)
        self.deadline = self.timebase.now() + delay
        self.fired = False

    def disarm(self) -> bool:
        """Stop the timer; True if it had already fired (its timeout is still queued)."""
        fired, handle = self.fired, self.handle
        self.handle, self.fired = None, False
        if handle is not None:
            handle.cancel()
        return fired

    def fire(self) -> None:
        """Record that the timer fired (called from its callback)."""
        self.handle = None
        self.fired = True

    # ----------------------------------------------------------------- interrupting on_state
    async def guard(self, call: Coroutine[Any, Any, Any]) -> Any:
        """Await ``call`` (a timed state's on_state) so that :meth:`interrupt` can cancel it."""
        owner = self.owner = asyncio.current_task()
        self.inflight = 1
        try:
            return await call
        except asyncio.CancelledError:
            interrupted = self.inflight
            if interrupted < 2 or owner is None:
                raise
            self.inflight = 0
            if owner.uncancel() > interrupted - 2:
                raise  # someone else cancelled the task too: let that win
            return INTERRUPTED
        finally:
            if self.inflight >= 2 and owner is not None:
                owner.uncancel()  # the handler swallowed our cancellation; take the request back
            self.inflight = 0
            self.owner = None

    def interrupt(self, why: str) -> bool:
        """Cancel the guarded on_state if it is suspended right now; True if it was."""
        owner = self.owner
        if self.inflight != 1 or owner is None or owner.done():
            return False
        self.inflight = 2 + owner.cancelling()
        owner.cancel(why)
        return True

    # ----------------------------------------------------------------- running in the background
    def start(
        self, run: Callable[[], Coroutine[Any, Any, Any]], name: str, on_failure: Callable[[Exception], None]
    ) -> None:
        """Run ``run()`` as a task (once at a time); what it raises is kept in :attr:`failure`."""
        if self.task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous clock.advance()): the next run()/tick() handles it
        if shutting_down():
            return  # asyncio.run() is closing the loop: a task now would be destroyed pending
        self.task = loop.create_task(self._background(run, on_failure), name=name)

    async def _background(
        self, run: Callable[[], Coroutine[Any, Any, Any]], on_failure: Callable[[Exception], None]
    ) -> None:
        try:
            await run()
        except asyncio.CancelledError:
            self.passive = True  # whoever cancelled the background run wants the machine still
            raise
        except Exception as exc:
            # Kept and raised by the next run()/tick(), so nothing is lost; marked, since whoever
            # that raises it to did not cause it (every exception object takes an attribute).
            setattr(exc, BACKGROUND, True)
            self.failure = exc
            on_failure(exc)
        finally:
            self.task = None

    def in_background(self) -> bool:
        """True when called from the background run."""
        # (current_task() is None in an eagerly run coroutine, as task is with no background run)
        return self.task is not None and self.task is asyncio.current_task()

    def outrun(self) -> bool:
        """True in the background run once a caller's run() handled its timeout first."""
        # Nobody asked it to run the machine then: messages sent since wait for a run() (as in a
        # machine restored from a snapshot taken meanwhile, which has no background run).
        return not self.fired and self.in_background()

    async def aclose(self) -> None:
        """Stop the timer and the background run, and wait until that run has unwound.

        The cancelled timer's handle is kept: a snapshot of the closed machine still writes its
        deadline down (and a cancelled timer never fires).
        """
        if self.handle is not None:
            self.handle.cancel()
        task = self.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def take_failure(self) -> Exception | None:
        """What the background run raised, once (None if nothing)."""
        failure, self.failure = self.failure, None
        return failure
