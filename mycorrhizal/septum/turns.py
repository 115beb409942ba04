"""Taking turns: ``run()`` calls on one machine run one after another, in the order they came.

A machine is driven by one call at a time (a caller's ``run()``, or the background run its timer
starts).  A call that finds the machine busy waits here for its turn; the call in progress hands
the turn on when it ends.  A waiter that is cancelled is skipped, never handed the turn.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Turns"]


class Turns:
    """The calls waiting for their turn on one machine, longest-waiting first."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()

    def __bool__(self) -> bool:
        return bool(self._waiting)

    async def wait(self) -> None:
        """Wait until the call in progress hands the turn on (the caller checks it is free)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.pass_on()  # we were handed the turn but will not take it: pass it on
            raise

    def pass_on(self) -> None:
        """Wake the longest-waiting call that is still waiting."""
        waiting = self._waiting
        while waiting:
            future = waiting.popleft()
            if not future.done():  # a cancelled waiter is skipped, not handed the turn
                future.set_result(None)
                return
