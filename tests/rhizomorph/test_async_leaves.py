"""Async leaves that finish without suspending cost no task; those that suspend keep every guarantee."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from mycorrhizal.common import ManualClock
from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder, bt


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
