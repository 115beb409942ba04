"""Taking a statechart's transitions: what entering a state runs, on every path a transition takes."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.septum import HandlerFailed, LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.septum.compound import Completed
from tests.septum._charts import box, drain, leaf, names, on, regions
from tests.septum._helpers import E


def receipt() -> Any:
    """A terminal state whose on_state logs the state it sees and its message."""

    def on_state(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"{ctx.state.name} on_state {ctx.msg}")

    return septum.state(config=StateConfiguration(terminal=True))(
        type("Receipt", (), {"on_state": septum.on_state(on_state)})
    )


def plain(name: str, on_state: Any, target: Any) -> Any:
    """A state with no hooks: a move from it to a sibling takes the statechart's shortest path."""
    body = {
        "on_state": septum.on_state(on_state),
        "transitions": septum.transitions(lambda: [LabeledTransition(E.GO, target)]),
    }
    return septum.state(type(name, (), body))


def top_level(fin: Any) -> Any:
    return box(
        "Root",
        box("Box", leaf("A", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, fin)])),
    )


def sibling(fin: Any) -> Any:
    return box(
        "Root", leaf("A", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, fin)]), fin
    )


def hop(fin: Any) -> Any:  # the entry run of A goes on at once: no message, no hook on the way
    return box("Root", plain("A", lambda ctx: E.GO, fin), fin)


def completing(fin: Any) -> Any:
    after = leaf("After", on_state=on({}), transitions=lambda: [])
    inner = box(
        "Inner",
        plain("A", on({"go": E.GO}), fin),
        fin,
        transitions=lambda: [LabeledTransition(Completed, after)],
    )
    return box("Root", inner, after)


@pytest.mark.parametrize(
    ("build", "sent", "complete"),
    [(top_level, ["go"], True), (sibling, ["go"], True), (hop, [], True), (completing, ["go"], False)],
    ids=["top-level", "sibling", "entry-run", "completed-transition"],
)
def test_a_terminal_states_on_state_runs_once_on_arrival_in_a_statechart(
    build: Any, sent: list[str], complete: bool
) -> None:
    fsm = StateMachine(build(receipt()))
    fsm.run_sync()
    for message in sent:
        fsm.send(message)
    told = [t for t in drain(fsm) if "Receipt" in t or t == "enter After"]
    assert told == ["Receipt on_state None", *([] if complete else ["enter After"])]
    assert fsm.is_complete is complete


def staying(fin: Any) -> Any:
    """Root > Inner > (A, fin): Inner completes with nowhere to go, so fin stays active; Root's
    on_state maps "reset" to a transition back to Inner."""
    inner = box("Inner", plain("A", on({"go": E.GO}), fin), fin)
    return box(
        "Root", inner, on_state=on({"reset": E.BACK}), transitions=lambda: [LabeledTransition(E.BACK, inner)]
    )


def region_done(fin: Any) -> Any:
    """Root > Both (parallel) > (Left > (A, fin), Right > Busy): Left is done, Right is not, so fin
    stays active; Root's on_state maps "reset" to a transition back to Both."""
    busy = leaf("Busy", on_state=on({}), config=StateConfiguration(can_dwell=True))
    both = regions("Both", box("Left", plain("A", on({"go": E.GO}), fin), fin), box("Right", busy))
    return box(
        "Root", both, on_state=on({"reset": E.BACK}), transitions=lambda: [LabeledTransition(E.BACK, both)]
    )


@pytest.mark.parametrize(
    "build", [staying, region_done], ids=["compound-without-Completed", "parallel-region"]
)
def test_a_terminal_state_that_stays_active_is_never_offered_messages(build: Any) -> None:
    # Its on_state runs once, on arrival (its label ignored): messages go to the states around it.
    # It used to see every message, and the label it returned was looked up (UndeclaredLabelError).
    fin = receipt()
    fsm = StateMachine(build(fin))
    fsm.run_sync()
    fsm.send("go")
    assert fsm.in_state(fin) and [t for t in drain(fsm) if "Receipt" in t] == ["Receipt on_state None"]
    fsm.send("hello")
    fsm.send("reset")
    assert [t for t in drain(fsm) if "Receipt" in t] == []
    assert not fsm.in_state(fin) and "A" in names(fsm.configuration)


@pytest.mark.parametrize("chart", [False, True], ids=["flat", "statechart"])
def test_a_terminal_states_on_state_that_raises_goes_to_the_error_state_like_a_flat_machines(
    chart: bool,
) -> None:
    def broken(ctx: Any) -> None:
        raise RuntimeError("no receipt")

    fin = septum.state(config=StateConfiguration(terminal=True))(
        type("Fin", (), {"on_state": septum.on_state(broken)})
    )
    a = leaf("A", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, fin)])
    error = leaf("Broken", on_state=on({"again": E.GO}), transitions=lambda: [LabeledTransition(E.GO, a)])
    fsm = StateMachine(box("Root", a) if chart else a, error_state=error)
    fsm.run_sync()
    fsm.send("go")
    assert fsm.current_state is error and not fsm.is_complete
    assert "no receipt" in str(fsm.context.error.__cause__)
    fsm.send("again")
    assert fsm.current_state is a


def suspending(where: str, gate: asyncio.Event, failing: str | tuple[str, ...] = ()) -> Any:
    """Root > (Src > A, Target > T): A -go-> Target.  The hook ``where`` (Src's on_leave, the
    transition's action or Target's on_enter; "" for none) waits for ``gate``; the hooks
    ``failing`` raise; every other hook logs."""

    def hook(name: str) -> Any:
        async def run(ctx: Any) -> None:
            if name == where:
                await gate.wait()
            if name in ((failing,) if isinstance(failing, str) else failing):
                raise ValueError(f"{name} broke")
            ctx.common.setdefault("log", []).append(name)

        return run

    def t_on_state(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"T on_state {ctx.msg}")

    t = septum.state(
        type(
            "T",
            (),
            {
                "on_enter": septum.on_enter(hook("enter T")),
                "on_state": septum.on_state(t_on_state),
                "transitions": septum.transitions(lambda: []),
            },
        )
    )
    target = septum.compound(type("Target", (), {"on_enter": septum.on_enter(hook("enter Target")), "T": t}))
    a = septum.state(
        type(
            "A",
            (),
            {
                "on_leave": septum.on_leave(hook("leave A")),
                "on_state": septum.on_state(on({"go": E.GO})),
                "transitions": septum.transitions(
                    lambda: [LabeledTransition(E.GO, target, action=hook("action"))]
                ),
            },
        )
    )
    src = septum.compound(type("Src", (), {"on_leave": septum.on_leave(hook("leave Src")), "A": a}))
    return septum.compound(type("Root", (), {"Src": src, "Target": target}))


async def cancelled_in_a_hook(fsm: StateMachine, gate: asyncio.Event) -> None:
    """Send "go" and cancel the run taking it while a hook waits for ``gate``; then open the gate."""
    await fsm.run()
    fsm.send_message("go")
    running = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)  # the hook waits for the gate
    running.cancel()
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await running


@pytest.mark.parametrize("where", ["leave Src", "action", "enter Target"])
async def test_a_run_cancelled_in_a_hook_mid_transition_finishes_the_transition_then_is_cancelled(
    where: str,
) -> None:
    gate = asyncio.Event()
    fsm = StateMachine(suspending(where, gate))
    await cancelled_in_a_hook(fsm, gate)
    hooks = ["leave A", "leave Src", "action", "enter Target", "enter T"]
    assert drain(fsm) == [h for h in hooks if h != where]  # the cancelled hook was interrupted
    assert names(fsm.configuration) == ["Root", "Target", "T"] and fsm.current_state.name == "T"
    assert await fsm.run() == 1 and drain(fsm) == ["T on_state None"]  # T's entry run was owed
    fsm.send_message("hello")
    await fsm.run()
    assert drain(fsm) == ["T on_state hello"]


@pytest.mark.parametrize(
    ("where", "failing", "state", "role"),
    [("leave Src", "enter Target", "Target", "on_enter"), ("enter Target", "leave A", "A", "on_leave")],
)
async def test_a_failure_in_a_step_whose_run_is_cancelled_is_logged_and_told_then_the_cancellation_raised(
    where: str, failing: str, state: str, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The cancellation won and the failure vanished: neither routed, nor logged, nor told.
    gate = asyncio.Event()
    fsm = StateMachine(suspending(where, gate, failing))
    failed: list[HandlerFailed] = []
    fsm.add_observer(lambda event: failed.append(event) if isinstance(event, HandlerFailed) else None)
    await cancelled_in_a_hook(fsm, gate)
    [told] = failed
    assert (told.state, told.role, told.message, told.routed_to) == (state, role, "go", None)
    assert str(told.error) == f"state {state}: {role} raised ValueError: {failing} broke"
    [record] = [r for r in caplog.records if r.name == "mycorrhizal.septum" and r.levelno == logging.ERROR]
    assert record.getMessage() == (
        f"machine Root: state {state}: {role} raised ValueError: {failing} broke; not routed, since the "
        f"run was cancelled in the same step (the cancellation is raised). Fix: handle ValueError in {role}"
    )
    assert record.exc_info is not None and str(record.exc_info[1]) == f"{failing} broke"
    assert names(fsm.configuration) == ["Root", "Target", "T"]  # the transition was taken


@pytest.mark.parametrize("routed", [False, True], ids=["raised", "to the error state"])
async def test_every_failure_of_a_step_is_told_and_all_but_the_routed_one_logged(
    routed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Two hooks of one transition raise: the first is routed (or raised); the second was dropped,
    # neither logged nor told.
    broken = leaf("Broken", on_state=on({}), transitions=lambda: [])
    spec = suspending("", asyncio.Event(), ("leave A", "enter Target"))
    fsm = StateMachine(spec, error_state=broken if routed else None)
    failed: list[HandlerFailed] = []
    fsm.add_observer(lambda event: failed.append(event) if isinstance(event, HandlerFailed) else None)
    await fsm.run()
    fsm.send_message("go")
    if routed:
        await fsm.run()
        assert fsm.current_state is broken
    else:
        with pytest.raises(Exception, match="state A: on_leave raised ValueError: leave A broke"):
            await fsm.run()
    told = [(f.state, f.role, f.routed_to) for f in failed]  # the later one first: before the first is routed
    assert told == [("Target", "on_enter", None), ("A", "on_leave", "Broken" if routed else None)]
    [record] = [r for r in caplog.records if r.name == "mycorrhizal.septum" and r.levelno == logging.ERROR]
    assert record.getMessage() == (
        "machine Root: state Target: on_enter raised ValueError: enter Target broke; not routed, since a "
        "hook of the same step failed before (that failure is routed, or raised). Fix: handle ValueError in "
        "on_enter"
    )
