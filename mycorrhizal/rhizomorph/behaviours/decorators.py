"""How decorators tick: status maps, retry/repeat, timeout, rate limit, guard, subtree.

A decorator halts like a composite (:func:`~.composites.composite_halt`): its active child first.
"""

from __future__ import annotations

from functools import partial

from ..status import Status
from .host import HaltFn, Host, TickFn

__all__ = ["REPEAT_ON", "RETRY_ON", "counted", "guard", "passthrough", "rate_limit", "status_map", "timeout"]

SUCCESS = Status.SUCCESS
FAILURE = Status.FAILURE
RUNNING = Status.RUNNING
ERROR = Status.ERROR


def status_map(i: int, kid: TickFn, mapping: dict[Status, Status]) -> TickFn:
    """inverter / succeeder / failer: rewrite the child's completed status."""
    get = mapping.get

    def tick(rt: Host) -> Status:
        r = kid(rt)
        r = get(r, r)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def passthrough(i: int, kid: TickFn) -> TickFn:
    """subtree: report the embedded tree's root status."""

    def tick(rt: Host) -> Status:
        r = kid(rt)
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def counted(i: int, kid: TickFn, times: int, again: frozenset[Status]) -> TickFn:
    """retry(n) / repeat(n): tick the child again, in the same tick, while it reports a status in
    ``again``, up to ``times`` runs in all; ``cur[i]`` counts the runs that ended (a RUNNING run
    keeps the count for the next tick)."""

    def tick(rt: Host) -> Status:
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


def timeout(i: int, kid: TickFn, kid_halt: HaltFn, seconds: float) -> TickFn:
    """timeout(t): FAILURE if the child is still RUNNING ``t`` seconds after it started.

    ``cur[i]`` is 1 once the limit has passed; ``data[i]`` holds the timer.  The timer halts the
    child at the deadline itself, so its work stops on time however rarely the tree is ticked.
    """

    def expire(rt: Host) -> None:
        if rt.data[i] is None:
            return
        rt.data[i] = None
        rt.cur[i] = 1
        rt._timed_out(i, seconds)
        kid_halt(rt)
        rt._wake()

    def tick(rt: Host) -> Status:
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

    def tick(rt: Host) -> Status:
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

    def tick(rt: Host) -> Status:
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
