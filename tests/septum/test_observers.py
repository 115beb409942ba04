"""Observers: the exact events of a small scenario, and attaching and detaching them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common import ExecutionError, HandlerError, ManualClock, PopFromEmptyStack
from mycorrhizal.common.observers import wants_all
from mycorrhizal.septum import (
    HandlerFailed,
    LabeledTransition,
    MachineEvent,
    MessageHandled,
    Pop,
    Push,
    Retry,
    StateConfiguration,
    StateEntered,
    StateLeft,
    StateMachine,
    StateRetried,
    StepCancelled,
    TimeoutFired,
    engine,
    events,
    septum,
    telling,
)
from tests._observing import Recorder

from ..runtimes import Broken, E, Idle


def summary(event: MachineEvent) -> tuple[Any, ...]:
    """The fields that matter, without source and time."""
    if isinstance(event, StateEntered):
        return ("entered", event.state, event.previous, event.label)
    if isinstance(event, StateLeft):
        return ("left", event.state, event.label, event.target)
    if isinstance(event, MessageHandled):
        return ("handled", event.state, event.message, event.label)
    if isinstance(event, TimeoutFired):
        return ("timeout", event.state)
    if isinstance(event, StateRetried):
        return ("retried", event.state, event.retry, event.label)
    if isinstance(event, StepCancelled):
        return ("cancelled", event.state, event.role, event.message)
    assert isinstance(event, HandlerFailed)
    return ("failed", event.state, event.role, event.message, type(event.error.__cause__), event.routed_to)


async def test_the_events_of_a_scenario_in_order() -> None:
    """A transition, a retry, a timeout, a cancelled step and a failure routed to the error state."""
    clock = ManualClock()
    gate = asyncio.Event()
    fsm = StateMachine(Idle, error_state=Broken, timebase=clock, common_data={"gate": gate})
    events, default = Recorder(), []
    fsm.add_observer(events)
    fsm.add_observer(default.append)
    await fsm.initialize()
    fsm.send_message("work")
    await fsm.run()
    await clock.run_for(5)  # Working's timeout: the machine moves on in the background
    fsm.send_message("slow")
    caller = asyncio.create_task(fsm.run())
    await clock.run_for(0)  # the handler waits at the gate
    caller.cancel()  # the caller goes away: the step is owed again
    await asyncio.gather(caller, return_exceptions=True)
    gate.set()
    fsm.send_message("bad")
    await fsm.run()
    assert [summary(e) for e in events] == [
        ("entered", "Idle", None, None),
        ("handled", "Idle", "work", E.WORK),
        ("left", "Idle", E.WORK, "Working"),
        ("entered", "Working", "Idle", E.WORK),
        ("retried", "Working", 1, E.FAIL),
        ("left", "Working", E.FAIL, "Working"),
        ("entered", "Working", "Working", E.FAIL),
        ("timeout", "Working"),
        ("left", "Working", E.LATE, "Idle"),
        ("entered", "Idle", "Working", E.LATE),
        ("cancelled", "Idle", "on_state", "slow"),
        ("handled", "Idle", "slow", None),
        ("failed", "Idle", "on_state", "bad", KeyError, "Broken"),
        ("entered", "Broken", "Idle", None),
    ]
    # An observer that asks for nothing is told every message too: the StateEntered a message's
    # transition tells names it (MessageHandled and StateLeft are told on request), and so does
    # the error state's StateEntered; timeouts and the start handle none.
    moved = ("handled", "Idle", "work", E.WORK)
    assert [summary(e) for e in default] == [t for t in map(summary, events) if t[0] != "left" and t != moved]
    assert [(e.state, e.message) for e in default if isinstance(e, StateEntered)] == [
        ("Idle", None),
        ("Working", "work"),
        ("Working", None),  # the retry, from Working's entry run
        ("Idle", None),
        ("Broken", "bad"),
    ]
    assert {e.source for e in events} == {"Idle"}
    assert [e.time for e in events if isinstance(e, TimeoutFired)] == [5.0]
    failed = next(e for e in events if isinstance(e, HandlerFailed))
    assert isinstance(failed.error, HandlerError) and failed.error.state == "Idle"


async def test_an_unrouted_failure_is_reported_before_it_is_raised() -> None:
    fsm = StateMachine(Idle, common_data={"gate": asyncio.Event()})
    events: list[MachineEvent] = []
    fsm.add_observer(events.append)
    fsm.send_message("bad")
    with pytest.raises(HandlerError, match="state Idle: on_state raised KeyError: 'bad input'"):
        await fsm.run()
    assert summary(events[-1]) == ("failed", "Idle", "on_state", "bad", KeyError, None)


async def test_async_observers_get_every_event_in_order() -> None:
    fsm = StateMachine(Idle)
    seen: list[str] = []

    @wants_all
    async def observer(event: MachineEvent) -> None:
        seen.append(type(event).__name__)

    fsm.add_observer(observer)
    fsm.send_message("work")
    await fsm.run()
    await fsm.observers.drain()  # type: ignore[union-attr]
    assert seen[:4] == ["StateEntered", "MessageHandled", "StateLeft", "StateEntered"]


async def test_removing_the_last_observer_leaves_nothing_behind() -> None:
    fsm = StateMachine(Idle)
    events: list[MachineEvent] = []
    fsm.add_observer(events.append)
    fsm.remove_observer(events.append)
    assert fsm.observers is None  # each step is back to a single test
    fsm.send_message("work")
    await fsm.run()
    assert events == []
    with pytest.raises(ValueError, match="that observer is not attached"):
        fsm.remove_observer(events.append)


async def test_the_last_observer_detached_for_raising_leaves_nothing_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As when it is removed: the machine's steps are back to one test, and build no records.
    fsm = StateMachine(Idle)
    told: list[MachineEvent] = []

    def broken(event: MachineEvent) -> None:
        told.append(event)
        raise RuntimeError("broken observer")

    fsm.add_observer(broken)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        await fsm.initialize()
    assert len(told) == 1 and "it is detached" in caplog.text
    assert fsm.observers is None
    fsm.send_message("work")
    await fsm.run()
    fsm.add_observer(told.append)  # attached again: told from now on
    fsm.send_message("late")
    await fsm.run()
    assert [type(e).__name__ for e in told[1:]] == ["MessageHandled"]
    await fsm.aclose()


async def test_records_queued_for_a_removed_async_observer_are_delivered_by_aclose() -> None:
    # remove_observer() promises that what was queued is still delivered, and aclose() that async
    # observers have everything: removing the last one must not let aclose() skip its backlog.
    fsm = StateMachine(Plain)
    seen: list[str] = []

    async def observer(event: MachineEvent) -> None:
        for _ in range(3):  # a slow observer: its task needs several turns of the loop per record
            await asyncio.sleep(0)
        seen.append(type(event).__name__)

    fsm.add_observer(observer)
    for _ in range(3):
        fsm.send_message("work")
    await fsm.run()
    fsm.remove_observer(observer)
    await fsm.aclose()
    assert seen == ["StateEntered"] * 4  # (each names its message: MessageHandled is told on request)


@septum.state(config=StateConfiguration(retries=3))
class Stuck:
    """Retries on "again", but its on_leave raises: the state is never left, so never retried."""

    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return E.FAIL if ctx.msg == "again" else None

    @septum.on_leave
    def on_leave(ctx: Any) -> None:
        raise OSError("cannot leave")

    @septum.on_fail
    def on_fail(ctx: Any) -> Any:
        return None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(E.FAIL, Retry)]


async def test_a_retry_whose_on_leave_fails_is_not_told_as_a_retry(caplog: pytest.LogCaptureFixture) -> None:
    fsm = StateMachine(Stuck, error_state=Broken)
    events = Recorder()
    fsm.add_observer(events)
    await fsm.initialize()
    fsm.send_message("again")
    with caplog.at_level(logging.ERROR, logger="mycorrhizal.septum"):
        await fsm.run()
    assert [summary(e) for e in events] == [
        ("entered", "Stuck", None, None),
        ("handled", "Stuck", "again", E.FAIL),
        ("failed", "Stuck", "on_leave", "again", OSError, "Broken"),
        ("entered", "Broken", "Stuck", None),
    ]


@septum.state(config=StateConfiguration(can_dwell=True))
class Plain:
    @septum.on_state
    def on_state(ctx):
        return E.WORK if ctx.msg == "work" else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.WORK, Plain)]


@septum.state(config=StateConfiguration(can_dwell=True))
class Gated:
    @septum.on_state
    def on_state(ctx):
        return E.WORK if ctx.msg == "work" else None

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(E.WORK, Plain, guard=lambda ctx: False),
            LabeledTransition(E.WORK, Gated, guard=lambda ctx: True),
        ]


@pytest.mark.parametrize(
    ("initial", "on_request"),
    [(Plain, ("left", "handled")), (Gated, ("left",))],
    ids=["plain", "guarded"],
)
async def test_plain_transitions_are_reported_too(initial: Any, on_request: tuple[str, ...]) -> None:
    # initial -> initial has no hooks and no timer: it takes the fast path when nobody observes (a
    # guarded one once its guard chose it), and is reported like any other transition when someone
    # does.  A guard decides after the message is told: its MessageHandled goes to everyone.
    fsm = StateMachine(initial)
    name = initial.name
    events, default = Recorder(), []
    fsm.add_observer(events)
    fsm.add_observer(default.append)
    fsm.send_message("work")
    await fsm.run()
    assert [summary(e) for e in events] == [
        ("entered", name, None, None),
        ("handled", name, "work", E.WORK),
        ("left", name, E.WORK, name),
        ("entered", name, name, E.WORK),
    ]
    assert [summary(e) for e in default] == [summary(e) for e in events if summary(e)[0] not in on_request]
    assert [e.message for e in default if isinstance(e, StateEntered)] == [None, "work"]
    assert fsm.current_state.name == name


@pytest.mark.parametrize("initial", [Idle, Plain], ids=["full path", "fast path"])
async def test_states_left_and_messages_moving_are_told_only_to_observers_that_ask(initial: Any) -> None:
    # Each StateEntered names the state left, the label and the message: an observer that does not
    # ask for StateLeft and MessageHandled (a plain function) is told one record per transition, one
    # that asks is told all three.
    fsm = StateMachine(initial, common_data={"gate": asyncio.Event()})
    default: list[MachineEvent] = []
    asking = Recorder()
    fsm.add_observer(default.append)
    fsm.add_observer(asking)
    fsm.send_message("work")
    await fsm.run()
    told = [summary(e) for e in asking]
    assert ("left", initial.name, E.WORK, told[-1][1]) in told and (
        "handled",
        initial.name,
        "work",
        E.WORK,
    ) in told
    assert [summary(e) for e in default] == [t for t in told if t[0] not in ("left", "handled")]
    entered = next(e for e in default if isinstance(e, StateEntered) and e.previous is not None)
    assert (entered.previous, entered.label, entered.message) == (initial.name, E.WORK, "work")


@septum.state
class Caller:
    @septum.on_state
    def on_state(ctx):
        return E.WORK

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.WORK, Push(Popper))]  # nothing to come back to


@septum.state(config=StateConfiguration(can_dwell=True))
class Popper:
    @septum.on_state
    def on_state(ctx):
        return {"pop": E.FAIL, "push": E.WORK}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.FAIL, Pop), LabeledTransition(E.WORK, Push(Popper, Popper, Popper))]


@pytest.mark.parametrize(
    ("msg", "error"), [("pop", PopFromEmptyStack), ("push", ExecutionError)], ids=["empty stack", "too deep"]
)
async def test_a_message_whose_pop_or_push_is_refused_is_told_to_everyone(msg: str, error: type) -> None:
    # A Pop with nothing to pop, a Push past max_stack_depth: no StateEntered follows to name the
    # message, so its MessageHandled goes to every observer (before its error is raised).
    fsm = StateMachine(Caller, max_stack_depth=1)
    await fsm.run()
    default: list[MachineEvent] = []
    fsm.add_observer(default.append)
    fsm.send_message(msg)
    with pytest.raises(error, match="state Popper: P"):
        await fsm.run()
    assert [summary(e) for e in default] == [("handled", "Popper", msg, E.FAIL if msg == "pop" else E.WORK)]


@septum.state(config=StateConfiguration(can_dwell=True))
class Leaving:
    """Leaves for Broken on "go", its on_leave waiting for ``common["gate"]``: a move to cancel."""

    @septum.on_state
    def on_state(ctx):
        return E.WORK if ctx.msg == "go" else None

    @septum.on_leave
    async def on_leave(ctx):
        await ctx.common["gate"].wait()

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.WORK, Broken)]


async def test_a_message_whose_transition_runs_code_first_is_told_to_everyone() -> None:
    # An on_leave (or an action) may be cancelled in an await, and then no StateEntered names the
    # message: its MessageHandled goes to every observer.
    fsm = StateMachine(Leaving, common_data={"gate": asyncio.Event()})
    await fsm.initialize()
    default: list[MachineEvent] = []
    fsm.add_observer(default.append)
    fsm.send_message("go")
    caller = asyncio.create_task(fsm.run())
    for _ in range(3):  # the move waits in on_leave
        await asyncio.sleep(0)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    assert [summary(e) for e in default] == [("handled", "Leaving", "go", E.WORK)]
    assert fsm.current_state is Leaving


@septum.state(config=StateConfiguration(can_dwell=True))
class Loop:
    @septum.on_state
    async def on_state(ctx):
        return E.WORK

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.WORK, Loop)]


@septum.compound
class Box:
    """A statechart whose ticks hop between two siblings (A <-> B), each move told by chartmoves."""

    @septum.state
    class A:
        @septum.on_state
        async def on_state(ctx):
            return E.WORK

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.WORK, Box.B)]

    @septum.state
    class B:
        @septum.on_state
        async def on_state(ctx):
            return E.WORK

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.WORK, Box.A)]


@pytest.mark.parametrize(
    ("spec", "hops"),
    [(Loop, [("Loop", "Loop")] * 3), (Box, [("A", "B"), ("B", "A"), ("A", "B")])],
    ids=["flat", "statechart"],
)
async def test_a_lone_observer_on_the_fast_path_has_the_guarantees_of_any(
    caplog: pytest.LogCaptureFixture, spec: Any, hops: list[tuple[str, str]]
) -> None:
    # Loop -> Loop is told by Engine.tell, A -> B by chartmoves: both call a lone plain observer
    # directly (no emit()).
    fsm = StateMachine(spec)
    seen: list[MachineEvent] = []
    late = Recorder()

    @wants_all
    def attaching(event: MachineEvent) -> None:
        seen.append(event)
        if isinstance(event, StateLeft) and not late:
            fsm.add_observer(late)  # it takes effect from the next record on

    fsm.add_observer(attaching)
    await fsm.initialize()
    await fsm.tick()
    assert [summary(e) for e in late] == [("entered", hops[0][1], hops[0][0], E.WORK)]
    fsm.remove_observer(late)

    async def record(event: MachineEvent) -> None:
        seen.append(event)

    @wants_all
    def disguised(event: MachineEvent) -> Any:
        return record(event)  # a plain observer returning a coroutine: delivered in order

    fsm.remove_observer(attaching)
    seen.clear()
    fsm.add_observer(disguised)
    await fsm.tick()
    await fsm.observers.drain()  # type: ignore[union-attr]
    assert [summary(e) for e in seen] == [
        ("left", hops[1][0], E.WORK, hops[1][1]),
        ("entered", hops[1][1], hops[1][0], E.WORK),
    ]
    fsm.remove_observer(disguised)

    def raising(event: MachineEvent) -> None:  # asks for nothing: StateEntered is its first record
        raise RuntimeError("observer bug")

    fsm.add_observer(raising)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        assert await fsm.tick()  # the step is done, the observer detached
    assert "is detached" in caplog.text and fsm.current_state.name == hops[2][1]
    with pytest.raises(ValueError, match="that observer is not attached"):
        fsm.remove_observer(raising)


@pytest.mark.parametrize(
    ("spec", "message", "told"),
    [
        (Plain, "work", ["StateLeft"]),  # Engine.drive's plain transition
        (Gated, "work", ["MessageHandled", "StateLeft"]),  # Telling.tell, once the guard chose
        (Loop, None, ["StateLeft"]),  # Engine.entry_step
        (Box, None, ["StateLeft"]),  # chartmoves
    ],
    ids=["message", "guarded message", "entry run", "statechart"],
)
async def test_an_observer_raising_on_a_record_told_on_request_is_not_told_the_rest_of_its_step(
    caplog: pytest.LogCaptureFixture, spec: Any, message: str | None, told: list[str]
) -> None:
    # A lone observer asking for StateLeft: the hot paths test Observers.direct (None: someone
    # asks), tell those records first, and read whom to send StateEntered to only after them.
    fsm = StateMachine(spec)
    await fsm.initialize()
    seen: list[str] = []

    def left_only(event: MachineEvent) -> None:
        seen.append(type(event).__name__)
        if isinstance(event, StateLeft):
            raise RuntimeError("observer bug")

    left_only.wants = lambda kind: kind is StateLeft  # type: ignore[attr-defined]
    fsm.add_observer(left_only)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        if message is None:
            assert await fsm.tick()
        else:
            fsm.send_message(message)
            await fsm.run()
    assert seen == told and caplog.text.count("is detached") == 1 and fsm.observers is None
    assert fsm.configuration[-1].name in ("Plain", "Gated", "Loop", "B")


@pytest.mark.parametrize(
    ("spec", "plain_told"),
    [
        (Plain, ["StateEntered"]),  # Engine.drive's plain transition: tell_asked, with the message
        (Gated, ["MessageHandled", "StateEntered"]),  # told to all once the guard chose, then Telling.tell
    ],
    ids=["message", "guarded message"],
)
async def test_once_the_observer_asking_for_states_left_is_detached_no_state_left_is_built_for_the_others(
    spec: Any, plain_told: list[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The observer asking for MessageHandled and StateLeft raised on the MessageHandled and was
    # detached; the step went on testing the askers it read before it, and built the StateLeft of
    # the state left, for nobody (another observer, asking for neither, stays).
    built: list[StateLeft] = []

    def make_left(fields: tuple[Any, ...]) -> StateLeft:
        built.append(left := events.make_left(fields))
        return left

    for module in (telling, engine):  # (each calls it by its own name for it)
        monkeypatch.setattr(module, "make_left", make_left)
    told: list[str] = []

    def asking(event: MachineEvent) -> None:
        told.append(f"asking: {type(event).__name__}")
        raise RuntimeError("observer bug")

    asking.wants = lambda kind: kind in (MessageHandled, StateLeft)  # type: ignore[attr-defined]

    def plain(event: MachineEvent) -> None:  # (no wants(): told neither)
        told.append(f"plain: {type(event).__name__}")

    fsm = StateMachine(spec)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):  # (INFO off: the fast paths)
        await fsm.initialize()  # (it asks the logger about INFO: the steps read its answer)
        fsm.add_observer(asking)
        fsm.add_observer(plain)
        for _ in range(3):
            fsm.send_message("work")
            await fsm.run()
    assert caplog.text.count("is detached") == 1
    assert told == ["asking: MessageHandled", *[f"plain: {kind}" for kind in plain_told] * 3]
    assert built == []


# -- a timeout is told only when its on_timeout runs -----------------------------------------------


def _timed_leaving(log: list[str]) -> Any:
    """A state with a 5 s timeout whose ``on_leave`` takes 10 s, left by the message "go"."""

    async def on_leave(ctx: Any) -> None:
        await ctx.timebase.sleep(10)  # suspended while its timer fires: the timeout is dropped

    @septum.state(config=StateConfiguration(timeout=5.0))
    def Slow() -> None:
        @septum.on_state
        def on_state(ctx: Any) -> Any:
            return E.WORK if ctx.msg == "go" else None

        @septum.on_timeout
        def on_timeout(ctx: Any) -> None:
            log.append("on_timeout")

        septum.on_leave(on_leave)

        @septum.transitions
        def transitions() -> list[LabeledTransition]:
            return [LabeledTransition(E.WORK, Broken)]

    return Slow


async def test_a_fired_timeout_dropped_behind_a_message_is_not_told() -> None:
    clock, log = ManualClock(), []
    fsm = StateMachine(_timed_leaving(log), timebase=clock)
    events = Recorder()
    fsm.add_observer(events)
    await fsm.initialize()
    fsm.send_message("go")  # queued before the timeout fires...
    clock.advance(5)  # ...outside any loop turn: the timeout queued behind it is dropped on leaving
    task = asyncio.create_task(fsm.run())
    await clock.run_for(10)
    await task
    assert fsm.current_state is Broken and log == []
    assert not [e for e in events if isinstance(e, TimeoutFired)]


def _timed_chart(log: list[str]) -> Any:
    """A compound state whose child ``Slow`` (as in ``_timed_leaving``) moves to ``Done`` on "go"."""

    @septum.compound
    class Outer:
        @septum.state(config=StateConfiguration(timeout=5.0))
        class Slow:
            @septum.on_state
            def on_state(ctx: Any) -> Any:
                return E.WORK if ctx.msg == "go" else None

            @septum.on_timeout
            def on_timeout(ctx: Any) -> None:
                log.append("on_timeout")

            @septum.on_leave
            async def on_leave(ctx: Any) -> None:
                await ctx.timebase.sleep(10)

            @septum.transitions
            def transitions() -> list[LabeledTransition]:
                return [LabeledTransition(E.WORK, Outer.Done)]

        @septum.state(config=StateConfiguration(can_dwell=True))
        class Done:
            @septum.on_state
            def on_state(ctx: Any) -> None:
                pass

    return Outer


@pytest.mark.parametrize(
    ("make", "lands"), [(_timed_leaving, "Broken"), (_timed_chart, "Done")], ids=["flat", "chart"]
)
async def test_a_timeout_that_fires_while_its_state_is_left_is_not_told(make: Any, lands: str) -> None:
    clock, log = ManualClock(), []
    fsm = StateMachine(make(log), timebase=clock)
    events = Recorder()
    fsm.add_observer(events)
    await fsm.initialize()
    fsm.send_message("go")
    task = asyncio.create_task(fsm.run())
    await clock.run_for(10)  # the timer fires at 5, during on_leave: the state is left anyway
    await task
    assert fsm.current_state.name == lands and log == []  # its on_timeout never ran...
    assert not [e for e in events if isinstance(e, TimeoutFired)]  # ...so no record says it fired


async def test_a_timeout_is_told_when_its_on_timeout_runs() -> None:
    clock, log = ManualClock(), []
    for initial in (_timed_leaving(log), _timed_chart(log)):
        fsm = StateMachine(initial, timebase=clock)
        events = Recorder()
        fsm.add_observer(events)
        await fsm.initialize()
        await clock.run_for(5)  # nobody runs the machine: its timer does
        assert log == ["on_timeout"] and [summary(e) for e in events][-1] == ("timeout", "Slow")
        log.clear()
