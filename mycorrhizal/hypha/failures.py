"""Failed firings: the error policies (tokens back to their places, or to an error place), retries,
and the rule that keeps a failing handler from spinning.

After a failure with ``OnError.RETURN`` a transition is *blocked*: it does not fire again until a
new token reaches one of its inputs or its retry timer (``retry_delay``: by default a backoff from
0.1 s to 30 s on the runner's timebase) expires.  A firing cancelled from outside the runner is
handled the same way.
"""

from __future__ import annotations

from functools import partial

from ..common.errors import HandlerError, fix_last
from .context import Consumed
from .ioplaces import IOPlaces
from .places import FailedToken
from .ready import Ready
from .reporting import STOP_INSTEAD, Reporter, log
from .state import TransitionState
from .transitions import Backoff

__all__ = ["Failures"]


class Failures:
    """Releasing held room, giving tokens back, error places and retries, for one runner."""

    __slots__ = ("_ready", "_io", "_report")

    def __init__(self, ready: Ready, io: IOPlaces, report: Reporter) -> None:
        self._ready = ready
        self._io = io
        self._report = report

    def release(self, t: TransitionState) -> None:
        """Give back the room a firing held in its bounded places (it committed or failed)."""
        for p, hold in t.holds:
            p.reserved -= hold
            self._ready.freed(p)

    def give_back(self, t: TransitionState, consumed: Consumed, *, notify: bool) -> None:
        """Return consumed tokens to their input places (front of a QUEUE), as if never taken."""
        for p, hold in t.holds:
            p.reserved -= hold
            self._ready.freed(p)  # an output's held room is free again (a failing t stays blocked)
        if self._io.recorder is not None:
            self._io.recorder.unclaim(t, consumed)
        took = consumed._took  # the tokens taken, whatever the handler did to its list
        start = 0
        for p, w in t.inputs:
            p.restore(took[start : start + w])
            start += w
            if notify:  # the tokens were missing while in flight: others may want them now
                for c in p.consumers:
                    if c is not t:
                        self._ready.mark(c)
        self._report.stats.returned += len(took)

    def interrupted(self, t: TransitionState, consumed: Consumed, exc: BaseException) -> None:
        """A ``KeyboardInterrupt`` or the like (no failure: the caller lets it go on) ended a firing:
        its tokens go back, told as :class:`FiringCancelled` (observers counting tokens from the
        records see them back, as after any firing that gives its tokens back), and ``exc`` is raised
        from ``run_until_idle()``: a firing in its own task ends with it where nobody awaits it, and
        the caller must not wait for an idle net for ever.  The transitions the tokens enable again
        are queued, not sent off in a pass of their own (as after a pass ``exc`` ended, see
        :class:`~.scheduler.Scheduler`): the next ``run_until_idle()`` or token fires them.  ``t``
        itself is held, as after a firing cancelled from outside, until a new token reaches one of
        its inputs or the runner is started again: taking the same tokens again would raise the same
        exception again (and another firing of ``t`` ending now may have queued it already)."""
        ready = self._ready
        scheduled, ready.scheduled = ready.scheduled, True  # (Ready.mark queues, and asks no pass)
        try:
            self.give_back(t, consumed, notify=True)
        finally:
            ready.scheduled = scheduled
        t.last_error = exc  # what runner.stuck() says it waits after
        t.interrupted = True  # (the hold ends at a restart: see resume_retries)
        t.halted = True  # no retry timer ends it (see _block)
        t.retry.cancel()  # one an earlier failure armed would take the same tokens again
        t.blocked_gen = sum(p.gen for p, _ in t.inputs)
        if self._report.watched:
            self._report.cancelled(t.qname, consumed)
        log.info(
            "net %s: transition %s raised %s: no failure; its tokens went back to their input places "
            "and it is raised to the caller (run_until_idle())",
            self._report.name,
            t.qname,
            type(exc).__name__,
        )
        self._ready.fail_waiters(exc)

    def fail(self, t: TransitionState, consumed: Consumed, exc: BaseException) -> None:
        """A firing failed: apply the transition's error policy; never lose a token."""
        self._report.stats.failures += 1
        exc = _as_failure(t, exc)
        t.last_error = exc
        t.interrupted = t.halted  # held after a KeyboardInterrupt or the like: a restart still ends it
        err_place = t.error_place
        if err_place is None:
            self.give_back(t, consumed, notify=True)
            where = f"returned to their input places; {self._block(t)}"
            if self._io.recorder is not None:
                self._io.recorder.blocked(t)
        else:
            where = f"sent to error place {err_place.qname!r}"
            try:
                self._park(t, consumed, exc)
            finally:  # also when the error place's sink raises KeyboardInterrupt or the like: parked
                self._failed(t, consumed, exc, where)
            return
        self._failed(t, consumed, exc, where)

    def _failed(self, t: TransitionState, consumed: Consumed, exc: BaseException, where: str) -> None:
        """Tell the observers, the errors kept and the log that a firing failed (its tokens ``where``)."""
        err_place = t.error_place
        if self._report.watched:
            self._report.failed(t.qname, consumed, exc, None if err_place is None else err_place.qname)
            if self._report.held:  # the parked tokens' sink failures: see IOPlaces.put
                self._report.tell_held()
        self._report.record(
            fix_last(
                f"transition {t.qname!r} failed with {type(exc).__name__}: {exc}",
                f"; its {len(consumed._took)} consumed token(s) were {where}",
                otherwise=_fix(t, exc),
            ),
            exc,
            transition=t.qname,
            place=getattr(exc, "place", None),
        )

    def cancelled(self, t: TransitionState, consumed: Consumed, *, outside: bool) -> None:
        """A suspended firing was cancelled: its tokens go back to their input places.

        By ``stop()`` (``outside=False``) that is all; cancelled from outside the runner (by the
        application, or a shutdown), the transition is then blocked like after a failure, so that the
        work someone just stopped is not restarted at once.
        """
        self._ready.end_flight(t, consumed)
        self._report.stats.cancelled += 1
        self.give_back(t, consumed, notify=True)
        if self._report.watched:
            self._report.cancelled(t.qname, consumed)
        if outside and self._ready.running:
            t.last_error = HandlerError(
                f"a firing of transition {t.qname!r} was cancelled from outside the runner. "
                f"Fix: {STOP_INSTEAD}",
                transition=t.qname,
            )
            t.interrupted = True
            retry = self._block(t)
            self._report.record(
                f"a firing of transition {t.qname!r} was cancelled from outside the runner; its "
                f"{len(consumed._took)} consumed token(s) were returned to their input places; {retry}. "
                f"Fix: {STOP_INSTEAD}",
                t.last_error,
                transition=t.qname,
            )
        self._ready.wake_idle()

    def _block(self, t: TransitionState) -> str:
        """Keep ``t`` from firing until a new token arrives or its retry timer expires; say which."""
        t.streak = t.streak + 1 if t.fired == t.fired_at_failure else 1
        t.fired_at_failure = t.fired
        t.blocked_gen = sum(p.gen for p, _ in t.inputs)
        if t.halted:  # a retry would take the tokens a KeyboardInterrupt or the like sent back
            return "it is retried when a new token reaches one of its inputs or the runner is started again"
        if t.retry_delay is None:
            return "it is retried when a new token reaches one of its inputs"
        delay = t.retry_delay.delay(t.streak) if isinstance(t.retry_delay, Backoff) else t.retry_delay
        if self._ready.running:
            t.retry.arm(self._io.timebase, delay, partial(self._retry, t))
        return f"it is retried in {delay:g} s, or when a new token reaches one of its inputs"

    def _park(self, t: TransitionState, consumed: Consumed, exc: BaseException) -> None:
        """Send every consumed token to the error place, wrapped in a FailedToken."""
        assert t.error_place is not None
        self.release(t)
        wrapped = []
        start = 0
        for p, w in t.inputs:
            for token in consumed._took[start : start + w]:
                wrapped.append(FailedToken(token, exc, t.qname, p.qname))
            start += w
        self._report.stats.parked += len(wrapped)
        if self._io.recorder is not None:
            self._io.recorder.parked_firing(t, consumed, t.error_place, wrapped)
        self._io.put(t.error_place, wrapped)

    def _retry(self, t: TransitionState) -> None:
        t.blocked_gen = None
        t.interrupted = t.halted = False
        self._ready.mark(t)

    def pause_retries(self, transitions: list[TransitionState]) -> None:
        """Cancel pending retry timers (the runner stops; :meth:`resume_retries` arms them again)."""
        for t in transitions:
            t.retry.cancel()

    def resume_retries(self, transitions: list[TransitionState]) -> None:
        """Arm again, with its full delay (a restored runner: at the deadline it had), the retry of
        every transition still blocked after a stop(); one whose firing was cancelled from outside the
        runner (e.g. when its event loop closed) may fire at once."""
        for t in transitions:
            if t.interrupted:
                t.interrupted = t.halted = False
                t.blocked_gen = None
            elif t.blocked_gen is not None and t.retry_delay is not None:
                if t.retry.due is not None:  # restored: the deadline it had
                    delay = t.retry.due - self._io.timebase.now()
                    t.retry.due = None
                    if delay <= 0:  # passed while the runner was down: retry now
                        self._retry(t)
                        continue
                else:
                    delay = (
                        t.retry_delay.delay(t.streak) if isinstance(t.retry_delay, Backoff) else t.retry_delay
                    )
                t.retry.arm(self._io.timebase, delay, partial(self._retry, t))


def _as_failure(t: TransitionState, exc: BaseException) -> BaseException:
    """A handler's own CancelledError (nothing cancelled its firing) is a failure like any other."""
    if isinstance(exc, Exception):
        return exc
    error = HandlerError(
        f"the handler of {t.qname!r} raised {type(exc).__name__} although nothing cancelled the firing "
        "(did it await a task or future that someone else cancelled?). Fix: catch that CancelledError "
        "in the handler",
        transition=t.qname,
    )
    error.__cause__ = exc
    return error


def _fix(t: TransitionState, exc: BaseException) -> str:
    """What to do about the failure ``exc`` of a firing of ``t``, when ``exc`` says nothing itself."""
    if isinstance(exc, RuntimeError) and ("inside a task" in str(exc) or "parent task" in str(exc)):
        return f"declare {t.qname!r} with eager=False (this handler needs its own task from its first line)"
    if t.error_place is None:
        return (
            f"handle {type(exc).__name__} in the handler of {t.qname!r}, or give it on_error='<a place>' so "
            "that a token it fails on does not hold back the others"
        )
    return (
        f"handle {type(exc).__name__} in the handler of {t.qname!r}, or deal with the FailedTokens in "
        f"{t.error_place.qname!r}"
    )
