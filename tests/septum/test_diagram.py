"""Pictures: initial and terminal states, labelled edges, push/pop, self-loops, current state."""

from __future__ import annotations

import re

from mycorrhizal.render import render, to_dot, to_mermaid
from mycorrhizal.septum import (
    Again,
    LabeledTransition,
    Pop,
    Push,
    Repeat,
    Restart,
    Retry,
    StateConfiguration,
    StateMachine,
    Unhandled,
    septum,
)

from ._helpers import E, make, terminal

Done = terminal("Done")
Sub = make("Sub", on_state=lambda ctx: E.POP, transitions=lambda: [LabeledTransition(E.POP, Pop)])
Main = make(
    "Main",
    config=StateConfiguration(timeout=2.5, retries=2),
    on_state=lambda ctx: None,
    on_timeout=lambda ctx: E.RETRY,
    on_fail=lambda ctx: E.DONE,
    transitions=lambda: [
        LabeledTransition(E.GO, Push(Sub, Main)),
        LabeledTransition(E.RETRY, Retry),
        LabeledTransition(E.AGAIN, Again),
        LabeledTransition(E.REPEAT, Repeat),
        LabeledTransition(E.RESTART, Restart),
        LabeledTransition(E.SKIP, Unhandled),
        LabeledTransition(E.DONE, Done),
    ],
)
Oops = make("Oops", on_state=lambda ctx: E.DONE, transitions=lambda: [LabeledTransition(E.DONE, Done)])


def edges(diagram):
    return {(e.src, e.dst, e.label, e.style) for e in diagram.edges}


def test_state_diagram_shows_the_whole_machine() -> None:
    d = Main.to_diagram()
    nodes = {n.id: n for n in d.nodes}
    assert set(nodes) == {"_start", "Main", "Sub", "Done", "_return"}
    assert all(re.fullmatch(r"[A-Za-z_]\w*", i) for i in nodes)
    assert nodes["Done"].shape == "doublecircle"
    assert nodes["Main"].label == "Main\ntimeout=2.5s\nretries=2"
    assert edges(d) == {
        ("_start", "Main", "", "solid"),
        ("Main", "Sub", "GO (push)", "bold"),
        ("Main", "Main", "GO (then)", "dotted"),
        ("Main", "Main", "RETRY (retry)", "dashed"),
        ("Main", "Main", "AGAIN (again)", "dotted"),
        ("Main", "Main", "REPEAT (repeat)", "dashed"),
        ("Main", "Main", "RESTART (restart)", "dashed"),
        ("Main", "Done", "DONE", "solid"),
        ("Sub", "_return", "POP (pop)", "dashed"),
    }


async def test_machine_diagram_highlights_current_and_error_states() -> None:
    fsm = StateMachine(Main, error_state=Oops)
    await fsm.initialize()
    nodes = {n.id: n for n in fsm.to_diagram().nodes}
    assert nodes["Main"].fill is not None
    assert nodes["Oops"].fill is not None and nodes["Oops"].fill != nodes["Main"].fill
    assert nodes["Sub"].fill is None


def test_same_names_get_distinct_ids() -> None:
    other_done = terminal("Done")
    s = make(
        "Fork",
        on_state=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.GO, Done), LabeledTransition(E.BACK, other_done)],
    )
    ids = [n.id for n in s.to_diagram().nodes]
    assert "Done" in ids and "Done_2" in ids


def test_group_diagram() -> None:
    group = septum.group(Oops, Done, name="Pair")
    d = group.to_diagram()
    assert d.name == "Pair" and {n.id for n in d.nodes} == {"_start", "Oops", "Done"}


def test_dot_and_mermaid_text() -> None:
    dot = to_dot(Main)
    assert "Main -> Sub" in dot and "doublecircle" in dot
    mermaid = to_mermaid(StateMachine(Main))
    assert mermaid.startswith("flowchart LR") and "GO (push)" in mermaid


def test_render_svg(tmp_path) -> None:
    out = render(Main, tmp_path / "main.svg")
    assert out.read_text().lstrip().startswith("<?xml")
