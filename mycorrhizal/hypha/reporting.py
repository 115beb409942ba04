"""How a runner tells the world what happened: counters, the recent errors, the log and observers."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Literal

import attrs

from ..common.errors import HandlerError
from ..common.observers import Event, Observers
from ..common.timebase import Timebase
from .context import Consumed
from .state import TransitionState

__all__ = ["Reporter", "RunnerStats", "Stuck", "log"]

log = logging.getLogger("mycorrhizal.hypha")


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
    """Why it last failed (or was cancelled from outside)."""
    retry_at: float | None
    """When it is retried, on the runner's timebase; None: only when a new token arrives."""

    def __str__(self) -> str:
        why = "" if self.error is None else f" after {type(self.error).__name__}: {self.error}"
        if self.kind == "source":
            return f"source {self.name!r} stopped{why}"
        when = (
            "when a new token arrives"
            if self.retry_at is None
            else f"at {self.retry_at:g} or when a new token arrives"
        )
        return f"{self.kind} {self.name!r} holds back {self.waiting} token(s){why}; retried {when}"


class Reporter:
    """Counts, keeps the latest errors, logs and emits events for one runner.

    ``watched`` and ``debug`` are plain flags the firing paths test before building an event or a
    log line; :meth:`refresh` sets them once per scheduler pass (and on every observer change), so
    with nothing attached and DEBUG off a firing pays two attribute tests.
    """

    __slots__ = ("name", "stats", "errors", "observers", "watched", "debug", "timebase")

    def __init__(self, name: str, transitions: list[TransitionState], timebase: Timebase) -> None:
        self.name = name
        self.stats = RunnerStats(transitions)
        self.errors: deque[HandlerError] = deque(maxlen=256)
        self.observers = Observers(log, f"net {name!r}")
        self.watched = False
        self.debug = False
        self.timebase = timebase

    def refresh(self) -> None:
        """Read the log level and whether anything observes the runner."""
        self.debug = log.isEnabledFor(logging.DEBUG)
        self.watched = bool(self.observers)

    def record(
        self,
        message: str,
        exc: BaseException,
        *,
        transition: str | None = None,
        place: str | None = None,
        handled: bool = True,
    ) -> None:
        """Keep a failure in ``errors`` (a HandlerError caused by ``exc``) and log it.

        A handled failure (its tokens were returned, parked or will be retried) is one WARNING line,
        with the traceback at DEBUG; one that ends something for good is an ERROR with the traceback.
        """
        error = HandlerError(message, transition=transition, place=place)
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

    def fields(self, transition: str, consumed: Consumed) -> dict[str, Any]:
        """The fields every firing event has: source, time, transition and consumed by place."""
        return {
            "source": self.name,
            "time": self.timebase.now(),
            "transition": transition,
            "consumed": {q: tuple(tokens) for q, tokens in consumed.by_place().items()},
        }
