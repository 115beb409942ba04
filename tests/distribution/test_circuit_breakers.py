"""The circuit-breaker scenario (examples/distribution/circuit_breakers.py) on real worker processes:
the worker holding a tripped breaker is killed with SIGKILL, and the breaker's state and its OPEN
deadline continue on another worker, with the same outcomes as in one process."""

from __future__ import annotations

import asyncio
import runpy
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.distribution import Client

from .workers import ROOT, start_worker, started

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distribution" / "circuit_breakers.py"
TARGET = f"{EXAMPLE.relative_to(ROOT)}:CircuitBreakers"
PLACE = "CircuitBreakers.validated"


@pytest.fixture(scope="module")
def cb() -> dict[str, Any]:
    """The example's module namespace (not run as __main__)."""
    return runpy.run_path(str(EXAMPLE), run_name="circuit_breakers_example")


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def owners(client: Client) -> list[str | None]:
    """The worker holding each partition of the breakers' place (None: nobody)."""
    keys = [client.shared.keys.lease(PLACE, i) for i in range(client.shared.keyed[PLACE].partitions)]
    values = await client._client.mget(keys)
    return [None if v is None else v.split()[0] for v in values]


async def test_a_breaker_survives_the_sigkill_of_its_worker(
    cb: dict[str, Any], redis_url: str, redis_prefix: str
) -> None:
    reference = await cb["run_in_one_process"]()
    processes = [start_worker(redis_url, redis_prefix, TARGET, "--lease", "0.5") for _ in range(3)]
    try:
        names = {started(process): process for process in processes}
        async with Client(cb["CircuitBreakers"], redis_url, prefix=redis_prefix) as client:

            async def depth() -> int:
                return sum([await client.depth(place) for place in cb["OUTPUTS"]])

            async def shared_by(alive: set[str]) -> bool:
                held = await owners(client)
                return None not in held and set(held) == alive

            await until(lambda: shared_by(set(names)), "the three workers share the partitions")
            phases: list[Any] = []
            for index, (title, _, down, per_backend) in enumerate(cb["PHASES"][:3], 1):
                tokens = cb["phase_requests"](index, down, per_backend)
                expected = await depth() + len(tokens)
                await client.submit("incoming", tokens)
                await until(lambda: cb["_reached"](depth, expected), f"phase {index} is done")  # noqa: B023
                outcomes = [t for place in cb["OUTPUTS"] for t in await client.tokens(place)]
                states = {b: doc["state"] for b, doc in (await client.machines("breaker")).items()}
                phases.append(cb["phase"](title, outcomes, states, phases))
                if index == 2:  # payments tripped: kill the worker holding its breaker
                    tripped = (await client.machines("breaker"))["payments"]
                    assert tripped["state"] == "Open"
                    keyed = client.shared.keyed[PLACE]
                    part = keyed.partition_of_key("payments", client.codecs)[0]
                    victim = (await owners(client))[part]
                    assert victim is not None
                    names.pop(victim).send_signal(signal.SIGKILL)
                    await until(lambda: shared_by(set(names)), "the survivors take its partitions over")
            # The same outcomes, phase by phase, as one process: the payments breaker stayed OPEN.
            assert phases == reference[:3]
            after = (await client.machines("breaker"))["payments"]
            assert after["state"] == "Open"
            # Its deadline, written again by the new owner: the one the dead worker set (re-arming it
            # on the wall clock reads the clock again, so it may move by microseconds).
            assert after["timer"]["deadline"] == pytest.approx(tripped["timer"]["deadline"], abs=1e-3)
        for process in names.values():
            process.send_signal(signal.SIGTERM)
        for process in names.values():
            out, err = process.communicate(timeout=20)
            assert process.returncode == 0, err
    except AssertionError as failure:  # say what the workers logged
        logs = []
        for process in processes:
            if process.poll() is None:
                process.kill()
            out, err = process.communicate(timeout=10)
            logs.append(f"--- worker {process.pid} (exit {process.returncode}):\n{out[-1500:]}{err[-3000:]}")
        raise AssertionError(f"{failure}\n" + "\n".join(logs)) from failure
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            try:
                process.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError):
                pass
