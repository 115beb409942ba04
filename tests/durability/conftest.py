"""Fixtures for the store tests: every store under the same contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from mycorrhizal.common import Store
from mycorrhizal.distribution import RedisStore
from mycorrhizal.durability import MemoryStore, SQLiteStore

StoreFactory = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "memory", "redis"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Opens the store under test; for SQLite and Redis each call opens the same file or keys again
    (a restart).  Redis is the test session's own server (tests/conftest.py), under a fresh prefix."""
    opened: list[Store] = []
    memory = MemoryStore()
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")

    async def make() -> Store:
        store: Store
        if request.param == "sqlite":
            store = SQLiteStore(tmp_path / "run.db")
        elif request.param == "redis":
            store = RedisStore(url, prefix=prefix)
        else:
            store = memory
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


def payload(seq: int) -> dict[str, object]:
    """What the tests append as record ``seq``: checkable from the seq alone."""
    return {"seq": seq, "text": "é" * (seq % 7), "items": [seq, None, seq / 4, True]}


def document(seq: int) -> dict[str, object]:
    """What the tests write as the snapshot at ``seq``."""
    return {"upto": seq, "total": seq * (seq + 1) // 2}
