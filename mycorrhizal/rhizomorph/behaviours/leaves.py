"""How actions and conditions tick and halt.

A leaf's user function is called through a *call adapter* (:func:`make_call`): a function of the
runner that hands the function the runner's values for the parameters it declared.  A plain
function is called directly within the tick; an ``async def`` one is started eagerly by the
runner's :class:`~mycorrhizal.common.eager.EagerStarter` and only becomes a background task if it
suspends.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ...common.eager import BUSY, DONE, EagerStarter
from ...common.errors import InvalidStatusError
from ..status import Status
from .host import Call, HaltFn, Host, TickFn

__all__ = ["async_leaf", "bad_status", "leaf_halt", "make_call", "sync_leaf"]

SUCCESS = Status.SUCCESS
FAILURE = Status.FAILURE
RUNNING = Status.RUNNING
CANCELLED = Status.CANCELLED
_copy_context = contextvars.copy_context
log = logging.getLogger("mycorrhizal.rhizomorph")


_GETTERS: dict[str, Callable[[Host], Any]] = {
    "bb": lambda rt: rt.bb,
    "timebase": lambda rt: rt.timebase,
    "tb": lambda rt: rt.timebase,
    "ctx": lambda rt: rt.ctx,
}


# The usual parameter lists, each called without building a list of arguments.
_SHORT: dict[tuple[str, ...], Callable[[Callable[..., Any]], Call]] = {
    (): lambda fn: lambda rt: fn(),
    ("bb",): lambda fn: lambda rt: fn(rt.bb),
    ("ctx",): lambda fn: lambda rt: fn(rt.ctx),
    ("bb", "timebase"): lambda fn: lambda rt: fn(rt.bb, rt.timebase),
    ("bb", "tb"): lambda fn: lambda rt: fn(rt.bb, rt.timebase),
    ("bb", "ctx"): lambda fn: lambda rt: fn(rt.bb, rt.ctx),
}


def make_call(
    fn: Callable[..., Any], params: tuple[str, ...], interface: type | None = None, by_keyword: bool = False
) -> Call:
    """A function of the runner that calls ``fn`` with the runner's values for ``params``.

    ``bb`` is the blackboard, or its view through ``interface`` when the parameter is annotated
    with one; ``timebase`` and ``tb`` are the timebase.  ``by_keyword``: pass them by name.
    """
    if interface is None and not by_keyword:
        short = _SHORT.get(params)
        if short is not None:
            return short(fn)
    getters = [_GETTERS[name] for name in params]
    if interface is not None:
        getters[params.index("bb")] = lambda rt: rt._view(interface)
    if by_keyword:
        named = tuple(zip(params, getters, strict=True))
        return lambda rt: fn(**{name: get(rt) for name, get in named})
    return lambda rt: fn(*[get(rt) for get in getters])


def bad_status(
    value: Any, condition: bool, node: str, label: str, is_async: bool = False, tree: str | None = None
) -> InvalidStatusError:
    """The error for a leaf that returned something that is not a status it may return
    (``is_async``: the leaf is an ``async def``, so a coroutine it returns is one it forgot to await;
    ``tree``: the tree it was ticked in, named after the leaf as a raising leaf's error names it)."""
    kind = "condition" if condition else "action"
    who = f"{kind} {label!r}" if tree is None else f"{kind} {label!r} in tree {tree!r}"
    if inspect.iscoroutine(value):
        value.close()  # never started: closing it avoids a "never awaited" warning on top of this error
        if is_async:
            said, fix = "returned a coroutine it did not await", "write `return await ...`"
        else:
            said = "returned a coroutine: it is a plain function that calls an async one"
            fix = "declare it `async def` and await inside it"
    elif condition:
        said = f"returned {value!r}, which a condition may not return"
        fix = "return True / False or Status.SUCCESS / Status.FAILURE (make it an action if it needs RUNNING)"
    else:
        said = f"returned {value!r}, which is not a Status"
        fix = "return Status.SUCCESS, Status.FAILURE or Status.RUNNING (or True / False / None)"
    return InvalidStatusError(f"{who} {said}. Fix: {fix}", node=node)


def _as_status(rt: Host, i: int, value: Any, condition: bool, node: str, label: str) -> Status:
    """An async leaf's return value as its status (or the runner refuses it)."""
    if condition:
        if value is True or value is SUCCESS:
            return SUCCESS
        if value is False or value is FAILURE or value is None:
            return FAILURE
    elif value.__class__ is Status:
        return value
    return _coerce(rt, i, value, condition, node, label, True)


def _coerce(
    rt: Host, i: int, value: Any, condition: bool, node: str, label: str, is_async: bool = False
) -> Status:
    """The status of a leaf result that is not a Status: ``True`` is SUCCESS, ``False`` FAILURE, and
    ``None`` (no return statement) SUCCESS for an action, FAILURE for a condition; anything else
    is refused (an ``InvalidStatusError`` naming the leaf)."""
    if value is True:
        return SUCCESS
    if value is False:
        return FAILURE
    if value is None:
        return FAILURE if condition else SUCCESS
    rt._refuse(i, bad_status(value, condition, node, label, is_async, rt.tree.name))


def _raised(rt: Host, i: int, exc: BaseException) -> Status:
    """The status of an async leaf whose coroutine raised ``exc`` (or re-raise what is not ours)."""
    if isinstance(exc, asyncio.CancelledError):
        return CANCELLED
    if isinstance(exc, Exception):
        return rt._leaf_raised(i, exc)
    raise exc


def sync_leaf(
    i: int, node: str, label: str, condition: bool, call: Call, fn: Any = None, only: str = "bb"
) -> TickFn:
    """Tick function of a plain-function leaf: called directly, no event-loop involvement.

    ``fn``: the user function itself when it takes only ``bb`` or only ``ctx`` (``only``); it is
    then called as ``fn(rt.bb)`` or ``fn(rt.ctx)``, one frame fewer than through ``call``.
    Conditions and actions have a tick function each (no per-tick test of which this leaf is).
    """
    by_bb = fn is not None and only == "bb"
    by_ctx = fn is not None and only == "ctx"
    return (_condition_tick if condition else _action_tick)(i, node, label, call, fn, by_bb, by_ctx)


def _condition_tick(i: int, node: str, label: str, call: Call, fn: Any, by_bb: bool, by_ctx: bool) -> TickFn:
    def tick(rt: Host) -> Status:
        try:
            r = fn(rt.bb) if by_bb else fn(rt.ctx) if by_ctx else call(rt)
        except Exception as exc:
            r = rt._leaf_raised(i, exc)
        except asyncio.CancelledError:  # raised by the leaf itself (a plain call sees no cancellation)
            r = CANCELLED
        else:
            if r is True:
                r = SUCCESS
            elif r is False:
                r = FAILURE
            elif r is not SUCCESS and r is not FAILURE:
                r = _coerce(rt, i, r, True, node, label)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def _action_tick(i: int, node: str, label: str, call: Call, fn: Any, by_bb: bool, by_ctx: bool) -> TickFn:
    def tick(rt: Host) -> Status:
        try:
            r = fn(rt.bb) if by_bb else fn(rt.ctx) if by_ctx else call(rt)
        except Exception as exc:
            r = rt._leaf_raised(i, exc)
        except asyncio.CancelledError:  # as for a condition
            r = CANCELLED
        else:
            if r.__class__ is not Status:
                r = _coerce(rt, i, r, False, node, label)
            elif r is RUNNING:
                rt.polling = True
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def _applied(rt: Host, i: int, exc: BaseException, entered: bool) -> Status:
    """:func:`_raised`, out of the runner's starter's stretch for it if the leaf ticks within one
    (the error policy logs: a log handler must see the task that is really current)."""
    if not entered:
        return _raised(rt, i, exc)
    starter: EagerStarter = rt.eager  # type: ignore[assignment]  # (set by the root)
    starter.step_out()
    try:
        return _raised(rt, i, exc)
    finally:
        starter.step_in()


def _outcome(i: int, condition: bool, node: str, label: str, entered: bool) -> Callable[..., Status]:
    """How an async leaf turns what its coroutine returned (``value``) or raised (``exc``, or None)
    into its status, when that is not simply a bool (condition) or SUCCESS / FAILURE (action)."""

    def outcome(rt: Host, value: Any, exc: BaseException | None) -> Status:
        if exc is not None:
            return _applied(rt, i, exc, entered)
        r = _as_status(rt, i, value, condition, node, label)
        if r is RUNNING:
            rt.polling = True  # its coroutine ended saying RUNNING: like a plain leaf, it can only be polled
        return r

    return outcome


def _collector(i: int, outcome: Callable[..., Status]) -> Callable[[Host, Any], Status]:
    """How an async leaf whose coroutine suspended reports: RUNNING until its task is done, then
    the task's outcome (and the leaf is free to start again)."""

    def collect(rt: Host, task: Any) -> Status:
        if not task.done():
            return RUNNING
        rt.data[i] = None
        if task.cancelled():
            return CANCELLED
        failure = task.exception()
        if failure is None:
            return outcome(rt, task.result(), None)
        rt._abandon(i, task)  # done: only forgotten, so that a dropped runner does not report it again
        return outcome(rt, None, failure)

    return collect


Settle = Callable[[Host, EagerStarter, Any], Status]


def _settler(outcome: Callable[..., Status]) -> Settle:
    """The status of an async leaf whose coroutine finished, with ``value``, during its start
    (RAISED: it raised), when that is not simply a bool (condition) or SUCCESS / FAILURE (action)."""

    def settle(rt: Host, starter: EagerStarter, value: Any) -> Status:
        error, starter.error = starter.error, None  # (not kept beyond this call)
        return outcome(rt, value, error)

    return settle


def async_leaf(
    i: int,
    node: str,
    label: str,
    condition: bool,
    call: Call,
    fn: Any = None,
    only: str = "bb",
    entered: bool = False,
) -> TickFn:
    """Tick function of an ``async def`` leaf: its coroutine runs eagerly up to its first suspension;
    if it finishes there, its result is the status of this very tick, else its task goes on in the
    background, the leaf reports RUNNING, and a later tick collects the task's result.  ``fn``,
    ``only``: as for :func:`sync_leaf`.  ``entered``: the leaf ticks within its runner's starter's
    stretch (``eager.with_starter``, see ``program._async_only``): the task to be is current already."""
    outcome = _outcome(i, condition, node, label, entered)
    collect = _collector(i, outcome)
    settle = _settler(outcome)
    if entered and fn is not None and only == "bb":
        return _entered_tick(i, condition, fn, collect, settle)
    by_bb = fn is not None and only == "bb"
    by_ctx = fn is not None and only == "ctx"

    def tick(rt: Host) -> Status:
        task = rt.data[i]
        if task is not None:
            r = collect(rt, task)
        else:
            try:
                coro = fn(rt.bb) if by_bb else fn(rt.ctx) if by_ctx else call(rt)
            except Exception as raised:
                r = _applied(rt, i, raised, entered)
            else:
                starter: EagerStarter = rt.eager  # type: ignore[assignment]  # (set by the root)
                task = starter.start_entered(coro) if entered else starter.start(coro)
                if task is not None:  # it suspended: its task goes on
                    rt.data[i] = task
                    rt._track(i, task)
                    r = RUNNING
                elif condition:
                    r = starter.value
                    r = SUCCESS if r is True else FAILURE if r is False else settle(rt, starter, r)
                else:
                    r = starter.value
                    if r is not SUCCESS and r is not FAILURE:
                        r = settle(rt, starter, r)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def _entered_tick(
    i: int,
    condition: bool,
    fn: Callable[[Any], Any],
    collect: Callable[[Host, Any], Status],
    settle: Settle,
) -> TickFn:
    """The tick of the commonest async leaf, a function of ``bb`` alone ticked within a stretch: the
    start written out (``EagerStarter.start_entered``'s lines, one call fewer), and of what is known
    when the tree is built only whether it is a condition tested per tick (each test costs, and so
    does each name the function closes over: ~1,900 instructions per tick of six such leaves)."""

    def tick(rt: Host) -> Status:
        task = rt.data[i]
        if task is not None:
            r = collect(rt, task)
        else:
            try:
                coro = fn(rt.bb)
            except Exception as raised:
                r = _applied(rt, i, raised, True)
            else:
                starter: EagerStarter = rt.eager  # type: ignore[assignment]  # (set by the root)
                context = _copy_context()
                try:
                    first = context.run(starter.send, coro)
                except ValueError:  # (the driver is busy: a start inside a start)
                    first = BUSY
                if first is not DONE:  # it suspended: its task goes on
                    task = starter.carry_on(first, coro, context)
                    if task is None:  # (the driver was busy: it was started alone, and finished)
                        r = settle(rt, starter, starter.value)
                    else:
                        rt.data[i] = task
                        rt._track(i, task)
                        r = RUNNING
                elif condition:
                    r = starter.value
                    r = SUCCESS if r is True else FAILURE if r is False else settle(rt, starter, r)
                else:
                    r = starter.value
                    if r is not SUCCESS and r is not FAILURE:
                        r = settle(rt, starter, r)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def leaf_halt(i: int, hook: Call | None) -> HaltFn:
    """Halt of a leaf: cancel its task (if any) and run its halt hook.

    The hook is skipped for an async leaf whose coroutine had already finished by itself (the tree
    had not collected its result yet): there is no work left to stop.  Its result is discarded; an
    exception it raised is logged (:func:`_discarded`), never lost without a word.
    """

    def halt(rt: Host) -> None:
        if rt.status[i] is not RUNNING:
            return
        rt.status[i] = CANCELLED
        rt.seen[i] = rt.ticks
        task = rt.data[i]
        if task is not None:
            rt.data[i] = None
            finished = task.done()
            rt._abandon(i, task)
            if finished:
                if not task.cancelled() and task.exception() is not None:
                    _discarded(rt, i, task.exception())
                return  # its work is already done (the result is discarded): nothing to stop
        if hook is not None:
            rt._run_halt_hook(i, hook)

    return halt


def _discarded(rt: Host, i: int, exc: BaseException) -> None:
    """Leaf ``i``'s coroutine raised ``exc``, but the leaf was halted before a tick collected it.

    No error policy applies: the leaf reports no status (it is CANCELLED) and a halt may come from a
    timer, where there is no tick to raise into; so the exception is logged, for every policy.
    """
    spec = rt._program.plan.specs[i]
    log.warning(
        "%s: %s %r raised %r, but was halted before a tick collected it; the exception is discarded",
        rt.tree.name,
        spec.kind,
        spec.name,
        exc,
        exc_info=exc,
    )
