"""Fixtures shared by the whole suite."""

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

from mycorrhizal.common import ManualClock

from . import redis_server

# Hypothesis's per-example deadline is a timing assertion: on a loaded machine it fails tests whose
# behaviour is right (a septum property test took 850 ms under a load of 11). The suite's timeout
# still bounds a test that hangs.
settings.register_profile("mycorrhizal", deadline=None)
settings.load_profile("mycorrhizal")


@pytest.fixture
def clock() -> ManualClock:
    """A virtual clock starting at t=0; time moves only when a test advances it."""
    return ManualClock()


@pytest.fixture(scope="session")
def redis_service() -> Iterator[redis_server.RedisServer]:
    """One ``redis-server`` of the test session's own (loopback, free port, temporary folder)."""
    server = redis_server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_service: redis_server.RedisServer) -> str:
    """The URL of the session's Redis server (tests keep apart by :func:`redis_prefix`)."""
    return redis_service.url


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix no other test uses, so tests share one server without seeing each other's keys."""
    return f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
