"""Helpers shared by the hypha tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from mycorrhizal.common import ManualClock

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
