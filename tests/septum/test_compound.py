"""Compound states: enter/leave order across levels (UML/SCXML), labels bubbling, per-level timeouts
and retries, completion."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import ExecutionError, HandlerError, ManualClock
from mycorrhizal.septum import (
    Again,
    HandlerFailed,
    LabeledTransition,
    Pop,
    Push,
    Retry,
    StateConfiguration,
    StateEntered,
    StateLeft,
    StateMachine,
    StateMachineComplete,
    StateRetried,
    septum,
)
from mycorrhizal.septum.compound import Completed
from tests._observing import Recorder
from tests.septum._charts import box, check_told_in_full, drain, final, leaf, names, on, regions
from tests.septum._helpers import E


def three_levels() -> tuple[Any, dict[str, Any]]:
    """Outer > Middle > (A, B); Outer > C; and Away outside.  A -GO-> B, B -BACK-> A (declared in
    Middle), A/B -SKIP-> C (declared in Outer), C -DONE-> Away."""
    away = final("Away")
    a = leaf("A", on_state=on({"go": E.GO, "back": E.BACK, "skip": E.SKIP, "out": E.DONE}))
    b = leaf("B", on_state=on({"back": E.BACK, "skip": E.SKIP, "out": E.DONE}))
    c = leaf("C", on_state=on({"out": E.DONE}))
    a_t = [LabeledTransition(E.GO, b)]
    a_cls = septum.state(type("A", (), {**_roles(a), "transitions": septum.transitions(lambda: a_t)}))
    middle = box("Middle", a_cls, b, transitions=lambda: [LabeledTransition(E.BACK, a_cls)])
    outer = box(
        "Outer",
        middle,
        c,
        transitions=lambda: [LabeledTransition(E.SKIP, c), LabeledTransition(E.DONE, away)],
    )
    return outer, {"A": a_cls, "B": b, "C": c, "Middle": middle, "Away": away}


def _roles(state: Any) -> dict[str, Any]:
    return {role: getattr(septum, role)(fns[0]) for role, fns in state.handlers.items()}


async def test_entering_enters_outermost_first_down_to_the_initial_leaf() -> None:
    outer, _ = three_levels()
    fsm = StateMachine(outer)
    await fsm.initialize()
    assert drain(fsm) == ["enter Outer", "enter Middle", "enter A"]
    assert names(fsm.configuration) == ["Outer", "Middle", "A"] and fsm.current_state.name == "A"


@pytest.mark.parametrize(
    ("messages", "log", "where"),
    [
        (["go"], ["leave A", "enter B"], ["Outer", "Middle", "B"]),
        # BACK is declared on Middle, the source: a transition from Middle to its own child leaves
        # and re-enters Middle (every transition is external, as in SCXML).
        (["go", "back"], ["leave B", "leave Middle", "enter Middle", "enter A"], ["Outer", "Middle", "A"]),
        # SKIP is declared on Outer: leaving for Outer's own child C leaves and re-enters Outer too.
        (["skip"], ["leave A", "leave Middle", "leave Outer", "enter Outer", "enter C"], ["Outer", "C"]),
        (["out"], ["leave A", "leave Middle", "leave Outer", "enter Away"], ["Away"]),
        (["skip", "out"], ["leave C", "leave Outer", "enter Away"], ["Away"]),
    ],
)
async def test_leaving_exits_innermost_first_and_entering_enters_outermost_first(
    messages: list[str], log: list[str], where: list[str]
) -> None:
    outer, _ = three_levels()
    fsm = StateMachine(outer)
    await fsm.run()
    for msg in messages:
        drain(fsm)
        fsm.send_message(msg)
        await fsm.run()
    assert drain(fsm) == log and names(fsm.configuration) == where


@pytest.mark.parametrize(
    ("messages", "left", "told_to_all"),
    [
        (["go"], ["A"], []),  # a sibling hop leaves only its source
        (["go", "back"], ["B", "Middle"], ["B"]),  # BACK is Middle's: B is left too, no record names it
        (["skip"], ["A", "Middle", "Outer"], ["A", "Middle"]),  # SKIP is Outer's
        (["out"], ["A", "Middle", "Outer"], ["A", "Middle"]),
    ],
)
async def test_a_charts_transition_tells_its_sources_state_left_on_request_and_the_others_to_all(
    messages: list[str], left: list[str], told_to_all: list[str]
) -> None:
    # The StateEntered records of a transition name its source (previous) and its label, as in a
    # flat machine: the source's StateLeft goes to observers asking for it.  The other states it
    # leaves (inside the source, or around it) no record names: their StateLeft goes to everyone.
    # A chart's MessageHandled goes to everyone (several regions may handle one message); its
    # StateEntered records name the message all the same.
    outer, _ = three_levels()
    fsm = StateMachine(outer)
    await fsm.run()
    asking, plain = Recorder(), []
    fsm.add_observer(asking)
    fsm.add_observer(plain.append)
    for msg in messages[:-1]:
        fsm.send_message(msg)
        await fsm.run()
    asking.clear(), plain.clear()
    fsm.send_message(messages[-1])
    await fsm.run()
    assert [e.state for e in asking if isinstance(e, StateLeft)] == left
    assert [e.state for e in plain if isinstance(e, StateLeft)] == told_to_all
    assert plain == [e for e in asking if not isinstance(e, StateLeft) or e.state in told_to_all]
    source = left[-1]
    assert {(e.previous, e.label, e.message) for e in asking if isinstance(e, StateEntered)} == {
        (source, next(e.label for e in asking if isinstance(e, StateLeft)), messages[-1])
    }


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["go", "back", "skip", "out", "other"]), max_size=10))
def test_every_state_a_chart_leaves_is_told_and_a_plain_observer_misses_only_the_sources(
    messages: list[str],
) -> None:
    asyncio.run(check_told_in_full(StateMachine(three_levels()[0]), messages))


async def test_a_label_the_child_does_not_declare_bubbles_to_the_enclosing_states() -> None:
    outer, states = three_levels()
    fsm = StateMachine(outer)
    fsm.send_message("out")  # A returns DONE: not A's, not Middle's, Outer's
    await fsm.run()
    assert fsm.is_complete and fsm.current_state is states["Away"]


async def test_a_message_the_child_declines_is_offered_to_the_enclosing_state() -> None:
    seen: list[tuple[str, Any]] = []

    def outer_on_state(ctx: Any) -> Any:
        seen.append((ctx.state.name, ctx.msg))
        return E.DONE if ctx.msg == "quit" else None

    inner = leaf("Inner", on_state=on({"x": E.GO}), transitions=lambda: [LabeledTransition(E.GO, Again)])
    outer = box(
        "Outer", inner, on_state=outer_on_state, transitions=lambda: [LabeledTransition(E.DONE, final("End"))]
    )
    fsm = StateMachine(outer)
    for msg in ("x", "quit"):
        fsm.send_message(msg)
    await fsm.run()
    assert seen == [("Outer", "quit")] and fsm.is_complete  # "x" was Inner's; only "quit" bubbled


async def test_no_passing_guard_in_the_child_lets_the_enclosing_state_take_the_label() -> None:
    end, there = final("End"), final("There")
    inner = leaf(
        "Inner",
        on_state=on({"go": E.GO}),
        transitions=lambda: [LabeledTransition(E.GO, there, guard=lambda ctx: ctx.common.get("ok", False))],
    )
    outer = box("Outer", inner, transitions=lambda: [LabeledTransition(E.GO, end)])
    fsm = StateMachine(outer)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is end
    allowed = StateMachine(outer, common_data={"ok": True})
    allowed.send_message("go")
    await allowed.run()
    assert allowed.current_state is there


async def test_a_label_nobody_declares_is_an_undeclared_label_error_naming_the_leaf() -> None:
    outer, _ = three_levels()
    lone = leaf("Lone", on_state=on({"x": E.FAIL}))
    fsm = StateMachine(box("Box", lone, transitions=lambda: [LabeledTransition(E.GO, outer)]))
    fsm.send_message("x")
    with pytest.raises(
        Exception, match=r"state Lone: on_state returned <E.FAIL: \d+>, which its transitions"
    ):
        await fsm.run()


async def test_handlers_see_their_own_state_and_retry_count() -> None:
    seen: list[tuple[str, str, int]] = []

    def record(where: str) -> Any:
        return lambda ctx: seen.append((where, ctx.state.name, ctx.retry_count))

    inner = leaf(
        "Inner",
        config=StateConfiguration(retries=3),
        on_state=on({"again": E.RETRY}),
        on_enter=record("enter"),
        on_fail=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry)],
    )
    outer = box("Outer", inner, on_enter=record("outer"))
    fsm = StateMachine(outer)
    fsm.send_message("again")
    await fsm.run()
    assert seen == [("outer", "Outer", 0), ("enter", "Inner", 0), ("enter", "Inner", 1)]
    assert fsm.retry_count == 1 and fsm.current_state is inner


@pytest.mark.parametrize("retrying", ["R1", "R2"])
async def test_a_retry_beaten_by_another_regions_transition_is_not_told(retrying: str) -> None:
    # Both regions answer "m": A retries, B leaves the parallel state.  Of two transitions leaving
    # a common state, the one chosen first is taken: a StateRetried is told only if A's is.
    out = leaf("Out", on_state=on({}))
    a = leaf(
        "A",
        config=StateConfiguration(retries=3),
        on_state=on({"m": E.RETRY}),
        on_fail=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry)],
    )
    b = leaf("B", on_state=on({"m": E.GO}), transitions=lambda: [LabeledTransition(E.GO, out)])
    both = (
        regions("Par", box("R1", a), box("R2", b))
        if retrying == "R1"
        else regions("Par", box("R1", b), box("R2", a))
    )
    fsm = StateMachine(box("Root", both, out))
    await fsm.run()
    seen = Recorder()
    fsm.add_observer(seen)
    fsm.send_message("m")
    await fsm.run()
    retried = [e.state for e in seen if isinstance(e, StateRetried)]
    if retrying == "R1":  # A's retry, chosen first, is taken
        assert retried == ["A"] and "A" in names(fsm.configuration)
    else:  # B's transition, chosen first, is taken: A is left for Out, not retried
        assert retried == [] and names(fsm.configuration) == ["Root", "Out"]


async def test_retry_of_a_compound_state_re_enters_it_with_its_own_count_and_on_fail() -> None:
    fails: list[int] = []
    inner = leaf("Inner", on_state=on({"again": E.RETRY}))
    outer = box(
        "Outer",
        inner,
        config=StateConfiguration(retries=1),
        on_fail=lambda ctx: fails.append(ctx.retry_count) or E.DONE,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.DONE, final("Gave"))],
    )
    fsm = StateMachine(outer)
    await fsm.run()
    drain(fsm)
    fsm.send_message("again")
    await fsm.run()
    assert drain(fsm) == ["leave Inner", "leave Outer", "enter Outer", "enter Inner"]
    assert fsm.retry_count == 0  # Inner's own count: Outer's is 1
    fsm.send_message("again")
    await fsm.run()
    assert fails == [1] and fsm.current_state.name == "Gave"


async def test_timeouts_run_per_level() -> None:
    clock = ManualClock()
    late = final("Late")
    a = leaf("A", on_state=on({"go": E.GO}))
    b = leaf(
        "B",
        config=StateConfiguration(timeout=2),
        on_state=on({}),
        on_timeout=lambda ctx: E.BACK,
        transitions=lambda: [LabeledTransition(E.BACK, a_again)],
    )
    a_again = leaf("Again", on_state=on({}))
    outer = box(
        "Outer",
        septum.state(
            type(
                "A",
                (),
                {
                    "on_state": septum.on_state(on({"go": E.GO})),
                    "transitions": septum.transitions(lambda: [LabeledTransition(E.GO, b)]),
                },
            )
        ),
        b,
        a_again,
        config=StateConfiguration(timeout=5),
        on_timeout=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.DONE, late)],
    )
    del a
    fsm = StateMachine(outer, timebase=clock)
    await fsm.run()
    await clock.run_for(1)
    fsm.send_message("go")
    await fsm.run()
    await clock.run_for(2)  # B's own timeout (2 s after it was entered, at t=1)
    assert fsm.current_state.name == "Again"
    await clock.run_for(1.9)  # moving between Outer's children does not restart Outer's timer
    assert fsm.current_state.name == "Again"
    await clock.run_for(0.1)
    assert fsm.current_state is late


async def test_completion_takes_the_compound_states_completed_transition() -> None:
    steps = leaf(
        "Step", on_state=on({"next": E.GO}), transitions=lambda: [LabeledTransition(E.GO, done_child)]
    )
    done_child = final("Finished")
    after = leaf("After", on_state=on({}), config=StateConfiguration(can_dwell=True))
    job = box("Job", steps, done_child, transitions=lambda: [LabeledTransition(Completed, after)])
    fsm = StateMachine(job)
    await fsm.run()
    drain(fsm)
    fsm.send_message("next")
    await fsm.run()
    assert drain(fsm) == ["leave Step", "enter Finished", "leave Finished", "leave Job", "enter After"]
    assert not fsm.is_complete


async def test_a_top_level_compound_state_that_completes_with_nowhere_to_go_completes_the_machine() -> None:
    done_child = final("Finished")
    steps = leaf(
        "Step", on_state=on({"next": E.GO}), transitions=lambda: [LabeledTransition(E.GO, done_child)]
    )
    fsm = StateMachine(box("Job", steps, done_child))
    fsm.send_message("next")
    await fsm.run()
    assert fsm.is_complete and names(fsm.configuration) == ["Job", "Finished"]
    with pytest.raises(
        StateMachineComplete,
        match=r"machine Job is complete \(terminal state Finished\); it has no more steps\. Fix: build a new",
    ):
        await fsm.tick()


async def test_push_and_pop_into_and_out_of_compound_states() -> None:
    menu = leaf("Menu", on_state=on({"open": E.PUSH}))
    page = leaf("Page", on_state=on({"back": E.POP}), transitions=lambda: [LabeledTransition(E.POP, Pop)])
    dialog = box("Dialog", page)
    menu_t = septum.state(
        type(
            "Menu",
            (),
            {
                "on_state": septum.on_state(on({"open": E.PUSH})),
                "transitions": septum.transitions(lambda: [LabeledTransition(E.PUSH, Push(dialog, menu_t))]),
            },
        )
    )
    del menu
    fsm = StateMachine(menu_t)
    fsm.send_message("open")
    await fsm.run()
    assert names(fsm.configuration) == ["Dialog", "Page"] and fsm.state_stack == (menu_t,)
    fsm.send_message("back")
    await fsm.run()
    assert fsm.configuration == (menu_t,) and fsm.state_stack == ()


async def test_a_handler_error_inside_goes_to_the_error_state_abandoning_every_level() -> None:
    def boom(ctx: Any) -> None:
        if ctx.msg == "boom":
            raise ValueError("bad")

    inner = leaf("Inner", on_state=boom, config=StateConfiguration(can_dwell=True))
    broken = leaf("Broken", on_state=on({}), config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(box("Outer", inner), error_state=broken)
    await fsm.run()
    drain(fsm)
    fsm.send_message("boom")
    await fsm.run()
    assert drain(fsm) == ["enter Broken"] and fsm.configuration == (broken,)
    assert fsm.common is not None
    raising = StateMachine(
        box("Outer2", leaf("Inner2", on_state=boom, config=StateConfiguration(can_dwell=True)))
    )
    raising.send_message("boom")
    with pytest.raises(HandlerError, match="state Inner2: on_state raised ValueError: bad"):
        await raising.run()


async def test_an_on_error_hook_of_a_statechart_returning_a_label_is_refused() -> None:
    def boom(ctx: Any) -> None:
        if ctx.msg == "boom":
            raise ValueError("bad")

    inner = leaf(
        "Inner",
        on_state=boom,
        config=StateConfiguration(can_dwell=True),
        transitions=lambda: [LabeledTransition(E.GO, final("Away"))],
    )
    fsm = StateMachine(box("Outer", inner), on_error=lambda ctx, error: E.GO)
    failed = []
    fsm.add_observer(lambda event: failed.append(event) if isinstance(event, HandlerFailed) else None)
    fsm.send_message("boom")
    with pytest.raises(
        ExecutionError,
        match=re.escape(
            "machine Outer: on_error returned label GO; a machine with compound states takes a state "
            "(or None) from its on_error hook. Fix: return the state to go to, not a label"
        ),
    ):
        await fsm.run()
    # the error is raised, the machine stays where it was: the record says so (not "routed to GO")
    assert [(e.state, e.routed_to) for e in failed] == [("Inner", None)]
    assert names(fsm.configuration) == ["Outer", "Inner"]


@pytest.mark.parametrize("odd", ["Oops", 42])
async def test_an_on_error_hook_of_a_statechart_returning_no_state_is_told_to_return_a_state(
    odd: Any,
) -> None:
    # A flat machine's hook may return a label; a statechart's may not, so that is not the advice.
    def boom(ctx: Any) -> None:
        if ctx.msg == "boom":
            raise ValueError("bad")

    inner = leaf("Inner", on_state=boom, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(box("Outer", inner), on_error=lambda ctx, error: odd)
    fsm.send_message("boom")
    with pytest.raises(
        TypeError,
        match=re.escape(
            f"machine Outer: on_error returned {odd!r}, which is not a septum state; a machine with "
            "compound states takes a state (or None) from its on_error hook. Fix: return the state to "
            "go to, or None"
        ),
    ):
        await fsm.run()
    assert names(fsm.configuration) == ["Outer", "Inner"]


async def test_an_on_error_hook_of_a_statechart_choosing_a_foreign_state_is_told_as_raised() -> None:
    def boom(ctx: Any) -> None:
        if ctx.msg == "boom":
            raise ValueError("bad")

    inner = leaf("Inner", on_state=boom, config=StateConfiguration(can_dwell=True))
    elsewhere = final("Elsewhere")  # not a state of this machine
    fsm = StateMachine(box("Outer", inner), on_error=lambda ctx, error: elsewhere)
    failed = []
    fsm.add_observer(lambda event: failed.append(event) if isinstance(event, HandlerFailed) else None)
    fsm.send_message("boom")
    with pytest.raises(
        ExecutionError,
        match=re.escape(
            "machine Outer: on_error chose state Elsewhere, which this machine does not hold; a machine "
            "with compound states can only go to one of its own states. Fix: pass it as "
            "StateMachine(..., error_state=Elsewhere), or return a state the machine can reach"
        ),
    ):
        await fsm.run()
    assert [(e.state, e.routed_to) for e in failed] == [("Inner", None)]


async def test_a_copy_carries_the_configuration_and_its_own_timers() -> None:
    import copy

    clock = ManualClock()
    outer, _ = three_levels()
    timed = box(
        "Timed",
        leaf("T", on_state=on({"x": E.GO}), transitions=lambda: [LabeledTransition(E.GO, outer)]),
        config=StateConfiguration(timeout=3),
        on_timeout=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.DONE, final("Expired"))],
    )
    fsm = StateMachine(timed, timebase=clock)
    await fsm.run()
    twin = copy.copy(fsm)
    assert twin.configuration == fsm.configuration
    fsm.send_message("x")
    await fsm.run()
    await clock.run_for(3)
    assert names(twin.configuration) == ["Expired"] and fsm.configuration[-1].name == "A"


async def test_closing_stops_every_timer() -> None:
    clock = ManualClock()
    inner = leaf(
        "Inner",
        config=StateConfiguration(timeout=1),
        on_state=on({}),
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, final("In"))],
    )
    outer = box(
        "Outer",
        inner,
        config=StateConfiguration(timeout=2),
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, final("Out"))],
    )
    async with StateMachine(outer, timebase=clock) as fsm:
        await fsm.run()
    await clock.run_for(5)
    assert names(fsm.configuration) == ["Outer", "Inner"] and clock.pending == 0


async def test_a_timed_state_the_step_in_progress_enters_starts_no_timer_once_closed(caplog: Any) -> None:
    clock, gate = ManualClock(), asyncio.Event()

    async def slow(ctx: Any) -> Any:
        if ctx.msg == "go":
            await gate.wait()
            return E.GO
        return None

    timed = leaf("Timed", config=StateConfiguration(timeout=1), on_state=on({}), on_timeout=lambda ctx: E.GO)
    first = leaf("First", on_state=slow, transitions=lambda: [LabeledTransition(E.GO, timed)])
    fsm = StateMachine(box("Outer", first, timed), timebase=clock)
    await fsm.run()
    fsm.send_message("go")
    running = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)  # First's on_state is suspended
    closing = asyncio.create_task(fsm.aclose())
    await asyncio.sleep(0)
    gate.set()
    await closing
    await running
    assert names(fsm.configuration) == ["Outer", "Timed"] and clock.pending == 0
    await clock.run_for(5)
    assert "ERROR" not in caplog.text


def hookless() -> tuple[Any, dict[str, Any]]:
    """Outer > (Inner > (A -go-> B(timeout 5) -timeout-> Done, B -go-> A), C); Inner -Completed-> C.
    No state has a hook, so moves between A, B and Done take the statechart's shortest path."""
    c = leaf_plain("C", {})
    done = septum.state(config=StateConfiguration(terminal=True))(type("Done", (), {}))
    holder: dict[str, Any] = {}
    b = septum.state(config=StateConfiguration(timeout=5))(
        type(
            "B",
            (),
            {
                "on_state": septum.on_state(lambda ctx: E.GO if ctx.msg == "go" else None),
                "on_timeout": septum.on_timeout(lambda ctx: E.DONE),
                "transitions": septum.transitions(
                    lambda: [LabeledTransition(E.GO, holder["A"]), LabeledTransition(E.DONE, done)]
                ),
            },
        )
    )
    holder["A"] = leaf_plain("A", {"go": E.GO}, [LabeledTransition(E.GO, b)])
    inner = septum.compound(
        type(
            "Inner",
            (),
            {
                "A": holder["A"],
                "B": b,
                "Done": done,
                "transitions": septum.transitions(lambda: [LabeledTransition(Completed, c)]),
            },
        )
    )
    outer = septum.compound(type("Outer", (), {"Inner": inner, "C": c}))
    return outer, {"A": holder["A"], "B": b, "C": c, "Done": done}


def leaf_plain(name: str, table: dict[str, Any], transitions: list[Any] | None = None) -> Any:
    body: dict[str, Any] = {"on_state": septum.on_state(on(table))}
    if transitions is not None:
        body["transitions"] = septum.transitions(lambda: transitions)
    return septum.state(type(name, (), body))


@pytest.mark.parametrize("observed", [False, True])
def test_moves_between_siblings_without_hooks_keep_timers_completion_and_events(observed: bool) -> None:
    outer, s = hookless()
    clock = ManualClock()
    fsm = StateMachine(outer, timebase=clock)
    seen = Recorder()
    plain: list[Any] = []  # an observer that asks for nothing told on request
    if observed:  # observers take the general path: both must agree
        fsm.add_observer(seen)
        fsm.add_observer(plain.append)
    fsm.run_sync()
    fsm.send("go")
    assert names(fsm.configuration) == ["Outer", "Inner", "B"] and fsm.current_state is s["B"]
    fsm.send("go")
    fsm.send("go")
    clock.advance(4.9)
    fsm.run_sync()
    assert fsm.current_state is s["B"]  # B's timer started when B was entered the second time
    clock.advance(0.1)
    fsm.run_sync()
    assert names(fsm.configuration) == ["Outer", "C"]  # timeout -> Done: Inner completed -> C
    if observed:
        moves = [
            (type(ev).__name__, ev.state)
            for ev in seen
            if type(ev).__name__ in ("StateEntered", "StateLeft", "StateCompleted")
        ]
        assert moves[-8:] == [
            ("StateLeft", "A"),
            ("StateEntered", "B"),
            ("StateLeft", "B"),
            ("StateEntered", "Done"),
            ("StateCompleted", "Inner"),
            ("StateLeft", "Done"),
            ("StateLeft", "Inner"),
            ("StateEntered", "C"),
        ]
        # The StateLeft of a transition's source is told on request, as in a flat machine (the
        # StateEntered that follows names it): A and B (sibling hops), Inner (the source of the
        # completion).  Done, which that transition also leaves and no record names, goes to all.
        left = {(ev.state, ev.target) for ev in seen if type(ev).__name__ == "StateLeft"}
        assert left == {("A", "B"), ("B", "Done"), ("B", "A"), ("Done", "C"), ("Inner", "C")}
        assert plain == [ev for ev in seen if type(ev).__name__ != "StateLeft" or ev.state == "Done"]


async def test_a_handler_raising_cancelled_error_itself_inside_a_chart_is_a_failure() -> None:
    def cancels(ctx: Any) -> None:
        if ctx.msg == "cancel":
            raise asyncio.CancelledError()  # nobody cancelled the run

    inner = leaf("Inner", on_state=cancels, config=StateConfiguration(can_dwell=True))
    broken = leaf("Broken", on_state=on({}), config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(box("Outer", inner), error_state=broken)
    await fsm.run()
    drain(fsm)
    fsm.send_message("cancel")
    await fsm.run()  # before the fix: CancelledError here, "cancel" back at the head of the queue
    assert drain(fsm) == ["enter Broken"] and fsm.configuration == (broken,) and fsm.queue_size == 0
    raising = StateMachine(
        box("Outer2", leaf("Inner2", on_state=cancels, config=StateConfiguration(can_dwell=True)))
    )
    raising.send_message("cancel")
    with pytest.raises(
        HandlerError, match="state Inner2: on_state raised CancelledError although nothing cancelled"
    ):
        await raising.run()
    assert raising.queue_size == 0
    await raising.run()  # nothing is stuck


class Audited(StateMachine):
    """A program's own kind of machine: a subclass adding a method (no slots of its own needed)."""

    __slots__ = ()

    def where(self) -> list[str]:
        return names(self.configuration)


@pytest.mark.parametrize("chart", [False, True], ids=["flat", "statechart"])
async def test_a_subclass_of_state_machine_runs_flat_machines_and_statecharts_as_itself(chart: bool) -> None:
    away = final("Away")
    flat = leaf("Solo", on_state=on({"out": E.DONE}), transitions=lambda: [LabeledTransition(E.DONE, away)])
    fsm = Audited(three_levels()[0] if chart else flat)
    assert isinstance(fsm, Audited) and type(fsm).__name__ == "Audited"
    await fsm.initialize()
    assert fsm.where() == (["Outer", "Middle", "A"] if chart else ["Solo"])
    fsm.send_message("skip" if chart else "out")
    await fsm.run()
    assert fsm.where() == (["Outer", "C"] if chart else ["Away"])
    twin = copy.copy(fsm)  # a copy is of the same kind, at the same place
    assert type(twin) is type(fsm) and twin.where() == fsm.where()


def fussy(ctx: Any) -> bool:
    raise ValueError("cannot tell")


def finished_at_once() -> Any:
    """Top > (Job > (Finished), Next, Broken): Job completes as it is entered, and the guard of its
    Completed transition raises."""
    job = box(
        "Job",
        final("Finished"),
        transitions=lambda: [
            LabeledTransition(Completed, nxt, guard=fussy),
            LabeledTransition(Completed, nxt),
        ],
    )
    nxt = final("Next")
    return box("Top", job, nxt)


@pytest.mark.parametrize("routed", [False, True], ids=["raised", "routed"])
async def test_a_completed_guard_raising_as_the_machine_starts_fails_as_a_handler_does(routed: bool) -> None:
    # Before: the engine's internal HookFailed escaped from run(), neither routed nor a HandlerError.
    broken = leaf("Broken", on_state=on({}), config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(finished_at_once(), error_state=broken if routed else None)
    if routed:
        await fsm.run()
        assert fsm.configuration == (broken,)
        assert (
            str(fsm.ctx.error) == "state Job: guard fussy of label Completed raised ValueError: cannot tell"
        )
        return
    with pytest.raises(HandlerError, match=r"^state Job: guard fussy of label Completed raised ValueError"):
        await fsm.run()
    assert names(fsm.configuration) == ["Top", "Job", "Finished"]


async def test_a_completed_guard_raising_after_a_hook_of_the_step_failed_is_logged_not_routed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: the guard's failure was raised and the on_enter failure before it vanished, neither
    # raised nor logged nor told.
    def broke(ctx: Any) -> None:
        raise ValueError("enter Done broke")

    done = leaf("Done", on_enter=broke, config=StateConfiguration(terminal=True))
    step = leaf("Step", on_state=on({"next": E.GO}), transitions=lambda: [LabeledTransition(E.GO, done)])
    nxt = final("Next")
    job = box("Job", step, done, transitions=lambda: [LabeledTransition(Completed, nxt, guard=fussy)])
    fsm = StateMachine(box("Top", job, nxt))
    failed: list[HandlerFailed] = []
    fsm.add_observer(lambda event: failed.append(event) if isinstance(event, HandlerFailed) else None)
    await fsm.run()
    fsm.send_message("next")
    with pytest.raises(HandlerError, match=r"^state Done: on_enter raised ValueError: enter Done broke"):
        await fsm.run()
    assert [(f.state, f.role) for f in failed] == [("Job", "guard"), ("Done", "on_enter")]
    [record] = [r for r in caplog.records if r.name == "mycorrhizal.septum" and r.levelno == logging.ERROR]
    assert record.getMessage().startswith(
        "machine Top: state Job: guard fussy of label Completed raised ValueError: cannot tell; not routed"
    )
