"""Typed blackboard interfaces (UPSTREAM-API 5.2): blackboard_interface, readonly, readwrite, FieldSpec."""

from __future__ import annotations

from typing import Annotated, ClassVar

import pytest

from mycorrhizal.common import DefinitionError, FieldSpec, blackboard_interface, readonly, readwrite
from mycorrhizal.common.interface_builder import interface_field_specs


class Robot:
    battery: Annotated[float, readonly]
    position: Annotated[tuple[int, int], readwrite]
    mission: str
    _secret: int
    species: ClassVar[str] = "robot"


def test_bare_decorator_returns_a_new_plain_class_listing_the_fields() -> None:
    iface = blackboard_interface(Robot)
    assert iface is not Robot and iface.__name__ == "Robot" and iface.__bases__ == (object,)
    assert iface._readonly_fields == frozenset({"battery"})
    assert iface._readwrite_fields == frozenset({"position", "mission"})
    assert isinstance(iface._readonly_fields, frozenset) and isinstance(iface._readwrite_fields, frozenset)
    assert iface.__annotations__ == {"battery": float, "position": tuple[int, int], "mission": str}


def test_called_with_a_name() -> None:
    iface = blackboard_interface(name="RobotView")(Robot)
    assert iface.__name__ == "RobotView" and iface._readonly_fields == {"battery"}


def test_defaults_are_not_kept_and_marker_instances_count_too() -> None:
    @blackboard_interface
    class Ops:
        limit: Annotated[int, readonly()] = 3
        done: int = 0

    assert not hasattr(Ops, "limit") and not hasattr(Ops, "done")
    assert Ops._readonly_fields == {"limit"} and Ops._readwrite_fields == {"done"}


def test_fields_of_base_classes_are_included() -> None:
    class Base:
        a: Annotated[int, readonly]

    @blackboard_interface
    class Child(Base):
        b: int

    assert Child._readonly_fields == {"a"} and Child._readwrite_fields == {"b"}


def test_a_field_marked_both_ways_is_a_definition_error() -> None:
    class Both:
        x: Annotated[int, readonly, readwrite]
        y: Annotated[int, readwrite, readonly]

    with pytest.raises(
        DefinitionError, match=r"2 problems:\n  - Both.x: is marked both readonly and readwrite"
    ):
        blackboard_interface(Both)


def test_unresolvable_annotations_are_a_definition_error() -> None:
    class Broken:
        x: NoSuchType  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(
        DefinitionError, match="Broken: its annotations cannot be resolved .*NameError.*Fix: import"
    ):
        blackboard_interface(Broken)


def test_a_non_class_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="42: is not a class"):
        blackboard_interface(42)  # type: ignore[call-overload]


def test_field_spec_has_the_0x_shape_and_describes_each_field() -> None:
    spec = FieldSpec("battery", float, readonly=True)
    assert (spec.name, spec.type, spec.readonly, spec.computed, spec.computation) == (
        "battery",
        float,
        True,
        False,
        None,
    )
    assert FieldSpec("n", int) == FieldSpec("n", int, False, False, None)
    assert interface_field_specs(blackboard_interface(Robot))["battery"] == spec


def test_a_hand_made_interface_lists_its_fields_in_the_frozensets() -> None:
    class HandMade:
        _readonly_fields = frozenset({"a"})
        _readwrite_fields = frozenset({"b"})

    specs = interface_field_specs(HandMade)
    assert {n: s.readonly for n, s in specs.items()} == {"a": True, "b": False}
