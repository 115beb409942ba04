"""Runtime state shared by the parts of a runner: per-transition state, counters, firing events,
and the base class with the scheduler's wake-up primitives."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import attrs

from ..common.errors import HandlerError
from ..common.timebase import Timebase, TimerHandle
from .compiled import FlatNet, FlatTransition
from .handlers import Continue
from .marking import _Place
from .transitions import Consumed, HandlerKind, consumed_class

__all__ = ["FiringEvent", "RunnerStats"]

log = logging.getLogger("mycorrhizal.hypha")

_COROUTINE = HandlerKind.COROUTINE
_FUNCTION = HandlerKind.FUNCTION


@attrs.frozen
class FiringEvent:
    """What an observer is told about one firing."""

    kind: str
    """``"fired"`` (committed), ``"failed"`` (handler raised or routed badly) or ``"cancelled"``."""
    transition: str
    consumed: tuple[Any, ...]
    produced: dict[str, tuple[Any, ...]] = attrs.field(eq=False)
    """Qualified place name -> tokens produced (empty unless committed)."""
    error: BaseException | None = attrs.field(default=None, eq=False)
    time: float = 0.0
    """The runner's timebase ``now()`` when the firing ended."""


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

    def __init__(self, transitions: list[_Transition]) -> None:
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


class _Transition:
    """A transition at run time: its compiled arcs and what changes (in-flight count, queue flag)."""

    __slots__ = (
        "flat",
        "qname",
        "handler",
        "kind",
        "wants_ctx",
        "eager",
        "inputs",
        "outputs",
        "holds",
        "room_checks",
        "single",
        "guard",
        "guard_arity",
        "concurrency",
        "inflight",
        "queued",
        "ready",
        "blocked_gen",
        "in_keys",
        "out_places",
        "error_place",
        "retry_delay",
        "retry_handle",
        "memory",
        "fast",
        "hot",
        "ccls",
        "fired",
    )

    def __init__(self, flat: FlatTransition, places: list[_Place], ready: deque[_Transition]) -> None:
        spec = flat.spec
        self.flat = flat
        self.qname = flat.qname
        self.handler = spec.handler
        self.kind = spec.kind
        self.wants_ctx = spec.wants_ctx
        self.eager = spec.eager
        self.inputs = tuple((places[i], w) for i, w in flat.inputs)
        self.outputs = tuple((places[i], w) for i, w in flat.outputs)
        # Capacity.  A firing holds room in every bounded place it touches from the moment it takes
        # its tokens until it commits or fails: the consumed tokens' room (so a failure can always
        # put them back) and the output arc weight (so the outputs fit).  In a place that is both
        # input and output the two overlap.  It is enabled only if that room is free now.
        w_in = {p: w for p, w in self.inputs if p.capacity is not None}
        w_out = {p: w for p, w in self.outputs if p.capacity is not None}
        self.holds = tuple((p, max(w_in.get(p, 0), w_out.get(p, 0))) for p in {**w_in, **w_out})
        self.room_checks = tuple((p, w - w_in.get(p, 0)) for p, w in w_out.items() if w - w_in.get(p, 0) > 0)
        # The common case gets a short path: one input arc of weight 1, no guard.
        self.single = self.inputs[0][0] if len(self.inputs) == 1 and self.inputs[0][1] == 1 else None
        self.guard = spec.guard
        self.guard_arity = spec.guard_arity
        self.concurrency = spec.concurrency
        self.inflight = 0
        self.queued = False
        self.ready = ready
        self.blocked_gen: int | None = None
        self.in_keys = flat.in_keys
        # any name of an output place -> the place itself
        self.out_places = {key: places[i] for key, i in flat.out_keys.items()}
        self.error_place = None if flat.error_place is None else places[flat.error_place]
        self.retry_delay = spec.retry_delay
        self.retry_handle: TimerHandle | None = None
        self.memory: dict[str, Any] = {}
        self.fired = 0
        # Each transition gets its own Consumed subclass carrying its input-name index, so building
        # the consumed list costs one call.
        self.ccls = consumed_class(flat.in_keys)
        # The short path: no guard, no bounded place, and a handler that is a plain function or an
        # eager coroutine.
        self.fast = (
            self.guard is None
            and not self.holds
            and (self.kind is _FUNCTION or (self.kind is _COROUTINE and self.eager))
        )
        # The hottest shape, which the scheduler loop runs inline: one input arc of weight 1 and an
        # eager coroutine handler without ctx.
        self.hot = self.fast and self.single is not None and self.kind is _COROUTINE and not self.wants_ctx


def _held(t: _Transition, p: _Place) -> int:
    """Room a firing of ``t`` holds in ``p``."""
    for q, hold in t.holds:
        if q is p:
            return hold
    return 0


class _RunnerBase:
    """What every part of a runner shares: its attributes, and the primitives that wake it up.

    The runner is assembled in layers, each a module of its own: this base, IO places
    (:mod:`.ioplaces`), failures (:mod:`.failures`), firing (:mod:`.firing`) and the public
    :class:`~mycorrhizal.hypha.runner.Runner`.
    """

    bb: Any
    timebase: Timebase
    stats: RunnerStats
    errors: deque[HandlerError]
    _flat: FlatNet
    _places: list[_Place]
    _transitions: list[_Transition]
    _levels: list[deque[_Transition]]
    _loop: asyncio.AbstractEventLoop | None
    _running: bool
    _scheduled: bool
    _inflight: int
    _tasks: dict[asyncio.Task[Any], Callable[[], None] | None]
    """Firing and sink tasks in start order -> what to do if the task is cancelled before its first
    step (see :meth:`_adopt`), or None once it has started."""
    _sources: list[asyncio.Task[None]]
    _sources_active: int
    _sources_waiting: int
    _sinks_busy: int
    _idle_waiters: list[asyncio.Future[None]]
    _debug: bool
    _observers: list[Callable[[FiringEvent], object]]
    _stop_callbacks: list[Callable[[], object]]

    def _run(self) -> None:
        """One scheduler pass (implemented by :class:`~mycorrhizal.hypha.runner.Runner`)."""
        raise NotImplementedError

    def _idle(self) -> bool:
        return (
            not self._scheduled
            and self._inflight == 0
            and self._sinks_busy == 0
            and self._sources_active == self._sources_waiting
        )

    def _wake_idle(self) -> None:
        if self._idle_waiters and (self._idle() or not self._running):
            waiters, self._idle_waiters = self._idle_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _freed(self, p: _Place) -> None:
        """Room appeared in bounded ``p``: producers and waiting sources may continue."""
        for c in p.producers:
            self._mark(c)
        if p.room_waiters:
            waiters, p.room_waiters = p.room_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _mark(self, t: _Transition) -> None:
        if not t.queued:
            t.queued = True
            t.ready.append(t)
            if not self._scheduled:
                self._schedule()

    def _schedule(self) -> None:
        if self._running and not self._scheduled and self._loop is not None:
            if self._loop.is_closed():
                # The loop this runner ran on is gone (e.g. a finished asyncio.run); the next
                # start() or run_until_idle() picks it up on the current loop.
                self._running = False
                return
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _record(
        self, message: str, exc: BaseException, *, transition: str | None = None, place: str | None = None
    ) -> None:
        error = HandlerError(message, transition=transition, place=place)
        error.__cause__ = exc
        self.errors.append(error)
        log.error("%s", message, exc_info=exc)

    def _emit(
        self,
        kind: str,
        t: _Transition,
        consumed: Consumed,
        produced: dict[str, tuple[Any, ...]],
        error: BaseException | None = None,
    ) -> None:
        event = FiringEvent(kind, t.qname, tuple(consumed), produced, error, self.timebase.now())
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception:
                log.exception("net %s: observer %r failed on %s", self._flat.name, observer, event)

    def _adopt(self, coro: Coroutine[Any, Any, None], unstarted: Callable[[], None]) -> None:
        """Run ``coro`` (a firing or delivery that suspended) in a task the runner keeps track of.

        The coroutine gives its tokens back itself when it is cancelled, but only once it has started:
        a task cancelled before its first step (``stop(cancel=True)`` or the event loop closing in the
        same loop iteration) never runs its body.  Until it starts, ``unstarted()`` does that job
        instead, at cancel time (:meth:`_cancel_task`) or at the latest when the task ends.
        """
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks[task] = unstarted
        task.add_done_callback(self._forget)

    def _started(self) -> None:
        """The first thing a task from :meth:`_adopt` does: it now cleans up after itself."""
        self._tasks[asyncio.current_task()] = None  # type: ignore[index]

    def _cancel_task(self, task: asyncio.Task[Any]) -> None:
        unstarted = self._tasks.get(task)
        if unstarted is not None:
            self._tasks[task] = None
            unstarted()
        task.cancel()

    def _forget(self, task: asyncio.Task[Any]) -> None:
        unstarted = self._tasks.pop(task, None)
        if unstarted is not None:
            unstarted()

    def _close_handler(self, awaitable: Any, what: str) -> None:
        """Close a handler's coroutine that will never be resumed (its ``finally`` blocks run)."""
        coro = awaitable.coro if isinstance(awaitable, Continue) else awaitable
        try:
            coro.close()
        except Exception as exc:
            self._record(f"{what} raised {type(exc).__name__} while being closed: {exc}", exc)

    def _end_flight(self, t: _Transition) -> None:
        t.inflight -= 1
        self._inflight -= 1
