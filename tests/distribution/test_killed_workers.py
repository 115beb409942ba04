"""Four worker processes, two of them killed with SIGKILL at random moments: nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import random
import signal
import time

from mycorrhizal.distribution import Client

from .nets import TwoStage
from .workers import start_worker, started

TOKENS = 10_000  # issue 13: 4 workers, 10^4 tokens, two killed at random moments
LEASE = "0.5"  # seconds: short, so the dead workers' tokens come back quickly
DEADLINE = 45.0  # seconds: the run must end well before (a liveness bound, not a speed figure)


async def wait_for_done(client: Client, count: int, until: float) -> int:
    while time.monotonic() < until:
        status = await client.status()
        done = next(p for p in status.places if p.place == "TwoStage.done")
        if done.depth >= count:
            return done.depth
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {done.depth} of {count} tokens reached 'done' in time: {status}")


async def test_every_token_ends_in_the_output_exactly_once_when_workers_die(
    redis_url: str, redis_prefix: str
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    workers = [start_worker(redis_url, redis_prefix, "TwoStage", "--lease", LEASE, "--concurrency", "32")
               for _ in range(4)]  # fmt: skip
    try:
        names = {process: started(process) for process in workers}
        victims = rng.sample(workers, 2)
        moments = sorted(rng.sample(range(TOKENS // 10, TOKENS * 9 // 10), 2))
        async with Client(TwoStage, redis_url, prefix=redis_prefix) as client:
            await client.submit("jobs", range(TOKENS))
            until = time.monotonic() + DEADLINE
            for victim, moment in zip(victims, moments, strict=True):
                await wait_for_done(client, moment, until)
                victim.send_signal(signal.SIGKILL)
            assert await wait_for_done(client, TOKENS, until) == TOKENS, f"seed {seed}"
            outputs = await client.tokens("done")
            assert sorted(outputs) == sorted(f"job-{n}" for n in range(TOKENS)), f"seed {seed}"
            status = await client.status()
            assert {p.place: (p.depth, sum(p.pending.values())) for p in status.places} == {
                "TwoStage.jobs": (0, 0),
                "TwoStage.middle": (0, 0),
                "TwoStage.done": (TOKENS, 0),
            }, f"seed {seed}"
            survivors = [p for p in workers if p not in victims]
            alive = {w.name for w in status.workers if w.alive}
            assert {names[p] for p in survivors} <= alive
        for process in survivors:
            process.send_signal(signal.SIGTERM)
        for process in survivors:
            out, err = process.communicate(timeout=20)
            assert process.returncode == 0, err
            assert "stopped:" in out
        for victim in victims:
            victim.communicate(timeout=10)
            assert victim.returncode == -signal.SIGKILL
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.communicate()
