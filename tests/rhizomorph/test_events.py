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
from tests._observing import CountingClock, Recorder

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


def _steps() -> Any:
    """sequence main: five actions a..e, each SUCCESS at once: seven records in a tick."""
    b = TreeBuilder("Steps")
    b.root(b.sequence("main", *(b.action(lambda: S, name=n) for n in "abcde")))
    return b.build()


def _halting() -> Any:
    """selector main (reactive): ready (FAILURE, then SUCCESS), then wait, RUNNING until halted."""
    ready = [F, S, S]

    async def wait(timebase: Any) -> Status:
        await timebase.sleep(60)
        return S  # pragma: no cover

    b = TreeBuilder("Halting")
    b.root(b.selector("main", b.condition(lambda: ready.pop(0), name="ready"), b.action(wait), memory=False))
    return b.build()


@pytest.mark.parametrize("asks", [False, True], ids=["statuses", "tick starts too"])
@pytest.mark.parametrize(("make", "before"), [(_steps, 0), (_halting, 1)], ids=["steps", "a halt"])
async def test_once_the_last_observer_is_detached_the_rest_of_the_tick_builds_no_record(
    make: Any, before: int, asks: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Detaching the last observer (it raised) swapped the runner back to its plain program for the
    # next tick, but the rest of this one went on in the observed program: every status change,
    # halt and the TickFinished after it were built (a clock reading each) for nobody.
    told: list[str] = []

    def raising(event: Event) -> None:
        told.append(type(event).__name__)
        raise RuntimeError("observer bug")

    if asks:
        raising = wants_all(raising)  # raises on the TickStarted
    clock = CountingClock()
    runner = Runner(make(), {}, clock)
    for _ in range(before):  # (the halting tree: wait runs, halted by the tick observed)
        await runner.tick()
    runner.add_observer(raising)
    reads = clock.reads
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.rhizomorph"):
        assert await runner.tick() is S
    assert caplog.text.count("is detached") == 1
    assert told == ["TickStarted" if asks else "NodeStatusChanged"]
    assert clock.reads - reads == 1  # the record it raised on
    later = Recorder()  # one attached afterwards is told everything
    runner.add_observer(later)
    await runner.tick()
    assert [brief(e)[0] for e in later] == ["tick", "ticked"]  # (its statuses are as they were)
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


def _late_tree(attach: Any, where: str) -> Any:
    """main (reactive): attach, pick (reactive: urgent, else rounds of walk), report.  Tick 1 leaves
    walk RUNNING; at tick 2 urgent holds: pick halts rounds (walk's halt hook raises) and succeeds."""

    def attaching(bb: dict[str, Any]) -> Status:
        if where == "leaf" and bb["urgent"]:
            attach()
        return S

    async def attaching_async(bb: dict[str, Any]) -> Status:
        if bb["urgent"]:
            attach()  # in the coroutine's eager start: still inside the tick
        return S

    def hook() -> None:
        if where == "halt hook":
            attach()
        raise RuntimeError("hook")

    b = TreeBuilder("Late")
    first = b.action(attaching_async if where == "async leaf" else attaching, name="attach")
    walk = b.action(lambda: R, name="walk", on_halt=hook)
    urgent = b.condition(lambda bb: bb["urgent"], name="urgent")
    pick = b.selector("pick", urgent, b.sequence("rounds", walk), memory=False)
    b.root(b.sequence("main", first, pick, b.action(lambda: S, name="report"), memory=False))
    return b.build()


@pytest.mark.parametrize("where", ["leaf", "async leaf", "halt hook", "between ticks"])
async def test_an_observer_attached_during_a_tick_is_told_the_rest_of_that_tick(
    where: str, clock: ManualClock
) -> None:
    # The first observer switched the runner to its observed program, but the tick under way went
    # on in the plain one: the observer was told nothing of it, not even that it ended.
    bb = {"urgent": False}
    seen = Recorder()

    def attach() -> None:
        if not runner._observers:  # (once)
            runner.add_observer(seen)

    runner = Runner(_late_tree(attach, where), bb, clock)
    assert await runner.tick() is R
    bb["urgent"] = True
    if where == "between ticks":
        runner.add_observer(seen)
    assert await runner.tick() is S
    assert await runner.tick() is S
    rest_of_tick_2 = [
        ("cleanup failed", "main/pick/rounds/walk", "halt hook", "RuntimeError('hook')"),
        ("halted", "main/pick/rounds/walk", 0.0),
        ("halted", "main/pick/rounds", 0.0),
        ("status", "main/pick", "RUNNING", "SUCCESS"),
        ("status", "main/report", None, "SUCCESS"),
        ("status", "main", "RUNNING", "SUCCESS"),
        ("ticked", 2, "SUCCESS", 0.0),
    ]
    urgent = [("status", "main/pick/urgent", "FAILURE", "SUCCESS")]
    expected = {
        "between ticks": [("tick", 2, 0.0), *urgent, *rest_of_tick_2],
        "leaf": urgent + rest_of_tick_2,
        "async leaf": urgent + rest_of_tick_2,
        "halt hook": rest_of_tick_2,
    }[where]
    tick_3 = [("tick", 3, 0.0), ("ticked", 3, "SUCCESS", 0.0)]
    assert [brief(e) for e in seen] == expected + tick_3
    assert runner.status.__class__ is list  # the tick over, nothing is watched write by write
    await runner.aclose()


@pytest.mark.parametrize("late", [False, True], ids=["attached-before", "attached-by-the-hook"])
async def test_an_observer_attached_by_a_halt_hook_a_timeout_runs_is_told_the_halts_under_way(
    late: bool, clock: ManualClock
) -> None:
    # The timeout's timer halts limit/rounds with the plain program's functions (no observer then):
    # attached by walk's hook, an observer is told walk's halt and rounds', which end after it came.
    seen = Recorder()

    def hook() -> None:
        if late:
            runner.add_observer(seen)

    b = TreeBuilder("Limited")
    walk = b.action(lambda: R, name="walk", on_halt=hook)
    b.root(b.timeout(5, b.sequence("rounds", walk), name="limit"))
    runner = Runner(b.build(), None, clock)
    if not late:
        runner.add_observer(seen)
    assert await runner.tick() is R
    told = len(seen)
    await clock.run_for(6)
    assert await runner.tick() is F
    halts = [("halted", "limit/rounds/walk", 5.0), ("halted", "limit/rounds", 5.0)]
    before = [] if late else [("timed out", "limit", 5, 5.0)]
    tick_2 = [("tick", 2, 6.0), ("status", "limit", "RUNNING", "FAILURE"), ("ticked", 2, "FAILURE", 6.0)]
    assert [brief(e) for e in seen[0 if late else told :]] == before + halts + tick_2
