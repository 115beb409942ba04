"""Failed firings: the error policies (tokens back to their places, or to an error place) and the
rule that keeps a failing handler from spinning."""

from __future__ import annotations

from functools import partial

from .ioplaces import _IOPlaces
from .places import FailedToken
from .runtime import _Transition
from .transitions import Consumed

__all__: list[str] = []


class _Failures(_IOPlaces):
    """Releasing held room, giving tokens back, error places and retries."""

    def _release(self, t: _Transition) -> None:
        """Give back the room a firing held in its bounded places (it committed or failed)."""
        for p, hold in t.holds:
            p.reserved -= hold
            self._freed(p)

    def _give_back(self, t: _Transition, consumed: Consumed, *, notify: bool) -> None:
        """Return consumed tokens to their input places (front of a QUEUE), as if never taken."""
        for p, hold in t.holds:
            p.reserved -= hold
            self._freed(p)  # an output's held room is free again (a failing t stays blocked)
        start = 0
        for p, w in t.inputs:
            p.restore(list.__getitem__(consumed, slice(start, start + w)))
            start += w
            if notify:  # the tokens were missing while in flight: others may want them now
                for c in p.consumers:
                    if c is not t:
                        self._mark(c)
        self.stats.returned += len(consumed)

    def _fail(self, t: _Transition, consumed: Consumed, exc: Exception) -> None:
        """A firing failed: apply the transition's error policy; never lose a token."""
        self.stats.failures += 1
        if self._observers:
            self._emit("failed", t, consumed, {}, exc)
        err_place = t.error_place
        if err_place is None:
            self._give_back(t, consumed, notify=True)
            # Not retried until a new token reaches one of its inputs (or the retry delay passes).
            t.blocked_gen = sum(p.gen for p, _ in t.inputs)
            where = "returned to their input places"
            if t.retry_delay is not None and self._running:
                self._arm_retry(t)
        else:
            self._release(t)
            wrapped = []
            start = 0
            for p, w in t.inputs:
                for token in list.__getitem__(consumed, slice(start, start + w)):
                    wrapped.append(FailedToken(token, exc, t.qname, p.qname))
                start += w
            self.stats.parked += len(wrapped)
            self._put(err_place, wrapped)
            where = f"sent to error place {err_place.qname!r}"
        hint = ""
        if isinstance(exc, RuntimeError) and ("inside a task" in str(exc) or "parent task" in str(exc)):
            hint = " (this handler needs its own task from its first line: declare it with eager=False)"
        self._record(
            f"transition {t.qname!r} failed with {type(exc).__name__}: {exc}{hint}; its {len(consumed)} "
            f"consumed token(s) were {where}",
            exc,
            transition=t.qname,
            place=getattr(exc, "place", None),
        )

    def _arm_retry(self, t: _Transition) -> None:
        """Retry ``t`` after its ``retry_delay`` (stop() cancels the timer; start() arms it again)."""
        assert t.retry_delay is not None
        if t.retry_handle is not None:
            t.retry_handle.cancel()
        t.retry_handle = self.timebase.call_later(t.retry_delay, partial(self._retry, t))

    def _retry(self, t: _Transition) -> None:
        t.retry_handle = None
        t.blocked_gen = None
        self._mark(t)
