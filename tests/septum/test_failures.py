"""What a handler's failure says: raised out of run()/tick() it ends with one fix; routed (to the error
state or by the on_error hook) its log line says where it went, before any fix of the user's own."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from mycorrhizal.common import HandlerError
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine

from ._helpers import E, make, terminal

End = terminal()
DWELL = StateConfiguration(can_dwell=True)

HANDLE = "handle ValueError in on_state"
UNROUTED = f"{HANDLE}, or give the machine an error_state (or on_error) to route failures to"
DECLINED = f"{HANDLE}, or have on_error return a state for it (or give the machine an error_state)"


def fragile(said: str) -> Any:
    """A state whose on_state raises ``ValueError(said)`` on every message."""

    def on_state(ctx: Any) -> None:
        if ctx.msg is not None:
            raise ValueError(said)

    return make("Fragile", on_state=on_state, transitions=lambda: [LabeledTransition(E.DONE, End)])


def _record(ctx: Any) -> None:
    ctx.common["error"] = str(ctx.error)


Recover = make("Recover", config=DWELL, on_state=_record)


@pytest.mark.parametrize(
    ("options", "said", "raised", "logged", "handed"),
    [
        ({}, "boom", f"boom. Fix: {UNROUTED}", None, None),
        ({"on_error": lambda ctx, error: None}, "boom", f"boom. Fix: {DECLINED}", None, None),
        ({"error_state": Recover}, "boom", None, "boom; going to Recover", "boom"),
        ({"on_error": lambda ctx, error: Recover}, "boom", None, "boom; going to Recover", "boom"),
        # The exception says its own fix: it wins, raised or routed, and stays last.
        ({}, "boom. Fix: reload it", "boom. Fix: reload it", None, None),
        (
            {"error_state": Recover},
            "boom. Fix: reload it",
            None,
            "boom; going to Recover. Fix: reload it",
            "boom. Fix: reload it",
        ),
    ],
    ids=["not routed", "on_error declines", "routed", "on_error", "own fix raised", "own fix routed"],
)
async def test_a_raised_failure_ends_with_one_fix_and_a_routed_one_says_where_it_went_first(
    options: dict[str, Any],
    said: str,
    raised: str | None,
    logged: str | None,
    handed: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "mycorrhizal.septum")
    fsm = StateMachine(fragile(said), **options)
    fsm.send_message("go")
    problem = "state Fragile: on_state raised ValueError: "
    if raised is None:
        await fsm.run()
    else:
        with pytest.raises(HandlerError, match=rf"^{re.escape(problem + raised)}$") as info:
            await fsm.run()
        assert isinstance(info.value.__cause__, ValueError) and str(info.value.__cause__) == said
    lines = [r.getMessage() for r in caplog.records if r.name == "mycorrhizal.septum"]
    lines = [line for line in lines if line.startswith("machine Fragile: state Fragile:")]
    assert lines == ([] if logged is None else [f"machine Fragile: {problem}{logged}"])
    # What the error state reads in ctx.error: the failure, handled, so no fix but the user's own.
    assert fsm.common.get("error") == (None if handed is None else problem + handed)


async def test_a_failure_of_the_error_state_itself_says_it_is_never_routed_again() -> None:
    def broken(ctx: Any) -> None:
        raise ValueError("again")

    fsm = StateMachine(fragile("boom"), error_state=make("Broken", config=DWELL, on_state=broken))
    fsm.send_message("go")
    said = (
        "state Broken: on_state raised ValueError: again. Fix: handle ValueError in on_state (a failure of "
        "the error state itself is raised, never routed again)"
    )
    with pytest.raises(HandlerError, match=rf"^{re.escape(said)}$"):
        await fsm.run()


async def test_a_failure_entering_the_state_chosen_for_an_error_says_it_is_never_routed_again() -> None:
    def broken(ctx: Any) -> None:
        raise ValueError("no entry")

    chosen = make("Chosen", config=DWELL, on_enter=broken, on_state=lambda ctx: None)
    fsm = StateMachine(fragile("boom"), on_error=lambda ctx, error: chosen)
    fsm.send_message("go")
    said = (
        "state Chosen: on_enter raised ValueError: no entry. Fix: handle ValueError in on_enter (a failure "
        "while entering the state chosen for an error is raised, never routed again)"
    )
    with pytest.raises(HandlerError, match=rf"^{re.escape(said)}$"):
        await fsm.run()
