"""Waking the scheduler: which transitions may have become enabled, and whether the net is idle.

A transition is put in a ready queue (one per priority level) only when something that could enable
it happened; :meth:`Ready.schedule` then asks the event loop for one scheduler pass.  The same object
counts what keeps the net busy (firings and deliveries in flight, sources) and wakes the callers of
``run_until_idle()`` when nothing does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from .context import Consumed
from .state import PlaceState, TransitionState

__all__ = ["Ready"]


class Ready:
    """The ready queues of one runner, its running state, and its idle waiters."""

    __slots__ = (
        "levels",
        "fire",
        "loop",
        "running",
        "scheduled",
        "inflight",
        "sinks_busy",
        "sources_active",
        "sources_waiting",
        "idle_waiters",
        "flights",
        "in_pass",
    )

    def __init__(self, levels: list[deque[TransitionState]]) -> None:
        self.levels = levels
        """Ready queues, highest priority first."""
        self.fire: Callable[[], None] = _unwired
        """One scheduler pass (the runner wires in :meth:`Scheduler.run_pass`)."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.running = False
        self.scheduled = False
        self.inflight = 0
        """Firings suspended in their handler."""
        self.sinks_busy = 0
        self.sources_active = 0
        self.sources_waiting = 0
        self.idle_waiters: list[asyncio.Future[None]] = []
        self.flights: dict[int, tuple[TransitionState, Consumed]] = {}
        """Suspended firings, oldest first: id(consumed) -> (transition, consumed); what snapshots put
        back into the input places (a firing that has not committed has not happened)."""
        self.in_pass = False
        """True while a scheduler pass runs (handlers' first steps, guards, inline sinks...)."""

    def mark(self, t: TransitionState) -> None:
        """``t`` may have become enabled: queue it and make sure a pass will look at it."""
        if not t.queued:
            t.queued = True
            t.ready.append(t)
            if not self.scheduled:
                self.schedule()

    def schedule(self) -> None:
        """Ask the loop for a scheduler pass (at most one is pending at a time)."""
        if self.running and not self.scheduled and self.loop is not None:
            if self.loop.is_closed():
                # The loop this runner ran on is gone (e.g. a finished asyncio.run); the next
                # start() or run_until_idle() picks it up on the current loop.
                self.running = False
                return
            self.scheduled = True
            self.loop.call_soon(self.fire)

    def freed(self, p: PlaceState) -> None:
        """Room appeared in bounded ``p``: producers and waiting sources may continue."""
        for c in p.producers:
            self.mark(c)
        if p.room_waiters:
            waiters, p.room_waiters = p.room_waiters, []
            for w in waiters:
                if not w.done():
                    # From now on the source is about to put a token, not waiting: counted as busy
                    # at once, or run_until_idle() could return before its task resumes.
                    self.sources_waiting -= 1
                    w.set_result(None)

    def start_flight(self, t: TransitionState, consumed: Consumed) -> None:
        """A firing of ``t`` suspended in its handler, holding ``consumed``."""
        t.inflight += 1
        self.inflight += 1
        self.flights[id(consumed)] = (t, consumed)

    def end_flight(self, t: TransitionState, consumed: Consumed) -> None:
        """A suspended firing of ``t`` ended (committed, failed or cancelled)."""
        t.inflight -= 1
        self.inflight -= 1
        del self.flights[id(consumed)]

    def idle(self) -> bool:
        """Nothing scheduled, nothing in flight, every source finished or waiting for room."""
        return (
            not self.scheduled
            and self.inflight == 0
            and self.sinks_busy == 0
            and self.sources_active == self.sources_waiting
        )

    def wake_idle(self) -> None:
        """Wake the callers of ``run_until_idle()`` if the net is idle (or stopped)."""
        if self.idle_waiters and (self.idle() or not self.running):
            waiters, self.idle_waiters = self.idle_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def fail_waiters(self, exc: BaseException) -> None:
        """Hand ``exc`` to whoever waits for idle: the scheduler itself failed, or a handler or sink
        raised a ``KeyboardInterrupt`` or the like (see :meth:`~.failures.Failures.interrupted`)."""
        waiters, self.idle_waiters = self.idle_waiters, []
        for w in waiters:
            if not w.done():
                w.set_exception(exc)


def _unwired() -> None:
    raise RuntimeError("Ready.fire is called before the runner wired its scheduler in")
