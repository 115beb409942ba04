"""The store interface's contract, checked on every store (a new store adds itself to ``make_store``)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal.common import FencedError, Journal, Record, Recovery, Store, StoreError
from mycorrhizal.distribution import RedisStore
from mycorrhizal.durability import MemoryStore, SQLiteStore

from ..redis_server import RedisServer
from .conftest import StoreFactory, document, payload


def expected_records(first: int, last: int) -> tuple[Record, ...]:
    return tuple(Record(seq, "fire", payload(seq)) for seq in range(first, last + 1))


async def test_appended_records_come_back_in_order(make_store: StoreFactory) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    assert [journal.append("fire", payload(seq)) for seq in (1, 2, 3)] == [1, 2, 3]
    assert journal.last_seq == 3
    await journal.flush()
    assert journal.durable_seq == 3
    recovery = await store.load("orders")
    assert recovery == Recovery("orders", None, expected_records(1, 3))
    assert recovery.last_seq == 3


async def test_a_payload_given_as_json_text_comes_back_as_the_payload(make_store: StoreFactory) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    text = '{"seq":2,"text":"éé","items":[2,null,0.5,true]}'
    assert journal.append_text("fire", text) == 2
    journal.append("fire", payload(3))
    await journal.flush()
    recovery = await store.load("orders")
    assert recovery == Recovery("orders", None, expected_records(1, 3))
    with pytest.raises(StoreError, match="record kind is a non-empty str"):
        journal.append_text("", "{}")


async def test_an_unknown_run_loads_as_none(make_store: StoreFactory) -> None:
    store = await make_store()
    assert await store.load("never") is None
    assert await store.runs() == ()


async def test_a_snapshot_stands_for_the_records_before_it(make_store: StoreFactory) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    for seq in range(1, 6):
        journal.append("fire", payload(seq))
    assert journal.snapshot(document(5)) == 5
    journal.append("fire", payload(6))
    await store.flush()
    recovery = await store.load("orders")
    assert recovery is not None
    assert recovery.snapshot is not None and recovery.snapshot.seq == 5
    assert recovery.snapshot.document == document(5)
    assert recovery.records == expected_records(6, 6)


async def test_old_snapshots_and_the_records_they_cover_are_pruned(make_store: StoreFactory) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    for seq in range(1, 31):
        journal.append("fire", payload(seq))
        if seq % 10 == 0:
            journal.snapshot(document(seq))
    await journal.flush()
    (info,) = await store.runs()
    # two snapshots kept (20 and 30): records up to the older one (20) are gone
    assert (info.run, info.epoch, info.last_seq, info.snapshot_seq, info.records) == ("orders", 1, 30, 30, 10)
    recovery = await store.load("orders")
    assert recovery is not None and recovery.snapshot is not None
    assert recovery.snapshot.seq == 30 and recovery.records == ()


async def test_a_new_journal_continues_the_run_and_fences_the_old_one(make_store: StoreFactory) -> None:
    store = await make_store()
    old = await store.open_journal("orders")
    old.append("fire", payload(1))
    old.append("fire", payload(2))
    await old.flush()
    new = await store.open_journal("orders")
    assert (new.epoch, new.last_seq) == (old.epoch + 1, 2)
    # A MemoryStore finds out at the old journal's next use; the others fence it when reopening.
    memory = isinstance(store, MemoryStore)
    why = "taken over by a newer writer" if memory else "opened again by a newer journal"
    with pytest.raises(FencedError, match=f"run 'orders' was {why}.* Fix: "):
        old.append("fire", payload(3))
    with pytest.raises(FencedError, match=f"run 'orders' was {why}.* Fix: "):
        await old.flush()
    assert new.append("fire", payload(3)) == 3
    await new.flush()
    assert (await store.load("orders")) == Recovery("orders", None, expected_records(1, 3))


async def test_runs_are_independent(make_store: StoreFactory) -> None:
    store = await make_store()
    journals = [await store.open_journal(f"run-{n}") for n in range(3)]
    for seq in range(1, 21):
        for journal in journals[: 1 + seq % 3]:
            journal.append("fire", payload(journal.last_seq + 1))
    await store.flush()
    infos = await store.runs()
    assert [info.run for info in infos] == ["run-0", "run-1", "run-2"]
    for journal in journals:
        recovery = await store.load(journal.run)
        assert recovery is not None and recovery.records == expected_records(1, journal.last_seq)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"token": object()}, "is not JSON data"),
        ([float("nan")], "is not JSON data"),
        ({"x": {1j: 2}}, "is not JSON data"),
    ],
)
async def test_a_payload_that_is_not_json_data_is_refused(
    make_store: StoreFactory, bad: Any, message: str
) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    with pytest.raises(StoreError, match=rf"{message}.*Fix: encode tokens .* CodecRegistry"):
        journal.append("fire", bad)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(StoreError, match="is not JSON data"):
        journal.append("fire", loop)
    with pytest.raises(StoreError, match="is not JSON data"):
        journal.snapshot({"x": object()})
    with pytest.raises(StoreError, match="a record kind is a non-empty str"):
        journal.append("", 1)
    assert journal.append("fire", payload(1)) == 1  # nothing refused took a number


async def test_the_payload_is_copied_when_appended(make_store: StoreFactory) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    data = payload(1)
    journal.append("fire", data)
    data["seq"] = "changed afterwards"
    await journal.flush()
    recovery = await store.load("orders")
    assert recovery is not None and recovery.records == expected_records(1, 1)


async def test_a_closed_journal_or_store_refuses_work(make_store: StoreFactory) -> None:
    store = await make_store()
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    await journal.close()
    await journal.close()  # harmless twice
    await journal.flush()  # nothing pending: no error
    with pytest.raises(StoreError, match="journal was closed"):
        journal.append("fire", payload(2))
    again = await store.open_journal("orders")
    assert again.last_seq == 1
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        again.append("fire", payload(2))
    with pytest.raises(StoreError, match="closed"):
        await store.open_journal("other")
    with pytest.raises(StoreError, match="closed"):
        await store.load("orders")


async def test_a_journal_of_a_closed_store_flushes_quietly_and_refuses_appends(
    make_store: StoreFactory,
) -> None:
    # Closing the store committed everything: SQLiteStore's and RedisStore's journals said so by
    # flushing quietly, MemoryStore's raised "the MemoryStore is closed".
    store = await make_store()
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    await store.close()
    await journal.flush()
    await journal.close()
    await store.flush()
    with pytest.raises(StoreError, match=r"closed\. Fix: "):
        journal.append("fire", payload(2))


@pytest.mark.parametrize("run", ["", 5, None])
async def test_a_run_is_named_by_a_non_empty_string(make_store: StoreFactory, run: Any) -> None:
    store = await make_store()
    with pytest.raises(StoreError, match="a run is named by a non-empty str"):
        await store.open_journal(run)


async def test_the_store_and_its_journals_implement_the_interface(make_store: StoreFactory) -> None:
    store = await make_store()
    assert isinstance(store, Store)
    assert isinstance(await store.open_journal("orders"), Journal)
    assert not isinstance(object(), Store)


# --- random histories: what load() gives is exactly what the model says ---------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 40)),
        st.tuples(st.just("snapshot"), st.just(0)),
        st.tuples(st.just("flush"), st.just(0)),
        st.tuples(st.just("reopen journal"), st.just(0)),
        st.tuples(st.just("restart store"), st.just(0)),
    ),
    max_size=25,
)


async def replay(ops: list[tuple[str, int]], kind: str, path: Path, keep: int, redis_url: str) -> None:
    prefix = f"histories-{uuid.uuid4().hex}"

    def open_store() -> Store:
        if kind == "sqlite":
            return SQLiteStore(path, keep_snapshots=keep)
        if kind == "redis":
            return RedisStore(redis_url, prefix=prefix, keep_snapshots=keep)
        return MemoryStore(keep_snapshots=keep)

    store = open_store()
    journal: Journal = await store.open_journal("r")
    snapshots: list[int] = []
    for op, count in ops:
        if op == "append":
            for _ in range(count):
                journal.append("fire", payload(journal.last_seq + 1))
        elif op == "snapshot":
            if not snapshots or snapshots[-1] != journal.last_seq:
                snapshots.append(journal.snapshot(document(journal.last_seq)))
        elif op == "flush":
            await journal.flush()
        elif op == "reopen journal":
            journal = await store.open_journal("r")
        elif kind != "memory":  # restart: closing commits everything appended
            await store.close()
            store = open_store()
            journal = await store.open_journal("r")
    last = journal.last_seq
    await journal.flush()
    recovery = await store.load("r")
    assert recovery is not None and recovery.last_seq == last
    kept = snapshots[-keep:]
    if kept:
        assert recovery.snapshot is not None and recovery.snapshot.seq == kept[-1]
        assert recovery.snapshot.document == document(kept[-1])
    after = kept[-1] if kept else 0
    assert recovery.records == expected_records(after + 1, last)
    (info,) = await store.runs()
    assert info.last_seq == last and info.records == last - (kept[0] if kept else 0)
    await store.close()


@settings(max_examples=40, deadline=None)
@given(ops=operations, keep=st.integers(1, 3), kind=st.sampled_from(["sqlite", "memory", "redis"]))
def test_random_histories_load_as_the_model_says(
    ops: list[tuple[str, int]], keep: int, kind: str, redis_service: RedisServer
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(replay(ops, kind, Path(folder) / "run.db", keep, redis_service.url))


@pytest.mark.parametrize("write", ["append", "append_text", "snapshot"])
async def test_a_journal_of_a_closed_store_names_its_run(make_store: StoreFactory, write: str) -> None:
    # MemoryStore's said only "the MemoryStore is closed. Fix: make a new one", without the run
    # whose write was refused, where SQLiteStore's and RedisStore's name it.
    store = await make_store()
    journal = await store.open_journal("orders")
    await store.close()
    with pytest.raises(StoreError, match=r"^run 'orders': the store was closed\. Fix: [^.]*$"):
        if write == "append":
            journal.append("fire", payload(1))
        elif write == "append_text":
            journal.append_text("fire", "{}")
        else:
            journal.snapshot(document(1))
