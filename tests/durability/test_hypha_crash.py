"""Crash tests of a journaled hypha runner: what Runner.recover rebuilds after a kill or a torn WAL.

After every crash, in the recovered marking: every job is in exactly one place (in whatever form the
firings that committed gave it), no job twice, no job that was never injected, every job whose
injection was acknowledged (``flush()`` returned) present; and a transition held back by a failure
is retried at the deadline it had before the crash, not a new one; every ``fsm=`` machine is in a
state it had reached: one in ``Hold`` was sent there by a job whose firing committed (the job is in
``tracked``), with the deadline it had then, and its timeout fires at that deadline, not before.

- SIGKILL: child processes (:mod:`.hypha_crash_child`) run the net and are killed at random
  moments, 4 chains of 13 kills on the same file each, in parallel; each child recovers the run the
  previous one left.
- Torn writes: the WAL of a run is cut (and sometimes followed by garbage) at random offsets.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import FailedToken, Runner
from mycorrhizal.mycelium import machines

from . import hypha_crash_child as child
from .crashes import KILLS_PER_CHAIN, kill_chains, kill_one, leave_as_crashed, torn_copies


def job_of(token: Any) -> int:
    """The job id a token of the crash net carries, in whatever form it has reached."""
    if isinstance(token, FailedToken):
        token = token.token
    if token[0] in ("w", "d"):
        return int(token[1])
    return int(token[0])


class Log:
    """What a chain's children wrote: acknowledged jobs, armed deadlines, the last clock reading."""

    def __init__(self, path: Path) -> None:
        lines = path.read_text().split("\n")[:-1] if path.exists() else []  # complete lines only
        self.acked = {int(line[2:]) for line in lines if line.startswith("a ")}
        self.deadlines = {float(line[2:]) for line in lines if line.startswith("d ")}
        times = [float(line[2:]) for line in lines if line.startswith("t ")]
        self.now = times[-1] if times else 0.0
        flushed = [float(line[2:]) for line in lines if line.startswith("f ")]
        self.flushed = max(flushed, default=-1.0)
        self.holds: dict[tuple[str, float], set[int]] = {}  # (key, deadline) -> the jobs that set it
        for line in lines:
            if line.startswith("h "):
                _, key, job, deadline = line.split()
                self.holds.setdefault((key, float(deadline)), set()).add(int(job))


async def check_recovery(path: Path, log: Log, injected: int) -> tuple[int, int, int, int]:
    """Recover a copy of the run at ``path``; check the invariants; return (jobs found, acked,
    deadlines checked, machines found in Hold)."""
    copy = path.with_name(f"{path.name}.check")
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{copy}{suffix}")
        elif Path(f"{copy}{suffix}").exists():
            os.remove(f"{copy}{suffix}")
    clock = ManualClock(log.now)
    async with SQLiteStore(copy) as store:
        runner = await Runner.recover(child.net(), store, timebase=clock, run=child.RUN)
        jobs = Counter(job_of(token) for tokens in runner.marking().values() for token in tokens)
        duplicates = [job for job, count in jobs.items() if count > 1]
        assert not duplicates, f"jobs in two places at once: {duplicates}"
        assert all(job < injected for job in jobs), "a job that was never injected"
        missing = log.acked - set(jobs)
        assert not missing, f"acknowledged jobs lost: {sorted(missing)[:10]}"
        held = await check_machines(runner, clock, log)
        checked = await check_timeouts(runner, clock, held) + await check_deadlines(runner, clock, log)
        await runner.stop(cancel=True)
    return len(jobs), len(log.acked), checked, len(held)


async def check_machines(runner: Runner, clock: ManualClock, log: Log) -> dict[str, float]:
    """Every machine is in a state it reached: in Hold, sent there by a job whose firing committed
    (the job is in ``tracked``), with the deadline it had then (one already past is set for now, to
    time out at the clock's next move).  Returns the deadline per key held."""
    await asyncio.sleep(0)  # a timeout that had fired before the crash is handled on restore
    tracked = {token[1] for token in runner.tokens("tracked")}
    held = {}
    for key, fsm in machines(runner, "track").items():
        assert fsm.current_state in (child.Open, child.Hold)
        if fsm.current_state is child.Open:
            continue
        timer = fsm.snapshot(blackboard=False)["timer"]
        assert isinstance(timer, dict) and "deadline" in timer, f"machine {key} in Hold without a timer"
        deadline = timer["deadline"]
        causes = log.holds.get((key, deadline), set())
        if deadline == clock.now():  # the deadline had passed: any that had, but not before the last
            # flush (the timeout had been handled and journaled well before it: a step earlier)
            causes = {
                job
                for (k, d), jobs in log.holds.items()
                if k == key and log.flushed - child.STEP < d <= deadline
                for job in jobs
            }
        assert causes, f"machine {key} is in Hold until {deadline}, which it never was"
        assert causes & tracked, f"machine {key} is in Hold for jobs {causes} whose firing did not commit"
        held[key] = deadline
    return held


async def check_timeouts(runner: Runner, clock: ManualClock, held: dict[str, float]) -> int:
    """The machines in Hold whose deadline is ahead time out at that deadline, not before."""
    ahead = sorted(deadline for deadline in held.values() if deadline > clock.now() + 0.001)
    if not ahead:
        return 0
    first = ahead[0]
    clock.advance(first - clock.now() - 0.001)
    await asyncio.sleep(0)
    early = [
        key
        for key, at in held.items()
        if at >= first and machines(runner, "track")[key].current_state is child.Open
    ]
    assert not early, f"machines {early} timed out before their deadlines"
    clock.advance(0.001)
    for _ in range(3):
        await asyncio.sleep(0)
    for key, deadline in held.items():
        want = child.Open if deadline <= first else child.Hold
        assert machines(runner, "track")[key].current_state is want, (
            f"machine {key} not timed out at {deadline}"
        )
    return 1


async def check_deadlines(runner: Runner, clock: ManualClock, log: Log) -> int:
    """A transition held back by a failure is retried at the deadline it had, not a fresh one;
    returns how many such deadlines were still ahead (and checked)."""
    await runner.start()  # arms the deadlines; nothing has fired yet
    checked = 0
    for stuck in runner.stuck():
        if stuck.retry_at is None:
            continue
        assert stuck.retry_at in log.deadlines, f"{stuck}: a deadline the crashed run never armed"
        if stuck.retry_at <= clock.now() or runner.tokens("inbox"):
            continue  # due already, or a job coming from upstream would release it before its time
        tried = runner.stats.failures + runner.fired()[stuck.name]
        clock.advance(stuck.retry_at - clock.now() - 0.001)
        await asyncio.sleep(0)
        assert runner.stats.failures + runner.fired()[stuck.name] == tried, "retried before its deadline"
        clock.advance(0.001)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert runner.stats.failures + runner.fired()[stuck.name] > tried, "not retried at its deadline"
        checked += 1
    return checked


def kill_chain(chain: int, folder: Path) -> list[tuple[int, int, int, int]]:
    """Start, kill and check a child ``KILLS_PER_CHAIN`` times on one file; (jobs found, acked,
    deadlines checked, machines in Hold) after each kill."""
    rng = random.Random(chain)
    path, log_path = folder / f"chain{chain}.db", folder / f"chain{chain}.log"
    outcomes = []
    for attempt in range(KILLS_PER_CHAIN):
        first = attempt * 100_000
        args = (str(path), str(log_path), first, Log(log_path).now, rng.random())
        kill_one(child.main, args, rng, ready=True, longest=0.05, attempt=attempt)
        outcomes.append(asyncio.run(check_recovery(path, Log(log_path), first + 100_000)))
    return outcomes


def test_a_killed_runner_recovers_every_committed_token_once(tmp_path: Path) -> None:
    results = kill_chains(kill_chain, tmp_path, child.__name__)
    outcomes = [outcome for chain in results for outcome in chain]
    assert len(outcomes) >= 50
    assert all(chain[-1][0] > 50 for chain in results), "the children did not get much done"
    # Kills landed with work not yet acknowledged: more jobs recovered than acknowledged ...
    assert sum(found > acked for found, acked, _, _ in outcomes) >= 5
    # ... and while a failed transition waited for its retry deadline, or a machine for its timeout.
    assert sum(checked for _, _, checked, _ in outcomes) >= 5
    assert sum(held > 0 for *_, held in outcomes) >= 5, "machines were rarely caught in Hold"


async def run_into_wal(path: Path) -> int:
    """Run the net in many commits without a checkpoint; leave the files as a crash would (and the
    machines' Holds in ``<path>.log``)."""
    store = SQLiteStore(path, autocheckpoint=0, commit_interval=0, synchronous="OFF")
    clock = ManualClock()
    fd = os.open(f"{path}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    runner = await Runner.recover(
        child.net(), store, {"log": fd}, timebase=clock, run=child.RUN, snapshot_every=50
    )
    await runner.start()
    rng = random.Random(3)
    for job in range(300):
        runner.add_token("inbox", (job, clock.now() + rng.choice([0.0, 0.6])))
        clock.advance(0.25)
        await asyncio.sleep(0)
        if job % 4 == 0:
            await runner.flush()
    await runner.flush()
    os.write(fd, b"t %r\n" % clock.now())
    leave_as_crashed(path)
    await store.close()
    os.close(fd)
    return 300


@pytest.mark.parametrize("garbage", [False, True], ids=["truncated", "garbage-after-cut"])
async def test_a_torn_wal_recovers_a_consistent_state(tmp_path: Path, garbage: bool) -> None:
    source = tmp_path / "source.db"
    injected = await run_into_wal(source)
    log = Log(Path(f"{source}.log"))
    found, held = [], 0
    for torn in torn_copies(source, tmp_path, garbage):
        async with SQLiteStore(torn, synchronous="OFF") as store:
            clock = ManualClock(log.now)
            runner = await Runner.recover(child.net(), store, timebase=clock, run=child.RUN)
            jobs = Counter(job_of(token) for tokens in runner.marking().values() for token in tokens)
            assert all(count == 1 for count in jobs.values()), "a job in two places"
            assert set(jobs) <= set(range(injected))
            found.append(len(jobs))
            holds = await check_machines(runner, clock, log)
            held += len(holds) + await check_timeouts(runner, clock, holds)
            await runner.stop(cancel=True)
    assert found == sorted(found), "a longer WAL gave fewer jobs"
    assert found[-1] == injected  # the whole WAL: every job
    assert len(set(found)) > 8  # the cuts landed in many different commits
    assert held > 5, "machines were rarely caught in Hold"
