"""Reading blackboards and objects: the annotated fields adapters log, and objects as attributes.

A blackboard class (dataclass, attrs, Pydantic or any annotated class) marks fields with
``Annotated[T, EventAttr]`` (copied into every adapter event) and ``Annotated[T, ObjectRef(...)]``
(objects related to every adapter event).  A model class marks the fields logged as object
attributes with ``Annotated[T, SporesAttr]``.  What a class marks is read once per class.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any, get_args, get_origin

import attrs

from ..common.callables import written_name
from .models import EventAttr, ObjectRef, ObjectScope, SporesAttr, generate_object_id
from .records import Attributes

__all__ = [
    "ObjectPlan",
    "describe",
    "blackboard_objects",
    "event_attributes",
    "field_of_type",
    "has_identity",
    "is_collection",
    "object_attributes",
    "object_type",
    "plan_of",
]

log = logging.getLogger("mycorrhizal.spores")


@attrs.frozen
class ObjectPlan:
    """What one class marks: event attributes, object references and object attributes."""

    event_attrs: tuple[tuple[str, str], ...] = ()
    """(field, attribute name) of ``EventAttr`` fields."""
    object_refs: tuple[tuple[str, str, ObjectScope], ...] = ()
    """(field, qualifier, scope) of ``ObjectRef`` fields."""
    spores_attrs: tuple[tuple[str, str], ...] = ()
    """(field, attribute name) of ``SporesAttr`` fields."""
    types: tuple[tuple[str, Any], ...] = ()
    """(field, annotated type without ``Annotated``/``None``) of every annotated field."""


_plans: dict[type, ObjectPlan] = {}
_EMPTY = ObjectPlan()
_NO_HINTS = (dict, list, tuple, str, int, float, bool, type(None))


def _hints(cls: type) -> dict[str, Any]:
    if cls in _NO_HINTS:
        return {}
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # an annotation that does not resolve: nothing of the class is logged
        log.warning(
            "spores: the annotations of %s cannot be resolved (%s: %s); its EventAttr/ObjectRef/"
            "SporesAttr fields are not logged. Fix: import the names its annotations use at module level",
            written_name(cls),
            type(exc).__name__,
            exc,
        )
        return {}


def _bare(hint: Any) -> Any:
    """``T`` from ``Annotated[T, ...]``, ``T | None`` and ``Optional[T]``."""
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return _bare(args[0])
    return hint


def _name(mark: Any, field: str) -> str:
    """The attribute name a marker gives (the bare marker class: the field's own name)."""
    name = mark.name if isinstance(mark, EventAttr | SporesAttr) else None
    return name or field


def plan_of(cls: type) -> ObjectPlan:
    """What ``cls`` marks (computed once per class)."""
    found = _plans.get(cls)
    if found is not None:
        return found
    event_attrs: list[tuple[str, str]] = []
    refs: list[tuple[str, str, ObjectScope]] = []
    spores_attrs: list[tuple[str, str]] = []
    kinds: list[tuple[str, Any]] = []
    for field, hint in _hints(cls).items():
        kinds.append((field, _bare(hint)))
        if get_origin(hint) is not Annotated:
            continue
        for mark in hint.__metadata__:
            if mark is EventAttr or isinstance(mark, EventAttr):
                event_attrs.append((field, _name(mark, field)))
            elif isinstance(mark, ObjectRef):
                refs.append((field, mark.qualifier, mark.scope))
            elif mark is SporesAttr or isinstance(mark, SporesAttr):
                spores_attrs.append((field, _name(mark, field)))
    plan = ObjectPlan(tuple(event_attrs), tuple(refs), tuple(spores_attrs), tuple(kinds))
    _plans[cls] = plan if plan != _EMPTY else _EMPTY
    return plan


def event_attributes(bb: Any) -> Attributes:
    """The ``EventAttr`` fields of ``bb`` as attributes (fields holding None are left out)."""
    out: Attributes = []
    for field, name in plan_of(type(bb)).event_attrs:
        value = getattr(bb, field, None)
        if value is not None:
            out.append((name, value))
    return out


def is_collection(value: Any) -> bool:
    """Whether an ``ObjectRef`` field's ``value`` holds objects (a list, tuple or set of them)
    rather than being one: a named tuple (``typing.NamedTuple``) is one object, its fields its
    attributes."""
    return isinstance(value, list | tuple | set | frozenset) and not _named_tuple(type(value))


def _named_tuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def blackboard_objects(bb: Any) -> Iterator[tuple[Any, str, ObjectScope]]:
    """(object, qualifier, scope) for each ``ObjectRef`` field of ``bb`` that holds an object.

    A field holding a list, tuple or set relates each of its items with the same qualifier (a
    named tuple is one object).
    """
    for field, qualifier, scope in plan_of(type(bb)).object_refs:
        value = getattr(bb, field, None)
        if value is None:
            continue
        if is_collection(value):
            for item in value:
                if item is not None:
                    yield item, qualifier, scope
        else:
            yield value, qualifier, scope


def field_of_type(bb: Any, type_name: str) -> Any:
    """The first field of ``bb`` whose annotated type is named ``type_name``; else ``bb`` itself."""
    for field, kind in plan_of(type(bb)).types:
        if getattr(kind, "__name__", None) == type_name:
            return getattr(bb, field, None)
    return bb


def has_identity(obj: Any) -> bool:
    """Whether ``obj`` is an object of its own in the log (a message related as one): it has an id
    (a dict: an ``"id"`` key, as :func:`~.models.generate_object_id` reads it) or a
    ``@spore.object`` type."""
    if isinstance(getattr(type(obj), "_spores_object_type", None), str):
        return True
    if type(obj) is dict:
        return obj.get("id") is not None
    return getattr(obj, "id", None) is not None


def object_type(obj: Any) -> str:
    """The OCEL type of an object: ``@spore.object(...)``'s name, else its class name."""
    declared = getattr(type(obj), "_spores_object_type", None)
    return declared if isinstance(declared, str) else type(obj).__name__


def object_attributes(obj: Any) -> Attributes:
    """An object's attributes: its ``SporesAttr`` fields if it marks any, else its public fields.

    Public fields are a dict's string keys, dataclass/attrs/Pydantic/named-tuple fields, or
    ``__dict__`` entries not starting with ``_``; ``id`` is the object's id and is not repeated.
    """
    if isinstance(obj, dict):
        return [(k, v) for k, v in obj.items() if type(k) is str and k != "id" and not k.startswith("_")]
    if isinstance(obj, _NO_HINTS) and not _named_tuple(type(obj)):  # (a named tuple has fields)
        return []
    marked = plan_of(type(obj)).spores_attrs
    if marked:
        return [(name, getattr(obj, field, None)) for field, name in marked]
    return [(n, getattr(obj, n, None)) for n in _public_fields(type(obj), obj) if n != "id"]


_fields: dict[type, tuple[str, ...]] = {}


def _public_fields(cls: type, obj: Any) -> tuple[str, ...]:
    found = _fields.get(cls)
    if found is not None:
        return found
    if dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls))
    elif attrs.has(cls):
        names = tuple(a.name for a in attrs.fields(cls))
    elif isinstance(getattr(cls, "model_fields", None), dict):  # Pydantic v2
        names = tuple(cls.model_fields)  # type: ignore[attr-defined]
    elif _named_tuple(cls):
        names = tuple(cls._fields)  # type: ignore[attr-defined]
    elif hasattr(obj, "__dict__"):
        return tuple(n for n in vars(obj) if not n.startswith("_"))  # per instance: not cached
    else:
        slots = getattr(cls, "__slots__", ())
        names = tuple([slots] if isinstance(slots, str) else slots)
    names = tuple(n for n in names if not n.startswith("_"))
    _fields[cls] = names
    return names


Description = tuple[str, str, Attributes]
"""(object id, object type, attributes) of one object."""
_describers: dict[type, Callable[[Any], Description]] = {}


def describe(obj: Any) -> Description:
    """``obj``'s id, type and attributes, as :func:`generate_object_id`, :func:`object_type` and
    :func:`object_attributes` give them (a class with declared fields is read once per class)."""
    found = _describers.get(type(obj))
    if found is None:
        found = _describer(type(obj), obj)
    return found(obj)


def _generic(obj: Any) -> Description:
    return generate_object_id(obj), object_type(obj), object_attributes(obj)


def _describe_dict(obj: dict[Any, Any]) -> Description:
    """A plain dict: its ``"id"`` key, type ``dict``, its other public string keys (the hot case of
    tokens written as dicts, so in one function)."""
    ident = obj.get("id")
    return (
        generate_object_id(obj) if ident is None else str(ident),
        "dict",
        # a token that is only its id (the usual one) has no attributes: no comprehension
        [(k, v) for k, v in obj.items() if type(k) is str and k != "id" and k[:1] != "_"]
        if len(obj) > 1 or ident is None
        else [],
    )


def _describer(cls: type, obj: Any) -> Callable[[Any], Description]:
    """A function describing instances of ``cls`` (made once per class)."""
    if cls is dict:
        _describers[cls] = _describe_dict
        return _describe_dict
    if isinstance(obj, dict) or isinstance(obj, _NO_HINTS) or not _declares_fields(cls):
        # per instance (a dict's keys, an instance __dict__): the generic reading, every time
        _describers[cls] = _generic
        return _generic
    kind = object_type(obj)
    marked = plan_of(cls).spores_attrs
    fields = marked or tuple((n, n) for n in _public_fields(cls, obj) if n != "id")

    def described(o: Any) -> Description:
        try:  # getattr(o, "id", None), without its call
            ident = o.id
        except AttributeError:
            ident = None
        values = []
        for field, name in fields:  # a loop, not a comprehension: no frame of its own
            values.append((name, getattr(o, field, None)))
        return str(ident) if ident is not None else generate_object_id(o), kind, values

    _describers[cls] = described
    return described


def _declares_fields(cls: type) -> bool:
    return bool(
        plan_of(cls).spores_attrs
        or dataclasses.is_dataclass(cls)
        or attrs.has(cls)
        or isinstance(getattr(cls, "model_fields", None), dict)
    )
