"""Driving a machine that waits: for its turn (:func:`take_turn`), or for work (``run(wait=True)``
and ``tick(timeout=...)``).

Both wait, when the machine is idle, for the next message or timeout.  Cancelling
``run(wait=True)`` tells the machine that whoever ran it wants it still: a timeout that fires
afterwards is queued for the next ``run()`` instead of running it in the background.  A
``tick(timeout=t)`` that found nothing to do in ``t`` seconds on the machine's timebase returns
False, as 0.x's ``tick(timeout)`` did.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..common.interpreter import called_within
from ..common.numbers import is_count, is_seconds
from .chart import DRIVING
from .engine import Engine
from .failures import drove_itself
from .turns import Turns

__all__ = ["check_timeout", "run_waiting", "take_turn", "tick_within"]


async def run_waiting(engine: Engine, limit: int) -> int:
    """``run(limit, wait=True)``: until terminal or ``limit`` steps, waiting whenever idle."""
    try:
        steps: int = await engine.drive(limit, True, int)
        return steps
    except asyncio.CancelledError:
        if engine.clock is not None:
            # Whoever ran the machine wants it still: a timeout that fires now is queued for the
            # next run(), not run in the background (see docs/septum.md, Closing a machine).
            engine.clock.passive = True
        raise


async def tick_within(engine: Engine, timeout: float | None) -> bool:
    """One step, waiting for work if idle: for ever (``timeout=None``) or ``timeout`` seconds."""
    if timeout is None:
        did: bool = await engine.drive(1, True, bool)
        return did
    task = asyncio.current_task()
    assert task is not None
    expired: list[bool] = []

    def expire() -> None:
        if engine.waiter is not None:  # still idle (a step under way ends the tick by itself)
            expired.append(True)
            task.cancel("septum: tick(timeout=...) found nothing to do")

    handle = engine.timebase.call_later(timeout, expire)
    try:
        did = await engine.drive(1, True, bool)
        return did
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            return False
        raise
    finally:
        handle.cancel()


_TIMEOUT_FIXES = {
    "tick": "pass how long an idle machine waits for work (0: not at all), or None to wait until it comes",
    "run": "pass a number >= 0 or None (0.x's poll interval: run(timeout=t) is run(wait=True), which "
    "waits for work without polling)",
}


def check_timeout(timeout: Any, machine: str, call: str = "tick") -> None:
    """``tick(timeout=...)`` and 0.x's ``run(timeout=...)`` take None or seconds >= 0 (not NaN nor a bool)."""
    if timeout is not None and not is_seconds(timeout):
        raise ValueError(
            f"machine {machine}: {call}(timeout=...) takes a number of seconds >= 0 or None, got "
            f"{timeout!r}. Fix: {_TIMEOUT_FIXES[call]}"
        )


def check_steps(max_steps: Any, machine: str) -> None:
    """``run(max_steps=...)`` takes an int >= 0 (None is tested by the caller)."""
    if not is_count(max_steps, least=0):
        raise ValueError(
            f"machine {machine}: run(max_steps=...) takes an int >= 0 or None, got {max_steps!r}. "
            "Fix: pass the most steps to take, or None for no limit"
        )


async def take_turn(engine: Engine, skip: int, call: str) -> bool:
    """Wait until nobody drives the machine, then raise what its background run hit, if anything;
    True if the caller is left nothing to do (the machine was closed meanwhile, or the caller is
    the background run of a timeout that a caller's run() handled first, or that fired while an
    error of an earlier background run was still kept for the next caller).

    ``skip``: frames between this one and the caller that asked to run (see ``called_within``);
    ``call``: what it called (``run()``...), named in the refusal of a handler driving its own machine.
    """
    if engine.running:
        if called_within(engine, DRIVING, skip=skip + 1):
            raise drove_itself(engine, call)
        turns = engine.turns
        if turns is None:
            turns = engine.turns = Turns()
        while engine.running:
            await turns.wait()
    clock = engine.clock
    if clock is None:
        return engine.closed
    if clock.failure is not None and clock.in_background():
        # The background run of a later timeout: the error kept is the next caller's to raise
        # (raised here, it would be logged and kept again), and that timeout waits for a caller too.
        return True
    failure = clock.take_failure()
    if failure is not None:
        # Raised by the first run() after it, including one that waited while it happened.
        engine.release()
        raise failure
    return engine.closed or clock.outrun()
