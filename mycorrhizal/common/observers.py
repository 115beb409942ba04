"""One way for every engine to tell the outside world what happened: observers of event records.

Each runtime (a state machine, a net's runner, a tree's runner) owns one :class:`Observers` and
emits small frozen :class:`Event` records into it.  Logging, OCEL event logs, metrics and the live
view are all observers.  With nothing attached, emitting costs the runtime one truth test
(``if self._observers:``), so engines guard the construction of each record with it.

Observers may be plain functions or ``async def``.  A plain observer runs inline, at the moment of
the event.  An async observer gets its own queue and one task that awaits it for each event in
order, so a slow observer never reorders events and never blocks the engine; :meth:`Observers.drain`
waits until every queued event was delivered (runtimes call it when they are closed), so nothing is
lost at shutdown.  An observer that raises is logged once at WARNING and detached: it never breaks
the run it watches.

A few records are told *on request* (their class says ``on_request = True``): those that announce
what the record ending the same step tells again in full -- septum's ``StateLeft`` of a
transition's source (the ``StateEntered`` that follows names it and the label), hypha's ``FiringStarted`` (the
record ending the firing names the tokens it consumed), rhizomorph's ``TickStarted`` (``TickFinished``
names the tick).  They go only to observers that ask for them with a ``wants(kind)`` attribute (a
method, or a function attribute: :func:`wants_all` sets one); every other record goes to every
observer.  So an observer told everything costs a plain transition or firing one record, not two.
(septum's ``MessageHandled`` is told on request only when a transition's ``StateEntered``, naming
the message, follows; a statechart's ``StateLeft`` of a state other than the source goes to
everyone.)  A plain observer with a ``take_requested`` attribute gets the records told on request
through it instead (mycelium's forwarders tell those on to the net's askers only).  An observer
with an ``on_detached`` attribute has it called (with no argument) when it stops being called: removed
with ``remove_observer``, or detached for raising (spores' observations so know they may be attached
again).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar, TypeVar

import attrs

from .frozen import FrozenRecord, field, maker

__all__ = ["Dropped", "Event", "Forwarded", "Observer", "Observers", "maker", "wants_all"]

# ``maker`` lives in frozen.py; engines import it from here with Event.

Observer = Callable[[Any], "Awaitable[object] | object"]
"""What ``add_observer`` accepts: ``fn(event)``, plain or ``async def``."""


class Event(FrozenRecord):
    """Base of every event record: which runtime it came from and when, on that runtime's timebase."""

    source: str
    """The name of the machine, net or tree that emitted the event."""
    time: float
    """The runtime's timebase reading when the event happened."""

    on_request: ClassVar[bool] = False
    """True for the record classes told only to observers that ask for them (see the module)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("on_request"):
            ON_REQUEST.append(cls)


ON_REQUEST: list[type[Event]] = []
"""Every record class told on request (``on_request = True``), in the order they were defined."""

C = TypeVar("C", bound=Callable[..., Any])


def wants_all(callback: C) -> C:
    """Mark a function (or a method, in its class body) as an observer told every record, those
    told on request included: ``@wants_all`` sets its ``wants`` to say yes to every kind."""
    callback.wants = _yes  # type: ignore[attr-defined]
    return callback


def _yes(kind: type) -> bool:
    return True


def _asks(callback: Observer, kind: type, log: logging.Logger, raised: list[Observer]) -> bool:
    """Whether ``callback`` wants records of class ``kind`` (see :meth:`Observers.wants`).

    A ``wants`` is asked about every record class told on request, other engines' included, again
    at every change of the observers; one that raises (e.g. it reads an attribute only its own
    engine's records have) is taken for a no: it never breaks ``add_observer`` or the run.  It is
    logged at WARNING the first time only while the observer stays attached (``raised``: those
    logged already), then at DEBUG."""
    wants = getattr(callback, "wants", None)
    if wants is None:
        return not getattr(kind, "on_request", False)
    try:
        return bool(wants(kind))
    except Exception as exc:
        said = any(c is callback for c in raised)
        if not said:
            raised.append(callback)
        log.log(
            logging.DEBUG if said else logging.WARNING,
            "observer %r: wants(%s) raised %s: %s; it is not told those records, nor those of another "
            "class its wants() raises for (said once); let wants() return False for unknown classes",
            callback,
            getattr(kind, "__qualname__", kind),
            type(exc).__name__,
            exc,
        )
        return False


def _told_detached(attached: Observer) -> None:
    """Call the ``on_detached`` of an observer no longer called, if it has one (see the module)."""
    hook = getattr(attached, "on_detached", None)
    if hook is not None:
        hook()


def _same(attached: Observer, given: Observer) -> bool:
    """Whether ``given`` is the observer ``attached``: the same object, the same method of the same
    object (``obj.method`` makes a new bound method each time), or the object ``attached`` stands
    for (its ``stands_for`` attribute: spores' ``observe`` attaches a function of its observation's).
    Not equality: two observers of a class that compares by value (attrs, dataclasses, a list
    subclass) are two observers."""
    if attached is given or getattr(attached, "stands_for", None) is given:
        return True
    return isinstance(given, types.MethodType | types.BuiltinMethodType) and attached == given


class Forwarded(Event):
    """An event of a runtime living inside another, told to the outer one's observers.

    mycelium's nets forward what the state machines of their ``fsm=`` transitions and the trees of
    their ``bt=`` transitions emit: ``source`` is the net, ``time`` the inner event's time.
    """

    transition: str
    """Qualified name of the transition the machine or tree lives in."""
    key: Any = field(eq=False)
    """A machine's key (``fsm_key``'s value; None for a transition's only machine); for a tree, the
    token it decides about (None for a batch)."""
    event: Event
    """The machine's or tree's own record (``event.source`` is its name)."""
    runtime: Any = field(eq=False, default=None)
    """The machine (a septum ``StateMachine``) or tree run (a rhizomorph ``Runner``) that told
    ``event``, to read what a record does not say (the innermost state a statechart is in)."""


class Dropped(Event):
    """A machine living inside another runtime is gone: it tells nothing more.

    mycelium's nets tell it when the machine of ``key`` in ``transition`` (an ``fsm=`` transition)
    is let go.  ``reason``: ``"idle"`` or ``"lru"`` (evicted by ``fsm_idle_ttl`` or
    ``fsm_max_machines``), ``"stopped"`` (closed as the runner stopped) and ``"removed"`` (closed as
    its transition was removed from the running net, ``runner.remove``: told before the
    ``NetChanged``), told after the last record the machine told; ``"moved"`` (its key went to
    another runner) and ``"replaced"`` (a restored machine took its place), told as the pool lets it
    go, before its new owner closes it.
    An observer following each machine forgets this one; a later token for ``key`` starts a fresh
    machine, whose records begin with entering its initial state.
    """

    transition: str
    """Qualified name of the transition the machine lived in."""
    key: Any = field(eq=False)
    """The machine's key (None for a transition's only machine)."""
    reason: str
    """Why it went: ``"idle"``, ``"lru"``, ``"stopped"``, ``"removed"``, ``"moved"`` or ``"replaced"``."""


class _Queued:
    """An async observer's backlog and the one task that delivers it in order."""

    __slots__ = ("callback", "backlog", "task", "busy")

    def __init__(self, callback: Observer) -> None:
        self.callback = callback
        self.backlog: deque[Any] = deque()
        self.task: asyncio.Task[None] | None = None
        self.busy = False
        """Whether the task is delivering a record it took from the backlog."""


class Observers:
    """The observers attached to one runtime; false while none is attached."""

    __slots__ = (
        "_plain",
        "_only",
        "_queued",
        "_retired",
        "_raised",
        "_log",
        "_owner",
        "_watchers",
        "senders",
        "active",
        "send",
        "requested",
        "direct",
        "now",
    )

    def __init__(self, log: logging.Logger, owner: str, now: Callable[[], float] = time.monotonic) -> None:
        # Tuples, replaced (never changed in place) when an observer comes or goes: emit() walks
        # them without a copy, and an observer attached or detached by an observer takes effect
        # from the next event on.
        self._plain: tuple[Observer, ...] = ()
        self._queued: tuple[_Queued, ...] = ()
        # The observer when it is the only one and plain (emit's fast path), else None.
        self._only: Observer | None = None
        # Async observers removed while events were still queued for them: delivered, then dropped.
        self._retired: list[_Queued] = []
        self._raised: list[Observer] = []  # observers whose wants() raised, logged already
        self._log = log
        self._owner = owner
        self._watchers: list[Callable[[bool], object]] = []
        self.senders: dict[type, Observer] = {}
        """Per record class told on request, what :meth:`sender` returned for it (until the
        observers change): hot paths read ``senders.get(kind) or sender(kind)``, a frame less."""
        self.now = now
        """The owner's timebase reading (its ``timebase.now``): the time of the records it builds."""
        self.requested: frozenset[type] = frozenset()
        """The record classes told on request that an attached observer asks for: engines build
        such a record only if its class is in here."""
        self.active = False
        """True while an observer is attached (the same as ``bool(observers)``, read without a call)."""
        self.send: Observer = self.emit
        """What an engine's hot path calls with a record, inside ``try`` (see :meth:`failed`): the
        lone observer itself while it is the only one and plain (no :meth:`emit` frame in between),
        else :meth:`emit`."""
        self.direct: Observer | None = self.send
        """:attr:`send` while no attached observer asks for a record told on request
        (:attr:`requested` is empty), else None: a hot path whose step may also be told on request
        tests this one slot, without a call, before it builds a record."""

    def __bool__(self) -> bool:
        return self.active

    def __len__(self) -> int:
        return len(self._plain) + len(self._queued)

    def add(self, callback: Observer) -> None:
        """Attach ``callback``: called with every event from now on."""
        if not callable(callback):
            raise TypeError(
                f"{self._owner}: add_observer() takes a function called with each event, "
                f"got {callback!r}. Fix: pass a function or an async function"
            )
        # An ``async def`` function, or an object whose ``__call__`` is one.
        if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(type(callback).__call__):
            # Removed while records were still queued for it: its queue again, so that what comes
            # now is delivered after those, by the same task (a second one would interleave them).
            queued = next((q for q in self._retired if _same(q.callback, callback)), None)
            if queued is None:
                queued = _Queued(callback)
            else:
                self._retired.remove(queued)
            self._queued = (*self._queued, queued)
        else:
            self._plain = (*self._plain, callback)
        self._settle()

    def remove(self, callback: Observer) -> None:
        """Detach ``callback``; events already queued for an async observer are still delivered."""
        for i, plain in enumerate(self._plain):
            if _same(plain, callback):
                self._plain = self._plain[:i] + self._plain[i + 1 :]
                self._settle()
                _told_detached(plain)
                return
        for i, queued in enumerate(self._queued):
            if _same(queued.callback, callback):
                self._queued = self._queued[:i] + self._queued[i + 1 :]
                if queued.backlog or queued.task is not None:
                    self._retired.append(queued)
                self._settle()
                _told_detached(queued.callback)
                return
        raise ValueError(
            f"{self._owner}: remove_observer({callback!r}): that observer is not attached. "
            "Fix: pass the same object given to add_observer()"
        )

    def watch(self, callback: Callable[[bool], object]) -> None:
        """Call ``callback(True)`` when a first observer is attached and ``callback(False)`` when the
        last one goes (runtimes living inside this one start or stop forwarding their events)."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[bool], object]) -> None:
        """Stop calling a ``callback`` given to :meth:`watch`."""
        self._watchers.remove(callback)

    def _settle(self) -> None:
        """Update :attr:`active` after a change; tell the watchers if it flipped."""
        self._only = self._plain[0] if len(self._plain) == 1 and not self._queued else None
        self.send = self.emit if self._only is None else self._only
        self.senders = {}
        if self._raised:  # (one gone, then attached again, is logged again)
            attached = (*self._plain, *(q.callback for q in self._queued))
            self._raised = [c for c in self._raised if any(c is a for a in attached)]
        self.requested = frozenset(k for k in ON_REQUEST if self.wants(k))
        self.direct = None if self.requested else self.send
        was, now = self.active, bool(self._plain or self._queued)
        if now is not was:
            self.active = now
            for callback in tuple(self._watchers):
                callback(now)

    def wants(self, kind: type) -> bool:
        """Whether any attached observer wants records of class ``kind``.

        An observer says which records told on request it wants with a ``wants(kind) -> bool``
        attribute (a method of an observer object, or a function attribute); one without it wants
        every record but those.  Every other record goes to every observer.  Engines ask once per
        observer change, and build the records told on request only when someone wants them.
        """
        asks = partial(_asks, kind=kind, log=self._log, raised=self._raised)
        return any(asks(c) for c in (*self._plain, *(q.callback for q in self._queued)))

    def emit(self, event: Any) -> None:
        """Deliver ``event`` to every observer (plain ones now, async ones in order via their task)."""
        only = self._only
        if only is not None:  # the one observer is a plain one: the common case, without a loop
            try:
                result = only(event)
            except Exception as exc:
                self._detach(only, exc, event)
                return
            if result is not None and inspect.isawaitable(result):  # None: the usual case
                self._turn(only, result)
            return
        self._deliver(event, self._plain, self._queued)

    def emit_requested(self, event: Any, kind: type | None = None) -> None:
        """Deliver a record told on request to the observers that ask for its class (``kind``: the
        class asked about instead, e.g. a forwarded record's inner class)."""
        kind = kind or event.__class__
        send = self.senders.get(kind) or self.sender(kind)  # (a frame less once made)
        try:
            if (result := send(event)) is not None:
                self.returned(send, result)
        except Exception as exc:
            self.failed(send, exc, event)

    def sender(self, kind: type) -> Observer:
        """What delivers a record of class ``kind`` told on request, for hot paths to call as they
        call :attr:`send` (inside ``try``, see :meth:`failed`): the one observer asking for it
        while it is the only one and plain, else a function delivering to every observer asking."""
        send = self.senders.get(kind)
        if send is None:
            # A plain observer's ``take_requested`` takes these records in its place (see the module).
            asks = partial(_asks, kind=kind, log=self._log, raised=self._raised)
            plain = tuple(getattr(c, "take_requested", c) for c in self._plain if asks(c))
            queued = tuple(q for q in self._queued if asks(q.callback))
            if len(plain) == 1 and not queued:
                send = plain[0]
            else:

                def send(event: Any) -> None:
                    self._deliver(event, plain, queued)

            self.senders[kind] = send
        return send

    def _deliver(self, event: Any, plain: tuple[Observer, ...], queued: tuple[_Queued, ...]) -> None:
        """Call each of ``plain`` with ``event`` and queue it for each of ``queued``; taken before
        the first call, so an observer a plain one turns into (see :meth:`_turn`) gets the next."""
        for callback in plain:
            try:
                result = callback(event)
            except Exception as exc:
                self._detach(callback, exc, event)
                continue
            if result is not None and inspect.isawaitable(result):
                self._turn(callback, result)
        if queued:  # most runtimes have only plain observers: no loop over an empty tuple
            for each in queued:
                each.backlog.append(event)
                if each.task is None:
                    self._start(each)

    def failed(self, send: Observer, exc: Exception, event: Any) -> None:
        """What :attr:`send` raised when called with ``event``: ``send`` was the lone observer
        (:meth:`emit` raises nothing), which is logged and detached as :meth:`emit` would."""
        self._detach(send, exc, event)

    def returned(self, send: Observer, result: object) -> None:
        """What :attr:`send` returned when it was not None: an awaitable is delivered (the observer
        was an async one in disguise, see :meth:`emit`), anything else is ignored."""
        if inspect.isawaitable(result):
            self._turn(send, result)

    def _turn(self, callback: Observer, result: Awaitable[object]) -> None:
        """A plain callable that returned an awaitable is an async observer in disguise: ``result``
        is delivered through a queue, and the observer is treated as async from now on."""
        turned = _Queued(callback)
        if not any(c is callback for c in self._plain):  # it removed itself in that call: it stays so
            self._retired.append(turned)
            self._start(turned, _Ready(result))
            return
        self._plain = tuple(c for c in self._plain if c is not callback)
        self._queued = (*self._queued, turned)
        self._settle()
        self._start(turned, _Ready(result))

    async def drain(self) -> None:
        """Wait until every event emitted so far has been delivered to every async observer."""
        while True:
            busy = [q for q in (*self._queued, *self._retired) if q.backlog or q.task is not None]
            if not busy:
                return
            for queued in busy:
                if queued.task is None:
                    self._start(queued)
            await asyncio.gather(*(q.task for q in busy if q.task is not None))

    def _start(self, queued: _Queued, first: _Ready | None = None) -> None:
        if first is not None:  # (what a plain-looking observer returned: delivered first)
            queued.backlog.appendleft(first)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No loop yet (a machine stepped from synchronous code): the backlog waits for the
            # next emit or drain() that runs inside a loop.  Nothing is dropped.
            return
        queued.task = loop.create_task(self._pump(queued))
        queued.task.add_done_callback(partial(self._ended, queued))

    async def _pump(self, queued: _Queued) -> None:
        try:
            while queued.backlog:
                item = queued.backlog.popleft()
                queued.busy = True
                if isinstance(item, _Ready):
                    await item.awaitable
                else:
                    await queued.callback(item)  # type: ignore[misc]
                queued.busy = False
        except Exception as exc:
            queued.busy = False
            self._detach(queued.callback, exc, None)
            queued.backlog.clear()
        finally:
            queued.task = None
            if queued in self._retired and not queued.backlog:
                self._retired.remove(queued)

    def _ended(self, queued: _Queued, task: asyncio.Task[None]) -> None:
        """``queued``'s task is over: one cancelled (the loop ended, mostly: asyncio.run() cancels
        what is left) says how many records its observer did not get, the one it was handed too."""
        if queued.task is task:  # cancelled before it started: its finally never ran
            queued.task = None
        if task.cancelled() and (queued.backlog or queued.busy):
            self._log.warning(
                "%s: async observer %r was cancelled with %d records not delivered (the event loop "
                "ended?); await the runtime's aclose() (a net runner's stop()) before the program ends",
                self._owner,
                queued.callback,
                len(queued.backlog) + queued.busy,
            )
            queued.busy = False

    def _detach(self, callback: Observer, exc: Exception, event: Any) -> None:
        self._log.warning(  # (named by what it stands for: a function attached for an object)
            "%s: observer %r raised %s: %s; it is detached",
            self._owner,
            getattr(callback, "stands_for", callback),
            type(exc).__name__,
            exc,
        )
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug("observer failure on %r", event, exc_info=exc)
        gone = [
            c
            for c in self._plain
            # (or its take_requested: see sender; a method of it, a new bound method each read)
            if _same(c, callback) or _same(getattr(c, "take_requested", c), callback)
        ]
        gone += [q.callback for q in self._queued if _same(q.callback, callback)]
        self._plain = tuple(c for c in self._plain if not any(c is g for g in gone))
        self._queued = tuple(q for q in self._queued if not _same(q.callback, callback))
        self._retired = [q for q in self._retired if not _same(q.callback, callback)]
        self._settle()
        for attached in gone:
            _told_detached(attached)


@attrs.frozen(slots=True)
class _Ready:
    """The awaitable a plain-looking observer already returned for an event."""

    awaitable: Awaitable[object]
