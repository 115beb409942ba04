"""The dispatcher: every record handed to its transport once, in order, whatever loop runs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from mycorrhizal import spores
from mycorrhizal.hypha import Runner
from mycorrhizal.spores import (
    AsyncFileTransport,
    LineQueue,
    Ocel2JsonTransport,
    SyncFileTransport,
    Transport,
    emit_event,
    emit_object,
    get_spore_async,
    get_spore_sync,
)

from .nets import Sorting


class ListTransport(Transport):
    """An async transport that really suspends in ``send``."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send(self, data: bytes, content_type: str) -> None:
        await asyncio.sleep(0)
        self.sent.append(int(json.loads(data)["event"]["attributes"][0]["value"]))

    async def close(self) -> None:
        pass


def test_a_queue_task_cancelled_before_it_ran_does_not_hold_back_later_records() -> None:
    transport = ListTransport()
    spores.configure(transport=transport)
    log = get_spore_sync("s")

    async def first_run() -> None:
        # A loop callback logs in the loop's last round: the task delivering the queue is
        # cancelled by asyncio.run before it ran, and its 'finally' never forgot it.
        asyncio.get_running_loop().call_soon(lambda: log.event("tick", n=0))

    asyncio.run(first_run())
    log.event("tick", n=1)  # no loop runs: delivered on the spot, behind the queued record
    assert transport.sent == [0, 1]

    async def second_run() -> None:
        log.event("tick", n=2)
        await spores.aclose()

    asyncio.run(second_run())
    assert transport.sent == [0, 1, 2]


@pytest.mark.parametrize("kind", ["sync", "queue", "ocel"])
def test_records_a_closed_transport_refused_are_not_counted(tmp_path: Path, kind: str) -> None:
    # The counters were raised before the hand-over: a record the transport refused (it was
    # closed) was counted as handed over, so 'emitted vs written' showed records never written.
    make = {"sync": SyncFileTransport, "queue": AsyncFileTransport, "ocel": Ocel2JsonTransport}[kind]
    transport = make(tmp_path / "log")
    spores.configure(transport=transport)
    dispatcher, cache = spores.get_dispatcher(), spores.get_object_cache()
    emit_event("tick", {"n": 0}, time=1.0)
    emit_object("thing", "o0", {"n": 0}, time=1.0)
    cache.see("o1", "thing", [("n", 1)], 1.0)
    getattr(transport, "close_now", transport.close)()  # closed under spores' feet
    for refused in [
        lambda: emit_event("tick", {"n": 1}, time=2.0),
        lambda: get_spore_sync("s").event("tick", n=2),
        lambda: emit_object("thing", "o0", {"n": 1}, time=2.0),
        lambda: cache.see("o2", "thing", [("n", 2)], 2.0),
    ]:
        with pytest.raises(ValueError, match="is closed"):
            refused()
    assert (dispatcher.events, dispatcher.objects) == (1, 2)
    if kind == "queue":  # appended to its queue by the hot paths, then refused: not left there
        assert transport.pending == 0


class FailingTransport(Transport):
    """An async transport whose every send fails (a dropped connection, say)."""

    def __init__(self) -> None:
        self.tried = 0

    async def send(self, data: bytes, content_type: str) -> None:
        self.tried += 1
        await asyncio.sleep(0)
        raise OSError("connection reset")

    async def close(self) -> None:
        pass


async def test_a_failed_async_send_from_async_code_is_logged_and_counted_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Awaited directly by async callers, the send's exception reached the caller (the decorated
    # function, the engine running it); sends queued from plain code were logged instead.
    transport = FailingTransport()
    spores.configure(transport=transport)
    log = get_spore_async("s")

    @log.log_event("worked", attributes={"n": "n"})
    async def work(n: int) -> int:
        return n

    with caplog.at_level(logging.ERROR, "mycorrhizal.spores"):
        await log.event("tick", n=0)
        await log.log_object("thing", "o1", n=1)
        assert await work(2) == 2
        get_spore_sync("s").event("tick", n=3)  # queued from plain code
        await spores.aclose()
    dispatcher = spores.get_dispatcher()
    assert transport.tried == 4
    assert dispatcher.failed == 4
    assert caplog.text.count("failed to send a record") == 4


async def test_a_plain_close_inside_a_loop_says_to_await_aclose_and_loses_nothing() -> None:
    # The refusal named the cause but gave no "Fix:"; the records it could not deliver there wait.
    transport = ListTransport()
    spores.configure(transport=transport)
    get_spore_sync("s").event("tick", n=0)
    with pytest.raises(
        RuntimeError,
        match=r"spores\.close\(\) was called inside a running event loop with records or an async "
        r"transport to await\. Fix: use 'await spores\.aclose\(\)' there$",
    ):
        spores.close()
    await spores.aclose()
    assert transport.sent == [0]


class Counting(AsyncFileTransport):
    """An AsyncFileTransport whose subclass sees every record through ``send_nowait``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, batch_size=4, flush_interval=3600)
        self.seen: list[bytes] = []

    def send_nowait(self, data: bytes, content_type: str = "application/json") -> None:
        self.seen.append(data)
        super().send_nowait(data, content_type)


class Handing:
    """A transport with ``send_nowait`` only (not a LineQueue): handed each line on its own."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def send_nowait(self, data: bytes, content_type: str) -> None:
        self.seen.append(data)

    async def send(self, data: bytes, content_type: str) -> None:
        self.send_nowait(data, content_type)

    async def close(self) -> None:
        pass


class Batching:
    """A LineQueue of its own: records appended to ``queue``, taken three at a time by ``queued``."""

    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.limit = 3
        self.batches: list[list[bytes]] = []

    def queued(self) -> None:
        self.batches.append(self.queue.copy())
        self.queue.clear()

    def send_nowait(self, data: bytes, content_type: str) -> None:
        self.queue.append(data)
        if len(self.queue) >= self.limit:
            self.queued()

    async def send(self, data: bytes, content_type: str) -> None:
        self.send_nowait(data, content_type)

    async def close(self) -> None:
        if self.queue:
            self.queued()


async def _observed_lines(transport: object) -> None:
    """Lines from each hot path: the object cache, a spore's event, an observed net's firings."""
    spores.configure(transport=transport)
    spores.get_object_cache().see("o1", "thing", [("n", 1)], 1.0)
    get_spore_sync("s").event("tick", n=1)
    runner = Runner(Sorting, {})
    spores.observe(runner)
    await runner.start()
    for i in range(2):
        runner.add_token("c", {"id": f"c{i}"})
    await runner.run_until_idle()
    await runner.stop()


def _kinds(lines: list[bytes]) -> list[str]:
    return ["event" if json.loads(line)["event"] else "object" for line in lines]


# the cache's object, the spore's event, the net object, then per firing the token and the event
EXPECTED = ["object", "event", "object", "object", "event", "object", "event"]


async def test_a_subclass_overriding_send_nowait_gets_every_line_through_it(tmp_path: Path) -> None:
    # The hot paths append to an AsyncFileTransport's queue without calling send_nowait: a
    # subclass that overrides it (to count, filter, mirror) must still see every line.
    transport = Counting(tmp_path / "log.jsonl")
    await _observed_lines(transport)
    await transport.close()
    assert _kinds(transport.seen) == EXPECTED
    assert transport.seen == (tmp_path / "log.jsonl").read_bytes().splitlines()


async def test_a_transport_with_send_nowait_only_is_handed_each_line() -> None:
    transport = Handing()
    assert not isinstance(transport, LineQueue)
    await _observed_lines(transport)
    assert _kinds(transport.seen) == EXPECTED


async def test_a_line_queue_of_ones_own_is_appended_to_and_called_at_its_limit() -> None:
    transport = Batching()
    assert isinstance(transport, LineQueue)
    await _observed_lines(transport)
    await spores.aclose()
    assert [len(batch) for batch in transport.batches] == [3, 3, 1]
    assert _kinds([line for batch in transport.batches for line in batch]) == EXPECTED
