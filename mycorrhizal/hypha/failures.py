"""Failed firings: the error policies (tokens back to their places, or to an error place) and the
rule that keeps a failing handler from spinning."""

from __future__ import annotations

from functools import partial

from .context import Consumed
from .events import FiringFailed
from .ioplaces import IOPlaces
from .places import FailedToken
from .ready import Ready
from .reporting import Reporter
from .state import TransitionState

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
        start = 0
        for p, w in t.inputs:
            p.restore(list.__getitem__(consumed, slice(start, start + w)))
            start += w
            if notify:  # the tokens were missing while in flight: others may want them now
                for c in p.consumers:
                    if c is not t:
                        self._ready.mark(c)
        self._report.stats.returned += len(consumed)

    def fail(self, t: TransitionState, consumed: Consumed, exc: Exception) -> None:
        """A firing failed: apply the transition's error policy; never lose a token."""
        self._report.stats.failures += 1
        err_place = t.error_place
        if err_place is None:
            self.give_back(t, consumed, notify=True)
            # Not retried until a new token reaches one of its inputs (or the retry delay passes).
            t.blocked_gen = sum(p.gen for p, _ in t.inputs)
            where = "returned to their input places"
            if t.retry_delay is not None and self._ready.running:
                self.arm_retry(t)
        else:
            self._park(t, consumed, exc)
            where = f"sent to error place {err_place.qname!r}"
        if self._report.watched:
            error_place = None if err_place is None else err_place.qname
            self._report.emit(
                FiringFailed(**self._report.fields(t.qname, consumed), error=exc, error_place=error_place)
            )
        hint = ""
        if isinstance(exc, RuntimeError) and ("inside a task" in str(exc) or "parent task" in str(exc)):
            hint = " (this handler needs its own task from its first line: declare it with eager=False)"
        self._report.record(
            f"transition {t.qname!r} failed with {type(exc).__name__}: {exc}{hint}; its {len(consumed)} "
            f"consumed token(s) were {where}",
            exc,
            transition=t.qname,
            place=getattr(exc, "place", None),
        )

    def _park(self, t: TransitionState, consumed: Consumed, exc: Exception) -> None:
        """Send every consumed token to the error place, wrapped in a FailedToken."""
        assert t.error_place is not None
        self.release(t)
        wrapped = []
        start = 0
        for p, w in t.inputs:
            for token in list.__getitem__(consumed, slice(start, start + w)):
                wrapped.append(FailedToken(token, exc, t.qname, p.qname))
            start += w
        self._report.stats.parked += len(wrapped)
        self._io.put(t.error_place, wrapped)

    def arm_retry(self, t: TransitionState) -> None:
        """Retry ``t`` after its ``retry_delay`` (stop() cancels the timer; start() arms it again)."""
        assert t.retry_delay is not None
        if t.retry_handle is not None:
            t.retry_handle.cancel()
        t.retry_handle = self._io.timebase.call_later(t.retry_delay, partial(self._retry, t))

    def _retry(self, t: TransitionState) -> None:
        t.retry_handle = None
        t.blocked_gen = None
        self._ready.mark(t)

    def pause_retries(self, transitions: list[TransitionState]) -> None:
        """Cancel pending retry timers (the runner stops; :meth:`resume_retries` arms them again)."""
        for t in transitions:
            if t.retry_handle is not None:
                t.retry_handle.cancel()
                t.retry_handle = None

    def resume_retries(self, transitions: list[TransitionState]) -> None:
        """Arm the retry timer, with its full delay, of every transition that failed before a stop()."""
        for t in transitions:
            if t.blocked_gen is not None and t.retry_delay is not None:
                self.arm_retry(t)
