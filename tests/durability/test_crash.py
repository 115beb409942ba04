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
import multiprocessing
import os
import random
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mycorrhizal.common import Recovery
from mycorrhizal.durability import SQLiteStore

from . import crash_child
from .conftest import document, payload

CHAINS = 4
KILLS_PER_CHAIN = 13  # 52 kills in all


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
    context = multiprocessing.get_context("forkserver")
    rng = random.Random(chain)
    path, acks = folder / f"chain{chain}.db", folder / f"chain{chain}.acks"
    outcomes: list[tuple[int, int]] = []
    found = 0
    for attempt in range(KILLS_PER_CHAIN):
        ready = context.Event()
        child = context.Process(target=crash_child.main, args=(str(path), str(acks), rng.random(), ready))
        child.start()
        if rng.random() < 0.8:  # mostly while appending; sometimes while it opens the file
            assert ready.wait(timeout=30), "the child never got going"
        # A random moment in real time: the point is to interrupt a real process anywhere.
        time.sleep(rng.uniform(0.0, 0.03))
        child.kill()
        child.join(timeout=30)
        # -9: killed.  255: the forkserver lost the status of a child killed just after it forked
        # (multiprocessing reports 255 then).  A child that failed on its own would exit with 1.
        assert child.exitcode in (-9, 255), (
            f"attempt {attempt}: the child ended on its own ({child.exitcode})"
        )
        lines = acks.read_text().split() if acks.exists() else []
        acknowledged = max(map(int, lines), default=0)
        before = found
        found = check_prefix(asyncio.run(recover(path, crash_child.RUN)))
        assert found >= acknowledged, f"flushed records lost: acknowledged {acknowledged}, found {found}"
        assert found >= before, "records found after an earlier crash disappeared"
        outcomes.append((acknowledged, found))
    return outcomes


def test_a_killed_writer_leaves_a_prefix_with_every_flushed_record(tmp_path: Path) -> None:
    multiprocessing.get_context("forkserver").set_forkserver_preload([crash_child.__name__])
    with ThreadPoolExecutor(CHAINS) as pool:
        results = list(pool.map(kill_chain, range(CHAINS), [tmp_path] * CHAINS))
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
    # Leave the files as a crash would: no close (which would checkpoint the WAL into the file).
    shutil.copy(path, f"{path}.crashed")
    shutil.copy(f"{path}-wal", f"{path}-wal.crashed")
    last = journal.last_seq
    await store.close()
    return last


@pytest.mark.parametrize("garbage", [False, True], ids=["truncated", "garbage-after-cut"])
async def test_a_torn_wal_leaves_a_prefix(tmp_path: Path, garbage: bool) -> None:
    source = tmp_path / "source.db"
    last = await write_many_commits(source)
    database = Path(f"{source}.crashed").read_bytes()
    wal = Path(f"{source}-wal.crashed").read_bytes()
    rng = random.Random(garbage)
    cuts = sorted(rng.sample(range(len(wal)), 25)) + [len(wal)]
    found = []
    for number, cut in enumerate(cuts):
        torn = tmp_path / f"torn{number}.db"
        torn.write_bytes(database)
        tail = os.urandom(rng.randint(1, 5000)) if garbage and cut < len(wal) else b""
        Path(f"{torn}-wal").write_bytes(wal[:cut] + tail)
        found.append(check_prefix(await recover(torn, crash_child.RUN, synchronous="OFF")))
    assert found == sorted(found), "a longer WAL gave fewer records"
    assert found[-1] == last  # the whole WAL: everything
    assert len(set(found)) > 8  # the cuts did land in many different commits
