"""The runner: one incremental scheduler that fires enabled transitions of a net.

How it works, in short (docs/hypha.md has the full story):

* Every transition sits in at most one *ready* queue (one per priority level).  A transition is put
  there only when something that could enable it happens: a token arrives in one of its input
  places, room frees up in one of its bounded output places, one of its firings completes, or a
  retry timer expires.  Nothing is ever polled.
* The scheduler is a plain loop callback (``loop.call_soon``) that takes the highest-priority ready
  transition, checks it, and fires it.  It runs a bounded batch, then yields to the event loop.
* A handler is driven by hand first; if it finishes without suspending, its outputs are committed
  at once (no task).  If it suspends, it continues in an asyncio task; at most ``concurrency``
  firings of one transition are in flight.
* A firing is atomic.  Input tokens leave when it starts; outputs appear when it commits.  If the
  handler raises (or routes badly), the consumed tokens go back to their input places (the front of
  a QUEUE) or, wrapped in :class:`FailedToken`, to the transition's error place.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from ..common.errors import CapacityError, HandlerError, RoutingError
from ..common.timebase import Timebase, TimerHandle, default_timebase
from .compiled import FlatNet, FlatTransition
from .firing import Continue, collect, collect_async
from .marking import Marking, _Place
from .places import FailedToken, PlaceKind
from .spec import NetSpec
from .transitions import Consumed, FiringContext, HandlerKind

__all__ = ["FiringEvent", "Runner", "RunnerStats"]

log = logging.getLogger("mycorrhizal.hypha")

_BATCH = 4096  # firings per scheduler pass before yielding to the event loop
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

    __slots__ = (
        "_transitions",
        "failures",
        "returned",
        "parked",
        "guard_errors",
        "delivered",
        "sink_failures",
        "source_errors",
        "cancelled",
    )

    _NAMES = (
        "firings",
        "failures",
        "returned",
        "parked",
        "guard_errors",
        "delivered",
        "sink_failures",
        "source_errors",
        "cancelled",
    )

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
        "out_keys",
        "error_place",
        "retry_delay",
        "retry_handle",
        "memory",
        "fast",
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
        self.out_keys = flat.out_keys
        self.error_place = None if flat.error_place is None else places[flat.error_place]
        self.retry_delay = spec.retry_delay
        self.retry_handle: TimerHandle | None = None
        self.memory: dict[str, Any] = {}
        self.fired = 0
        # Each transition gets its own Consumed subclass carrying its input-name index, so building
        # the consumed list costs one call.
        self.ccls = type("Consumed", (Consumed,), {"__slots__": (), "_index": flat.in_keys})
        # The short path: no guard, no bounded place, no ctx, and a handler that is a plain function
        # or an eager coroutine.
        self.fast = (
            self.guard is None
            and not self.holds
            and not self.wants_ctx
            and (self.kind is _FUNCTION or (self.kind is _COROUTINE and self.eager))
        )


class Runner:
    """Runs a net: ``start()``, ``add_token()``, ``marking()``, ``run_until_idle()``, ``stop()``.

    The blackboard is used as is (never copied) and is passed, with the runner's timebase, to every
    handler, guard, source and sink.  Many runners can share one net spec.
    """

    def __init__(self, net: NetSpec, blackboard: Any = None, timebase: Timebase | None = None) -> None:
        if not isinstance(net, NetSpec):
            raise TypeError(f"Runner needs a net built with @pn.net or NetBuilder(...).build(), got {net!r}")
        self.net = net
        self.bb = blackboard
        self.timebase = timebase if timebase is not None else default_timebase()
        self.errors: deque[HandlerError] = deque(maxlen=256)
        """Recent handler/sink/source errors, each a HandlerError whose __cause__ is the original."""
        flat: FlatNet = net.flat()
        self._flat = flat
        self._places = [_Place(fp) for fp in flat.places]
        for fp in flat.places:
            if fp.error_place is not None:
                self._places[fp.index].error_place = self._places[fp.error_place]
        levels = sorted({ft.spec.priority for ft in flat.transitions}, reverse=True)
        self._ready_by_priority = {prio: deque() for prio in levels}  # type: dict[int, deque[_Transition]]
        self._levels = list(self._ready_by_priority.values())
        self._transitions = [
            _Transition(ft, self._places, self._ready_by_priority[ft.spec.priority])
            for ft in flat.transitions
        ]
        self.stats = RunnerStats(self._transitions)
        consumers: dict[int, list[_Transition]] = {i: [] for i in range(len(self._places))}
        producers: dict[int, list[_Transition]] = {i: [] for i in range(len(self._places))}
        for t in self._transitions:
            for p, _ in t.inputs:
                if t not in consumers[p.index]:
                    consumers[p.index].append(t)
            for p, _ in t.outputs:
                if t not in producers[p.index]:
                    producers[p.index].append(t)
        for p in self._places:
            p.consumers = tuple(consumers[p.index])
            p.producers = tuple(producers[p.index])
        self._names = [p.qname for p in self._places]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._scheduled = False
        self._inflight = 0
        self._tasks: dict[asyncio.Task[Any], None] = {}  # in start order
        self._sources: list[asyncio.Task[None]] = []
        self._sources_active = 0
        self._sources_waiting = 0
        self._sinks_busy = 0
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._debug = False
        self._observers: list[Callable[[FiringEvent], object]] = []
        self._stop_callbacks: list[Callable[[], object]] = []

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start firing (and start the IO sources).  Starting a running runner does nothing."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        log.info(
            "net %s: runner started (%d places, %d transitions)",
            self._flat.name,
            len(self._places),
            len(self._transitions),
        )
        for p in self._places:
            if p.kind is PlaceKind.IO_INPUT:
                self._sources_active += 1
                task = self._loop.create_task(self._pump(p), name=f"hypha source {p.qname}")
                self._sources.append(task)
        for t in self._transitions:
            self._mark(t)
        for p in self._places:
            if p.sink is not None and p.tokens:
                self._kick_sink(p)
        self._schedule()

    async def stop(self, *, cancel: bool = False, timeout: float | None = None) -> None:
        """Stop firing and stop the sources.  No token is lost.

        In-flight firings finish and commit (``cancel=False``), or are cancelled and their consumed
        tokens returned to their input places (``cancel=True``).  With ``timeout`` (seconds on the
        runner's timebase), firings still in flight after that long are cancelled the same way.
        """
        if self._loop is None:
            return
        self._running = False
        for task in self._sources:
            task.cancel()
        for t in self._transitions:
            if t.retry_handle is not None:
                t.retry_handle.cancel()
                t.retry_handle = None
        if cancel:
            self._cancel_in_flight()
        pending = [*self._sources, *self._tasks]
        if pending:
            timer = None if timeout is None else self.timebase.call_later(timeout, self._cancel_in_flight)
            try:
                await asyncio.gather(*pending, return_exceptions=True)
            finally:
                if timer is not None:
                    timer.cancel()
        self._sources.clear()
        self._wake_idle()
        for callback in list(self._stop_callbacks):
            try:
                callback()
            except Exception:
                log.exception("net %s: stop callback %r failed", self._flat.name, callback)
        log.info(
            "net %s: runner stopped (%d firings, %d failures)",
            self._flat.name,
            self.stats.firings,
            self.stats.failures,
        )

    def _cancel_in_flight(self) -> None:
        # Newest first: each returns its tokens to the front of its places, so the oldest
        # firing's tokens end up first again.
        for task in reversed(list(self._tasks)):
            task.cancel()

    def add_stop_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` at the end of every :meth:`stop` (e.g. to close embedded machines' timers)."""
        self._stop_callbacks.append(callback)

    async def __aenter__(self) -> Runner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop(cancel=exc[0] is not None)

    async def run_until_idle(self) -> None:
        """Start if needed, then wait until nothing can fire, nothing is in flight, every sink is
        idle and every source has finished or waits for room."""
        if not self._running:
            await self.start()
        if self._idle():
            return
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._idle_waiters.append(waiter)
        await waiter

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._running

    @property
    def in_flight(self) -> int:
        """Firings and sink deliveries currently suspended in a handler."""
        return self._inflight + self._sinks_busy

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

    # -- tokens -----------------------------------------------------------------------------------

    def _place(self, place: Any) -> _Place:
        index = self._flat.place_aliases.get(place) if isinstance(place, str) else None
        if index is None:
            raise RoutingError(
                f"net {self._flat.name!r} has no place {place!r}; places: {self._names}",
                place=str(place),
            )
        return self._places[index]

    def add_token(self, place: str, token: Any) -> None:
        """Put ``token`` into ``place`` (a ref, ``"inbox"``, ``"worker1.inbox"`` or ``"Top.worker1.inbox"``).

        Raises :class:`RoutingError` for an unknown place and :class:`CapacityError` when it is full.
        """
        p = self._place(place)
        if p.capacity is not None and len(p.tokens) + p.reserved >= p.capacity:
            raise CapacityError(
                f"place {p.qname!r} is full (capacity {p.capacity}); wait for room (run_until_idle) or "
                "raise its capacity",
                place=p.qname,
            )
        self._put(p, (token,))

    def add_tokens(self, place: str, tokens: Iterable[Any]) -> None:
        """Put several tokens into ``place``, in order (all or none, if capacity would be exceeded)."""
        p = self._place(place)
        batch = list(tokens)
        if p.capacity is not None and len(p.tokens) + p.reserved + len(batch) > p.capacity:
            raise CapacityError(
                f"place {p.qname!r} has room for {p.room()} more token(s), not {len(batch)}; add fewer or "
                "raise its capacity",
                place=p.qname,
            )
        if batch:
            self._put(p, batch)

    def marking(self) -> Marking:
        """Snapshot of the tokens in every place (tokens in flight in a handler are not in it)."""
        data = {p.qname: tuple(p.in_take_order()) for p in self._places}
        return Marking(data, self._flat.place_aliases, self._names)

    def fired(self) -> dict[str, int]:
        """Committed firings per transition (qualified name)."""
        return {t.qname: t.fired for t in self._transitions}

    def tokens(self, place: str) -> tuple[Any, ...]:
        """Tokens now in ``place``, in the order they would be taken."""
        return tuple(self._place(place).in_take_order())

    def _put(self, p: _Place, tokens: Iterable[Any]) -> None:
        """New tokens arrive in ``p``: store them and wake whoever may now fire."""
        p.tokens.extend(tokens)
        p.gen += 1
        for c in p.consumers:
            if not c.queued:
                c.queued = True
                c.ready.append(c)
        if p.sink is not None:
            self._kick_sink(p)
        if not self._scheduled:
            self._schedule()

    def _freed(self, p: _Place) -> None:
        """Room appeared in bounded ``p``: producers and waiting sources may continue."""
        for c in p.producers:
            self._mark(c)
        if p.room_waiters:
            waiters, p.room_waiters = p.room_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    # -- scheduling -------------------------------------------------------------------------------

    def _mark(self, t: _Transition) -> None:
        if not t.queued:
            t.queued = True
            t.ready.append(t)
            if not self._scheduled:
                self._schedule()

    def _schedule(self) -> None:
        if self._running and not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        """One scheduler pass: fire ready transitions, highest priority first, up to a batch."""
        self._debug = log.isEnabledFor(logging.DEBUG)
        levels = self._levels
        budget = _BATCH
        try:
            while budget and self._running:
                for ready in levels:
                    if ready:
                        break
                else:
                    break
                t = ready.popleft()
                t.queued = False
                if self._fire_fast(t) if t.fast else self._try_fire(t):
                    budget -= 1
                    if not t.queued:
                        t.queued = True
                        ready.append(t)
        except BaseException as exc:  # a bug here must not leave waiters hanging
            self._scheduled = False
            log.exception("net %s: scheduler failed", self._flat.name)
            for w in self._idle_waiters:
                if not w.done():
                    w.set_exception(exc)
            self._idle_waiters = []
            raise
        if self._running and any(levels):
            assert self._loop is not None
            self._loop.call_soon(self._run)
            return
        self._scheduled = False
        self._wake_idle()

    def _fire_fast(self, t: _Transition) -> bool:
        """``_try_fire`` for the common shape (see ``_Transition.fast``), with everything inlined."""
        p = t.single
        if p is not None:
            if not p.tokens or t.inflight >= t.concurrency:
                return False
            if t.blocked_gen is not None:
                return self._try_fire(t)
            consumed = t.ccls((p.take(),))
        else:
            if t.inflight >= t.concurrency:
                return False
            for q, w in t.inputs:
                if len(q.tokens) < w:
                    return False
            if t.blocked_gen is not None:
                return self._try_fire(t)
            taken = []
            for q, w in t.inputs:
                if w == 1:
                    taken.append(q.take())
                else:
                    take = q.take
                    for _ in range(w):
                        taken.append(take())
            consumed = t.ccls(taken)
        if t.kind is _COROUTINE:
            coro = None
            try:
                coro = t.handler(consumed, self.bb, self.timebase)
                first = coro.send(None)
            except StopIteration as stop:
                result = stop.value
            except Exception as exc:
                self._fail(t, consumed, exc)
                return True
            else:
                self._suspend(t, consumed, Continue(coro, first), None)
                return True
        else:
            try:
                result = t.handler(consumed, self.bb, self.timebase)
            except Exception as exc:
                self._fail(t, consumed, exc)
                return True
            if asyncio.iscoroutine(result):
                try:
                    first = result.send(None)
                except StopIteration as stop:
                    result = stop.value
                except Exception as exc:
                    self._fail(t, consumed, exc)
                    return True
                else:
                    self._suspend(t, consumed, Continue(result, first), None)
                    return True
        if type(result) is dict and len(result) == 1:
            ((key, value),) = result.items()
            index = t.out_keys.get(key)
            if index is not None:
                out = self._places[index]
                if type(value) is list:
                    if value:
                        self._put(out, value)
                else:
                    tokens = out.tokens
                    tokens.append(value)
                    out.gen += 1
                    for c in out.consumers:
                        if not c.queued:
                            c.queued = True
                            c.ready.append(c)
                    if out.sink is not None:
                        self._kick_sink(out)
                t.fired += 1
                if self._observers:
                    self._emit(
                        "fired", t, consumed, {out.qname: tuple(value) if type(value) is list else (value,)}
                    )
                if self._debug:
                    log.debug(
                        "fired %s: consumed %r, produced %r into %s",
                        t.qname,
                        list(consumed),
                        value,
                        out.qname,
                    )
                return True
        self._commit(t, consumed, result, None)
        return True

    def _try_fire(self, t: _Transition) -> bool:
        """Fire ``t`` once if it is enabled; return whether it fired."""
        if t.inflight >= t.concurrency:
            return False
        single = t.single
        if single is not None:
            if not single.tokens:
                return False
        else:
            for p, w in t.inputs:
                if len(p.tokens) < w:
                    return False
        for p, extra in t.room_checks:
            if len(p.tokens) + p.reserved + extra > p.capacity:  # type: ignore[operator]
                return False
        if t.blocked_gen is not None:
            if sum(p.gen for p, _ in t.inputs) == t.blocked_gen:
                return False
            t.blocked_gen = None
        if t.guard is not None:
            consumed = self._choose(t)
            if consumed is None:
                return False
        elif single is not None:
            consumed = t.ccls((single.take(),))
        else:
            taken = []
            for p, w in t.inputs:
                take = p.take
                for _ in range(w):
                    taken.append(take())
            consumed = t.ccls(taken)
        for p, hold in t.holds:
            p.reserved += hold  # held until the firing commits or fails
        self._call(t, consumed)
        return True

    def _choose(self, t: _Transition) -> Consumed | None:
        """Find the first binding (in take order) the guard accepts, and take its tokens."""
        guard = t.guard
        assert guard is not None
        arity = t.guard_arity
        snapshots = [(p, p.in_take_order(), w) for p, w in t.inputs]
        for combo in _bindings(snapshots, 0):
            flat_tokens = [tok for picks in combo for _, tok in picks]
            consumed = t.ccls(flat_tokens)
            try:
                if arity == 1:
                    ok = guard(consumed)
                elif arity == 2:
                    ok = guard(consumed, self.bb)
                else:
                    ok = guard(consumed, self.bb, self.timebase)
            except Exception as exc:
                self.stats.guard_errors += 1
                self._record(
                    f"guard of transition {t.qname!r} raised {type(exc).__name__}: {exc}; "
                    "the binding counts as not accepted",
                    exc,
                    transition=t.qname,
                )
                continue
            if ok:
                for (p, _, _), picks in zip(snapshots, combo, strict=True):
                    p.remove_at([i for i, _ in picks])
                return consumed
        return None

    # -- firing -----------------------------------------------------------------------------------

    def _call(self, t: _Transition, consumed: Consumed) -> None:
        """Run the handler on ``consumed``; commit inline if it does not suspend."""
        ctx = None
        if t.wants_ctx:
            ctx = FiringContext(
                t.qname, t.memory, self, t.flat.output_refs, consumed, self.bb, self.timebase, t.out_keys
            )
            args: tuple[Any, ...] = (consumed, self.bb, self.timebase, ctx)
        else:
            args = (consumed, self.bb, self.timebase)
        kind = t.kind
        try:
            if kind is _COROUTINE:
                result = t.handler(*args)
            elif kind is _FUNCTION:
                result = t.handler(*args)
                if not (result is None or type(result) is dict) and asyncio.iscoroutine(result):
                    pass  # a plain function that returned a coroutine: drive it like an async handler
                else:
                    self._commit(t, consumed, result, ctx)
                    return
            elif kind is HandlerKind.GENERATOR:
                self._commit(t, consumed, collect(t.handler(*args)), ctx)
                return
            else:
                result = collect_async(t.handler(*args))
        except Exception as exc:
            self._fail(t, consumed, exc)
            return
        # ``result`` is a coroutine here.
        if t.eager:
            try:
                first = result.send(None)
            except StopIteration as stop:
                self._commit(t, consumed, stop.value, ctx)
                return
            except Exception as exc:
                self._fail(t, consumed, exc)
                return
            awaitable: Any = Continue(result, first)
        else:
            awaitable = result
        self._suspend(t, consumed, awaitable, ctx)

    def _suspend(self, t: _Transition, consumed: Consumed, awaitable: Any, ctx: FiringContext | None) -> None:
        """The handler suspended: finish the firing in a task."""
        t.inflight += 1
        self._inflight += 1
        assert self._loop is not None
        task = self._loop.create_task(self._finish(t, consumed, awaitable, ctx))
        self._tasks[task] = None
        task.add_done_callback(self._forget)

    async def _finish(
        self, t: _Transition, consumed: Consumed, awaitable: Any, ctx: FiringContext | None
    ) -> None:
        """The rest of a firing whose handler suspended, in its own task."""
        try:
            result = await awaitable
        except asyncio.CancelledError:
            self._end_flight(t)
            self.stats.cancelled += 1
            if self._observers:
                self._emit("cancelled", t, consumed, {})
            self._give_back(t, consumed, notify=True)
            raise
        except Exception as exc:
            self._end_flight(t)
            self._fail(t, consumed, exc)
        except BaseException:
            self._end_flight(t)
            self._give_back(t, consumed, notify=True)
            raise
        else:
            self._end_flight(t)
            self._commit(t, consumed, result, ctx)
        self._mark(t)
        self._wake_idle()

    def add_observer(self, observer: Callable[[FiringEvent], object]) -> None:
        """Call ``observer(event)`` after every firing that commits, fails or is cancelled.

        Costs nothing while no observer is attached.  An observer that raises is logged and ignored.
        """
        self._observers.append(observer)

    def remove_observer(self, observer: Callable[[FiringEvent], object]) -> None:
        """Stop calling ``observer``."""
        self._observers.remove(observer)

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

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)

    def _end_flight(self, t: _Transition) -> None:
        t.inflight -= 1
        self._inflight -= 1

    def _commit(self, t: _Transition, consumed: Consumed, result: Any, ctx: FiringContext | None) -> None:
        """Validate every output first, then produce them all (or fail the firing as a whole)."""
        out_keys = t.out_keys
        if type(result) is dict and len(result) == 1 and ctx is None:
            # Fast path: one output place.
            ((key, value),) = result.items()
            index = out_keys.get(key)
            if index is not None:
                p = self._places[index]
                batch = value if type(value) is list else (value,)
                if p.capacity is None or len(p.tokens) + p.reserved - _held(t, p) + len(batch) <= p.capacity:
                    self._release(t)
                    t.fired += 1
                    if batch:
                        self._put(p, batch)
                    if self._observers:
                        self._emit("fired", t, consumed, {p.qname: tuple(batch)})
                    if self._debug:
                        log.debug(
                            "fired %s: consumed %r, produced %r into %s",
                            t.qname,
                            list(consumed),
                            batch,
                            p.qname,
                        )
                    return
        try:
            plan = self._plan(t, result, ctx)
        except Exception as exc:
            self._fail(t, consumed, exc)
            return
        self._release(t)
        t.fired += 1
        for p, batch in plan:
            self._put(p, batch)
        if self._observers:
            self._emit("fired", t, consumed, {p.qname: tuple(batch) for p, batch in plan})
        if self._debug:
            log.debug(
                "fired %s: consumed %r, produced %r",
                t.qname,
                list(consumed),
                {p.qname: batch for p, batch in plan},
            )

    def _plan(self, t: _Transition, result: Any, ctx: FiringContext | None) -> list[tuple[_Place, list[Any]]]:
        items: list[tuple[Any, Any]] = []
        if result is not None:
            if not isinstance(result, dict):
                raise HandlerError(
                    f"transition {t.qname!r} returned {type(result).__name__} {result!r}; a handler returns "
                    "(or yields) a dict {place: token} or None",
                    transition=t.qname,
                )
            items.extend(result.items())
        if ctx is not None:
            items.extend(ctx.emitted())
        per_place: dict[int, list[Any]] = {}
        for key, value in items:
            index = t.out_keys.get(key) if isinstance(key, str) else None
            if index is None:
                raise RoutingError(
                    f"transition {t.qname!r} may not produce into {key!r}: it has no output arc to that "
                    f"place (outputs: {list(t.flat.output_refs)}); add builder.arc(transition, place) or "
                    "outputs=[...]",
                    transition=t.qname,
                    place=str(key),
                )
            bucket = per_place.setdefault(index, [])
            if type(value) is list:
                bucket.extend(value)
            else:
                bucket.append(value)
        plan = []
        for index, batch in per_place.items():
            p = self._places[index]
            if p.capacity is not None and len(p.tokens) + p.reserved - _held(t, p) + len(batch) > p.capacity:
                raise CapacityError(
                    f"transition {t.qname!r} produced {len(batch)} token(s) into {p.qname!r}, which has room "
                    f"for {p.capacity - len(p.tokens) - p.reserved + _held(t, p)}; produce fewer, or raise "
                    "the capacity (the arc weight is the room a firing reserves)",
                    transition=t.qname,
                    place=p.qname,
                )
            if batch:
                plan.append((p, batch))
        return plan

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
                if t.retry_handle is not None:
                    t.retry_handle.cancel()
                t.retry_handle = self.timebase.call_later(t.retry_delay, lambda: self._retry(t))
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

    def _retry(self, t: _Transition) -> None:
        t.retry_handle = None
        t.blocked_gen = None
        self._mark(t)

    def _record(
        self, message: str, exc: BaseException, *, transition: str | None = None, place: str | None = None
    ) -> None:
        error = HandlerError(message, transition=transition, place=place)
        error.__cause__ = exc
        self.errors.append(error)
        log.error("%s", message, exc_info=exc)

    # -- sinks and sources ------------------------------------------------------------------------

    def _kick_sink(self, p: _Place) -> None:
        """Deliver waiting tokens of sink ``p`` one at a time, inline while the sink does not suspend."""
        if p.sink_busy or not self._running:
            return
        sink = p.sink
        assert sink is not None
        while p.tokens:
            if p.sink_blocked_gen is not None:
                if p.sink_blocked_gen == p.gen:
                    return
                p.sink_blocked_gen = None
            token = p.take()
            if p.capacity is not None:
                p.reserved += 1
            try:
                result = sink(token, self.bb, self.timebase)
                if asyncio.iscoroutine(result):
                    try:
                        first = result.send(None)
                    except StopIteration:
                        pass
                    else:
                        p.sink_busy = True
                        p.sink_token = token
                        self._sinks_busy += 1
                        assert self._loop is not None
                        task = self._loop.create_task(self._finish_sink(p, token, Continue(result, first)))
                        p.sink_task = task
                        self._tasks[task] = None
                        task.add_done_callback(self._forget)
                        return
            except Exception as exc:
                self._sink_failed(p, token, exc)
                continue
            self._delivered(p)

    def _delivered(self, p: _Place) -> None:
        self.stats.delivered += 1
        if p.capacity is not None:
            p.reserved -= 1
            self._freed(p)

    async def _finish_sink(self, p: _Place, token: Any, awaitable: Any) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            self._sink_done(p)
            if p.capacity is not None:
                p.reserved -= 1
            p.restore([token])
            raise
        except Exception as exc:
            self._sink_done(p)
            self._sink_failed(p, token, exc)
        else:
            self._sink_done(p)
            self._delivered(p)
        self._kick_sink(p)
        self._wake_idle()

    def _sink_done(self, p: _Place) -> None:
        p.sink_busy = False
        p.sink_token = None
        p.sink_task = None
        self._sinks_busy -= 1

    def _sink_failed(self, p: _Place, token: Any, exc: Exception) -> None:
        self.stats.sink_failures += 1
        if p.capacity is not None:
            p.reserved -= 1
        if p.error_place is not None:
            if p.capacity is not None:
                self._freed(p)
            self.stats.parked += 1
            self._put(p.error_place, (FailedToken(token, exc, p.qname, p.qname),))
            where = f"sent to error place {p.error_place.qname!r}"
        else:
            p.restore([token])
            p.sink_blocked_gen = p.gen  # retried when a new token arrives, not in a loop
            where = "kept at the head of the place"
        self._record(
            f"sink {p.qname!r} failed with {type(exc).__name__}: {exc}; the token was {where}",
            exc,
            place=p.qname,
        )

    async def _pump(self, p: _Place) -> None:
        """Feed io input place ``p`` from its source, waiting for room when it is full."""
        spec_source = self._flat.places[p.index].spec.source
        assert spec_source is not None
        try:
            source = spec_source(self.bb, self.timebase)
            async for token in _aiter(source):
                while p.capacity is not None and len(p.tokens) + p.reserved >= p.capacity:
                    assert self._loop is not None
                    waiter: asyncio.Future[None] = self._loop.create_future()
                    p.room_waiters.append(waiter)
                    self._sources_waiting += 1
                    self._wake_idle()
                    try:
                        await waiter
                    finally:
                        self._sources_waiting -= 1
                self._put(p, (token,))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.source_errors += 1
            self._record(
                f"source of {p.qname!r} failed with {type(exc).__name__}: {exc}; it produces no more tokens",
                exc,
                place=p.qname,
            )
        finally:
            self._sources_active -= 1
            self._wake_idle()

    # -- pictures ---------------------------------------------------------------------------------

    def to_diagram(self) -> Any:
        """The net's picture with the current number of tokens in each place."""
        from .render import net_diagram

        return net_diagram(self.net, {p.qname: len(p.tokens) for p in self._places})

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<hypha Runner {self._flat.name!r} {state}, {self.stats.firings} firings>"


def _held(t: _Transition, p: _Place) -> int:
    """Room a firing of ``t`` holds in ``p``."""
    for q, hold in t.holds:
        if q is p:
            return hold
    return 0


def _bindings(
    snapshots: list[tuple[_Place, list[Any], int]], i: int
) -> Iterator[tuple[tuple[tuple[int, Any], ...], ...]]:
    """Candidate bindings, lazily, in take order: for each input arc, ``weight`` distinct tokens."""
    if i == len(snapshots):
        yield ()
        return
    _, tokens, weight = snapshots[i]
    for picks in itertools.combinations(enumerate(tokens), weight):
        for rest in _bindings(snapshots, i + 1):
            yield (picks, *rest)


async def _aiter(source: Any) -> Any:
    """Iterate an async iterable, or a plain iterable, uniformly."""
    if hasattr(source, "__aiter__"):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item
