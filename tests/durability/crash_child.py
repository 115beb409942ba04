"""The process the crash tests kill: appends records to an SQLiteStore until it is killed.

It writes the sequence number it knows to be durable (``flush()`` returned) to an acknowledgement
file after each flush, with one ``os.write`` per line, so that whatever the kill interrupts, the file
holds only complete lines of what really was acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import random
from multiprocessing.synchronize import Event

from .conftest import document, payload
from .crashes import random_store

RUN = "crash"


def main(path: str, acks: str, seed: int, ready: Event) -> None:
    """Entry point of a child process (run by the forkserver, which already imported this module)."""
    asyncio.run(_append_forever(path, acks, random.Random(seed), ready))


async def _append_forever(path: str, acks: str, rng: random.Random, ready: Event) -> None:
    store = random_store(path, rng)
    journal = await store.open_journal(RUN)
    fd = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    ready.set()
    while True:
        for _ in range(rng.randint(1, 300)):
            journal.append("fire", payload(journal.last_seq + 1))
            if rng.random() < 0.005:
                journal.snapshot(document(journal.last_seq))
        if rng.random() < 0.3:
            await journal.flush()
            os.write(fd, b"%d\n" % journal.durable_seq)
        await asyncio.sleep(0)
