"""0.x's target type hierarchy: isinstance/issubclass checks of 0.x programs answer as they did."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.septum.core import (
    Again,
    Pop,
    Push,
    Repeat,
    Restart,
    Retry,
    StateContinuation,
    StateRef,
    StateRenewal,
    StateTransition,
    TransitionType,
    Unhandled,
    septum,
)


@septum.state
def Somewhere() -> None:
    """A state, as a target."""

    @septum.on_state
    def on_state(ctx: Any) -> None:
        return None


KINDS = [StateTransition, StateContinuation, StateRenewal]


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        (Somewhere, StateTransition),
        (StateRef("somewhere.Else"), StateTransition),
        (Push(Somewhere), StateTransition),
        (Pop(), StateTransition),
        (Again(), StateContinuation),
        (Unhandled(), StateContinuation),
        (Retry(), StateContinuation),
        (Restart(), StateRenewal),
        (Repeat(), StateRenewal),
    ],
    ids=repr,
)
def test_every_target_is_a_transition_type_of_exactly_its_0x_kind(target: Any, kind: type) -> None:
    assert isinstance(target, TransitionType)
    assert [k for k in KINDS if isinstance(target, k)] == [kind]


def test_the_target_classes_themselves_are_subclasses_as_in_0x() -> None:
    # 0.x programs return the classes (``return Again``) as often as instances
    assert issubclass(Again, StateContinuation) and issubclass(Restart, StateRenewal)
    assert issubclass(Pop, StateTransition) and issubclass(Again, TransitionType)
    assert not issubclass(Again, StateRenewal)
    assert not isinstance("Somewhere", TransitionType)  # a bare name is not a target object
