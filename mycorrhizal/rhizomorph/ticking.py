"""Tick and halt functions for every node kind, built once per compiled tree.

Each node becomes a closure ``tick(rt) -> Status`` that calls its children's closures directly and
keeps what changes in the runner's flat per-node lists (``status``, ``seen``, ``cur``, ``data``), so
one compiled tree serves any number of runners.  A node is *active* exactly when its last reported
status is RUNNING; ``halt(rt)`` of an active node cancels its work (tasks, timers), halts its
active children, runs halt hooks and marks it CANCELLED.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from ..common.errors import InvalidStatusError
from ..common.interpreter import start_eager
from .status import Status

if TYPE_CHECKING:
    from .runner import Runner

__all__ = ["HaltFn", "TickFn"]

TickFn = Callable[["Runner"], Status]
HaltFn = Callable[["Runner"], None]
Call = Callable[["Runner"], Any]

SUCCESS = Status.SUCCESS
FAILURE = Status.FAILURE
RUNNING = Status.RUNNING
ERROR = Status.ERROR
CANCELLED = Status.CANCELLED


def make_call(fn: Callable[..., Any], params: tuple[str, ...]) -> Call:
    """A function of the runner that calls ``fn`` with the runner's values for ``params``."""
    if params == ():
        return lambda rt: fn()
    if params == ("bb",):
        return lambda rt: fn(rt.bb)
    if params == ("bb", "timebase"):
        return lambda rt: fn(rt.bb, rt.timebase)
    if params == ("bb", "ctx"):
        return lambda rt: fn(rt.bb, rt.ctx)
    names = params
    return lambda rt: fn(*[getattr(rt, name) for name in names])


def bad_status(value: Any, condition: bool, node: str, label: str) -> InvalidStatusError:
    """The error for a leaf that returned something that is not a status it may return."""
    if inspect.iscoroutine(value):
        value.close()  # never started: closing it avoids a "never awaited" warning on top of this error
        kind = "condition" if condition else "action"
        return InvalidStatusError(
            f"{kind} {label!r} returned a coroutine: it is a plain function that calls an async one; "
            "declare it `async def` and await inside it",
            node=node,
        )
    if condition:
        return InvalidStatusError(
            f"condition {label!r} returned {value!r}; a condition returns True/False or "
            "Status.SUCCESS/Status.FAILURE (make it an action if it needs RUNNING)",
            node=node,
        )
    return InvalidStatusError(
        f"action {label!r} returned {value!r}, which is not a Status; return Status.SUCCESS, "
        "Status.FAILURE or Status.RUNNING",
        node=node,
    )


def check_result(value: Any, condition: bool, node: str, label: str) -> Status:
    """Turn a leaf's return value into its status, or raise InvalidStatusError."""
    if condition:
        if value is True or value is SUCCESS:
            return SUCCESS
        if value is False or value is FAILURE:
            return FAILURE
        raise bad_status(value, condition, node, label)
    if value.__class__ is Status:
        return value
    raise bad_status(value, condition, node, label)


# --------------------------------------------------------------------------------------------- leaves


def sync_leaf(i: int, node: str, label: str, condition: bool, call: Call) -> TickFn:
    """Tick function of a plain-function leaf: called directly, no event-loop involvement."""

    def tick(rt: Runner) -> Status:
        try:
            r = call(rt)
        except Exception as exc:
            r = rt._leaf_raised(i, exc)
        else:
            if condition:
                if r is True:
                    r = SUCCESS
                elif r is False:
                    r = FAILURE
                elif r is not SUCCESS and r is not FAILURE:
                    raise bad_status(r, condition, node, label)
            elif r.__class__ is not Status:
                raise bad_status(r, condition, node, label)
            elif r is RUNNING:
                rt.polling = True
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def async_leaf(i: int, node: str, label: str, condition: bool, call: Call) -> TickFn:
    """Tick function of an ``async def`` leaf.

    The coroutine runs eagerly up to its first suspension; if it finishes there, its result is the
    status of this very tick.  Otherwise its task keeps running in the background, the leaf reports
    RUNNING, and a later tick collects the result once the task is done.
    """

    def outcome(rt: Runner, value: Any, exc: BaseException | None) -> Status:
        if exc is None:
            return check_result(value, condition, node, label)
        if isinstance(exc, asyncio.CancelledError):
            return CANCELLED
        if isinstance(exc, Exception):
            return rt._leaf_raised(i, exc)
        raise exc

    def tick(rt: Runner) -> Status:
        data = rt.data
        task = data[i]
        if task is None:
            try:
                coro = call(rt)
            except Exception as raised:
                r = rt._leaf_raised(i, raised)
            else:
                task, done, value, error = start_eager(coro)
                if done:
                    r = outcome(rt, value, error)
                else:
                    data[i] = task
                    rt._live.add(task)
                    task.add_done_callback(rt._task_done)
                    r = RUNNING
        elif task.done():
            data[i] = None
            rt._live.discard(task)
            if task.cancelled():
                r = CANCELLED
            else:
                failure = task.exception()
                r = outcome(rt, None if failure is not None else task.result(), failure)
        else:
            r = RUNNING
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def leaf_halt(i: int, hook: Call | None) -> HaltFn:
    """Halt of a leaf: cancel its task (if any) and run its halt hook.

    The hook is skipped for an async leaf whose coroutine had already finished by itself (the tree
    had not collected its result yet): there is no work left to stop.
    """

    def halt(rt: Runner) -> None:
        if rt.status[i] is not RUNNING:
            return
        rt.status[i] = CANCELLED
        rt.seen[i] = rt.ticks
        task = rt.data[i]
        if task is not None:
            rt.data[i] = None
            finished = task.done()
            rt._abandon(task)
            if finished:
                return  # its work is already done (the result is discarded): nothing to stop
        if hook is not None:
            rt._run_halt_hook(i, hook)

    return halt


# ----------------------------------------------------------------------------------------- composites


def composite_halt(i: int, kids: Sequence[HaltFn], reset_cur: int, clear_data: bool = True) -> HaltFn:
    """Halt of a node with children: halt the active ones and forget this node's progress."""
    kids = tuple(kids)

    def halt(rt: Runner) -> None:
        if rt.status[i] is not RUNNING:
            return
        rt.status[i] = CANCELLED
        rt.seen[i] = rt.ticks
        for h in kids:
            h(rt)
        rt.cur[i] = reset_cur
        data = rt.data[i]
        if clear_data and data is not None:
            rt.data[i] = None
            cancel = getattr(data, "cancel", None)  # a timeout's timer
            if cancel is not None:
                cancel()

    return halt


def follow(rt: Runner, i: int, halts: tuple[HaltFn, ...], now: int) -> None:
    """A reactive composite now follows child ``now`` (-1: none is RUNNING): halt the child it was
    following, which it no longer ticks."""
    before = rt.cur[i]
    if before >= 0:
        halts[before](rt)
    rt.cur[i] = now


# Sequence and selector are written out in full, memory and reactive variants apart, rather than
# sharing one loop with a "go on while" predicate: they are the hottest code of a tick.


def sequence(i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn], memory: bool) -> TickFn:
    """Sequence: children in order until one does not succeed."""
    kids = tuple(kids)
    n = len(kids)
    halts = tuple(halts)
    if memory:

        def tick(rt: Runner) -> Status:
            cur = rt.cur
            k = cur[i]
            while k < n:
                r = kids[k](rt)
                if r is SUCCESS:
                    k += 1
                    continue
                cur[i] = k if r is RUNNING else 0
                break
            else:
                r = SUCCESS
                cur[i] = 0
            rt.status[i] = r
            rt.seen[i] = rt.ticks
            return r

        return tick

    def reactive(rt: Runner) -> Status:
        r = SUCCESS
        k = 0
        for tick_kid in kids:
            r = tick_kid(rt)
            if r is not SUCCESS:
                break
            k += 1
        now = k if r is RUNNING else -1
        if rt.cur[i] != now:
            follow(rt, i, halts, now)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return reactive


def selector(i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn], memory: bool) -> TickFn:
    """Selector (fallback): children in order until one does not fail."""
    kids = tuple(kids)
    n = len(kids)
    halts = tuple(halts)
    if memory:

        def tick(rt: Runner) -> Status:
            cur = rt.cur
            k = cur[i]
            r = FAILURE
            while k < n:
                r = kids[k](rt)
                if r is SUCCESS:
                    cur[i] = 0
                    break
                if r is RUNNING:
                    cur[i] = k
                    break
                k += 1
            else:
                cur[i] = 0
            rt.status[i] = r
            rt.seen[i] = rt.ticks
            return r

        return tick

    def reactive(rt: Runner) -> Status:
        r = FAILURE
        k = 0
        for tick_kid in kids:
            r = tick_kid(rt)
            if r is SUCCESS or r is RUNNING:
                break
            k += 1
        now = k if r is RUNNING else -1
        if rt.cur[i] != now:
            follow(rt, i, halts, now)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return reactive


def parallel(
    i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn], need_success: int, need_failure: int
) -> TickFn:
    """Parallel: tick every unfinished child each tick; decide on the thresholds."""
    kids = tuple(kids)
    halts = tuple(halts)
    n = len(kids)

    def tick(rt: Runner) -> Status:
        results = rt.data[i]
        if results is None:
            results = rt.data[i] = [None] * n
        ok = bad = 0
        decided: Status | None = None
        for k in range(n):
            r = results[k]
            if r is None:
                r = kids[k](rt)
                if r is not RUNNING:
                    results[k] = r
            if r is SUCCESS:
                ok += 1
                if ok >= need_success:
                    decided = SUCCESS
                    break
            elif r is not RUNNING:
                bad += 1
                if bad >= need_failure or n - bad < need_success:
                    decided = r
                    break
        if decided is None:
            r = RUNNING
        else:
            r = decided
            rt.data[i] = None
            for h in halts:
                h(rt)  # the children still RUNNING: the parallel no longer cares about them
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


# ----------------------------------------------------------------------------------------- decorators


def status_map(i: int, kid: TickFn, mapping: dict[Status, Status]) -> TickFn:
    """inverter / succeeder / failer: rewrite the child's completed status."""
    get = mapping.get

    def tick(rt: Runner) -> Status:
        r = kid(rt)
        r = get(r, r)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def passthrough(i: int, kid: TickFn) -> TickFn:
    """subtree: report the embedded tree's root status."""

    def tick(rt: Runner) -> Status:
        r = kid(rt)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def counted(i: int, kid: TickFn, times: int, again: frozenset[Status]) -> TickFn:
    """retry(n) / repeat(n): tick the child again, in the same tick, while it reports a status in
    ``again``, up to ``times`` runs in all; ``cur[i]`` counts the runs that ended (a RUNNING run
    keeps the count for the next tick)."""

    def tick(rt: Runner) -> Status:
        cur = rt.cur
        while True:
            r = kid(rt)
            if r not in again:
                break
            cur[i] += 1
            if cur[i] >= times:
                break
        if r is not RUNNING:
            cur[i] = 0
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


RETRY_ON = frozenset({FAILURE, ERROR})
"""retry(n) re-runs a child that failed or raised (CANCELLED is not retried)."""
REPEAT_ON = frozenset({SUCCESS})
"""repeat(n) runs the child again while it succeeds."""


def timeout(i: int, kid: TickFn, kid_halt: HaltFn, seconds: float, label: str) -> TickFn:
    """timeout(t): FAILURE if the child is still RUNNING ``t`` seconds after it started.

    ``cur[i]`` is 1 once the limit has passed; ``data[i]`` holds the timer.  The timer halts the
    child at the deadline itself, so its work stops on time however rarely the tree is ticked.
    """

    def expire(rt: Runner) -> None:
        if rt.data[i] is None:
            return
        rt.data[i] = None
        rt.cur[i] = 1
        rt._timed_out(i, label, seconds)
        kid_halt(rt)
        rt._wake()

    def tick(rt: Runner) -> Status:
        cur = rt.cur
        if cur[i]:
            cur[i] = 0
            r = FAILURE
        else:
            if rt.data[i] is None:
                rt.data[i] = rt.timebase.call_later(seconds, partial(expire, rt))
            r = kid(rt)
            if r is not RUNNING:
                rt.data[i].cancel()
                rt.data[i] = None
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def rate_limit(i: int, j: int, kid: TickFn, period: float) -> TickFn:
    """rate_limit(p): start the child (node ``j``) at most once every ``p`` seconds.

    A RUNNING child is ticked normally; a tick that comes too soon after the last start reports
    the status the child last ended with (CANCELLED if it was halted), without ticking it.
    ``data[i]`` is the time of the last start; it survives halts (a halt must not reopen the window).
    """

    def tick(rt: Runner) -> Status:
        if rt.status[j] is RUNNING:
            r = kid(rt)
        else:
            now = rt.timebase.now()
            started = rt.data[i]
            if started is not None and now - started < period:
                r = rt.status[j]  # type: ignore[assignment]  # set when it started
            else:
                rt.data[i] = now
                r = kid(rt)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def guard(i: int, cond: TickFn, kid: TickFn, kid_halt: HaltFn) -> TickFn:
    """guard(c): tick the child only while the condition holds; halt it when the condition fails."""

    def tick(rt: Runner) -> Status:
        c = cond(rt)
        if c is SUCCESS:
            r = kid(rt)
        else:
            if c is not RUNNING:
                kid_halt(rt)
            r = c
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick
