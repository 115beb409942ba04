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
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

__all__ = ["Event", "Forwarded", "Observer", "Observers", "maker"]

Observer = Callable[[Any], "Awaitable[object] | object"]
"""What ``add_observer`` accepts: ``fn(event)``, plain or ``async def``."""


@attrs.frozen(slots=True, kw_only=True)
class Event:
    """Base of every event record: which runtime it came from and when, on that runtime's timebase."""

    source: str
    """The name of the machine, net or tree that emitted the event."""
    time: float
    """The runtime's timebase reading when the event happened."""


@attrs.frozen(slots=True, kw_only=True)
class Forwarded(Event):
    """An event of a runtime living inside another, told to the outer one's observers.

    mycelium's nets forward what the state machines of their ``fsm=`` transitions and the trees of
    their ``bt=`` transitions emit: ``source`` is the net, ``time`` the inner event's time.
    """

    transition: str
    """Qualified name of the transition the machine or tree lives in."""
    key: Any = attrs.field(eq=False)
    """A machine's key (``fsm_key``'s value; None for a transition's only machine); for a tree, the
    token it decides about (None for a batch)."""
    event: Event
    """The machine's or tree's own record (``event.source`` is its name)."""


R = TypeVar("R", bound=Event)


def maker(cls: type[R]) -> Callable[..., R]:
    """A function building ``cls`` records from every field's value, positionally, in the order
    ``attrs.fields(cls)`` lists them: ``maker(StateLeft)(source, time, state, label, target)``.

    What engines' hot paths call instead of the keyword ``__init__``: the record is the same (equal,
    frozen), made without parsing keywords or going through ``object.__setattr__`` field by field.
    Only for record classes whose fields have no converter and no validator.
    """
    names = []
    for field in attrs.fields(cls):
        if field.converter is not None or field.validator is not None:
            raise TypeError(f"maker({cls.__qualname__}): field {field.name!r} converts or validates")
        names.append(field.name)
    # Each field's slot descriptor, from the class in the hierarchy that declares it.
    setters = [next(k.__dict__[n] for k in cls.__mro__ if n in k.__dict__).__set__ for n in names]
    params = ", ".join(names)
    body = "".join(f"    _s{i}(record, {n})\n" for i, n in enumerate(names))
    source = f"def make({params}):\n    record = _new(_cls)\n{body}    return record\n"
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    scope.update({f"_s{i}": setter for i, setter in enumerate(setters)})
    exec(source, scope)  # noqa: S102 - generated from the class's own field names, as attrs does
    make: Callable[..., R] = scope["make"]
    make.__qualname__ = f"maker({cls.__qualname__})"
    return make


class _Queued:
    """An async observer's backlog and the one task that delivers it in order."""

    __slots__ = ("callback", "backlog", "task")

    def __init__(self, callback: Observer) -> None:
        self.callback = callback
        self.backlog: deque[Any] = deque()
        self.task: asyncio.Task[None] | None = None


class Observers:
    """The observers attached to one runtime; false while none is attached."""

    __slots__ = ("_plain", "_queued", "_retired", "_log", "_owner", "_watchers", "active")

    def __init__(self, log: logging.Logger, owner: str) -> None:
        # Tuples, replaced (never changed in place) when an observer comes or goes: emit() walks
        # them without a copy, and an observer attached or detached by an observer takes effect
        # from the next event on.
        self._plain: tuple[Observer, ...] = ()
        self._queued: tuple[_Queued, ...] = ()
        # Async observers removed while events were still queued for them: delivered, then dropped.
        self._retired: list[_Queued] = []
        self._log = log
        self._owner = owner
        self._watchers: list[Callable[[bool], object]] = []
        self.active = False
        """True while an observer is attached (the same as ``bool(observers)``, read without a call)."""

    def __bool__(self) -> bool:
        return self.active

    def __len__(self) -> int:
        return len(self._plain) + len(self._queued)

    def add(self, callback: Observer) -> None:
        """Attach ``callback``: called with every event from now on."""
        if not callable(callback):
            raise TypeError(
                f"{self._owner}: add_observer() takes a function called with each event, "
                f"got {callback!r}; pass a function or an async function"
            )
        # An ``async def`` function, or an object whose ``__call__`` is one.
        if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(type(callback).__call__):
            self._queued = (*self._queued, _Queued(callback))
        else:
            self._plain = (*self._plain, callback)
        self._settle()

    def remove(self, callback: Observer) -> None:
        """Detach ``callback``; events already queued for an async observer are still delivered."""
        for i, plain in enumerate(self._plain):
            if plain == callback:
                self._plain = self._plain[:i] + self._plain[i + 1 :]
                self._settle()
                return
        for i, queued in enumerate(self._queued):
            if queued.callback == callback:
                self._queued = self._queued[:i] + self._queued[i + 1 :]
                if queued.backlog or queued.task is not None:
                    self._retired.append(queued)
                self._settle()
                return
        raise ValueError(
            f"{self._owner}: remove_observer({callback!r}): that observer is not attached; "
            "pass the same object given to add_observer()"
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
        was, now = self.active, bool(self._plain or self._queued)
        if now is not was:
            self.active = now
            for callback in tuple(self._watchers):
                callback(now)

    def wants(self, kind: type) -> bool:
        """Whether any attached observer wants records of class ``kind``.

        An observer that only wants some records says so with a ``wants(kind) -> bool`` attribute
        (a method of an observer object, or a function attribute); one without it wants them all.
        Engines ask once per observer change, and do not build the records nobody wants.
        """
        for callback in (*self._plain, *(q.callback for q in self._queued)):
            wants = getattr(callback, "wants", None)
            if wants is None or wants(kind):
                return True
        return False

    def emit(self, event: Any) -> None:
        """Deliver ``event`` to every observer (plain ones now, async ones in order via their task)."""
        queued = self._queued  # not those a plain one turns into while this event is delivered
        for callback in self._plain:
            try:
                result = callback(event)
            except Exception as exc:
                self._detach(callback, exc, event)
                continue
            if result is not None and inspect.isawaitable(result):  # None: the usual case, in one test
                # A plain callable that returned an awaitable is an async observer in disguise:
                # deliver this event through a queue and treat it as async from now on.
                self._plain = tuple(c for c in self._plain if c is not callback)
                turned = _Queued(callback)
                self._queued = (*self._queued, turned)
                self._start(turned, _Ready(result))
        for each in queued:
            each.backlog.append(event)
            if each.task is None:
                self._start(each)

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
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No loop yet (a machine stepped from synchronous code): the backlog waits for the
            # next emit or drain() that runs inside a loop.  Nothing is dropped.
            if first is not None:
                queued.backlog.appendleft(first)
            return
        queued.task = loop.create_task(self._pump(queued, first))

    async def _pump(self, queued: _Queued, first: _Ready | None) -> None:
        try:
            if first is not None:
                await first.awaitable
            while queued.backlog:
                item = queued.backlog.popleft()
                if isinstance(item, _Ready):
                    await item.awaitable
                else:
                    await queued.callback(item)  # type: ignore[misc]
        except Exception as exc:
            self._detach(queued.callback, exc, None)
            queued.backlog.clear()
        finally:
            queued.task = None
            if queued in self._retired and not queued.backlog:
                self._retired.remove(queued)

    def _detach(self, callback: Observer, exc: Exception, event: Any) -> None:
        self._log.warning(
            "%s: observer %r raised %s: %s; it is detached", self._owner, callback, type(exc).__name__, exc
        )
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug("observer failure on %r", event, exc_info=exc)
        self._plain = tuple(c for c in self._plain if c != callback)
        self._queued = tuple(q for q in self._queued if q.callback != callback)
        self._retired = [q for q in self._retired if q.callback != callback]
        self._settle()


@attrs.frozen(slots=True)
class _Ready:
    """The awaitable a plain-looking observer already returned for an event."""

    awaitable: Awaitable[object]
