"""Fixtures for the live view: the circuit-breaker example's world, and a view of it on a free port."""

import runpy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mycorrhizal.live import LiveView

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mycelium" / "circuit_breaker_handler.py"


@pytest.fixture(scope="session")
def cb() -> dict[str, Any]:
    """The circuit-breaker example's module namespace (not run as __main__)."""
    return runpy.run_path(str(EXAMPLE), run_name="circuit_breaker_live")


@pytest.fixture
async def world(cb: dict[str, Any]) -> AsyncIterator[Any]:
    """A fresh, started circuit-breaker world (virtual clock, blackboard, net runner)."""
    world = cb["build"]()
    await world.runner.start()
    yield world
    await world.runner.stop()


@pytest.fixture
async def view(world: Any) -> AsyncIterator[LiveView]:
    """A live view of the world's runner on a free port, pacing its clock, paused."""
    async with LiveView(world.runner, port=0, clock=world.clock, paused=True) as view:
        yield view


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session
