"""The runner: runs one net, with one incremental scheduler that fires enabled transitions.

A runner owns its collaborators and wires them together once, when it is created:

* the runtime records of places and transitions (:mod:`.state`), built from the compiled plan;
* :class:`~.ready.Ready`: the ready queues, the running state and the idle waiters;
* :class:`~.reporting.Reporter`: counters, recent errors, logging and observers;
* :class:`~.inflight.InFlight`: the tasks of suspended firings and deliveries;
* :class:`~.ioplaces.IOPlaces`: token arrival, sinks and sources;
* :class:`~.failures.Failures`: error policies and retries;
* :class:`~.firing.Firing`: bindings, handler calls and commits;
* :class:`~.scheduler.Scheduler`: the scheduler pass.

The runner itself is the public face: lifecycle (``start``, ``stop``, ``run_until_idle``), tokens in
and out, inspection and observers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..common.callables import resolve
from ..common.codecs import JSON, CodecRegistry
from ..common.diagram import Diagram
from ..common.errors import ExecutionError, HandlerError, RoutingError
from ..common.observers import Observer
from ..common.store import Store
from ..common.timebase import Timebase, checked_timebase
from . import adding
from .arguments import bind_arguments
from .compile import compile_net
from .durable import Durable, check_options
from .failures import Failures
from .firing import Firing
from .inflight import InFlight, check_stop_timeout
from .ioplaces import IOPlaces
from .journal import DEFAULT_SNAPSHOT_EVERY
from .marking import Marking
from .mutation import NetChanges
from .netruntime import NetRuntime
from .ready import Ready
from .reporting import Reporter, RunnerStats, Stuck, log
from .scheduler import Scheduler
from .snapshot import RESTORING, Parts, document_of, hypha_codecs, read, teach_memory_codecs
from .spec import NetSpec, draw, net_of
from .state import PlaceState, TransitionState, link

__all__ = ["Runner"]


class Runner(NetChanges):
    """Runs a net: ``start()``, ``add_token()``, ``marking()``, ``run_until_idle()``, ``stop()``.

    The blackboard is used as is (never copied) and is passed, with the runner's timebase, to every
    handler, guard, source and sink.  Many runners can share one net spec.

    With ``store=`` (a :class:`~mycorrhizal.common.store.Store`, e.g. ``SQLiteStore("run.db")``) the
    runner journals every committed step of run ``run`` (default: the net's name) from its start or
    first :meth:`flush` (a snapshot holds what it had), and :meth:`recover` rebuilds it after a crash;
    ``codecs`` encodes tokens and ``ctx.memory`` for snapshots and the journal; a snapshot is
    journaled about every ``snapshot_every`` records.  See docs/durability.md.
    """

    def __init__(
        self,
        net: NetSpec,
        blackboard: Any = None,
        timebase: Timebase | None = None,
        *,
        codecs: CodecRegistry | None = None,
        store: Store | None = None,
        run: str | None = None,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> None:
        net = net_of(net)
        check_options(net, codecs, store, run, snapshot_every)
        self.net = net
        self.bb = blackboard
        self.timebase = checked_timebase(timebase, "Runner of net", net.name)
        self._flat = compile_net(net)
        self._places, self._transitions, levels = link(self._flat)
        self._sources = bind_arguments(self._flat, self._places, self._transitions, blackboard, self)
        self._names = [p.qname for p in self._places]
        self._ready = Ready(levels)
        self._report = Reporter(self._flat.name, self._transitions, self.timebase)
        self.observers = self._report.observers
        """What :meth:`add_observer` attaches to (runtimes living in transitions emit through it too)."""
        self._inflight = InFlight(self._ready)
        self._io = IOPlaces(self._ready, self._inflight, self._report, self.bb, self.timebase)
        self._failures = Failures(self._ready, self._io, self._report)
        self._firing = Firing(self, self._ready, self._inflight, self._io, self._failures, self._report)
        self._scheduler = Scheduler(self._ready, self._firing, self._failures, self._io, self._report)
        self._ready.fire = self._scheduler.run_pass
        self._stop_callbacks: list[Callable[[], object]] = []
        self.codecs = hypha_codecs(codecs if codecs is not None else CodecRegistry())
        """Encodes tokens and ``ctx.memory`` for snapshots and the journal."""
        teach_memory_codecs(self, self._flat.transitions)
        self._parts = Parts(
            self._flat.name,
            self._places,
            self._transitions,
            self._ready,
            self._report.stats,
            self.timebase,
            self.codecs,
            codecs is not None,
        )
        self._durable: Durable | None = None
        if store is not None:
            run = self._flat.name if run is None else run
            self._durable = Durable(store, run, snapshot_every, self._parts, self._io, self._report)
        self._runtime: NetRuntime | None = None
        self._holds: dict[TransitionState, int] = {}  # transitions a change holds (see .mutation)

    @property
    def stats(self) -> RunnerStats:
        """Counters: firings, failures, tokens returned or parked, deliveries, cancellations..."""
        return self._report.stats

    @property
    def errors(self) -> deque[HandlerError]:
        """The latest 256 handler/guard/sink/source errors (a guard's repeats in a streak left out)."""
        return self._report.errors

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, timebase: Timebase | None = None) -> None:
        """Start firing (and start the IO sources).  Starting a running runner does nothing.

        ``timebase``, if given, replaces the runner's timebase from now on (handlers, retries and
        ``stop(timeout=...)`` use it); it cannot change while the runner runs.
        """
        loop = asyncio.get_running_loop()
        ready = self._ready
        if timebase is not None and timebase is not self.timebase:
            self._use_timebase(checked_timebase(timebase, "Runner of net", self._flat.name), loop)
        if ready.running and ready.loop is loop:
            return
        if self._durable is not None:
            if self._durable.recorder is None:
                await self._durable.open_fresh()
            self._durable.started()
        if ready.loop is not loop:
            self._leave_loop()
        ready.loop = loop
        ready.running = True
        log.info(
            "net %s: runner started (%d places, %d transitions)",
            self._flat.name,
            len(self._places),
            len(self._transitions),
        )
        self._io.start_sources(self._sources)
        for t in self._transitions:
            ready.mark(t)
        self._failures.resume_retries(self._transitions)  # stop() cancelled them
        self._io.resume_retries(self._places)
        for p in self._places:
            if p.sink is not None and p.tokens:
                self._io.kick_sink(p)
        ready.schedule()

    async def stop(self, *, cancel: bool = False, timeout: float | None = None) -> None:
        """Stop firing and stop the sources.  No token is lost.

        In-flight firings finish and commit (``cancel=False``), or are cancelled and their consumed
        tokens returned to their input places (``cancel=True``).  With ``timeout`` (seconds on the
        runner's timebase), firings still in flight after that long are cancelled the same way.
        """
        check_stop_timeout(self._flat.name, timeout)
        if self._ready.loop is None:
            return
        self._ready.running = False
        for task in self._io.sources:
            task.cancel()
        self._failures.pause_retries(self._transitions)
        self._io.pause_retries(self._places)
        self._inflight.collecting()
        try:
            # timeout=0 cancels now: a timer at "now" fires only when a virtual clock is moved.
            if cancel or timeout == 0:
                self._inflight.cancel_all()
            pending = [*self._io.sources, *self._inflight.tasks]
            timer = None if not timeout else self.timebase.call_later(timeout, self._inflight.cancel_all)
            try:
                await asyncio.gather(*pending, return_exceptions=True)
            finally:
                if timer is not None:
                    timer.cancel()
        finally:
            self._inflight.settle()
        self._io.sources.clear()
        self._ready.wake_idle()
        await self._report.observers.drain()
        await self._stopped()
        if self._durable is not None:
            await self._durable.flush()

    def _use_timebase(self, timebase: Timebase, loop: asyncio.AbstractEventLoop) -> None:
        """Give every collaborator the new timebase; only while stopped (timers run on the old one)."""
        if self._ready.running and self._ready.loop is loop:
            old, new = type(self.timebase).__name__, type(timebase).__name__  # (a repr is "<... at 0x..>")
            given = f"another {new}, not the one it runs on" if new == old else f"one of type {new}"
            raise ExecutionError(
                f"runner of net {self._flat.name!r} is running on a timebase of type {old}, and start() was "
                f"given {given}; a running runner keeps its timebase. Fix: stop() it before starting it on "
                "the new timebase, or call start() without one to keep running"
            )
        self.timebase = timebase
        for part in (self._report, self._io, self._firing, self._scheduler, self._parts):
            part.timebase = timebase

    async def _stopped(self) -> None:
        for callback in list(self._stop_callbacks):
            try:
                await resolve(callback())
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
        self._ready.running = False
        self._ready.scheduled = False
        self._ready.idle_waiters = []
        self._io.sources = []
        self._inflight.forget_finished()
        for t in self._transitions:
            t.retry.cancel()
        for p in self._places:
            p.sink_retry.cancel()

    def add_stop_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` at the end of every :meth:`stop` (awaited if it returns an awaitable)."""
        self._stop_callbacks.append(callback)

    async def __aenter__(self) -> Runner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop(cancel=exc[0] is not None)

    async def run_until_idle(self) -> tuple[Stuck, ...]:
        """Start if needed, then wait until nothing can fire, nothing is in flight, every sink is
        idle and every source has finished or waits for room.

        Returns what is held back after a failure (see :meth:`stuck`; empty when nothing is), and
        logs it at WARNING: pending retries do not count as work, so a failing transition cannot keep
        this waiting forever, but it does not go unnoticed either.
        """
        if not self._ready.running or self._ready.loop is not asyncio.get_running_loop():
            await self.start()  # also picks the runner up on a new loop after its old one closed
        if not self._ready.scheduled and any(self._ready.levels):
            self._ready.schedule()  # transitions left ready by a pass a BaseException ended
        if not self._ready.idle():
            assert self._ready.loop is not None
            waiter: asyncio.Future[None] = self._ready.loop.create_future()
            self._ready.idle_waiters.append(waiter)
            await waiter
        stuck = self.stuck()
        for item in stuck:
            log.warning("net %s: idle, but %s", self._flat.name, item)
        return stuck

    def stuck(self) -> tuple[Stuck, ...]:
        """Transitions and sinks that have tokens they could take but wait after a failure (or after a
        firing was cancelled from outside, or ended by a ``KeyboardInterrupt`` or the like, or after
        their guard raised on the bindings it was shown and fired none): until their retry timer
        expires or a new token arrives; then the sources that failed since the
        runner started (they give no more tokens)."""
        found = []
        for t in self._transitions:
            blocked = t.blocked_gen is not None
            if (blocked or t.guard_error is not None) and all(len(p.tokens) >= w for p, w in t.inputs):
                waiting = sum(len(p.tokens) for p, _ in t.inputs)
                error, retry = (t.last_error, t.retry.at) if blocked else (t.guard_error, None)
                found.append(Stuck(t.qname, "transition", waiting, error, retry))
        found.extend(
            Stuck(p.qname, "sink", len(p.tokens), p.sink_error, p.sink_retry.at)
            for p in self._places
            if p.sink is not None and p.sink_blocked_gen is not None and p.tokens
        )
        found.extend(Stuck(name, "source", 0, error, None) for name, error in self._io.failed.items())
        return tuple(found)

    @property
    def spec(self) -> NetSpec:
        """The net this runner runs (also :attr:`net`)."""
        return self.net

    @property
    def blackboard(self) -> Any:
        """The blackboard handed to every handler (also :attr:`bb`)."""
        return self.bb

    @property
    def runtime(self) -> NetRuntime:
        """Places and transitions by the tuple of their name parts: ``runtime.places[("Net", "inbox")]``
        has ``tokens``, ``add_token(token)``, ``remove_tokens(tokens)``, ``peek_tokens(n)``."""
        if self._runtime is None:
            self._runtime = NetRuntime(self, self._flat, self._places, self._transitions, self._io)
        return self._runtime

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._ready.running

    @property
    def in_flight(self) -> int:
        """Firings and sink deliveries currently suspended in a handler."""
        return self._ready.inflight + self._ready.sinks_busy

    # -- tokens -----------------------------------------------------------------------------------

    def _place(self, place: Any) -> PlaceState:
        index = self._flat.place_aliases.get(place) if isinstance(place, str) else None
        if index is None:
            several = self._flat.ambiguous.get(place) if isinstance(place, str) else None
            if several:
                raise RoutingError(
                    f"{place!r} is ambiguous in net {self._flat.name!r}: it names {list(several)}. Fix: "
                    "use a qualified name, one of those",
                    place=str(place),
                )
            raise adding.unknown(self._flat.name, "place", place, self._names, self._flat.place_aliases)
        return self._places[index]

    def add_token(self, place: str, token: Any) -> None:
        """Put ``token`` into ``place`` (a ref, ``"inbox"``, ``"worker1.inbox"`` or ``"Top.worker1.inbox"``).

        Raises :class:`RoutingError` for an unknown place and :class:`CapacityError` when it is full.
        """
        p = self._place(place)
        adding.check_room(p)
        if self._durable is not None:
            self._durable.added(p, [token])
        self._io.put(p, (token,), False)

    def add_tokens(self, place: str, tokens: Iterable[Any]) -> None:
        """Put several tokens into ``place``, in order (all or none, if capacity would be exceeded).

        A str or bytes is refused (``ExecutionError``): it is one token, not one per character.
        """
        p = self._place(place)
        batch = adding.batch(p, tokens)
        if batch:
            if self._durable is not None:
                self._durable.added(p, batch)
            self._io.put(p, batch, False)

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
            raise adding.unknown(
                self._flat.name, "transition", transition, known, self._flat.transition_aliases
            )
        return self._transitions[index].memory

    # -- durability -------------------------------------------------------------------------------

    def snapshot(self, codecs: CodecRegistry | None = None) -> dict[str, JSON]:
        """The runner's state as a plain, versioned, JSON-compatible document (see docs/durability.md).

        Firings in flight have not committed: their tokens are written back in their input places.
        ``codecs`` (default: the runner's; another is taught its ``ctx.memory`` types) encodes tokens and
        ``ctx.memory``.  Call it between firings (not from a handler, guard, inline sink or plain observer).
        """
        return document_of(self._parts, codecs, self)

    @classmethod
    def restore(
        cls,
        net: NetSpec,
        document: JSON,
        blackboard: Any = None,
        timebase: Timebase | None = None,
        *,
        codecs: CodecRegistry | None = None,
        store: Store | None = None,
        run: str | None = None,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> Runner:
        """A fresh runner of ``net`` in the state :meth:`snapshot` wrote in ``document``, not started.

        It continues as the original would have (firings that were in flight run again from the
        start; retry deadlines are kept on the timebase).  With ``store=``, it journals a new run
        from that state when it starts.
        """
        runner = cls(
            net, blackboard, timebase, codecs=codecs, store=store, run=run, snapshot_every=snapshot_every
        )
        read(runner._parts, document, RESTORING)
        return runner

    @classmethod
    async def recover(
        cls,
        net: NetSpec,
        store: Store,
        blackboard: Any = None,
        timebase: Timebase | None = None,
        *,
        codecs: CodecRegistry | None = None,
        run: str | None = None,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> Runner:
        """A runner of ``net`` in the last committed state of run ``run`` in ``store`` (a fresh one if
        the store has no such run), journaling on from there; not started.

        Opening the run fences any older writer of it.  Nothing is replayed through handlers: the
        journal describes what firings committed.
        """
        runner = cls(
            net, blackboard, timebase, codecs=codecs, store=store, run=run, snapshot_every=snapshot_every
        )
        assert runner._durable is not None
        await runner._durable.recover()
        return runner

    async def flush(self) -> None:
        """Return once every step so far is durable (opening the journal first, if not yet started)."""
        if self._durable is not None:
            await self._durable.flush()

    @property
    def run(self) -> str | None:
        """The name of the run this runner journals (None without a store)."""
        return None if self._durable is None else self._durable.run

    def firing_key(self, transition: str, consumed: list[Any]) -> str:
        """The idempotency key of the firing of ``transition`` in flight with ``consumed`` (what
        ``ctx.idempotency_key`` gives); only a runner with a store has one."""
        if self._durable is None:
            raise HandlerError(
                f"transition {transition!r} asked for ctx.idempotency_key, which only a runner with a store "
                "has (token ids are durable only there). Fix: pass store=... to the Runner",
                transition=transition,
            )
        return self._durable.key(transition, consumed)

    # -- observers --------------------------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(event)`` with every event of :mod:`mycorrhizal.hypha.events` from now on.

        Plain functions run inline; ``async def`` observers get their events in order from a task of
        their own (``stop()`` waits until they have them all).  Costs nothing while no observer is
        attached.  An observer that raises is logged once at WARNING and detached.
        """
        self._report.observers.add(observer)
        self._report.refresh()

    def remove_observer(self, observer: Observer) -> None:
        """Stop calling ``observer``."""
        self._report.observers.remove(observer)
        self._report.refresh()

    # -- pictures ---------------------------------------------------------------------------------

    def to_diagram(self) -> Diagram:
        """The net's picture with the tokens now in each place and the firings now in flight."""
        return draw(
            self.net,
            {p.qname: len(p.tokens) for p in self._places},
            {t.qname: t.inflight for t in self._transitions if t.inflight},
        )

    def __repr__(self) -> str:
        state = "running" if self._ready.running else "stopped"
        return f"<hypha Runner {self._flat.name!r} {state}, {self.stats.firings} firings>"
