"""Structural analysis (networkx): reachability, terminal states, states that cannot finish."""

from __future__ import annotations

from mycorrhizal.inspection import check_report
from mycorrhizal.septum import LabeledTransition, Pop, Push, StateConfiguration, septum

from ._helpers import E, make, terminal

End = terminal()


def test_a_machine_that_always_can_finish() -> None:
    b = make("B", on_state=lambda ctx: E.DONE, transitions=lambda: [LabeledTransition(E.DONE, End)])
    a = make("A", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, b)])
    assert a.analysis_report() == [
        (True, "3 states reachable from A"),
        (True, "terminal states: End"),
        (True, "every state reachable from the start can still reach a terminal state"),
    ]


def test_a_trap_is_reported() -> None:
    trap = make("Trap", on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    loop = make("Loop", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, loop2)])
    loop2 = make("Loop2", on_state=lambda ctx: E.BACK, transitions=lambda: [LabeledTransition(E.BACK, loop)])
    start = make(
        "Start",
        on_state=lambda ctx: None,
        transitions=lambda: [
            LabeledTransition(E.DONE, End),
            LabeledTransition(E.GO, trap),
            LabeledTransition(E.BACK, loop),
        ],
    )
    ok, lines = check_report(start)
    assert not ok
    assert (
        "  WARN  no terminal state can be reached from Loop, Loop2, Trap: a machine that gets there never "
        "completes" in lines
    )
    assert "  ok    may wait for ever by design (can_dwell): Trap" in lines


def test_machines_without_terminal_states_and_pop_returns() -> None:
    sub = make("Sub", on_state=lambda ctx: E.POP, transitions=lambda: [LabeledTransition(E.POP, Pop)])
    home = make(
        "Home", on_state=lambda ctx: None, transitions=lambda: [LabeledTransition(E.GO, Push(sub, home))]
    )
    assert home.analysis_report() == [
        (True, "2 states reachable from Home"),
        (True, "no terminal state: the machine runs until it is stopped"),
    ]
    finishing = make(
        "Finishing", on_state=lambda ctx: None, transitions=lambda: [LabeledTransition(E.GO, Push(sub, End))]
    )
    report = finishing.analysis_report()
    assert (True, "every state reachable from the start can still reach a terminal state") in report


def test_group_analysis() -> None:
    group = septum.group(End, name="Solo")
    assert group.analysis_report()[0] == (True, "1 states reachable from End")
