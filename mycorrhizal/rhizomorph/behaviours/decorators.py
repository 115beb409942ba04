"""How decorators tick: status maps, retry/repeat, timeout, rate limit, guard/when/do_while,
try_catch, match, subtree.

A decorator halts like a composite (:func:`~.composites.composite_halt`): its active child first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ...common.timebase import TimerHandle
from ..status import Status
from .host import HaltFn, Host, TickFn

__all__ = [
    "Deadline",
    "REPEAT_ON",
    "RETRY_ON",
    "counted",
    "do_while",
    "guard",
    "match",
    "passthrough",
    "rate_limit",
    "status_map",
    "timeout",
    "try_catch",
    "when",
]

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


class Deadline:
    """A timeout's running timer and the time (on the timebase) at which it fires."""

    __slots__ = ("handle", "at")

    def __init__(self, handle: TimerHandle, at: float) -> None:
        self.handle = handle
        self.at = at

    def cancel(self) -> None:
        """Stop the timer (halting or finishing in time)."""
        self.handle.cancel()


def timeout(i: int, j: int, kid: TickFn, seconds: float) -> TickFn:
    """timeout(t): FAILURE if the child is still RUNNING ``t`` seconds after it started.

    ``cur[i]`` is 1 once the limit has passed; ``data[i]`` holds the :class:`Deadline`.  The timer
    halts the child at the deadline itself, so its work stops on time however rarely the tree is
    ticked.  ``tick.rearm(rt, at)`` sets the timer again for a restored runner.
    """

    def expire(rt: Host) -> None:
        if rt.data[i] is None:
            return
        rt.data[i] = None
        rt.cur[i] = 1
        rt._timed_out(i, seconds)
        # The child (node ``j``) halted by the program the runner runs now, not the one whose tick
        # set the timer: an observer attached since then is told the halt, as it is told the timeout.
        rt._program.halts[j](rt)
        rt._halted()
        rt._wake()

    def arm(rt: Host, at: float) -> None:
        delay = at - rt.timebase.now()
        rt.data[i] = Deadline(rt.timebase.call_later(delay, partial(expire, rt)), at)

    def tick(rt: Host) -> Status:
        cur = rt.cur
        if cur[i]:
            cur[i] = 0
            r = FAILURE
        else:
            if rt.data[i] is None:
                arm(rt, rt.timebase.now() + seconds)
            r = kid(rt)
            if r is not RUNNING:
                rt.data[i].cancel()
                rt.data[i] = None
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    tick.rearm = arm  # type: ignore[attr-defined]
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


def when(i: int, cond: TickFn, kid: TickFn, kid_halt: HaltFn) -> TickFn:
    """when(c): an optional step - tick the child while the condition holds; if it fails, halt the
    child and SUCCEED (a guard would fail)."""

    def tick(rt: Host) -> Status:
        c = cond(rt)
        if c is SUCCESS:
            r = kid(rt)
        elif c is RUNNING:
            r = c
        else:
            kid_halt(rt)
            r = SUCCESS
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def do_while(i: int, cond: TickFn, kid: TickFn, kid_halt: HaltFn) -> TickFn:
    """do_while(c): while the condition holds run the child, one run per tick.

    Condition fails: SUCCESS (a RUNNING child is halted).  Condition holds: tick the child; its
    SUCCESS ends one run and the loop reports RUNNING (and asks to be ticked again: the runner
    polls it), any failure ends the loop with that status.
    """

    def tick(rt: Host) -> Status:
        c = cond(rt)
        if c is SUCCESS:
            r = kid(rt)
            if r is SUCCESS:
                r = RUNNING
                rt.polling = True  # nothing else would wake a waiting run for the next iteration
        elif c is RUNNING:
            r = c
        else:
            kid_halt(rt)
            r = SUCCESS
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def try_catch(i: int, body: TickFn, handler: TickFn) -> TickFn:
    """try_catch: tick the try block; if it fails, the catch block runs (and is resumed while RUNNING)
    and its status is the node's.  ``cur[i]`` is 1 while the catch block is the one running."""

    def tick(rt: Host) -> Status:
        cur = rt.cur
        if cur[i]:
            r = handler(rt)
        else:
            r = body(rt)
            if r is not SUCCESS and r is not RUNNING:
                cur[i] = 1
                r = handler(rt)
        if r is not RUNNING:
            cur[i] = 0
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick


def _accepts(matcher: Any, default: bool) -> Callable[[Any], bool]:
    """A test of the key: always (default case), isinstance (a type), a predicate, or ``==``."""
    if default:
        return lambda key: True
    if isinstance(matcher, type):
        return lambda key: isinstance(key, matcher)
    if callable(matcher):
        return lambda key: bool(matcher(key))
    return lambda key: bool(key == matcher)


def match(i: int, key: Callable[[Host], Any], cases: Sequence[Any], kids: Sequence[TickFn]) -> TickFn:
    """match: compute the key, tick the first case that accepts it (FAILURE if none does).

    ``cur[i]`` is the case that is RUNNING (-1: none): it is resumed without computing the key again.
    The key function (and a predicate) raising is a leaf-like failure: the error policy applies.
    """
    tests = tuple(_accepts(case.matcher, case.default) for case in cases)
    kids = tuple(kids)

    def choose(rt: Host) -> int:
        value = key(rt)
        for k, test in enumerate(tests):
            if test(value):
                return k
        return -1

    def tick(rt: Host) -> Status:
        k = rt.cur[i]
        if k < 0:
            try:
                k = choose(rt)
            except Exception as exc:
                k = -1
                r = rt._leaf_raised(i, exc)
            else:
                r = FAILURE
        if k >= 0:
            r = kids[k](rt)
            rt.cur[i] = k if r is RUNNING else -1
        rt.status[i] = r
        rt.seen[i] = rt.ticks
        return r

    return tick
