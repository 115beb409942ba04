"""Helpers shared by the hypha tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, pn

T = TypeVar("T")


async def settle(clock: ManualClock, awaitable: Awaitable[T], *, step: float = 1.0, limit: int = 1000) -> T:
    """Await ``awaitable`` while moving virtual time forward one step at a time."""
    task = asyncio.ensure_future(awaitable)
    for _ in range(limit):
        await clock.run_for(0)
        if task.done():
            return task.result()
        await clock.run_for(step)
    task.cancel()
    raise AssertionError("did not finish within the virtual time limit")


@pytest.fixture
def bb() -> dict[str, Any]:
    """A fresh dict blackboard."""
    return {}


def sleepy_net(concurrency: int, *, eager: bool = True) -> Any:
    @pn.net
    def Sleepy(builder: NetBuilder) -> None:
        jobs = builder.place("jobs")
        done = builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], concurrency=concurrency, eager=eager)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            bb.setdefault("running", []).append(consumed[0])
            bb["peak"] = max(bb.get("peak", 0), len(bb["running"]))
            await timebase.sleep(1)
            bb["running"].remove(consumed[0])
            return {done: consumed[0]}

    return Sleepy


def pipeline(stages: int, *, initial: Any = ()) -> Any:
    """source -> t1 -> p1 -> ... -> sink with handlers that pass tokens on unchanged."""
    builder = NetBuilder(f"Pipe{stages}")
    places = [builder.place("p0", initial=initial)] + [builder.place(f"p{i}") for i in range(1, stages + 1)]
    for i in range(stages):
        src, dst = places[i], places[i + 1]

        async def handler(consumed: Any, bb: Any, timebase: Any, dst: str = dst) -> Any:
            return {dst: consumed[0]}

        builder.transition(name=f"t{i}", inputs=[src], outputs=[dst])(handler)
    return builder.build()
