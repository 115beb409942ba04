"""Firing a transition: choosing a guarded binding, running the handler (inline when it does not
suspend, in a task when it does) and committing its outputs atomically."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from ..common.errors import CapacityError, HandlerError, RoutingError
from .failures import _Failures
from .handlers import Continue, collect, collect_async
from .marking import _Place
from .runtime import _COROUTINE, _FUNCTION, _held, _Transition, log
from .transitions import Consumed, FiringContext, HandlerKind

if TYPE_CHECKING:
    from .runner import Runner

__all__: list[str] = []

_SETTLED: Any = object()
"""What :meth:`_Firing._first_step` returns when there is nothing left to commit."""


class _Firing(_Failures):
    """Bindings, handler calls, suspended firings and commits."""

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

    def _context(self, t: _Transition, consumed: Consumed) -> FiringContext:
        """The ``ctx`` of one firing of ``t``."""
        return FiringContext(
            t.qname,
            t.memory,
            cast("Runner", self),
            t.flat.output_refs,
            consumed,
            self.bb,
            self.timebase,
            t.out_places,
        )

    def _call(self, t: _Transition, consumed: Consumed) -> None:
        """Run the handler on ``consumed``; commit inline if it does not suspend."""
        ctx = None
        if t.wants_ctx:
            ctx = self._context(t, consumed)
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
        except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._give_back(t, consumed, notify=True)
            raise
        # ``result`` is a coroutine here.
        if t.eager:
            result = self._first_step(t, consumed, result, ctx)
            if result is not _SETTLED:
                self._commit(t, consumed, result, ctx)
        else:
            self._suspend(t, consumed, result, ctx)

    def _first_step(self, t: _Transition, consumed: Consumed, coro: Any, ctx: FiringContext | None) -> Any:
        """Run a handler's coroutine by hand up to its first suspension.

        Returns its result if it finished right there (the caller commits it), else ``_SETTLED``: the
        firing failed, or it suspended and goes on in a task.
        """
        try:
            first = coro.send(None)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:
            self._fail(t, consumed, exc)
            return _SETTLED
        except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._give_back(t, consumed, notify=True)
            raise
        self._suspend(t, consumed, Continue(coro, first), ctx)
        return _SETTLED

    def _suspend(self, t: _Transition, consumed: Consumed, awaitable: Any, ctx: FiringContext | None) -> None:
        """The handler suspended: finish the firing in a task."""
        t.inflight += 1
        self._inflight += 1
        self._adopt(
            self._finish(t, consumed, awaitable, ctx), partial(self._never_finished, t, consumed, awaitable)
        )

    async def _finish(
        self, t: _Transition, consumed: Consumed, awaitable: Any, ctx: FiringContext | None
    ) -> None:
        """The rest of a firing whose handler suspended, in its own task."""
        self._started()
        try:
            result = await awaitable
        except asyncio.CancelledError:
            self._cancelled(t, consumed)
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

    def _cancelled(self, t: _Transition, consumed: Consumed) -> None:
        """A suspended firing was cancelled: its tokens go back to their input places."""
        self._end_flight(t)
        self.stats.cancelled += 1
        if self._observers:
            self._emit("cancelled", t, consumed, {})
        self._give_back(t, consumed, notify=True)

    def _never_finished(self, t: _Transition, consumed: Consumed, awaitable: Any) -> None:
        """The task of a suspended firing was cancelled before it started (see ``_adopt``)."""
        self._close_handler(awaitable, f"the handler of transition {t.qname!r}")
        self._cancelled(t, consumed)
        self._wake_idle()

    def _commit(self, t: _Transition, consumed: Consumed, result: Any, ctx: FiringContext | None) -> None:
        """Validate every output first, then produce them all (or fail the firing as a whole)."""
        if ctx is not None:
            result, ctx = _plain_outputs(result, ctx)
        if type(result) is dict and len(result) == 1 and ctx is None:
            # Fast path: one output place.
            ((key, value),) = result.items()
            p = t.out_places.get(key)
            if p is not None:
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
        except BaseException:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._give_back(t, consumed, notify=True)
            raise
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
        per_place: dict[_Place, list[Any]] = {}
        for key, value in items:
            place = t.out_places.get(key) if isinstance(key, str) else None
            if place is None:
                raise RoutingError(
                    f"transition {t.qname!r} may not produce into {key!r}: it has no output arc to that "
                    f"place (outputs: {list(t.flat.output_refs)}); add builder.arc(transition, place) or "
                    "outputs=[...]",
                    transition=t.qname,
                    place=str(key),
                )
            bucket = per_place.setdefault(place, [])
            if type(value) is list:
                bucket.extend(value)
            else:
                bucket.append(value)
        plan = []
        for p, batch in per_place.items():
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


def _plain_outputs(result: Any, ctx: FiringContext) -> tuple[Any, FiringContext | None]:
    """(result, ctx) with ctx dropped when its emits can be committed as a returned dict.

    Nothing emitted: the returned outputs alone. One emit and no returned dict: that one output (a
    list is several tokens either way). Either can then take the one-output fast commit.
    """
    emitted = ctx._emitted
    if not emitted:
        return result, None
    if result is None and len(emitted) == 1:
        return dict(emitted), None
    return result, ctx
