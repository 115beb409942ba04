"""fsm= machines across workers: each key's machine is written to Redis with the commit of every
firing (and after a timeout, on its own), and the worker that takes a partition over restores them,
timers at their original deadlines on the shared clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from mycorrhizal.common import CodecRegistry, ExecutionError, ManualClock, RoutingError
from mycorrhizal.distribution import Client, Worker
from mycorrhizal.distribution.machines import KeyedMachines
from mycorrhizal.distribution.partitions import Partitions
from mycorrhizal.mycelium.machine_pool import MachinePool
from mycorrhizal.septum import StateMachine

from .nets import Counting, Deadlines, Tally
from .test_keyed import by_key, done
from .test_worker import soon, until

KEYS = ["north", "south", "east"]


async def test_machines_continue_on_the_worker_that_takes_their_partition_over(
    redis_url: str, redis_prefix: str
) -> None:
    first = Worker(Tally, redis_url, prefix=redis_prefix, lease=0.3)
    second = Worker(Tally, redis_url, prefix=redis_prefix, lease=0.3)
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        await first.start()
        await client.submit("jobs", [[key, n] for n in range(5) for key in KEYS])
        await until(lambda: done(client, 15), "the first worker handled 5 tokens per key")
        machines = await client.machines("count")
        assert {key: (doc["state"], doc["retry"]) for key, doc in machines.items()} == {
            key: ("Counting", 5) for key in KEYS
        }
        (keyed,) = (await client.status()).keyed
        assert (keyed.place, keyed.transition, keyed.partitions) == ("Tally.jobs", "Tally.count", 16)
        assert (keyed.held, keyed.free, keyed.machines) == ({first.name: 16}, 0, {"Counting": 3})
        await first.abort()
        await second.start()
        await until(soon(lambda: len(second.partitions) == 16), "the second took every partition over")
        await client.submit("jobs", [[key, n] for n in range(5, 10) for key in KEYS])
        await until(lambda: done(client, 30), "the second worker handled 5 more per key")
        # Each machine went on counting where the first worker's left off: its count is n.
        assert by_key(await client.tokens("done")) == {key: [(n, n) for n in range(10)] for key in KEYS}
        # Committed once each: a firing fenced because the second's own lease lapsed under load ends
        # with its outputs dropped (counted in fenced) and its entry is delivered again from Redis (at
        # least once across workers, exactly once in the outputs, checked above); one whose entry
        # turned out to be another's is dropped unfired.
        assert second.runner.stats.firings - second.fenced - second.dropped == 15
        await second.stop()


async def test_a_timeout_fires_at_its_original_deadline_on_the_next_worker(
    redis_url: str, redis_prefix: str
) -> None:
    clock = ManualClock()  # the workers' shared clock, as the wall clock is for real workers

    def worker() -> Worker:
        return Worker(Deadlines, redis_url, prefix=redis_prefix, lease=0.3, timebase=clock)

    first, second, third = worker(), worker(), worker()
    async with Client(Deadlines, redis_url, prefix=redis_prefix) as client:
        await first.start()
        await client.submit("jobs", [["north", 0]])  # at t=0: its machine expires at t=10
        await until(lambda: done(client, 1), "the first token is handled")
        clock.advance(5.0)
        await first.abort()
        await second.start()
        await until(soon(lambda: len(second.partitions) == 16), "the second took the partitions over")
        clock.advance(4.9)  # t=9.9: not yet
        await client.submit("jobs", [["north", 1]])
        await until(lambda: done(client, 2), "the second token is handled")

        async def expired() -> bool:
            return (await client.machines("expire"))["north"]["state"] == "Expired"

        clock.advance(0.2)  # t=10.1: the deadline set on the first worker passes on the second
        await until(expired, "the timeout fired and its new state was written")
        await second.abort()
        await third.start()
        await until(soon(lambda: len(third.partitions) == 16), "the third took the partitions over")
        await client.submit("jobs", [["north", 2]])
        await until(lambda: done(client, 3), "the third token is handled")
        assert await client.tokens("done") == [
            ("north", 0, "armed"),
            ("north", 1, "armed"),
            ("north", 2, "expired"),
        ]
        assert third.runner.stats.firings == 1
        await third.stop()


async def test_machines_of_an_unknown_transition_are_an_error(redis_url: str, redis_prefix: str) -> None:
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        with pytest.raises(RoutingError, match=r"'nope' is not an fsm= transition .* \['Tally.count'\]"):
            await client.machines("nope")
        assert await client.machines("Tally.count") == {}


async def test_a_stopping_worker_hands_its_machines_to_the_next(redis_url: str, redis_prefix: str) -> None:
    boards: list[dict[str, Any]] = [{}, {}]
    first = Worker(Tally, redis_url, prefix=redis_prefix, lease=0.3, blackboard=boards[0])
    second = Worker(Tally, redis_url, prefix=redis_prefix, lease=0.3, blackboard=boards[1])
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        await first.start()
        await client.submit("jobs", [[key, n] for n in range(3) for key in KEYS])
        await until(lambda: done(client, 9), "the first worker handled 3 tokens per key")
        await second.start()
        await until(soon(lambda: len(first.partitions) == len(second.partitions) == 8), "they balance")
        await first.stop()
        await until(soon(lambda: len(second.partitions) == 16), "the second takes the rest")
        await client.submit("jobs", [[key, n] for n in range(3, 6) for key in KEYS])
        await until(lambda: done(client, 18), "the second handled 3 more per key")
        assert by_key(await client.tokens("done")) == {key: [(n, n) for n in range(6)] for key in KEYS}
        await second.stop()


@dataclass
class Note:
    text: str


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        # No registry passed: registering Note in one would not reach the workers; say to pass one.
        (
            None,
            r"make a CodecRegistry, registry\.register\(Note\) \(.*\), and pass it: Worker\(\.\.\., "
            r"codecs=registry\) to every worker, and the same to every Client\(\.\.\., codecs=registry\)",
        ),
        (CodecRegistry(), r"registry\.register\(Note\) \([^)]*\)"),
    ],
    ids=["no registry", "a registry"],
)
async def test_a_machine_that_cannot_be_written_down_is_named_with_one_fix(
    redis_url: str, redis_prefix: str, codecs: CodecRegistry | None, fix: str
) -> None:
    worker = Worker(Tally, redis_url, prefix=redis_prefix, codecs=codecs)
    keyed = worker.shared.keyed["Tally.jobs"]
    token = ["north", 1]
    part = ("Tally.jobs", keyed.partition_of(token, worker.codecs)[0])
    fsm = StateMachine(Counting)
    fsm.send_message(Note("later"))  # queued: its document holds it, which the codecs cannot encode
    MachinePool.in_runner(keyed.machine, worker.runner, keyed.transition).adopt("north", fsm)
    with pytest.raises(
        ExecutionError,
        match=rf"^transition 'Tally\.count', the machine of key 'north' cannot be written down for other "
        rf"workers: cannot encode a [\w.]*\bNote: its type is not registered\. Fix: {fix}$",
    ) as caught:
        worker._machines.written(part, token)  # what the commit of a firing of 'north' writes
    assert str(caught.value).count("Fix:") == 1


async def test_a_partition_is_not_read_before_the_last_takeover_of_it_on_its_way_is_done(
    redis_url: str, redis_prefix: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-take (after a fenced commit) whose lease is gained again meanwhile (it ran out): two
    takeovers of the partition, one after the other.  The first must not let the partition be read
    and fired: the second closes its machines and restores them.  Before the fix it did, and a token
    fired in between went to a machine made afresh: it counted from 0, and that count was committed."""
    worker = Worker(Tally, redis_url, prefix=redis_prefix, lease=30, timebase=clock)
    key = KEYS[0]
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        part = ("Tally.jobs", client.shared.keyed["Tally.jobs"].partition_of([key, 0], client.codecs)[0])
        lease = client.shared.keys.lease(*part)
        await worker.start()
        worker._tasks[1].cancel()  # the test sweeps: no lease runs out but the one it deletes
        await client.submit("jobs", [[key, 0]])
        await until(lambda: done(client, 1), "its first token is done")
        paused, resume = asyncio.Event(), asyncio.Event()  # the re-take's refence
        restored, restoring, gate = asyncio.Event(), asyncio.Event(), asyncio.Event()  # the restores
        refence, restore = Partitions.refence, KeyedMachines.restore

        async def slow_refence(self: Partitions, which: Any) -> bool:
            paused.set()
            await resume.wait()
            return await refence(self, which)

        async def second_restore(self: KeyedMachines, which: Any) -> int:
            if restored.is_set():  # the second takeover, its machines closed: gated
                restoring.set()
                await gate.wait()
            restored.set()
            return await restore(self, which)

        monkeypatch.setattr(Partitions, "refence", slow_refence)
        monkeypatch.setattr(KeyedMachines, "restore", second_restore)
        worker._takeovers.retake(part)  # as after a fenced commit: moves its lease to a new epoch ...
        await until(soon(paused.is_set), "the re-take is on its way")
        await client._client.delete(lease)  # ... but it ran out meanwhile,
        await worker._sweep_once()  # and the sweep takes it again: a second takeover, after the re-take
        resume.set()
        await until(soon(restoring.is_set), "the second takeover restores the machines")
        assert part not in worker.partitions  # not read: its machines are closed
        assert not worker._takeovers.current(part, worker._partitions.fence(part))
        await client.submit("jobs", [[key, 1]])
        gate.set()
        await until(lambda: done(client, 2), "its second token is done")
        assert by_key(await client.tokens("done")) == {key: [(0, 0), (1, 1)]}
        assert (await client.machines("count"))[key]["retry"] == 2
        assert part in worker.partitions
        await worker.stop()
