"""Petri nets: mycorrhizal.hypha against SNAKES (fired by hand) and a bare asyncio.Queue floor.

Workloads (issues 3 and 16), every contender in the same interleaved rounds; figures are
microseconds per firing:

* producer -> queue -> consumer: places ``source``, ``queue``, ``sink``; transition ``produce`` moves
  a token source -> queue, ``consume`` moves it queue -> sink.  50,000 tokens = 10^5 firings.
* the same net with plain ``def`` handlers (mycorrhizal only: the handler kind is the only change).
* 4-stage pipeline: ``source -> stage1 -> p1 -> stage2 -> p2 -> stage3 -> p3 -> stage4 -> sink``.
  25,000 tokens = 10^5 firings.
* backlog: a place ``queue`` holds 10 / 1,000 / 100,000 / 1,000,000 tokens; transition ``recycle``
  takes the head token (and one ``fuel`` token, which bounds the run) and puts it back at the tail,
  so the backlog stays the same size while it fires (bursts of 5,000 firings on one runner).  Cost
  per firing must not grow with the backlog: the growth row divides, round by round, the cost at the
  largest backlog by the cost at 10 tokens.

How the workloads are kept equivalent: tokens are the ints 0..n-1, every firing moves one token from
its input place to its output place unchanged, and the timed region runs from a filled source place
until every token reached the sink.  mycorrhizal and the floor run one ``async`` handler per
firing (hypha: the transition's handler; floor: the same coroutine called by hand); SNAKES has no
handlers (its arcs move the token), so it pays no handler at all.
* mycorrhizal: ``runner.add_tokens("source", ...)`` untimed, then the timed
  ``await runner.run_until_idle()``.
* SNAKES: fired by hand as its users do: ``modes = t.modes(); t.fire(modes[0])`` for every transition
  until none is enabled.  Its places are multisets and ``modes()`` enumerates every token of an input
  place, so the driver adds one token to ``source`` at a time and fires until quiescent: places hold
  at most one token, SNAKES' best case.  The backlog rows show what a backlog costs it.
* floor: one asyncio task per transition connected by ``asyncio.Queue``s, each doing get, await the
  handler, put: the least an asyncio program can do to move the tokens through.

Targets: producer -> consumer <= 2.5 us per firing (issue 16, measured in the same rounds as the
floor, so under the same load); backlog growth <= 1.25x (issue 3: flat, 25 % for timing noise).

Run ``python benchmarks/hypha_bench.py`` (``--quick`` for a smoke run, ``--help`` for options).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from _harness import Case, Derived, Row, Settings, run_benchmark

TARGET_FIRING_US = 2.5  # issue 16 (issue 3 had 3 us): producer -> consumer, per firing
TARGET_GROWTH = 1.25  # "flat": a 10^6-token backlog may cost at most 25 % (timing noise) over 10 tokens

WORKLOAD_PC = "producer -> queue -> consumer"
WORKLOAD_PC_PLAIN = "producer -> consumer, plain def handlers"
WORKLOAD_PIPELINE = "4-stage pipeline"
WORKLOAD_PC_RATIO = "producer -> consumer / floor"
FIRINGS = 100_000  # per sample, as issue 3 defines the workload
BACKLOGS = (10, 1_000, 100_000, 1_000_000)
SNAKES_BACKLOGS = (10, 1_000)  # modes() is O(backlog): 10^5 tokens would take ~0.6 s per firing
MYCORRHIZAL, SNAKES, FLOOR = "mycorrhizal", "SNAKES", "floor"


def backlog_workload(backlog: int) -> str:
    return f"backlog of {backlog:,} tokens"


def _firings(settings: Settings) -> int:
    return settings.scale(FIRINGS, 400)


def _backlogs(settings: Settings) -> tuple[int, ...]:
    return SNAKES_BACKLOGS if settings.quick else BACKLOGS


def _recycle_firings(settings: Settings) -> int:
    return settings.scale(5_000, 100)


async def handler(token: int) -> int:
    """The user code of one firing in the floor: hand the token on."""
    return token


# --- floor ---------------------------------------------------------------------------------------


async def floor_chain(tokens: int, stages: int) -> float:
    """``stages`` tasks joined by asyncio.Queues; each firing is get -> await handler -> put.

    The source queue is filled before the clock starts; returns the seconds until the sink has all.
    """
    queues: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(stages + 1)]
    for token in range(tokens):
        queues[0].put_nowait(token)

    async def stage(inbox: asyncio.Queue[int], outbox: asyncio.Queue[int]) -> None:
        for _ in range(tokens):
            outbox.put_nowait(await handler(await inbox.get()))

    start = time.perf_counter()
    await asyncio.gather(*(stage(queues[i], queues[i + 1]) for i in range(stages)))
    elapsed = time.perf_counter() - start
    assert queues[-1].qsize() == tokens
    return elapsed


def floor_backlog(backlog: int, ops: int) -> Case:
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def setup() -> None:
        for token in range(backlog):
            queue.put_nowait(token)

    async def recycle(n: int) -> None:
        for _ in range(n):
            queue.put_nowait(await handler(await queue.get()))
        assert queue.qsize() == backlog

    return Case(FLOOR, backlog_workload(backlog), recycle, ops=ops, setup=setup)


def floor_cases(settings: Settings) -> list[Case]:
    async def pc(n: int) -> float:
        return await floor_chain(n // 2, 2)

    async def pipeline(n: int) -> float:
        return await floor_chain(n // 4, 4)

    firings, ops = _firings(settings), _recycle_firings(settings)
    return [
        Case(FLOOR, WORKLOAD_PC, pc, ops=firings, self_timed=True),
        Case(FLOOR, WORKLOAD_PIPELINE, pipeline, ops=firings, self_timed=True),
        *(floor_backlog(backlog, ops) for backlog in _backlogs(settings)),
    ]


# --- SNAKES --------------------------------------------------------------------------------------


def import_snakes() -> ModuleType:
    """``snakes.nets``; SNAKES imports the deprecated ``imp`` module, a warning that is not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import snakes.nets

    return snakes.nets


def snakes_chain(nets: ModuleType, stages: int) -> tuple[Any, Any, list[Any]]:
    """A SNAKES net source -> t1 -> p1 -> ... -> t<stages> -> sink; (net, source, transitions)."""
    net = nets.PetriNet(f"chain{stages}")
    places = ["source", *[f"p{i}" for i in range(1, stages)], "sink"]
    for place in places:
        net.add_place(nets.Place(place, []))
    transitions = []
    for i in range(stages):
        name = f"t{i + 1}"
        net.add_transition(nets.Transition(name))
        net.add_input(places[i], name, nets.Variable("x"))
        net.add_output(places[i + 1], name, nets.Variable("x"))
        transitions.append(net.transition(name))
    return net, net.place("source"), transitions


def fire_until_quiescent(transitions: list[Any]) -> int:
    """Hand-driven SNAKES: fire each enabled transition on its first mode until none is enabled."""
    fired = 0
    progressed = True
    while progressed:
        progressed = False
        for transition in transitions:
            modes = transition.modes()
            if modes:
                transition.fire(modes[0])
                fired += 1
                progressed = True
    return fired


def snakes_chain_case(nets: ModuleType, workload: str, stages: int, firings: int) -> Case:
    def run(n: int) -> float:
        net, source, transitions = snakes_chain(nets, stages)
        fired = 0
        start = time.perf_counter()
        for token in range(n // stages):
            source.add(token)
            fired += fire_until_quiescent(transitions)
        elapsed = time.perf_counter() - start
        assert fired == n and len(net.place("sink").tokens) == n // stages
        return elapsed

    note = f"{firings:,} firings per sample"
    return Case(SNAKES, workload, run, ops=firings, self_timed=True, note=note)


def snakes_backlog_case(nets: ModuleType, backlog: int, settings: Settings) -> Case:
    ops = settings.scale(max(10, 200_000 // (backlog * 100)), 5)
    net = nets.PetriNet("recycle")
    net.add_place(nets.Place("queue", range(backlog)))
    net.add_place(nets.Place("fuel", []))
    net.add_transition(nets.Transition("recycle"))
    net.add_input("queue", "recycle", nets.Variable("x"))
    net.add_input("fuel", "recycle", nets.Value(nets.dot))
    net.add_output("queue", "recycle", nets.Variable("x"))
    fuel, transitions = net.place("fuel"), [net.transition("recycle")]

    def recycle(n: int) -> None:
        fuel.add([nets.dot] * n)
        assert fire_until_quiescent(transitions) == n
        assert len(net.place("queue").tokens) == backlog

    return Case(SNAKES, backlog_workload(backlog), recycle, ops=ops)


def snakes_cases(settings: Settings) -> list[Case]:
    nets = import_snakes()
    # SNAKES runs ~40 us per firing whatever the count (its places hold one token at a time), so
    # 2,000 firings (~80 ms) per sample time it precisely.
    firings = settings.scale(2_000, 400)
    return [
        snakes_chain_case(nets, WORKLOAD_PC, 2, firings),
        snakes_chain_case(nets, WORKLOAD_PIPELINE, 4, firings),
        *(snakes_backlog_case(nets, backlog, settings) for backlog in SNAKES_BACKLOGS),
    ]


# --- mycorrhizal.hypha ---------------------------------------------------------------------------


def hypha_chain(stages: int, *, plain: bool = False) -> Any:
    """``source -> t1 -> p1 -> ... -> t<stages> -> sink`` as a hypha net; each handler hands the
    token on unchanged (``async def``, or with ``plain`` a plain ``def``)."""
    from mycorrhizal.hypha import pn

    @pn.net
    def Chain(builder: Any) -> None:
        names = ["source", *[f"p{i}" for i in range(1, stages)], "sink"]
        places = [builder.place(name) for name in names]
        for i in range(stages):
            out = places[i + 1]

            async def hand_on(consumed: Any, bb: Any, timebase: Any, out: Any = out) -> dict[Any, Any]:
                return {out: consumed[0]}

            def plain_hand_on(consumed: Any, bb: Any, timebase: Any, out: Any = out) -> dict[Any, Any]:
                return {out: consumed[0]}

            handler = plain_hand_on if plain else hand_on
            builder.transition(handler, name=f"t{i + 1}", inputs=[places[i]], outputs=[out])

    return Chain


def hypha_recycle() -> Any:
    """``queue`` (the backlog) + ``fuel`` -> ``recycle`` -> back to the tail of ``queue``."""
    from mycorrhizal.hypha import pn

    @pn.net
    def Recycle(builder: Any) -> None:
        queue = builder.place("queue")
        fuel = builder.place("fuel")

        @builder.transition(inputs=[queue, fuel], outputs=[queue])
        async def recycle(consumed: Any, bb: Any, timebase: Any) -> dict[Any, Any]:
            return {queue: consumed[0]}

    return Recycle


def hypha_chain_case(
    workload: str, stages: int, firings: int, target: float | None, *, plain: bool = False
) -> Case:
    from mycorrhizal.hypha import Runner

    net = hypha_chain(stages, plain=plain)

    async def run(n: int) -> float:
        runner = Runner(net, None)
        runner.add_tokens("source", range(n // stages))
        start = time.perf_counter()
        await runner.run_until_idle()
        elapsed = time.perf_counter() - start
        await runner.stop()
        fired = runner.stats.firings
        assert fired == n and len(runner.tokens("sink")) == n // stages, f"{net}: {fired} firings"
        return elapsed

    return Case(MYCORRHIZAL, workload, run, target, ops=firings, self_timed=True)


def hypha_backlog_case(net: Any, backlog: int, ops: int) -> Case:
    from mycorrhizal.hypha import Runner

    box: list[Any] = []

    async def setup() -> None:
        runner = Runner(net, None)
        runner.add_tokens("queue", range(backlog))
        await runner.start()
        await runner.run_until_idle()
        box.append(runner)

    async def recycle(n: int) -> float:
        runner = box[0]
        runner.add_tokens("fuel", [None] * n)
        start = time.perf_counter()
        await runner.run_until_idle()
        elapsed = time.perf_counter() - start
        assert len(runner.tokens("queue")) == backlog and not runner.tokens("fuel")
        return elapsed

    async def teardown() -> None:
        await box[0].stop()

    workload = backlog_workload(backlog)
    return Case(MYCORRHIZAL, workload, recycle, ops=ops, self_timed=True, setup=setup, teardown=teardown)


def hypha_cases(settings: Settings) -> list[Case]:
    firings, ops, recycle = _firings(settings), _recycle_firings(settings), hypha_recycle()
    return [
        hypha_chain_case(WORKLOAD_PC, 2, firings, TARGET_FIRING_US),
        hypha_chain_case(WORKLOAD_PC_PLAIN, 2, firings, None, plain=True),
        hypha_chain_case(WORKLOAD_PIPELINE, 4, firings, None),
        *(hypha_backlog_case(recycle, backlog, ops) for backlog in _backlogs(settings)),
    ]


# --- run -----------------------------------------------------------------------------------------


def cases(settings: Settings) -> list[Case]:
    """Every timed case, grouped by workload so the table reads contender beside contender."""
    every = [*hypha_cases(settings), *snakes_cases(settings), *floor_cases(settings)]
    order = [WORKLOAD_PC, WORKLOAD_PC_PLAIN, WORKLOAD_PIPELINE, *(backlog_workload(b) for b in BACKLOGS)]
    return sorted(every, key=lambda case: order.index(case.workload))


def derived(settings: Settings) -> list[Derived]:
    """Per contender: the cost per firing at its largest backlog over the cost at 10 tokens."""
    rows = [
        Derived(MYCORRHIZAL, WORKLOAD_PC_RATIO, (MYCORRHIZAL, WORKLOAD_PC), (FLOOR, WORKLOAD_PC), "/", "x")
    ]
    for contender, sizes in (
        (MYCORRHIZAL, _backlogs(settings)),
        (SNAKES, SNAKES_BACKLOGS),
        (FLOOR, _backlogs(settings)),
    ):
        low, high = sizes[0], sizes[-1]
        workload = f"backlog growth {low:,} -> {high:,}"
        target = TARGET_GROWTH if contender == MYCORRHIZAL else None
        left, right = (contender, backlog_workload(high)), (contender, backlog_workload(low))
        rows.append(Derived(contender, workload, left, right, "/", "x", target))
    return rows


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""
    return run_benchmark(
        argv,
        __doc__,
        name="hypha",
        peers=(SNAKES,),
        cases=cases,
        derived=derived,
        unit=", microseconds per firing",
    )


if __name__ == "__main__":
    main()
