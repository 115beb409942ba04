"""IO places at run time: sources feeding their places (with back-pressure) and sinks draining theirs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import Any

from .handlers import Continue
from .marking import _Place
from .places import FailedToken
from .runtime import _RunnerBase

__all__: list[str] = []


class _IOPlaces(_RunnerBase):
    """Token arrival (``_put``), sink deliveries and source pumps."""

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
                        self._sinks_busy += 1
                        awaitable = Continue(result, first)
                        self._adopt(
                            self._finish_sink(p, token, awaitable),
                            partial(self._never_delivered, p, token, awaitable),
                        )
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

    def _delivered(self, p: _Place) -> None:
        self.stats.delivered += 1
        if p.capacity is not None:
            p.reserved -= 1
            self._freed(p)

    async def _finish_sink(self, p: _Place, token: Any, awaitable: Any) -> None:
        self._started()
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
        self._kick_sink(p)
        self._wake_idle()

    def _undeliver(self, p: _Place, token: Any) -> None:
        """A delivery was interrupted: the token goes back to the head of the sink's place."""
        self._sink_done(p)
        if p.capacity is not None:
            p.reserved -= 1
        p.restore([token])

    def _never_delivered(self, p: _Place, token: Any, awaitable: Any) -> None:
        """The task of a suspended delivery was cancelled before it started (see ``_adopt``)."""
        self._close_handler(awaitable, f"the sink of {p.qname!r}")
        self._undeliver(p, token)
        self._wake_idle()

    def _sink_done(self, p: _Place) -> None:
        p.sink_busy = False
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

    def _source_ended(self, task: asyncio.Task[None]) -> None:
        # A done callback, not a ``finally`` in ``_pump``: a source task cancelled before its first
        # step (stop() right after start()) never runs its body, but must stop counting all the same.
        self._sources_active -= 1
        self._wake_idle()


async def _aiter(source: Any) -> Any:
    """Iterate an async iterable, or a plain iterable, uniformly."""
    if hasattr(source, "__aiter__"):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item
