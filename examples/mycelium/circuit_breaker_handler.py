"""Circuit breaker: a septum state machine inside a hypha Petri net, on one blackboard.

    Incoming requests -> [validate_request] -> [route_through_circuit_breaker (FSM)]
                                                   |           |            |
                                                success     failure     rejected

The breaker is a real state machine (CLOSED / OPEN / HALF_OPEN) living with the
``route_through_circuit_breaker`` transition: each request is delivered to it as a message and its
handlers route the request. Its OPEN timeout runs on the net's virtual clock, so OPEN -> HALF_OPEN
happens when five simulated seconds pass, with no request needed. The backend is simulated with a
seeded random generator: every run prints exactly the same thing.

Run:  python examples/mycelium/circuit_breaker_handler.py [--out DIR] [--log out/events.json]
  or: mycorrhizal demo circuit-breaker --out DIR --log out/events.json
``--log`` writes everything the run did as an object-centric event log (spores.observe): OCEL 2.0
JSON for ``.json``, OCEL 2.0 SQLite for ``.sqlite``, JSON lines for ``.jsonl``.
Watch it in the browser (pip install 'mycorrhizal[live]'):
      mycorrhizal demo circuit-breaker --serve [--speed 2] [--paused]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Awaitable, Callable
from enum import Enum, auto
from pathlib import Path
from typing import Any

import attrs

from mycorrhizal import spores
from mycorrhizal.common import ManualClock, RenderError, dot_available
from mycorrhizal.mycelium import PlaceType, PNRunner, pn
from mycorrhizal.render import render
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

OPEN_TIMEOUT = 5.0  # seconds the breaker stays OPEN before letting a probe through
PROBE_WINDOW = 5.0  # seconds HALF_OPEN waits for a probe before re-opening
ARRIVAL_GAP = 0.5  # seconds between requests when the scenario is watched live


# --------------------------------------------------------------------------- the world around it


@spores.spore.object("request")  # its OCEL object type in --log
@attrs.frozen
class Request:
    """An API request flowing through the net as a token."""

    id: str
    path: str

    def is_valid(self) -> bool:
        return self.path.startswith("/")


class BackendError(Exception):
    """The simulated backend failed a call."""


@attrs.define
class Backend:
    """A backend whose health the scenario switches; latencies and errors come from a seeded RNG."""

    seed: int = 7
    healthy: bool = True
    rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def call(self, request: Request) -> int:
        """Serve ``request``; return the latency in ms or raise BackendError."""
        if not self.healthy:
            raise BackendError(self.rng.choice(["HTTP 503", "connection reset", "upstream timeout"]))
        return self.rng.randint(8, 40)


@attrs.define
class Blackboard:
    """Everything the net, the breaker and the scenario share: one object, never copied."""

    backend: Backend
    clock: ManualClock
    failure_threshold: int = 3
    success_threshold: int = 2
    circuit: str = "CLOSED"
    failures: int = 0
    successes: int = 0
    outcomes: list[tuple[str, str]] = attrs.Factory(list)
    transitions: list[tuple[float, str, str]] = attrs.Factory(list)
    journal: list[str] = attrs.Factory(list)  # outcomes and breaker changes, in the order they happened

    def outcome(self, request: Request, what: str) -> None:
        """Record what happened to a request."""
        self.outcomes.append((request.id, what))
        self.journal.append(f"  {request.id:>7} -> {what}")

    def enter(self, state: str) -> None:
        """Record a breaker state change (called from the states' on_enter)."""
        if state != self.circuit:
            self.transitions.append((self.clock.now(), self.circuit, state))
            self.journal.append(f"          [t={self.clock.now():4.1f}s] breaker {self.circuit} -> {state}")
        self.circuit = state


def call_backend(ctx: Any) -> bool:
    """Send the delivered request to the backend and route it to success or failure."""
    bb: Blackboard = ctx.common
    request: Request = ctx.msg.token
    try:
        latency = bb.backend.call(request)
    except BackendError as err:
        bb.failures += 1
        ctx.msg.route("failure")
        bb.outcome(request, f"failure ({err})")
        return False
    ctx.msg.route("success")
    bb.outcome(request, f"success ({latency} ms)")
    return True


# --------------------------------------------------------------------------- the breaker (FSM)


@septum.state(config=StateConfiguration(can_dwell=True))
def CircuitBreakerClosed():
    """Normal operation - requests allowed"""

    class Events(Enum):
        TRIP = auto()

    @septum.on_enter
    def on_enter(ctx):
        ctx.common.enter("CLOSED")
        ctx.common.failures = 0

    @septum.on_state
    def on_state(ctx):
        if ctx.msg is None:
            return None
        call_backend(ctx)
        if ctx.common.failures >= ctx.common.failure_threshold:
            return Events.TRIP
        return None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.TRIP, CircuitBreakerOpen)]


@septum.state(config=StateConfiguration(timeout=OPEN_TIMEOUT))
def CircuitBreakerOpen():
    """Circuit open - requests rejected"""

    class Events(Enum):
        PROBE = auto()

    @septum.on_enter
    def on_enter(ctx):
        ctx.common.enter("OPEN")

    @septum.on_state
    def on_state(ctx):
        if ctx.msg is not None:
            ctx.msg.reject("circuit open")
            ctx.common.outcome(ctx.msg.token, "rejected (circuit open)")

    @septum.on_timeout
    def on_timeout(ctx):
        return Events.PROBE

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.PROBE, CircuitBreakerHalfOpen)]


@septum.state(config=StateConfiguration(timeout=PROBE_WINDOW))
def CircuitBreakerHalfOpen():
    """Testing recovery - limited requests"""

    class Events(Enum):
        RECOVERED = auto()
        STILL_FAILING = auto()

    @septum.on_enter
    def on_enter(ctx):
        ctx.common.enter("HALF_OPEN")
        ctx.common.successes = 0

    @septum.on_state
    def on_state(ctx):
        if ctx.msg is None:
            return None
        if not call_backend(ctx):
            return Events.STILL_FAILING
        ctx.common.successes += 1
        if ctx.common.successes >= ctx.common.success_threshold:
            return Events.RECOVERED
        return None

    @septum.on_timeout
    def on_timeout(ctx):
        return Events.STILL_FAILING  # no probe proved recovery in time: stay protective

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.RECOVERED, CircuitBreakerClosed),
            LabeledTransition(Events.STILL_FAILING, CircuitBreakerOpen),
        ]


# --------------------------------------------------------------------------- the net (orchestration)


@pn.net
def CircuitBreakerOrchestrator(builder):
    input_queue = builder.place("input_queue", type=PlaceType.QUEUE)
    validated = builder.place("validated", type=PlaceType.QUEUE)
    invalid = builder.place("invalid")
    success = builder.place("success")
    failure = builder.place("failure")
    rejected = builder.place("rejected")

    @builder.transition(inputs=[input_queue], outputs=[validated, invalid])
    async def validate_request(consumed, bb, timebase):
        request = consumed.token
        if request.is_valid():
            return {validated: request}
        bb.outcome(request, f"invalid (path {request.path!r})")
        return {invalid: request}

    @builder.transition(
        fsm=CircuitBreakerClosed, inputs=[validated], outputs=[success, failure], rejected=rejected
    )
    async def route_through_circuit_breaker(consumed, bb, timebase):
        pass  # the breaker machine routes every request


DIAGRAMS = {"net": CircuitBreakerOrchestrator}


# --------------------------------------------------------------------------- the scenario


@attrs.frozen
class Phase:
    """One phase of the scenario: what was sent, what came out, and the breaker state after it."""

    title: str
    outcomes: tuple[tuple[str, str], ...]
    circuit: str


@attrs.frozen
class Report:
    """Everything the scenario observed, for printing and for tests."""

    phases: tuple[Phase, ...]
    transitions: tuple[tuple[float, str, str], ...]
    counts: dict[str, int]


PHASES: list[tuple[str, bool, float, list[Request]]] = [
    # (title, backend healthy?, virtual seconds to let pass first, requests)
    (
        "Phase 1: normal operation (CLOSED)",
        True,
        0.0,
        [
            Request("req-1", "/users"),
            Request("req-2", "/orders"),
            Request("req-x", "orders"),
            Request("req-3", "/users/42"),
        ],
    ),
    (
        "Phase 2: service degradation",
        False,
        1.0,
        [Request("req-4", "/orders"), Request("req-5", "/orders"), Request("req-6", "/users")],
    ),
    ("Phase 3: circuit OPEN", False, 1.0, [Request("req-7", "/users"), Request("req-8", "/orders")]),
    ("Phase 4: recovery testing", False, OPEN_TIMEOUT, [Request("req-7", "/users")]),
    ("Phase 5: final state", False, 0.5, [Request("req-9", "/users"), Request("req-10", "/orders")]),
]


@attrs.define
class World:
    """The scenario's clock, blackboard and net runner."""

    clock: ManualClock
    bb: Blackboard
    runner: Any


def build(seed: int = 7) -> World:
    """A fresh world: a virtual clock, a blackboard over a seeded backend, and the net's runner."""
    clock = ManualClock()
    bb = Blackboard(backend=Backend(seed), clock=clock)
    return World(clock, bb, PNRunner(CircuitBreakerOrchestrator, bb, clock))


async def drive(
    world: World, elapse: Callable[[float], Awaitable[Any]], *, gap: float = 0.0, quiet: bool = False
) -> Report:
    """Play the five phases; ``elapse(dt)`` lets virtual time pass, ``gap`` spaces the requests."""
    bb, runner = world.bb, world.runner
    phases = []
    for title, healthy, wait, requests in PHASES:
        if not quiet:
            print(f"\n{title}", flush=True)
        noted = len(bb.journal)
        await elapse(wait)  # the breaker's own timers fire here, with no request needed
        bb.backend.healthy = healthy
        seen = len(bb.outcomes)
        if gap:  # one request at a time, so a watcher sees each go through
            for request in requests:
                runner.add_token("input_queue", request)
                await runner.run_until_idle()
                await elapse(gap)
        else:
            runner.add_tokens("input_queue", requests)
            await runner.run_until_idle()
        outcomes = tuple(bb.outcomes[seen:])
        if not quiet:
            print("\n".join(bb.journal[noted:]))
            print(f"  circuit is {bb.circuit}", flush=True)
        phases.append(Phase(title, outcomes, bb.circuit))
    counts = {place: len(runner.tokens(place)) for place in ("success", "failure", "rejected", "invalid")}
    return Report(tuple(phases), tuple(bb.transitions), counts)


async def run_scenario(*, seed: int = 7, quiet: bool = False, log: Path | None = None) -> Report:
    """Drive the five phases on a virtual clock and return what happened (logged into ``log``)."""
    world = build(seed)
    if log is not None:
        spores.configure(transport=spores.transport_for(log))
        spores.observe(world.runner)
    await world.runner.start()
    report = await drive(world, world.clock.run_for, quiet=quiet)
    await world.runner.stop()
    if log is not None:
        await spores.aclose()  # writes the whole log and closes the file
        events = spores.get_dispatcher().events
        spores.configure()  # logging off again: nothing else in this process writes to the closed file
        if not quiet:
            print(f"\nwrote {events} events to {log}")
    return report


async def watch_scenario(
    *, speed: float = 1.0, paused: bool = False, host: str = "127.0.0.1", port: int = 8000
) -> Report:
    """The scenario with its live view open, paced at ``speed``; the view stays open until Ctrl-C."""
    from mycorrhizal.live import LiveView  # the optional extra: mycorrhizal[live]

    world = build()
    view = LiveView(world.runner, clock=world.clock, speed=speed, paused=paused, host=host, port=port)
    async with view:
        print(f"live view: {view.url}  (Ctrl-C to stop)", flush=True)
        await world.runner.start()
        # The view moves the clock now: sleeping on it lets virtual time pass at the chosen pace.
        report = await drive(world, world.clock.sleep, gap=ARRIVAL_GAP)
        print("\nscenario finished; the view stays open until Ctrl-C", flush=True)
        try:
            await view.wait_closed()
        finally:
            await world.runner.stop()
    return report


def write_pictures(out: Path) -> list[Path]:
    """Draw the composed net (the breaker machine as a cluster beside its transition)."""
    fmt = "svg" if dot_available() else "dot"
    return [render(CircuitBreakerOrchestrator, out / f"circuit_breaker.{fmt}", format=fmt)]


def _log_path(text: str) -> Path:
    if not text.lower().endswith(spores.LOG_SUFFIXES):
        raise argparse.ArgumentTypeError(f"{text!r}: end the file name with .json, .sqlite or .jsonl")
    return Path(text)


def _speed(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1e6:  # the live view's pace, mycorrhizal.live.pacer.MAX_SPEED at most
        raise ValueError(text)
    return value


def main(argv: list[str] | None = None) -> Report | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="write the net's picture into this folder")
    parser.add_argument("--log", type=_log_path, help="write the run's event log (.json, .sqlite, .jsonl)")
    parser.add_argument("--serve", action="store_true", help="watch it run in the browser (live view)")
    parser.add_argument("--speed", type=_speed, default=1.0, help="virtual seconds per real second")
    parser.add_argument("--paused", action="store_true", help="start paused (use the page's Step)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the view (default: this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port of the live view (0: any free one)")
    args = parser.parse_args(argv)
    print("Circuit breaker: septum FSM inside a hypha Petri net (virtual clock, seeded backend)")
    if args.serve:
        try:
            return asyncio.run(
                watch_scenario(speed=args.speed, paused=args.paused, host=args.host, port=args.port)
            )
        except KeyboardInterrupt:
            print("live view closed")
            return None
    report = asyncio.run(run_scenario(log=args.log))
    print("\nBreaker transitions:")
    for at, before, after in report.transitions:
        print(f"  t={at:4.1f}s  {before} -> {after}")
    print("\nFinal counts: " + ", ".join(f"{place}={n}" for place, n in report.counts.items()))
    if args.out is not None:
        try:
            for path in write_pictures(args.out):
                print(f"wrote {path}")
        except RenderError as err:
            print(f"could not draw the net: {err}")
    return report


if __name__ == "__main__":
    main()
