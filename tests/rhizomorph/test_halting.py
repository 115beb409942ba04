"""Halting: whatever a parent stops ticking is cancelled, and its halt hook runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.rhizomorph import ErrorPolicy, Runner, Status, TreeBuilder, bt


class Probe:
    """An async action's life: started, finished or cancelled (and halt hook calls)."""

    def __init__(self, name: str, seconds: float, result: Status = Status.SUCCESS) -> None:
        self.name = name
        self.seconds = seconds
        self.result = result
        self.events: list[str] = []

    def node(self, b: TreeBuilder) -> Any:
        async def work(timebase: ManualClock) -> Status:
            self.events.append("started")
            try:
                await timebase.sleep(self.seconds)
            except asyncio.CancelledError:
                self.events.append("cancelled")
                raise
            self.events.append("finished")
            return self.result

        def halt() -> None:
            self.events.append("halt hook")

        return b.action(work, name=self.name, on_halt=halt)


async def test_a_timed_out_action_coroutine_is_cancelled(clock: ManualClock) -> None:
    b = TreeBuilder("Slow")
    slow = Probe("slow", 100)
    b.root(b.timeout(5, slow.node(b)))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(5)
    assert await run is Status.FAILURE
    # The halt hook ran at the deadline, and the coroutine got CancelledError at its await.
    assert slow.events == ["started", "halt hook", "cancelled"]
    assert runner.statuses()["slow"] is Status.CANCELLED
    await clock.run_for(200)
    assert "finished" not in slow.events


async def test_parallel_cancels_the_children_it_no_longer_needs(clock: ManualClock) -> None:
    b = TreeBuilder("Race")
    fast, slow = Probe("fast", 1), Probe("slow", 10)
    b.root(b.parallel("race", fast.node(b), slow.node(b), success_threshold=1))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(1)
    assert await run is Status.SUCCESS
    assert fast.events == ["started", "finished"]
    assert slow.events == ["started", "halt hook", "cancelled"]


async def test_reactive_selector_cancels_the_branch_it_switches_away_from(clock: ManualClock) -> None:
    b = TreeBuilder("Patrol")
    patrol = Probe("patrol", 60)
    alarm = b.condition(lambda bb: bb["alarm"], name="alarm")
    b.root(b.selector("main", alarm, patrol.node(b), memory=False))
    bb = {"alarm": False}
    runner = Runner(b.build(), bb, clock)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(1)
    bb["alarm"] = True
    assert await runner.tick() is Status.SUCCESS
    await runner.settle()
    assert patrol.events == ["started", "halt hook", "cancelled"]


async def test_reset_halts_everything_running(clock: ManualClock) -> None:
    b = TreeBuilder("Both")
    one, two = Probe("one", 10), Probe("two", 20)
    b.root(b.timeout(30, b.parallel("both", one.node(b), two.node(b))))
    runner = Runner(b.build(), {}, clock)
    assert await runner.tick() is Status.RUNNING
    assert clock.pending == 3  # two sleepers and the timeout's timer
    runner.reset()
    await runner.settle()
    assert one.events == two.events == ["started", "halt hook", "cancelled"]
    assert clock.pending == 0
    assert not runner.running
    assert await runner.tick() is Status.RUNNING  # and it starts afresh
    assert one.events[-1] == two.events[-1] == "started"


async def test_cancelling_tick_until_complete_halts_the_tree(clock: ManualClock) -> None:
    b = TreeBuilder("Long")
    job = Probe("job", 100)
    b.root(job.node(b))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(1)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await runner.settle()
    assert job.events == ["started", "halt hook", "cancelled"]


@pytest.mark.parametrize(
    "gate",
    [
        pytest.param(
            lambda b, cond, child: b.sequence("main", cond, child, memory=False), id="reactive sequence"
        ),
        pytest.param(lambda b, cond, child: b.guard(cond, child), id="guard"),
    ],
)
async def test_a_condition_turning_false_cancels_the_running_child_once(
    clock: ManualClock, gate: Any
) -> None:
    b = TreeBuilder("Gated")
    work = Probe("work", 60)
    b.root(gate(b, b.condition(lambda bb: bb["ok"], name="ok"), work.node(b)))
    bb = {"ok": True}
    runner = Runner(b.build(), bb, clock)
    assert await runner.tick() is Status.RUNNING
    bb["ok"] = False
    assert await runner.tick() is Status.FAILURE
    assert await runner.tick() is Status.FAILURE
    runner.reset()
    await runner.settle()
    assert work.events == ["started", "halt hook", "cancelled"]  # halted once, not again by reset


async def test_halting_recurses_through_nested_composites(clock: ManualClock) -> None:
    b = TreeBuilder("Deep")
    deep = Probe("deep", 50)
    inner = b.sequence("inner", b.retry(2, b.repeat(2, deep.node(b))))
    b.root(b.timeout(1, b.selector("outer", b.sequence("middle", inner))))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(1)
    assert await run is Status.FAILURE
    assert deep.events == ["started", "halt hook", "cancelled"]
    halted = {k for k, v in runner.statuses().items() if v is Status.CANCELLED}
    assert halted == {"inner", "retry_repeat_deep", "repeat_deep", "deep", "outer", "middle"}


async def test_a_halt_hook_that_raises_is_logged_and_halting_goes_on(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    cancelled: list[str] = []

    @bt.tree
    def Hooks() -> None:
        def broken() -> None:
            raise RuntimeError("hook failed")

        @bt.action(on_halt=broken)
        def first() -> Status:
            return Status.RUNNING

        @bt.action(on_halt=lambda: cancelled.append("second"))
        def second() -> Status:
            return Status.RUNNING

        @bt.root
        @bt.parallel
        def both() -> Any:
            yield first
            yield second

    runner = Runner(Hooks, {}, clock)
    await runner.tick()
    runner.reset()
    assert cancelled == ["second"]
    assert "halt hook of 'first' raised" in caplog.text


async def test_an_async_leaf_whose_task_is_cancelled_by_someone_else_reports_cancelled(
    clock: ManualClock,
) -> None:
    async def gives_up(timebase: ManualClock) -> Status:
        await timebase.sleep(1)
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # not the tree's doing
        await asyncio.sleep(0)
        return Status.SUCCESS

    b = TreeBuilder("Outside")
    b.root(b.action(gives_up))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(1)
    assert await run is Status.CANCELLED


async def test_halting_a_leaf_whose_coroutine_already_finished_skips_its_halt_hook(
    clock: ManualClock,
) -> None:
    b = TreeBuilder("Done")
    job = Probe("job", 1)
    b.root(job.node(b))
    runner = Runner(b.build(), {}, clock)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(1)  # finished, but no tick has collected the result yet
    runner.reset()
    assert job.events == ["started", "finished"]
    assert runner.statuses()["job"] is Status.CANCELLED


async def test_a_parallel_decided_in_the_tick_that_started_a_child_cancels_it(clock: ManualClock) -> None:
    b = TreeBuilder("Doomed")
    slow = Probe("slow", 10)
    b.root(b.parallel("both", slow.node(b), b.action(lambda bb: Status.FAILURE, name="refuse")))
    runner = Runner(b.build(), {}, clock)
    assert await runner.tick() is Status.FAILURE
    await runner.settle()
    assert slow.events == ["started", "halt hook", "cancelled"]
    assert clock.pending == 0  # its sleep's timer went with it


async def test_a_timeout_halts_every_branch_of_a_parallel_below_it(clock: ManualClock) -> None:
    b = TreeBuilder("Fleet")
    probes = [Probe(f"p{k}", 100) for k in range(3)]
    b.root(b.timeout(5, b.parallel("fleet", *(b.sequence(f"s{k}", p.node(b)) for k, p in enumerate(probes)))))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(5)
    assert await run is Status.FAILURE
    assert [p.events for p in probes] == [["started", "halt hook", "cancelled"]] * 3


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_with_propagate_the_leaf_that_raised_is_not_halted_but_its_running_sibling_is(
    is_async: bool,
) -> None:
    """Issue 8 #6: the leaf's own call is over when it raises; only the others still running are halted."""
    hooks: list[str] = []
    clock = ManualClock()

    def raise_on_second_tick(bb: dict[str, int]) -> Status:
        bb["ticks"] += 1
        if bb["ticks"] == 2:
            raise ValueError("second tick")
        return Status.RUNNING

    async def raise_after_a_while(timebase: ManualClock) -> Status:
        await timebase.sleep(1)
        raise ValueError("after a while")

    b = TreeBuilder("Propagating")
    failing = (
        b.action(raise_after_a_while, name="failing", on_halt=lambda: hooks.append("failing"))
        if is_async
        else b.action(raise_on_second_tick, name="failing", on_halt=lambda: hooks.append("failing"))
    )
    sibling = b.action(lambda: Status.RUNNING, name="sibling", on_halt=lambda: hooks.append("sibling"))
    b.root(b.parallel("both", failing, sibling))
    runner = Runner(b.build(), {"ticks": 0}, clock)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(1)
    with pytest.raises(Exception, match="raised ValueError"):
        await runner.tick()
    assert hooks == ["sibling"]
    assert runner.statuses()["failing"] is Status.ERROR
    assert not runner.running


@pytest.mark.parametrize("policy", [ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE, ErrorPolicy.ERROR])
async def test_a_parallel_decided_as_a_sibling_raised_logs_the_exception_it_discards(
    clock: ManualClock, caplog: pytest.LogCaptureFixture, policy: ErrorPolicy
) -> None:
    """The sibling's task raised, but the parallel was decided before a tick collected it: halted,
    it reports nothing; its exception is not silently lost, whatever the error policy."""

    async def fast(timebase: ManualClock) -> Status:
        await timebase.sleep(1)
        return Status.SUCCESS

    async def doomed(timebase: ManualClock) -> Status:
        await timebase.sleep(1)
        raise ConnectionError("lost the line")

    b = TreeBuilder("Race")
    b.root(b.parallel("race", b.action(fast), b.action(doomed), success_threshold=1))
    runner = Runner(b.build(), {}, clock, on_error=policy)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(1)  # both finished; no tick has collected either yet
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.rhizomorph"):
        assert await runner.tick() is Status.SUCCESS  # fast decided it; doomed was halted
    [record] = [r for r in caplog.records if r.name == "mycorrhizal.rhizomorph"]
    assert record.levelno == logging.WARNING
    assert "Race" in record.getMessage() and "'doomed'" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ConnectionError)
    assert runner.statuses()["doomed"] is Status.CANCELLED


async def test_a_halted_leaf_that_finished_with_a_result_logs_nothing(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A discarded result is no fault (the docs say so): only a discarded exception is logged."""
    b = TreeBuilder("Race")
    fast, also = Probe("fast", 1), Probe("also", 1)
    b.root(b.parallel("race", fast.node(b), also.node(b), success_threshold=1))
    runner = Runner(b.build(), {}, clock)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(1)
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.rhizomorph"):
        assert await runner.tick() is Status.SUCCESS
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert also.events == ["started", "finished"]  # no halt hook: its work was done
