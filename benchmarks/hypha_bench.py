"""Petri nets: mycorrhizal.hypha against SNAKES (fired by hand) and a bare asyncio.Queue floor.

Workloads (issue 3), all measured in one run; every figure is microseconds per firing:

* producer -> queue -> consumer: places ``source``, ``queue``, ``sink``; transition ``produce`` moves
  a token source -> queue, ``consume`` moves it queue -> sink.  50,000 tokens = 10^5 firings.
* 4-stage pipeline: ``source -> stage1 -> p1 -> stage2 -> p2 -> stage3 -> p3 -> stage4 -> sink``.
  25,000 tokens = 10^5 firings.
* backlog: a place ``queue`` holds 10 / 1,000 / 100,000 / 1,000,000 tokens; transition ``recycle``
  takes the head token (and one ``fuel`` token, which bounds the run) and puts it back at the tail,
  so the backlog stays the same size while it fires.  Cost per firing must not grow with the backlog.

How the workloads are kept equivalent: tokens are the ints 0..n-1, every firing moves one token from
its input place to its output place unchanged, and the timed region covers feeding the tokens in and
running until every token reached the sink.  mycorrhizal and the floor run one ``async`` handler per
firing (hypha: the transition's handler; floor: the same coroutine called by hand); SNAKES has no
handlers (its arcs move the token), so it pays no handler at all.
* mycorrhizal: ``runner.add_token`` for every token, then ``await runner.run_until_idle()``.
* SNAKES: fired by hand as its users do: ``modes = t.modes(); t.fire(modes[0])`` for every transition
  until none is enabled.  Its places are multisets and ``modes()`` enumerates every token of an input
  place, so the driver adds one token to ``source`` at a time and fires until quiescent: places hold
  at most one token, SNAKES' best case.  The backlog rows show what a backlog costs it.
* floor: one asyncio task per transition connected by ``asyncio.Queue``s, each doing get, await the
  handler, put: the least an asyncio program can do to move the tokens through.

Run ``python benchmarks/hypha_bench.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from _harness import (
    Row,
    Settings,
    abest_per_op,
    best_per_op,
    run_benchmark,
)

TARGET_FIRING_US = 3.0  # issue 3: <= 3 us per firing on the producer/consumer net
TARGET_GROWTH = 1.25  # "flat": a 10^6-token backlog may cost at most 25 % (timing noise) over 10 tokens

WORKLOAD_PC = "producer -> queue -> consumer"
WORKLOAD_PIPELINE = "4-stage pipeline"
FIRINGS = 100_000  # per workload, as the issue defines it
BACKLOGS = (10, 1_000, 100_000, 1_000_000)
SNAKES_BACKLOGS = (10, 1_000)  # modes() is O(backlog): 10^5 tokens would take ~0.6 s per firing


def backlog_workload(backlog: int) -> str:
    return f"backlog of {backlog:,} tokens"


def _firings(settings: Settings) -> int:
    return settings.scale(FIRINGS, 400)


def _backlogs(settings: Settings) -> tuple[int, ...]:
    return (10, 1_000) if settings.quick else BACKLOGS


def _recycle_firings(settings: Settings) -> int:
    return settings.scale(5_000, 100)  # ~12 ms bursts: short enough to find uncontended ones


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


def bench_floor(settings: Settings) -> list[Row]:
    firings = _firings(settings)

    async def pc(n: int) -> float:
        return await floor_chain(n // 2, 2)

    async def pipeline(n: int) -> float:
        return await floor_chain(n // 4, 4)

    rows = [
        Row("floor", WORKLOAD_PC, abest_per_op(pc, settings, ops=firings, self_timed=True) * 1e6, "us"),
        Row(
            "floor",
            WORKLOAD_PIPELINE,
            abest_per_op(pipeline, settings, ops=firings, self_timed=True) * 1e6,
            "us",
        ),
    ]
    ops = _recycle_firings(settings)
    for backlog in _backlogs(settings):
        queue: asyncio.Queue[int] = asyncio.Queue()
        for token in range(backlog):
            queue.put_nowait(token)

        async def recycle(n: int, queue: asyncio.Queue[int] = queue) -> None:
            for _ in range(n):
                queue.put_nowait(await handler(await queue.get()))

        per_firing = abest_per_op(recycle, settings, ops=ops)
        assert queue.qsize() == backlog
        rows.append(Row("floor", backlog_workload(backlog), per_firing * 1e6, "us"))
    return rows


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


def bench_snakes(settings: Settings) -> list[Row]:
    nets = import_snakes()
    # SNAKES runs ~40 us per firing whatever the count (its places hold one token at a time), so
    # 2,000 firings (~80 ms) per repeat time it precisely and leave room for several repeats.
    firings = settings.scale(2_000, 400)
    rows = []
    for workload, stages in ((WORKLOAD_PC, 2), (WORKLOAD_PIPELINE, 4)):

        def run(n: int, stages: int = stages) -> float:
            net, source, transitions = snakes_chain(nets, stages)
            fired = 0
            start = time.perf_counter()
            for token in range(n // stages):
                source.add(token)
                fired += fire_until_quiescent(transitions)
            elapsed = time.perf_counter() - start
            assert fired == n and len(net.place("sink").tokens) == n // stages
            return elapsed

        per_firing = best_per_op(run, settings, ops=firings, self_timed=True)
        note = f"{firings:,} firings per repeat"
        rows.append(Row("SNAKES", workload, per_firing * 1e6, "us", note=note))
    for backlog in SNAKES_BACKLOGS:
        ops = settings.scale(max(10, 200_000 // (backlog * 100)), 5)  # ~1 s per backlog at most
        net = nets.PetriNet("recycle")
        net.add_place(nets.Place("queue", range(backlog)))
        net.add_place(nets.Place("fuel", []))
        net.add_transition(nets.Transition("recycle"))
        net.add_input("queue", "recycle", nets.Variable("x"))
        net.add_input("fuel", "recycle", nets.Value(nets.dot))
        net.add_output("queue", "recycle", nets.Variable("x"))
        fuel, transitions = net.place("fuel"), [net.transition("recycle")]

        def recycle(n: int, fuel: Any = fuel, transitions: list[Any] = transitions) -> None:
            fuel.add([nets.dot] * n)
            assert fire_until_quiescent(transitions) == n

        per_firing = best_per_op(recycle, settings, ops=ops)
        assert len(net.place("queue").tokens) == backlog
        rows.append(Row("SNAKES", backlog_workload(backlog), per_firing * 1e6, "us"))
    return rows


# --- mycorrhizal.hypha ---------------------------------------------------------------------------


def hypha_chain(stages: int) -> Any:
    """``source -> t1 -> p1 -> ... -> t<stages> -> sink`` as a hypha net; each handler hands the
    token on unchanged."""
    from mycorrhizal.hypha import pn

    @pn.net
    def Chain(builder: Any) -> None:
        names = ["source", *[f"p{i}" for i in range(1, stages)], "sink"]
        places = [builder.place(name) for name in names]
        for i in range(stages):
            out = places[i + 1]

            async def hand_on(consumed: Any, bb: Any, timebase: Any, out: Any = out) -> dict[Any, Any]:
                return {out: consumed[0]}

            builder.transition(hand_on, name=f"t{i + 1}", inputs=[places[i]], outputs=[out])

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


def bench_hypha(settings: Settings) -> list[Row]:
    from mycorrhizal.hypha import Runner

    firings = _firings(settings)
    rows = []
    for workload, stages in ((WORKLOAD_PC, 2), (WORKLOAD_PIPELINE, 4)):
        net = hypha_chain(stages)

        async def run(n: int, net: Any = net, stages: int = stages) -> float:
            runner = Runner(net, None)
            runner.add_tokens("source", range(n // stages))
            start = time.perf_counter()
            await runner.run_until_idle()
            elapsed = time.perf_counter() - start
            await runner.stop()
            fired = runner.stats.firings
            assert fired == n and len(runner.tokens("sink")) == n // stages, f"{net}: {fired} firings"
            return elapsed

        per_firing = abest_per_op(run, settings, ops=firings, self_timed=True)
        target = TARGET_FIRING_US if stages == 2 else None
        rows.append(Row("mycorrhizal", workload, per_firing * 1e6, "us", target))

    ops = _recycle_firings(settings)
    net = hypha_recycle()
    for backlog in _backlogs(settings):

        async def recycle(n: int, backlog: int = backlog) -> float:
            runner = Runner(net, None)
            runner.add_tokens("queue", range(backlog))
            await runner.start()
            await runner.run_until_idle()
            # setup of a 10^6-token place takes a while: time all the bursts on the same runner
            best, done, started = float("inf"), 0, time.perf_counter()
            while settings.more(done, started):
                runner.add_tokens("fuel", [None] * n)
                start = time.perf_counter()
                await runner.run_until_idle()
                best = min(best, time.perf_counter() - start)
                done += 1
            assert len(runner.tokens("queue")) == backlog and not runner.tokens("fuel")
            await runner.stop()
            return best

        per_firing = abest_per_op(recycle, settings.single(), ops=ops, self_timed=True)
        rows.append(Row("mycorrhizal", backlog_workload(backlog), per_firing * 1e6, "us"))
    return rows


def growth_rows(rows: list[Row]) -> list[Row]:
    """Per contender: cost per firing at its largest backlog over the cost at 10 tokens (flat = 1)."""
    out = []
    for contender in dict.fromkeys(r.contender for r in rows):
        backlog = {r.workload: r.figure for r in rows if r.contender == contender and "backlog" in r.workload}
        sizes = [b for b in BACKLOGS if backlog_workload(b) in backlog]
        if len(sizes) < 2:
            continue
        low, high = backlog[backlog_workload(sizes[0])], backlog[backlog_workload(sizes[-1])]
        target = TARGET_GROWTH if contender == "mycorrhizal" else None
        workload = f"backlog growth {sizes[0]:,} -> {sizes[-1]:,}"
        out.append(Row(contender, workload, high / low, "x", target))
    return out


# --- run -----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""

    def measure(settings: Settings, first: bool) -> list[Row]:
        return [*bench_hypha(settings), *bench_snakes(settings), *bench_floor(settings)]

    def finish(rows: list[Row]) -> list[Row]:
        return rows + growth_rows(rows)

    unit = ", microseconds per firing"
    return run_benchmark(argv, __doc__, measure, name="hypha", peers=("SNAKES",), unit=unit, finish=finish)


if __name__ == "__main__":
    main()
