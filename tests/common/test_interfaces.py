"""Protocols and metadata (UPSTREAM-API 5.4, mycorrhizal.common.interfaces)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Protocol

import pydantic
import pytest

from mycorrhizal.common import (
    AccessControlError,
    BlackboardProtocol,
    BlackboardView,
    DefinitionError,
    FieldAccessor,
    FieldMetadata,
    FieldSpec,
    InterfaceMetadata,
    Readable,
    Writable,
    blackboard_interface,
    create_interface_from_model,
    create_view_from_protocol,
    get_interface_fields,
    get_interface_metadata,
    readonly,
)


class Settings(pydantic.BaseModel):
    limit: int = 3
    done: int = 0


@dataclasses.dataclass
class Counters:
    limit: int = 3
    done: int = 0


@pytest.mark.parametrize("obj", [{}, BlackboardView({})])
def test_dicts_and_views_are_field_accessors(obj: Any) -> None:
    assert isinstance(obj, Readable) and isinstance(obj, Writable) and isinstance(obj, FieldAccessor)


def test_a_plain_object_is_not_a_field_accessor() -> None:
    assert not isinstance(Counters(), Readable) and not isinstance(Counters(), FieldAccessor)


def test_field_metadata_is_field_spec() -> None:
    assert FieldMetadata is FieldSpec


def test_interface_fields_and_metadata() -> None:
    @blackboard_interface
    class Ops:
        limit: Annotated[int, readonly]
        done: int

    fields = get_interface_fields(Ops)
    assert fields == {"limit": FieldSpec("limit", int, readonly=True), "done": FieldSpec("done", int)}
    meta = get_interface_metadata(Ops)
    assert meta == InterfaceMetadata("Ops", (fields["limit"], fields["done"]))
    assert meta.readonly_fields == {"limit"} and meta.readwrite_fields == {"done"}


@pytest.mark.parametrize("model", [Settings, Counters])
def test_interface_from_a_model(model: type) -> None:
    iface = create_interface_from_model(model, readonly={"limit"})
    assert iface.__name__ == f"{model.__name__}Interface"
    assert iface._readonly_fields == {"limit"} and iface._readwrite_fields == {"done"}  # type: ignore[attr-defined]
    board = model()
    view = create_view_from_protocol(board, iface)
    view.done = 1
    with pytest.raises(
        AccessControlError,
        match=rf"'{model.__name__}Interface' may not write 'limit': .*\. Fix: mark it readwrite",
    ):
        view.limit = 9
    assert board.done == 1 and board.limit == 3


def test_interface_from_a_model_refuses_unknown_read_only_names() -> None:
    with pytest.raises(DefinitionError, match=r"Settings: has no fields \['ghost'\] to make read-only"):
        create_interface_from_model(Settings, readonly={"ghost"}, name="S")


def test_blackboard_protocol_is_a_base_for_protocol_interfaces() -> None:
    class Ops(BlackboardProtocol, Protocol):
        limit: Annotated[int, readonly]
        done: int

    iface = blackboard_interface(Ops)
    assert iface._readonly_fields == {"limit"} and iface._readwrite_fields == {"done"}
