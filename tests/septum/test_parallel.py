"""Parallel states: every region active at once, messages offered to each, completion when every
region is in a terminal state, SCXML's order and conflict rules."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import ManualClock
from mycorrhizal.septum import Again, LabeledTransition, Retry, StateConfiguration, StateMachine, Unhandled
from mycorrhizal.septum.compound import Completed
from mycorrhizal.septum.events import StateCompleted
from tests.septum._charts import box, check_told_in_full, drain, final, leaf, names, on, regions
from tests.septum._helpers import E


def crossing(*, outside: Any = None, label: Any = Completed) -> tuple[Any, Any]:
    """Crossing || (Cars > (Green -> Yellow -> CarsDone), Walkers > (Wait -> Walk -> WalkersDone)).

    "cars" moves the cars' region, "walk" the walkers'; "both" moves both at once.  Crossing's
    ``label`` transition leads to ``outside`` (a terminal Over by default).
    """
    over = outside if outside is not None else final("Over")
    cars_done, walkers_done = final("CarsDone"), final("WalkersDone")
    yellow = leaf(
        "Yellow",
        on_state=on({"cars": E.GO, "both": E.GO}),
        transitions=lambda: [LabeledTransition(E.GO, cars_done)],
    )
    green = leaf(
        "Green",
        on_state=on({"cars": E.GO, "both": E.GO}),
        transitions=lambda: [LabeledTransition(E.GO, yellow)],
    )
    walk = leaf(
        "Walk",
        on_state=on({"walk": E.GO, "both": E.GO}),
        transitions=lambda: [LabeledTransition(E.GO, walkers_done)],
    )
    wait = leaf(
        "Wait", on_state=on({"walk": E.GO, "both": E.GO}), transitions=lambda: [LabeledTransition(E.GO, walk)]
    )
    cars = box("Cars", green, yellow, cars_done)
    walkers = box("Walkers", wait, walk, walkers_done)
    return regions("Crossing", cars, walkers, transitions=lambda: [LabeledTransition(label, over)]), over


async def send_all(fsm: StateMachine, *messages: str) -> None:
    for msg in messages:
        fsm.send_message(msg)
        await fsm.run()


async def test_entering_a_parallel_state_enters_every_region_in_document_order() -> None:
    fsm = StateMachine(crossing()[0])
    await fsm.initialize()
    assert drain(fsm) == ["enter Crossing", "enter Cars", "enter Green", "enter Walkers", "enter Wait"]
    assert names(fsm.configuration) == ["Crossing", "Cars", "Green", "Walkers", "Wait"]
    assert fsm.current_state.name == "Crossing"  # the innermost state holding every active state


async def test_a_message_reaches_every_region_and_each_moves_on_its_own() -> None:
    fsm = StateMachine(crossing()[0])
    await send_all(fsm, "cars")
    assert names(fsm.configuration) == ["Crossing", "Cars", "Yellow", "Walkers", "Wait"]
    drain(fsm)
    await send_all(fsm, "both")  # both regions take a transition in one step: leave both, then enter both
    assert drain(fsm) == ["leave Wait", "leave Yellow", "enter CarsDone", "enter Walk"]


async def test_it_completes_when_every_region_is_in_a_terminal_state() -> None:
    top, over = crossing()
    fsm = StateMachine(top)
    seen: list[str] = []
    fsm.add_observer(lambda event: seen.append(event.state) if isinstance(event, StateCompleted) else None)
    await send_all(fsm, "cars", "cars")
    assert names(fsm.configuration)[2] == "CarsDone" and seen == ["Cars"] and not fsm.is_complete
    drain(fsm)
    await send_all(fsm, "walk", "walk")
    assert seen == ["Cars", "Walkers", "Crossing"] and fsm.current_state is over and fsm.is_complete
    # Leaving a parallel state leaves its states in reverse document order.
    assert drain(fsm)[-6:] == [
        "leave WalkersDone",
        "leave Walkers",
        "leave CarsDone",
        "leave Cars",
        "leave Crossing",
        "enter Over",
    ]


async def test_the_parallel_states_own_on_state_sees_only_what_every_region_declined() -> None:
    seen: list[Any] = []

    def on_state(ctx: Any) -> Any:
        seen.append(ctx.msg)
        return E.DONE if ctx.msg == "stop" else None

    a = leaf("A", on_state=on({"x": E.GO}), transitions=lambda: [LabeledTransition(E.GO, Retry)])
    b = leaf("B", on_state=on({}))
    top = regions(
        "Both",
        box("RA", a),
        box("RB", b),
        on_state=on_state,
        transitions=lambda: [LabeledTransition(E.DONE, final("Stopped"))],
    )
    fsm = StateMachine(top)
    await send_all(fsm, "x", "y", "stop")
    assert seen == ["y", "stop"] and fsm.is_complete


async def test_conflicting_transitions_the_earlier_region_wins() -> None:
    first, second = final("First"), final("Second")
    a = leaf("A", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, first)])
    b = leaf("B", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, second)])
    fsm = StateMachine(regions("Race", box("RA", a), box("RB", b)))
    await send_all(fsm, "go")
    assert fsm.current_state is first  # both leave Race: the one from the earlier region is taken


async def test_an_inner_transition_preempts_an_outer_one_it_conflicts_with() -> None:
    inner_target, outer_target = leaf("Inner2", on_state=on({})), final("Outside")
    a = leaf("A", on_state=on({"go": E.DONE}))  # DONE is declared on the parallel state
    b = leaf("B", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, inner_target)])
    top = regions(
        "Pair",
        box("RA", a),
        box("RB", b, inner_target),
        transitions=lambda: [LabeledTransition(E.DONE, outer_target)],
    )
    fsm = StateMachine(top)
    await send_all(fsm, "go")
    assert names(fsm.configuration) == ["Pair", "RA", "A", "RB", "Inner2"]


def logs(entry: str) -> Any:
    """An action writing ``entry`` to the shared log."""
    return lambda ctx: ctx.common.setdefault("log", []).append(entry)


@pytest.mark.parametrize("stay", [Unhandled, Again])
@pytest.mark.parametrize("staying", ["RA", "RB"])
async def test_a_targetless_transitions_action_runs_in_the_microstep_in_document_order(
    staying: str, stay: Any
) -> None:
    # SCXML's microstep (W3C, Appendix D): the exit set's onexit, then every transition's actions in
    # document order (a targetless one's too: it leaves nothing), then the entries.  Before, the
    # action of a targetless transition (SCXML's, read as Unhandled; Again stays too) ran as soon as
    # it was chosen: before the other region's transition left its state, and before that
    # transition's action even when it came later in document order.
    def region(name: str) -> Any:
        first, after = f"{name[1]}1", leaf(f"{name[1]}2", on_state=on({}))
        target = stay if name == staying else after
        before = leaf(
            first,
            on_state=on({"go": E.GO}),
            transitions=lambda: [LabeledTransition(E.GO, target, action=logs(f"action {first}"))],
        )
        return box(name, before) if name == staying else box(name, before, after)

    fsm = StateMachine(regions("Pair", region("RA"), region("RB")))
    await send_all(fsm, "go")
    moving = "B1" if staying == "RA" else "A1"
    assert drain(fsm)[-4:] == [f"leave {moving}", "action A1", "action B1", f"enter {moving[0]}2"]


async def test_regions_keep_their_own_timers() -> None:
    clock = ManualClock()
    a_done, b_done = final("ADone"), final("BDone")
    a = leaf(
        "A",
        config=StateConfiguration(timeout=1),
        on_state=on({}),
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, a_done)],
    )
    b = leaf(
        "B",
        config=StateConfiguration(timeout=3),
        on_state=on({}),
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, b_done)],
    )
    top, over = crossing()
    timers = regions(
        "Timers",
        box("RA", a, a_done),
        box("RB", b, b_done),
        transitions=lambda: [LabeledTransition(Completed, top)],
    )
    fsm = StateMachine(timers, timebase=clock)
    await fsm.run()
    await clock.run_for(1)
    assert names(fsm.configuration) == ["Timers", "RA", "ADone", "RB", "B"]
    await clock.run_for(2)
    assert names(fsm.configuration)[:3] == ["Crossing", "Cars", "Green"]
    assert over is not None


async def test_a_region_that_retries_re_enters_the_whole_parallel_state() -> None:
    a = leaf("A", on_state=on({"again": E.RETRY}))
    b = leaf("B", on_state=on({}))
    ra = box("RA", a, transitions=lambda: [LabeledTransition(E.RETRY, Retry)])
    fsm = StateMachine(regions("Pair", ra, box("RB", b)))
    await fsm.run()
    drain(fsm)
    await send_all(fsm, "again")
    # As in SCXML, a transition from a region to itself is external: its domain is outside Pair.
    assert drain(fsm) == [
        "leave B", "leave RB", "leave A", "leave RA", "leave Pair",
        "enter Pair", "enter RA", "enter A", "enter RB", "enter B",
    ]  # fmt: skip


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["cars", "walk", "both", "other"]), max_size=8))
def test_every_state_a_parallel_chart_leaves_is_told_and_a_plain_observer_misses_only_the_sources(
    messages: list[str],
) -> None:
    # Leaving Crossing (both regions done) leaves every region's last state and the regions:
    # those StateLeft go to every observer, Crossing's (the completion's source) on request.
    crossing_state, _ = crossing()
    asyncio.run(check_told_in_full(StateMachine(crossing_state), messages))


async def test_drop_oldest_never_evicts_a_regions_fired_timeout_for_a_less_urgent_message() -> None:
    # Region RA's on_state is suspended while RB's timer fires and urgent messages fill the queue.
    clock, gate = ManualClock(), asyncio.Event()

    async def busy(ctx: Any) -> None:
        if ctx.msg == "work":
            await gate.wait()

    def timed_out(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append("B timed out")

    a = leaf("A", on_state=busy)
    b = leaf("B", config=StateConfiguration(timeout=1), on_state=on({}), on_timeout=timed_out)
    fsm = StateMachine(
        regions("Pair", box("RA", a), box("RB", b)),
        timebase=clock,
        max_queue_size=2,
        queue_overflow="drop_oldest",
    )
    await fsm.run()
    fsm.send_message("work")
    task = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)  # A waits at the gate
    await clock.run_for(1)  # B's timeout fires and is queued
    assert fsm.send_message("h1", priority=5) and fsm.send_message("h2", priority=5)
    # Every queued message is more urgent than the newcomer: the newcomer is the one given up.
    assert fsm.send_message("low", priority=1) is False
    assert fsm.queue_size == 2 and fsm.overflow_count == 1
    gate.set()
    await task
    assert "B timed out" in fsm.common["log"]


@pytest.mark.parametrize("order", [["a", "b", "c"], ["c", "a", "b"], ["a", "c", "b"]], ids="-".join)
async def test_a_parallel_state_with_a_parallel_region_completes_whichever_region_ends_last(
    order: list[str],
) -> None:
    # Before: Outer completed only when its compound region C ended last; when a region of the
    # parallel region Inner ended last, Inner completed and Outer stayed, every region final.
    def region(name: str) -> Any:
        done = final(f"{name.upper()}Done")
        work = leaf(
            f"{name.upper()}Work",
            on_state=on({name: E.GO}),
            transitions=lambda: [LabeledTransition(E.GO, done)],
        )
        return box(name.upper(), work, done)

    over = final("Over")
    inner = regions("Inner", region("a"), region("b"))
    outer = regions("Outer", inner, region("c"), transitions=lambda: [LabeledTransition(Completed, over)])
    fsm = StateMachine(box("Top", outer, over))
    completed: list[str] = []
    fsm.add_observer(
        lambda event: completed.append(event.state) if isinstance(event, StateCompleted) else None
    )
    await send_all(fsm, *order)
    assert names(fsm.configuration) == ["Top", "Over"] and fsm.is_complete
    assert completed.index("Inner") < completed.index("Outer")  # told once each, the inner one first
    assert sorted(completed) == ["A", "B", "C", "Inner", "Outer", "Top"]


def mark(ctx: Any) -> None:
    ctx.common.setdefault("log", []).append("act C1")
    ctx.common["first"] = True


def after_first(ctx: Any) -> bool:
    return bool(ctx.common.get("first"))


def done_in_both() -> Any:
    """P || (R1 > (C1 > (A1 -go-> F1), Z1), R2 > (C2 > (A2 -go-> F2), Z2)): C1 -Completed / mark->
    Z1, C2 -Completed [after_first] / act-> Z2.  "go" completes C1 and C2 in one microstep."""

    def region(n: str, **completion: Any) -> Any:
        done, after = final(f"F{n}"), leaf(f"Z{n}", on_state=lambda ctx: None)
        work = leaf(f"A{n}", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, done)])
        inner = box(
            f"C{n}", work, done, transitions=lambda: [LabeledTransition(Completed, after, **completion)]
        )
        return box(f"R{n}", inner, after)

    def act(ctx: Any) -> None:
        ctx.common["log"].append("act C2")

    return regions("P", region("1", action=mark), region("2", guard=after_first, action=act))


async def test_completions_of_one_microstep_are_taken_one_at_a_time_in_document_order() -> None:
    # SCXML queues one done.state.X event per completed state and takes each in a microstep of its
    # own, in document order: C1's completion (leave, act, enter) before C2's, whose guard sees
    # what C1's action did.  Before: both were taken together, their guards asked first (C2's
    # failed, so C2 stayed in F2) and the states left before any action ran.
    fsm = StateMachine(done_in_both())
    await fsm.run()
    drain(fsm)
    await send_all(fsm, "go")
    assert names(fsm.configuration) == ["P", "R1", "Z1", "R2", "Z2"]
    assert drain(fsm) == [
        "leave A2",  # left innermost first, the later region first (SCXML's exit order)
        "leave A1",
        "enter F1",
        "enter F2",
        "leave F1",
        "leave C1",
        "act C1",
        "enter Z1",
        "leave F2",
        "leave C2",
        "act C2",
        "enter Z2",
    ]
