"""A handler's ``consumed`` list is its own to change: whatever it does to it, the runner gives back,
parks, reports and journals exactly the tokens the firing took (nothing lost, nothing duplicated)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.durability import MemoryStore
from mycorrhizal.hypha import FailedToken, FiringCommitted, NetBuilder, NetSpec, OnError, PlaceType, Runner

from .conftest import settle

Mutation = Callable[[list[Any]], None]


def _pop0(c: list[Any]) -> None:
    c.pop(0)


def _append(c: list[Any]) -> None:
    c.append(object())


def _del0(c: list[Any]) -> None:
    del c[0]


def _set0(c: list[Any]) -> None:
    c[0] = "other"


def _iadd(c: list[Any]) -> None:
    c += ["extra"]


def _sort(c: list[Any]) -> None:
    c.sort(key=str, reverse=True)


MUTATIONS: dict[str, Mutation] = {
    "pop": lambda c: c.pop(),
    "pop(0)": _pop0,
    "append": _append,
    "clear": lambda c: c.clear(),
    "sort": _sort,
    "reverse": lambda c: c.reverse(),
    "del [0]": _del0,
    "[0] = other": _set0,
    "+=": _iadd,
}
REORDERING = {"sort", "reverse"}  # no change to a one-token list

# shape -> (input arcs as (place, weight), whether its handler can suspend)
SHAPES: dict[str, tuple[tuple[tuple[str, int], ...], bool]] = {
    "async": ((("a", 1),), False),
    "async suspending": ((("a", 1),), True),
    "plain def": ((("a", 1),), False),
    "async generator": ((("a", 1),), False),
    "ctx": ((("a", 1),), False),
    "ctx suspending": ((("a", 1),), True),
    "two inputs, weight 2": ((("a", 2), ("c", 1)), False),
    "two inputs suspending": ((("a", 2), ("c", 1)), True),
    "guarded": ((("a", 1),), False),
}
INITIAL = {"a": (1, 2), "c": ("c1",)}  # what a firing takes: the first weight of each


def _cases(outcomes: tuple[str, ...], *, suspending_only: bool = False) -> list[Any]:
    return [
        pytest.param(shape, mutation, outcome, id=f"{shape}-{mutation}-{outcome}")
        for shape, (arcs, suspends) in SHAPES.items()
        if suspends or not suspending_only
        for mutation in MUTATIONS
        if mutation not in REORDERING or sum(w for _, w in arcs) > 1
        for outcome in outcomes
    ]


def net(shape: str, mutation: str, outcome: str) -> NetSpec:
    """``a`` (and ``c``) -> ``t`` -> ``b``; ``t`` changes its list, then fails or produces "done"."""
    arcs, suspends = SHAPES[shape]
    mutate = MUTATIONS[mutation]
    failing = outcome in ("fail", "park")
    b = NetBuilder("N")
    places = {name: b.place(name, type=PlaceType.QUEUE) for name in ("a", "b", "c", "err")}
    out = places["b"]

    def finish() -> Any:
        if failing:
            raise ValueError("boom")
        return {out: "done"}

    async def coroutine(consumed: Any, bb: Any, timebase: Any) -> Any:
        mutate(consumed)
        if suspends:
            await timebase.sleep(1)
        return finish()

    async def with_ctx(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
        mutate(consumed)
        if suspends:
            await timebase.sleep(1)
        ctx.emit(out, finish()[out])

    def plain(consumed: Any, bb: Any, timebase: Any) -> Any:
        mutate(consumed)
        return finish()

    async def generator(consumed: Any, bb: Any, timebase: Any) -> Any:
        mutate(consumed)
        yield finish()

    handler: Any = {"plain def": plain, "async generator": generator}.get(shape, coroutine)
    if shape.startswith("ctx"):
        handler = with_ctx
    options: dict[str, Any] = {"on_error": places["err"]} if outcome == "park" else {}
    b.transition(
        handler,
        name="t",
        inputs=[(places[p], w) for p, w in arcs],
        outputs=[out],
        guard=(lambda consumed: True) if shape == "guarded" else None,
        **options,
    )
    return b.build()


def taken(shape: str) -> dict[str, tuple[Any, ...]]:
    """What one firing of ``shape`` takes, by place."""
    return {f"N.{p}": INITIAL[p][:w] for p, w in SHAPES[shape][0]}


async def started(shape: str, mutation: str, outcome: str, clock: ManualClock) -> tuple[Runner, list[Any]]:
    """A runner of ``shape``'s net, its records kept, given the tokens of one firing."""
    records: list[Any] = []
    runner = Runner(net(shape, mutation, outcome), {}, clock)
    runner.add_observer(records.append)
    await runner.start()
    for p, w in SHAPES[shape][0]:
        runner.add_tokens(p, INITIAL[p][:w])
    return runner, records


async def fire_once(shape: str, mutation: str, outcome: str, clock: ManualClock) -> tuple[Runner, list[Any]]:
    runner, records = await started(shape, mutation, outcome, clock)
    await settle(clock, runner.run_until_idle())
    return runner, records


@pytest.mark.parametrize(("shape", "mutation", "outcome"), _cases(("fail", "park", "commit")))
async def test_the_runner_goes_by_the_tokens_taken_whatever_the_handler_did(
    clock: ManualClock, shape: str, mutation: str, outcome: str
) -> None:
    runner, records = await fire_once(shape, mutation, outcome, clock)
    marking = runner.marking()
    await runner.stop()
    took = taken(shape)
    inputs = {p for p, _ in SHAPES[shape][0]}
    if outcome == "fail":  # back in their places, in their order, and nothing else
        assert {f"N.{p}": marking[p] for p in inputs} == took
        assert marking["b"] == marking["err"] == ()
        assert records[-1].kind == "failed" and records[-1].consumed == took
        assert runner.stats.returned == sum(len(v) for v in took.values())
        return
    assert all(marking[p] == () for p in inputs)
    firings = [r for r in records if r.kind in ("committed", "failed")]
    if outcome == "park":
        parked = [(f.token, f.place) for f in marking["err"]]
        assert all(isinstance(f, FailedToken) for f in marking["err"])
        assert parked == [(tok, place) for place, tokens in took.items() for tok in tokens]
        assert marking["b"] == ()
        assert firings[0].kind == "failed" and firings[0].consumed == took
        return
    assert marking["b"] == ("done",) and marking["err"] == ()
    assert isinstance(firings[0], FiringCommitted) and firings[0].consumed == took


@pytest.mark.parametrize(("shape", "mutation", "outcome"), _cases(("cancel",), suspending_only=True))
async def test_a_cancelled_firing_gives_back_the_tokens_taken(
    clock: ManualClock, shape: str, mutation: str, outcome: str
) -> None:
    runner, records = await started(shape, mutation, outcome, clock)
    await clock.run_for(0)
    assert runner.in_flight >= 1
    await runner.stop(cancel=True)
    marking = runner.marking()
    inputs = {p for p, _ in SHAPES[shape][0]}
    assert {f"N.{p}": marking[p] for p in inputs} == taken(shape)
    assert marking["b"] == ()
    cancelled = [r for r in records if r.kind == "cancelled"]
    assert cancelled and cancelled[0].consumed == taken(shape)


@pytest.mark.parametrize("park", [True, False], ids=["error place", "given back"])
@pytest.mark.parametrize("mutation", [m for m in MUTATIONS if m not in REORDERING])
async def test_a_journaled_runner_recovers_what_a_mutating_handler_did(mutation: str, park: bool) -> None:
    b = NetBuilder("J")
    jobs, done, broken = b.place("jobs"), b.place("done"), b.place("broken")
    mutate = MUTATIONS[mutation]

    @b.transition(inputs=[jobs], outputs=[done], on_error=broken if park else OnError.RETURN)
    async def work(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
        first, key = consumed[0], ctx.idempotency_key
        mutate(consumed)
        assert ctx.idempotency_key == key  # the firing is still known by its tokens
        if first == 2:
            raise ValueError("two")
        return {done: first}

    spec = b.build()
    store = MemoryStore()
    runner = Runner(spec, store=store)
    runner.add_tokens("jobs", [1, 2, 3])
    await runner.run_until_idle()
    await runner.flush()
    before = runner.marking()
    await runner.stop()
    recovered = await Runner.recover(spec, store)
    assert recovered.marking() == before
    if park:
        assert [f.token for f in recovered.tokens("broken")] == [2]
        assert recovered.tokens("jobs") == () and recovered.tokens("done") == (1, 3)
    else:  # given back at the head of jobs, where it holds the transition back until a retry
        assert recovered.tokens("jobs") == (2, 3) and recovered.tokens("broken") == ()
        assert recovered.tokens("done") == (1,)
    await recovered.stop()
    await store.close()
