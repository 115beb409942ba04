"""Invariants on random nets: with random handler failures, no token is ever lost or duplicated."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import Backoff, FailedToken, NetBuilder, OnError, Runner
from mycorrhizal.hypha.scheduler import _enabled

FAILURE_RATE = 0.3
ROUNDS = 60


@attrs.frozen
class TransitionShape:
    inputs: tuple[tuple[int, int], ...]  # (place, weight)
    outputs: tuple[tuple[int, int], ...]
    to_error_place: bool
    suspends: bool
    priority: int
    guarded: bool


@attrs.frozen
class NetShape:
    capacities: tuple[int | None, ...]
    initial: tuple[int, ...]
    transitions: tuple[TransitionShape, ...]
    fuel: int


@st.composite
def net_shapes(draw: Any) -> NetShape:
    places = draw(st.integers(2, 5))
    arc = st.tuples(st.integers(0, places - 1), st.integers(1, 2))
    drawn = []
    for _ in range(draw(st.integers(1, 5))):
        inputs = draw(st.lists(arc, min_size=1, max_size=2, unique_by=lambda a: a[0]))
        outputs = draw(st.lists(arc, max_size=3, unique_by=lambda a: a[0]))
        drawn.append((inputs, outputs))
    # Keep the net busy enough to fire thousands of times: tokens only go to places some
    # transition consumes from, and a firing produces at least as many tokens as it consumed
    # (besides its fuel).  Which places, how many, and whether it fails stay random.
    consumed = sorted({p for inputs, _ in drawn for p, _ in inputs})
    transitions = []
    for inputs, outputs in drawn:
        merged: dict[int, int] = {}
        for p, w in outputs:
            target = consumed[p % len(consumed)]
            merged[target] = merged.get(target, 0) + w
        deficit = sum(w for _, w in inputs) - sum(merged.values())
        if deficit > 0:
            target = consumed[draw(st.integers(0, len(consumed) - 1))]
            merged[target] = merged.get(target, 0) + deficit
        transitions.append(
            TransitionShape(
                inputs=tuple(inputs),
                outputs=tuple(merged.items()),
                to_error_place=draw(st.booleans()),
                suspends=draw(st.booleans()),
                priority=draw(st.integers(0, 1)),
                guarded=draw(st.booleans()),
            )
        )
    # A bounded place holds at least the weight of every arc at it (a heavier arc is a definition error).
    need = [
        max([w for t in transitions for q, w in (*t.inputs, *t.outputs) if q == i], default=1)
        for i in range(places)
    ]
    capacities = tuple(draw(st.one_of(st.none(), st.integers(max(3, n), max(8, n)))) for n in need)
    initial = tuple(min(draw(st.integers(2, 6)), cap if cap is not None else 6) for cap in capacities)
    return NetShape(capacities, initial, tuple(transitions), draw(st.integers(200, 500)))


def build(shape: NetShape, rng: random.Random, ids: Any) -> Any:
    """The net: every transition also takes one 'fuel' token, so a run always ends."""
    builder = NetBuilder("Random")
    places = [
        builder.place(f"p{i}", capacity=cap, initial=[next(ids) for _ in range(n)])
        for i, (cap, n) in enumerate(zip(shape.capacities, shape.initial, strict=True))
    ]
    fuel = builder.place("fuel", initial=[next(ids) for _ in range(shape.fuel)])
    errors = builder.place("errors")
    for number, t in enumerate(shape.transitions):
        outputs = [(places[p], w) for p, w in t.outputs]

        async def handler(consumed: Any, bb: Any, timebase: Any, outputs: Any = outputs, t: Any = t) -> Any:
            if t.suspends:
                await asyncio.sleep(0)
            if rng.random() < FAILURE_RATE:
                raise RuntimeError("random failure")
            return {place: [next(ids) for _ in range(w)] for place, w in outputs}

        builder.transition(
            name=f"t{number}",
            inputs=[(places[p], w) for p, w in t.inputs] + [fuel],
            outputs=outputs,
            on_error=errors if t.to_error_place else OnError.RETURN,
            priority=t.priority,
            guard=(lambda consumed: sum(consumed) % 3 != 0) if t.guarded else None,
            concurrency=rng.choice([1, 4]),
            retry_delay=1.0,
        )(handler)
    return builder.build()


def delta(t: TransitionShape) -> int:
    return sum(w for _, w in t.outputs) - sum(w for _, w in t.inputs) - 1  # -1: the fuel token


def check_conserved(shape: NetShape, runner: Runner, initial_total: int) -> None:
    """Exactly the tokens conservation predicts, each once, and no bounded place over capacity."""
    fired = runner.fired()
    expected = initial_total + sum(fired[f"Random.t{i}"] * delta(t) for i, t in enumerate(shape.transitions))
    marking = runner.marking()
    assert marking.total() == expected
    # and every token is there exactly once (failed ones wrapped, with their exception)
    seen = [tok.token if isinstance(tok, FailedToken) else tok for toks in marking.values() for tok in toks]
    assert len(seen) == len(set(seen))
    assert all(isinstance(tok.error, RuntimeError) for tok in marking["errors"])
    assert len(marking["errors"]) == runner.stats.parked
    for i, cap in enumerate(shape.capacities):
        assert cap is None or len(marking[f"p{i}"]) <= cap
    assert runner.in_flight == 0


def feed(shape: NetShape, runner: Runner, ids: Any) -> int:
    """One token into every place that has room, as an environment would; returns how many."""
    added = 0
    for i, cap in enumerate(shape.capacities):
        if cap is None or len(runner.tokens(f"p{i}")) < cap:
            runner.add_token(f"p{i}", next(ids))
            added += 1
    return added


def test_tokens_are_conserved_under_random_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="mycorrhizal.hypha")  # thousands of expected failures
    firings: list[int] = []
    failures: list[int] = []

    @settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(shape=net_shapes(), seed=st.integers(0, 2**32 - 1))
    def check(shape: NetShape, seed: int) -> None:
        ids = itertools.count()
        net = build(shape, random.Random(seed), ids)
        initial_total = sum(shape.initial) + shape.fuel
        clock = ManualClock()
        runner = Runner(net, {}, clock)

        added = 0

        async def run() -> None:
            # A failed firing is retried after its retry delay (or when a new token arrives); each
            # round moves virtual time past the delay and feeds one token into every place that
            # has room, as an environment would, until the fuel is gone.
            nonlocal added
            await runner.run_until_idle()
            for _ in range(ROUNDS):
                if not runner.tokens("fuel"):
                    break
                added += feed(shape, runner, ids)
                clock.advance(1.0)
                await runner.run_until_idle()
            await runner.stop()

        asyncio.run(run())
        check_conserved(shape, runner, initial_total + added)
        firings.append(runner.stats.firings)
        failures.append(runner.stats.failures)

    check()
    assert sum(firings) >= 10_000, (sum(firings), firings)
    assert sum(failures) >= 0.2 * (sum(firings) + sum(failures))


def test_tokens_are_conserved_when_runs_are_stopped_at_random_moments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="mycorrhizal.hypha")

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(shape=net_shapes(), seed=st.integers(0, 2**32 - 1))
    def check(shape: NetShape, seed: int) -> None:
        rng = random.Random(seed)
        ids = itertools.count()
        clock = ManualClock()
        runner = Runner(build(shape, rng, ids), {}, clock)
        added = 0

        async def run() -> None:
            # Stop (letting firings finish, or cancelling them) after a random number of loop
            # turns - firings suspended, their tasks started or not yet - and start again.
            nonlocal added
            await runner.run_until_idle()
            for _ in range(ROUNDS // 2):
                if not runner.tokens("fuel"):
                    break
                added += feed(shape, runner, ids)
                clock.advance(1.0)
                for _ in range(rng.randint(0, 3)):
                    await asyncio.sleep(0)
                await runner.stop(cancel=rng.random() < 0.5)
                await runner.start()
                await runner.run_until_idle()
            await runner.stop()

        asyncio.run(run())
        check_conserved(shape, runner, sum(shape.initial) + shape.fuel + added)

    check()


class Abort(BaseException):
    """A KeyboardInterrupt-like exception a handler raises now and then: no failure."""


def mixed_net(rng: random.Random, ids: Any) -> tuple[Any, list[int | None]]:
    """A random net whose transitions mix handler kinds (plain, generator, async that suspends for a
    loop turn or on the timebase, eager or not), concurrency, failures, Aborts, priorities, guards,
    retry delays and error places; each firing produces as many tokens as it takes (fuel aside)."""
    builder = NetBuilder("Mixed")
    capacities = [rng.choice([None, None, 3, 5]) for _ in range(rng.randint(2, 4))]
    places = [
        builder.place(
            f"p{i}", capacity=cap, initial=[next(ids) for _ in range(min(rng.randint(1, 4), cap or 9))]
        )
        for i, cap in enumerate(capacities)
    ]
    fuel = builder.place("fuel", initial=[next(ids) for _ in range(rng.randint(100, 200))])
    errors = builder.place("errors")
    for number in range(rng.randint(1, 4)):
        inputs = rng.sample(places, rng.randint(1, 2))
        outputs = rng.sample(places, rng.randint(1, 2))
        kind = rng.choice(["plain", "generator", "turn", "sleep"])
        fail, abort = rng.choice([0, 0.2, 0.4]), rng.choice([0, 0, 0.05])

        def produce(
            inputs: Any = inputs, outputs: Any = outputs, fail: float = fail, abort: float = abort
        ) -> Any:
            chance = rng.random()
            if chance < abort:
                raise Abort()
            if chance < abort + fail:
                raise RuntimeError("random failure")
            produced: dict[Any, list[Any]] = {}
            for j in range(len(inputs)):
                produced.setdefault(outputs[j % len(outputs)], []).append(next(ids))
            return produced

        handler: Any
        if kind == "plain":

            def handler(consumed: Any, bb: Any, timebase: Any, produce: Any = produce) -> Any:
                return produce()

        elif kind == "generator":

            def handler(consumed: Any, bb: Any, timebase: Any, produce: Any = produce) -> Any:
                yield produce()

        else:

            async def handler(
                consumed: Any, bb: Any, timebase: Any, produce: Any = produce, kind: str = kind
            ) -> Any:
                await (timebase.sleep(rng.choice([0.5, 1])) if kind == "sleep" else asyncio.sleep(0))
                return produce()

        builder.transition(
            name=f"t{number}",
            inputs=[*inputs, fuel],
            outputs=outputs,
            on_error=errors if rng.random() < 0.3 else OnError.RETURN,
            priority=rng.randint(0, 1),
            guard=(lambda consumed: sum(consumed) % 3 != 0) if rng.random() < 0.3 else None,
            concurrency=rng.choice([1, 2, 16]),
            eager=rng.random() < 0.6,
            retry_delay=rng.choice([0.5, Backoff(0.1, 2, 2), None]),
        )(handler)
    return builder.build(), capacities


def test_tokens_are_conserved_when_concurrent_firings_fail_abort_and_are_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Random steps on a random mixed net: waiting for idle (cut short), moving virtual time, stop()
    (cancelling or not, with a timeout or not), start(), cancelling a firing's task from outside and
    adding tokens.  After every step each token is once somewhere (a place, a firing in flight) and
    their number is what the committed firings say; at the end, once idle, no transition without a
    guard is left enabled."""
    caplog.set_level(logging.CRITICAL, logger="mycorrhizal.hypha")

    async def drive(clock: ManualClock, awaitable: Any) -> Any:
        task = asyncio.ensure_future(awaitable)
        for _ in range(3000):
            for _ in range(6):
                await asyncio.sleep(0)
            if task.done():
                return task.result()
            clock.advance(0.5)
        raise AssertionError("did not finish within the virtual time limit")

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**32 - 1))
    def check(seed: int) -> None:
        rng = random.Random(seed)
        ids = itertools.count()
        net, capacities = mixed_net(rng, ids)
        clock = ManualClock()
        runner = Runner(net, {}, clock)

        async def run() -> None:
            asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # Aborts in tasks
            total = runner.marking().total()
            for _ in range(60):
                action = rng.random()
                try:
                    if action < 0.5:
                        waiting = asyncio.ensure_future(runner.run_until_idle())
                        for _ in range(rng.randint(0, 4)):
                            await asyncio.sleep(0)
                        clock.advance(rng.choice([0, 0.5, 1]))
                        await asyncio.sleep(0)
                        waiting.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Abort):
                            await waiting
                    elif action < 0.6:
                        cancel = rng.random() < 0.5
                        await drive(clock, runner.stop(cancel=cancel, timeout=rng.choice([None, 0.5])))
                    elif action < 0.7:
                        await runner.start()
                    elif action < 0.8:
                        tasks = list(runner._inflight.tasks)  # a firing cancelled from outside the runner
                        if tasks:
                            rng.choice(tasks).cancel()
                        await asyncio.sleep(0)
                    else:
                        for i, cap in enumerate(capacities):
                            if cap is None or len(runner.tokens(f"p{i}")) + runner._places[i].reserved < cap:
                                runner.add_token(f"p{i}", next(ids))
                                total += 1
                except Abort:
                    pass
                held = [
                    tok.token if isinstance(tok, FailedToken) else tok
                    for toks in runner.marking().values()
                    for tok in toks
                ]
                held += [tok for _, consumed in runner._ready.flights.values() for tok in consumed._took]
                assert len(held) == len(set(held))
                assert len(held) == total - runner.stats.firings  # each committed firing burns one fuel token
                for i, cap in enumerate(capacities):
                    assert cap is None or len(runner.tokens(f"p{i}")) <= cap
            for _ in range(6):  # idle, with nothing left ready (an Abort leaves its pass's rest for later)
                with contextlib.suppress(Abort):
                    await drive(clock, runner.run_until_idle())
                    await asyncio.sleep(0)
                    if not runner._ready.scheduled and not any(runner._ready.levels):
                        break
            else:
                return
            for t in runner._transitions:
                assert t.guard is not None or t.halted or not _enabled(t), t.qname
            with contextlib.suppress(Abort):
                await drive(clock, runner.stop(cancel=True))
            assert runner.in_flight == 0

        asyncio.run(run())

    check()
