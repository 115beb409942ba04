"""What the crash tests share: child processes killed at random moments, and torn write-ahead logs.

- :func:`kill_chains` runs ``CHAINS`` chains in parallel, each starting and killing
  ``KILLS_PER_CHAIN`` children one after the other on one file of its own (:func:`kill_one`).
- :func:`leave_as_crashed` copies a store's files as a crash would leave them (no checkpoint), and
  :func:`torn_copies` makes copies of that store whose WAL is cut at random offsets.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any, TypeVar

from mycorrhizal.durability import SQLiteStore

CHAINS = 4
KILLS_PER_CHAIN = 13  # 52 kills per test
CUTS = 25  # random offsets a WAL is cut at (then it is taken whole)
T = TypeVar("T")


def random_store(path: str, rng: random.Random) -> SQLiteStore:
    """The store a child writes to, with commit options drawn by ``rng``: crashes hit every setting."""
    return SQLiteStore(
        path,
        commit_interval=rng.choice([0.0, 0.0005, 0.002]),
        max_batch=rng.choice([5, 50, 1000]),
        keep_snapshots=rng.choice([1, 2]),
        synchronous=rng.choice(["NORMAL", "FULL"]),
    )


def context() -> ForkServerContext:
    """Children start from a forkserver that has imported the child's module already."""
    return multiprocessing.get_context("forkserver")


def kill_chains(chain: Callable[[int, Path], list[T]], folder: Path, child: str) -> list[list[T]]:
    """``chain(number, folder)`` for every chain, in parallel; ``child``: the module the children run."""
    context().set_forkserver_preload([child])
    with ThreadPoolExecutor(CHAINS) as pool:
        return list(pool.map(chain, range(CHAINS), [folder] * CHAINS))


def kill_one(
    target: Callable[..., None],
    args: tuple[Any, ...],
    rng: random.Random,
    *,
    ready: bool,
    longest: float,
    attempt: int,
) -> None:
    """Start ``target(*args, ready_event)`` in a child and SIGKILL it after up to ``longest`` seconds
    (counted once it said it is ready, if ``ready``); fails if the child ended on its own."""
    event = context().Event()
    process = context().Process(target=target, args=(*args, event))
    process.start()
    if ready:
        assert event.wait(timeout=30), "the child never got going"
    # A random moment in real time: the point is to interrupt a real process anywhere.
    time.sleep(rng.uniform(0.0, longest))
    process.kill()
    process.join(timeout=30)
    # -9: killed.  255: the forkserver lost the status of a child killed just after it forked
    # (multiprocessing reports 255 then).  A child that failed on its own would exit with 1.
    assert process.exitcode in (-9, 255), (
        f"attempt {attempt}: the child ended on its own ({process.exitcode})"
    )


def leave_as_crashed(path: Path) -> None:
    """Copy the store's file and WAL as they are now (``<name>.crashed``), before it closes and
    checkpoints them."""
    shutil.copy(path, f"{path}.crashed")
    shutil.copy(f"{path}-wal", f"{path}-wal.crashed")


def torn_copies(source: Path, folder: Path, garbage: bool) -> Iterator[Path]:
    """Copies of the store ``source`` left by :func:`leave_as_crashed`, its WAL cut at ``CUTS``
    random offsets from shortest to longest (each followed by random bytes if ``garbage``), then
    whole: what a crash in the middle of writing the WAL leaves."""
    database = Path(f"{source}.crashed").read_bytes()
    wal = Path(f"{source}-wal.crashed").read_bytes()
    rng = random.Random(garbage)
    cuts = sorted(rng.sample(range(len(wal)), CUTS)) + [len(wal)]
    for number, cut in enumerate(cuts):
        torn = folder / f"torn{number}.db"
        torn.write_bytes(database)
        tail = os.urandom(rng.randint(1, 5000)) if garbage and cut < len(wal) else b""
        Path(f"{torn}-wal").write_bytes(wal[:cut] + tail)
        yield torn
