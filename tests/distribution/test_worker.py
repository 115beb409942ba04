"""Workers in one process against the test session's Redis: what a net may share, commits, fencing of
a stale worker, failures, a clean stop giving tokens back, undecodable entries."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from mycorrhizal.common import (
    CodecError,
    CodecRegistry,
    DefinitionError,
    ExecutionError,
    RoutingError,
    StoreError,
)
from mycorrhizal.distribution import Client, SharedNet, Worker, reader
from mycorrhizal.distribution.dead_letters import bury

from .. import redis_server
from .nets import Broken, Gated, Job, Mixed, Stations, Tally, TwoStage


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 20.0) -> None:
    """Poll ``condition`` (Redis leases run on the server's real clock) until true, or fail."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


def soon(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """A plain check as a condition for :func:`until`."""

    async def condition() -> bool:
        return check()

    return condition


def waiting(worker: Worker) -> list[Any]:
    """Tokens whose firing waits at the gate of ``worker``'s blackboard."""
    return list(worker.runner.bb.get("waiting", []))


async def depths(client: Client) -> dict[str, tuple[int, int]]:
    status = await client.status()
    return {p.place.split(".")[-1]: (p.depth, sum(p.pending.values())) for p in status.places}


def test_what_a_distributed_net_may_not_do_is_one_error() -> None:
    with pytest.raises(DefinitionError, match="distributed net 'Broken' has 5 problems") as info:
        SharedNet(Broken, ["left", "right", "seeded"])
    text = str(info.value)
    assert "transition 'Broken.join': consumes a shared place but has the input arcs" in text
    assert "produces into ['Broken.local']" in text
    assert (
        "transition 'Broken.parked': consumes a shared place and sends failures to the place 'errors'" in text
    )
    assert "shared place 'Broken.right': has capacity 5" in text
    assert "shared place 'Broken.seeded': has 1 initial token(s)" in text
    with pytest.raises(DefinitionError, match=r"shared place 'nowhere': is not a place of the net"):
        SharedNet(Broken, ["nowhere"])


async def test_two_workers_share_the_work_and_every_token_arrives_once(
    redis_url: str, redis_prefix: str
) -> None:
    workers = [Worker(TwoStage, redis_url, prefix=redis_prefix, lease=5) for _ in range(2)]
    async with Client(TwoStage, redis_url, prefix=redis_prefix) as client:
        for worker in workers:
            await worker.start()
        await client.submit("jobs", range(500))

        async def finished() -> bool:
            return (await depths(client))["done"] == (500, 0)

        await until(finished, "500 tokens are done")
        for worker in workers:
            await worker.stop()
        assert sorted(await client.tokens("done")) == sorted(f"job-{n}" for n in range(500))
        assert await depths(client) == {"jobs": (0, 0), "middle": (0, 0), "done": (500, 0)}
        assert sum(w.runner.stats.firings for w in workers) == 1000
        calls, firings = workers[0].commits
        assert 0 < calls <= firings  # commits are batched
        assert (await client.status()).workers == ()  # both left
        assert await client.clear() == 3  # the three streams (emptied streams stay, with their group)
        assert await depths(client) == {"jobs": (0, 0), "middle": (0, 0), "done": (0, 0)}


async def test_a_stale_worker_cannot_commit_what_another_took_over(redis_url: str, redis_prefix: str) -> None:
    gate = asyncio.Event()
    slow = Worker(Gated, redis_url, prefix=redis_prefix, lease=0.3, blackboard={"gate": gate})
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await slow.start()
        await client.submit("jobs", ["only"])
        await until(soon(lambda: waiting(slow) == ["only"]), "the slow worker fires")
        slow._tasks[1].cancel()  # its lease is no longer renewed: as if the process were paused
        fast = Worker(Gated, redis_url, prefix=redis_prefix, lease=0.3)
        await fast.start()

        async def done_once() -> bool:
            return (await depths(client))["done"] == (1, 0)

        await until(done_once, "the other worker took the token over and committed it")
        assert fast.reclaimed == 1
        gate.set()  # the slow worker wakes up and tries to commit its stale firing
        await until(soon(lambda: slow.fenced == 1), "the stale commit is refused")
        assert await client.tokens("done") == ["only"]
        assert await depths(client) == {"jobs": (0, 0), "done": (1, 0)}
        await slow.stop()
        await fast.stop()


async def test_a_handler_may_run_longer_than_the_lease(redis_url: str, redis_prefix: str) -> None:
    gate = asyncio.Event()
    slow = Worker(Gated, redis_url, prefix=redis_prefix, lease=0.5, blackboard={"gate": gate})
    other = Worker(Gated, redis_url, prefix=redis_prefix, lease=0.5)
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await slow.start()
        await client.submit("jobs", ["long"])
        await until(soon(lambda: waiting(slow) == ["long"]), "the slow worker fires")
        await other.start()
        # Three leases pass (Redis measures them on its own clock): the renewals keep the token.
        await until(soon(lambda: other.sweeps >= 9), "the other worker swept nine times")
        gate.set()

        async def done() -> bool:
            return await client.depth("done") == 1

        await until(done, "the slow firing committed")
        assert (slow.fenced, other.reclaimed, other.runner.stats.firings) == (0, 0, 0)
        await slow.stop()
        await other.stop()


async def test_renewing_resets_the_idle_time_of_held_entries(redis_url: str, redis_prefix: str) -> None:
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    gate = asyncio.Event()
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5, blackboard={"gate": gate})
    key = worker.shared.streams["Gated.jobs"][0]

    async def idle_ms() -> int:
        (entry,) = await raw.xpending_range(key, "workers", "-", "+", 1)
        return int(entry["time_since_delivered"])

    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        await client.submit("jobs", ["held"])
        await until(soon(lambda: waiting(worker) == ["held"]), "the worker fires")

        async def idle_a_while() -> bool:
            return await idle_ms() >= 150

        await until(idle_a_while, "the entry was idle for 150 ms")
        await worker._renew_held()
        assert await idle_ms() < 150
        gate.set()
        await worker.stop()
    await raw.aclose()


async def test_a_failed_firing_keeps_its_token_and_is_retried(redis_url: str, redis_prefix: str) -> None:
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5, blackboard={"fail": 2})
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        await client.submit("jobs", [7])

        async def done() -> bool:
            return (await depths(client))["done"] == (1, 0)

        await until(done, "the token is done after two failures")
        assert worker.runner.stats.failures == 2
        assert await client.tokens("done") == [7]
        await worker.stop()


async def test_a_stopping_worker_gives_back_what_it_did_not_fire(redis_url: str, redis_prefix: str) -> None:
    gate = asyncio.Event()
    holder = Worker(Gated, redis_url, prefix=redis_prefix, lease=5, prefetch=10, blackboard={"gate": gate})
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await holder.start()
        await client.submit("jobs", range(30))
        await until(soon(lambda: holder.holding == 10), "the worker holds its prefetch")
        assert (await depths(client))["jobs"] == (30, 10)
        await holder.stop(timeout=0.05)  # the firings waiting at the gate are cancelled
        assert await depths(client) == {"jobs": (30, 0), "done": (0, 0)}  # all back, none pending
        helper = Worker(Gated, redis_url, prefix=redis_prefix, lease=5)
        await helper.start()

        async def all_done() -> bool:
            return (await depths(client))["done"] == (30, 0)

        await until(all_done, "another worker fired everything given back")
        assert sorted(await client.tokens("done")) == list(range(30))
        await helper.stop()


async def test_local_places_generators_and_emits(redis_url: str, redis_prefix: str) -> None:
    worker = Worker(Mixed, redis_url, prefix=redis_prefix, shared=["jobs", "done"], lease=5)
    async with Client(Mixed, redis_url, prefix=redis_prefix, shared=["jobs", "done"]) as client:
        await worker.start()
        worker.runner.add_tokens("inbox", [1, 2])

        async def done() -> bool:
            return (await depths(client))["done"] == (4, 0)

        await until(done, "both tokens are worked")
        assert sorted(await client.tokens("done")) == [1, 1.5, 2, 2.5]
        assert sorted(worker.runner.tokens("log")) == ["accepted 1", "accepted 2"]
        with pytest.raises(RoutingError, match="place 'Mixed.inbox' is not shared"):
            await client.submit("inbox", [1])
        with pytest.raises(RoutingError, match="has no place 'nowhere'"):
            await client.submit("nowhere", [1])
        with pytest.raises(
            CodecError,
            match=r"token 1 of the submit to place 'Mixed\.jobs' cannot be encoded: cannot encode a "
            r"builtins\.object: .*Fix: make a CodecRegistry, registry\.register\(object\)",
        ):
            await client.submit("jobs", [3, object()])
        assert (await depths(client))["jobs"] == (0, 0)  # nothing of a refused submit was sent
        await worker.stop()


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        # No registry passed: registering Job in one would not reach the workers; say to pass one.
        (
            None,
            r"make a CodecRegistry, registry\.register\(Job\) \(.*\), and pass it: Worker\(\.\.\., "
            r"codecs=registry\) to every worker, and the same to every Client\(\.\.\., codecs=registry\)",
        ),
        (CodecRegistry(), r"registry\.register\(Job\) \([^)]*\)"),
    ],
    ids=["no registry", "a registry"],
)
async def test_an_output_of_an_unregistered_type_names_its_place_and_one_fix(
    redis_url: str, redis_prefix: str, codecs: CodecRegistry | None, fix: str
) -> None:
    worker = Worker(Mixed, redis_url, prefix=redis_prefix, shared=["jobs", "done"], lease=5, codecs=codecs)
    await worker.start()
    worker.runner.add_tokens("inbox", [Job(1)])  # accept() sends it on to the shared place jobs
    await until(soon(lambda: bool(worker.runner.errors)), "the firing of accept fails")
    await worker.stop()
    cause = worker.runner.errors[0].__cause__
    with pytest.raises(
        ExecutionError,
        match=rf"^a token for place 'Mixed\.jobs' cannot be encoded: cannot encode a [\w.]*\bJob: its type "
        rf"is not registered\. Fix: {fix}$",
    ) as caught:
        raise cause  # type: ignore[misc]
    assert str(caught.value).count("Fix:") == 1 and caught.value.place == "Mixed.jobs"


async def test_subnets_share_their_places_under_qualified_names(redis_url: str, redis_prefix: str) -> None:
    worker = Worker(Stations, redis_url, prefix=redis_prefix, lease=5)
    assert set(worker.shared.shared) == {
        "Stations.jobs", "Stations.done", "Stations.left.inbox", "Stations.left.outbox",
        "Stations.right.inbox", "Stations.right.outbox",
    }  # fmt: skip
    async with Client(Stations, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        await client.submit("jobs", range(6))

        async def done() -> bool:
            return await client.depth("done") == 6

        await until(done, "every job went through its station")
        assert sorted(await client.tokens("done")) == sorted(
            (f"Stations.{'left' if n % 2 else 'right'}.work", n) for n in range(6)
        )
        assert await client.depth("left.inbox") == 0 and await client.depth("Stations.right.outbox") == 0
        await worker.stop()


async def test_a_worker_goes_on_after_its_streams_were_deleted(redis_url: str, redis_prefix: str) -> None:
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5)
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        assert await client.clear() >= 1  # the stream of 'jobs' and its consumer group are gone
        await client.submit("jobs", [1, 2])

        async def done() -> bool:
            return await client.depth("done") == 2

        await until(done, "the worker made its group again and fired both")
        await worker.stop()


async def test_an_entry_that_cannot_be_decoded_is_moved_aside(redis_url: str, redis_prefix: str) -> None:
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5)
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await raw.xadd(
            worker.shared.streams["Gated.jobs"][0], {"t": '{"codec":1,"value":{"$t":"nope","v":1}}'}
        )
        await client.submit("jobs", [1])
        await worker.start()

        async def done() -> bool:
            return (await depths(client))["done"] == (1, 0) and (await depths(client))["jobs"] == (0, 0)

        await until(done, "the good token is done and the bad one moved")
        dead = await raw.xrange(worker.shared.keys.dead("Gated.jobs"))
        assert len(dead) == 1 and "unknown type" in dead[0][1]["error"].lower()
        assert [(p.place, p.dead) for p in (await client.status()).places] == [
            ("Gated.jobs", 1),
            ("Gated.done", 0),
        ]
        await worker.stop()
    await raw.aclose()


@pytest.mark.parametrize(
    ("how", "moved"),
    [("stop", (1, 0)), ("abort", (0, 1))],  # (entries in the dead stream, entries left in jobs)
)
async def test_an_entry_being_moved_aside_is_settled_before_the_worker_is_gone(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch, how: str, moved: tuple[int, int]
) -> None:
    """A clean stop waits for it (moved once; before the fix it was also given back to the stream, and
    moved again by the next worker); an abort cancels it (it stays pending, for the next worker to move);
    neither leaves anything of the worker running (before the fix the move went on afterwards)."""
    started, gate = asyncio.Event(), asyncio.Event()

    async def held_up(*args: Any) -> None:
        started.set()
        await gate.wait()
        await bury(*args)

    monkeypatch.setattr(reader, "bury", held_up)
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    before = asyncio.all_tasks()
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5)
    jobs = worker.shared.streams["Gated.jobs"][0]
    await raw.xadd(jobs, {"t": '{"codec":1,"value":{"$t":"nope","v":1}}'})
    await worker.start()
    await until(soon(started.is_set), "the worker moves the entry aside")
    going = asyncio.create_task(getattr(worker, how)())
    await until(soon(worker._tasks[1].done), "the worker's reader and sweep ended")
    gate.set()
    await going
    left = asyncio.all_tasks() - before
    await asyncio.gather(*left)
    assert left == set()
    assert (await raw.xlen(worker.shared.keys.dead("Gated.jobs")), await raw.xlen(jobs)) == moved
    await raw.aclose()


async def test_a_name_a_live_worker_has_is_refused(redis_url: str, redis_prefix: str) -> None:
    first = Worker(Gated, redis_url, prefix=redis_prefix, name="w1", lease=5)
    await first.start()
    second = Worker(Gated, redis_url, prefix=redis_prefix, name="w1", lease=5)
    with pytest.raises(StoreError, match="a live worker named 'w1' already works on net 'Gated'.*Fix: give"):
        await second.start()
    await first.stop()
    await second.start()  # the name is free once its worker left
    await second.stop()


class LostCancel:
    """Wraps the async ``call``: its first call from the task named ``task`` is cancelled as its reply
    comes, and loses the cancel, as redis-py's calls do on Python 3.11: they await each socket write
    in ``asyncio.wait_for``, which returns the result instead of raising when a cancel comes as the
    write completes."""

    def __init__(self, call: Callable[..., Awaitable[Any]], task: str) -> None:
        self.call, self.name = call, task
        self.task: asyncio.Task[Any] | None = None
        """The task that lost its cancel."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reply = await self.call(*args, **kwargs)
        task = asyncio.current_task()
        if self.task is None and task is not None and task.get_name() == self.name:
            task.cancel()
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:  # (what asyncio.wait_for does on Python 3.11)
                self.task = task
        return reply


@pytest.mark.parametrize(("method", "task"), [("xreadgroup", "reader"), ("xautoclaim", "sweep")])
async def test_a_cancelled_worker_task_ends_even_if_a_redis_call_lost_the_cancel(
    redis_url: str, redis_prefix: str, method: str, task: str
) -> None:
    """The event loop's teardown cancels once what a failed test left running: a worker task that went
    on polling Redis after that hung the test run (before the fix)."""
    before = asyncio.all_tasks()
    worker = Worker(TwoStage, redis_url, prefix=redis_prefix, lease=0.3)
    await worker.start()
    try:
        lost = LostCancel(getattr(worker._client, method), f"worker {worker.name} {task}")
        setattr(worker._client, method, lost)
        await until(soon(lambda: lost.task is not None), f"a Redis call of the {task} lost its cancel")
        assert lost.task is not None
        await until(soon(lost.task.done), f"the cancelled {task} ended", seconds=2)
        assert lost.task.cancelled()
    finally:
        await worker.stop()
    assert asyncio.all_tasks() - before == set()  # nothing of the worker is left running


async def test_an_unreachable_redis_fails_start_with_the_cause() -> None:
    worker = Worker(Gated, "redis://127.0.0.1:1/0", lease=5)
    with pytest.raises(
        StoreError,
        match=r"worker .*: cannot reach Redis at redis://127.0.0.1:1/0: ConnectionError.*\. Fix: check "
        r"that the Redis server at redis://127.0.0.1:1/0 runs",
    ):
        await worker.start()
    assert not worker.runner.running


async def test_a_worker_stopping_while_redis_is_gone_says_what_became_of_its_tokens() -> None:
    server = redis_server.start()
    gate = asyncio.Event()
    worker = Worker(Gated, server.url, prefix="gone", lease=5, name="w1", blackboard={"gate": gate})
    try:
        await worker.start()
        async with Client(Gated, server.url, prefix="gone") as client:
            await client.submit("jobs", [1, 2])
        await until(soon(lambda: worker.holding == 2 and len(waiting(worker)) == 2), "the worker fires")
    finally:
        server.stop()
    # Before: redis-py's bare ConnectionError, naming neither the worker nor its tokens, nor a fix.
    with pytest.raises(
        StoreError,
        match=rf"^worker 'w1': stopping, it could not reach Redis at {re.escape(server.url)} to give back "
        r"the 2 token\(s\) it held, release its partitions and leave \(other workers take what it held "
        r"over once its lease of 5 s runs out\): ConnectionError: .*\. Fix: check that the Redis server "
        rf"at {re.escape(server.url)} runs",
    ):
        await worker.stop(timeout=0)
    assert worker._over.is_set() and not worker.runner.running


async def test_a_token_added_to_a_shared_place_by_hand_names_the_worker_and_the_fix(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5, name="w1")
    await worker.start()
    try:
        worker.runner.add_token("jobs", 7)  # not through Redis: its firing cannot commit it
        said = r"a token in shared place 'Gated\.jobs' of worker 'w1' did not come from Redis \(was it added "
        said += r"with runner\.add_token\?\); .*\. Fix: submit tokens of shared places with Client\.submit "
        said += r"\(mycorrhizal submit\)$"  # (the runner says what it did with the token before the fix)
        found = soon(lambda: re.search(said, caplog.text, re.M) is not None)
        await until(found, "the firing fails, saying why")
    finally:
        await worker.stop(timeout=0)


@pytest.mark.parametrize(
    ("net", "token", "submitted", "done"),
    [
        (Gated, 7, 8, [7, 8]),  # (a list submitted to Gated would be several tokens in done)
        (Tally, ["k", 7], ["k", 8], [("k", 7, 0), ("k", 8, 1)]),
    ],
    ids=["read by all", "keyed"],
)
async def test_a_token_added_to_a_shared_place_by_hand_goes_to_redis_and_holds_nothing_up(
    redis_url: str,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
    net: Any,
    token: Any,
    submitted: Any,
    done: list[Any],
) -> None:
    """Before the fix its firing failed at every retry, for ever, one WARNING each time; and, first in
    its place, it was taken again before the tokens submitted after it, which never fired."""
    worker = Worker(net, redis_url, prefix=redis_prefix, lease=5, name="w1")
    async with Client(net, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        with caplog.at_level("WARNING", logger="mycorrhizal.distribution"):
            worker.runner.add_token("jobs", token)
            await client.submit("jobs", [submitted])
            await until(lambda: done_count(client, 2), "both tokens are fired", seconds=3)
        assert await client.depth("jobs") == 0
        assert sorted(await client.tokens("done"), key=repr) == done
        said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert said == [
            f"a token in shared place '{net.name}.jobs' of worker 'w1' did not come from Redis (was it added "
            "with runner.add_token?); it was appended to the place in Redis, to be fired from there like a "
            "submitted one. Fix: submit tokens of shared places with Client.submit (mycorrhizal submit)"
        ]
        await worker.stop()


@pytest.mark.parametrize(
    ("net", "add", "error", "refused"),
    [
        (
            Gated,
            lambda runner: runner.add_token("jobs", Job(1)),
            CodecError,
            r"^worker 'w1': a token added to shared place 'Gated\.jobs' cannot be encoded: cannot encode a "
            r"[\w.]*\bJob: its type is not registered\. Fix: make a CodecRegistry, .*Worker\(\.\.\., "
            r"codecs=registry\) to every worker, .*$",
        ),
        (
            Gated,
            lambda runner: runner.add_tokens("Gated.jobs", [7, Job(1)]),  # all or none
            CodecError,
            r"^worker 'w1': a token added to shared place 'Gated\.jobs' cannot be encoded: cannot encode a "
            r"[\w.]*\bJob: its type is not registered\. Fix: ",
        ),
        (
            Tally,
            lambda runner: runner.add_token("jobs", 5),
            RoutingError,
            r"^transition 'Tally\.count': fsm_key raised TypeError: .* on token 5 .*\. Fix: make fsm_key "
            r"return a str, a number or a tuple for every token of 'Tally\.jobs'$",
        ),
    ],
    ids=["unregistered type", "one of several", "no key"],
)
async def test_a_token_added_by_hand_that_redis_cannot_take_is_refused_and_holds_nothing_up(
    redis_url: str,
    redis_prefix: str,
    net: Any,
    add: Callable[[Any], None],
    error: type[Exception],
    refused: str,
) -> None:
    """Before the fix it was taken into the place, and its firing failed at every retry, for ever:
    first in its place, it held back the tokens submitted after it, which never fired."""
    worker = Worker(net, redis_url, prefix=redis_prefix, lease=5, name="w1")
    async with Client(net, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        with pytest.raises(error, match=refused):
            add(worker.runner)
        assert worker.runner.tokens("jobs") == ()
        await client.submit("jobs", [["k", 8] if net is Tally else 8])
        await until(lambda: done_count(client, 1), "the submitted token is fired", seconds=3)
        assert await client.depth("jobs") == 0 and not worker.runner.errors
        await worker.stop()


@pytest.mark.parametrize(("first", "token"), [(0, 7), ("b", "a")], ids=["small int", "one character"])
async def test_equal_tokens_that_are_one_object_are_each_fired_once(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture, first: Any, token: Any
) -> None:
    """Small ints and one-character strings decode to one cached object, and a token added by hand may
    be that same object: the worker finds a token's entry by the object, so all of them share it.  A
    firing takes one entry each, the oldest (before the fix the newest: out of the stream's order); the
    hand-added one, taken first, leaves one of them to go to Redis, once, to be fired from there."""
    gate = asyncio.Event()
    options: dict[str, Any] = {"lease": 5, "concurrency": 1, "prefetch": 8, "blackboard": {"gate": gate}}
    worker = Worker(Gated, redis_url, prefix=redis_prefix, **options)
    committed: list[str] = []  # the entries acknowledged, in the order of their firings
    commit = worker.commit

    async def spied(place: Any, fired: Any, source: Any, outputs: Any) -> bool:
        if source is not None:
            committed.append(source[1])
        return await commit(place, fired, source, outputs)

    worker.commit = spied  # type: ignore[method-assign]
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        await client.submit("jobs", [first])
        await until(soon(lambda: waiting(worker) == [first]), "the first token waits at the gate")
        with caplog.at_level("WARNING", logger="mycorrhizal.distribution"):
            worker.runner.add_token("jobs", token)  # first in the place, behind the firing at the gate
            await client.submit("jobs", [token, token])
            await until(soon(lambda: worker.holding == 3), "the worker holds both submitted tokens")
            gate.set()
            await until(lambda: done_count(client, 4), "every token is fired", seconds=3)
        await worker.stop()
        assert await client.tokens("done") == [first, token, token, token]
        assert await depths(client) == {"jobs": (0, 0), "done": (4, 0)}
        assert (worker.dropped, worker.fenced, worker.runner.stats.failures) == (0, 0, 0)
    assert len(committed) == 4 and committed == sorted(committed, key=reader._order)  # in stream order
    assert [r.levelname for r in caplog.records if "did not come from Redis" in r.getMessage()] == ["WARNING"]


def test_worker_options_are_checked_all_at_once() -> None:
    with pytest.raises(DefinitionError, match="Worker options has 3 problems") as info:
        Worker(Gated, lease=0, concurrency=0, prefetch=-1)
    text = str(info.value)
    assert "Worker(lease=...): must be seconds between 0.05 and 86400, got 0. Fix: pass lease=30.0" in text
    assert "Worker(concurrency=...): must be an int >= 1 or None, got 0" in text
    assert "Worker(prefetch=...): must be an int >= 1 or None, got -1" in text


def test_a_bool_is_no_lease() -> None:
    with pytest.raises(
        DefinitionError, match=r"Worker\(lease=\.\.\.\): must be seconds between 0.05 and 86400, got True"
    ):
        Worker(Gated, "redis://127.0.0.1:1/0", lease=True)


@pytest.mark.parametrize("timeout", [-1, float("nan"), True, "5"])
@pytest.mark.parametrize("call", ["stop", "run"])
async def test_a_stop_timeout_that_means_nothing_is_refused_before_anything_starts_or_stops(
    call: str, timeout: Any
) -> None:
    worker = Worker(Gated, "redis://127.0.0.1:1/0", name="w1")
    message = rf"worker 'w1': timeout={re.escape(repr(timeout))} means nothing: .* Fix: pass a number >= 0"
    with pytest.raises(ValueError, match=message):
        if call == "stop":
            await worker.stop(timeout=timeout)
        else:
            await worker.run(asyncio.Event(), timeout=timeout)  # (Redis there is unreachable: never tried)
    assert not worker.runner.running


@pytest.mark.parametrize(
    ("net", "place"),
    [(Gated, "Gated.jobs"), (Tally, "Tally.jobs")],  # read by all; keyed (partitions)
)
async def test_a_commit_of_an_entry_committed_already_says_so(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture, net: Any, place: str
) -> None:
    """Its entry was committed meanwhile (here by hand, as by an earlier commit whose reply was lost):
    before the fix the refusal said the lease had moved on, or that another worker took it over."""
    board: dict[str, Any] = {"gate": asyncio.Event()}
    worker = Worker(net, redis_url, prefix=redis_prefix, lease=5, blackboard=board)
    refusals: list[BaseException] = []
    commit = worker.commit

    async def spied(*args: Any) -> bool:
        try:
            return await commit(*args)
        except Exception as exc:
            refusals.append(exc)
            raise

    worker.commit = spied  # type: ignore[method-assign]
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    async with Client(net, redis_url, prefix=redis_prefix) as client:
        await worker.start()
        await client.submit("jobs", [["k", 1]])
        await until(soon(lambda: waiting(worker) != []), "the firing waits at the gate")
        (stream,) = [s for s in worker.shared.streams[place] if worker._held[s]]
        (entry,) = worker._held[stream]
        await raw.xack(stream, "workers", entry)
        await raw.xdel(stream, entry)
        with caplog.at_level("WARNING", logger="mycorrhizal.distribution"):
            board["gate"].set()
            await until(soon(lambda: worker.fenced == 1), "the commit was refused")
        await worker.stop()
    await raw.aclose()
    said = f"entry {entry} of shared place {place!r} was committed already"
    # A refusal is no failure of the firing (a keyed one's raised FencedError held the transition back
    # for a retry on the runner's clock): said once, in the log.
    assert refusals == []
    (told,) = [r.getMessage() for r in caplog.records if said in r.getMessage()]
    if net is Tally:
        fix = r"\. Fix: nothing, for this token; if firings are fenced often, give the workers a longer "
        fix += r"lease \(Worker\(lease=\.\.\.\), --lease\) than their longest pauses$"
        assert re.search(rf"{said} \(by .*\): nothing is left to do.*{fix}", told), told
    assert "moved on" not in caplog.text and "taken over" not in caplog.text


async def test_nothing_reaches_redis_from_an_aborted_worker(redis_url: str, redis_prefix: str) -> None:
    """A commit on its way when abort() is called is not sent after it returned (a dead process sends
    nothing): before the fix the committer's task went on, on a new connection, and committed it."""
    board: dict[str, Any] = {"gate": asyncio.Event()}
    before = asyncio.all_tasks()
    worker = Worker(Gated, redis_url, prefix=redis_prefix, lease=5, blackboard=board)
    sending, late = asyncio.Event(), asyncio.Event()
    script = worker._committer._script

    async def held_up(*args: Any, **kwargs: Any) -> Any:
        sending.set()
        await late.wait()
        return await script(*args, **kwargs)

    worker._committer._script = held_up  # type: ignore[assignment]
    async with Client(Gated, redis_url, prefix=redis_prefix) as client:
        await client.submit("jobs", [1])
        await worker.start()
        await until(soon(lambda: waiting(worker) != []), "the firing waits at the gate")
        board["gate"].set()
        await until(soon(sending.is_set), "its commit is on its way")
        await worker.abort()
        late.set()  # the commit would go now
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert asyncio.all_tasks() - before == set()  # nothing of the worker is left running
        assert (await depths(client))["done"] == (0, 0)
        assert (await depths(client))["jobs"] == (1, 1)  # still pending under the dead worker's name


STOPPED = r"; the worker stopped \(what it held went back to Redis, for other workers to fire\)\. Fix: "


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            RuntimeError("a defect in delivering"),
            r"RuntimeError: a defect in delivering" + STOPPED + r"this is a defect \(of a codec, or of "
            r"mycorrhizal: report it with the traceback logged\); start the worker again",
        ),
        (  # what follows the error's own fix would read as part of it: the fix goes last
            CodecError("entry 1-0 cannot be read. Fix: register its type"),
            r"CodecError: entry 1-0 cannot be read" + STOPPED + r"register its type; start the worker again",
        ),
    ],
    ids=["a defect", "an error with its fix"],
)
async def test_a_worker_whose_reader_fails_stops_and_another_takes_its_partitions_over(
    redis_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    said: str,
) -> None:
    """A defect escaping the reader (here: delivering an entry raises) is logged and stops the worker,
    so that another takes its partitions and fires their tokens; run() raises it.  Before the fix the
    reader died silently and the worker went on holding its partitions, never reading them again."""
    failing = Worker(Tally, redis_url, prefix=redis_prefix, lease=1, name="failing")
    deliver = reader.Reader.deliver

    def broken(self: reader.Reader, stream: str, entries: Any) -> None:
        if self is failing._reader and entries:
            raise error
        deliver(self, stream, entries)

    monkeypatch.setattr(reader.Reader, "deliver", broken)
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        with caplog.at_level("ERROR", logger="mycorrhizal.distribution"):
            running = asyncio.create_task(failing.run(asyncio.Event()))
            await until(soon(lambda: len(failing.partitions) == 16), "the first worker holds every partition")
            await client.submit("jobs", [["k", 1]])
            await until(soon(running.done), "the failed worker stopped", seconds=5)
        said = rf"^worker 'failing': reading tokens from Redis failed with {said}$"
        with pytest.raises(ExecutionError, match=said) as stopped:
            await running
        assert str(stopped.value).count("Fix:") == 1
        assert [r.levelname for r in caplog.records if "worker failing" in r.getMessage()] == ["ERROR"]
        other = Worker(Tally, redis_url, prefix=redis_prefix, lease=1, name="other")
        await other.start()
        await until(lambda: done_count(client, 1), "the other worker fired the token", seconds=5)
        await other.stop()
    with pytest.raises(ExecutionError, match=said):
        await failing.stop()  # (it stopped already: says why again)


async def done_count(client: Client, count: int) -> bool:
    return await client.depth("done") == count
