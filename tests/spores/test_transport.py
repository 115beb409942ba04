"""Transports and the dispatcher: every record written once, in order, whatever calls what."""

from __future__ import annotations

import asyncio
import errno
import gc
import io
import json
import logging
import re
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal import spores
from mycorrhizal.spores import (
    AsyncFileTransport,
    AsyncTransport,
    Ocel2JsonTransport,
    Ocel2SqliteTransport,
    SyncFileTransport,
    SyncTransport,
    Transport,
    get_spore_async,
    get_spore_sync,
)

ROOT = Path(__file__).resolve().parents[2]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def event_numbers(path: Path) -> list[int]:
    return [int(r["event"]["attributes"][0]["value"]) for r in lines(path) if r["event"] is not None]


class ListTransport(Transport):
    """A user's async transport, written the upstream way (subclassing Transport)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    async def send(self, data: bytes, content_type: str) -> None:
        await asyncio.sleep(0)  # really suspends
        self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


class SyncListTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes, content_type: str) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


def numbers(sent: list[bytes]) -> list[int]:
    return [int(json.loads(d)["event"]["attributes"][0]["value"]) for d in sent]


def test_protocols_recognise_both_kinds() -> None:
    assert isinstance(SyncListTransport(), SyncTransport)
    assert isinstance(ListTransport(), AsyncTransport)
    assert Transport is AsyncTransport


def test_sync_file_transport_writes_each_line_before_returning(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "log.jsonl"
    with SyncFileTransport(path) as transport:
        spores.configure(transport=transport)
        log = get_spore_sync("t")
        for i in range(3):
            log.event("tick", n=i)
            assert len(path.read_text().splitlines()) == i + 1
    assert event_numbers(path) == [0, 1, 2]
    with pytest.raises(ValueError, match="is closed"):
        transport.send(b"{}", "application/json")


async def test_async_file_transport_batches_and_close_writes_everything(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=10, flush_interval=3600)
    spores.configure(transport=transport)
    log = get_spore_async("t")
    for i in range(25):
        await log.event("tick", n=i)
    await transport.flush()
    assert event_numbers(path) == list(range(25))
    for i in range(25, 28):
        await log.event("tick", n=i)
    assert transport.pending == 3
    await spores.aclose()
    assert event_numbers(path) == list(range(28))
    assert transport.written == 28 and transport.pending == 0


def test_async_file_transport_works_without_an_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=4)
    spores.configure(transport=transport)
    log = get_spore_sync("t")
    for i in range(10):
        log.event("tick", n=i)
    assert event_numbers(path) == list(range(8))  # two full batches, written in place
    spores.close()
    assert event_numbers(path) == list(range(10))


def test_a_full_queue_blocks_the_caller_by_default(tmp_path: Path) -> None:
    transport = AsyncFileTransport(tmp_path / "log.jsonl", batch_size=2, max_pending=4)
    transport._start_writer = lambda: None  # type: ignore[method-assign] - a disk that never catches up
    for i in range(9):
        transport.send_nowait(json.dumps({"n": i}).encode())
    assert transport.dropped == 0
    assert transport.written >= 4  # the caller wrote the overflow itself
    transport.close_now()
    assert [json.loads(x)["n"] for x in (tmp_path / "log.jsonl").read_text().splitlines()] == list(range(9))


def test_the_drop_policy_counts_and_logs_what_it_drops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = AsyncFileTransport(tmp_path / "log.jsonl", batch_size=2, max_pending=4, overflow="drop")
    transport._start_writer = lambda: None  # type: ignore[method-assign] - a disk that never catches up
    with caplog.at_level(logging.WARNING, "mycorrhizal.spores"):
        for i in range(10):
            transport.send_nowait(json.dumps({"n": i}).encode())
        transport.close_now()
    assert transport.dropped == 6
    assert transport.written == 4
    assert "dropping new ones" in caplog.text and "6 records were dropped" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, r"batch_size=0, max_pending=100000 are not sizes\. Fix: use ints"),
        ({"max_pending": 1}, r"batch_size=1024, max_pending=1 are not sizes\. Fix: use ints"),
        ({"overflow": "x"}, r"overflow='x' is not a policy\. Fix: use 'block' or 'drop'$"),
        ({"batch_size": True}, r"batch_size=True, max_pending=100000 are not sizes\. Fix: use ints"),
        ({"batch_size": 2.5}, r"batch_size=2.5, max_pending=100000 are not sizes\. Fix: use ints"),
        ({"batch_size": float("nan")}, r"batch_size=nan, max_pending=100000 are not sizes\. Fix: use ints"),
        ({"batch_size": "8"}, r"batch_size='8', max_pending=100000 are not sizes\. Fix: use ints"),
        ({"max_pending": float("nan")}, r"max_pending=nan are not sizes\. Fix: use ints"),
        ({"max_pending": float("inf")}, r"max_pending=inf are not sizes\. Fix: use ints"),
        ({"flush_interval": -1}, r"flush_interval=-1 is not a time to wait\. Fix: use seconds >= 0"),
        (
            {"flush_interval": float("nan")},
            r"flush_interval=nan is not a time to wait\. Fix: use seconds >= 0",
        ),
        ({"flush_interval": True}, r"flush_interval=True is not a time to wait\. Fix: use seconds >= 0"),
        ({"flush_interval": "0.5"}, r"flush_interval='0.5' is not a time to wait\. Fix: use seconds >= 0"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AsyncFileTransport(tmp_path / "x.jsonl", **kwargs)


async def test_an_async_transport_used_from_sync_code_inside_a_loop_gets_every_record_in_order() -> None:
    transport = ListTransport()
    spores.configure(transport=transport)
    sync_log, async_log = get_spore_sync("s"), get_spore_async("a")
    for i in range(5):
        sync_log.event("tick", n=i)  # queued: cannot await here
    await async_log.event("tick", n=5)  # waits behind the queue
    sync_log.event("tick", n=6)
    await spores.aclose()
    assert numbers(transport.sent) == list(range(7))
    assert transport.closed


def test_an_async_transport_used_from_sync_code_without_a_loop_is_awaited_on_the_spot() -> None:
    transport = ListTransport()
    spores.configure(transport=transport)
    log = get_spore_sync("s")
    for i in range(3):
        log.event("tick", n=i)
        assert numbers(transport.sent) == list(range(i + 1))
    spores.close()
    assert transport.closed


async def test_a_sync_transport_used_from_async_code_is_just_called(caplog: pytest.LogCaptureFixture) -> None:
    transport = SyncListTransport()
    spores.configure(transport=transport)
    with caplog.at_level(logging.WARNING, "mycorrhizal.spores"):
        await get_spore_async("a").event("tick", n=1)
    assert numbers(transport.sent) == [1]
    assert caplog.text == ""  # upstream logged a spurious "Failed to send" here


async def test_sync_close_inside_a_loop_with_queued_async_sends_says_what_to_do() -> None:
    spores.configure(transport=ListTransport())
    get_spore_sync("s").event("tick", n=1)
    with pytest.raises(RuntimeError, match="await spores.aclose"):
        spores.close()
    await spores.aclose()


def test_without_a_transport_records_are_counted_and_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "mycorrhizal.spores"):
        for i in range(3):
            get_spore_sync("s").event("tick", n=i)
    assert spores.get_dispatcher().unsent == 3
    assert caplog.text.count("no transport configured") == 1


EXIT_SCRIPT = """
import asyncio, sys
from mycorrhizal import spores
from mycorrhizal.spores import AsyncFileTransport, get_spore_async, get_spore_sync, Transport

class Slow(Transport):
    def __init__(self, path): self.file = open(path, "w")
    async def send(self, data, content_type):
        await asyncio.sleep(0)
        self.file.write(data.decode() + "\\n"); self.file.flush()

file_transport = AsyncFileTransport(sys.argv[1], batch_size=1000, flush_interval=3600)
spores.configure(transport=file_transport)

async def main():
    log = get_spore_async("exit")
    for i in range(2500):
        await log.event("tick", n=i)
    # no close(), no flush(): the program just ends

asyncio.run(main())
spores.configure(transport=Slow(sys.argv[2]))
sync_log = get_spore_sync("exit")

async def queued():
    for i in range(50):
        sync_log.event("tick", n=i)  # queued behind an async transport; the loop ends at once

asyncio.run(queued())

for path, writer in ((sys.argv[3], spores.Ocel2JsonTransport), (sys.argv[4], spores.Ocel2SqliteTransport)):
    spores.configure(transport=writer(path))  # never closed either
    for i in range(30):
        spores.emit_event("tick", {"n": i})
"""


def test_nothing_is_lost_at_interpreter_exit(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT))
    first, second = tmp_path / "file.jsonl", tmp_path / "slow.jsonl"
    ocel_json, ocel_sqlite = tmp_path / "log.json", tmp_path / "log.sqlite"
    env_path = str(ROOT)
    done = subprocess.run(
        [sys.executable, str(script), str(first), str(second), str(ocel_json), str(ocel_sqlite)],
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert event_numbers(first) == list(range(2500))
    assert event_numbers(second) == list(range(50))
    assert len(json.loads(ocel_json.read_text())["events"]) == 30
    db = sqlite3.connect(ocel_sqlite)
    try:
        assert db.execute("SELECT COUNT(*) FROM event_tick").fetchone() == (30,)
    finally:
        db.close()


@pytest.mark.parametrize("kind", ["queue", "sync"])
def test_the_object_cache_writes_and_counts_each_object_record(tmp_path: Path, kind: str) -> None:
    """The cache writes through the dispatcher's object_writer (for a transport that queues, the
    encoding and queueing without the checks): every record arrives, in order, and is counted."""
    transport = (AsyncFileTransport if kind == "queue" else SyncFileTransport)(tmp_path / "log.jsonl")
    spores.configure(transport=transport, object_cache_size=2)
    cache, dispatcher = spores.get_object_cache(), spores.get_dispatcher()
    for i in range(4):  # first sights of o0 and o1, then each changed
        cache.see(f"o{i % 2}", "thing", [("n", i)], 1.5)
    cache.see("o2", "thing", [("n", 4)], 1.5)  # a first sight, evicting o0 (written as it is: no record)
    spores.flush_object_cache()  # o1 and o2 once more
    spores.close()
    objects = [r["object"] for r in lines(transport.path)]
    assert [(o["id"], o["attributes"][0]["value"]) for o in objects] == [
        ("o0", "0"),
        ("o1", "1"),
        ("o0", "2"),
        ("o1", "3"),
        ("o2", "4"),
        ("o1", "3"),
        ("o2", "4"),
    ]
    assert dispatcher.objects == 7


class _HookedFile:
    """The transport's file, calling ``hook(data)`` before each write (to stop a writer there)."""

    def __init__(self, real: Any, hook: Callable[[bytes], None]) -> None:
        self.real, self.hook = real, hook

    def write(self, data: bytes) -> int:
        self.hook(data)
        return int(self.real.write(data))

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        self.real.close()

    @property
    def closed(self) -> bool:
        return bool(self.real.closed)


def test_a_batch_dropped_while_the_writer_thread_takes_it_is_written_or_dropped_not_both(
    tmp_path: Path,
) -> None:
    # The interleaving the GIL allows: the loop thread seals batch C and finds too many records
    # waiting (B not written yet); the writer thread finishes B and starts writing C; then the
    # loop thread drops C from under it.  C was written *and* counted dropped, and the writer's
    # popleft() raised on the emptied queue (or, had D been queued, took D unwritten).
    transport = AsyncFileTransport(tmp_path / "log.jsonl", batch_size=2, max_pending=2, overflow="drop")
    transport._start_writer = lambda: None  # type: ignore[method-assign] - the writer is run below
    writing_b, go, writing_c, removed = (threading.Event() for _ in range(4))

    def hook(data: bytes) -> None:
        if b'"n": 0' in data:
            writing_b.set()
            go.wait()
        elif b'"n": 2' in data:
            writing_c.set()
            removed.wait()

    class Batches(deque):  # type: ignore[type-arg]
        def remove(self, value: Any) -> None:
            go.set()  # the writer thread runs on while the loop thread is here
            writing_c.wait()
            super().remove(value)
            removed.set()

    transport._file = _HookedFile(transport._file, hook)  # type: ignore[assignment]
    transport._batches = Batches(transport._batches)
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            transport._write_batches()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    for i in range(2):
        transport.send_nowait(json.dumps({"n": i}).encode())
    thread = threading.Thread(target=writer)
    thread.start()
    writing_b.wait()
    for i in range(2, 4):
        transport.send_nowait(json.dumps({"n": i}).encode())
    go.set()
    thread.join()
    transport.close_now()
    written = [json.loads(x)["n"] for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert failures == []
    assert transport.written == len(written)
    assert transport.written + transport.dropped == 4
    assert transport.pending == 0


def test_a_writer_task_cancelled_before_it_ran_does_not_stall_the_next_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=2)

    def fill() -> None:
        for i in range(2):
            transport.send_nowait(json.dumps({"n": i}).encode())

    async def first_run() -> None:
        # A callback of the loop (an engine's timer, say) fills a batch in the loop's last round:
        # asyncio.run cancels the writer task it starts before that task ever ran, so its
        # 'finally' never forgot it, and every later flush()/close() awaited that cancelled task
        # (CancelledError) while no writer ever started again.
        asyncio.get_running_loop().call_soon(fill)

    async def second_run() -> None:
        transport.send_nowait(json.dumps({"n": 2}).encode())
        await transport.flush()
        assert transport.written == 3
        await transport.close()

    asyncio.run(first_run())
    asyncio.run(second_run())
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [0, 1, 2]
    assert transport.pending == 0


def test_a_flush_timer_of_a_closed_event_loop_does_not_keep_the_next_loops_batches_waiting(
    tmp_path: Path,
) -> None:
    # The first loop flushed (its batch written) while its flush timer was still armed, then
    # closed: the timer never fired, so it was never forgotten, and in every later loop a partial
    # batch waited for a full batch, flush()/close() or exit instead of flush_interval seconds.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=100, flush_interval=60)

    async def first_run() -> None:
        transport.send_nowait(b'{"n": 0}')  # arms the flush timer
        await transport.flush()  # written; the timer is still armed when the loop closes

    async def second_run() -> None:
        loop = asyncio.get_running_loop()
        transport.send_nowait(b'{"n": 1}')  # must arm a timer on this loop
        now = loop.time()
        loop.time = lambda: now + 61  # type: ignore[method-assign] - the flush interval passes
        for _ in range(3):  # the loop's next rounds run what is due
            await asyncio.sleep(0)
        writer = transport._writer
        assert writer is not None, "no flush timer fired on this loop"
        await asyncio.shield(writer)
        assert transport.written == 2 and transport.pending == 0  # before flush() or close()
        await transport.close()

    asyncio.run(first_run())
    asyncio.run(second_run())
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [0, 1]


async def _pass_time(seconds: float) -> None:
    """The running loop's clock moves ``seconds`` on, and the loop runs what then falls due."""
    loop = asyncio.get_running_loop()
    now = loop.time() + seconds
    loop.time = lambda: now  # type: ignore[method-assign] - a virtual clock for the loop's timers
    for _ in range(4):  # the timer's round, its callback's, the writer's start
        await asyncio.sleep(0)


async def _written_by_now(transport: AsyncFileTransport) -> int:
    """Records in the file once the writer started so far (if any) is done: no flush(), no close()."""
    while (writer := transport._writer) is not None and not writer.done():
        await asyncio.shield(writer)
    return transport.written


def _sent(transport: AsyncFileTransport, numbers: range) -> None:
    for n in numbers:
        transport.send_nowait(json.dumps({"n": n}).encode())


@pytest.mark.parametrize("later", [0, 1, 3])
def test_a_partial_batch_left_when_asyncio_run_returns_is_written_and_the_next_loop_flushes_its_own(
    tmp_path: Path, later: int
) -> None:
    # The first loop's timer never fired (asyncio.run() ended first) and stayed "armed": records the
    # next loop sent joined that batch, no timer of the next loop ever covered them, and they waited
    # for a full batch, close() or exit: 0 of 2 written a flush interval into the second run.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=100, flush_interval=60)

    async def first_run() -> None:
        _sent(transport, range(2))
        await _pass_time(59)  # the flush interval has not passed when the loop ends

    async def second_run() -> None:
        _sent(transport, range(2, 2 + later))
        await _pass_time(59)
        assert await _written_by_now(transport) == 2  # not yet: this loop's timer is not due
        await _pass_time(61)
        assert await _written_by_now(transport) == 2 + later  # before flush() or close()
        assert transport.pending == 0

    asyncio.run(first_run())
    assert (transport.written, transport.pending) == (2, 0)  # written as the loop closed
    asyncio.run(second_run())
    transport.close_now()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == list(range(2 + later))


@pytest.mark.parametrize("before", [1, 3])
def test_records_a_loop_adds_to_a_batch_begun_with_no_loop_are_written_within_the_flush_interval(
    tmp_path: Path, before: int
) -> None:
    # Records sent before any loop ran began a batch with no flush timer (there was no loop to arm
    # it on): the loop's records joined that batch and waited for a full batch, flush(), close()
    # or exit: 0 of them written a flush interval after they were sent.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=100, flush_interval=60)
    _sent(transport, range(before))
    assert (transport.written, transport.pending) == (0, before)  # no loop: kept for the batch

    async def run() -> None:
        await _pass_time(30)  # the timer counts from the first record the loop sends
        _sent(transport, range(before, before + 2))
        await _pass_time(59)
        assert await _written_by_now(transport) == 0  # not yet due
        await _pass_time(2)
        assert await _written_by_now(transport) == before + 2  # before flush() or close()
        assert transport.pending == 0

    asyncio.run(run())
    transport.close_now()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == list(range(before + 2))


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("when", ["awaiting", "last round", "clean-up"])
def test_records_of_a_loop_asyncio_run_shuts_down_are_written_before_it_returns(
    tmp_path: Path, count: int, when: str
) -> None:
    # awaiting: the flush timer is cancelled while it waits; last round: a callback of the loop's
    # last round begins the batch, and its timer is cancelled before it ever ran; clean-up: a task
    # asyncio.run() cancels logs as it unwinds, and a timer started then is never run at all.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=100, flush_interval=60)

    async def worker() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            if when == "clean-up":
                _sent(transport, range(count))

    async def main() -> None:
        asyncio.get_running_loop().create_task(worker())
        if when == "awaiting":
            _sent(transport, range(count))
        elif when == "last round":
            asyncio.get_running_loop().call_soon(_sent, transport, range(count))
        await asyncio.sleep(0)  # the worker waits

    asyncio.run(main())
    assert (transport.written, transport.pending) == (count, 0)
    transport.close_now()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == list(range(count))


def test_a_loop_closed_by_hand_keeps_its_batch_quietly_for_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No shutdown tells the transport this loop is gone (its timer task just never runs again):
    # the batch waits for close(), and asyncio does not report that task destroyed pending.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=100, flush_interval=60)

    async def first_run() -> None:
        _sent(transport, range(2))

    loop = asyncio.new_event_loop()
    with caplog.at_level(logging.DEBUG, "asyncio"):
        loop.run_until_complete(first_run())
        loop.close()
        transport.close_now()  # forgets the timer: collected now
        gc.collect()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [0, 1]
    assert caplog.text == ""


class _FillingDisk(io.RawIOBase):
    """A file on a disk that fills up once: a write takes its first 10 bytes (a short write), the
    next fails with ENOSPC; after that (space freed) writes succeed again."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self.writes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.writes += 1
        if self.writes == 1:
            return int(self.file.write(bytes(data)[:10]))
        if self.writes == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(self.file.write(data))

    def close(self) -> None:
        self.file.close()
        super().close()


def test_a_write_error_in_the_middle_of_a_batch_does_not_write_its_start_twice(tmp_path: Path) -> None:
    # The batch's first bytes reached the file before the disk filled up; the batch stayed queued
    # (right) and was written again in full, so the log held those bytes twice: a broken line.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=3)
    opened = transport._file  # the disk replaced under the file, as the transport opened it
    disk = _FillingDisk(path)
    transport._file = io.BufferedWriter(disk) if isinstance(opened, io.BufferedWriter) else disk  # type: ignore[assignment]
    opened.close()
    for i in range(3):  # no loop: written here; the failure is counted, not raised to the sender
        transport.send_nowait(json.dumps({"n": i, "pad": "x" * 4000}).encode())
    assert transport.pending == 3 and transport.write_errors == 1
    transport.close_now()  # space freed: written now, once
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [0, 1, 2]
    assert transport.written == 3 and transport.pending == 0


class _Disk:
    """A real file on a disk that can be full (each write then fails with ENOSPC), as ``open``
    gives it to the transport."""

    def __init__(self, path: Any, mode: str, buffering: int = -1) -> None:
        self.file = open(path, mode, buffering=buffering)  # noqa: SIM115 - closed by close()
        self.full = True

    def write(self, data: Any) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(self.file.write(data))

    def close(self) -> None:
        self.file.close()

    @property
    def closed(self) -> bool:
        return bool(self.file.closed)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> list[_Disk]:
    """Files the transports open from now on are on a full disk (set ``full = False`` to free it)."""
    opened: list[_Disk] = []

    def open_on_disk(path: Any, mode: str, buffering: int = -1) -> _Disk:
        opened.append(_Disk(path, mode, buffering))
        return opened[-1]

    monkeypatch.setattr("mycorrhizal.spores.transport.open", open_on_disk, raising=False)
    return opened


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_write_error_in_the_writer_thread_is_logged_counted_and_written_later(
    tmp_path: Path, full_disk: list[_Disk], caplog: pytest.LogCaptureFixture
) -> None:
    # The writer task raised the error and nobody awaited it: asyncio's "Task exception was never
    # retrieved" was all anyone saw, and no counter told of it.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=3, flush_interval=3600)
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            transport.send_nowait(json.dumps({"n": i}).encode())  # a full batch: the writer starts
        writer = transport._writer
        assert writer is not None
        await asyncio.wait({writer})  # (waiting does not retrieve its exception)
        del writer
        gc.collect()  # a task whose exception was never retrieved says so when collected
        assert _warnings(caplog) == [
            f"{path}: writing 3 records failed ([Errno 28] No space left on device); they stay queued "
            "and are written again with the next batch, on flush(), on close() or at exit"
        ]
        assert transport.write_errors == 1 and transport.written == 0 and transport.pending == 3
        full_disk[0].full = False
        await transport.flush()
        assert len(_warnings(caplog)) == 1
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [0, 1, 2]
    assert transport.written == 3 and transport.pending == 0 and transport.write_errors == 1
    await transport.close()


async def test_flush_and_close_raise_naming_the_file_while_its_records_cannot_be_written(
    tmp_path: Path, full_disk: list[_Disk], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=100, flush_interval=3600)
    for i in range(2):
        transport.send_nowait(json.dumps({"n": i}).encode())
    error = rf"{re.escape(repr(str(path)))}\): 2 records could not be written \(No space left on device\)"
    with caplog.at_level(logging.WARNING):
        with pytest.raises(
            OSError, match=error + r"; they are kept\. Fix: call flush\(\) or close\(\) again"
        ):
            await transport.flush()
        with pytest.raises(OSError, match=error):
            await transport.close()
    assert len(_warnings(caplog)) == 2  # once per failed write
    assert transport.write_errors == 2 and transport.pending == 2
    transport.send_nowait(json.dumps({"n": 2}).encode())  # not closed: it still takes records
    full_disk[0].full = False
    await transport.close()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [0, 1, 2]
    assert full_disk[0].closed and transport.pending == 0


def test_a_send_that_writes_in_place_on_a_full_disk_keeps_its_record_and_raises_nothing(
    tmp_path: Path, full_disk: list[_Disk], caplog: pytest.LogCaptureFixture
) -> None:
    # With no event loop each full batch is written by the sender: its OSError went to the sender
    # (emit_event's caller, or the engine calling spores.observe's observer, which detached it:
    # nothing was logged after), and the dispatcher did not count the record it had handed over.
    path = tmp_path / "log.jsonl"
    transport = AsyncFileTransport(path, batch_size=2)
    spores.configure(transport=transport)
    with caplog.at_level(logging.WARNING):
        for i in range(4):
            spores.emit_event("tick", {"n": i}, time=float(i))
    assert len(_warnings(caplog)) == 2  # one per failed write
    assert spores.get_dispatcher().events == 4 and transport.write_errors == 2 and transport.pending == 4
    full_disk[0].full = False
    transport.close_now()
    assert len(path.read_text().splitlines()) == 4 and transport.pending == 0


FULL_DISK_SCRIPT = """
import asyncio, logging
from mycorrhizal.spores import AsyncFileTransport

logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
transport = AsyncFileTransport("/dev/full", batch_size=2, flush_interval=3600)

async def main():
    for i in range(2):
        transport.send_nowait(b'{"n": 1}')  # a full batch: the writer thread fails on it
    await asyncio.wait({transport._writer})
    try:
        await transport.close()
    except OSError as error:
        print("close:", error)
    print("counted:", transport.write_errors, "pending:", transport.pending)

asyncio.run(main())
"""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a disk always full (Linux)")
def test_a_disk_that_stays_full_is_reported_by_close_and_at_exit_never_by_asyncio(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(FULL_DISK_SCRIPT))
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(script)],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "close: [Errno 28] AsyncFileTransport('/dev/full'): 2 records could not be written "
        "(No space left on device); they are kept. Fix: call flush() or close() again once the file "
        "can be written",
        "counted: 2 pending: 2",
    ]
    failures = "WARNING mycorrhizal.spores: /dev/full: writing 2 records failed"
    assert done.stderr.count(failures) == 3  # the writer thread, close(), exit: each once
    assert "ERROR mycorrhizal.spores: spores: closing" in done.stderr  # the records are lost: said so
    assert "never retrieved" not in done.stderr


@settings(max_examples=60, deadline=None)
@given(
    batch_size=st.integers(min_value=1, max_value=6),
    senders=st.lists(st.sampled_from(["send_nowait", "event line", "object line", "flush"]), max_size=40),
)
def test_records_from_every_sender_reach_the_file_once_in_order(batch_size: int, senders: list[str]) -> None:
    # spores' hot paths append to the transport's queue themselves (LineQueue) while send_nowait
    # is called: whatever the mix and the batch size, each record is written once, in order, and
    # one sent after close() is refused, not kept.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        transport = AsyncFileTransport(path, batch_size=batch_size, max_pending=batch_size * 2)
        spores.configure(transport=transport)
        dispatcher, cache = spores.get_dispatcher(), spores.get_object_cache()
        sent: list[str] = []
        for n, sender in enumerate(senders):
            if sender == "send_nowait":
                transport.send_nowait(json.dumps({"event": None, "object": {"id": f"s{n}"}}).encode())
            elif sender == "event line":
                dispatcher.event_line('"tick"', 1.0, "", "", ident=f"e{n}")
            elif sender == "object line":
                cache.see(f"o{n}", "thing", [], 1.0)
            else:
                transport._seal()  # what the flush timer does (no event loop runs here)
                continue
            sent.append(f"{sender[0]}{n}")
        transport.close_now()
        with pytest.raises(ValueError, match="is closed"):
            dispatcher.event_line('"tick"', 1.0, "", "", ident="late")
        written = [r["event"]["id"] if r["event"] else r["object"]["id"] for r in lines(path)]
        assert written == sent
        assert (transport.written, transport.pending, transport.queue) == (len(sent), 0, [])


@pytest.mark.parametrize(
    "make",
    [SyncFileTransport, AsyncFileTransport, Ocel2JsonTransport, Ocel2SqliteTransport],
    ids=["sync", "async", "ocel-json", "ocel-sqlite"],
)
def test_a_record_sent_to_a_closed_transport_is_refused_saying_what_to_do(tmp_path: Path, make: Any) -> None:
    # It said only '... is closed; records sent after close()': nothing on what to do about it.
    path = tmp_path / "log"
    spores.configure(transport=make(path))
    spores.close()
    with pytest.raises(
        ValueError,
        match=re.escape(f"{make.__name__}({str(path)!r}) is closed, and a record was sent to it")
        + r".*Fix: close it after the last record \(stop the runtimes spores.observe\(\) watches "
        r"first\), or spores.configure\(transport=\.\.\.\) a new one before logging again$",
    ):
        get_spore_sync("late").event("tick", n=1)
