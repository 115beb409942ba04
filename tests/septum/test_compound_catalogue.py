"""The catalogue of bad statechart definitions (compound, parallel, history), each with its exact error."""

# ruff: noqa: E501 - the catalogue holds each message whole, exactly as a user reads it

from __future__ import annotations

import re
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, DefinitionTypeError
from mycorrhizal.septum import LabeledTransition, Push, StateConfiguration, StateMachine, septum
from mycorrhizal.septum.compound import Completed
from mycorrhizal.septum.history import DeepHistory, History
from tests.septum._charts import box, final, leaf, on, regions
from tests.septum._helpers import E


def idle(name: str) -> Any:
    return leaf(name, on_state=on({}))


def going(name: str, target: Any) -> Any:
    return leaf(name, on_state=on({"x": E.GO}), transitions=lambda: [LabeledTransition(E.GO, target)])


def twice() -> Any:
    shared = idle("A")
    box("One", shared)
    return box("Two", shared)


def no_function() -> Any:
    def Body() -> None:
        return None

    return septum.compound(Body)


CASES: dict[str, Any] = {
    "unreachable child": lambda: StateMachine(box("Box", idle("First"), idle("Orphan"))),
    "history of a plain state": lambda: StateMachine(going("Start", History(idle("Plain")))),
    "history of a parallel state": lambda: StateMachine(
        going("Start", History(regions("Par", box("R", idle("A")))))
    ),
    "history without its state": lambda: StateMachine(going("Start", History)),
    "history default outside": lambda: StateMachine(
        box("Root", going("Start", DeepHistory(box("Box", idle("In")), default=final("Other"))))
    ),
    "parallel region without a final state": lambda: StateMachine(
        regions(
            "Par",
            box("R1", idle("A")),
            box("R2", going("B", final("BDone")), final("BDone2")),
            transitions=lambda: [LabeledTransition(Completed, final("End"))],
        )
    ),
    "push inside a region": lambda: StateMachine(
        regions("Par", box("R1", going("A", Push(final("Elsewhere")))))
    ),
    "compound without children": lambda: septum.compound(type("Empty", (), {})),
    "compound on a function": no_function,
    "terminal compound": lambda: septum.compound(config=StateConfiguration(terminal=True))(
        type("Fin", (), {"A": idle("A")})
    ),
    "unknown initial child": lambda: septum.compound(initial="Nope")(type("Box", (), {"A": idle("A")})),
    # The table in docs/statecharts.md promises this error; septum.parallel took no initial= (TypeError).
    "initial child of a parallel state": lambda: septum.parallel(initial="A")(
        type("Par", (), {"A": box("A", idle("In"))})
    ),
    "child of two compounds": twice,
    "terminal region": lambda: regions("Par", final("Done"), box("R", idle("A"))),
}

EXPECTED = [
    (
        "unreachable child",
        DefinitionError,
        "state machine Box has 1 problem:\n  - state Orphan: is a child of Box that no run can enter: it is not the initial child and no reachable transition targets it. Fix: add a transition to it, make it the initial child, or remove it",
    ),
    (
        "history of a plain state",
        DefinitionError,
        "state Start: targets History(Plain), but history belongs to a compound state. Fix: write History(SomeCompoundState); a plain or parallel state has no history",
    ),
    (
        "history of a parallel state",
        DefinitionError,
        "state Start: targets History(Par), but history belongs to a compound state. Fix: write History(SomeCompoundState); a plain or parallel state has no history",
    ),
    (
        "history without its state",
        DefinitionError,
        "state machine Start has 1 problem:\n  - state Start: targets History without naming its compound state. Fix: write History(SomeCompoundState)",
    ),
    (
        "history default outside",
        DefinitionError,
        "state Start: targets DeepHistory(Box, default=Other), but the default is not inside Box. Fix: name a state nested in Box as the default, or leave it out",
    ),
    (
        "parallel region without a final state",
        DefinitionError,
        "state R1: is a region of parallel state Par, which waits for Completed, but it has no terminal state, so Par could never complete. Fix: add a terminal=True child to the region, or drop the Completed transition",
    ),
    (
        "push inside a region",
        DefinitionError,
        "state machine Par has 1 problem:\n  - state A: uses Push inside a region of parallel state Par, but the stack belongs to the whole machine and regions run at once. Fix: use a compound state with History(...) to come back, or Push/Pop outside the parallel state",
    ),
    (
        "compound without children",
        DefinitionError,
        "compound state Empty has 1 problem:\n  - compound state Empty: declares no states of its own. Fix: nest its states in its class body (@septum.state)",
    ),
    (
        "compound on a function",
        DefinitionTypeError,
        "@septum.compound has 1 problem:\n  - @septum.compound: decorates a class, got <function no_function.<locals>.Body",
    ),
    (
        "terminal compound",
        DefinitionError,
        "compound state Fin has 1 problem:\n  - compound state Fin: is terminal, but a state with children is never final. Fix: mark a child terminal=True",
    ),
    (
        "unknown initial child",
        DefinitionError,
        "compound state Box has 1 problem:\n  - compound state Box: has no child named 'Nope'. Fix: name one of: A",
    ),
    (
        "initial child of a parallel state",
        DefinitionError,
        "parallel state Par has 1 problem:\n  - parallel state Par: takes no initial= (every region is entered). Fix: drop initial=",
    ),
    (
        "child of two compounds",
        DefinitionError,
        "compound state Two has 1 problem:\n  - compound state Two: nests A, already a child of One. Fix: declare a state in one composite state only",
    ),
    (
        "terminal region",
        DefinitionError,
        "parallel state Par has 1 problem:\n  - parallel state Par: has the terminal state Done as a region. Fix: put a region's final state inside a compound region",
    ),
]


def test_the_catalogue_covers_every_case() -> None:
    assert [name for name, _, _ in EXPECTED] == list(CASES)


@pytest.mark.parametrize(("name", "kind", "message"), EXPECTED, ids=[name for name, _, _ in EXPECTED])
def test_each_bad_statechart_raises_its_exact_error(
    name: str, kind: type[DefinitionError], message: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)) as info:
        CASES[name]()
    assert type(info.value) is kind
    assert message in str(info.value)
