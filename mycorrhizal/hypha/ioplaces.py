"""Tokens arriving in places, and IO places at run time: sources feeding their places (with
back-pressure) and sinks draining theirs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import Any

from .coroutines import Continue
from .inflight import InFlight
from .places import FailedToken, SourceFactory
from .ready import Ready
from .reporting import Reporter
from .state import PlaceState

__all__ = ["IOPlaces"]


class IOPlaces:
    """Token arrival (:meth:`put`), sink deliveries and source pumps of one runner."""

    __slots__ = ("bb", "timebase", "sources", "_ready", "_inflight", "_report")

    def __init__(self, ready: Ready, inflight: InFlight, report: Reporter, bb: Any, timebase: Any) -> None:
        self.bb = bb
        self.timebase = timebase
        self.sources: list[asyncio.Task[None]] = []
        self._ready = ready
        self._inflight = inflight
        self._report = report

    def put(self, p: PlaceState, tokens: Iterable[Any]) -> None:
        """New tokens arrive in ``p``: store them and wake whoever may now fire."""
        p.tokens.extend(tokens)
        p.gen += 1
        for c in p.consumers:
            if not c.queued:
                c.queued = True
                c.ready.append(c)
        if p.sink is not None:
            self.kick_sink(p)
        if not self._ready.scheduled:
            self._ready.schedule()

    # -- sinks ------------------------------------------------------------------------------------

    def kick_sink(self, p: PlaceState) -> None:
        """Deliver waiting tokens of sink ``p`` one at a time, inline while the sink does not suspend."""
        if p.sink_busy or not self._ready.running:
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
                        self._suspend_delivery(p, token, Continue(result, first))
                        return
            except Exception as exc:
                self._sink_failed(p, token, exc)
                continue
            except BaseException:  # KeyboardInterrupt and the like: keep the token, then go
                if p.capacity is not None:
                    p.reserved -= 1
                p.restore([token])
                raise
            self._delivered(p)

    def _suspend_delivery(self, p: PlaceState, token: Any, awaitable: Continue) -> None:
        p.sink_busy = True
        self._ready.sinks_busy += 1
        self._inflight.adopt(
            self._finish_delivery(p, token, awaitable), partial(self._never_delivered, p, token, awaitable)
        )

    def _delivered(self, p: PlaceState) -> None:
        self._report.stats.delivered += 1
        if p.capacity is not None:
            p.reserved -= 1
            self._ready.freed(p)

    async def _finish_delivery(self, p: PlaceState, token: Any, awaitable: Any) -> None:
        self._inflight.started()
        try:
            await awaitable
        except asyncio.CancelledError:
            self._undeliver(p, token)
            raise
        except Exception as exc:
            self._sink_done(p)
            self._sink_failed(p, token, exc)
        else:
            self._sink_done(p)
            self._delivered(p)
        self.kick_sink(p)
        self._ready.wake_idle()

    def _undeliver(self, p: PlaceState, token: Any) -> None:
        """A delivery was interrupted: the token goes back to the head of the sink's place."""
        self._sink_done(p)
        if p.capacity is not None:
            p.reserved -= 1
        p.restore([token])

    def _never_delivered(self, p: PlaceState, token: Any, awaitable: Any) -> None:
        """The task of a suspended delivery was cancelled before it started (see ``InFlight.adopt``)."""
        self._inflight.close_handler(awaitable, f"the sink of {p.qname!r}")
        self._undeliver(p, token)
        self._ready.wake_idle()

    def _sink_done(self, p: PlaceState) -> None:
        p.sink_busy = False
        self._ready.sinks_busy -= 1

    def _sink_failed(self, p: PlaceState, token: Any, exc: Exception) -> None:
        self._report.stats.sink_failures += 1
        if p.capacity is not None:
            p.reserved -= 1
        if p.error_place is not None:
            if p.capacity is not None:
                self._ready.freed(p)
            self._report.stats.parked += 1
            self.put(p.error_place, (FailedToken(token, exc, p.qname, p.qname),))
            where = f"sent to error place {p.error_place.qname!r}"
        else:
            p.restore([token])
            p.sink_blocked_gen = p.gen  # retried when a new token arrives, not in a loop
            where = "kept at the head of the place"
        self._report.record(
            f"sink {p.qname!r} failed with {type(exc).__name__}: {exc}; the token was {where}",
            exc,
            place=p.qname,
        )

    # -- sources ----------------------------------------------------------------------------------

    def start_sources(self, places: Iterable[tuple[PlaceState, SourceFactory]]) -> None:
        """Start a pump task for every io input place."""
        loop = self._ready.loop
        assert loop is not None
        for p, source in places:
            self._ready.sources_active += 1
            task = loop.create_task(self._pump(p, source), name=f"hypha source {p.qname}")
            task.add_done_callback(self._source_ended)
            self.sources.append(task)

    async def _pump(self, p: PlaceState, source_factory: SourceFactory) -> None:
        """Feed io input place ``p`` from its source, waiting for room when it is full."""
        try:
            source = source_factory(self.bb, self.timebase)
            async for token in _aiter(source):
                while p.capacity is not None and len(p.tokens) + p.reserved >= p.capacity:
                    await self._room(p)
                self.put(p, (token,))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._report.stats.source_errors += 1
            self._report.record(
                f"source of {p.qname!r} failed with {type(exc).__name__}: {exc}; it produces no more tokens",
                exc,
                place=p.qname,
            )

    async def _room(self, p: PlaceState) -> None:
        """Wait until bounded ``p`` has room (the source counts as waiting, not busy, meanwhile)."""
        assert self._ready.loop is not None
        waiter: asyncio.Future[None] = self._ready.loop.create_future()
        p.room_waiters.append(waiter)
        self._ready.sources_waiting += 1
        self._ready.wake_idle()
        try:
            await waiter
        finally:
            self._ready.sources_waiting -= 1

    def _source_ended(self, task: asyncio.Task[None]) -> None:
        # A done callback, not a ``finally`` in ``_pump``: a source task cancelled before its first
        # step (stop() right after start()) never runs its body, but must stop counting all the same.
        self._ready.sources_active -= 1
        self._ready.wake_idle()


async def _aiter(source: Any) -> Any:
    """Iterate an async iterable, or a plain iterable, uniformly."""
    if hasattr(source, "__aiter__"):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item
