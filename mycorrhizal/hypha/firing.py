"""Firing a transition: choosing a guarded binding, running the handler (inline when it does not
suspend, in a task when it does) and committing its outputs atomically."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from ..common.errors import CapacityError, CodecError, RoutingError, did_you_mean, fix_last
from .bindings import Binding, bindings, pick
from .context import Consumed, FiringContext, named, taking
from .coroutines import Continue, collect, collect_async
from .failures import Failures
from .inflight import InFlight
from .ioplaces import IOPlaces
from .outputs import output_items
from .ready import Ready
from .reporting import Reporter, log
from .state import PlaceState, TransitionState, held
from .transitions import GuardSpec, HandlerKind

__all__ = ["FAILURES", "SETTLED", "Firing", "plain_outputs"]

FAILURES = (Exception, asyncio.CancelledError)
"""What a handler raising while it runs inline (outside any task) is: a failure.  Nothing can cancel
it there, so a CancelledError is its own (e.g. from awaiting a future someone else cancelled)."""

SETTLED: Any = object()
"""What :meth:`Firing.first_step` returns when there is nothing left to commit."""

_COROUTINE = HandlerKind.COROUTINE
_FUNCTION = HandlerKind.FUNCTION

Plan = list[tuple[PlaceState, list[Any]]]


class Firing:
    """Bindings, handler calls, suspended firings and commits, for one runner."""

    __slots__ = ("runner", "bb", "timebase", "_ready", "_inflight", "_io", "_failures", "_report")

    def __init__(
        self,
        runner: Any,
        ready: Ready,
        inflight: InFlight,
        io: IOPlaces,
        failures: Failures,
        report: Reporter,
    ) -> None:
        self.runner = runner
        """The public runner, handed to handlers as ``ctx.runner``."""
        self.bb = io.bb
        self.timebase = io.timebase
        self._ready = ready
        self._inflight = inflight
        self._io = io
        self._failures = failures
        self._report = report

    # -- bindings ---------------------------------------------------------------------------------

    def choose(self, t: TransitionState) -> Consumed | None:
        """Find the first binding (in take order) the guard accepts, and take its tokens."""
        stats = self._report.stats
        raised_before = stats.guard_errors
        chosen = self._choose(t)
        if stats.guard_errors == raised_before:
            if t.guard_raised:  # (guard_error is set only with it)
                t.guard_raised.clear()  # an evaluation that raised nothing ends the streak
                t.guard_error = None
        elif chosen is not None:
            t.guard_error = None  # it raised on some binding, but fired another: nothing held back
        return chosen

    def _choose(self, t: TransitionState) -> Consumed | None:
        guard, arity, bb, timebase = t.guard, t.guard_arity, self.bb, self.timebase
        assert guard is not None
        snapshots = [(p, p.in_take_order(), w) for p, w in t.inputs]
        if isinstance(guard, GuardSpec):
            return self._choose_among(t, guard, snapshots)
        for combo in bindings(snapshots):
            consumed = taking(t.ccls, tuple([tok for picks in combo for _, tok in picks]))
            try:
                if arity == 1:
                    ok = guard(consumed)
                elif arity == 2:
                    ok = guard(consumed, bb)
                else:
                    ok = guard(consumed, bb, timebase)
            except FAILURES as exc:
                self._guard_failed(t, consumed, exc)
                continue
            if ok:
                return self._take(snapshots, combo, t)
        return None

    def _choose_among(
        self, t: TransitionState, guard: GuardSpec, snapshots: list[tuple[PlaceState, list[Any], int]]
    ) -> Consumed | None:
        """A :class:`GuardSpec` is shown every candidate binding at once and yields the one to fire."""
        combos = list(bindings(snapshots))
        shown = [tuple(tuple(tok for _, tok in picks) for picks in combo) for combo in combos]
        try:
            chosen = pick(t.qname, guard.func, shown, self.bb, self.timebase)
        except FAILURES as exc:
            self._guard_failed(t, taking(t.ccls, ()), exc)
            return None
        return None if chosen is None else self._take(snapshots, combos[chosen], t)

    @staticmethod
    def _take(
        snapshots: list[tuple[PlaceState, list[Any], int]], combo: Binding, t: TransitionState
    ) -> Consumed:
        for (p, _, _), picks in zip(snapshots, combo, strict=True):
            p.remove_at([i for i, _ in picks])
        return taking(t.ccls, tuple([tok for picks in combo for _, tok in picks]))

    def _guard_failed(self, t: TransitionState, consumed: Consumed, exc: BaseException) -> None:
        """A guard raised: the binding counts as not accepted; count, tell and log it.

        Every failure is counted and told to observers, but kept in ``errors`` and logged at WARNING
        only the first time its exception type appears in a streak (a guard raising on every binding
        would otherwise log and keep one per binding per evaluation); the others go to DEBUG.
        """
        self._report.stats.guard_errors += 1
        t.guard_error = exc
        if self._report.watched:
            self._report.guard_failed(t.qname, consumed, exc)
        first = type(exc) not in t.guard_raised
        t.guard_raised.add(type(exc))
        self._report.record(
            fix_last(  # (the exception's own fix, if it says one, is the one to follow)
                f"guard of transition {t.qname!r} raised {type(exc).__name__}: {exc}",
                "; the binding counts as not accepted" + ("" if first else " (again in this streak)"),
                otherwise="make the guard return False for a binding it cannot judge (it looks again when "
                "a new token arrives)",
            ),
            exc,
            transition=t.qname,
            quiet=not first,
        )

    # -- calling the handler ----------------------------------------------------------------------

    def context(self, t: TransitionState, consumed: Consumed) -> FiringContext:
        """The ``ctx`` of one firing of ``t``."""
        return FiringContext(
            t.qname,
            t.memory,
            self.runner,
            t.flat.output_refs,
            consumed,
            self.bb,
            self.timebase,
            t.out_places,
            self.runner.firing_key,
        )

    def call(self, t: TransitionState, consumed: Consumed) -> None:
        """Run the handler on ``consumed``; commit inline if it does not suspend."""
        ctx = None
        if t.wants_ctx:
            ctx = self.context(t, consumed)
            args: tuple[Any, ...] = (consumed, self.bb, self.timebase, ctx)
        else:
            args = (consumed, self.bb, self.timebase)
        kind = t.kind
        try:
            if kind is _COROUTINE or kind is _FUNCTION:
                result = t.handler(*args)
            elif kind is HandlerKind.GENERATOR:
                result = collect(t.handler(*args))
            else:
                result = collect_async(t.handler(*args))
        except FAILURES as exc:
            self._failures.fail(t, consumed, exc)
            return
        except BaseException as exc:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._failures.interrupted(t, consumed, exc)
            raise
        # Committed outside the ``try``: a sink raising KeyboardInterrupt or the like in the commit
        # is not the handler's, and the tokens it moved stay moved.  (A plain function that returned
        # a coroutine is driven like an async handler.)
        if kind is not _COROUTINE and (
            result is None or type(result) is dict or not asyncio.iscoroutine(result)
        ):
            self.commit(t, consumed, result, ctx)
            return
        # ``result`` is a coroutine here.
        if t.eager:
            result = self.first_step(t, consumed, result, ctx)
            if result is not SETTLED:
                self.commit(t, consumed, result, ctx)
        else:
            self.suspend(t, consumed, result, ctx)

    def first_step(self, t: TransitionState, consumed: Consumed, coro: Any, ctx: FiringContext | None) -> Any:
        """Run a handler's coroutine by hand up to its first suspension.

        Returns its result if it finished right there (the caller commits it), else ``SETTLED``: the
        firing failed, or it suspended and goes on in a task.
        """
        try:
            first = coro.send(None)
        except StopIteration as stop:
            return stop.value
        except FAILURES as exc:
            self._failures.fail(t, consumed, exc)
            return SETTLED
        except BaseException as exc:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._failures.interrupted(t, consumed, exc)
            raise
        self.suspend(t, consumed, Continue(coro, first), ctx)
        return SETTLED

    # -- suspended firings ------------------------------------------------------------------------

    def suspend(
        self, t: TransitionState, consumed: Consumed, awaitable: Any, ctx: FiringContext | None
    ) -> None:
        """The handler suspended (or, with ``eager=False``, is yet to start): finish the firing in a task."""
        self._ready.start_flight(t, consumed)
        if isinstance(awaitable, Continue):  # it ran its first step: the task continues it
            self._inflight.start(self._finish(t, consumed, awaitable, ctx))
        else:
            abandon = partial(self._abandoned, t, consumed, awaitable)
            self._inflight.start(
                self._finish(t, consumed, awaitable, ctx, started=self._inflight.running), abandon
            )

    async def _finish(
        self,
        t: TransitionState,
        consumed: Consumed,
        awaitable: Any,
        ctx: FiringContext | None,
        started: Callable[[], None] | None = None,
    ) -> None:
        """The rest of a firing whose handler suspended, in its own task."""
        if started is not None:
            started()
        try:
            result = await awaitable
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or not task.cancelling():
                self._ended(t, consumed, exc)  # the handler's own CancelledError: a failure
            else:
                self._inflight.give_back(task, self._give_back_cancelled(t, consumed, task))
                raise
        except Exception as exc:
            self._ended(t, consumed, exc)
        except BaseException as exc:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._ready.end_flight(t, consumed)
            self._failures.interrupted(t, consumed, exc)
            raise
        else:
            self._ready.end_flight(t, consumed)
            self.commit(t, consumed, result, ctx)
        self._ready.mark(t)
        self._ready.wake_idle()

    def _give_back_cancelled(
        self, t: TransitionState, consumed: Consumed, task: asyncio.Task[Any] | None
    ) -> Callable[[], None]:
        return partial(self._failures.cancelled, t, consumed, outside=not self._inflight.stopping(task))

    def _abandoned(
        self, t: TransitionState, consumed: Consumed, awaitable: Any, task: asyncio.Task[Any]
    ) -> None:
        """The task of an ``eager=False`` firing was cancelled before its handler started."""
        awaitable.close()
        self._inflight.give_back(task, self._give_back_cancelled(t, consumed, task))

    def _ended(self, t: TransitionState, consumed: Consumed, exc: BaseException) -> None:
        """A suspended handler raised: the firing fails."""
        self._ready.end_flight(t, consumed)
        self._failures.fail(t, consumed, exc)

    # -- committing -------------------------------------------------------------------------------

    def commit(self, t: TransitionState, consumed: Consumed, result: Any, ctx: FiringContext | None) -> None:
        """Validate every output first, then produce them all (or fail the firing as a whole)."""
        if ctx is not None:
            result, ctx = plain_outputs(result, ctx)
        if ctx is None and type(result) is dict and len(result) == 1:
            # The common case first: one output place, with room.
            ((key, value),) = result.items()
            p = t.out_places.get(key)
            batch = value if type(value) is list and t.split else (value,)
            if p is not None and (
                p.capacity is None or len(p.tokens) + p.reserved - held(t, p) + len(batch) <= p.capacity
            ):
                if self._io.recorder is not None and not self._journaled(t, consumed, [(p, list(batch))]):
                    return
                self._failures.release(t)
                t.fired += 1
                try:
                    if batch:
                        self._io.put(p, batch)
                finally:  # also when a sink raises KeyboardInterrupt or the like in it: the tokens moved
                    if self._report.watched or self._report.debug:
                        self.committed(t, consumed, [(p, list(batch))])
                return
        elif ctx is None and result is None:  # nothing produced
            if self._io.recorder is not None and not self._journaled(t, consumed, []):
                return
            self._failures.release(t)
            t.fired += 1
            if self._report.debug:
                self.committed(t, consumed, [])
            elif self._report.watched:  # Firing.committed's part, without its frame
                self._report.committed(t.qname, consumed, ())
            return
        self._commit_plan(t, consumed, result, ctx)

    def _journaled(self, t: TransitionState, consumed: Consumed, plan: Plan) -> bool:
        """Journal a commit; False (and the firing failed) if an output cannot be written down."""
        assert self._io.recorder is not None
        try:
            self._io.recorder.fired(t, consumed, plan)
        except CodecError as exc:
            self._failures.fail(t, consumed, exc)
            return False
        return True

    def _commit_plan(
        self, t: TransitionState, consumed: Consumed, result: Any, ctx: FiringContext | None
    ) -> None:
        """:meth:`commit` for any result: plan every output, then produce them all."""
        try:
            plan = self._plan(t, result, ctx)
        except Exception as exc:
            self._failures.fail(t, consumed, exc)
            return
        except BaseException as exc:  # KeyboardInterrupt and the like: keep the tokens, then go
            self._failures.interrupted(t, consumed, exc)
            raise
        if self._io.recorder is not None and not self._journaled(t, consumed, plan):
            return  # an output the journal cannot write down: the firing failed
        self._failures.release(t)
        t.fired += 1
        try:
            self._io.put_all(plan)
        finally:  # also when a sink raises KeyboardInterrupt or the like in it: the tokens moved
            if self._report.watched or self._report.debug:
                self.committed(t, consumed, plan)

    def committed(self, t: TransitionState, consumed: Consumed, plan: Plan) -> None:
        """Tell observers and the DEBUG log what a firing produced (then the sink failures its
        outputs met: see ``IOPlaces.put``)."""
        if self._report.watched:
            self._report.committed(t.qname, consumed, plan)
            if self._report.held:
                self._report.tell_held()
        if not self._report.debug:
            return
        if len(plan) == 1:
            ((p, batch),) = plan
            shown = batch[0] if len(batch) == 1 else batch
            log.debug(
                "fired %s: consumed %r, produced %r into %s", t.qname, list(consumed._took), shown, p.qname
            )
        else:
            log.debug(
                "fired %s: consumed %r, produced %r",
                t.qname,
                list(consumed._took),
                {p.qname: b for p, b in plan},
            )

    def _plan(self, t: TransitionState, result: Any, ctx: FiringContext | None) -> Plan:
        """Every output of a firing as (place, tokens); raises if any is not allowed or does not fit."""
        per_place: dict[PlaceState, list[Any]] = {}
        for key, value in _outputs(t, result, ctx):
            place = (
                key if type(key) is PlaceState else t.out_places.get(key) if isinstance(key, str) else None
            )
            if place is None:
                fix = did_you_mean(key, t.out_places, "add builder.arc(transition, place) or outputs=[...]")
                raise RoutingError(
                    f"transition {t.qname!r} may not produce into {named(key)!r}: it has no output arc to "
                    f"that place (outputs: {list(t.flat.output_refs)}). Fix: {fix}",
                    transition=t.qname,
                    place=str(key),
                )
            bucket = per_place.setdefault(place, [])
            if type(value) is list and t.split:
                bucket.extend(value)
            else:
                bucket.append(value)
        for p, batch in per_place.items():
            if p.capacity is None:
                continue
            # (at least 0: a place may be overbooked, see PlaceState.room; nothing produced always fits)
            room = max(0, p.capacity - len(p.tokens) - p.reserved + held(t, p))
            if len(batch) > room:
                raise CapacityError(
                    f"transition {t.qname!r} produced {len(batch)} token(s) into {p.qname!r}, which has room "
                    f"for {room}. Fix: produce fewer, or raise the capacity (the arc weight is the room a "
                    "firing reserves)",
                    transition=t.qname,
                    place=p.qname,
                )
        return [(p, batch) for p, batch in per_place.items() if batch]


def _being_cancelled() -> bool:
    """Whether the current task was asked to cancel (rather than something in it raising CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _outputs(t: TransitionState, result: Any, ctx: FiringContext | None) -> list[tuple[Any, Any]]:
    """The (key, value) pairs a handler returned (or yielded) and emitted."""
    emitted = ctx.emitted() if ctx is not None else ()
    return output_items(t.qname, result, emitted, t.flat.output_refs, t.out_places.get)


def plain_outputs(result: Any, ctx: FiringContext) -> tuple[Any, FiringContext | None]:
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
