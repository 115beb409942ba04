"""The statechart engine between steps: where a machine is after a step that failed or was cancelled
(its configuration, the state it reports, the entry runs it owes)."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import HandlerError
from mycorrhizal.septum import LabeledTransition, StateMachine
from tests.septum._charts import box, drain, leaf, names, on, regions
from tests.septum._helpers import E


def boom(ctx: Any) -> None:
    raise RuntimeError("broken hook")


def moving(failing: str) -> Any:
    """Root > (Box > A, Next): A -go-> Next, with ``failing`` (A's on_leave, the action or Next's
    on_enter) raising; Next logs its runs of on_state."""

    def next_runs(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"Next on_state {ctx.msg}")

    hooks = {"on_enter": boom} if failing == "on_enter" else {}
    target = leaf("Next", on_state=next_runs, transitions=lambda: [], **hooks)
    action = boom if failing == "action" else None
    a = leaf(
        "A",
        on_state=on({"go": E.GO}),
        transitions=lambda: [LabeledTransition(E.GO, target, action=action)],
        **({"on_leave": boom} if failing == "on_leave" else {}),
    )
    return box("Root", box("Box", a), target)


@pytest.mark.parametrize("failing", ["on_leave", "action", "on_enter"])
def test_after_a_failure_raised_mid_transition_the_entered_state_reports_itself_and_its_entry_run_is_owed(
    failing: str,
) -> None:
    fsm = StateMachine(moving(failing))
    fsm.run_sync()
    drain(fsm)
    with pytest.raises(HandlerError, match=f"{failing} raised RuntimeError: broken hook"):
        fsm.send("go")
    assert names(fsm.configuration) == ["Root", "Next"] and fsm.current_state.name == "Next"
    assert not fsm.is_idle  # Next owes its entry run
    drain(fsm)
    assert fsm.run_sync() == 1
    assert drain(fsm) == ["Next on_state None"]


def test_after_an_on_enter_failure_raised_while_starting_the_machine_is_started_once() -> None:
    def runs(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"A on_state {ctx.msg}")

    fsm = StateMachine(box("Root", leaf("A", on_state=runs, on_enter=boom, transitions=lambda: [])))
    with pytest.raises(HandlerError, match="state A: on_enter raised RuntimeError: broken hook"):
        fsm.run_sync()
    assert drain(fsm) == ["enter Root", "enter A"] and names(fsm.configuration) == ["Root", "A"]
    assert fsm.run_sync() == 1  # A's entry run; nothing is entered a second time
    assert drain(fsm) == ["A on_state None"]


@pytest.mark.parametrize("parallel", [False, True], ids=["compound", "parallel"])
def test_an_entry_run_that_raised_is_done_like_a_flat_machines_and_messages_are_handled_after_it(
    parallel: bool,
) -> None:
    def fragile(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"A on_state {ctx.msg}")
        if ctx.msg is None:
            raise RuntimeError("broken entry run")

    a = leaf("A", on_state=fragile, transitions=lambda: [])
    fsm = StateMachine(
        regions("Root", box("One", a), box("Two", leaf("B", on_state=on({}), transitions=lambda: [])))
        if parallel
        else box("Root", a)
    )
    with pytest.raises(HandlerError, match="state A: on_state raised RuntimeError: broken entry run"):
        fsm.run_sync()
    drain(fsm)
    assert fsm.run_sync() == (1 if parallel else 0)  # (B's entry run: A's is done, if it failed)
    assert drain(fsm) == []
    fsm.send("hello")
    assert drain(fsm) == ["A on_state hello"]
