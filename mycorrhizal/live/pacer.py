"""Pacing a virtual clock in real time, so a simulation can be watched, paused and stepped.

A run on a :class:`~mycorrhizal.common.ManualClock` normally races through its virtual time.  A
:class:`Pacer` instead moves the clock forward by ``speed`` virtual seconds per real second (in
small slices, firing every timer on the way).  Pausing stops virtual time at the next deadline,
however many a slice spans at a high speed: nothing that waits on the clock happens until it moves
again, while work already due (a firing in progress, a handler that does not wait) finishes.  A
*step* moves the clock straight to the next deadline anything waits for (a timeout, a sleep, a
scheduled retry), lets everything due then run, and stays paused.  This works the same for nets,
machines and trees: every engine waits on its timebase.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MAX_SPEED", "Pacer", "VirtualClock", "check_speed", "is_virtual"]

log = logging.getLogger("mycorrhizal.live")

SLICE = 0.05
"""Real seconds between two moves of the clock while running."""
SETTLE = 20
"""Event-loop iterations given to what a deadline woke before the clock moves on (as ``run_for``)."""
MAX_SPEED = 1e6
"""The fastest pace: a million virtual seconds (11.6 days) per real second.  Faster is refused: a
slice would move the clock so far that a timer set later falls within its rounding (1e300 + 5 is
1e300), or to infinity."""


class VirtualClock(Protocol):
    """What a pacer needs of a clock: ManualClock, CycleClock and DictatedClock have it."""

    def now(self) -> float: ...

    def next_deadline(self) -> float | None: ...

    async def run_for(self, delay: float, *, settle: int = 20) -> int: ...


def is_virtual(clock: Any) -> bool:
    """True when ``clock`` is a virtual clock a pacer can drive."""
    return callable(getattr(clock, "next_deadline", None)) and callable(getattr(clock, "run_for", None))


def check_speed(speed: Any) -> float:
    """``speed`` as a float in (0, :data:`MAX_SPEED`], or a ValueError saying what is accepted."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed <= MAX_SPEED:
        raise ValueError(
            f"speed must be a number above 0 and at most {MAX_SPEED:g} (virtual seconds per real "
            f"second), got {speed!r}. Fix: pass a speed like 0.5 or 4"
        )
    return float(speed)


class Pacer:
    """Moves ``clock`` at ``speed`` virtual seconds per real second; ``pause``/``resume``/``step``."""

    def __init__(
        self,
        clock: VirtualClock,
        *,
        speed: float = 1.0,
        paused: bool = False,
        moved: Callable[[], None] | None = None,
    ) -> None:
        if not is_virtual(clock):
            raise TypeError(
                f"a live view paces virtual clocks only (ManualClock, CycleClock, DictatedClock), got "
                f"{clock!r}: real time cannot be paused. Fix: leave clock= out to watch a real-time run, or "
                "run it on a ManualClock and pass that"
            )
        self.clock = clock
        self.speed = check_speed(speed)
        self.paused = paused
        self.steps = 0
        """Steps taken so far."""
        self._moved = moved or (lambda: None)
        self._wake = asyncio.Event()
        self._step_wanted = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start moving the clock (from a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="mycorrhizal live pacer")

    async def stop(self) -> None:
        """Stop moving the clock."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():  # our caller is being cancelled too
                    raise

    def pause(self) -> None:
        """Stop virtual time."""
        self.paused = True
        self._wake.set()

    def resume(self) -> None:
        """Let virtual time run again."""
        self.paused = False
        self._wake.set()

    def step(self) -> None:
        """Pause (if running), then move the clock to the next deadline and run what is due then."""
        self.paused = True
        self._step_wanted += 1
        self._wake.set()

    def set_speed(self, speed: float) -> None:
        """Change the pace (virtual seconds per real second)."""
        self.speed = check_speed(speed)
        self._wake.set()  # the slice under way ends at its next deadline; the next one has the new pace

    def state(self) -> dict[str, Any]:
        """The controls' state, for the page."""
        nxt = self.clock.next_deadline()
        return {
            "pausable": True,
            "paused": self.paused,
            "speed": self.speed,
            "steps": self.steps,
            "next": None if nxt == math.inf else nxt,  # (a timer set for ever: never due; inf is no JSON)
        }

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            if self._step_wanted:
                self._step_wanted -= 1
                await self._step_once()
                last = loop.time()
                continue
            if self.paused:
                self._wake.clear()
                await self._wake.wait()
                last = loop.time()
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), SLICE)
                self._wake.clear()
            except TimeoutError:
                pass
            now = loop.time()
            if not self.paused:
                await self._advance((now - last) * self.speed)
                self._moved()
            last = now

    async def _advance(self, amount: float) -> None:
        """Move the clock ``amount`` virtual seconds, one deadline at a time, until a control (pause,
        step, resume, speed) is asked for: at a high speed a slice spans many deadlines (a periodic
        timer's every one), and a pause must not wait for the slice to end."""
        clock = self.clock
        end = clock.now() + amount
        while True:
            for _ in range(SETTLE):  # what the last deadline woke runs, and may wait on the clock again
                await asyncio.sleep(0)
            if self.paused or self._wake.is_set():
                return
            nxt = clock.next_deadline()
            # settle=0: only the timers due by then fire, nothing runs in between, so no timer set
            # meanwhile carries the clock past a pause asked for at the next deadline
            if nxt is None or nxt > end:
                await clock.run_for(max(0.0, end - clock.now()), settle=0)
                return
            await clock.run_for(max(0.0, nxt - clock.now()), settle=0)

    async def _step_once(self) -> None:
        nxt = self.clock.next_deadline()
        if nxt is None or nxt == math.inf:  # (a timer set for ever, e.g. a state's timeout=math.inf)
            log.info("live view: step: nothing waits on the clock (t=%g); time stays", self.clock.now())
        else:
            await self.clock.run_for(max(0.0, nxt - self.clock.now()))
        self.steps += 1
        self._moved()
