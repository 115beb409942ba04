"""Typed blackboard interfaces: declare which fields a part of the system may read and write.

::

    @blackboard_interface
    class Ops:
        limit: Annotated[int, readonly]
        done: Annotated[int, readwrite]     # an unmarked field is read-write too

The decorated class lists its fields in ``_readonly_fields`` and ``_readwrite_fields``; a handler
whose blackboard parameter is annotated with it gets a view of the blackboard that enforces them
(:mod:`mycorrhizal.common.wrappers`), and ``create_view_from_protocol(bb, Ops)`` makes one by hand.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, TypeVar, overload

import attrs

from .errors import DefinitionError, Problem

__all__ = ["FieldSpec", "blackboard_interface", "interface_field_specs", "readonly", "readwrite"]

T = TypeVar("T")


class readonly:  # noqa: N801 - a marker used as Annotated[T, readonly], named as users write it
    """Marks a field of an interface read-only: ``Annotated[int, readonly]``."""


class readwrite:  # noqa: N801 - a marker used as Annotated[T, readwrite]
    """Marks a field of an interface read-write (the default for an unmarked field)."""


@attrs.frozen
class FieldSpec:
    """One field of an interface: its name, type and whether it is read-only.

    ``computed``/``computation`` describe a field derived from others (kept for interfaces that
    declare them; views read it from the blackboard like any other field).
    """

    name: str
    type: Any
    readonly: bool = False
    computed: bool = False
    computation: Callable[..., Any] | None = None


def _marks(metadata: tuple[Any, ...]) -> set[type]:
    found: set[type] = set()
    for item in metadata:
        for marker in (readonly, readwrite):
            if item is marker or isinstance(item, marker):
                found.add(marker)
    return found


def _field(owner: str, name: str, hint: Any) -> FieldSpec | Problem:
    if typing.get_origin(hint) is not Annotated:
        return FieldSpec(name, hint)
    marks = _marks(hint.__metadata__)
    if marks == {readonly, readwrite}:
        return Problem(
            f"{owner}.{name}",
            "is marked both readonly and readwrite",
            "keep one of the two markers",
        )
    return FieldSpec(name, hint.__origin__, readonly=readonly in marks)


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # NameError and friends from a string annotation
        raise DefinitionError(
            [
                Problem(
                    cls.__name__,
                    f"its annotations cannot be resolved ({type(exc).__name__}: {exc})",
                    "import or define every type it names at module level, before the class",
                )
            ],
            what=f"interface {cls.__name__!r}",
        ) from exc


def interface_field_specs(cls: type) -> dict[str, FieldSpec]:
    """The public fields a class annotates (its bases' too), each marked read-only or read-write.

    Names starting with ``_`` and ``ClassVar`` annotations are not fields.
    """
    if not isinstance(cls, type):
        raise DefinitionError(
            [Problem(repr(cls), "is not a class", "declare the interface as a class with annotations")],
            what="interface",
        )
    existing = getattr(cls, "_field_specs", None)
    if isinstance(existing, dict):  # made by blackboard_interface: the markers are already read
        return dict(existing)
    specs = _annotated_fields(cls)
    # A class that lists its fields by hand (as 0.x engines accept) says which are read-only.
    listed_ro = frozenset(getattr(cls, "_readonly_fields", ()))
    listed_rw = frozenset(getattr(cls, "_readwrite_fields", ()))
    for extra in sorted((listed_ro | listed_rw) - specs.keys()):
        specs[extra] = FieldSpec(extra, Any)
    if listed_ro or listed_rw:
        specs = {n: attrs.evolve(s, readonly=s.readonly or n in listed_ro) for n, s in specs.items()}
    return specs


def _annotated_fields(cls: type) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    problems: list[Problem] = []
    for name, hint in _hints(cls).items():
        if name.startswith("_") or typing.get_origin(hint) is ClassVar:
            continue
        spec = _field(cls.__name__, name, hint)
        if isinstance(spec, Problem):
            problems.append(spec)
        else:
            specs[name] = spec
    DefinitionError.raise_if_any(problems, what=f"interface {cls.__name__!r}")
    return specs


def _build(cls: type, name: str | None) -> type:
    specs = interface_field_specs(cls)
    title = name or cls.__name__
    namespace = {
        "__annotations__": {n: s.type for n, s in specs.items()},
        "__doc__": cls.__doc__,
        "__module__": cls.__module__,
        "__qualname__": title if name else cls.__qualname__,
        "_readonly_fields": frozenset(n for n, s in specs.items() if s.readonly),
        "_readwrite_fields": frozenset(n for n, s in specs.items() if not s.readonly),
        "_field_specs": dict(specs),
    }
    return type(title, (), namespace)


@overload
def blackboard_interface(cls: type[T], *, name: str | None = None) -> type[T]: ...
@overload
def blackboard_interface(cls: None = None, *, name: str | None = None) -> Callable[[type[T]], type[T]]: ...
def blackboard_interface(
    cls: type[T] | None = None, *, name: str | None = None
) -> type[T] | Callable[[type[T]], type[T]]:
    """Turn an annotated class into a blackboard interface (usable bare or as ``(name=...)``).

    Returns a new plain class (named ``name`` or as the original) whose ``__annotations__`` hold
    the field types and which carries ``_readonly_fields`` and ``_readwrite_fields`` (frozensets).
    Defaults and methods in the class body are not kept: an interface only names fields.
    """

    def decorate(target: type[T]) -> type[T]:
        return typing.cast("type[T]", _build(target, name))

    return decorate if cls is None else decorate(cls)
