"""Decorators: status mapping, retry, repeat, timeout, rate limit, guard, subtree."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder, bt

from .conftest import Script

S, F, R, E, C = Status.SUCCESS, Status.FAILURE, Status.RUNNING, Status.ERROR, Status.CANCELLED


@pytest.mark.parametrize(
    ("kind", "child", "expected"),
    [
        ("inverter", S, F),
        ("inverter", F, S),
        ("inverter", R, R),
        ("inverter", E, E),
        ("inverter", C, C),
        ("succeeder", S, S),
        ("succeeder", F, S),
        ("succeeder", R, R),
        ("succeeder", E, E),
        ("failer", S, F),
        ("failer", F, F),
        ("failer", R, R),
        ("failer", E, E),
    ],
)
async def test_status_mapping_decorators(
    builder: TreeBuilder, script: Script, kind: str, child: Status, expected: Status
) -> None:
    builder.root(getattr(builder, kind)(builder.action(script.leaf("x", child))))
    assert await Runner(builder.build(), {}).tick() is expected


@pytest.mark.parametrize(
    ("attempts", "results", "status", "calls"),
    [
        (3, [S], S, 1),
        (3, [F, S], S, 2),
        (3, [F, F, F], F, 3),
        (3, [E, E, S], S, 3),  # ERROR is retried like FAILURE
        (2, [F, F, S], F, 2),
        (3, [C], C, 1),  # a cancelled child is not retried
    ],
)
async def test_retry_gives_the_child_n_attempts_within_the_tick(
    builder: TreeBuilder, script: Script, attempts: int, results: list[Status], status: Status, calls: int
) -> None:
    queue = list(results)

    def flaky() -> Status:
        script.calls.append("flaky")
        return queue.pop(0)

    builder.root(builder.retry(attempts, builder.action(flaky)))
    assert await Runner(builder.build(), {}).tick() is status
    assert len(script.calls) == calls


async def test_retry_counts_attempts_across_ticks_while_the_child_runs(builder: TreeBuilder) -> None:
    queue = [F, R, R, F, S]

    def flaky() -> Status:
        return queue.pop(0)

    builder.root(builder.retry(2, builder.action(flaky)))
    runner = Runner(builder.build(), {})
    assert [await runner.tick() for _ in range(3)] == [R, R, F]  # F, R | R | F: two attempts used
    assert await runner.tick() is S  # a fresh run starts counting again


@pytest.mark.parametrize(
    ("times", "results", "status", "calls"),
    [
        (3, [S, S, S], S, 3),
        (3, [S, F], F, 2),
        (1, [S], S, 1),
        (2, [S, E], E, 2),
    ],
)
async def test_repeat_runs_the_child_to_success_n_times(
    builder: TreeBuilder, script: Script, times: int, results: list[Status], status: Status, calls: int
) -> None:
    queue = list(results)

    def again() -> Status:
        script.calls.append("again")
        return queue.pop(0)

    builder.root(builder.repeat(times, builder.action(again)))
    assert await Runner(builder.build(), {}).tick() is status
    assert len(script.calls) == calls


async def test_repeat_resumes_its_count_after_a_running_child(builder: TreeBuilder) -> None:
    queue = [S, R, S, S]

    def again() -> Status:
        return queue.pop(0)

    builder.root(builder.repeat(3, builder.action(again)))
    runner = Runner(builder.build(), {})
    assert await runner.tick() is R
    assert await runner.tick() is S
    assert queue == []


@pytest.mark.parametrize("kind, outcome, runs, expected", [("retry", F, 3, F), ("repeat", S, 3, S)])
async def test_retry_and_repeat_count_runs_that_end_on_a_later_tick(
    clock: ManualClock, kind: str, outcome: Status, runs: int, expected: Status
) -> None:
    started: list[float] = []

    async def attempt(timebase: ManualClock) -> Status:
        started.append(timebase.now())
        await timebase.sleep(1)
        return outcome

    b = TreeBuilder("Counted")
    b.root(getattr(b, kind)(runs, b.action(attempt, name="attempt")))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(10)
    assert await run is expected
    assert started == [0, 1, 2]  # each run started on the tick that collected the one before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda b, x: b.retry(0, x), "retry count is 0"),
        (lambda b, x: b.repeat(-1, x), "repeat count is -1"),
        (lambda b, x: b.retry(1.5, x), "retry count is 1.5"),
        (lambda b, x: b.timeout(0, x), "timeout duration is 0"),
        (lambda b, x: b.rate_limit("1s", x), "rate_limit duration is '1s'"),
    ],
)
def test_decorator_arguments_are_checked_naming_the_node(
    builder: TreeBuilder, make: Any, message: str
) -> None:
    builder.root(make(builder, builder.action(lambda: S, name="work")))
    with pytest.raises(DefinitionError, match=rf"\w+\(work\)': {message}"):
        builder.build()


def test_decorator_applied_to_a_plain_function_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match=r"inverter 'inverter\(ready\)': decorates <function .*ready"):

        @bt.tree
        def Wrong() -> None:
            @bt.root
            @bt.inverter
            def ready(bb: Any) -> bool:  # @bt.condition missing under @bt.inverter
                return True


async def test_timeout_fails_and_halts_a_child_still_running_at_the_deadline(clock: ManualClock) -> None:
    halted: list[float] = []

    @bt.tree
    def Slow() -> None:
        @bt.root
        @bt.timeout(5)
        @bt.action(on_halt=lambda timebase: halted.append(timebase.now()))
        def wait() -> Status:
            return Status.RUNNING

    runner = Runner(Slow, {}, clock)
    assert await runner.tick() is R
    clock.advance(4.9)
    assert await runner.tick() is R
    clock.advance(0.1)
    assert halted == [5.0]  # halted at the deadline itself, not at the next tick
    assert await runner.tick() is F
    assert await runner.tick() is R  # a new run gets a new five seconds
    clock.advance(5)
    assert halted == [5.0, 10.0]


async def test_timeout_timer_is_cancelled_when_the_child_finishes_in_time(clock: ManualClock) -> None:
    queue = [R, S]

    @bt.tree
    def Quick() -> None:
        @bt.root
        @bt.timeout(5)
        @bt.action
        def work() -> Status:
            return queue.pop(0)

    runner = Runner(Quick, {}, clock)
    assert await runner.tick() is R
    assert clock.pending == 1
    assert await runner.tick() is S
    assert clock.pending == 0


async def test_rate_limit_starts_the_child_at_most_once_per_period(
    clock: ManualClock, script: Script
) -> None:
    b = TreeBuilder("Limited")
    b.root(b.rate_limit(1.0, b.action(script.leaf("ping"))))
    runner = Runner(b.build(), {}, clock)
    assert await runner.tick() is S
    script.results["ping"] = F
    clock.advance(0.5)
    assert await runner.tick() is S  # too soon: the last result, child not ticked
    assert script.take() == ["ping"]
    clock.advance(0.5)
    assert await runner.tick() is F
    assert script.take() == ["ping"]


async def test_rate_limit_keeps_ticking_a_running_child(clock: ManualClock, script: Script) -> None:
    b = TreeBuilder("Limited")
    b.root(b.rate_limit(10.0, b.action(script.leaf("poll", R))))
    runner = Runner(b.build(), {}, clock)
    assert [await runner.tick() for _ in range(3)] == [R, R, R]
    assert script.take() == ["poll"] * 3


async def test_rate_limit_counts_a_start_that_was_halted(clock: ManualClock) -> None:
    starts: list[float] = []

    def ping(bb: Any) -> Status:
        starts.append(clock.now())
        return R

    b = TreeBuilder("Limited")
    on = b.condition(lambda bb: bb["on"], name="on")
    b.root(b.sequence("watch", on, b.rate_limit(10.0, b.action(ping, name="ping")), memory=False))
    bb = {"on": True}
    runner = Runner(b.build(), bb, clock)
    assert await runner.tick() is R
    bb["on"] = False
    assert await runner.tick() is F  # the reactive sequence halts the running child
    bb["on"] = True
    clock.advance(1)
    assert await runner.tick() is C  # too soon: how the child last ended
    assert starts == [0]
    clock.advance(9)
    assert await runner.tick() is R
    assert starts == [0, 10]


def _work(bb: dict[str, bool]) -> Status:
    bb["worked"] = True
    return Status.SUCCESS


async def test_guard_ticks_the_child_only_while_the_condition_holds(script: Script) -> None:
    bb = {"allowed": True}

    @bt.tree
    def Guarded() -> None:
        @bt.action(on_halt=script.hook("drive"))
        def drive() -> Status:
            script.calls.append("drive")
            return Status.RUNNING

        bt.root(bt.guard(lambda bb: bb["allowed"])(drive))

    runner = Runner(Guarded, bb)
    assert await runner.tick() is R
    bb["allowed"] = False
    assert await runner.tick() is F
    assert script.halted == ["drive"]
    assert script.take() == ["drive"]


def _allowed(bb: dict[str, bool]) -> bool:
    return bb["allowed"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda b: b.guard(b.condition(_allowed), b.action(_work)), id="condition leaf, action"),
        pytest.param(lambda b: b.guard(_allowed, b.action(_work)), id="function, action"),
        pytest.param(
            lambda b: b.guard(b.inverter(b.inverter(b.condition(_allowed))), b.action(_work)),
            id="wrapped condition, action",
        ),
        pytest.param(
            lambda b: b.guard(
                b.selector("any", b.condition(_allowed), b.condition(_allowed)), b.action(_work)
            ),
            id="composite of conditions, action",
        ),
        pytest.param(
            lambda b: b.guard(b.condition(_allowed), b.sequence("then", b.action(_work))),
            id="condition, composite",
        ),
    ],
)
async def test_builder_guard_takes_the_condition_first(make: Any) -> None:
    b = TreeBuilder("Guarded")
    b.root(make(b))
    tree = b.build()
    bb = {"allowed": False}
    assert await Runner(tree, bb).tick() is F and "worked" not in bb
    bb["allowed"] = True
    assert await Runner(tree, bb).tick() is S and bb["worked"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda b: b.guard(b.condition(_allowed), b.condition(_allowed)), id="condition, condition"
        ),
        pytest.param(
            lambda b: b.guard(b.selector("any", b.condition(_allowed)), b.condition(_allowed)),
            id="composite of conditions, condition",
        ),
    ],
)
async def test_a_builder_guard_over_a_condition_by_conditions_is_kept(make: Any) -> None:
    # either order reads the same (both conditions must hold): nothing to refuse
    b = TreeBuilder("Checked")
    b.root(make(b))
    assert await Runner(b.build(), {"allowed": True}).tick() is S


async def test_when_is_an_optional_step_succeeding_when_its_condition_fails(script: Script) -> None:
    @bt.tree
    def Guarded() -> None:
        @bt.condition
        def allowed(bb: dict[str, bool]) -> bool:
            return bb["allowed"]

        @bt.action
        def work() -> Status:
            return Status.SUCCESS

        bt.root(bt.when(allowed)(work))

    assert await Runner(Guarded, {"allowed": True}).tick() is S
    assert await Runner(Guarded, {"allowed": False}).tick() is S  # skipped: a guard would fail


async def test_subtree_runs_the_other_tree_in_place(script: Script) -> None:
    @bt.tree
    def Inner() -> None:
        @bt.root
        @bt.action
        def inner_work(bb: dict[str, int]) -> Status:
            bb["n"] += 1
            return Status.SUCCESS

    @bt.tree
    def Outer() -> None:
        @bt.action
        def outer_work(bb: dict[str, int]) -> Status:
            bb["n"] *= 10
            return Status.SUCCESS

        @bt.root
        @bt.sequence
        def main() -> Any:
            yield bt.subtree(Inner)
            yield outer_work
            yield Inner  # a tree yielded directly is embedded too

    bb = {"n": 1}
    assert await Runner(Outer, bb).tick() is S
    assert bb == {"n": 21}
    assert [n.kind for n in Outer.nodes()] == ["sequence", "subtree", "action", "action", "subtree", "action"]


def test_a_composite_that_contains_itself_is_a_definition_error() -> None:
    with pytest.raises(
        DefinitionError, match=r"selector 'outer': contains itself \(outer -> inner -> outer\)"
    ):

        @bt.tree
        def Loop() -> None:
            @bt.condition
            def done(bb: Any) -> bool:
                return True

            @bt.root
            @bt.selector
            def outer() -> Any:
                yield done
                yield inner

            @bt.sequence
            def inner() -> Any:
                yield outer


def test_subtree_of_something_else_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="subtree 'nope': bt.subtree.. got 'nope', not a tree"):
        bt.subtree("nope")  # type: ignore[arg-type]
