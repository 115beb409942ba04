"""Build-time validation: every problem, named, with a fix, raised once; only reachable states."""

from __future__ import annotations

from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.common.timebase import DEFAULT_TIMEBASE
from mycorrhizal.septum import (
    Again,
    History,
    LabeledTransition,
    Pop,
    Push,
    Retry,
    StateConfiguration,
    StateMachine,
    septum,
)


class E(Enum):
    GO = auto()
    BACK = auto()


@septum.state(config=StateConfiguration(terminal=True))
class End:
    pass


def make(name: str, *, config: StateConfiguration | None = None, **handlers: object):
    """A class-form state built from keyword handlers (test helper)."""
    body: dict[str, object] = {}
    for role, fn in handlers.items():
        body[role] = getattr(septum, role)(fn)
    return septum.state(config=config)(type(name, (), body))


def errors_of(initial, **kwargs) -> str:
    with pytest.raises(DefinitionError, match=r"^state machine \S+ has \d+ problems?:\n  - ") as info:
        StateMachine(initial, **kwargs)
    return str(info.value)


def test_missing_on_state_is_named() -> None:
    s = make("NoHandler", transitions=lambda: [LabeledTransition(E.GO, End)])
    text = errors_of(s)
    assert "state machine NoHandler has 1 problem" in text
    assert "state NoHandler: has no @septum.on_state handler. Fix: add" in text


def test_unknown_target_is_named() -> None:
    class NotAState:
        pass

    s = make("Pointer", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, NotAState)])
    text = errors_of(s)
    assert "label GO targets class NotAState, which is not" in text


def test_unresolvable_target_is_named() -> None:
    @septum.state
    class Lost:
        @septum.on_state
        async def on_state(ctx):
            return E.GO

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, NowhereState)]  # noqa: F821 - the point of the test

    with pytest.raises(
        DefinitionError,
        match=r"^state machine Lost has 1 problem:\n  - state Lost: handler transitions refers to "
        r"'NowhereState'",
    ):
        StateMachine(Lost)


# Each builder declares its states inside a function, so their qualified names read
# ``builder.<locals>.Name``; problems name them as the user did, like the header and run-time errors.


def lost_target() -> None:
    @septum.state
    class Lost:
        @septum.on_state
        async def on_state(ctx):
            return E.GO

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, Nowhere)]  # noqa: F821 - the point of the test

    StateMachine(Lost)


def renamed_state() -> None:
    @septum.state(name="Renamed")
    class Internal:
        @septum.on_state
        async def on_state(ctx):
            return E.GO

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, Nowhere)]  # noqa: F821 - the point of the test

    StateMachine(Internal)


def pop_without_push() -> None:
    @septum.state
    class Popper:
        @septum.on_state
        async def on_state(ctx):
            return E.GO

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, Pop)]

    StateMachine(Popper)


def unreachable_member() -> None:
    @septum.state(config=StateConfiguration(terminal=True))
    class Orphan:
        pass

    StateMachine(septum.group(End, Orphan, name="Pair"))


def unreachable_member_of_a_class_group() -> None:
    # The header read "state machine unreachable_member_of_a_class_group.<locals>.Grp".
    @septum.state(config=StateConfiguration(terminal=True))
    class Orphan:
        pass

    @septum.group
    class Grp:
        start = End
        orphan = Orphan

    StateMachine(Grp)


def history_without_its_state() -> None:
    @septum.state
    class Start:
        @septum.on_state
        async def on_state(ctx):
            return E.GO

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, History)]

    StateMachine(Start)


def unreachable_child() -> None:
    @septum.compound
    class Door:
        @septum.state(config=StateConfiguration(terminal=True))
        class Shut:
            pass

        @septum.state(config=StateConfiguration(terminal=True))
        class Ajar:
            pass

    StateMachine(Door)


def empty_compound() -> None:
    @septum.compound
    class Door:
        pass


def child_of_two_compounds() -> None:
    @septum.state(config=StateConfiguration(terminal=True))
    class Shared:
        pass

    @septum.compound
    class One:
        child = Shared

    @septum.compound
    class Two:
        child = Shared


def state_function_with_a_parameter() -> None:
    @septum.state
    def Needy(x):
        pass


def state_function_body_raises() -> None:
    @septum.state
    def Broken():
        {}["Events"]


def state_decorated_twice() -> None:
    @septum.state
    @septum.state(config=StateConfiguration(terminal=True))
    class Twice:
        pass


IN_A_FUNCTION = [
    (lost_target, "state Lost", r"state Lost: handler transitions refers to 'Nowhere'"),
    (renamed_state, "state Renamed", r"state Renamed: handler transitions refers to 'Nowhere'"),
    (pop_without_push, "state Popper", r"state Popper: can Pop, but no reachable state ever Pushes"),
    (unreachable_member, "state Orphan", r"state Orphan: is declared in group Pair but unreachable"),
    (
        unreachable_member_of_a_class_group,
        "state Orphan",
        r"^state machine Grp has 1 problem:\n  - state Orphan: is declared in group Grp but unreachable",
    ),
    (history_without_its_state, "state Start", r"state Start: targets History without naming"),
    (unreachable_child, "state Ajar", r"state Ajar: is a child of Door that no run can enter"),
    (empty_compound, "compound state Door", r"compound state Door: declares no states of its own"),
    (
        child_of_two_compounds,
        "compound state Two",
        r"compound state Two: nests Shared, already a child of One\.",
    ),
    (state_function_with_a_parameter, "state Needy", r"state Needy: a state function takes no arguments"),
    (state_function_body_raises, "state Broken", r"state Broken: its body raised KeyError"),
    (state_decorated_twice, "state Twice", r"state Twice: is already a state"),
]


@pytest.mark.parametrize(
    ("build", "subject", "match"), IN_A_FUNCTION, ids=[c[0].__name__ for c in IN_A_FUNCTION]
)
def test_problems_name_a_state_declared_in_a_function_as_the_user_did(build, subject, match) -> None:
    with pytest.raises(DefinitionError, match=match) as info:
        build()
    assert [p.subject for p in info.value.problems] == [subject]
    assert "<locals>" not in str(info.value)


def test_undefined_events_is_a_definition_error() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    class NoEvents:
        @septum.on_state
        async def on_state(ctx):
            return Events.DONE  # noqa: F821 - the point of the test

    text = errors_of(NoEvents)
    assert "handler on_state refers to 'Events', which is not defined" in text
    assert "define `class Events(Enum)` inside the state" in text


def test_every_problem_is_reported_at_once() -> None:
    s = make(
        "Messy",
        config=StateConfiguration(timeout=3, retries=2),
        transitions=lambda: [LabeledTransition(E.GO, End), LabeledTransition(E.GO, End)],
    )
    with pytest.raises(DefinitionError, match="state machine Messy has 4 problems") as info:
        StateMachine(s, strict=True)  # strict: the timeout without on_timeout (0.x accepted it) too
    messages = [p.message for p in info.value.problems]
    assert len(messages) == 4, messages
    assert any("no @septum.on_state" in m for m in messages)
    assert any("timeout=3 but no @septum.on_timeout" in m for m in messages)
    assert any("retries=2 but no @septum.on_fail" in m for m in messages)
    assert any("uses label GO twice" in m for m in messages)
    assert all(p.subject == "state Messy" for p in info.value.problems)


@pytest.mark.parametrize(
    ("config", "handlers", "match"),
    [
        (StateConfiguration(), {"on_timeout": lambda ctx: None}, "declares on_timeout but no timeout"),
        (StateConfiguration(), {"on_fail": lambda ctx: None}, "declares on_fail but no retries"),
        (
            StateConfiguration(terminal=True),
            {"on_fail": lambda ctx: None},
            "is terminal but declares on_fail",
        ),
        (StateConfiguration(terminal=True, timeout=1), {}, "is terminal but has a timeout"),
        (StateConfiguration(), {"on_state": lambda ctx: None}, "has no transitions and is not terminal"),
        (StateConfiguration(), {"on_state": lambda: None}, "handler on_state .* must take one argument, ctx"),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: {"a": 1}},
            "returned dict, not a list",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: [(E.GO, End)]},
            "which is not a LabeledTransition",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: 1 / 0},
            "transitions\\(\\) raised ZeroDivisionError",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: [LabeledTransition(None, End)]},
            "uses None as a label",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: [LabeledTransition(["x"], End)]},
            "is not hashable",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: [LabeledTransition(E.GO, Push)]},
            "targets Push without states",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: [LabeledTransition(E.GO, Push(End, "x"))]},
            "Push needs septum states",
        ),
        (
            StateConfiguration(),
            {"on_state": lambda ctx: None, "transitions": lambda: [LabeledTransition(E.GO, Pop)]},
            "can Pop, but no reachable state ever Pushes",
        ),
    ],
)
def test_each_definition_error_names_the_state(config, handlers, match) -> None:
    s = make("Culprit", config=config, **handlers)
    with pytest.raises(DefinitionError, match=f"state Culprit: .*{match}"):
        StateMachine(s)


def test_async_transitions_is_refused() -> None:
    async def transitions():
        return []

    s = make("AsyncTrans", on_state=lambda ctx: None, transitions=transitions)
    with pytest.raises(DefinitionError, match="must be a plain function, not async"):
        StateMachine(s)


def test_two_on_state_handlers_are_refused() -> None:
    @septum.state
    def Twice():
        @septum.on_state
        def first(ctx):
            return None

        @septum.on_state
        def second(ctx):
            return None

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, End)]

    with pytest.raises(DefinitionError, match="declares 2 @septum.on_state handlers"):
        StateMachine(Twice)


def test_validation_covers_only_reachable_states() -> None:
    broken = make("Broken")  # no on_state, no transitions: invalid, but nobody reaches it
    fine = make("Fine", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, End)])
    StateMachine(fine)  # no error
    with pytest.raises(DefinitionError, match="state Broken"):
        StateMachine(broken)


def test_problems_in_reachable_states_are_found_transitively() -> None:
    deep = make("Deep", transitions=lambda: [LabeledTransition(E.GO, End)])
    mid = make("Mid", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, deep)])
    top = make("Top", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, mid)])
    with pytest.raises(DefinitionError, match="state machine Top has 1 problem:\n  - state Deep: has no"):
        StateMachine(top)


def test_error_state_is_validated_too() -> None:
    bad_error = make("BadError", config=StateConfiguration(can_dwell=True))
    fine = make("Fine2", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, End)])
    with pytest.raises(DefinitionError, match="state BadError: has no @septum.on_state"):
        StateMachine(fine, error_state=bad_error)


def test_group_reports_unreachable_members() -> None:
    first = make("First", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, End)])
    orphan = make("Orphan", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, End)])
    group = septum.group(first, orphan, End, name="Pair")
    with pytest.raises(DefinitionError, match="state Orphan: is declared in group Pair but unreachable"):
        StateMachine(group)


def test_a_failed_build_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    @septum.state
    class Later:
        @septum.on_state
        async def on_state(ctx):
            return E.GO

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, DefinedLater)]  # noqa: F821 - defined below

    with pytest.raises(DefinitionError, match="DefinedLater"):
        StateMachine(Later)
    monkeypatch.setitem(globals(), "DefinedLater", End)
    assert StateMachine(Later).current_state is Later


def test_machines_share_one_compiled_spec() -> None:
    s = make("Shared", on_state=lambda ctx: Again, transitions=lambda: [LabeledTransition(E.GO, End)])
    a, b = StateMachine(s), StateMachine(s)
    assert a.spec is b.spec
    assert StateMachine(s, error_state=End).spec is not a.spec


def test_retry_without_budget_is_allowed() -> None:
    s = make("Unbounded", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GO, Retry)])
    StateMachine(s)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_queue_size": 0}, "max_queue_size must be an int >= 1 or None"),
        ({"max_queue_size": True}, "max_queue_size must be an int >= 1 or None"),
        ({"queue_overflow": "drop"}, "queue_overflow must be one of"),
    ],
)
def test_machine_options_are_checked(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        StateMachine(End, **kwargs)


def test_machine_needs_a_state() -> None:
    with pytest.raises(TypeError, match="starts from a @septum.state or a septum.group"):
        StateMachine(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="error_state must be a @septum.state"):
        StateMachine(End, error_state="Oops")  # type: ignore[arg-type]


def test_an_error_hook_that_is_not_callable_is_refused_when_the_machine_is_built() -> None:
    with pytest.raises(TypeError, match="on_error must be a function hook\\(ctx, error\\), got 'Oops'"):
        StateMachine(End, on_error="Oops")


@pytest.mark.parametrize(
    ("timebase", "fix"),
    [
        ("clock", r"Fix: pass a clock such as MonotonicClock\(\), ManualClock\(\)"),
        (ManualClock, r"Fix: pass an instance: ManualClock\(\)$"),
    ],
)
def test_a_timebase_that_is_not_a_clock_is_a_definition_error_naming_the_machine(timebase, fix) -> None:
    with pytest.raises(DefinitionError, match=r"StateMachine 'End': timebase=.* is not a timebase.*" + fix):
        StateMachine(End, timebase=timebase)


def test_a_machine_built_without_a_timebase_runs_on_the_shared_default_clock() -> None:
    clock = ManualClock()
    assert StateMachine(End).timebase is DEFAULT_TIMEBASE
    assert StateMachine(End, timebase=clock).timebase is clock


@septum.state
class Misspelt:
    class Event(Enum):
        GO = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.GO  # noqa: F821 - the state's Enum is Event: the slip the test is about

    @septum.transitions
    def transitions():
        return [LabeledTransition(Misspelt.Event.GO, End)]


def misspelt_target() -> Any:
    slip = lambda: [LabeledTransition(E.GO, Ennd)]  # noqa: E731, F821 - End, misspelt
    return make("Typo", on_state=lambda ctx: E.GO, transitions=slip)


def misspelt_label() -> Any:
    return make("Label", on_state=lambda ctx: E.GO, transitions=lambda: [LabeledTransition(E.GOO, End)])


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (
            misspelt_target,
            r"handler transitions refers to 'Ennd', which is not defined .*\. Fix: did you mean 'End'\? "
            r"If not, define or import 'Ennd' where the state is declared$",
        ),
        (
            misspelt_label,
            r"transitions\(\) raised AttributeError: .*GOO.*\. Fix: did you mean 'GO'\? "
            r"If not, use one of E's members: GO, BACK$",
        ),
        (
            lambda: Misspelt,
            r"handler on_state refers to 'Events', .*\. Fix: did you mean 'Event'\? "
            r"If not, define `class Events",
        ),
    ],
    ids=["state", "label", "enum"],
)
def test_a_misspelt_state_or_label_is_answered_with_the_nearest(state: Any, problem: str) -> None:
    # Before: each fix said what to define, never which name was meant.
    with pytest.raises(DefinitionError, match=f"(?m){problem}"):  # (?m): '$' ends the problem's line
        StateMachine(state())
