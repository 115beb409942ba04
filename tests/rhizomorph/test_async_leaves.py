"""Async leaves that finish without suspending cost no task; those that suspend keep every guarantee."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import pytest

from mycorrhizal.common import InvalidStatusError, ManualClock
from mycorrhizal.rhizomorph import ErrorPolicy, Runner, Status, TreeBuilder, bt


def async_tree() -> Any:
    b = TreeBuilder("Quick")

    async def ready(bb: dict[str, int]) -> bool:
        return True

    async def work(bb: dict[str, int]) -> Status:
        bb["n"] += 1
        return Status.SUCCESS

    b.root(b.sequence("steps", b.condition(ready), b.action(work), b.action(work, name="again")))
    return b.build()


async def test_ten_thousand_ticks_of_non_suspending_async_leaves_leave_no_task_behind() -> None:
    bb = {"n": 0}
    runner = Runner(async_tree(), bb)
    before = asyncio.all_tasks()
    for _ in range(10_000):
        assert await runner.tick() is Status.SUCCESS
    assert asyncio.all_tasks() == before  # not one task made, not even waiting for the loop
    assert bb["n"] == 20_000


async def test_a_suspending_leaf_sees_the_task_that_carries_it_on_and_a_timeout_inside_works() -> None:
    clock = ManualClock()
    seen: list[Any] = []

    @bt.tree
    def Patient() -> None:
        @bt.action
        async def wait(timebase: ManualClock) -> Status:
            seen.append(asyncio.current_task())
            try:
                async with asyncio.timeout(0):  # expires at once: the leaf's own task is the one cancelled
                    await asyncio.Event().wait()
            except TimeoutError:
                seen.append(asyncio.current_task())
                return Status.FAILURE
            return Status.SUCCESS  # pragma: no cover

        bt.root(wait)

    runner = Runner(Patient, {}, clock)
    caller = asyncio.current_task()
    assert await runner.tick_until_complete() is Status.FAILURE
    assert seen[0] is seen[1] and seen[0] is not caller and seen[0].done()


async def test_two_leaves_awaiting_one_future_in_one_tick_both_finish() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def first(bb: Any) -> Status:
        await gate
        return Status.SUCCESS

    async def second(bb: Any) -> Status:
        await gate
        return Status.SUCCESS

    b = TreeBuilder("Shared")
    b.root(b.parallel("both", b.action(first), b.action(second)))
    runner = Runner(b.build(), {})
    assert await runner.tick() is Status.RUNNING
    gate.set_result(None)
    assert await runner.tick_until_complete() is Status.SUCCESS


async def test_halting_a_suspended_leaf_cancels_its_task() -> None:
    log: list[str] = []

    async def sleeper(bb: Any) -> Status:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        return Status.SUCCESS  # pragma: no cover

    b = TreeBuilder("Halted")
    b.root(b.action(sleeper))
    runner = Runner(b.build(), {})
    assert await runner.tick() is Status.RUNNING
    runner.reset()
    await runner.settle()
    assert log == ["cancelled"] and not runner.running


where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="outside")


def leaves_in_one_tick(seen: list[Any]) -> Any:
    """A sequence of async and plain leaves; each records what it saw and changes the context."""

    async def first(bb: Any) -> bool:
        seen.append(("first", where.get(), asyncio.current_task()))
        where.set("set by first")
        return True

    def plain(bb: Any) -> bool:
        seen.append(("plain", where.get(), asyncio.current_task()))
        where.set("set by plain")  # a plain leaf runs in the caller's context
        return True

    async def second(bb: Any) -> bool:
        seen.append(("second", where.get(), asyncio.current_task()))
        where.set("set by second")
        return True

    b = TreeBuilder("Contexts")
    b.root(b.sequence("all", b.condition(first), b.condition(plain), b.condition(second)))
    return b.build()


async def test_each_async_leaf_of_a_tick_runs_as_in_a_task_of_its_own() -> None:
    seen: list[Any] = []
    runner = Runner(leaves_in_one_tick(seen), {})
    caller = asyncio.current_task()
    where.set("caller")
    assert await runner.tick() is Status.SUCCESS
    # Its own copy of the caller's context: a change made by an async leaf stays in that copy.
    assert [(name, value) for name, value, _ in seen] == [
        ("first", "caller"),
        ("plain", "caller"),
        ("second", "set by plain"),
    ]
    assert where.get() == "set by plain"
    # Its own task: not the caller's (which a plain leaf sees), nor another leaf's.
    first, plain, second = (task for _, _, task in seen)
    assert plain is caller and first is not caller and second is not caller and first is not second
    assert await runner.tick() is Status.SUCCESS
    assert len({id(task) for _, _, task in seen if task is not caller}) == 4


def _recording(seen: list[Any], name: str) -> Any:
    async def leaf(bb: Any) -> bool:
        seen.append((name, asyncio.current_task()))
        return True

    return leaf


@pytest.mark.parametrize("shape", ["async only", "async part under plain"])
async def test_async_leaves_ticked_in_one_stretch_each_see_a_task_of_their_own(shape: str) -> None:
    # A subtree of async leaves and composites makes the leaves' task to be current once per tick
    # (program._async_only): each leaf must still see its own task, and nobody else any of them.
    seen: list[Any] = []

    def plain(bb: Any) -> bool:
        seen.append(("plain", asyncio.current_task()))
        return False

    b = TreeBuilder("Stretch")
    quick = b.sequence("quick", *(b.condition(_recording(seen, n), name=n) for n in ("a", "b", "c")))
    if shape == "async only":
        b.root(quick)
    else:
        b.root(b.selector("root", b.condition(plain), quick, b.condition(plain, name="never")))
    runner = Runner(b.build(), {})
    caller = asyncio.current_task()
    for _ in range(2):
        assert await runner.tick() is Status.SUCCESS
        assert asyncio.current_task() is caller
    tasks = [task for name, task in seen if name != "plain"]
    assert len(tasks) == 6 and caller not in tasks
    assert all(task is caller for name, task in seen if name == "plain")
    assert len({id(task) for task in tasks}) == 6  # (all six kept alive by `seen`: distinct)


async def test_an_error_policy_within_a_stretch_logs_under_the_callers_task() -> None:
    logged: list[Any] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(asyncio.current_task())

    async def fails(bb: Any) -> bool:
        raise ValueError("no")

    b = TreeBuilder("Failing")
    b.root(b.selector("root", b.condition(fails), b.condition(_recording([], "after"), name="after")))
    runner = Runner(b.build(), {}, on_error=ErrorPolicy.FAILURE)
    handler = Watch()
    logging.getLogger("mycorrhizal.rhizomorph").addHandler(handler)
    try:
        assert await runner.tick() is Status.SUCCESS
    finally:
        logging.getLogger("mycorrhizal.rhizomorph").removeHandler(handler)
    assert logged == [asyncio.current_task()]


def test_a_runner_driven_on_one_loop_then_another_starts_its_leaves_on_each() -> None:
    loops: list[Any] = []

    async def waits(bb: Any) -> Status:
        await asyncio.sleep(0)  # (suspends: the task that carries it on must be of this loop)
        loops.append(asyncio.get_running_loop())
        return Status.SUCCESS

    b = TreeBuilder("Twice")
    b.root(b.sequence("steps", b.action(waits)))
    runner = Runner(b.build(), {})
    for _ in range(2):
        assert asyncio.run(runner.tick_until_complete()) is Status.SUCCESS
    assert len(loops) == 2 and loops[0] is not loops[1]


@pytest.mark.parametrize("kind", ["condition", "action"])
async def test_a_leaf_whose_first_step_ticks_its_own_tree_again_gets_both_results(kind: str) -> None:
    # The inner tick starts the leaf again while its first run is still in its first step: the
    # runner's starter is busy with that run, so the second is started on its own.
    runs: list[int] = []

    async def again(bb: Any) -> Any:
        runs.append(len(runs))
        if len(runs) == 1:
            assert await runner.tick() is Status.FAILURE
            return True  # the first run
        return None  # the second: FAILURE for a condition, SUCCESS for an action

    b = TreeBuilder("Reentrant")
    node = b.condition(again) if kind == "condition" else b.inverter(b.action(again))
    b.root(b.sequence("steps", node))
    runner = Runner(b.build(), {})
    expected = Status.SUCCESS if kind == "condition" else Status.FAILURE
    assert await runner.tick() is expected and runs == [0, 1]


# An async leaf is started on one of several paths, each converting what its coroutine returned:
# a function of bb alone in a stretch of async leaves (the commonest, written out), another within
# a stretch, one started alone (its parent runs other code), and one collected from its task.
PATHS = ["bb in a stretch", "ctx in a stretch", "alone", "after suspending"]


async def result_of(kind: str, path: str, value: Any) -> tuple[Status, bool]:
    """What one tick of an async ``kind`` leaf returning ``value`` on ``path`` reports, and whether
    the runner then polls (a leaf said RUNNING)."""

    async def leaf(bb: Any) -> Any:
        if path == "after suspending":
            await asyncio.sleep(0)
        return value

    async def of_ctx(ctx: Any) -> Any:
        return value

    b = TreeBuilder("Returns")
    fn = of_ctx if path == "ctx in a stretch" else leaf
    node = b.action(fn, name="work") if kind == "action" else b.condition(fn, name="ready")
    b.root(node if path == "alone" else b.sequence("steps", node))
    runner = Runner(b.build(), {})
    if path == "after suspending":
        assert await runner.tick() is Status.RUNNING
        await asyncio.sleep(0)  # (its task's step, which finishes it)
    return await runner.tick(), runner.polling


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, Status.SUCCESS),
        (False, Status.FAILURE),
        (None, Status.FAILURE),
        (Status.SUCCESS, Status.SUCCESS),
        (Status.FAILURE, Status.FAILURE),
    ],
)
async def test_an_async_condition_accepts_a_bool_none_success_or_failure_on_every_path(
    path: str, value: Any, expected: Status
) -> None:
    assert await result_of("condition", path, value) == (expected, False)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, Status.SUCCESS), (True, Status.SUCCESS), (False, Status.FAILURE), *((s, s) for s in Status)],
)
async def test_an_async_action_returns_a_status_a_bool_or_none_on_every_path(
    path: str, value: Any, expected: Status
) -> None:
    assert await result_of("action", path, value) == (expected, expected is Status.RUNNING)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("kind", "value"),
    [("condition", 1), ("condition", "yes"), ("condition", Status.RUNNING), ("action", 0), ("action", "ok")],
)
async def test_an_async_leaf_returning_what_it_may_not_is_refused_on_every_path(
    path: str, kind: str, value: Any
) -> None:
    name = "work" if kind == "action" else "ready"
    said = f"{kind} '{name}' in tree 'Returns' returned {value!r}"
    with pytest.raises(InvalidStatusError, match=said) as info:
        await result_of(kind, path, value)
    assert info.value.node == name
