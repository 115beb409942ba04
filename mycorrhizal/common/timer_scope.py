"""A timebase seen through a scope: closing the scope cancels every timer set through it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .timebase import Timebase, TimerHandle

__all__ = ["TimerScope"]


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
            try:
                timer.inner = self._base.call_later(delay, lambda: timer.fire(callback))
            except BaseException:  # a delay the base refuses (a bool) leaves no timer pending here
                self._timers.discard(timer)
                raise
        return timer

    def advance(self, amount: float | None = None) -> int:
        return self._base.advance(amount)

    def reset(self) -> None:
        self._base.reset()

    def set(self, value: float) -> None:
        self._base.set(value)

    @property
    def rewinds(self) -> int:
        return self._base.rewinds

    @property
    def pending(self) -> int:
        """Timers set through this scope that have neither fired nor been cancelled."""
        return len(self._timers)

    def close(self) -> None:
        """Cancel every pending timer; timers set afterwards never fire."""
        self._closed = True
        for timer in list(self._timers):
            timer.cancel()
