"""Timebases: where every engine gets the time, sleeps and schedules timers.

Real use takes :class:`MonotonicClock` (the default), :class:`WallClock` or :class:`UTCClock`.
Tests and simulations take a virtual clock, whose time only moves when told to, so hours of
timeouts run in milliseconds and give the same result every run: :class:`ManualClock` (moved by
``advance(dt)``), :class:`CycleClock` (one ``stepsize`` per ``advance()``) or
:class:`DictatedClock` (``set(value)`` from outside).  All three share one timer heap.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from .errors import DefinitionError, Problem
from .numbers import is_finite, is_seconds

__all__ = [
    "CycleClock",
    "DictatedClock",
    "ManualClock",
    "MonotonicClock",
    "Timebase",
    "TimerHandle",
    "UTCClock",
    "WallClock",
    "DEFAULT_TIMEBASE",
    "default_timebase",
    "checked_timebase",
]


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled before it fires."""

    def cancel(self) -> None:
        """Stop the callback from firing; harmless if it already fired."""


class Timebase(ABC):
    """Source of time for an engine: ``now()``, ``sleep()`` and ``call_later()``."""

    # Weakly referenceable: what keeps per-clock state (spores' shared timeline) does not keep the
    # clock alive.
    __slots__ = ("__weakref__",)

    @abstractmethod
    def now(self) -> float:
        """Current time in seconds on this timebase."""

    @abstractmethod
    async def sleep(self, delay: float) -> None:
        """Suspend the caller until ``delay`` seconds have passed on this timebase."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback()`` once ``delay`` seconds have passed on this timebase.

        This default serves clocks that define only ``now()`` and ``sleep()`` (as 0.x clocks do):
        a task sleeps on the clock, then calls back. The clocks here override it with a timer
        queue, which costs no task per timer.
        """
        if delay.__class__ is bool:
            raise _bool_delay(self, "call_later", delay)
        return _SleepTimer(self, delay, callback)

    def advance(self, amount: float | None = None) -> int:
        """Move a virtual clock forward (by its step, or ``amount``); real clocks ignore it. Timers fired."""
        return 0

    def reset(self) -> None:
        """Put a virtual clock back to its start; real clocks ignore it."""
        return None  # deliberately nothing: real time cannot be reset

    def set(self, value: float) -> None:
        """Set a virtual clock's time to ``value``; real clocks ignore it."""
        return None  # deliberately nothing: real time cannot be set

    @property
    def rewinds(self) -> int:
        """How many times the clock was put back (``reset()``, ``set()`` to an earlier time), each
        starting a new timeline (spores' anchored logs anchor it anew); real clocks: never, 0."""
        return 0


def _bool_delay(clock: Timebase, method: str, delay: bool) -> ValueError:
    """The error for a bool given as a delay: True would wait one second and False none, as numbers."""
    return ValueError(
        f"{type(clock).__name__}.{method}() needs a delay in seconds, got {delay!r}: a bool is not a "
        f"number of seconds. Fix: pass the seconds as a number, e.g. {float(delay)}"
    )


class _SleepTimer:
    """A timer made of a task that sleeps on a timebase; kept alive until it fires or is cancelled."""

    __slots__ = ("task",)

    _live: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly: keep pending ones here

    def __init__(self, timebase: Timebase, delay: float, callback: Callable[[], object]) -> None:
        async def later() -> None:
            await timebase.sleep(delay)
            callback()

        self.task = asyncio.get_running_loop().create_task(later())
        self._live.add(self.task)
        self.task.add_done_callback(self._live.discard)

    def cancel(self) -> None:
        self.task.cancel()


class _LoopClock(Timebase):
    """A timebase driven by the running asyncio loop's own timer queue."""

    __slots__ = ()

    async def sleep(self, delay: float) -> None:
        if delay.__class__ is bool:  # (one test: a bool cannot be subclassed)
            raise _bool_delay(self, "sleep", delay)
        await asyncio.sleep(max(0.0, delay))

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        if delay.__class__ is bool:
            raise _bool_delay(self, "call_later", delay)
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class MonotonicClock(_LoopClock):
    """Monotonic real time: the right clock for measuring timeouts in production."""

    __slots__ = ()

    # The clock function itself, not a method calling it: watched runtimes read it per event.
    now = staticmethod(time.monotonic)


class WallClock(_LoopClock):
    """Wall-clock time (seconds since the epoch); timers still run on the loop's monotonic clock."""

    __slots__ = ()

    now = staticmethod(time.time)  # the clock function itself, as MonotonicClock's


class UTCClock(_LoopClock):
    """The current UTC time as a POSIX timestamp; timers run on the loop's monotonic clock."""

    __slots__ = ()

    def now(self) -> float:
        return datetime.now(UTC).timestamp()


DEFAULT_TIMEBASE: Final[Timebase] = MonotonicClock()
"""The timebase engines use when none is given: one shared :class:`MonotonicClock` (a constant, read
where a machine is built: a call to :func:`default_timebase` costs a frame per construction)."""


def default_timebase() -> Timebase:
    """The timebase engines use when none is given: :data:`DEFAULT_TIMEBASE`."""
    return DEFAULT_TIMEBASE


def checked_timebase(timebase: Timebase | None, owner: str, name: str = "") -> Timebase:
    """``timebase`` (the default one for None) if it can serve as a timebase - a :class:`Timebase`, or
    any object with ``now()``, ``sleep()`` and ``call_later()`` - else a DefinitionError naming
    ``owner`` (and its ``name``, e.g. ``("Runner of net", "Shop")``)."""
    if timebase is None:
        return DEFAULT_TIMEBASE
    if isinstance(timebase, Timebase) or (
        not isinstance(timebase, type)
        and all(callable(getattr(timebase, method, None)) for method in ("now", "sleep", "call_later"))
    ):
        return timebase
    fix = (
        f"pass an instance: {timebase.__name__}()"
        if isinstance(timebase, type) and issubclass(timebase, Timebase)
        else "pass a clock such as MonotonicClock(), ManualClock() or CycleClock(), or subclass Timebase"
    )
    owner = f"{owner} {name!r}" if name else owner
    problem = Problem(
        owner, f"timebase={timebase!r} is not a timebase (it needs now(), sleep() and call_later())", fix
    )
    raise DefinitionError([problem], what=owner)


class _VirtualTimer:
    """A timer on a virtual clock; ``clock`` is None once it fired or was cancelled."""

    __slots__ = ("deadline", "callback", "clock")

    def __init__(self, deadline: float, callback: Callable[[], object], clock: _VirtualClock) -> None:
        self.deadline = deadline
        self.callback = callback
        self.clock: _VirtualClock | None = clock

    def cancel(self) -> None:
        clock = self.clock
        if clock is not None:
            self.clock = None
            clock._forget_one()


#: Cancelled timers stay in the heap (removing from the middle of a heap is O(n)) until they reach
#: its head or until they are the majority, when the heap is rebuilt without them. So memory stays
#: proportional to the live timers however often a timer is set and cancelled.
_COMPACT_AT_LEAST = 64


class _VirtualClock(Timebase):
    """Time that moves only when told to; the timer heap shared by every virtual clock."""

    __slots__ = ("_now", "_heap", "_seq", "_dead", "_initial", "_step", "_rewinds")

    def __init__(self, initial: float, step: float | None, *, argument: str = "initial") -> None:
        if not is_finite(initial):  # NaN would fire every timer at the first advance and stay NaN
            owner = type(self).__name__
            problem = Problem(
                f"{owner}({argument}=...)",
                f"{argument} must be a finite number, got {initial!r}",
                "pass a number such as 0.0",
            )
            raise DefinitionError([problem], what=owner)
        self._now = float(initial)
        self._initial = float(initial)
        self._rewinds = 0
        self._step = step
        self._heap: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = itertools.count()
        self._dead = 0  # cancelled timers still in the heap

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        if delay.__class__ is bool:  # (one test: a bool cannot be subclassed)
            raise _bool_delay(self, "call_later", delay)
        timer = _VirtualTimer(self._now + max(0.0, delay), callback, self)
        # The sequence number keeps timers with equal deadlines in the order they were set.
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        if delay.__class__ is bool:
            raise _bool_delay(self, "sleep", delay)
        if not delay > 0:  # (NaN too: asyncio.sleep(nan) returns at once, it must not wait for an advance)
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
        return len(self._heap) - self._dead

    @property
    def heap_size(self) -> int:
        """Entries held for timers, cancelled ones not yet dropped included (stays near :attr:`pending`)."""
        return len(self._heap)

    def next_deadline(self) -> float | None:
        """Deadline of the earliest waiting timer, or None if nothing waits."""
        self._drop_cancelled()
        return self._heap[0][0] if self._heap else None

    def advance(self, amount: float | None = None) -> int:
        """Move time forward by ``amount`` (default: the clock's step), firing every timer due; return count.

        Timers set by a callback fire too if they fall within the window.  Sleepers are woken
        (their futures resolved) and resume when the event loop next runs.  A raising callback
        stops the move at its deadline; the timers after it wait for the next move.
        """
        if amount is None:
            if self._step is None:
                return 0
            amount = self._step
        if not is_seconds(amount, forever=False):  # NaN or inf would fire every timer and end time
            raise ValueError(
                f"{type(self).__name__}.advance() needs a delay >= 0, got {amount!r}: a finite number, "
                "not a bool. Fix: pass a finite number of seconds >= 0 (to move time back, use set(value) "
                "or reset())"
            )
        return self._move_to(self._now + amount)

    def set(self, value: float) -> None:
        """Move time to ``value``: forward fires the timers due by then; backward fires nothing."""
        if not is_finite(value):  # NaN or inf would fire every timer and leave the time there for good
            raise ValueError(
                f"{type(self).__name__}.set() needs a time that is a number, got {value!r}. "
                "Fix: pass a finite number (an int or float, not a bool)"
            )
        if value < self._now:
            self._rewinds += 1
        self._move_to(float(value))

    def reset(self) -> None:
        """Go back to the time the clock started at; waiting timers keep their deadlines."""
        if self._initial < self._now:
            self._rewinds += 1
        self._now = self._initial

    @property
    def rewinds(self) -> int:
        return self._rewinds

    async def run_for(self, delay: float, *, settle: int = 20) -> int:
        """Advance ``delay`` seconds letting the event loop run after each deadline; return count.

        Unlike :meth:`advance`, a coroutine woken at one deadline gets to run (``settle`` loop
        iterations) and may set new timers before later deadlines are considered, so chains of
        sleeps inside the window behave as they would in real time.  If something else moved the
        clock past the end meanwhile (another runtime sharing it), it stays where it was moved to.
        """
        if not is_seconds(delay, forever=False):  # (as advance(): NaN or inf would end time)
            raise ValueError(
                f"{type(self).__name__}.run_for() needs a delay >= 0, got {delay!r}. "
                "Fix: pass a finite number of seconds >= 0"
            )
        target = self._now + delay
        fired = 0
        await _settle(settle)
        while True:
            nxt = self.next_deadline()
            if nxt is None or nxt > target:
                break
            fired += self._move_to(max(nxt, self._now))
            await _settle(settle)
        if target > self._now:  # another driver of a shared clock may have moved it further meanwhile
            self._now = target
        return fired

    def _move_to(self, target: float) -> int:
        """Fire, in deadline order, every timer due by ``target``, then stand at ``target``."""
        fired = 0
        while True:
            self._drop_cancelled()
            heap = self._heap
            if not heap or heap[0][0] > target:
                break
            deadline, _, timer = heapq.heappop(heap)
            self._now = max(self._now, deadline)
            timer.clock = None  # fired timers count as done; cancel() afterwards is a no-op
            timer.callback()
            fired += 1
        self._now = target
        return fired

    def _drop_cancelled(self) -> None:
        heap = self._heap
        while heap and heap[0][2].clock is None:
            heapq.heappop(heap)
            self._dead -= 1

    def _forget_one(self) -> None:
        """A timer in the heap was cancelled: count it, and rebuild the heap once most are dead."""
        self._dead += 1
        if self._dead >= _COMPACT_AT_LEAST and 2 * self._dead > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2].clock is not None]
            heapq.heapify(self._heap)
            self._dead = 0


class ManualClock(_VirtualClock):
    """Virtual time that moves only when :meth:`advance` (or :meth:`run_for`, :meth:`set`) is called.

    ``advance(dt)`` fires, in deadline order, exactly the timers and sleepers due within ``dt``,
    setting ``now()`` to each one's deadline as it fires, and leaves the rest waiting.  It has no
    step of its own: ``advance()`` without an amount does nothing.
    """

    __slots__ = ()

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(start, None, argument="start")


class CycleClock(_VirtualClock):
    """Time counted in cycles: each ``advance()`` adds ``stepsize`` and wakes what fell due.

    Starts at ``initial`` (0); ``reset()`` goes back to it.  ``advance(amount)`` moves by ``amount``
    instead.  A tree runner that steps its clock after each tick thus sees one cycle per tick.
    """

    __slots__ = ()

    def __init__(self, stepsize: float = 1, *, initial: float = 0.0) -> None:
        if not (is_finite(stepsize) and stepsize > 0):  # inf: one advance() would end time for good
            why = f"stepsize must be > 0 and finite, got {stepsize!r}"
            problem = Problem("CycleClock", why, "pass a positive stepsize such as 1")
            raise DefinitionError([problem], what="CycleClock")
        super().__init__(initial, float(stepsize))

    @property
    def stepsize(self) -> float:
        """How far one ``advance()`` moves the clock."""
        assert self._step is not None  # always set by __init__
        return self._step

    @property
    def cycles(self) -> float:
        """The current time (the same as ``now()``)."""
        return self._now


class DictatedClock(_VirtualClock):
    """Time set from outside: ``set(value)`` (or ``set_time``) moves it and wakes what fell due.

    ``reset()`` goes back to ``initial``; ``advance()`` without an amount does nothing.
    """

    __slots__ = ()

    def __init__(self, initial: float = 0.0) -> None:
        super().__init__(initial, None)

    @property
    def value(self) -> float:
        """The current time (the same as ``now()``)."""
        return self._now

    def set_time(self, value: float) -> None:
        """The same as :meth:`set`."""
        self.set(value)


async def _settle(iterations: int) -> None:
    for _ in range(iterations):
        await asyncio.sleep(0)
