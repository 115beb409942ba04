"""A worker's reader (and sweep) while Redis is down: what they log (their retries themselves are in
test_worker.py)."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import pytest

from mycorrhizal.common import ManualClock, StoreError
from mycorrhizal.distribution import Worker

from .. import redis_server
from .nets import Gated
from .test_worker import soon, until


class Calls:
    """Wraps ``owner.name`` (an async method): counts the calls that failed and those that worked."""

    def __init__(self, owner: Any, name: str) -> None:
        self.call, self.failed, self.worked = getattr(owner, name), 0, 0
        setattr(owner, name, self)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            reply = await self.call(*args, **kwargs)
        except Exception:
            self.failed += 1
            raise
        self.worked += 1
        return reply


def said(caplog: pytest.LogCaptureFixture, what: str) -> list[tuple[str, str]]:
    """(level, message) of what the worker logged about ``what`` (before the fix: "reading", "sweep")."""
    return [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.getMessage().startswith(f"worker w1: {what}")
    ]


@pytest.mark.parametrize(
    ("loop", "what", "retry"),
    [
        ("reader", "reading tokens from Redis", "0.05"),
        ("sweep", "sweeping Redis (leases, heartbeat)", "0.067"),
    ],
)
async def test_an_outage_is_logged_once_then_at_most_every_minute_and_its_end_once(
    caplog: pytest.LogCaptureFixture, clock: ManualClock, loop: str, what: str, retry: str
) -> None:
    """Before the fix the reader logged a WARNING at every retry (its sweep at every sweep), for as long
    as the outage lasted, and nothing when Redis was back."""
    server = redis_server.start()
    worker = Worker(Gated, server.url, prefix="outage", lease=0.2, name="w1", timebase=clock)
    try:
        with caplog.at_level(logging.INFO, logger="mycorrhizal.distribution"):
            await worker.start()
            calls = Calls(worker._client, "xreadgroup") if loop == "reader" else Calls(worker, "_sweep_once")
            server.stop()
            await until(soon(lambda: calls.failed >= 5), f"the {loop} retried a few times")
            first = said(caplog, what.split()[0][:5])  # (main said "reading failed", "sweep failed")
            assert [level for level, _ in first] == ["WARNING"]
            assert re.fullmatch(
                rf"worker w1: {re.escape(what)} failed \(.*\); retrying every {retry} s \(said again "
                r"every 60 s while it fails\)",
                first[0][1],
            )
            clock.advance(59.0)
            failed = calls.failed
            await until(soon(lambda: calls.failed >= failed + 3), f"the {loop} retried again")
            assert said(caplog, what) == first  # not a minute yet
            clock.advance(1.0)
            failed = calls.failed
            await until(soon(lambda: calls.failed >= failed + 3), f"the {loop} retried again")
            assert [level for level, _ in said(caplog, what)] == ["WARNING", "WARNING"]
            assert re.fullmatch(
                rf"worker w1: {re.escape(what)} still fails after 60 s \(\d+ failed attempts; the last: "
                r".*\); retrying",
                said(caplog, what)[1][1],
            )
            server = redis_server.start(server.port)  # Redis is back
            await until(soon(lambda: calls.worked >= 1), f"the {loop} works again")
            (level, back) = said(caplog, what)[2]
            assert level == "INFO" and re.fullmatch(
                rf"worker w1: {re.escape(what)} works again after 60 s \(\d+ failed attempts\)", back
            )
            assert len(said(caplog, what)) == 3
    finally:
        with contextlib.suppress(StoreError):  # (Redis still down: a failed test)
            await worker.stop(timeout=0)
        server.stop()
