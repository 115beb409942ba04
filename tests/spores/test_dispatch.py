"""The dispatcher: every record handed to its transport once, in order, whatever loop runs."""

from __future__ import annotations

import asyncio
import json

from mycorrhizal import spores
from mycorrhizal.spores import Transport, get_spore_sync


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
