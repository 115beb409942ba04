"""Leaves: sync and async, parameters by name, what they may return."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, InvalidStatusError, ManualClock
from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder, bt


def single(kind: str, fn: Any) -> Any:
    b = TreeBuilder("One")
    b.root(b.action(fn) if kind == "action" else b.condition(fn))
    return b.build()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, Status.SUCCESS),
        (False, Status.FAILURE),
        (None, Status.FAILURE),  # as in 0.x: a condition's None is falsy
        (Status.SUCCESS, Status.SUCCESS),
        (Status.FAILURE, Status.FAILURE),
    ],
)
async def test_condition_accepts_bool_and_success_failure(value: Any, expected: Status) -> None:
    assert await Runner(single("condition", lambda bb: value), {}).tick() is expected


@pytest.mark.parametrize("value", [1, "yes", 0.0, Status.RUNNING, Status.ERROR])
async def test_condition_rejects_other_results_naming_the_node(value: Any) -> None:
    def ready(bb: Any) -> Any:
        return value

    runner = Runner(single("condition", ready), {})
    with pytest.raises(InvalidStatusError, match="condition 'ready' in tree 'One' returned") as info:
        await runner.tick()
    assert info.value.node == "ready"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, Status.SUCCESS), (True, Status.SUCCESS), (False, Status.FAILURE)]
)
async def test_an_action_returning_none_or_a_bool_reports_success_or_failure(
    value: Any, expected: Status
) -> None:
    assert await Runner(single("action", lambda bb: value), {}).tick() is expected


@pytest.mark.parametrize("value", [0, 1, "SUCCESS", 2.5, [], "success"])
async def test_action_must_return_a_status(value: Any) -> None:
    def work(bb: Any) -> Any:
        return value

    said = r"action 'work' in tree 'One' returned .*not a Status"
    with pytest.raises(InvalidStatusError, match=said) as info:
        await Runner(single("action", work), {}).tick()
    assert info.value.node == "work"


async def test_an_async_action_returning_a_non_status_after_it_suspended_names_the_node(
    clock: ManualClock,
) -> None:
    async def work(timebase: ManualClock) -> Any:
        await timebase.sleep(1)
        return "done"  # not a status

    b = TreeBuilder("Forgetful")
    b.root(b.sequence("steps", b.action(work, on_halt=lambda: None)))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(1)
    with pytest.raises(
        InvalidStatusError, match=r"action 'work' in tree 'Forgetful' returned 'done', which is not a Status"
    ) as err:
        await run
    assert err.value.node == "work"
    assert not runner.running  # the runner was reset before the error propagated


@pytest.mark.parametrize("status", list(Status))
async def test_action_may_return_any_status(status: Status) -> None:
    assert await Runner(single("action", lambda: status), {}).tick() is status


async def test_async_action_that_finishes_without_suspending_reports_in_the_same_tick() -> None:
    async def quick(bb: dict[str, int]) -> Status:
        bb["n"] += 1
        return Status.SUCCESS

    bb = {"n": 0}
    runner = Runner(single("action", quick), bb)
    assert await runner.tick() is Status.SUCCESS
    assert bb == {"n": 1}


async def test_async_action_that_suspends_is_running_until_its_task_finishes(clock: ManualClock) -> None:
    async def slow(bb: dict[str, Any], timebase: ManualClock) -> Status:
        await timebase.sleep(5)
        bb["done"] = True
        return Status.SUCCESS

    bb: dict[str, Any] = {}
    runner = Runner(single("action", slow), bb, clock)
    assert await runner.tick() is Status.RUNNING
    assert await runner.tick() is Status.RUNNING  # re-ticking does not start it again
    await clock.run_for(5)
    assert bb == {"done": True}
    assert await runner.tick() is Status.SUCCESS


async def test_async_leaf_runs_in_its_own_task_so_asyncio_timeout_cancels_only_the_leaf(
    clock: ManualClock,
) -> None:
    async def bounded() -> Status:
        try:
            async with asyncio.timeout(0):  # expires at the next loop iteration
                await asyncio.sleep(10)
        except TimeoutError:
            return Status.FAILURE
        return Status.SUCCESS

    runner = Runner(single("action", bounded), {}, clock)
    assert await runner.tick_until_complete() is Status.FAILURE  # the caller was not cancelled


@pytest.mark.parametrize(
    "fn",
    [
        lambda: Status.SUCCESS,
        lambda bb: Status.SUCCESS,
        lambda timebase: Status.SUCCESS,
        lambda ctx: Status.SUCCESS,
        lambda ctx, bb: Status.SUCCESS,
        lambda bb, timebase, ctx: Status.SUCCESS,
        lambda timebase, ctx, bb: Status.SUCCESS,
    ],
)
async def test_leaves_get_what_they_ask_for_by_name(fn: Any) -> None:
    assert await Runner(single("action", fn), {}).tick() is Status.SUCCESS


async def test_bb_timebase_and_ctx_are_passed_untouched(clock: ManualClock) -> None:
    seen: list[Any] = []

    def look(ctx: Any, bb: Any, timebase: Any) -> Status:
        seen.extend([bb, timebase, ctx])
        return Status.SUCCESS

    bb, ctx = object(), object()
    await Runner(single("action", look), bb, clock, ctx).tick()
    assert seen[0] is bb and seen[1] is clock and seen[2] is ctx


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda blackboard: True, "parameter 'blackboard'"),
        (lambda bb, *rest: True, r"takes \*rest"),
        (lambda bb, **kw: True, r"takes \*kw"),
        (lambda bb, *, robot: True, "parameter 'robot'"),
    ],
)
def test_unknown_leaf_parameters_are_definition_errors_naming_the_leaf(fn: Any, message: str) -> None:
    fn.__name__ = "check"
    with pytest.raises(DefinitionError, match=f"condition 'check': .*{message}"):
        bt.condition(fn)


def test_every_bad_leaf_in_a_tree_is_reported_at_once() -> None:
    with pytest.raises(DefinitionError, match=r"3 problems") as info:

        @bt.tree
        def Broken() -> None:
            @bt.action
            def one(robot: Any) -> Status:
                return Status.SUCCESS

            @bt.condition
            def two(bb: Any, world: Any) -> bool:
                return True

            @bt.action
            def three(bb: Any, speed: Any) -> Status:
                return Status.SUCCESS

            @bt.root
            @bt.sequence
            def main() -> Any:
                yield one
                yield two
                yield three

    assert [p.subject for p in info.value.problems] == ["action 'one'", "condition 'two'", "action 'three'"]


def test_a_generator_or_async_generator_leaf_is_a_definition_error() -> None:
    def gen(bb: Any) -> Any:
        yield Status.SUCCESS

    async def agen(bb: Any) -> Any:
        yield Status.SUCCESS

    with pytest.raises(DefinitionError, match="action 'gen': .*generator"):
        bt.action(gen)
    with pytest.raises(DefinitionError, match="action 'agen': .*generator"):
        bt.action(agen)


def test_async_halt_hook_is_a_definition_error() -> None:
    async def cleanup() -> None:
        return None

    with pytest.raises(DefinitionError, match="action 'work': the halt hook is async"):
        bt.action(name="work", on_halt=cleanup)(lambda: Status.SUCCESS)


@pytest.mark.parametrize("kind", ["action", "condition"])
async def test_a_plain_leaf_returning_a_coroutine_is_told_to_be_async(kind: str, clock: ManualClock) -> None:
    def wait(timebase: ManualClock) -> Any:
        return timebase.sleep(1)  # forgot `async def` / `await`

    with pytest.raises(
        InvalidStatusError,
        match=f"{kind} 'wait' in tree 'One' returned a coroutine.*Fix: declare it `async def`",
    ):
        await Runner(single(kind, wait), {}, clock).tick()


@pytest.mark.parametrize("kind", ["action", "condition"])
@pytest.mark.parametrize("suspends", [False, True], ids=["finishes-at-once", "after-suspending"])
async def test_an_async_leaf_returning_a_coroutine_is_told_to_await_it(
    kind: str, suspends: bool, clock: ManualClock
) -> None:
    # It is async already: the advice used to be "it is a plain function ... declare it async def".
    async def wait(timebase: ManualClock) -> Any:
        if suspends:
            await timebase.sleep(1)
        return timebase.sleep(1)  # forgot `await`

    run = asyncio.create_task(Runner(single(kind, wait), {}, clock).tick_until_complete())
    await clock.run_for(1)
    with pytest.raises(
        InvalidStatusError,
        match=f"{kind} 'wait' in tree 'One' returned a coroutine it did not await. "
        "Fix: write `return await ...`",
    ) as info:
        await run
    assert "plain function" not in str(info.value)


async def _never_awaited() -> Status:
    return Status.SUCCESS


@pytest.mark.parametrize("is_async", [False, True], ids=["plain", "async"])
@pytest.mark.parametrize(
    ("kind", "value", "said", "fix"),
    [
        ("action", "ok", "returned 'ok', which is not a Status", "return Status.SUCCESS, Status.FAILURE"),
        ("condition", 1, "returned 1, which a condition may not return", "return True / False or"),
        ("condition", Status.RUNNING, "returned Status.RUNNING, which a condition", "make it an action"),
        ("action", _never_awaited, "returned a coroutine", "await"),
        ("condition", _never_awaited, "returned a coroutine", "await"),
    ],
)
async def test_a_refused_result_names_the_leaf_and_its_tree_and_ends_with_one_fix(
    is_async: bool, kind: str, value: Any, said: str, fix: str
) -> None:
    def plain(bb: Any) -> Any:
        return value() if callable(value) else value

    async def coroutine(bb: Any) -> Any:
        return value() if callable(value) else value

    b = TreeBuilder("Robot")
    fn = coroutine if is_async else plain
    leaf = b.action(fn, name="odd") if kind == "action" else b.condition(fn, name="odd")
    b.root(b.sequence("steps", leaf))
    with pytest.raises(InvalidStatusError, match=f"^{kind} 'odd' in tree 'Robot' {said}") as info:
        await Runner(b.build(), {}).tick()
    problem, _, told = str(info.value).partition(". Fix: ")
    assert fix in told and "Fix:" not in told and ";" not in problem, str(info.value)
    assert info.value.node == "odd"
