"""The dispatcher: every record handed to its transport once, in order, whatever loop runs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from mycorrhizal import spores
from mycorrhizal.spores import (
    AsyncFileTransport,
    Ocel2JsonTransport,
    SyncFileTransport,
    Transport,
    emit_event,
    emit_object,
    get_spore_async,
    get_spore_sync,
)


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
