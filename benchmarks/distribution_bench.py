"""Distribution over Redis: 4 worker processes against 1 on I/O-bound handlers; the Redis path's cost.

Starts its own redis-server (Debian's package) on a free loopback port, like the tests.

- **throughput**: ``mycorrhizal worker`` processes run ``Latency`` (jobs -> work -> done, where
  ``work`` awaits ``LATENCY`` seconds of simulated I/O, ``--concurrency 8``): microseconds of wall
  time per token, from submitting a batch to its last token reaching ``done``, with 1 worker and with
  4.  Target: 4 workers at least 1.5x the throughput of 1 (their time per token <= 0.667 of it).
- **per-firing overhead**: one worker in this process on ``Latency`` without latency, against the
  same net in a plain in-memory ``Runner``; and how many firings one commit round trip carries and
  how many tokens one read round trip brings.

Usage: python benchmarks/distribution_bench.py [--quick] [--rounds N]
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from _harness import REPOSITORY, Case, Derived, Once, Row, Settings, fixed_row, run_benchmark

from mycorrhizal.distribution import Client, Worker
from mycorrhizal.hypha import NetBuilder, Runner, pn
from tests import redis_server

LATENCY = float(os.environ.get("MYCORRHIZAL_BENCH_LATENCY", "0.005"))
CONCURRENCY = "8"
SERVER: list[redis_server.RedisServer] = []
FLEETS: list[Fleet] = []


@pn.net
def Latency(builder: NetBuilder) -> None:
    """jobs -> work -> done; work awaits LATENCY seconds (simulated I/O) when LATENCY > 0."""
    jobs = builder.place("jobs")
    done = builder.place("done")

    @builder.transition(inputs=[jobs], outputs=[done])
    async def work(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        if bb is None or bb.get("latency", True):
            await asyncio.sleep(LATENCY)
        return {done: consumed[0]}


def server() -> redis_server.RedisServer:
    if not SERVER:
        SERVER.append(redis_server.start())
    return SERVER[0]


async def wait_done(client: Client, count: int) -> None:
    while await client.depth("done") < count:
        await asyncio.sleep(0.002)


class Fleet:
    """``workers`` worker processes on a prefix of their own, and a client submitting to them."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen[str]] = []
        self.client: Client | None = None
        self.done = 0

    def launch(self) -> Fleet:
        """Start the processes now (every fleet starts at once; ``setup`` waits until they are ready)."""
        env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
        argv = [sys.executable, "-m", "mycorrhizal", "worker", f"{__file__}:Latency", "--redis", server().url,
                "--prefix", self.prefix, "--concurrency", CONCURRENCY]  # fmt: skip
        for _ in range(self.workers):
            self.processes.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    cwd=REPOSITORY,
                )
            )
        FLEETS.append(self)
        return self

    async def setup(self) -> None:
        for process in self.processes:
            assert process.stdout is not None and process.stdout.readline().startswith("worker ")
        self.client = Client(Latency, server().url, prefix=self.prefix)

    async def run(self, n: int) -> float:
        assert self.client is not None
        start = time.perf_counter()
        await self.client.submit("jobs", range(n))
        self.done += n
        await wait_done(self.client, self.done)
        return time.perf_counter() - start

    async def teardown(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.communicate(timeout=30)
        if self.client is not None:
            await self.client.clear()
            await self.client.close()


class InProcess:
    """One worker in this process, without latency: the Redis path's own cost per firing.

    Each sample submits its tokens first (untimed), then times a fresh worker from its start until
    the last token is done: reads, firings and commits only.
    """

    def __init__(self) -> None:
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.client: Client | None = None
        self.worker: Worker | None = None
        self.done = 0

    async def setup(self) -> None:
        self.client = Client(Latency, server().url, prefix=self.prefix)

    async def run(self, n: int) -> float:
        assert self.client is not None
        await self.client.submit("jobs", range(n))
        worker = self.worker = Worker(
            Latency, server().url, prefix=self.prefix, blackboard={"latency": False}, concurrency=64
        )
        self.done += n
        start = time.perf_counter()
        await worker.start()
        await wait_done(self.client, self.done)
        elapsed = time.perf_counter() - start
        await worker.stop()
        return elapsed

    async def teardown(self) -> None:
        assert self.client is not None
        await self.client.clear()
        await self.client.close()


async def in_memory(n: int) -> float:
    runner = Runner(Latency, {"latency": False})
    start = time.perf_counter()
    runner.add_tokens("jobs", range(n))
    await runner.run_until_idle()
    return time.perf_counter() - start


def cases(settings: Settings) -> Sequence[Case]:
    tokens = settings.scale(2000, 200)
    fleets = {n: Fleet(n) for n in (1, 4)}
    for n, fleet in fleets.items():  # started together: their start-up overlaps
        if settings.wanted(f"{n} worker" + ("s" if n > 1 else ""), "I/O-bound tokens"):
            fleet.launch()
    one, four, local = fleets[1], fleets[4], InProcess()
    return [
        Case("1 worker", "I/O-bound tokens", one.run, ops=tokens, self_timed=True, setup=one.setup,
             teardown=one.teardown, note=f"{LATENCY * 1000:g} ms of awaited latency per firing"),
        Case("4 workers", "I/O-bound tokens", four.run, ops=tokens, self_timed=True, setup=four.setup,
             teardown=four.teardown),
        Case("Redis path", "firing, no latency", local.run, ops=tokens, self_timed=True, setup=local.setup,
             teardown=local.teardown, note="read, fire, commit: from a worker's start to the last done"),
        Case("in memory", "firing, no latency", in_memory, ops=tokens, self_timed=True),
    ]  # fmt: skip


DERIVED = [
    Derived("4 workers / 1 worker", "time per token", ("4 workers", "I/O-bound tokens"),
            ("1 worker", "I/O-bound tokens"), op="/", unit="x", target=0.667,
            note="<= 0.667: at least 1.5x the throughput"),
    Derived("Redis path", "over in memory", ("Redis path", "firing, no latency"),
            ("in memory", "firing, no latency")),
]  # fmt: skip


def round_trips(settings: Settings) -> Sequence[Once]:
    def measure() -> list[Row]:
        async def run() -> Worker:
            local = InProcess()
            await local.setup()
            await local.run(settings.scale(5000, 200))
            await local.teardown()
            assert local.worker is not None
            return local.worker

        worker = asyncio.run(run())
        calls, firings = worker.commits
        return [
            fixed_row("Redis path", "firings per commit round trip", firings / max(1, calls), "firings"),
            fixed_row("Redis path", "tokens per read round trip", worker.read_entries / max(1, worker.reads),
                      "tokens"),
        ]  # fmt: skip

    return [Once("Redis path", "round trips", measure)]


def main(argv: Sequence[str] | None = None) -> list[Row]:
    try:
        return run_benchmark(
            argv, __doc__ or "", name="distribution", peers=("redis",), cases=cases, derived=DERIVED,
            once=round_trips, rounds=7,
        )  # fmt: skip
    finally:
        for fleet in FLEETS:  # those --only left out were started all the same
            for process in fleet.processes:
                if process.poll() is None:
                    process.kill()
                process.communicate()
        FLEETS.clear()
        for started in SERVER:
            started.stop()
        SERVER.clear()


if __name__ == "__main__":
    main(sys.argv[1:])
