"""RedisStore beyond the common contract (tests/durability/test_store_contract.py runs it too):
options, URLs, fencing between stores (as between processes), a server that goes away."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from mycorrhizal.common import DefinitionError, FencedError, StoreError
from mycorrhizal.distribution import RedisStore

from .. import redis_server
from .test_worker import LostCancel, soon, until


def test_options_are_checked_all_at_once() -> None:
    with pytest.raises(DefinitionError, match="RedisStore options has 4 problems") as info:
        RedisStore("redis://127.0.0.1:1/0", commit_interval=-1, max_batch=0, keep_snapshots=0, prefix="")
    text = str(info.value)
    assert "RedisStore(commit_interval=...): must be seconds between 0 and 60, got -1. Fix: pass" in text
    assert "RedisStore(prefix=...): must be a non-empty str, got ''" in text


def test_a_bool_is_no_commit_interval() -> None:
    message = r"RedisStore\(commit_interval=\.\.\.\): must be seconds between 0 and 60, got True\. Fix: pass"
    with pytest.raises(DefinitionError, match=message):
        RedisStore("redis://127.0.0.1:1/0", commit_interval=True)


@pytest.mark.parametrize("url", ["http://localhost", "", 5])
def test_a_url_that_is_not_redis_is_refused(url: object) -> None:
    with pytest.raises(StoreError, match="is not a Redis URL. Fix: pass e.g. 'redis://127.0.0.1:6379/0'"):
        RedisStore(url)  # type: ignore[arg-type]


async def test_a_journal_of_another_store_is_fenced_when_it_commits(
    redis_url: str, redis_prefix: str
) -> None:
    first, second = RedisStore(redis_url, prefix=redis_prefix), RedisStore(redis_url, prefix=redis_prefix)
    try:
        old = await first.open_journal("orders")
        old.append("fire", {"n": 1})
        await old.flush()
        new = await second.open_journal("orders")  # another process taking the run over
        old.append("fire", {"n": "stale"})
        with pytest.raises(
            FencedError, match=r"run 'orders' was taken over .*epoch 2.*holds 1.*1 queued step"
        ):
            await old.flush()
        with pytest.raises(FencedError, match=r"run 'orders' was taken over .*\. Fix: stop this runtime"):
            old.append("fire", {"n": 3})
        assert new.append("fire", {"n": 2}) == 2
        await new.flush()
        recovery = await second.load("orders")
        assert recovery is not None and [r.payload for r in recovery.records] == [{"n": 1}, {"n": 2}]
    finally:
        await first.close()
        await second.close()


async def test_a_cancelled_writer_ends_even_if_a_redis_call_lost_the_cancel(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Before the fix it waited for the next append instead: the event loop's teardown, cancelling
    once what a failed test left running, waited for it forever.)"""
    store = RedisStore(redis_url, prefix=redis_prefix)
    lost = LostCancel(RedisStore._commit, f"{store!r} writer")
    monkeypatch.setattr(RedisStore, "_commit", lambda self, batch: lost(self, batch))
    try:
        journal = await store.open_journal("orders")
        journal.append("fire", {"n": 1})
        await until(soon(lambda: lost.task is not None), "a commit of the writer lost its cancel")
        assert lost.task is not None
        await until(soon(lost.task.done), "the cancelled writer ended", seconds=2)
        assert lost.task.cancelled()
        assert journal.durable_seq == 1  # (what it had sent is committed)
    finally:
        await store.close()


async def test_a_client_given_by_the_caller_stays_open(redis_url: str, redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url)  # bytes replies: the store decodes them itself
    store = RedisStore(client, prefix=redis_prefix)
    journal = await store.open_journal("orders")
    journal.append("fire", {"n": 1})
    journal.snapshot({"upto": 1})
    await store.close()
    assert await client.ping()
    again = RedisStore(client, prefix=redis_prefix)
    recovery = await again.load("orders")
    assert recovery is not None and recovery.snapshot is not None
    assert recovery.snapshot.document == {"upto": 1}
    await again.close()
    await client.aclose()


async def test_keys_of_a_run_changed_by_something_else_are_reported(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    journal = await store.open_journal("orders")
    for n in range(3):
        journal.append("fire", {"n": n})
    await journal.flush()
    client = aioredis.Redis.from_url(redis_url)
    await client.xdel(f"{redis_prefix}:run:{{orders}}:log", "0-2")
    with pytest.raises(StoreError, match="lacks record 2 .*Fix: restore them"):
        await store.load("orders")
    await client.aclose()
    await store.close()


async def test_a_server_that_went_away_stops_the_store_with_the_cause() -> None:
    server = redis_server.start()
    store = RedisStore(server.url, prefix="gone")
    journal = await store.open_journal("orders")
    journal.append("fire", {"n": 1})
    await journal.flush()
    server.stop()
    journal.append("fire", {"n": 2})
    with pytest.raises(StoreError, match="could not commit journal records: ConnectionError"):
        await journal.flush()
    with pytest.raises(StoreError, match="could not commit"):
        journal.append("fire", {"n": 3})
    with pytest.raises(StoreError, match="could not commit"):
        await store.close()
