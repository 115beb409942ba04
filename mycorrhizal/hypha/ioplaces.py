"""Tokens arriving in places, and IO places at run time: sources feeding their places (with
back-pressure) and sinks draining theirs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import Any

from ..common.errors import HandlerError, fix_last
from .coroutines import Continue
from .events import DeliveryFailed, SourceFailed
from .inflight import InFlight
from .journal import Recorder
from .places import FailedToken, SourceFactory
from .ready import Ready
from .reporting import STOP_INSTEAD, Reporter, log
from .state import NO_TOKEN, PlaceState
from .transitions import DEFAULT_RETRY

__all__ = ["IOPlaces"]

SOURCE_BURST = 256
"""Tokens a source gives in a row before its pump lets other tasks run: a source that never suspends
(a plain iterable, an async generator awaiting nothing) would otherwise starve the event loop."""


class IOPlaces:
    """Token arrival (:meth:`put`) and removal (:meth:`remove`), sink deliveries and source pumps of
    one runner."""

    __slots__ = ("bb", "timebase", "sources", "failed", "recorder", "_ready", "_inflight", "_report")

    def __init__(self, ready: Ready, inflight: InFlight, report: Reporter, bb: Any, timebase: Any) -> None:
        self.bb = bb
        self.timebase = timebase
        self.sources: list[asyncio.Task[None]] = []
        #: The sources that failed since the last start (qualified place name -> the error kept).
        self.failed: dict[str, HandlerError] = {}
        self.recorder: Recorder | None = None
        """Journals every committed step (a runner with a store, once started); None otherwise."""
        self._ready = ready
        self._inflight = inflight
        self._report = report

    def put(self, p: PlaceState, tokens: Iterable[Any], recorded: bool | None = True) -> None:
        """New tokens arrive in ``p``: store them and wake whoever may now fire.

        ``recorded``: the step putting them tells its own record after the put (a commit, a parked
        firing), so a sink failing inline meanwhile is held (``Reporter.held``) until that step
        calls ``Reporter.tell_held()``.  A step with no record of its own (``add_token``, a place's
        tokens moved by a change of the net) passes False: a failure is told at once.  None: the
        caller delivers to the sink itself (:meth:`put_all`)."""
        p.tokens.extend(tokens)
        p.gen += 1
        for c in p.consumers:
            if not c.queued:
                c.queued = True
                c.ready.append(c)
        if p.sink is not None:  # (a flag, not a wrapper around put: add_token's path stays one frame)
            if recorded:
                self.deliver(p)
            elif recorded is not None:
                self.kick_sink(p)
        if not self._ready.scheduled:
            self._ready.schedule()

    def put_all(self, plan: Iterable[tuple[PlaceState, list[Any]]]) -> None:
        """:meth:`put` of a commit's outputs, (place, tokens) pairs: every place has its tokens before
        any sink among them runs, so one raising KeyboardInterrupt or the like leaves no output unmade."""
        sinks = []
        for p, batch in plan:
            self.put(p, batch, None)
            if p.sink is not None:
                sinks.append(p)
        for p in sinks:
            self.deliver(p)

    def remove(self, p: PlaceState, indices: list[int]) -> list[Any]:
        """Take the tokens at ``indices`` (positions in take order) out of ``p`` from outside the net:
        journaled, and producers waiting for room in ``p`` wake; the tokens, in take order."""
        removed = p.remove_at(indices)
        if self.recorder is not None and removed:
            self.recorder.removed(p, removed)
        if removed and p.capacity is not None:
            self._ready.freed(p)
        return removed

    # -- sinks ------------------------------------------------------------------------------------

    def kick_sink(self, p: PlaceState) -> None:
        """:meth:`deliver` for a step that tells no record of its own (``start()``, a retry): a
        failure is told at once."""
        start = len(self._report.held)
        try:
            self.deliver(p)
        finally:  # also when the sink raises KeyboardInterrupt or the like: what failed before is told
            if len(self._report.held) > start:
                self._report.tell_held(start)

    def deliver(self, p: PlaceState) -> None:
        """Deliver waiting tokens of sink ``p`` one at a time, inline while the sink does not suspend
        (a failure is held for the step that put them: see :meth:`put`)."""
        if p.sink_busy or not self._ready.running:
            return
        sink = p.sink
        assert sink is not None
        while p.tokens:
            if p.sink_blocked_gen is not None:
                if p.sink_blocked_gen == p.gen:
                    return
                p.sink_blocked_gen = None
            token = p.delivering = p.take()
            if p.capacity is not None:
                p.reserved += 1
            try:
                result = sink(token, self.bb, self.timebase)
                if result is not None and asyncio.iscoroutine(result):
                    try:
                        first = result.send(None)
                    except StopIteration:
                        pass
                    else:
                        self._suspend_delivery(p, token, Continue(result, first))
                        return
            except (Exception, asyncio.CancelledError) as exc:  # inline, a CancelledError is the sink's own
                self._sink_failed(p, token, exc)
                continue
            except BaseException as exc:  # KeyboardInterrupt and the like: keep the token, then go
                p.delivering = NO_TOKEN
                if p.capacity is not None:
                    p.reserved -= 1
                p.restore([token])
                self._interrupted(p, exc)  # also when a delivery's task kicked it
                raise
            self._delivered(p, token)

    def _suspend_delivery(self, p: PlaceState, token: Any, awaitable: Continue) -> None:
        p.sink_busy = True
        self._ready.sinks_busy += 1
        self._inflight.start(self._finish_delivery(p, token, awaitable))

    def _delivered(self, p: PlaceState, token: Any) -> None:
        p.delivering = NO_TOKEN
        if self.recorder is not None:
            self.recorder.delivered(p, token)
        self._report.stats.delivered += 1
        p.sink_streak = 0
        if p.capacity is not None:
            p.reserved -= 1
            self._ready.freed(p)

    async def _finish_delivery(self, p: PlaceState, token: Any, awaitable: Any) -> None:
        try:
            await awaitable
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                self._undeliver(p, token)
                if not self._inflight.stopping(task) and self._ready.running:  # cancelled from outside
                    self._sink_blocked(
                        p,
                        HandlerError(
                            f"a delivery to sink {p.qname!r} was cancelled from outside the runner. Fix: "
                            f"{STOP_INSTEAD}",
                            place=p.qname,
                        ),
                    )
                self._ready.wake_idle()
                raise
            self._sink_done(p)
            self._sink_failed(p, token, exc)
        except Exception as exc:
            self._sink_done(p)
            self._sink_failed(p, token, exc)
        except BaseException as exc:  # KeyboardInterrupt and the like: keep the token, then go
            self._undeliver(p, token)
            self._interrupted(p, exc)  # nobody awaits this task: run_until_idle() raises it
            raise
        else:
            self._sink_done(p)
            self._delivered(p, token)
        try:
            self.deliver(p)
        finally:  # (also when the sink raises KeyboardInterrupt or the like: what failed before is told)
            if self._report.held:  # (a task's step: whatever is held is this delivery's)
                self._report.tell_held()
        self._ready.wake_idle()

    def _interrupted(self, p: PlaceState, exc: BaseException) -> None:
        """A ``KeyboardInterrupt`` or the like ended a delivery (its token is back): told, and raised
        from ``run_until_idle()``."""
        log.info(
            "net %s: sink %s raised %s: no failure; its token went back to the head of its place and it "
            "is raised to the caller (run_until_idle())",
            self._report.name,
            p.qname,
            type(exc).__name__,
        )
        self._ready.fail_waiters(exc)

    def _undeliver(self, p: PlaceState, token: Any) -> None:
        """A delivery was interrupted: the token goes back to the head of the sink's place."""
        self._sink_done(p)
        p.delivering = NO_TOKEN
        if p.capacity is not None:
            p.reserved -= 1
        p.restore([token])

    def _sink_done(self, p: PlaceState) -> None:
        p.sink_busy = False
        self._ready.sinks_busy -= 1

    def _sink_failed(self, p: PlaceState, token: Any, exc: BaseException) -> None:
        p.delivering = NO_TOKEN
        self._report.stats.sink_failures += 1
        if isinstance(exc, asyncio.CancelledError):
            cause, exc = (
                exc,
                HandlerError(
                    f"sink {p.qname!r} raised CancelledError although nothing cancelled the delivery (did it "
                    "await a task or future that someone else cancelled?). Fix: catch that CancelledError in "
                    "the sink",
                    place=p.qname,
                ),
            )
            exc.__cause__ = cause
        if p.capacity is not None:
            p.reserved -= 1
        if self._report.watched:  # held before the token is parked: its own failures come after
            error_place = None if p.error_place is None else p.error_place.qname
            self._report.held.append(
                DeliveryFailed(
                    source=self._report.name,
                    time=self.timebase.now(),
                    place=p.qname,
                    token=token,
                    error=exc,
                    error_place=error_place,
                )
            )
        if p.error_place is not None:
            if p.capacity is not None:
                self._ready.freed(p)
            self._report.stats.parked += 1
            wrapped = FailedToken(token, exc, p.qname, p.qname)
            if self.recorder is not None:
                self.recorder.parked_delivery(p, token, wrapped)
            # Kept and logged before the token is put: the error place's own sink may fail on it in
            # the put (after this failure, so kept after it), or raise KeyboardInterrupt or the like.
            self._sink_failure(p, exc, f"sent to error place {p.error_place.qname!r}")
            self.put(p.error_place, (wrapped,))
            return
        p.restore([token])
        where = f"kept at the head of the place; {self._sink_blocked(p, exc)}"
        if self.recorder is not None:
            self.recorder.sink_blocked(p)
        self._sink_failure(p, exc, where)

    def _sink_failure(self, p: PlaceState, exc: BaseException, where: str) -> None:
        """Keep and log sink ``p``'s failure (its token ``where``)."""
        self._report.record(
            fix_last(
                f"sink {p.qname!r} failed with {type(exc).__name__}: {exc}",
                f"; the token was {where}",
                otherwise=f"handle {type(exc).__name__} in the sink of {p.qname!r}"
                + ("" if p.error_place is not None else f", or give {p.qname!r} on_error='<a place>'"),
            ),
            exc,
            place=p.qname,
        )

    def _sink_blocked(self, p: PlaceState, exc: BaseException) -> str:
        """Keep sink ``p`` from delivering until a new token arrives or its retry timer expires."""
        p.sink_error = exc
        p.sink_streak += 1
        p.sink_blocked_gen = p.gen
        delay = DEFAULT_RETRY.delay(p.sink_streak)
        if self._ready.running:
            p.sink_retry.arm(self.timebase, delay, partial(self._retry_sink, p))
        return f"it is retried in {delay:g} s, or when a new token arrives"

    def _retry_sink(self, p: PlaceState) -> None:
        p.sink_blocked_gen = None
        self.kick_sink(p)
        self._ready.wake_idle()

    def pause_retries(self, places: list[PlaceState]) -> None:
        """Cancel pending sink retries (the runner stops; :meth:`resume_retries` arms them again)."""
        for p in places:
            p.sink_retry.cancel()

    def resume_retries(self, places: list[PlaceState]) -> None:
        """Arm again, with its full delay (a restored runner: at the deadline it had), the retry of
        every sink still blocked after a stop()."""
        for p in places:
            if p.sink_blocked_gen is not None and p.tokens:
                delay = DEFAULT_RETRY.delay(p.sink_streak)
                if p.sink_retry.due is not None:  # restored: the deadline it had
                    delay = p.sink_retry.due - self.timebase.now()
                    p.sink_retry.due = None
                    if delay <= 0:  # passed while the runner was down: retry now
                        p.sink_blocked_gen = None
                        continue
                p.sink_retry.arm(self.timebase, delay, partial(self._retry_sink, p))

    # -- sources ----------------------------------------------------------------------------------

    def start_sources(self, places: Iterable[tuple[PlaceState, SourceFactory]]) -> None:
        """Start a pump task for every io input place."""
        loop = self._ready.loop
        assert loop is not None
        self.failed.clear()  # each source is called again, from its beginning
        for p, source in places:
            self._ready.sources_active += 1
            task = loop.create_task(self._pump(p, source), name=f"hypha source {p.qname}")
            task.add_done_callback(self._source_ended)
            self.sources.append(task)

    async def _pump(self, p: PlaceState, source_factory: SourceFactory) -> None:
        """Feed io input place ``p`` from its source, waiting for room when it is full."""
        try:
            tokens = _aiter(_tokens(source_factory(self.bb, self.timebase)))
            given = 0
            while True:
                # Room first, then the next token: a source is never asked for a token the place has
                # no room for (stop() while it waited would lose it); and again after, in case
                # add_token() filled the place while the source was producing.
                await self._until_room(p)
                try:
                    token = await anext(tokens)
                except StopAsyncIteration:
                    break
                await self._until_room(p)
                if self.recorder is not None:
                    self.recorder.added(p, [token])
                self.put(p, (token,))
                given += 1
                if given == SOURCE_BURST:  # after put: a stop() cancelling us here loses no token
                    given = 0
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._report.stats.source_errors += 1
            if self._report.watched:
                self._report.emit(
                    SourceFailed(source=self._report.name, time=self.timebase.now(), place=p.qname, error=exc)
                )
            self._report.record(
                fix_last(
                    f"source of {p.qname!r} failed with {type(exc).__name__}: {exc}",
                    "; it produces no more tokens until the runner is started again",
                    otherwise=f"handle {type(exc).__name__} in the source of {p.qname!r}, then start the "
                    "runner again",
                ),
                exc,
                place=p.qname,
                handled=False,
            )
            self.failed[p.qname] = self._report.errors[-1]
        except BaseException as exc:  # KeyboardInterrupt and the like: no failure, the caller's to handle
            log.info(
                "net %s: source of %s raised %s: no failure; it gives no more tokens until the runner is "
                "started again, and it is raised to the caller (run_until_idle())",
                self._report.name,
                p.qname,
                type(exc).__name__,
            )
            self._ready.fail_waiters(exc)  # nobody awaits this task
            raise

    async def _until_room(self, p: PlaceState) -> None:
        """Return once bounded ``p`` has room for one more token (at once if it is unbounded)."""
        while p.capacity is not None and len(p.tokens) + p.reserved >= p.capacity:
            await self._room(p)

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
            if not waiter.done() or waiter.cancelled():  # else Ready.freed stopped counting it
                self._ready.sources_waiting -= 1

    def _source_ended(self, task: asyncio.Task[None]) -> None:
        # A done callback, not a ``finally`` in ``_pump``: a source task cancelled before its first
        # step (stop() right after start()) never runs its body, but must stop counting all the same.
        self._ready.sources_active -= 1
        self._ready.wake_idle()


def _tokens(source: Any) -> Any:
    """What a source function returned, if it can give tokens (an iterable or async iterable)."""
    if hasattr(source, "__aiter__") or hasattr(source, "__iter__"):
        return source
    if asyncio.iscoroutine(source):
        source.close()  # never run: closed, so Python does not warn that it was never awaited
        raise TypeError(
            "it is an async def that returns instead of yielding. Fix: write `yield token` for each token "
            "(an async generator), or make it a plain def returning an iterable"
        )
    raise TypeError(
        f"it returned {source!r} (type {type(source).__name__}), not tokens. Fix: make it yield each token "
        "(a generator or async generator) or return an iterable of tokens"
    )


async def _aiter(source: Any) -> Any:
    """Iterate an async iterable, or a plain iterable, uniformly."""
    if hasattr(source, "__aiter__"):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item
