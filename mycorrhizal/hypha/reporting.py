"""How a runner tells the world what happened: counters, the recent errors, the log and observers."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Literal

import attrs

from ..common.errors import ExecutionError, HandlerError, fix_last
from ..common.observers import Event, Observers, maker
from ..common.timebase import Timebase
from .context import Consumed
from .events import FiringCancelled, FiringCommitted, FiringFailed, FiringStarted, GuardFailed, by_place
from .state import TransitionState

__all__ = ["STOP_INSTEAD", "Reporter", "RunnerStats", "Stuck", "log"]

log = logging.getLogger("mycorrhizal.hypha")

STOP_INSTEAD = "stop the runner with runner.stop() (before its event loop ends), not by cancelling its tasks"
"""The fix when a firing or a sink's delivery was cancelled from outside the runner."""


class RunnerStats:
    """Counters a runner keeps (nothing is dropped without being counted)."""

    _COUNTERS = (
        "failures",
        "returned",
        "parked",
        "guard_errors",
        "delivered",
        "sink_failures",
        "source_errors",
        "cancelled",
    )
    __slots__ = ("_transitions", *_COUNTERS)
    _NAMES = ("firings", *_COUNTERS)

    def __init__(self, transitions: list[TransitionState]) -> None:
        self._transitions = transitions
        self.failures = 0
        """Firings whose handler raised or produced something invalid."""
        self.returned = 0
        """Tokens put back into their input places after a failure or a cancelled firing."""
        self.parked = 0
        """Tokens sent to an error place as FailedToken."""
        self.guard_errors = 0
        self.delivered = 0
        """Tokens handed to sinks successfully."""
        self.sink_failures = 0
        self.source_errors = 0
        self.cancelled = 0
        """Firings cancelled by stop(cancel=True) (their tokens were returned)."""

    @property
    def firings(self) -> int:
        """Firings committed (each transition counts its own: ``runner.fired()``)."""
        return sum(t.fired for t in self._transitions)

    def as_dict(self) -> dict[str, int]:
        """All counters by name."""
        return {name: getattr(self, name) for name in self._NAMES}

    def __repr__(self) -> str:
        return f"RunnerStats({self.as_dict()})"


@attrs.frozen
class Stuck:
    """A transition or sink that has tokens it could take, but waits after a failure; or a source
    that failed and produces no more tokens until the runner is started again."""

    name: str
    """Qualified name of the transition, or of the sink's place."""
    kind: Literal["transition", "sink", "source"]
    waiting: int
    """Tokens waiting for it: in the transition's input places, or in the sink's place (0 for a source)."""
    error: BaseException | None = attrs.field(eq=False)
    """Why it last failed (or was cancelled from outside; for a firing ended by a ``KeyboardInterrupt``
    or the like, that exception; for a guard that raised on the bindings it was shown, what it raised)."""
    retry_at: float | None
    """When it is retried, on the runner's timebase; None: only when a new token arrives."""

    def __str__(self) -> str:
        error = self.error
        why = "" if error is None else f" after {type(error).__name__}" + (f": {error}" if str(error) else "")
        if self.kind == "source":
            return f"source {self.name!r} stopped{why}"
        when = (
            "when a new token arrives"
            if self.retry_at is None
            else f"at {self.retry_at:g} or when a new token arrives"
        )
        held = f"{self.kind} {self.name!r} holds back {self.waiting} token(s){why}"
        return fix_last(held, f"; retried {when}")  # (the error's fix, if it says one, last)


_started = maker(FiringStarted)
_committed = maker(FiringCommitted)


class Reporter:
    """Counts, keeps the latest errors, logs and emits events for one runner.

    ``watched``, ``starts`` and ``debug`` are plain flags the firing paths test before building an
    event or a log line; :meth:`refresh` sets them once per scheduler pass and on every observer
    change, the last observer detached for raising in the middle of a pass too, and the last one
    asking for :class:`FiringStarted` (see :meth:`started`), so no record is built for nobody; with
    nothing attached and DEBUG off a firing pays two attribute tests.
    """

    __slots__ = (
        "name",
        "stats",
        "errors",
        "observers",
        "watched",
        "starts",
        "debug",
        "now",
        "held",
        "_timebase",
    )

    def __init__(self, name: str, transitions: list[TransitionState], timebase: Timebase) -> None:
        self.name = name
        self.stats = RunnerStats(transitions)
        self.errors: deque[HandlerError] = deque(maxlen=256)
        self.observers = Observers(log, f"net {name!r}")
        self.observers.watch(self._watching)
        self.watched = False
        self.starts = False
        """Whether an observer asks for :class:`FiringStarted` records (told on request, see
        ``Event.on_request``)."""
        self.debug = False
        self.held: list[Event] = []
        """Records of sink failures during a step that tells its own record after them (a commit's
        inline sink raising): told by :meth:`tell_held` once that record is, so that no observer
        sees a token fail before the record that put it in the sink's place."""
        self._timebase = timebase
        self.now = timebase.now
        """The timebase's ``now``, read once when the timebase is set: the firing records' time."""

    @property
    def timebase(self) -> Timebase:
        """The runner's timebase (set again when the runner starts on another one)."""
        return self._timebase

    @timebase.setter
    def timebase(self, timebase: Timebase) -> None:
        self._timebase = timebase
        self.now = timebase.now

    def refresh(self) -> None:
        """Read the log level and whether anything observes the runner."""
        self.debug = log.isEnabledFor(logging.DEBUG)
        self.watched = self.observers.active
        self.starts = self.watched and FiringStarted in self.observers.requested
        if not self.watched and self.held:  # (the last observer went during a step: for nobody)
            self.held.clear()

    def _watching(self, active: bool) -> None:
        """The first observer came, or the last went (removed, or detached for raising mid-step)."""
        self.refresh()

    def record(
        self,
        message: str,
        exc: BaseException,
        *,
        transition: str | None = None,
        place: str | None = None,
        handled: bool = True,
        quiet: bool = False,
    ) -> None:
        """Keep a failure in ``errors`` (a HandlerError caused by ``exc``) and log it.

        A handled failure (its tokens were returned, parked or will be retried) is one WARNING line,
        with the traceback at DEBUG; one that ends something for good is an ERROR with the traceback.
        A ``quiet`` one (a repeat already logged and kept) is logged at DEBUG only and not kept.
        """
        if quiet:
            # Not kept: a guard raising on every binding would fill ``errors`` with copies of one
            # failure and push out the others (a handler's) a user looks there for.
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s", message, exc_info=exc)
            return
        error = HandlerError(message, transition=transition, place=place)
        if isinstance(exc, ExecutionError):  # where in a handler's tree or machine: not only in __cause__
            error.state, error.node = exc.state, exc.node
        error.__cause__ = exc
        self.errors.append(error)
        if not handled:
            log.error("%s", message, exc_info=exc)
            return
        log.warning("%s", message)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("traceback of: %s", message, exc_info=exc)

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the observers (callers test ``watched`` first)."""
        self.observers.emit(event)

    def tell_held(self, start: int = 0) -> None:
        """Hand the observers the records :attr:`held` since ``start`` (its length before the step
        that held them), in order; those held before stay for the step that held them."""
        held = self.held
        told = held[start:]
        del held[start:]  # first: an observer may start a step that holds records of its own
        for event in told:
            self.observers.emit(event)

    # The records of a firing (callers test ``watched`` first), built positionally: the hot path
    # of an observed net.

    def started(self, transition: str, took: tuple[Any, ...], consumed: Consumed) -> bool:
        """Tell observers that want it: a firing of ``transition`` took ``took`` (``consumed``: the
        handler's list of them, which knows their places); whether any observer was told."""
        if not self.starts:
            return False
        observers = self.observers
        send = observers.senders.get(FiringStarted)  # its askers, made again after observers change
        if send is None:
            # The observers changed since: maybe (an observer detached for raising, mid-pass) the
            # last one asking for these records went while others stay, which tells no one here.
            self.refresh()
            if not self.starts:
                return False
            send = observers.sender(FiringStarted)
        grouped = by_place(consumed, took)  # (the list's _took may not be set yet: hot paths)
        now = self.now  # an attribute read (specialised), then a call: no method lookup
        record = _started((self.name, now(), transition, grouped))
        try:
            if (result := send(record)) is not None:
                observers.returned(send, result)
        except Exception as exc:
            observers.failed(send, exc, record)
        return True

    def committed(self, transition: str, consumed: Consumed, produced: Any) -> None:
        """Tell observers: a firing of ``transition`` took ``consumed`` and produced ``produced``
        (the commit's (place, tokens) pairs; the record groups both by place when read)."""
        now = self.now  # as in started()
        record = _committed((self.name, now(), transition, consumed, produced))
        observers = self.observers
        send = observers.send  # the lone observer itself, called without emit()'s frame
        try:
            if (result := send(record)) is not None:
                observers.returned(send, result)
        except Exception as exc:
            observers.failed(send, exc, record)

    def failed(
        self, transition: str, consumed: Consumed, error: BaseException, error_place: str | None
    ) -> None:
        """Tell observers: a firing of ``transition`` failed (see :class:`FiringFailed`)."""
        fields = self.fields(transition, consumed)
        self.observers.emit(FiringFailed(**fields, error=error, error_place=error_place))

    def cancelled(self, transition: str, consumed: Consumed) -> None:
        """Tell observers: a firing of ``transition`` was cancelled, its tokens returned."""
        self.observers.emit(FiringCancelled(**self.fields(transition, consumed)))

    def guard_failed(self, transition: str, consumed: Consumed, error: BaseException) -> None:
        """Tell observers: the guard of ``transition`` raised on the binding ``consumed``."""
        self.observers.emit(GuardFailed(**self.fields(transition, consumed), error=error))

    def fields(self, transition: str, consumed: Consumed) -> dict[str, Any]:
        """The fields every firing event has: source, time, transition and consumed by place."""
        return {
            "source": self.name,
            "time": self.now(),
            "transition": transition,
            "consumed": by_place(consumed),
        }
