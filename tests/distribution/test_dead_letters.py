"""Entries that cannot be decoded, moved to their place's dead stream: once, by the worker owning them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from mycorrhizal.common import ManualClock
from mycorrhizal.distribution import Worker, reader
from mycorrhizal.distribution.dead_letters import bury

from .nets import Gated
from .test_worker import soon, until

UNDECODABLE = '{"codec":1,"value":{"$t":"nope","v":1}}'


async def test_an_entry_two_workers_move_aside_is_in_the_dead_stream_once(
    redis_url: str, redis_prefix: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A worker paused past its lease while moving an entry aside, and the worker that reclaimed the
    entry, both move it: before the fix it was in the dead stream twice (the move checked nothing)."""
    paused_moving, resume = asyncio.Event(), asyncio.Event()

    async def pausing(*args: Any) -> Any:
        if args[2] == "paused":
            paused_moving.set()
            await resume.wait()
        return await bury(*args)

    monkeypatch.setattr(reader, "bury", pausing)
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    options: dict[str, Any] = {"prefix": redis_prefix, "lease": 30, "timebase": clock}
    paused = Worker(Gated, redis_url, name="paused", **options)
    other = Worker(Gated, redis_url, name="other", **options)
    jobs, dead = paused.shared.streams["Gated.jobs"][0], paused.shared.keys.dead("Gated.jobs")
    entry = await raw.xadd(jobs, {"t": UNDECODABLE})
    with caplog.at_level(logging.INFO, logger="mycorrhizal.distribution"):
        await paused.start()
        paused._tasks[1].cancel()  # the test sweeps: the paused worker does not renew its lease
        await until(soon(paused_moving.is_set), "the first worker moves the entry aside")
        # Its lease runs out: on Redis's clock (idle times), the entry has waited longer than a lease.
        await raw.xclaim(jobs, "workers", "paused", 0, [entry], idle=31_000)
        await other.start()  # its first sweep reclaims the entry and moves it aside
        await other._reader.buried()
        assert await raw.xlen(dead) == 1
        resume.set()  # the paused worker goes on moving it
        await paused._reader.buried()
    assert await raw.xlen(dead) == 1
    assert (await raw.xlen(jobs), (await raw.xpending(jobs, "workers"))["pending"]) == (0, 0)
    (moved,) = await raw.xrange(dead)
    assert (moved[1]["t"], moved[1]["entry"]) == (UNDECODABLE, entry)
    said = [(r.levelname, r.getMessage()) for r in caplog.records if entry in r.getMessage()]
    assert [level for level, _ in said] == ["ERROR", "INFO"]
    assert said[0][1].startswith(f"worker other: entry {entry} of {jobs} cannot be decoded (")
    assert said[1][1] == (
        f"worker paused: entry {entry} of {jobs} cannot be decoded, but it is no longer this worker's "
        "(its lease ran out): the worker that took it over moves it aside"
    )
    await other.stop()
    await paused.stop()
    await raw.aclose()
