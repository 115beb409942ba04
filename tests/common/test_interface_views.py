"""Automatic views for handlers (UPSTREAM-API 5.3): what engines call, and the cache they own."""

from __future__ import annotations

import gc
from typing import Annotated, Any, Generic, TypeVar

import pytest

from mycorrhizal.common import (
    AccessControlError,
    ConstrainedView,
    DefinitionError,
    InterfaceViews,
    blackboard_interface,
    interface_of,
    is_interface,
    readonly,
)

T = TypeVar("T")


@blackboard_interface
class Battery:
    level: Annotated[float, readonly]
    charging: bool


class Context(Generic[T]):
    """Stands in for an engine's generic context (septum's SharedContext[Iface])."""

    common: T


def leaf(bb: Battery) -> None: ...
def transition(consumed: list[Any], bb: Battery, timebase: Any) -> None: ...
def plain(bb: dict[str, Any]) -> None: ...
def untyped(bb): ...  # type: ignore[no-untyped-def]
def in_context(ctx: Context[Battery]) -> None: ...
def optional(bb: Battery | None) -> None: ...
def stringly(bb: "Battery") -> None: ...  # noqa: UP037 - a string annotation is the point


def test_is_interface() -> None:
    assert is_interface(Battery) and not is_interface(dict) and not is_interface(Battery._readonly_fields)


@pytest.mark.parametrize(
    "handler, parameter, expected",
    [
        (leaf, "bb", Battery),
        (transition, 1, Battery),
        (transition, "bb", Battery),
        (transition, 0, None),
        (plain, "bb", None),
        (untyped, "bb", None),
        (in_context, "ctx", Battery),
        (optional, "bb", Battery),
        (stringly, "bb", Battery),
        (leaf, "missing", None),
        (leaf, 5, None),
        (print, 0, None),
    ],
)
def test_interface_of_finds_the_annotated_interface(
    handler: Any, parameter: str | int, expected: Any
) -> None:
    assert interface_of(handler, parameter) is expected


def test_an_unresolvable_string_annotation_is_a_definition_error_naming_the_handler() -> None:
    def broken(bb: "NoSuchInterface") -> None: ...  # type: ignore[name-defined]  # noqa: F821, UP037

    # Declared in this test, its qualname reads "test_....<locals>.broken": named as written instead.
    with pytest.raises(
        DefinitionError,
        match=r"^handler 'broken' has 1 problem:\n  - broken: the annotation 'NoSuchInterface' of its "
        r"parameter 'bb' cannot be resolved",
    ):
        interface_of(broken, "bb")


def test_views_are_cached_per_blackboard_and_interface() -> None:
    views = InterfaceViews()
    one, two = {"level": 0.5, "charging": False}, {"level": 0.9, "charging": True}
    first = views.view(one, Battery)
    assert isinstance(first, ConstrainedView) and views.view(one, Battery) is first
    assert views.view(two, Battery) is not first and len(views) == 2
    first.charging = True
    assert one["charging"] is True
    with pytest.raises(
        AccessControlError,
        match=r"'Battery' may not write 'level': the field is read-only here\. Fix: mark it readwrite",
    ):
        first.level = 1.0


def test_a_recycled_id_gets_a_fresh_view() -> None:
    views = InterfaceViews()

    class Board:
        level = 0.1
        charging = False

    board = Board()
    stale = views.view(board, Battery)
    key = id(board)
    del board, stale
    gc.collect()
    fresh = Board()
    view = views.view(fresh, Battery)
    assert view.target is fresh  # even if the new board got the old id
    assert id(fresh) != key or len(views) == 1


def test_the_view_replaces_the_blackboard_for_that_call_only() -> None:
    # The 0.x bug: once one annotated handler ran, every later handler saw the restricted view.
    views = InterfaceViews()
    bb = {"level": 0.5, "charging": False, "log": []}
    interface = interface_of(leaf, "bb")
    assert interface is Battery
    restricted = views.view(bb, interface)
    with pytest.raises(
        AttributeError,
        match=r"'Battery' has no field 'log' \(its fields: charging, level\)\. "
        r"Fix: add 'log' to the interface",
    ):
        _ = restricted.log
    bb["log"].append("an unannotated handler still sees everything")
    assert bb["log"] and interface_of(plain, "bb") is None
