"""The loop of :meth:`~mycorrhizal.rhizomorph.Runner.tick_until_complete`: after a first tick, tick
and wait between ticks until the root completes.

Between ticks it waits, without polling, until an async leaf finishes or a timer fires; only a
plain-function leaf that reported RUNNING (it can only be polled) makes it tick again after
``period`` (or at the next turn of the event loop), and a clock that only ticks move (a
``CycleClock``) lets what it woke run and ticks again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Protocol

from ..common.errors import ExecutionError
from ..common.timebase import Timebase
from . import options
from .status import Status

__all__ = [
    "CLEARS",
    "EXPIRED",
    "HALF_DONE",
    "RUN_AGAIN",
    "TICK_MEANWHILE",
    "Driven",
    "during_tick",
    "refused",
    "refused_during_tick",
    "ticks",
]

log = logging.getLogger("mycorrhizal.rhizomorph")
RUNNING = Status.RUNNING
EXPIRED = 2
"""``runner._driven`` once tick_until_complete()'s timeout has passed (1 while it runs)."""


class Driven(Protocol):
    """What the loop uses of the runner it drives."""

    tree: Any
    timebase: Timebase
    polling: bool
    _driven: int
    _woken: bool
    _closed: bool
    _waiter: asyncio.Future[None] | None

    def _tick(self) -> Status: ...

    def _wake(self) -> None: ...

    def reset(self) -> None: ...


async def ticks(
    rt: Driven, result: Status, period: float | None, max_ticks: int | None
) -> tuple[Status, int]:
    """Go on from a first tick that returned ``result`` until the root completes (or ``max_ticks``,
    the timeout, or aclose()); (the last status, the number of ticks)."""
    if result is not RUNNING or max_ticks == 1:
        return result, 1  # a tree that completes at once (a tree per token) needs nothing more
    loop = asyncio.get_running_loop()
    steps = options.steps_per_tick(rt.timebase)
    count = 1
    while True:
        if rt._driven == EXPIRED:
            return _time_up(rt), count
        if steps:
            await asyncio.sleep(0)  # only ticks move this clock: let what it woke run, tick again
        elif rt.polling:
            if period is None:
                await asyncio.sleep(0)
            else:
                await _wait(rt, loop, period)
        elif not rt._woken:
            await _wait(rt, loop, None)
        if rt._closed:
            return Status.CANCELLED, count
        if rt._driven == EXPIRED:
            return _time_up(rt), count
        result = rt._tick()
        count += 1
        if result is not RUNNING or (max_ticks is not None and count >= max_ticks):
            return result, count


TICK_MEANWHILE = "tick() while tick_until_complete() is running"
RUN_AGAIN = "tick_until_complete() is already running"


def refused(tree: str, root: str, what: str) -> ExecutionError:
    """The error for ``what`` (:data:`TICK_MEANWHILE`, :data:`RUN_AGAIN`) while a
    ``tick_until_complete()`` drives the runner: a tick from elsewhere would collect what the run
    waits for, and the run would then tick the finished tree again, starting its work anew."""
    return ExecutionError(
        f"tree {tree!r}: {what} for this runner. Fix: await that call, or make another Runner for a "
        "separate run",
        node=root,
    )


def during_tick(rt: Driven) -> bool:
    """True if ``rt``'s tree is being ticked further up the call stack: a leaf or a halt hook calls
    back into the runner.  Walks the frames (microseconds): for calls made rarely (reset, aclose)."""
    tick = type(rt)._tick.__code__
    frame, callee = sys._getframe(1), None
    while frame is not None:
        if frame.f_code is tick and frame.f_locals.get("self") is rt:
            # In its root's tick (not in on_tick after it, nor in the reset after a tick raised).
            root = getattr(frame.f_locals.get("root_tick"), "__code__", None)
            return callee is not None and callee.f_code is root
        frame, callee = frame.f_back, frame  # type: ignore[assignment]
    return False


CLEARS = (
    "would clear the progress the tick goes on from",
    "end the run with the status the leaf returns, or ",
)
"""Why ``reset()`` and ``aclose()`` are refused during a tick, and what to do instead."""
HALF_DONE = ("would write down a tick half done, and a runner restored from it would go on from there", "")
"""Why ``snapshot()`` is refused during a tick."""


def refused_during_tick(tree: str, root: str, what: str, why: tuple[str, str] = CLEARS) -> ExecutionError:
    """The error for ``what`` (``reset()``, ``aclose()``, ``snapshot()``) called during a tick of
    the runner, refused because it ``why[0]`` (:data:`CLEARS`, :data:`HALF_DONE`); ``why[1]`` starts
    the fix."""
    return ExecutionError(
        f"tree {tree!r}: {what} during a tick (by a leaf or a halt hook) {why[0]}. Fix: {why[1]}call "
        f"{what} between ticks (after tick() returns, or from on_tick)",
        node=root,
    )


def _time_up(rt: Driven) -> Status:
    """tick_until_complete()'s timeout passed with the tree RUNNING: halt everything."""
    rt.reset()
    log.info("%s: tick_until_complete() timed out; everything running was halted", rt.tree.name)
    return Status.CANCELLED


async def _wait(rt: Driven, loop: asyncio.AbstractEventLoop, period: float | None) -> None:
    waiter = rt._waiter = loop.create_future()
    timer = None if period is None else rt.timebase.call_later(period, rt._wake)
    try:
        await waiter
    finally:
        rt._waiter = None
        if timer is not None:
            timer.cancel()
