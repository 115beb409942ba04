"""The scheduler pass: take the highest-priority ready transition, check it, fire it; repeat.

How it works, in short (docs/hypha.md has the full story):

* Every transition sits in at most one *ready* queue (one per priority level); :mod:`.ready` puts it
  there when something that could enable it happens.  Nothing is ever polled.
* A pass is a plain loop callback that fires ready transitions up to a batch, then yields to the
  event loop.  Its loop is a coroutine stepped by hand (:meth:`Scheduler._fire_batch`), so the
  hottest handlers are awaited in it; one that suspends takes that coroutine, which then finishes
  only its firing, into a task, and a new one carries on.
* The commonest shapes take short paths with the work inlined: ``fire_fast`` for a transition without
  guard or bounded place, and, inside the pass itself, the same with an eager coroutine handler
  (one taking ``ctx`` through an adapter that makes it, see :func:`.context.with_context`).
  Everything else goes through :meth:`Scheduler.try_fire`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from operator import call
from typing import Any

from ..common.frozen import maker
from .context import FiringContext, taking
from .coroutines import Continue
from .events import FiringCommitted
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
_committed = maker(FiringCommitted)


class Scheduler:
    """Fires the ready transitions of one runner."""

    __slots__ = (
        "bb",
        "timebase",
        "_ready",
        "_firing",
        "_failures",
        "_io",
        "_report",
        "_budget",
        "_suspended",
    )

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
        self._budget = 0
        """Firings left in the current pass."""
        self._suspended: tuple[TransitionState, Any, tuple[Any, ...]] | None = None
        """The hot firing the batch coroutine is running (see :meth:`_fire_batch`)."""

    def run_pass(self) -> None:
        """One scheduler pass: fire ready transitions, highest priority first, up to a batch."""
        ready = self._ready
        self._report.refresh()
        ready.in_pass = True
        try:
            self._fire_batch()
        except BaseException as exc:
            ready.scheduled = False
            self._pass_raised(exc)
            raise
        finally:
            ready.in_pass = False
        if ready.running and any(ready.levels):
            assert ready.loop is not None
            ready.loop.call_soon(self.run_pass)
            return
        ready.scheduled = False
        ready.wake_idle()

    def _pass_raised(self, exc: BaseException) -> None:
        """A pass ended by ``exc``, which goes on to the loop and to the callers of ``run_until_idle()``
        (never left waiting).  A ``KeyboardInterrupt``, ``SystemExit`` or other ``BaseException`` (a
        handler's or a sink's, told where it was raised) is no fault here: the transitions still
        ready, cut short by it, stay queued and fire in the pass the next ``run_until_idle()`` or
        token asks for, not by themselves (a ``sys.exit()`` in a handler must not set others off
        while the program shuts down).  An ``Exception`` is a bug in the scheduler: logged with its
        traceback (a new token wakes the scheduler as usual)."""
        ready = self._ready
        if isinstance(exc, Exception):
            log.exception("net %s: scheduler failed", self._report.name)
            ready.fail_waiters(exc)
            return
        log.info(
            "net %s: scheduler pass ended by %s, raised to the caller; the transitions still ready "
            "fire at the next run_until_idle() or token",
            self._report.name,
            type(exc).__name__,
        )
        ready.fail_waiters(exc)

    def _fire_batch(self) -> None:
        """Fire up to ``BATCH`` ready transitions, always from the highest-priority queue that has one.

        The loop itself is a coroutine, :meth:`_batch`, driven by hand: inside it the hottest shape's
        handler is *awaited*, and a coroutine that returns at once then costs no ``StopIteration``
        (which stepping it with ``send()`` would raise on every firing).  If that handler suspends,
        ``send()`` returns here while the batch coroutine waits inside that firing: from then on it is
        the firing's continuation (it returns the handler's result, or raises its error, and nothing
        else), handed to a task like any suspended firing, and a new batch coroutine goes on.
        """
        self._budget = BATCH
        while True:
            detached = [False]
            batch = self._batch(detached)
            try:
                first = batch.send(None)
            except StopIteration:
                return
            detached[0] = True
            suspended, self._suspended = self._suspended, None
            assert suspended is not None
            t, consumed, took = suspended
            consumed._took = took
            self._firing.suspend(t, consumed, Continue(batch, first), None)
            self._budget -= 1
            if not t.queued:
                t.queued = True
                t.ready.append(t)  # round robin among equals

    async def _batch(self, detached: list[bool]) -> Any:
        """The scheduler loop (see :meth:`_fire_batch`).  Each transition goes by the shortest path its
        shape allows; the hottest (no guard, no bounded place, an eager coroutine handler, called as
        ``t.hot_call``) is fired right here unless DEBUG is on (its lines take ``fire_fast``);
        observers are told its start (if one wants it) and its commit here too."""
        ready = self._ready
        levels = ready.levels
        only = levels[0] if len(levels) == 1 else None
        fire_fast, try_fire = self.fire_fast, self.try_fire
        bb, timebase = self.bb, self.timebase
        report = self._report
        inline = not report.debug
        # A journaled runner fires inline too: the firing claims its tokens' ids as it takes them
        # and commits through the journal (Firing.commit).
        recorder = self._io.recorder
        claim = self._claim if recorder is not None else None
        put_hot = self._put_hot if recorder is None else self._commit_journaled
        while self._budget and ready.running:
            queue = only if only is not None else _first_ready(levels)
            if not queue:
                return None
            t = queue.popleft()
            t.queued = False
            if inline and t.hot and t.blocked_gen is None:
                p: Any = t.single
                if p is None:
                    took = _take_unguarded(t)
                    if took is None:
                        continue
                elif not p.tokens or t.inflight >= t.concurrency:
                    continue
                else:
                    took = (p.take(),)
                # The handler's list; ``took`` is what the runner goes by (see _put_hot).
                consumed = t.ccls(took)
                claim is None or claim(t, consumed, took)  # an expression: no branch in this hot loop
                report.starts and report.started(t.qname, took, consumed)  # likewise
                self._suspended = t, consumed, took  # what _fire_batch hands to a task if it suspends
                try:
                    result = await t.hot_call(consumed, bb, timebase)
                except BaseException as exc:
                    consumed._took = took
                    self._hot_failed(t, consumed, exc, detached[0])
                else:
                    if detached[0]:
                        return result  # the firing's task (Firing._finish) commits it
                    put_hot(t, consumed, result, took)
            elif not (fire_fast(t) if t.fast else try_fire(t)):
                continue
            self._budget -= 1
            if not t.queued:
                t.queued = True
                queue.append(t)  # round robin among equals
        return None

    def _claim(self, t: TransitionState, consumed: Any, took: tuple[Any, ...]) -> None:
        """A journaled firing holds the ids of the tokens it took (see :meth:`_put_hot`)."""
        consumed._took = took
        assert self._io.recorder is not None
        self._io.recorder.claim(t, consumed)

    def _commit_journaled(self, t: TransitionState, consumed: Any, result: Any, took: Any) -> None:
        """:meth:`_put_hot` of a journaled runner (the list's ``_took`` was set by :meth:`_claim`)."""
        self._firing.commit(t, consumed, result, None)

    def _put_hot(self, t: TransitionState, consumed: Any, result: Any, took: tuple[Any, ...]) -> None:
        """Commit a firing of a transition on the short path (no bounded place, so no room to give
        back) of an unjournaled runner: nothing or one token produced is committed right here,
        anything else by :meth:`Firing.commit`.

        The runner goes by ``took``, the tokens the firing took, not by ``consumed``, the list its
        handler had and may have changed.  The hot paths set the list's ``_took`` (what the rest of
        the runner reads) only where the firing goes further (a record, a failure, a suspension, a
        commit elsewhere): each transition's list has a class of its own, and an attribute store on
        alternating classes is not specialised, ~250 instructions a firing (callgrind)."""
        if result is None:
            out = value = None
        elif type(result) is dict and len(result) == 1:
            ((key, value),) = result.items()
            out = t.out_places.get(key)
            if out is None or type(value) is list:
                consumed._took = took
                self._firing.commit(t, consumed, result, None)
                return
            # ``put`` inlined for one token (and no ``schedule``: we run inside the pass)
            out.tokens.append(value)
            out.gen += 1
            for c in out.consumers:
                if not c.queued:
                    c.queued = True
                    c.ready.append(c)
            if out.sink is not None:  # a failure is held: told after the record below
                self._deliver_hot(t, consumed, out, value, took)
        else:
            consumed._took = took
            self._firing.commit(t, consumed, result, None)
            return
        t.fired += 1
        report = self._report
        if report.debug:
            consumed._took = took
            self._firing.committed(t, consumed, [] if out is None else [(out, [value])])
        elif report.watched:
            consumed._took = took
            # Reporter.committed written out: the commonest observed firing, a frame less.
            now = report.now
            produced = () if out is None else (out, value)  # (place, token): see FiringCommitted.produced
            record = _committed((report.name, now(), t.qname, consumed, produced))
            observers = report.observers
            send = observers.send
            try:
                if (result := send(record)) is not None:
                    observers.returned(send, result)
            except Exception as exc:
                observers.failed(send, exc, record)
            if report.held:
                report.tell_held()

    def _deliver_hot(
        self, t: TransitionState, consumed: Any, out: Any, value: Any, took: tuple[Any, ...]
    ) -> None:
        """Deliver the token ``value`` a firing of ``t`` on the short path put into sink ``out``; a
        KeyboardInterrupt or the like the sink raises goes on once the commit is counted and told
        (its tokens did move), as :meth:`Firing.commit` does."""
        try:
            self._io.deliver(out)
        except BaseException:
            t.fired += 1
            consumed._took = took
            self._firing.committed(t, consumed, [(out, [value])])
            raise

    def _hot_failed(self, t: TransitionState, consumed: Any, exc: BaseException, detached: bool) -> None:
        """A hot handler raised.  After it suspended, the error goes on to the firing's task (which
        deals with it in :meth:`Firing._finish`); before, the firing fails right here (or, for
        KeyboardInterrupt and the like, its tokens go back and the exception goes on)."""
        if detached:
            raise exc
        if isinstance(exc, FAILURES):
            self._failures.fail(t, consumed, exc)
            return
        self._failures.interrupted(t, consumed, exc)
        raise exc

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
        # Slots' functions (ccls, handler) are called from locals (see docs/architecture.md).
        make, handler = t.ccls, t.handler
        took = (p.take(),) if p is not None else tuple(map(call, t.takers))
        consumed = make(took)  # the handler's list; ``took`` is what the runner goes by (see _put_hot)
        if self._io.recorder is not None:
            self._claim(t, consumed, took)
        report = self._report
        report.starts and report.started(t.qname, took, consumed)  # an expression: no branch here
        ctx = None
        try:
            if t.wants_ctx:
                ctx = self._firing.context(t, consumed)
                result = handler(consumed, self.bb, self.timebase, ctx)
            else:
                result = handler(consumed, self.bb, self.timebase)
        except FAILURES as exc:
            consumed._took = took
            self._failures.fail(t, consumed, exc)
            return True
        except BaseException as exc:  # KeyboardInterrupt and the like: keep the tokens, then go
            consumed._took = took
            self._failures.interrupted(t, consumed, exc)
            raise
        if (
            (result is None or type(result) is dict)
            and t.kind is not _COROUTINE
            and ctx is None
            and self._io.recorder is None
        ):
            self._put_hot(t, consumed, result, took)  # the commonest outcome, without _settle_fast's frame
        else:
            consumed._took = took
            self._settle_fast(t, consumed, result, ctx)
        return True

    def _settle_fast(self, t: TransitionState, consumed: Any, result: Any, ctx: FiringContext | None) -> None:
        """Finish a fast firing whose handler was called: its first step, then its commit."""
        if t.kind is _COROUTINE or (
            result is not None and type(result) is not dict and asyncio.iscoroutine(result)
        ):
            result = self._firing.first_step(t, consumed, result, ctx)
            if result is SETTLED:
                return
        if ctx is not None:
            result, ctx = plain_outputs(result, ctx)
        if ctx is None and self._io.recorder is None:
            self._put_hot(t, consumed, result, consumed._took)
        else:
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
            took = (t.single.take(),) if t.single is not None else tuple(map(call, t.takers))
            consumed = taking(t.ccls, took)
        if self._io.recorder is not None:
            self._io.recorder.claim(t, consumed)
        for p, hold in t.holds:
            p.reserved += hold  # held until the firing commits or fails
        if self._report.watched:
            self._report.started(t.qname, consumed._took, consumed)
        self._firing.call(t, consumed)
        return True


def _first_ready(levels: list[deque[TransitionState]]) -> deque[TransitionState] | None:
    """The highest-priority ready queue that is not empty."""
    for queue in levels:
        if queue:
            return queue
    return None


def _take_unguarded(t: TransitionState) -> Any:
    """The tokens of one firing of ``t`` (several input arcs, no guard), taken, or None if it cannot fire."""
    if t.inflight >= t.concurrency or not (all(t.stores) if t.unit else _has_tokens(t)):
        return None
    return tuple(map(call, t.takers))


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
        t.halted = False
    return True
