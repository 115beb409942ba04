"""A keyed firing that fails anywhere on its way to Redis: before its Lua commit, in it (the reply
lost after Redis applied it), with its lease lost or its epoch changed before it, while its machine's
document is written, in the handler, or with the re-take after it failing too.  Whatever the point,
every token is handled exactly once by a machine that counted each of its key's tokens once, the
worker goes on, and nothing is logged over and over."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from mycorrhizal.common import ExecutionError, ManualClock
from mycorrhizal.distribution import Client, Worker
from mycorrhizal.distribution.connection import decoded
from mycorrhizal.distribution.machines import KeyedMachines

from .nets import Tally
from .test_keyed import balanced, by_key, done
from .test_worker import soon, until

KEYS = ["north", "south", "east"]


class Faults:
    """Wraps ``worker``'s commit script: its ``at``-th call fails at ``point`` (and every ``every``
    calls after it, if given, cycling through ``CYCLE``)."""

    def __init__(
        self, worker: Worker, client: Client, point: str, at: int = 2, every: int = 0, cycle: Any = None
    ) -> None:
        self.worker, self.client, self.point, self.at, self.every = worker, client, point, at, every
        self.cycle = cycle or CYCLE
        self.calls = 0
        self.fired = False
        self.script = worker._committer._script
        worker._committer._script = self  # type: ignore[assignment]

    async def __call__(self, keys: list[str], args: list[Any], client: Any = None) -> Any:
        self.calls += 1
        nth = self.calls - self.at
        if nth < 0 or (nth and not (self.every and nth % self.every == 0)) or self.point in NOT_HERE:
            return await self.script(keys=keys, args=args)
        self.fired = True
        point = self.cycle[(nth // self.every) % len(self.cycle)] if self.every else self.point
        firings = json.loads(args[2])
        (lease,) = {keys[firing[2][0] - 1] for firing in firings if firing[2]} or {None}
        redis = self.client._client
        if point in ("before commit", "retake fails", "retake breaks"):
            raise RedisConnectionError("injected: the connection broke before the commit")
        if point == "lease lost" and lease is not None:
            await redis.delete(lease)  # as if it had run out
        elif point == "epoch changed" and lease is not None:
            await redis.set(lease, f"{self.worker.name} 999", px=int(self.worker.lease * 1000))
        result = await self.script(keys=keys, args=args)
        if point == "reply lost":
            raise RedisConnectionError("injected: the connection broke after Redis committed")
        return result


POINTS = [
    "handler",
    "written",
    "before commit",
    "reply lost",
    "lease lost",
    "epoch changed",
    "retake fails",
    "retake breaks",
]
NOT_HERE = ("handler", "written")  # injected elsewhere
CYCLE = ["before commit", "reply lost", "lease lost", "epoch changed"]


@pytest.mark.parametrize("point", POINTS)
async def test_a_keyed_firing_that_fails_on_its_way_to_redis_leaves_no_trace(
    point: str, redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    board: dict[str, Any] = {"fail": 1 if point == "handler" else 0}
    worker = Worker(Tally, redis_url, prefix=redis_prefix, lease=1.0, blackboard=board)
    injected: list[str] = []
    if point == "written":  # the machine has handled the token; its document cannot be written
        written = KeyedMachines.written

        def failing(self: KeyedMachines, part: Any, token: Any) -> Any:
            if not injected:
                injected.append(point)
                raise ExecutionError("injected: the machine's document cannot be written")
            return written(self, part, token)

        monkeypatch.setattr(KeyedMachines, "written", failing)
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        faults = Faults(worker, client, point)
        if point.startswith("retake"):  # and so does reading the machines back after it, once
            restore = KeyedMachines.restore

            async def failing_restore(self: KeyedMachines, part: Any) -> int:
                if faults.fired and not injected:
                    injected.append(point)
                    if point == "retake breaks":  # a defect: the partition goes, with its name logged
                        raise RuntimeError("injected: a defect in restoring machines")
                    raise RedisConnectionError("injected: the connection broke during the re-take")
                return await restore(self, part)

            monkeypatch.setattr(KeyedMachines, "restore", failing_restore)
        caplog.set_level(logging.INFO, logger="mycorrhizal")
        await client.submit("jobs", [[key, n] for n in range(3) for key in KEYS])
        await until(lambda: done(client, 9), "every token of the first round is done")
        assert faults.fired or board["fail"] == 0
        assert injected or not (point == "written" or point.startswith("retake"))
        # The worker goes on: a second round is handled by the same machines.
        await client.submit("jobs", [[key, n] for n in range(3, 6) for key in KEYS])
        await until(lambda: done(client, 18), "every token of the second round is done")
        # Each token once, by a machine that had counted every earlier token of its key once.
        assert by_key(await client.tokens("done")) == {key: [(n, n) for n in range(6)] for key in KEYS}
        machines = await client.machines("count")
        assert {key: (doc["state"], doc["retry"]) for key, doc in machines.items()} == {
            key: ("Counting", 6) for key in KEYS
        }
        if point == "reply lost":  # committed after all: the token is not handed to its machine again
            assert sorted(board["seen"]) == sorted((key, n) for key in KEYS for n in range(6))
        await until(soon(lambda: worker.holding == 0 and len(worker.partitions) == 16), "it settles")
        assert await client.depth("jobs") == 0
        await worker.stop()
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not any("did not come from Redis" in m for m in messages), messages
    if point.startswith("retake"):  # one error names the partition given up
        assert [m for m in messages if "gave partition ('Tally.jobs', " in m and " up: " in m], messages
    assert len(messages) <= 4, messages
    assert max(Counter(messages).values(), default=0) == 1, messages


async def test_two_workers_with_commits_failing_over_and_over_hand_each_token_on_once(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [f"backend-{n}" for n in range(8)]
    workers = [Worker(Tally, redis_url, prefix=redis_prefix, lease=0.5) for _ in range(2)]
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        for worker in workers:
            await worker.start()
        # Commits failing before and after the Lua call, with the lease deleted or moved to another
        # epoch before it, in turn; from each worker's first call of the commit script on, every other
        # one: a worker may commit its share in as few as two batched calls.
        faults = [Faults(worker, client, "cycle", at=1, every=2) for worker in workers]
        caplog.set_level(logging.INFO, logger="mycorrhizal")
        await until(soon(lambda: len(workers[0].partitions) + len(workers[1].partitions) == 16), "balanced")
        for n in range(6):
            await client.submit("jobs", [[key, n] for key in keys])
        await until(lambda: done(client, 48), "every token is done", seconds=40)
        assert all(f.fired for f in faults)
        assert by_key(await client.tokens("done")) == {key: [(n, n) for n in range(6)] for key in keys}
        machines = await client.machines("count")
        assert {key: (doc["state"], doc["retry"]) for key, doc in machines.items()} == {
            key: ("Counting", 6) for key in keys
        }
        await until(soon(lambda: all(w.holding == 0 for w in workers)), "they settle")
        assert await client.depth("jobs") == 0
        for worker in workers:
            await worker.stop()
    assert "did not come from Redis" not in caplog.text


@pytest.mark.parametrize("seed", range(2))
async def test_two_workers_whose_leases_run_out_and_move_on_over_and_over_hand_each_token_on_once(
    seed: int, redis_url: str, redis_prefix: str, clock: ManualClock
) -> None:
    """Leases deleted under both workers (they ran out) and taken again by either under a new epoch,
    commits failing at every point in turn, sweeps in a random order: every token is handled exactly
    once, in its key's order, and nothing waits for a lease (30 s) to pass.  (A fenced worker re-takes
    its partition, or leaves it with its entries to the other, which claims them at once.)"""
    rng = random.Random(seed)
    keys = [f"backend-{n}" for n in range(8)]
    workers = [Worker(Tally, redis_url, prefix=redis_prefix, lease=30, timebase=clock) for _ in range(2)]
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        leases = [client.shared.keys.lease("Tally.jobs", i) for i in range(16)]
        polls = 0

        async def time_passes() -> None:  # the sweeps every lease / 3; leases nobody holds run out
            values = [decoded(v) for v in await client._client.mget(leases)]
            nobody = [
                key for key, value in zip(leases, values, strict=True) if value and value.endswith(" 999")
            ]
            if nobody:
                await client._client.delete(*nobody)
            for worker in rng.sample(workers, 2):
                await worker._sweep_once()

        async def round_done(count: int) -> bool:
            nonlocal polls
            polls += 1
            clock.advance(1.0)  # retries after failures are due
            if polls % 10 == 0:
                await time_passes()
            return await done(client, count)

        for worker in workers:
            await worker.start()
            worker._tasks[1].cancel()  # the test sweeps

        async def balancing() -> bool:
            await time_passes()
            return balanced(workers)

        await until(balancing, "balanced")
        faults = [Faults(worker, client, "cycle", at=1, every=2) for worker in workers]  # all of CYCLE
        for n in range(6):
            await client.submit("jobs", [[key, n] for key in keys])
            await client._client.delete(*rng.sample(leases, 4))  # they ran out
            await time_passes()  # taken again, by either, under new epochs
            await until(lambda: round_done(8 * n + 8), f"round {n} is done")  # noqa: B023
        assert all(f.fired for f in faults)
        assert by_key(await client.tokens("done")) == {key: [(n, n) for n in range(6)] for key in keys}
        machines = await client.machines("count")
        assert {key: (doc["state"], doc["retry"]) for key, doc in machines.items()} == {
            key: ("Counting", 6) for key in keys
        }
        assert await client.depth("jobs") == 0
        for worker in workers:
            await worker.stop()


async def test_the_leases_change_one_step_at_a_time(redis_url: str, redis_prefix: str) -> None:
    """A re-take giving a partition up while the sweep renews the leases does not break the sweep
    (it read the partitions held before its round trip, and wrote them back after it)."""
    worker = Worker(Tally, redis_url, prefix=redis_prefix, lease=1.0)
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        part = ("Tally.jobs", 0)
        leases = worker._partitions
        await asyncio.gather(leases.balance(1, lambda p: False), leases.give_up(part))
        assert part not in leases.epochs and len(leases.epochs) == 15
        assert await client._client.get(client.shared.keys.lease(*part)) is None  # released
        await worker.stop()
