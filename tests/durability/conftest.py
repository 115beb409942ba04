"""Fixtures for the store tests: every store under the same contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from mycorrhizal.common import Store
from mycorrhizal.durability import MemoryStore, SQLiteStore

StoreFactory = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "memory"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Opens the store under test; for SQLite each call opens the same file again (a restart)."""
    opened: list[Store] = []
    memory = MemoryStore()

    async def make() -> Store:
        store: Store = SQLiteStore(tmp_path / "run.db") if request.param == "sqlite" else memory
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
