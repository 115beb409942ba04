"""Sequence, selector (memory and reactive) and parallel semantics."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder, bt

from .conftest import Script

S, F, R = Status.SUCCESS, Status.FAILURE, Status.RUNNING


def three(builder: TreeBuilder, script: Script, kind: str, memory: bool) -> Runner:
    kids = [builder.action(script.leaf(n), on_halt=script.hook(n)) for n in ("a", "b", "c")]
    make = builder.sequence if kind == "sequence" else builder.selector
    builder.root(make("main", *kids, memory=memory))
    return Runner(builder.build(), {})


@pytest.mark.parametrize("memory", [True, False])
@pytest.mark.parametrize(
    ("results", "status", "calls"),
    [
        ((S, S, S), S, ["a", "b", "c"]),
        ((S, F, S), F, ["a", "b"]),
        ((F, S, S), F, ["a"]),
        ((S, R, S), R, ["a", "b"]),
        ((S, S, Status.ERROR), Status.ERROR, ["a", "b", "c"]),
    ],
)
async def test_sequence_ticks_children_in_order_until_one_does_not_succeed(
    builder: TreeBuilder,
    script: Script,
    memory: bool,
    results: tuple[Status, ...],
    status: Status,
    calls: list[str],
) -> None:
    runner = three(builder, script, "sequence", memory)
    script.results.update(zip("abc", results, strict=True))
    assert await runner.tick() is status
    assert script.take() == calls


@pytest.mark.parametrize("memory", [True, False])
@pytest.mark.parametrize(
    ("results", "status", "calls"),
    [
        ((F, F, F), F, ["a", "b", "c"]),
        ((F, S, F), S, ["a", "b"]),
        ((S, F, F), S, ["a"]),
        ((F, R, S), R, ["a", "b"]),
        ((F, F, Status.ERROR), Status.ERROR, ["a", "b", "c"]),
        ((Status.ERROR, S, F), S, ["a", "b"]),
    ],
)
async def test_selector_ticks_children_in_order_until_one_does_not_fail(
    builder: TreeBuilder,
    script: Script,
    memory: bool,
    results: tuple[Status, ...],
    status: Status,
    calls: list[str],
) -> None:
    runner = three(builder, script, "selector", memory)
    script.results.update(zip("abc", results, strict=True))
    assert await runner.tick() is status
    assert script.take() == calls


async def test_memory_sequence_resumes_at_the_running_child(builder: TreeBuilder, script: Script) -> None:
    runner = three(builder, script, "sequence", memory=True)
    script.results["b"] = R
    assert await runner.tick() is R
    script.take()
    script.results["a"] = F  # would fail the sequence, but a memory sequence does not look back
    assert await runner.tick() is R
    assert script.take() == ["b"]
    script.results["b"] = S
    assert await runner.tick() is S
    assert script.take() == ["b", "c"]
    assert await runner.tick() is F  # a fresh run starts at the first child again
    assert script.take() == ["a"]


@pytest.mark.parametrize(("kind", "passing"), [("sequence", S), ("selector", F)])
async def test_memory_composite_resumed_follows_a_later_running_child(
    builder: TreeBuilder, script: Script, kind: str, passing: Status
) -> None:
    runner = three(builder, script, kind, memory=True)
    script.results.update(a=passing, b=R, c=R)
    assert await runner.tick() is R
    script.results["b"] = passing  # resumed at b, which now passes on to c, RUNNING
    assert await runner.tick() is R
    script.results["a"] = script.results["b"] = R  # (they must not be ticked again)
    assert await runner.tick() is R
    assert script.take() == ["a", "b", "b", "c", "c"]
    script.results["c"] = passing
    assert await runner.tick() is passing
    assert script.take() == ["c"]


async def test_reactive_sequence_rechecks_earlier_children_and_halts_the_running_one(
    builder: TreeBuilder, script: Script
) -> None:
    runner = three(builder, script, "sequence", memory=False)
    script.results["b"] = R
    assert await runner.tick() is R
    assert await runner.tick() is R
    assert script.take() == ["a", "b", "a", "b"]
    script.results["a"] = F
    assert await runner.tick() is F
    assert script.take() == ["a"]
    assert script.halted == ["b"]
    assert runner.statuses()["b"] is Status.CANCELLED


async def test_memory_selector_resumes_at_the_running_child(builder: TreeBuilder, script: Script) -> None:
    runner = three(builder, script, "selector", memory=True)
    script.results.update(a=F, b=R)
    assert await runner.tick() is R
    script.take()
    script.results["a"] = S  # a higher-priority child would now succeed, but memory means no re-check
    assert await runner.tick() is R
    assert script.take() == ["b"]
    assert script.halted == []


async def test_reactive_selector_switches_to_a_higher_priority_child_and_halts_the_lower(
    builder: TreeBuilder, script: Script
) -> None:
    runner = three(builder, script, "selector", memory=False)
    script.results.update(a=F, b=F, c=R)
    assert await runner.tick() is R
    script.take()
    script.results["a"] = R  # the first child now runs: the third is abandoned
    assert await runner.tick() is R
    assert script.take() == ["a"]
    assert script.halted == ["c"]
    script.results["a"] = S
    assert await runner.tick() is S
    assert script.halted == ["c"]  # a finished by itself: nothing to halt


def parallel_runner(builder: TreeBuilder, script: Script, n: int, **thresholds: Any) -> Runner:
    kids = [builder.action(script.leaf(f"p{k}", R), on_halt=script.hook(f"p{k}")) for k in range(n)]
    builder.root(builder.parallel("par", *kids, **thresholds))
    return Runner(builder.build(), {})


@pytest.mark.parametrize(
    ("thresholds", "results", "status", "halted"),
    [
        ({}, (S, S, S), S, []),
        ({}, (S, R, S), R, []),
        ({}, (R, F, R), F, ["p0"]),  # decided at p1: p2 is never started
        ({"success_threshold": 1}, (R, S, R), S, ["p0"]),
        ({"success_threshold": 2}, (F, R, R), R, []),
        ({"success_threshold": 2}, (R, F, F), F, ["p0"]),  # success became impossible
        ({"success_threshold": 1, "failure_threshold": 3}, (F, F, R), R, []),
        ({"success_threshold": 2, "failure_threshold": 2}, (F, R, F), F, ["p1"]),
        ({"success_threshold": 3, "failure_threshold": 2}, (F, R, R), F, []),  # all needed: one failed
    ],
)
async def test_parallel_decides_on_thresholds_and_halts_the_children_still_running(
    builder: TreeBuilder,
    script: Script,
    thresholds: dict[str, int],
    results: tuple[Status, ...],
    status: Status,
    halted: list[str],
) -> None:
    runner = parallel_runner(builder, script, 3, **thresholds)
    script.results.update({f"p{k}": r for k, r in enumerate(results)})
    assert await runner.tick() is status
    assert script.halted == halted


async def test_parallel_does_not_retick_finished_children_until_it_completes(
    builder: TreeBuilder, script: Script
) -> None:
    runner = parallel_runner(builder, script, 3)
    script.results.update(p0=S, p1=R, p2=R)
    assert await runner.tick() is R
    assert script.take() == ["p0", "p1", "p2"]
    script.results.update(p2=S)
    assert await runner.tick() is R
    assert script.take() == ["p1", "p2"]
    script.results.update(p1=S)
    assert await runner.tick() is S
    assert script.take() == ["p1"]
    assert await runner.tick() is S  # a new round ticks everyone again
    assert script.take() == ["p0", "p1", "p2"]


async def test_parallel_stops_ticking_once_decided_in_the_middle_of_a_tick(
    builder: TreeBuilder, script: Script
) -> None:
    runner = parallel_runner(builder, script, 3, success_threshold=1)
    script.results.update(p0=R, p1=S)
    assert await runner.tick() is S
    assert script.take() == ["p0", "p1"]
    assert script.halted == ["p0"]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"success_threshold": 0}, "success_threshold=0 but it has 2 children"),
        ({"success_threshold": 3}, "success_threshold=3 but it has 2 children"),
        ({"failure_threshold": 5}, "failure_threshold=5 but it has 2 children"),
        ({"failure_threshold": 1.5}, "failure_threshold=1.5"),
    ],
)
def test_parallel_thresholds_must_fit_the_children(
    builder: TreeBuilder, thresholds: dict[str, Any], message: str
) -> None:
    ok = builder.action(lambda: S, name="ok")
    builder.root(builder.parallel("both", ok, ok, **thresholds))
    with pytest.raises(DefinitionError, match=f"parallel 'both': {message}"):
        builder.build()


def test_decorator_form_composites_may_yield_nodes_declared_after_them() -> None:
    @bt.tree
    def Later() -> None:
        @bt.root
        @bt.selector(memory=False)
        def main() -> Any:
            yield first
            yield second

        @bt.condition
        def first(bb: Any) -> bool:
            return bool(bb["go"])

        @bt.action
        def second() -> Status:
            return Status.SUCCESS

    assert [n.name for n in Later.nodes()] == ["main", "first", "second"]


@pytest.mark.parametrize("kind", ["sequence", "selector", "parallel"])
def test_composite_without_children_is_a_definition_error(kind: str) -> None:
    with pytest.raises(DefinitionError, match=f"{kind} 'empty': has no children"):

        @bt.tree
        def Empty() -> None:
            @bt.root
            @getattr(bt, kind)
            def empty() -> Any:
                return iter(())


def test_composite_yielding_a_plain_function_names_the_composite_and_the_fix() -> None:
    def helper(bb: Any) -> bool:
        return True

    with pytest.raises(DefinitionError, match=r"sequence 'main': child 1 is <function .*helper.*decorate it"):

        @bt.tree
        def Mistake() -> None:
            @bt.condition
            def fine(bb: Any) -> bool:
                return True

            @bt.root
            @bt.sequence
            def main() -> Any:
                yield fine
                yield helper


def test_composite_function_must_be_a_generator_without_parameters() -> None:
    with pytest.raises(DefinitionError, match=r"sequence 'takes': its function takes parameters \(n\)"):

        @bt.tree
        def Mistakes() -> None:
            @bt.condition
            def fine(bb: Any) -> bool:
                return True

            @bt.sequence
            def takes(n: Any) -> Any:
                yield fine

            @bt.root
            @bt.sequence
            def main() -> Any:
                yield takes
                return None
