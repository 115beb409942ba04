"""Protocols and metadata for blackboard interfaces.

``Readable``/``Writable``/``FieldAccessor`` describe what can be read or written by key (a ``dict``
and every blackboard view qualify); ``get_interface_fields`` describes an interface's fields;
``create_interface_from_model`` turns a model class (a Pydantic model, a dataclass, an attrs
class, any annotated class) into an interface.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Protocol, runtime_checkable

import attrs

from .errors import DefinitionError, Problem
from .interface_builder import FieldSpec, blackboard_interface, interface_field_specs
from .interface_builder import readonly as readonly_marker

__all__ = [
    "BlackboardProtocol",
    "FieldAccessor",
    "FieldMetadata",
    "InterfaceMetadata",
    "Readable",
    "Writable",
    "create_interface_from_model",
    "get_interface_fields",
    "get_interface_metadata",
]

#: What is known about one field of an interface (the same record as ``FieldSpec``).
FieldMetadata = FieldSpec


@runtime_checkable
class Readable(Protocol):
    """Something whose values can be read by key: ``obj[key]``."""

    def __getitem__(self, key: str, /) -> Any:
        """The value under ``key``."""


@runtime_checkable
class Writable(Protocol):
    """Something whose values can be written by key: ``obj[key] = value``."""

    def __setitem__(self, key: str, value: Any, /) -> None:
        """Store ``value`` under ``key``."""


@runtime_checkable
class FieldAccessor(Readable, Writable, Protocol):
    """Read and write by key, with ``get`` and ``in``: a ``dict`` or any blackboard view."""

    def get(self, key: str, default: Any = None, /) -> Any:
        """The value under ``key``, or ``default``."""

    def __contains__(self, key: object, /) -> bool:
        """Whether ``key`` has a value."""


class BlackboardProtocol(Protocol):
    """A base for interfaces written as typing protocols: ``class Ops(BlackboardProtocol, Protocol)``.

    It adds no member: the subclass's annotations are its fields, as for any interface.
    """


@attrs.frozen
class InterfaceMetadata:
    """An interface's name and fields."""

    name: str
    fields: tuple[FieldSpec, ...]

    @property
    def readonly_fields(self) -> frozenset[str]:
        """Names of the read-only fields."""
        return frozenset(f.name for f in self.fields if f.readonly)

    @property
    def readwrite_fields(self) -> frozenset[str]:
        """Names of the read-write fields."""
        return frozenset(f.name for f in self.fields if not f.readonly)


def get_interface_fields(interface: type) -> dict[str, FieldSpec]:
    """Each field of ``interface`` (a decorated interface or any annotated class) by name."""
    return interface_field_specs(interface)


def get_interface_metadata(interface: type) -> InterfaceMetadata:
    """``interface``'s name and fields."""
    return InterfaceMetadata(interface.__name__, tuple(interface_field_specs(interface).values()))


def create_interface_from_model(
    model: type, *, readonly: Iterable[str] = (), name: str | None = None
) -> type:
    """An interface with the fields ``model`` annotates; those named in ``readonly`` are read-only.

    Works for Pydantic models, dataclasses, attrs classes and plain annotated classes (``ClassVar``
    and ``_private`` annotations are not fields).
    """
    specs = interface_field_specs(model)
    frozen = frozenset(readonly)
    unknown = sorted(frozen - specs.keys())
    if unknown:
        raise DefinitionError(
            [
                Problem(
                    model.__name__,
                    f"has no fields {unknown} to make read-only",
                    f"use some of {sorted(specs)}",
                )
            ],
            what=f"interface from {model.__name__!r}",
        )
    annotations: dict[str, Any] = {
        n: Annotated[s.type, readonly_marker] if s.readonly or n in frozen else s.type
        for n, s in specs.items()
    }
    title = name or f"{model.__name__}Interface"
    return blackboard_interface(
        type(title, (), {"__annotations__": annotations, "__module__": model.__module__})
    )
