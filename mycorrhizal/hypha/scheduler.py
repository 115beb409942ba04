"""The scheduler pass: take the highest-priority ready transition, check it, fire it; repeat.

How it works, in short (docs/hypha.md has the full story):

* Every transition sits in at most one *ready* queue (one per priority level); :mod:`.ready` puts it
  there when something that could enable it happens.  Nothing is ever polled.
* A pass is a plain loop callback that fires ready transitions up to a batch, then yields to the
  event loop.
* The commonest shapes take short paths with the work inlined: ``fire_fast`` for a transition without
  guard or bounded place, and, inside the pass itself, one input arc of weight 1 and an eager
  coroutine handler without ``ctx``.  Everything else goes through :meth:`Scheduler.try_fire`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from operator import call
from typing import Any

from .context import FiringContext
from .coroutines import Continue
from .failures import Failures
from .firing import FAILURES, SETTLED, Firing, plain_outputs
from .ioplaces import IOPlaces
from .ready import Ready
from .reporting import Reporter, log
from .state import TransitionState
from .transitions import HandlerKind

__all__ = ["BATCH", "Scheduler"]

BATCH = 4096
"""Firings per scheduler pass before yielding to the event loop."""

_COROUTINE = HandlerKind.COROUTINE


class Scheduler:
    """Fires the ready transitions of one runner."""

    __slots__ = ("bb", "timebase", "_ready", "_firing", "_failures", "_io", "_report")

    def __init__(
        self, ready: Ready, firing: Firing, failures: Failures, io: IOPlaces, report: Reporter
    ) -> None:
        self.bb = io.bb
        self.timebase = io.timebase
        self._ready = ready
        self._firing = firing
        self._failures = failures
        self._io = io
        self._report = report

    def run_pass(self) -> None:
        """One scheduler pass: fire ready transitions, highest priority first, up to a batch."""
        ready = self._ready
        self._report.refresh()
        ready.in_pass = True
        try:
            self._fire_batch()
        except BaseException as exc:  # a bug here must not leave waiters hanging
            ready.scheduled = False
            log.exception("net %s: scheduler failed", self._report.name)
            ready.fail_waiters(exc)
            raise
        finally:
            ready.in_pass = False
        if ready.running and any(ready.levels):
            assert ready.loop is not None
            ready.loop.call_soon(self.run_pass)
            return
        ready.scheduled = False
        ready.wake_idle()

    def _fire_batch(self) -> None:
        """Fire up to ``BATCH`` ready transitions, always from the highest-priority queue that has one.

        Each transition goes by the shortest path its shape allows; the hottest shape skips events and
        DEBUG lines, so with either on it takes the fast path.  (:meth:`_drain` is the same loop for
        the common single-priority net, without choosing a queue each time.)
        """
        ready = self._ready
        levels = ready.levels
        if len(levels) == 1:
            self._drain(levels[0])
            return
        fire_fast, try_fire = self.fire_fast, self.try_fire
        fire_hot = fire_fast if self._report.debug or self._report.watched else self._fire_hot
        budget = BATCH
        while budget and ready.running:
            for queue in levels:
                if queue:
                    break
            else:
                return
            t = queue.popleft()
            t.queued = False
            if t.hot and t.blocked_gen is None:
                fired = fire_hot(t)
            else:
                fired = fire_fast(t) if t.fast else try_fire(t)
            if fired:
                budget -= 1
                if not t.queued:
                    t.queued = True
                    queue.append(t)  # round robin among equals

    def _drain(self, queue: deque[TransitionState]) -> None:
        """:meth:`_fire_batch` for a net whose transitions all have one priority."""
        ready = self._ready
        fire_fast, try_fire = self.fire_fast, self.try_fire
        fire_hot = fire_fast if self._report.debug or self._report.watched else self._fire_hot
        budget = BATCH
        while budget and queue and ready.running:
            t = queue.popleft()
            t.queued = False
            if t.hot and t.blocked_gen is None:
                fired = fire_hot(t)
            else:
                fired = fire_fast(t) if t.fast else try_fire(t)
            if fired:
                budget -= 1
                if not t.queued:
                    t.queued = True
                    queue.append(t)  # round robin among equals

    def _fire_hot(self, t: TransitionState) -> bool:
        """:meth:`fire_fast` for the hottest shape: one input arc of weight 1, an eager coroutine
        handler without ``ctx``, nobody watching; a one-token result is put in place right here."""
        p: Any = t.single
        if not p.tokens or t.inflight >= t.concurrency:
            return False
        consumed = t.ccls((p.take(),))
        try:
            coro = t.handler(consumed, self.bb, self.timebase)
            first = coro.send(None)
        except StopIteration as stop:
            result = stop.value
            if type(result) is dict and len(result) == 1:
                ((key, value),) = result.items()
                out = t.out_places.get(key)
                if out is not None and type(value) is not list:
                    # ``put`` inlined for one token (and no ``schedule``: we run inside the pass)
                    out.tokens.append(value)
                    out.gen += 1
                    for c in out.consumers:
                        if not c.queued:
                            c.queued = True
                            c.ready.append(c)
                    if out.sink is not None:
                        self._io.kick_sink(out)
                    t.fired += 1
                    return True
            self._firing.commit(t, consumed, result, None)
        except FAILURES as exc:
            self._failures.fail(t, consumed, exc)
        except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._failures.give_back(t, consumed, notify=True)
            raise
        else:
            self._firing.suspend(t, consumed, Continue(coro, first), None)
        return True

    def fire_fast(self, t: TransitionState) -> bool:
        """:meth:`try_fire` for the common shape (see ``TransitionState.fast``), with everything inlined."""
        p = t.single
        if t.inflight >= t.concurrency:
            return False
        if p is not None:
            if not p.tokens:
                return False
        elif not (all(t.stores) if t.unit else _has_tokens(t)):
            return False
        if t.blocked_gen is not None:
            return self.try_fire(t)
        consumed = t.ccls((p.take(),)) if p is not None else t.ccls(map(call, t.takers))
        if self._io.recorder is not None:
            self._io.recorder.claim(t, consumed)
        if self._report.watched:
            self._firing.started(t, consumed)
        ctx = None
        try:
            if t.wants_ctx:
                ctx = self._firing.context(t, consumed)
                result = t.handler(consumed, self.bb, self.timebase, ctx)
            else:
                result = t.handler(consumed, self.bb, self.timebase)
        except FAILURES as exc:
            self._failures.fail(t, consumed, exc)
            return True
        except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._failures.give_back(t, consumed, notify=True)
            raise
        self._settle_fast(t, consumed, result, ctx)
        return True

    def _settle_fast(self, t: TransitionState, consumed: Any, result: Any, ctx: FiringContext | None) -> None:
        """Finish a fast firing whose handler was called: its first step, then its commit."""
        if t.kind is _COROUTINE or asyncio.iscoroutine(result):
            result = self._firing.first_step(t, consumed, result, ctx)
            if result is SETTLED:
                return
        if ctx is not None:
            result, ctx = plain_outputs(result, ctx)
        if ctx is None and type(result) is dict and len(result) == 1 and self._io.recorder is None:
            ((key, value),) = result.items()
            out = t.out_places.get(key)
            if out is not None and type(value) is not list:
                # ``put`` inlined for one token (and no ``schedule``: we run inside the pass)
                out.tokens.append(value)
                out.gen += 1
                for c in out.consumers:
                    if not c.queued:
                        c.queued = True
                        c.ready.append(c)
                if out.sink is not None:
                    self._io.kick_sink(out)
                t.fired += 1
                if self._report.watched or self._report.debug:
                    self._firing.committed(t, consumed, [(out, [value])])
                return
        self._firing.commit(t, consumed, result, ctx)

    def try_fire(self, t: TransitionState) -> bool:
        """Fire ``t`` once if it is enabled; return whether it fired."""
        if not _enabled(t):
            return False
        if t.guard is not None:
            consumed = self._firing.choose(t)
            if consumed is None:
                return False
        else:
            consumed = t.ccls((t.single.take(),)) if t.single is not None else t.ccls(map(call, t.takers))
        if self._io.recorder is not None:
            self._io.recorder.claim(t, consumed)
        for p, hold in t.holds:
            p.reserved += hold  # held until the firing commits or fails
        if self._report.watched:
            self._firing.started(t, consumed)
        self._firing.call(t, consumed)
        return True


def _has_tokens(t: TransitionState) -> bool:
    """Whether every input place of ``t`` holds at least its arc's weight."""
    for p, w in t.inputs:
        if len(p.tokens) < w:
            return False
    return True


def _enabled(t: TransitionState) -> bool:
    """Whether ``t`` may fire now: a free concurrency slot, the tokens, room for its outputs, and, after
    a failure, a new token since (a retry timer clears that)."""
    if t.inflight >= t.concurrency:
        return False
    if t.single is not None:
        if not t.single.tokens:
            return False
    elif not (all(t.stores) if t.unit else _has_tokens(t)):
        return False
    for p, extra in t.room_checks:
        if len(p.tokens) + p.reserved + extra > p.capacity:  # type: ignore[operator]
            return False
    if t.blocked_gen is not None:
        if sum(p.gen for p, _ in t.inputs) == t.blocked_gen:
            return False
        t.blocked_gen = None
    return True
