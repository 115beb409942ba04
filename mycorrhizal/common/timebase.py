"""Timebases: where every engine gets the time, sleeps and schedules timers.

Real use takes :class:`MonotonicClock` (the default) or :class:`WallClock`.  Tests and simulations
take :class:`ManualClock`, whose time only moves when told to, so hours of timeouts run in
milliseconds and give the same result every run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "ManualClock",
    "MonotonicClock",
    "Timebase",
    "TimerScope",
    "TimerHandle",
    "WallClock",
    "default_timebase",
]


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled before it fires."""

    def cancel(self) -> None:
        """Stop the callback from firing; harmless if it already fired."""


class Timebase(ABC):
    """Source of time for an engine: ``now()``, ``sleep()`` and ``call_later()``."""

    __slots__ = ()

    @abstractmethod
    def now(self) -> float:
        """Current time in seconds on this timebase."""

    @abstractmethod
    async def sleep(self, delay: float) -> None:
        """Suspend the caller until ``delay`` seconds have passed on this timebase."""

    @abstractmethod
    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback()`` once ``delay`` seconds have passed on this timebase."""


class _LoopClock(Timebase):
    """A timebase driven by the running asyncio loop's own timer queue."""

    __slots__ = ()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class MonotonicClock(_LoopClock):
    """Monotonic real time: the right clock for measuring timeouts in production."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()


class WallClock(_LoopClock):
    """Wall-clock time (seconds since the epoch); timers still run on the loop's monotonic clock."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()


_DEFAULT = MonotonicClock()


def default_timebase() -> Timebase:
    """The timebase engines use when none is given: a shared :class:`MonotonicClock`."""
    return _DEFAULT


class _ScopedTimer:
    """A timer set through a :class:`TimerScope`; cancelling it also forgets it."""

    __slots__ = ("scope", "inner")

    def __init__(self, scope: TimerScope) -> None:
        self.scope = scope
        self.inner: TimerHandle | None = None

    def fire(self, callback: Callable[[], object]) -> None:
        scope = self.scope
        scope._timers.discard(self)
        owner = scope._owner
        if owner is not None and (owner.done() or owner.cancelling()):
            scope.close()  # the owner is going away: its timers are void from the moment it was cancelled
            return
        callback()

    def cancel(self) -> None:
        self.scope._timers.discard(self)
        if self.inner is not None:
            self.inner.cancel()


class TimerScope(Timebase):
    """Another timebase seen through a scope whose pending timers :meth:`close` cancels at once.

    Give one to something you may abandon (a state machine driven by a halted tree action, say):
    closing the scope guarantees none of its timers fires afterwards. With ``owner``, a task, the
    scope also stops firing timers as soon as that task is done or has been asked to cancel, even
    before the task has unwound far enough to call :meth:`close`.
    """

    __slots__ = ("_base", "_timers", "_closed", "_owner")

    def __init__(self, base: Timebase, *, owner: asyncio.Task[Any] | None = None) -> None:
        self._base = base
        self._timers: set[_ScopedTimer] = set()
        self._closed = False
        self._owner = owner

    def now(self) -> float:
        return self._base.now()

    async def sleep(self, delay: float) -> None:
        await self._base.sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        timer = _ScopedTimer(self)
        if not self._closed:
            self._timers.add(timer)
            timer.inner = self._base.call_later(delay, lambda: timer.fire(callback))
        return timer

    @property
    def pending(self) -> int:
        """Timers set through this scope that have neither fired nor been cancelled."""
        return len(self._timers)

    def close(self) -> None:
        """Cancel every pending timer; timers set afterwards never fire."""
        self._closed = True
        for timer in list(self._timers):
            timer.cancel()


class _ManualTimer:
    """A timer on a :class:`ManualClock`."""

    __slots__ = ("deadline", "callback", "cancelled")

    def __init__(self, deadline: float, callback: Callable[[], object]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock(Timebase):
    """Virtual time that moves only when :meth:`advance` (or :meth:`run_for`) is called.

    ``advance(dt)`` fires, in deadline order, exactly the timers and sleepers due within ``dt``,
    setting ``now()`` to each one's deadline as it fires, and leaves the rest waiting.
    """

    __slots__ = ("_now", "_heap", "_seq")

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._heap: list[tuple[float, int, _ManualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        timer = _ManualTimer(self._now + max(0.0, delay), callback)
        # The sequence number keeps timers with equal deadlines in the order they were set.
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Number of timers and sleepers still waiting."""
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def next_deadline(self) -> float | None:
        """Deadline of the earliest waiting timer, or None if nothing waits."""
        self._drop_cancelled()
        return self._heap[0][0] if self._heap else None

    def advance(self, delay: float) -> int:
        """Move time forward by ``delay`` seconds, firing every timer that falls due; return count.

        Timers set by a callback fire too if they fall within the window.  Sleepers are woken
        (their futures resolved); they resume when the event loop next runs.
        """
        if delay < 0:
            raise ValueError(f"ManualClock.advance() needs a delay >= 0, got {delay}")
        target = self._now + delay
        fired = 0
        while True:
            self._drop_cancelled()
            if not self._heap or self._heap[0][0] > target:
                break
            deadline, _, timer = heapq.heappop(self._heap)
            self._now = max(self._now, deadline)
            timer.cancelled = True  # fired timers count as done; cancel() afterwards is a no-op
            timer.callback()
            fired += 1
        self._now = target
        return fired

    async def run_for(self, delay: float, *, settle: int = 20) -> int:
        """Advance ``delay`` seconds letting the event loop run after each deadline; return count.

        Unlike :meth:`advance`, a coroutine woken at one deadline gets to run (``settle`` loop
        iterations) and may set new timers before later deadlines are considered, so chains of
        sleeps inside the window behave as they would in real time.
        """
        if delay < 0:
            raise ValueError(f"ManualClock.run_for() needs a delay >= 0, got {delay}")
        target = self._now + delay
        fired = 0
        await _settle(settle)
        while True:
            nxt = self.next_deadline()
            if nxt is None or nxt > target:
                break
            fired += self.advance(nxt - self._now)
            await _settle(settle)
        self._now = target
        return fired

    def _drop_cancelled(self) -> None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)


async def _settle(iterations: int) -> None:
    for _ in range(iterations):
        await asyncio.sleep(0)
