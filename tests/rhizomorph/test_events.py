"""Observers of a tree's runner: the exact records of a run with a failure, a timeout and halts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.common.observers import Event, wants_all
from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder
from mycorrhizal.rhizomorph.events import (
    CleanupFailed,
    LeafFailed,
    NodeHalted,
    NodeStatusChanged,
    TickFinished,
    TickStarted,
    TimedOut,
)
from tests._observing import Recorder

from ..runtimes import patrol_tree

S, F, R = Status.SUCCESS, Status.FAILURE, Status.RUNNING


def brief(event: Event) -> tuple[Any, ...]:
    """An event as a short tuple: what happened, to which node, at what time."""
    if isinstance(event, TickStarted):
        return ("tick", event.tick, event.time)
    if isinstance(event, TickFinished):
        return ("ticked", event.tick, event.status.name, event.time)
    if isinstance(event, NodeStatusChanged):
        old = event.old.name if event.old is not None else None
        return ("status", event.path, old, event.new.name)
    if isinstance(event, NodeHalted):
        return ("halted", event.path, event.time)
    if isinstance(event, LeafFailed):
        outcome = event.outcome.name if event.outcome is not None else None
        return ("failed", event.path, repr(event.error), outcome)
    if isinstance(event, TimedOut):
        return ("timed out", event.path, event.seconds, event.time)
    if isinstance(event, CleanupFailed):
        return ("cleanup failed", event.path, event.during, repr(event.error))
    raise AssertionError(event)


async def test_a_run_with_a_failure_a_timeout_and_halts_reports_exactly_this() -> None:
    clock = ManualClock()
    runner = Runner(patrol_tree("Demo"), {}, clock)
    seen = Recorder()
    runner.add_observer(seen)

    assert await runner.tick() is R
    await clock.run_for(5)  # the timeout halts slow at its deadline
    assert await runner.tick() is F
    assert await runner.tick() is R  # a second attempt: flaky fails again, slow starts again
    await runner.aclose()  # halts what runs, children first

    assert [brief(e) for e in seen] == [
        ("tick", 1, 0.0),
        ("failed", "main/flaky", "ValueError('flaky')", "FAILURE"),
        ("status", "main/flaky", None, "FAILURE"),
        ("status", "main/limit/slow", None, "RUNNING"),
        ("status", "main/limit", None, "RUNNING"),
        ("status", "main", None, "RUNNING"),
        ("ticked", 1, "RUNNING", 0.0),
        ("timed out", "main/limit", 5, 5.0),
        ("halted", "main/limit/slow", 5.0),
        ("tick", 2, 5.0),
        ("status", "main/limit", "RUNNING", "FAILURE"),
        ("status", "main", "RUNNING", "FAILURE"),
        ("ticked", 2, "FAILURE", 5.0),
        ("tick", 3, 5.0),
        ("failed", "main/flaky", "ValueError('flaky')", "FAILURE"),
        ("status", "main/limit/slow", "CANCELLED", "RUNNING"),
        ("status", "main/limit", "FAILURE", "RUNNING"),
        ("status", "main", "FAILURE", "RUNNING"),
        ("ticked", 3, "RUNNING", 5.0),
        ("halted", "main/limit/slow", 5.0),
        ("halted", "main/limit", 5.0),
        ("halted", "main", 5.0),
    ]
    assert {e.source for e in seen} == {"Demo"}


@pytest.mark.parametrize("attach", ["before", "after"], ids=["attached-first", "attached-while-running"])
async def test_a_timeout_tells_the_halt_of_its_child_to_an_observer_attached_while_it_ran(
    attach: str,
) -> None:
    # The timeout's timer was set by the tick before the observer came (the runner's plain program):
    # the observer is told the child's halt at the deadline, as it is told the timeout.
    clock = ManualClock()
    runner = Runner(patrol_tree("Demo"), {}, clock)
    seen = Recorder()
    if attach == "before":
        runner.add_observer(seen)
    assert await runner.tick() is R
    if attach == "after":
        runner.add_observer(seen)
    await clock.run_for(5)
    assert [brief(e) for e in seen][-2:] == [
        ("timed out", "main/limit", 5, 5.0),
        ("halted", "main/limit/slow", 5.0),
    ]
    await runner.aclose()


async def test_a_propagated_failure_is_reported_before_the_tick_raises() -> None:
    def broken() -> Status:
        raise KeyError("k")

    b = TreeBuilder("Broken")
    b.root(b.sequence("main", b.action(broken)))
    runner = Runner(b.build())
    seen = Recorder()
    runner.add_observer(seen)
    with pytest.raises(Exception, match="raised KeyError"):
        await runner.tick()
    assert [brief(e) for e in seen] == [
        ("tick", 1, seen[0].time),
        ("failed", "main/broken", "KeyError('k')", None),
    ]


async def test_failing_cleanup_is_reported_and_halting_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def hook() -> None:
        raise RuntimeError("hook")

    async def stubborn(timebase: Any) -> Status:
        try:
            await timebase.sleep(60)
        finally:
            raise OSError("unwinding")
        return S  # pragma: no cover

    clock = ManualClock()
    b = TreeBuilder("Messy")
    b.root(b.parallel("both", b.action(lambda: R, name="poll", on_halt=hook), b.action(stubborn)))
    runner = Runner(b.build(), None, clock)
    seen: list[Event] = []
    runner.add_observer(seen.append)
    await runner.tick()
    await runner.aclose()
    failures = [brief(e) for e in seen if isinstance(e, CleanupFailed)]
    assert failures == [
        ("cleanup failed", "both/poll", "halt hook", "RuntimeError('hook')"),
        ("cleanup failed", "both/stubborn", "cancellation", "OSError('unwinding')"),
    ]
    assert "the halt hook of 'poll' raised" in caplog.text


async def test_without_observers_the_runner_runs_the_plain_program() -> None:
    runner = Runner(patrol_tree("Demo"), {}, ManualClock())
    plain = runner._program
    seen: list[Event] = []
    runner.add_observer(seen.append)
    assert runner._program is not plain and runner._program.observed
    runner.remove_observer(seen.append)
    assert runner._program is plain
    await runner.tick()
    assert seen == []
    with pytest.raises(ValueError, match="tree 'Demo': remove_observer"):
        runner.remove_observer(seen.append)
    await runner.aclose()


async def test_the_last_observer_detached_for_raising_leaves_the_plain_program(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As when it is removed: the runner goes back to the program that builds no records.
    runner = Runner(patrol_tree("Demo"), {}, ManualClock())
    plain = runner._program
    told: list[Event] = []

    def broken(event: Event) -> None:
        told.append(event)
        raise RuntimeError("broken observer")

    runner.add_observer(broken)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.rhizomorph"):
        await runner.tick()
    assert len(told) == 1 and "it is detached" in caplog.text
    assert runner._program is plain
    runner.add_observer(told.append)  # attached again: told from now on
    await runner.tick()
    assert [type(e) for e in told[1:]] == [TickFinished] and told[1].tick == 2  # type: ignore[attr-defined]
    await runner.aclose()


async def test_async_observers_get_every_event_in_order_by_aclose() -> None:
    got: list[Any] = []

    @wants_all
    async def slow_observer(event: Event) -> None:
        await asyncio.sleep(0)
        got.append(brief(event)[0])

    runner = Runner(patrol_tree("Demo"), {}, ManualClock())
    runner.add_observer(slow_observer)
    await runner.tick()
    await runner.aclose()  # drains the observer's queue
    assert got[0] == "tick" and got[-1] == "halted" and len(got) == 10


async def test_on_tick_still_sees_every_tick_with_observers_attached() -> None:
    ticks: list[Status] = []
    runner = Runner(patrol_tree("Demo"), {}, ManualClock(), on_tick=lambda rt, status: ticks.append(status))
    runner.add_observer(lambda event: None)
    await runner.tick()
    await runner.aclose()
    assert ticks == [R]


async def test_tick_starts_are_told_only_to_observers_that_ask_for_them() -> None:
    runner = Runner(patrol_tree("Demo"), {}, ManualClock())
    default: list[Event] = []
    asking = Recorder()
    runner.add_observer(default.append)
    runner.add_observer(asking)
    await runner.tick()
    await runner.aclose()
    told = [brief(e) for e in asking]
    assert told[0] == ("tick", 1, 0.0)  # TickFinished repeats the number: its start is on request
    assert [brief(e) for e in default] == [t for t in told if t[0] != "tick"]
