"""How sequences, selectors and parallels tick and halt.

Sequence and selector are written out in full, memory and reactive variants apart, rather than
sharing one loop with a "go on while" predicate: they are the hottest code of a tick.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..status import Status
from .host import HaltFn, Host, TickFn

__all__ = ["composite_halt", "parallel", "selector", "sequence"]

SUCCESS = Status.SUCCESS
FAILURE = Status.FAILURE
RUNNING = Status.RUNNING
CANCELLED = Status.CANCELLED


def composite_halt(i: int, kids: Sequence[HaltFn], reset_cur: int, clear_data: bool = True) -> HaltFn:
    """Halt of a node with children: halt the active ones and forget this node's progress."""
    kids = tuple(kids)

    def halt(rt: Host) -> None:
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


def follow(rt: Host, i: int, halts: tuple[HaltFn, ...], now: int) -> None:
    """A reactive composite now follows child ``now`` (-1: none is RUNNING): halt the child it was
    following, which it no longer ticks."""
    before = rt.cur[i]
    if before >= 0:
        halts[before](rt)
    rt.cur[i] = now


def sequence(i: int, kids: Sequence[TickFn], halts: Sequence[HaltFn], memory: bool) -> TickFn:
    """Sequence: children in order until one does not succeed."""
    kids = tuple(kids)
    halts = tuple(halts)
    place = kids.index  # (each child is its own function: its place is where it is found)
    if memory:

        def tick(rt: Host) -> Status:
            # The cursor is 0 unless a child was RUNNING: only then is it read back and written,
            # the RUNNING child's place looked up (rather than counted child by child).
            start = rt.cur[i]
            r = SUCCESS
            for kid in kids[start:] if start else kids:
                r = kid(rt)
                if r is not SUCCESS:
                    break
            if r is RUNNING:
                rt.cur[i] = place(kid, start)
            elif start:
                rt.cur[i] = 0
            rt.status[i] = r
            rt.seen[i] = rt.ticks
            return r

        return tick

    def reactive(rt: Host) -> Status:
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
    halts = tuple(halts)
    place = kids.index  # (each child is its own function: its place is where it is found)
    if memory:

        def tick(rt: Host) -> Status:
            start = rt.cur[i]  # as in sequence(): 0 unless a child was RUNNING
            r = FAILURE
            for kid in kids[start:] if start else kids:
                r = kid(rt)
                if r is SUCCESS or r is RUNNING:
                    break
            if r is RUNNING:
                rt.cur[i] = place(kid, start)
            elif start:
                rt.cur[i] = 0
            rt.status[i] = r
            rt.seen[i] = rt.ticks
            return r

        return tick

    def reactive(rt: Host) -> Status:
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

    def tick(rt: Host) -> Status:
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
