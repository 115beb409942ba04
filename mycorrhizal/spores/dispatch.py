"""The dispatcher: hands every record to the configured encoder and transport, in order, exactly once.

It is what makes any transport work with any caller (upstream lost records at both mismatches):

- a **record sink** (``write_event``/``write_object``, e.g. the OCEL 2.0 writers) gets the record
  itself, no encoding;
- a transport with ``send_nowait`` (:class:`~mycorrhizal.spores.transport.AsyncFileTransport`)
  is called directly from sync and async code alike; the lines of the hot paths are appended to
  the queue of a :class:`~mycorrhizal.spores.transport.LineQueue` (that one) without a call;
- a **sync** transport's ``send`` is called directly, from sync and async code alike;
- an **async** transport's ``send`` is awaited: directly by async callers (so a slow transport
  slows them down: back-pressure); from synchronous code the coroutine is queued and awaited, in
  order, by one task of the running loop, or on a private loop when none runs.  The queue is
  delivered by :meth:`Dispatcher.drain` / :meth:`Dispatcher.close` and at interpreter exit.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from json.encoder import encode_basestring_ascii as _text
from typing import Any

import mycorrhizal.spores.encoder as encoder

from . import lifecycle, models
from .encoder import Encoder, JSONEncoder, time_text
from .records import Attributes, RawEvent, RawObject, to_log_record
from .transport import LineQueue, RecordSink

__all__ = ["Dispatcher"]

_MICROS = encoder._MICROS  # "000".."999": the milliseconds and microseconds of a time

log = logging.getLogger("mycorrhizal.spores")


class Dispatcher:
    """Delivers records to one transport through one encoder (see the module documentation)."""

    __slots__ = (
        "transport",
        "encoder",
        "events",
        "objects",
        "failed",
        "unsent",
        "awaits",
        "lines",
        "_content_type",
        "_encode_event",
        "_encode_object",
        "_write_event",
        "_write_object",
        "_nowait",
        "queue",
        "host",
        "_async",
        "_backlog",
        "_pump",
        "_private",
    )

    def __init__(self, transport: Any, encoder: Encoder | None = None) -> None:
        self.transport = transport
        self.encoder: Encoder = encoder if encoder is not None else JSONEncoder()
        self.events = 0
        """Events handed to the transport so far (counted once it took them)."""
        self.objects = 0
        """Object records handed to the transport so far."""
        self.failed = 0
        """Records whose async send raised (each logged; they are in :attr:`events` or
        :attr:`objects`, as they were handed over).  A record the transport refuses by raising at
        once (a closed transport) is not counted: the caller gets the error."""
        self.unsent = 0
        """Records emitted while no transport was configured."""
        self._content_type = self.encoder.content_type()
        self._encode_event, self._encode_object = self._encoders(self.encoder)
        sink = transport if isinstance(transport, RecordSink) else None
        self._write_event: Callable[[RawEvent], None] | None = sink.write_event if sink else None
        self._write_object: Callable[[RawObject], None] | None = sink.write_object if sink else None
        self._nowait: Callable[[bytes, str], Any] | None = getattr(transport, "send_nowait", None)
        host: LineQueue | _Forward = _line_queue(transport) or _Forward(self._nowait or _nowhere)
        self.host = host
        """Where :attr:`queue` goes (see :class:`~mycorrhizal.spores.transport.LineQueue`): the
        transport itself, or one handing each line to its ``send_nowait``."""
        self.queue: list[bytes] = host.queue
        """What the hot paths append a line to while :attr:`lines`, then calling ``host.queued()``
        when it holds ``host.limit`` lines or more."""
        self.lines = self._nowait is not None and self._write_event is None and _stock(self.encoder)
        """Whether events may be handed over as the parts of their JSON line (:meth:`event_line`):
        the stock encoder, to a transport that queues without awaiting."""
        self._async = inspect.iscoroutinefunction(getattr(transport, "send", None))
        self.awaits = self._async and self._nowait is None and self._write_event is None
        """Whether async callers must await deliveries (an async transport); else ``event()`` will do."""
        self._backlog: deque[tuple[bytes, Awaitable[Any] | None]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._private: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def _encoders(
        encoder: Encoder,
    ) -> tuple[Callable[[RawEvent], bytes], Callable[[RawObject], bytes]]:
        if isinstance(encoder, JSONEncoder) and type(encoder).encode is JSONEncoder.encode:
            return encoder.encode_event, encoder.encode_object  # no model objects on the hot path

        def event(raw: RawEvent) -> bytes:
            return encoder.encode(to_log_record("event", raw))

        def obj(raw: RawObject) -> bytes:
            return encoder.encode(to_log_record("object", raw))

        return event, obj

    # -- emitting -----------------------------------------------------------------------------------

    def event(self, raw: RawEvent) -> None:
        """Deliver an event from any code; an async transport's send is queued, never dropped."""
        if self._write_event is not None:
            self._write_event(raw)
        elif self._nowait is not None:
            self._nowait(self._encode_event(raw), self._content_type)
        else:
            self._deliver(self._encode_event(raw))
        self.events += 1  # once taken: a record the transport refused (raised) is not counted

    def event_line(
        self, type_json: str, time: float, attributes_json: str, relations_json: str, ident: str = ""
    ) -> None:
        """Deliver an event given as the parts of its JSON line, while :attr:`lines` (the hot paths
        of adapters and observers: no record, no encoding step; the line is the one
        :meth:`JSONEncoder.encode_event` makes).  Its id is ``ident``, or (the default) a new one
        made in the line itself (no string of its own)."""
        second = encoder._second  # time_text(time) without its call: within the second, by table
        fraction = time - second[0]
        if 0.0 <= fraction < 0.999999:
            micros = int(fraction * 1_000_000.0 + 0.5)
            seconds, millis, rest = second[1], _MICROS[micros // 1000], _MICROS[micros % 1000]
        else:
            seconds, millis, rest = time_text(time), "", ""
        # generate_event_id()'s two parts, joined by the line's own f-string
        head, number = (models._PREFIX, next(models._counter)) if not ident else (ident, "")
        queue = self.queue
        queue.append(
            f'{{"event":{{"id":"{head}{number}","type":{type_json},"activity":null,'
            f'"time":{seconds}{millis}{rest},"attributes":[{attributes_json}],'
            f'"relationships":[{relations_json}]}},"object":null}}'.encode()
        )
        if len(queue) >= (host := self.host).limit:
            host.queued()
        self.events += 1

    def object(self, raw: RawObject) -> None:
        """Deliver an object record from any code (see :meth:`event`)."""
        if self._write_object is not None:
            self._write_object(raw)
        elif self._nowait is not None:
            self._nowait(self._encode_object(raw), self._content_type)
        else:
            self._deliver(self._encode_object(raw))
        self.objects += 1

    def object_line(self, object_id: str, object_type: str, time: float, attributes: Attributes) -> None:
        """Deliver an object record without relationships given as its parts, while :attr:`lines`
        (the object cache's first sightings and changes: no record, no encoding step; the line is
        the one :meth:`JSONEncoder.encode_object` makes)."""
        queue = self.queue
        queue.append(
            f'{{"event":null,"object":{{"id":{_text(object_id)},'
            f'"type":{encoder._quoted.get(object_type) or encoder.quote(object_type)},'
            f'"attributes":[{encoder._attributes(attributes, time_text(time)) if attributes else ""}],'
            '"relationships":[]}}'.encode()
        )
        if len(queue) >= (host := self.host).limit:
            host.queued()
        self.objects += 1

    def object_writer(self) -> Callable[[str, str, float, Attributes], None]:
        """The cheapest function delivering an object record without relationships given as its
        parts, ``write(object_id, object_type, time, attributes)``, for this transport (what the
        object cache calls): :meth:`object_line` while :attr:`lines`; for a transport that queues
        or takes records, encoding and queueing or handing over without the checks."""
        if self.lines:
            return self.object_line
        take = self._write_object
        put, encode, content_type = self._nowait, self._encode_object, self._content_type
        if take is None and put is None:
            return lambda object_id, object_type, time, attributes: self.object(
                (object_id, object_type, time, attributes, [])
            )

        def write(object_id: str, object_type: str, time: float, attributes: Attributes) -> None:
            if take is not None:
                take((object_id, object_type, time, attributes, []))
            else:
                put(encode((object_id, object_type, time, attributes, [])), content_type)  # type: ignore[misc]
            self.objects += 1

        return write

    async def aevent(self, raw: RawEvent) -> None:
        """Deliver an event from async code, awaiting an async transport (a send that raises is
        logged and counted in :attr:`failed`, never raised here)."""
        if self._write_event is not None:
            self._write_event(raw)
        else:
            await self._adeliver(self._encode_event(raw))
        self.events += 1

    async def aobject(self, raw: RawObject) -> None:
        """Deliver an object record from async code (see :meth:`aevent`)."""
        if self._write_object is not None:
            self._write_object(raw)
        else:
            await self._adeliver(self._encode_object(raw))
        self.objects += 1

    def _deliver(self, data: bytes) -> None:
        if self._nowait is not None:
            self._nowait(data, self._content_type)
        elif self._async:
            self._queue(data, None)
        else:
            self._send_now(data)

    async def _adeliver(self, data: bytes) -> None:
        if self._nowait is not None:
            self._nowait(data, self._content_type)
        elif not self._async:
            self._send_now(data)
        elif self._backlog or self._pump is not None:  # keep the order of what sync code queued
            self._queue(data, None)
            await self.drain()
        else:
            try:
                await self.transport.send(data, self._content_type)
            except Exception:  # as from plain code: reported, never breaking the caller's run
                self._send_failed()

    def _send_now(self, data: bytes) -> None:
        if self.transport is None:
            if not self.unsent:
                log.warning("spores: no transport configured; records are not written (call configure())")
            self.unsent += 1
            return
        result = self.transport.send(data, self._content_type)
        if inspect.isawaitable(result):  # a plain ``send`` that returns an awaitable: async from now on
            self._async = True
            self.awaits = self._nowait is None and self._write_event is None
            self._queue(data, result)

    # -- the queue of async sends from sync code ----------------------------------------------------

    def _queue(self, data: bytes, started: Awaitable[Any] | None) -> None:
        self._backlog.append((data, started))
        if self._live_pump() is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._run_privately()
            return
        lifecycle.register(self, self._deliver_at_exit)
        self._pump = loop.create_task(self._run_backlog())

    def _live_pump(self) -> asyncio.Task[None] | None:
        """The task delivering the queue, if it is still to finish.  One cancelled before it ran
        (its loop shut down right after making it) never ran its ``finally``, and one of a closed
        loop never finishes: neither delivers anything any more."""
        pump = self._pump
        if pump is None or pump.done() or pump.get_loop().is_closed():
            return None
        return pump

    async def _run_backlog(self) -> None:
        try:
            while self._backlog:
                data, started = self._backlog[0]
                sending = started if started is not None else self.transport.send(data, self._content_type)
                # If this task is cancelled mid-send (its loop shutting down), the record stays
                # queued and is sent again, in full, from a fresh call: at least once, never lost.
                self._backlog[0] = (data, None)
                try:
                    await sending
                except Exception:  # a broken transport: report it, keep delivering the rest
                    self._send_failed()
                self._backlog.popleft()
        finally:
            self._pump = None

    def _send_failed(self) -> None:
        """Report an async send that raised (called in its ``except``)."""
        self.failed += 1
        log.exception("spores: transport %r failed to send a record", self.transport)

    def _run_privately(self) -> None:
        """No event loop runs here: deliver the queue on spores' own loop, now."""
        if self._private is None:
            self._private = asyncio.new_event_loop()
        self._private.run_until_complete(self._run_backlog())

    async def drain(self) -> None:
        """Wait until every queued send has been delivered."""
        while (pump := self._live_pump()) is not None or self._backlog:
            if pump is None:
                pump = self._pump = asyncio.get_running_loop().create_task(self._run_backlog())
            await asyncio.shield(pump)

    def _deliver_at_exit(self) -> None:
        if self._backlog:
            self._pump = None  # its loop is gone
            self._run_privately()
        self._close_private()

    def _close_private(self) -> None:
        if self._private is not None:
            self._private.close()
            self._private = None

    # -- closing ------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Deliver the queue, then close the transport (awaiting an async ``close``)."""
        await self.drain()
        lifecycle.unregister(self)
        self._close_private()
        if self.transport is not None:
            result = self.transport.close()
            if inspect.isawaitable(result):
                await result

    def close(self) -> None:
        """:meth:`aclose` for synchronous code; inside a running loop use ``await aclose()``."""
        closer = (
            None if self.transport is None else getattr(self.transport, "close_now", self.transport.close)
        )
        if _running() and (self._backlog or self._pump is not None or inspect.iscoroutinefunction(closer)):
            raise RuntimeError(
                "spores.close() was called inside a running event loop with records or an async "
                "transport to await. Fix: use 'await spores.aclose()' there"
            )
        self._deliver_at_exit()
        lifecycle.unregister(self)
        if closer is None:
            return
        result = closer()
        if inspect.isawaitable(result):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(result)
            finally:
                loop.close()


def _stock(encoder: Encoder) -> bool:
    """Whether ``encoder`` writes the stock JSON lines (its fast methods are the ones used)."""
    if not isinstance(encoder, JSONEncoder):
        return False
    cls = type(encoder)
    return cls.encode is JSONEncoder.encode and cls.encode_event is JSONEncoder.encode_event


def _line_queue(transport: Any) -> LineQueue | None:
    """``transport`` when the hot paths may append to its queue: a
    :class:`~mycorrhizal.spores.transport.LineQueue` whose ``send_nowait``, if it has one, is not
    overridden below the class defining its ``queued`` (a subclass overriding ``send_nowait``
    alone wants every record through it)."""
    if not isinstance(transport, LineQueue):
        return None
    mro = type(transport).__mro__
    sends = next((i for i, cls in enumerate(mro) if "send_nowait" in cls.__dict__), len(mro))
    queued = next((i for i, cls in enumerate(mro) if "queued" in cls.__dict__), len(mro))
    return transport if sends >= queued else None


class _Forward:
    """A transport's ``send_nowait`` behind :class:`~mycorrhizal.spores.transport.LineQueue`:
    each line is handed over as it is appended."""

    __slots__ = ("queue", "_send")

    limit = 1

    def __init__(self, send: Callable[[bytes, str], Any]) -> None:
        self.queue: list[bytes] = []
        self._send = send

    def queued(self) -> None:
        """Hand the line over (taken off the list first: one the transport refuses is not kept)."""
        self._send(self.queue.pop(), "application/json")


def _nowhere(data: bytes, content_type: str) -> None:
    raise RuntimeError(
        "spores: Dispatcher.event_line() was called for a transport that takes records or awaits; "
        "check dispatcher.lines first and use dispatcher.event(raw) when it is False"
    )


def _running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
