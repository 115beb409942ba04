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
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..common.diagram import Diagram
from ..common.errors import CapacityError, HandlerError, RoutingError
from ..common.timebase import Timebase, default_timebase
from .compiled import FlatNet
from .firing import _SETTLED, _Firing, _plain_outputs
from .handlers import Continue
from .marking import Marking, _Place
from .places import PlaceKind
from .render import net_diagram
from .runtime import _COROUTINE, FiringEvent, RunnerStats, _Transition, log
from .spec import NetSpec

__all__ = ["FiringEvent", "Runner", "RunnerStats"]

_BATCH = 4096  # firings per scheduler pass before yielding to the event loop


class Runner(_Firing):
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
        self._tasks: dict[asyncio.Task[Any], Callable[[], None] | None] = {}  # in start order
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
        loop = asyncio.get_running_loop()
        if self._running and self._loop is loop:
            return
        if self._loop is not loop:
            self._leave_loop()
        self._loop = loop
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
                task.add_done_callback(self._source_ended)
                self._sources.append(task)
        for t in self._transitions:
            self._mark(t)
            if t.blocked_gen is not None and t.retry_delay is not None:
                self._arm_retry(t)  # it failed before a stop(), which cancelled its retry
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

    def _leave_loop(self) -> None:
        """Forget what belonged to a previous event loop (its tasks were cancelled when it closed,
        which gave their tokens back); the runner then starts afresh on the current loop."""
        self._running = False
        self._scheduled = False
        self._idle_waiters = []
        self._sources = []
        self._tasks = {task: unstarted for task, unstarted in self._tasks.items() if not task.done()}
        for t in self._transitions:
            t.retry_handle = None

    def _cancel_in_flight(self) -> None:
        # Newest first: each returns its tokens to the front of its places, so the oldest
        # firing's tokens end up first again.
        for task in reversed(list(self._tasks)):
            self._cancel_task(task)

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
        if not self._running or self._loop is not asyncio.get_running_loop():
            await self.start()  # also picks the runner up on a new loop after its old one closed
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

    # -- tokens -----------------------------------------------------------------------------------

    def _place(self, place: Any) -> _Place:
        index = self._flat.place_aliases.get(place) if isinstance(place, str) else None
        if index is None:
            several = self._flat.ambiguous.get(place) if isinstance(place, str) else None
            if several:
                raise RoutingError(
                    f"{place!r} is ambiguous in net {self._flat.name!r}: it names {list(several)}; use a "
                    "qualified name",
                    place=str(place),
                )
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

    def memory(self, transition: str) -> dict[str, Any]:
        """The dict ``transition``'s handler sees as ``ctx.memory`` in this runner, for inspection."""
        index = self._flat.transition_aliases.get(transition) if isinstance(transition, str) else None
        if index is None:
            known = [t.qname for t in self._transitions]
            raise RoutingError(
                f"net {self._flat.name!r} has no transition {transition!r}; transitions: {known}",
                transition=str(transition),
            )
        return self._transitions[index].memory

    # -- scheduling -------------------------------------------------------------------------------

    def _run(self) -> None:
        """One scheduler pass: fire ready transitions, highest priority first, up to a batch."""
        self._debug = log.isEnabledFor(logging.DEBUG)
        levels = self._levels
        budget = _BATCH
        bb, timebase = self.bb, self.timebase
        try:
            while budget and self._running:
                for ready in levels:
                    if ready:
                        break
                else:
                    break
                t = ready.popleft()
                t.queued = False
                p = t.single
                if t.hot and t.blocked_gen is None and not self._debug and not self._observers:
                    # ``_fire_fast`` inlined for the hottest shape; any other outcome goes the long way.
                    if not p.tokens or t.inflight >= t.concurrency:  # type: ignore[union-attr]
                        continue
                    consumed = t.ccls((p.take(),))  # type: ignore[union-attr]
                    try:
                        coro = t.handler(consumed, bb, timebase)
                        first = coro.send(None)
                    except StopIteration as stop:
                        result = stop.value
                        if type(result) is dict and len(result) == 1:
                            ((key, value),) = result.items()
                            out = t.out_places.get(key)
                            if out is not None and type(value) is not list:
                                out.tokens.append(value)
                                out.gen += 1
                                for c in out.consumers:
                                    if not c.queued:
                                        c.queued = True
                                        c.ready.append(c)
                                if out.sink is not None:
                                    self._kick_sink(out)
                                t.fired += 1
                            else:
                                self._commit(t, consumed, result, None)
                        else:
                            self._commit(t, consumed, result, None)
                    except Exception as exc:
                        self._fail(t, consumed, exc)
                    except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
                        self._give_back(t, consumed, notify=True)
                        raise
                    else:
                        self._suspend(t, consumed, Continue(coro, first), None)
                elif not (self._fire_fast(t) if t.fast else self._try_fire(t)):
                    continue
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
        ctx = None
        try:
            if t.wants_ctx:
                ctx = self._context(t, consumed)
                result = t.handler(consumed, self.bb, self.timebase, ctx)
            else:
                result = t.handler(consumed, self.bb, self.timebase)
        except Exception as exc:
            self._fail(t, consumed, exc)
            return True
        except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._give_back(t, consumed, notify=True)
            raise
        if t.kind is _COROUTINE or asyncio.iscoroutine(result):
            result = self._first_step(t, consumed, result, ctx)
            if result is _SETTLED:
                return True
        if ctx is not None:
            result, ctx = _plain_outputs(result, ctx)
            if ctx is not None:
                self._commit(t, consumed, result, ctx)
                return True
        if type(result) is dict and len(result) == 1:
            ((key, value),) = result.items()
            out = t.out_places.get(key)
            if out is not None:
                if type(value) is list:
                    if value:
                        self._put(out, value)
                else:
                    # ``_put`` inlined for one token (and no ``_schedule``: we run inside ``_run``)
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

    # -- observers --------------------------------------------------------------------------------

    def add_observer(self, observer: Callable[[FiringEvent], object]) -> None:
        """Call ``observer(event)`` after every firing that commits, fails or is cancelled.

        Costs nothing while no observer is attached.  An observer that raises is logged and ignored.
        """
        self._observers.append(observer)

    def remove_observer(self, observer: Callable[[FiringEvent], object]) -> None:
        """Stop calling ``observer``."""
        self._observers.remove(observer)

    # -- pictures ---------------------------------------------------------------------------------

    def to_diagram(self) -> Diagram:
        """The net's picture with the tokens now in each place and the firings now in flight."""
        return net_diagram(
            self.net,
            {p.qname: len(p.tokens) for p in self._places},
            {t.qname: t.inflight for t in self._transitions if t.inflight},
        )

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<hypha Runner {self._flat.name!r} {state}, {self.stats.firings} firings>"
