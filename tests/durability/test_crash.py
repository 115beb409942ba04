"""Crash tests at the store level: what reopening a killed or torn store gives back.

After every crash the store must hold a *prefix* of what was appended (records 1..K, each exactly as
appended, none twice, none torn), a snapshot that is exactly the one written at its seq, and every
record whose ``flush()`` had returned.

- SIGKILL: child processes append, flush and snapshot at random and are killed at random moments
  (including while they open the file), 4 chains of 13 kills on the same file each, in parallel.
- Torn writes: the WAL of a store that appended in many commits is cut (and sometimes followed by
  garbage) at random offsets, as a crash in the middle of writing it would leave it.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from mycorrhizal.common import Recovery
from mycorrhizal.durability import SQLiteStore

from . import crash_child
from .conftest import document, payload
from .crashes import KILLS_PER_CHAIN, kill_chains, kill_one, leave_as_crashed, torn_copies


def check_prefix(recovery: Recovery | None) -> int:
    """Assert ``recovery`` is a clean prefix of what the children append; returns its last seq."""
    if recovery is None:
        return 0
    after = 0
    if recovery.snapshot is not None:
        after = recovery.snapshot.seq
        assert recovery.snapshot.document == document(after), "a torn or wrong snapshot"
    for expected, record in enumerate(recovery.records, after + 1):
        assert record.seq == expected, f"gap or duplicate at {expected}"
        assert (record.kind, record.payload) == ("fire", payload(expected)), f"record {expected} torn"
    return recovery.last_seq


async def recover(path: Path, run: str, synchronous: str = "FULL") -> Recovery | None:
    store = SQLiteStore(path, synchronous=synchronous)
    try:
        return await store.load(run)
    finally:
        await store.close()


def kill_chain(chain: int, folder: Path) -> list[tuple[int, int]]:
    """Start, kill and check a child ``KILLS_PER_CHAIN`` times on one file; (acknowledged, found)."""
    rng = random.Random(chain)
    path, acks = folder / f"chain{chain}.db", folder / f"chain{chain}.acks"
    outcomes: list[tuple[int, int]] = []
    found = 0
    for attempt in range(KILLS_PER_CHAIN):
        args = (str(path), str(acks), rng.random())
        ready = rng.random() < 0.8  # mostly while appending; sometimes while it opens the file
        kill_one(crash_child.main, args, rng, ready=ready, longest=0.03, attempt=attempt)
        lines = acks.read_text().split() if acks.exists() else []
        acknowledged = max(map(int, lines), default=0)
        before = found
        found = check_prefix(asyncio.run(recover(path, crash_child.RUN)))
        assert found >= acknowledged, f"flushed records lost: acknowledged {acknowledged}, found {found}"
        assert found >= before, "records found after an earlier crash disappeared"
        outcomes.append((acknowledged, found))
    return outcomes


def test_a_killed_writer_leaves_a_prefix_with_every_flushed_record(tmp_path: Path) -> None:
    results = kill_chains(kill_chain, tmp_path, crash_child.__name__)
    outcomes = [outcome for chain in results for outcome in chain]
    assert len(outcomes) >= 50
    # The kills did land while records were being written, not only before or after.
    assert sum(found > acknowledged for acknowledged, found in outcomes) >= 5
    assert all(chain[-1][1] > 100 for chain in results)  # the children did append plenty


async def write_many_commits(path: Path) -> int:
    """Append in 80 commits without any checkpoint, so the WAL holds every commit; returns last seq."""
    rng = random.Random(12)
    # No fsync needed: the "crash" copies the files as the operating system holds them.
    store = SQLiteStore(path, autocheckpoint=0, commit_interval=0, synchronous="OFF")
    journal = await store.open_journal(crash_child.RUN)
    for _ in range(80):
        for _ in range(rng.randint(1, 40)):
            journal.append("fire", payload(journal.last_seq + 1))
        if rng.random() < 0.15:
            journal.snapshot(document(journal.last_seq))
        await journal.flush()
    leave_as_crashed(path)  # before closing, which would checkpoint the WAL into the file
    last = journal.last_seq
    await store.close()
    return last


@pytest.mark.parametrize("garbage", [False, True], ids=["truncated", "garbage-after-cut"])
async def test_a_torn_wal_leaves_a_prefix(tmp_path: Path, garbage: bool) -> None:
    source = tmp_path / "source.db"
    last = await write_many_commits(source)
    found = [
        check_prefix(await recover(torn, crash_child.RUN, synchronous="OFF"))
        for torn in torn_copies(source, tmp_path, garbage)
    ]
    assert found == sorted(found), "a longer WAL gave fewer records"
    assert found[-1] == last  # the whole WAL: everything
    assert len(set(found)) > 8  # the cuts did land in many different commits
