"""A circuit breaker per backend, run by several workers sharing the net in Redis; one of them dies.

    incoming -> [validate] -> validated (keyed by backend) -> [breaker: one machine per backend]
                     |                                          |        |         |
                  invalid                                    success  failure  rejected

Each backend (users, orders, payments, search) has its own breaker machine (CLOSED / OPEN /
HALF_OPEN).  The ``validated`` place is keyed by backend, so each breaker lives on one worker at a
time; its state is written to Redis with every request it handles, and when its worker dies the
worker that takes its partition over restores it, with its OPEN timeout at the original deadline.
The scenario plays five phases twice: in one process (the reference), and on three workers, one of
which is killed (its connection cut, nothing handed back) while the payments breaker it holds is OPEN.  Both
runs print the same outcome, phase by phase.  Time is virtual (a ManualClock shared by the workers
in this process); real workers use the wall clock:

    mycorrhizal worker examples/distribution/circuit_breakers.py:CircuitBreakers --redis URL
    mycorrhizal submit examples/distribution/circuit_breakers.py:CircuitBreakers incoming \\
        '{"id": "r1", "backend": "users", "path": "/users", "healthy": true}'
    mycorrhizal inspect examples/distribution/circuit_breakers.py:CircuitBreakers --redis URL

Run:  python examples/distribution/circuit_breakers.py   (Redis at $REDIS_URL, default
redis://127.0.0.1:6379/0; the keys it writes are deleted at the end)
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from enum import Enum, auto
from typing import Any

from mycorrhizal.common import ManualClock
from mycorrhizal.distribution import Client, Worker
from mycorrhizal.mycelium import PNRunner, pn
from mycorrhizal.septum import LabeledTransition, Retry, StateConfiguration, septum

OPEN_TIMEOUT = 30.0  # seconds a breaker stays OPEN before it lets a probe through
PROBE_WINDOW = 30.0  # seconds HALF_OPEN waits for probes before it opens again
FAILURES_TO_TRIP = 3  # failures in CLOSED that open the breaker
SUCCESSES_TO_CLOSE = 2  # successful probes in HALF_OPEN that close it
BACKENDS = ("users", "orders", "payments", "search")


def call_backend(ctx: Any) -> bool:
    """Send the request to its (simulated) backend: route it to success or failure.

    The scenario decides each backend's health when it sends a request (``healthy``); the latency is
    a function of the request, so every worker computes the same outcome."""
    request = ctx.msg.token
    if not request["healthy"]:
        ctx.msg.route("failure", produce=(request["id"], request["backend"], "failure (HTTP 503)"))
        return False
    latency = 8 + zlib.crc32(request["id"].encode()) % 33
    ctx.msg.route("success", produce=(request["id"], request["backend"], f"success ({latency} ms)"))
    return True


# The breaker keeps everything it must remember in the machine (its state and its retry count), not
# on the blackboard: each worker has its own blackboard, but the machine moves between workers.
@septum.state(config=StateConfiguration(can_dwell=True, retries=FAILURES_TO_TRIP - 1))
def Closed() -> Any:
    """Requests go through; each failure is counted as a retry, and the last one trips the breaker."""

    class Events(Enum):
        FAILED = auto()
        TRIP = auto()

    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if ctx.msg is not None and not call_backend(ctx):
            return Events.FAILED  # one more failure: Retry counts it in ctx.retry_count
        return None

    @septum.on_fail
    def on_fail(ctx: Any) -> Any:
        return Events.TRIP  # a failure with the budget spent

    @septum.transitions
    def transitions() -> list[LabeledTransition]:
        return [LabeledTransition(Events.FAILED, Retry), LabeledTransition(Events.TRIP, Open)]


@septum.state(config=StateConfiguration(timeout=OPEN_TIMEOUT))
def Open() -> Any:
    """Requests are rejected until the timeout lets a probe through."""

    class Events(Enum):
        PROBE = auto()

    @septum.on_state
    def on_state(ctx: Any) -> None:
        if ctx.msg is not None:
            request = ctx.msg.token
            ctx.msg.route("rejected", produce=(request["id"], request["backend"], "rejected (circuit open)"))

    @septum.on_timeout
    def on_timeout(ctx: Any) -> Any:
        return Events.PROBE

    @septum.transitions
    def transitions() -> list[LabeledTransition]:
        return [LabeledTransition(Events.PROBE, HalfOpen)]


@septum.state(config=StateConfiguration(timeout=PROBE_WINDOW, retries=SUCCESSES_TO_CLOSE - 1))
def HalfOpen() -> Any:
    """Requests are probes: enough successes close the breaker, one failure opens it again."""

    class Events(Enum):
        PASSED = auto()
        RECOVERED = auto()
        STILL_FAILING = auto()

    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if ctx.msg is None:
            return None
        return Events.PASSED if call_backend(ctx) else Events.STILL_FAILING

    @septum.on_fail
    def on_fail(ctx: Any) -> Any:
        return Events.RECOVERED  # a success with the budget spent: enough of them

    @septum.on_timeout
    def on_timeout(ctx: Any) -> Any:
        return Events.STILL_FAILING

    @septum.transitions
    def transitions() -> list[LabeledTransition]:
        return [
            LabeledTransition(Events.PASSED, Retry),
            LabeledTransition(Events.RECOVERED, Closed),
            LabeledTransition(Events.STILL_FAILING, Open),
        ]


@pn.net
def CircuitBreakers(builder: Any) -> None:
    """incoming -> validate -> validated -> breaker (per backend) -> success / failure / rejected."""
    incoming = builder.place("incoming")
    validated = builder.place("validated")
    invalid = builder.place("invalid")
    success, failure, rejected = builder.place("success"), builder.place("failure"), builder.place("rejected")

    @builder.transition(inputs=[incoming], outputs=[validated, invalid])
    async def validate(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        request = consumed[0]
        if request["path"].startswith("/"):
            return {validated: request}
        return {invalid: (request["id"], request["backend"], f"invalid (path {request['path']!r})")}

    @builder.transition(
        fsm=Closed,
        fsm_key=lambda request: request["backend"],
        inputs=[validated],
        outputs=[success, failure, rejected],
    )
    async def breaker(consumed: Any, bb: Any, timebase: Any) -> None:
        pass  # the backend's breaker routes every request


DIAGRAMS = {"net": CircuitBreakers}


def request(number: int, backend: str, healthy: bool, path: str | None = None) -> dict[str, Any]:
    """A request token (plain JSON: it travels through Redis as it is)."""
    return {"id": f"req-{number}", "backend": backend, "path": path or f"/{backend}", "healthy": healthy}


# (title, virtual seconds to let pass first, the backends down in this phase, requests per backend)
PHASES: list[tuple[str, float, set[str], int]] = [
    ("Phase 1: every backend healthy", 0.0, set(), 2),
    ("Phase 2: payments and search fail", 1.0, {"payments", "search"}, 3),
    ("Phase 3: their breakers are OPEN", 1.0, {"payments", "search"}, 2),
    # 30.5 s after they tripped: their OPEN timeouts have passed (they would not have if a restore
    # had started them again)
    ("Phase 4: after the OPEN timeout, payments is back", OPEN_TIMEOUT - 0.5, {"search"}, 2),
    ("Phase 5: final state", 1.0, {"search"}, 1),
]
OUTPUTS = ("success", "failure", "rejected", "invalid")

Phase = tuple[str, dict[str, str], dict[str, str]]  # (title, request id -> outcome, backend -> state)


def phase_requests(index: int, down: set[str], per_backend: int) -> list[dict[str, Any]]:
    """The requests of phase ``index``: ``per_backend`` per backend, and one with a bad path."""
    numbers = iter(range(100 * index, 100 * index + 100))
    tokens = [request(next(numbers), b, b not in down) for _ in range(per_backend) for b in BACKENDS]
    return [*tokens, request(next(numbers), "users", True, path="users")]


async def run_in_one_process() -> list[Phase]:
    """The reference: the same net in one plain runner, on a virtual clock."""
    clock = ManualClock()
    runner = PNRunner(CircuitBreakers, None, clock)
    await runner.start()
    phases: list[Phase] = []
    for index, (title, wait, down, per_backend) in enumerate(PHASES, 1):
        await clock.run_for(wait)  # the breakers' own timeouts fire here, with no request needed
        runner.add_tokens("incoming", phase_requests(index, down, per_backend))
        await runner.run_until_idle()
        machines = runner.memory("breaker")["machine pool"].living
        states = {backend: fsm.snapshot(blackboard=False)["state"] for backend, fsm in machines.items()}
        phases.append(phase(title, [t for place in OUTPUTS for t in runner.tokens(place)], states, phases))
    await runner.stop()
    return phases


def phase(title: str, outcomes: list[Any], states: dict[Any, Any], earlier: list[Phase]) -> Phase:
    """What phase ``title`` added to ``outcomes`` (every outcome so far), and the breakers' states."""
    seen = {rid for _, done, _ in earlier for rid in done}
    new = {rid: f"{backend}: {what}" for rid, backend, what in outcomes if rid not in seen}
    return title, new, dict(sorted(states.items()))


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    """Wait (real time: leases are measured by Redis) until ``condition()`` is true."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not finish the phase in time")
        await asyncio.sleep(0.01)


async def run_on_workers(url: str, prefix: str, *, kill_after: int = 3) -> list[Phase]:
    """The scenario on three workers sharing a virtual clock; after phase ``kill_after`` the worker
    holding the payments breaker dies."""
    clock = ManualClock()
    workers = [Worker(CircuitBreakers, url, prefix=prefix, lease=0.5, timebase=clock) for _ in range(3)]
    for worker in workers:
        await worker.start()
    phases: list[Phase] = []
    async with Client(CircuitBreakers, url, prefix=prefix) as client:

        async def depth() -> int:
            return sum([await client.depth(place) for place in OUTPUTS])

        async def balanced() -> bool:
            return sum(len(w.partitions) for w in workers) == 16  # each taken over by one of them

        await until(balanced)
        for index, (title, wait, down, per_backend) in enumerate(PHASES, 1):
            await clock.run_for(wait)  # the breakers' timeouts fire on the workers that hold them
            tokens = phase_requests(index, down, per_backend)
            expected = await depth() + len(tokens)
            await client.submit("incoming", tokens)
            await until(lambda: _reached(depth, expected))  # noqa: B023 (called before the next round)
            outcomes = [t for place in OUTPUTS for t in await client.tokens(place)]
            states = {backend: doc["state"] for backend, doc in (await client.machines("breaker")).items()}
            phases.append(phase(title, outcomes, states, phases))
            if index == kill_after:
                victim = holder(workers, "payments")
                await victim.abort()  # as if its process were killed
                workers.remove(victim)
                print(f"(after phase {index}: killed {victim.name}, which held the payments breaker)")
                await until(balanced)
        for worker in workers:
            await worker.stop()
        await client.clear()
    return phases


def holder(workers: list[Worker], backend: str) -> Worker:
    """The worker holding the partition of ``backend``'s breaker."""
    keyed = workers[0].shared.keyed["CircuitBreakers.validated"]
    part = (keyed.place, keyed.partition_of_key(backend, workers[0].codecs)[0])
    return next(w for w in workers if part in w.partitions)


async def _reached(depth: Callable[[], Awaitable[int]], count: int) -> bool:
    return await depth() >= count


def show(phases: list[Phase]) -> None:
    for title, outcomes, states in phases:
        print(f"\n{title}")
        for rid in sorted(outcomes, key=lambda r: int(r.split("-")[1])):
            print(f"  {rid:>8}  {outcomes[rid]}")
        print("  breakers: " + ", ".join(f"{backend} {state}" for backend, state in states.items()))


async def main() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    reference = await run_in_one_process()
    distributed = await run_on_workers(url, f"example-{uuid.uuid4().hex[:8]}")
    show(distributed)
    same = distributed == reference
    print(f"\nthree workers, one killed after phase 3: the same outcome as one process: {same}")
    if not same:
        raise SystemExit("the distributed run differs from the single-process one")


if __name__ == "__main__":
    asyncio.run(main())
