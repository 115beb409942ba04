"""A runner at rest renewed for another run (what a bt= transition does per token), and a run taken
without a coroutine while its first tick decides it."""

import asyncio
from typing import Any

from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder


def counting_tree(gate: asyncio.Future[None] | None = None) -> Any:
    """retry(3) over an action failing its first two runs per run of the tree, then (with ``gate``)
    waiting for the gate; the blackboard counts the action's runs and records each ``ctx``."""
    b = TreeBuilder("Counting")

    async def attempt(bb: dict[str, Any], ctx: Any) -> Status:
        bb["runs"] += 1
        bb["contexts"].append(ctx)
        if bb["runs"] % 3:
            return Status.FAILURE
        if gate is not None:
            await gate
        return Status.SUCCESS

    b.root(b.retry(3, b.action(attempt)))
    return b.build()


async def test_a_renewed_runner_starts_afresh_over_the_new_blackboard_and_ctx() -> None:
    first: dict[str, Any] = {"runs": 0, "contexts": []}
    runner = Runner(counting_tree(), first, ctx="a")
    assert await runner.tick_until_complete() is Status.SUCCESS
    second: dict[str, Any] = {"runs": 0, "contexts": []}
    assert runner._renew(second, "b")
    assert runner.ticks == 0 and runner.last_status is None and set(runner.statuses().values()) == {None}
    assert await runner.tick_until_complete() is Status.SUCCESS
    # The retry counted again from zero: its count from the first run was not carried over.
    assert first == {"runs": 3, "contexts": ["a"] * 3} and second == {"runs": 3, "contexts": ["b"] * 3}


async def test_a_runner_not_at_rest_is_not_renewed() -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()
    bb: dict[str, Any] = {"runs": 0, "contexts": []}
    runner = Runner(counting_tree(gate), bb)
    assert await runner.tick() is Status.RUNNING
    assert not runner._renew({}, None)  # RUNNING: its run is not over
    gate.set_result(None)
    assert await runner.tick_until_complete() is Status.SUCCESS
    runner.add_observer(lambda event: None)
    assert not runner._renew({}, None)  # watched: its observers expect this run's records
    closed = Runner(counting_tree(), {"runs": 0, "contexts": []})
    await closed.aclose()
    assert not closed._renew({}, None)
    assert runner.bb is bb


async def test_a_run_at_once_is_tick_until_complete_without_a_coroutine() -> None:
    loop = asyncio.get_running_loop()
    quick: dict[str, Any] = {"runs": 2, "contexts": []}
    assert Runner(counting_tree(), quick)._run_at_once() is Status.SUCCESS
    gate = loop.create_future()
    bb: dict[str, Any] = {"runs": 2, "contexts": []}
    runner = Runner(counting_tree(gate), bb)
    assert runner._run_at_once() is None  # it needs more ticks: the run goes on ...
    assert runner.ticks == 1
    going_on = asyncio.ensure_future(runner._run_on())
    await asyncio.sleep(0)
    assert not going_on.done() and runner.ticks == 1  # ... waiting for the leaf, not polling
    gate.set_result(None)
    assert await going_on is Status.SUCCESS and runner.ticks == 2
    assert await runner.tick_until_complete() is Status.SUCCESS  # the runner is free for another run
