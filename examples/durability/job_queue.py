"""A job queue that survives a crash mid-run: kill -9 the worker, recover, lose nothing, send nothing twice.

The net: ``jobs -> send -> sent``.  ``send`` e-mails a customer (here: appends a line to
``outbox.txt``, the outside world) and takes a few milliseconds, so several sends are in flight at
any moment.  The runner journals every committed firing to ``run.db`` (SQLite).

1. A worker process queues 40 jobs and starts sending.
2. The demo kills it with SIGKILL once some mails are out: firings in flight are lost half-way,
   some mails went out for jobs whose firing never committed.
3. ``Runner.recover`` rebuilds the last committed state from ``run.db``: every job is either sent
   (committed) or back in ``jobs``.  The recovered runner sends the rest.  The mails whose firing
   was lost are sent again (at-least-once), but the mail server recognises them by the firing's
   ``ctx.idempotency_key``, which is the same on the re-run: every customer gets exactly one mail.

Run: ``python examples/durability/job_queue.py``
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import NetBuilder, NetSpec, Runner

JOBS = 40


class MailServer:
    """The outside world: it delivers a mail once per idempotency key, and logs every attempt."""

    def __init__(self, folder: Path) -> None:
        self.outbox = folder / "outbox.txt"
        self.attempts = folder / "attempts.txt"

    def send(self, key: str, customer: str) -> None:
        with self.attempts.open("a") as log:
            log.write(f"{key}\n")
        delivered = self.outbox.read_text().split("\n") if self.outbox.exists() else []
        if not any(line.startswith(f"{key} ") for line in delivered):
            with self.outbox.open("a") as out:
                out.write(f"{key} {customer}\n")

    def mails(self) -> list[str]:
        return self.outbox.read_text().split()[1::2] if self.outbox.exists() else []

    def tries(self) -> int:
        return len(self.attempts.read_text().split()) if self.attempts.exists() else 0


def job_queue() -> NetSpec:
    """The net; its blackboard is the mail server."""
    builder = NetBuilder("Mailer")
    jobs, sent = builder.place("jobs"), builder.place("sent")

    @builder.transition(inputs=[jobs], outputs=[sent], concurrency=4)
    async def send(consumed: Any, server: MailServer, timebase: Any, ctx: Any) -> Any:
        customer = consumed[0]
        await asyncio.sleep(0.005)  # talking to the mail server
        server.send(ctx.idempotency_key, customer)
        return {sent: customer}

    return builder.build()


Mailer = job_queue()
DIAGRAMS = {"net": Mailer}  # what `mycorrhizal diagrams` draws


async def work(folder: Path) -> None:
    """The worker process: queue the jobs (first run only), then send until everything is sent."""
    async with SQLiteStore(folder / "run.db") as store:
        runner = await Runner.recover(Mailer, store, MailServer(folder), run="mailer")
        if not runner.marking().total():
            runner.add_tokens("jobs", [f"customer-{n}" for n in range(JOBS)])
            await runner.flush()
        await runner.run_until_idle()
        await runner.stop()


def crash_a_worker(folder: Path, server: MailServer) -> None:
    worker = subprocess.Popen([sys.executable, __file__, "--worker", str(folder)])
    deadline = time.monotonic() + 60
    while len(server.mails()) < JOBS // 4 and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    print(f"worker killed (SIGKILL) after {len(server.mails())} of {JOBS} mails went out")


async def recover(folder: Path, server: MailServer) -> None:
    async with SQLiteStore(folder / "run.db") as store:
        runner = await Runner.recover(Mailer, store, server, run="mailer")
        counts = runner.marking().counts()
        print(f"recovered: {counts['Mailer.sent']} sent, {counts['Mailer.jobs']} back in the queue")
        assert counts["Mailer.sent"] + counts["Mailer.jobs"] == JOBS  # every job in exactly one place
        await runner.run_until_idle()
        await runner.stop()
        print(
            f"after the recovered run: {len(runner.tokens('sent'))} sent, {len(runner.tokens('jobs'))} queued"
        )
    mails = server.mails()
    assert sorted(mails) == sorted(f"customer-{n}" for n in range(JOBS))  # each exactly once
    repeated = server.tries() - JOBS
    print(
        f"mails delivered: {len(mails)}, one per customer; {repeated} repeated attempt(s) recognised by key"
    )


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(work(Path(sys.argv[2])))
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        server = MailServer(folder)
        crash_a_worker(folder, server)
        asyncio.run(recover(folder, server))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
