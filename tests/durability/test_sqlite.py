"""SQLiteStore: its file, options, group commit, fencing across stores, failures and shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mycorrhizal.common import DefinitionError, FencedError, Journal, Record, StoreBusyError, StoreError
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.durability.schema import SCHEMA_VERSION
from mycorrhizal.durability.writer import Writer

from .conftest import payload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run.db"


def raw(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Run ``sql`` on the file through a connection of its own, as another program would."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def test_options_are_checked_all_at_once(path: Path) -> None:
    with pytest.raises(DefinitionError, match="SQLiteStore options has 4 problems") as info:
        SQLiteStore(path, commit_interval=-1, max_batch=0, synchronous="SOMETIMES", busy_timeout=-2)
    text = str(info.value)
    assert "SQLiteStore(commit_interval=...): must be seconds between 0 and 60, got -1" in text
    assert "SQLiteStore(synchronous=...): must be one of OFF, NORMAL, FULL, EXTRA" in text
    assert not path.exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("commit_interval", True, "seconds between 0 and 60"),  # (a bool is not one second)
        ("busy_timeout", float("nan"), "seconds from 0 to 2147483"),
        ("busy_timeout", float("inf"), "seconds from 0 to 2147483"),  # SQLite would not wait at all
        ("busy_timeout", 1e10, "seconds from 0 to 2147483"),
        ("busy_timeout", True, "seconds from 0 to 2147483"),
        ("busy_timeout", "5", "seconds from 0 to 2147483"),
    ],
)
def test_an_option_that_means_nothing_is_refused(
    path: Path, option: str, value: object, expected: str
) -> None:
    message = rf"SQLiteStore\({option}=\.\.\.\): must be {expected}, got {re.escape(repr(value))}\. Fix: pass"
    with pytest.raises(DefinitionError, match=message):
        SQLiteStore(path, **{option: value})  # type: ignore[arg-type]
    assert not path.exists()


async def test_the_file_is_in_wal_mode_and_marked_as_ours(path: Path) -> None:
    store = SQLiteStore(path)
    await store.close()
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw(path, "PRAGMA application_id") == [(0x4D594352,)]


async def test_a_database_of_another_program_is_refused(path: Path) -> None:
    raw(path, "CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(
        StoreError, match="an SQLite database of another program.*Fix: give SQLiteStore a path"
    ):
        SQLiteStore(path)


async def test_a_file_of_a_newer_schema_is_refused(path: Path) -> None:
    store = SQLiteStore(path)
    await store.close()
    raw(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"newer mycorrhizal \\(store schema {SCHEMA_VERSION + 1}"):
        SQLiteStore(path)


def test_a_file_that_is_not_a_database_is_refused(path: Path) -> None:
    path.write_bytes(b"certainly not SQLite " * 100)
    with pytest.raises(StoreError, match="cannot use .* as an SQLite store: file is not a database"):
        SQLiteStore(path)


@pytest.mark.parametrize(
    ("where", "fix"),
    [
        ("folder", "'{p}' is a folder. Fix: pass the path of a file in it, e.g. '{p}/run.db'"),
        ("missing/run.db", "its folder '{p}' does not exist. Fix: create the folder first"),
    ],
    ids=["a folder", "in a missing folder"],
)
def test_a_path_that_cannot_be_a_store_says_why(tmp_path: Path, where: str, fix: str) -> None:
    (tmp_path / "folder").mkdir()
    target = tmp_path / where
    said = fix.format(p=tmp_path / where.split("/")[0])
    with pytest.raises(
        StoreError, match=f"^{re.escape(f'cannot open {str(target)!r} as an SQLite store: {said}')}$"
    ):
        SQLiteStore(target)


async def test_records_appended_between_commits_share_one_row(path: Path) -> None:
    # The writer waits up to 10 s for more records; flush() makes it commit at once.
    store = SQLiteStore(path, commit_interval=10.0)
    journal = await store.open_journal("orders")
    for seq in range(1, 101):
        journal.append("fire", payload(seq))
    await journal.flush()
    rows = raw(path, "SELECT first_seq, last_seq, records FROM journal")
    assert [(first, last) for first, last, _ in rows] == [(1, 100)]
    assert json.loads(str(rows[0][2]))[0] == ["fire", payload(1)]
    await store.close()


async def test_a_full_batch_is_committed_without_waiting(path: Path) -> None:
    store = SQLiteStore(path, commit_interval=10.0, max_batch=10)
    journal = await store.open_journal("orders")
    for seq in range(1, 26):
        journal.append("fire", payload(seq))
    await journal.flush()
    rows = raw(path, "SELECT first_seq, last_seq FROM journal ORDER BY first_seq")
    assert all(last - first < 10 for first, last in rows)  # no row holds more than max_batch records
    assert [first for first, _ in rows] == [1, *(last + 1 for _, last in rows[:-1])] and rows[-1][1] == 25
    await store.close()


async def test_another_store_opening_the_run_fences_this_one(path: Path) -> None:
    first = SQLiteStore(path)
    second = SQLiteStore(path)  # as another process would: its own connection to the same file
    old = await first.open_journal("orders")
    old.append("fire", payload(1))
    await old.flush()
    new = await second.open_journal("orders")
    assert (new.epoch, new.last_seq) == (2, 1)
    old.append("fire", {"stale": True})  # accepted in memory; refused when committed
    with pytest.raises(FencedError, match=r"run 'orders' was taken over by a newer writer \(epoch 2"):
        await old.flush()
    with pytest.raises(
        FencedError, match=r"run 'orders' was taken over .*; its unwritten records were dropped\. Fix: "
    ):
        old.append("fire", payload(2))
    new.append("fire", payload(2))
    await new.flush()
    recovery = await first.load("orders")  # the fenced store still reads
    assert recovery is not None
    assert recovery.records == (Record(1, "fire", payload(1)), Record(2, "fire", payload(2)))
    await first.close()
    await second.close()


async def refuses_everything(store: SQLiteStore, journal: Journal, cause: str) -> None:
    """A stopped store: appending, loading and closing each raise a StoreError naming ``cause``."""
    with pytest.raises(StoreError, match=cause):
        journal.append("fire", payload(99))
    with pytest.raises(StoreError, match=cause):
        await store.load("orders")
    with pytest.raises(StoreError, match=cause):
        await store.close()


async def test_a_failed_commit_stops_the_store_and_keeps_a_prefix(path: Path) -> None:
    store = SQLiteStore(path, commit_interval=0)
    journal = await store.open_journal("orders")
    for seq in range(1, 4):
        journal.append("fire", payload(seq))
    await journal.flush()
    # A disk that refuses writes, as far as this store can tell.
    raw(path, "CREATE TRIGGER full BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    journal.append("fire", payload(4))
    with pytest.raises(StoreError, match="could not commit run 'orders': disk full; nothing more is written"):
        await journal.flush()
    await refuses_everything(store, journal, "disk full")
    raw(path, "DROP TRIGGER full")
    again = SQLiteStore(path)
    recovery = await again.load("orders")
    assert recovery is not None and [r.seq for r in recovery.records] == [1, 2, 3]
    journal = await again.open_journal("orders")
    assert journal.append("fire", payload(4)) == 4
    await again.close()


@pytest.mark.parametrize(
    ("runs", "named"), [(["orders"], "run 'orders'"), (["refunds", "orders"], "runs 'orders', 'refunds'")]
)
async def test_a_failed_commit_names_the_file_and_its_runs(path: Path, runs: list[str], named: str) -> None:
    store = SQLiteStore(path, commit_interval=0)
    journals = [await store.open_journal(run) for run in runs]
    raw(path, "CREATE TRIGGER full BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    for journal in journals:
        journal.append("fire", payload(1))
    where = re.escape(repr(str(path)))
    with pytest.raises(
        StoreError,
        match=rf"^the SQLite store {where} could not commit {named}: disk full; .*\. Fix: free the disk .* "
        "recover the run from it$",
    ):
        await store.flush()
    with pytest.raises(StoreError, match="disk full"):
        await store.close()


@pytest.fixture
def other_writer(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the store's file (made before the store: it creates the file)."""
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


def busy(path: Path, named: str = "run 'orders'") -> str:
    """What a commit refused because another connection held the write lock says, whole."""
    return (
        rf"^the SQLite store {re.escape(repr(str(path)))} could not commit {named}: another connection held "
        r"the file's write lock longer than busy_timeout=0\.01 s \(database is locked\); .*\. "
        r"Fix: raise SQLiteStore\(busy_timeout=\.\.\.\) or stop the other writer$"
    )


def refused(path: Path, what: str) -> str:
    """What a job (opening a journal...) that found the file busy on its own says, whole."""
    return (
        rf"^the SQLite store {re.escape(repr(str(path)))} could not {what}: another connection held the "
        r"file's write lock longer than busy_timeout=0\.01 s \(database is locked\)\. "
        r"Fix: raise SQLiteStore\(busy_timeout=\.\.\.\) or stop the other writer$"
    )


async def test_a_busy_file_is_reported_and_retried_not_fatal(
    path: Path, other_writer: sqlite3.Connection
) -> None:
    # A write lock held past busy_timeout stopped the store for good, as a damaged file does.
    store = SQLiteStore(path, commit_interval=0, busy_timeout=0.01)
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    await journal.flush()
    other_writer.execute("BEGIN IMMEDIATE")  # holds the file's write lock
    journal.append("fire", payload(2))
    with pytest.raises(StoreBusyError, match=busy(path)):
        await journal.flush()
    journal.append("fire", payload(3))  # still taken: the store did not stop
    with pytest.raises(StoreBusyError, match=busy(path)):
        await store.flush()
    with pytest.raises(StoreBusyError, match=busy(path)):  # jobs wait for the records before them
        await store.open_journal("refunds")
    assert journal.durable_seq == 1
    other_writer.execute("ROLLBACK")
    journal.append("fire", payload(4))
    await journal.flush()  # the records kept back are committed first, in order
    assert journal.durable_seq == 4
    recovery = await store.load("orders")
    assert recovery is not None and recovery.records == tuple(
        Record(s, "fire", payload(s)) for s in range(1, 5)
    )
    assert (await store.open_journal("refunds")).epoch == 1
    other_writer.execute("BEGIN IMMEDIATE")  # nothing kept back: opening a journal finds it busy itself
    with pytest.raises(StoreBusyError, match=refused(path, "open the journal of run 'audit'")):
        await store.open_journal("audit")  # (it said "could not do what was asked", not which run)
    other_writer.execute("ROLLBACK")
    assert (await store.open_journal("audit")).epoch == 1
    await store.close()


class Written(logging.Handler):
    """Keeps what the store says at INFO and above (:attr:`said`, in order) and sets :attr:`event` when
    it says it wrote what a busy file had held back.  Read instead of caplog's records: the writer's
    thread tells caplog's (root) handler only after this one, so caplog may not have the line yet."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.event = threading.Event()
        self.said: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append((record.levelname, record.getMessage()))
        if "wrote the records a busy file had held back" in record.getMessage():
            self.event.set()


async def test_what_a_busy_file_held_back_is_written_once_it_is_free_with_nothing_else_to_commit(
    path: Path, other_writer: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    # They waited for the next commit (a flush, an append, closing): a journal that went quiet after
    # the busy error kept its records in memory only, for as long as it stayed quiet.
    store = SQLiteStore(path, commit_interval=0, busy_timeout=0.01)
    journal = await store.open_journal("orders")
    written = Written()
    logging.getLogger("mycorrhizal.durability").addHandler(written)
    try:
        with caplog.at_level(logging.DEBUG, logger="mycorrhizal.durability"):
            other_writer.execute("BEGIN IMMEDIATE")
            journal.append("fire", payload(1))
            with pytest.raises(StoreBusyError, match=busy(path)):
                await journal.flush()
            other_writer.execute("ROLLBACK")  # the file is free; the journal appends nothing more
            assert await asyncio.to_thread(written.event.wait, 10), "the records stayed held back"
    finally:
        logging.getLogger("mycorrhizal.durability").removeHandler(written)
    assert raw(path, "SELECT first_seq, last_seq FROM journal") == [(1, 1)]
    assert journal.durable_seq == 1
    said = written.said
    assert [level for level, _ in said] == ["WARNING", "INFO"], said  # the retries said once, not each
    assert re.search(busy(path), said[0][1]) and re.search(
        rf"^the SQLite store {re.escape(repr(str(path)))} wrote the records a busy file had held back "
        r"\(run 'orders'\)$",
        said[1][1],
    )
    await store.close()


async def test_closing_a_busy_store_says_what_was_not_written(
    path: Path, other_writer: sqlite3.Connection
) -> None:
    store = SQLiteStore(path, commit_interval=60.0, busy_timeout=0.01)
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    await journal.flush()
    other_writer.execute("BEGIN IMMEDIATE")
    journal.append("fire", payload(2))
    with pytest.raises(
        StoreError,
        match=r"was closed while another connection held its write lock \(database is locked\): the records "
        r"of run 'orders' after its last commit were not written\. Fix: .* recover the run from the file$",
    ):
        await store.close()
    other_writer.execute("ROLLBACK")
    again = SQLiteStore(path)
    recovery = await again.load("orders")
    assert recovery is not None and [r.seq for r in recovery.records] == [1]  # a prefix
    await again.close()


async def test_a_crash_of_the_writer_thread_fails_the_waiters_instead_of_hanging(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(path)
    journal = await store.open_journal("orders")

    def broken(self: Writer, rows: list[object]) -> list[object]:
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(Writer, "_chunks", broken)
    journal.append("fire", payload(1))
    with pytest.raises(StoreError, match="writer thread crashed: RuntimeError\\('a bug in the writer'\\)"):
        await journal.flush()
    await refuses_everything(store, journal, "writer thread crashed")
    assert "writer thread crashed" in caplog.text


async def test_a_missing_record_is_reported_not_skipped(path: Path) -> None:
    store = SQLiteStore(path)
    journal = await store.open_journal("orders")
    for seq in range(1, 4):
        journal.append("fire", payload(seq))
        await journal.flush()  # one row per record
    await store.close()
    raw(path, "DELETE FROM journal WHERE first_seq = 2")
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match="run 'orders' lacks record 2 .*damaged or edited"):
        await store.load("orders")
    raw(path, "UPDATE journal SET records = '[[\"fire\"' WHERE first_seq = 1")
    with pytest.raises(StoreError, match="records 1..1 of run 'orders' in the store is not valid JSON"):
        await store.load("orders")
    raw(path, "UPDATE journal SET records = '[[\"fire\"]]' WHERE first_seq = 1")
    with pytest.raises(
        StoreError, match=r"record 1 of run 'orders' is damaged: \['fire'\]\. Fix: restore the store"
    ):
        await store.load("orders")
    await store.close()


async def test_closing_checkpoints_the_wal_into_the_file(path: Path) -> None:
    store = SQLiteStore(path)
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    await store.close()  # no flush: closing commits what is pending
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert raw(path, "SELECT first_seq, last_seq FROM journal") == [(1, 1)]


async def test_a_cancelled_flush_leaves_the_store_working(path: Path) -> None:
    store = SQLiteStore(path, commit_interval=10.0)
    journal = await store.open_journal("orders")
    journal.append("fire", payload(1))
    waiter = asyncio.ensure_future(journal.flush())
    await asyncio.sleep(0)
    waiter.cancel()
    journal.append("fire", payload(2))
    await journal.flush()
    assert journal.durable_seq == 2
    await store.close()


def test_one_store_serves_several_event_loops_in_turn(path: Path) -> None:
    store = SQLiteStore(path)

    async def append(seq: int) -> None:
        journal = await store.open_journal("orders")
        journal.append("fire", payload(seq))
        await journal.flush()

    asyncio.run(append(1))
    asyncio.run(append(2))
    asyncio.run(store.close())
    assert raw(path, "SELECT last_seq FROM journal ORDER BY first_seq") == [(1,), (2,)]


def test_what_an_unclosed_store_holds_is_written_when_the_interpreter_exits(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from mycorrhizal.durability import SQLiteStore

        async def main():
            store = SQLiteStore({str(path)!r}, commit_interval=10.0)
            journal = await store.open_journal("orders")
            for seq in range(1, 6):
                journal.append("fire", seq)
            return store  # kept alive past the loop, never flushed or closed

        kept = asyncio.run(main())
        """
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=30)
    assert raw(path, "SELECT first_seq, last_seq FROM journal") == [(1, 5)]
