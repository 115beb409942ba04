"""The records spores writes (events and objects), the annotation markers, and value conversion.

An *event* is something that happened at a time, with typed attributes and qualified links
(relationships) to objects; an *object* is an entity with typed attributes.  These classes are the
public shape of a record (what a custom :class:`~mycorrhizal.spores.encoder.Encoder` receives).
The hot path never builds them: it passes the same content as plain tuples (see
:mod:`mycorrhizal.spores.records`) and builds these only for an encoder that asks for them.

Value conversion follows the upstream format: every value is written as a string with a type name
(``"string"``, ``"integer"``, ``"float"``, ``"boolean"``, ``"timestamp"``).
"""

from __future__ import annotations

import itertools
import logging
import os
import time as _time
import uuid
import weakref
from datetime import datetime
from enum import Enum
from typing import Any

import attrs

from ..common.errors import DefinitionError, Problem
from ..common.numbers import is_finite

log = logging.getLogger("mycorrhizal.spores")

__all__ = [
    "Event",
    "EventAttr",
    "EventAttributeValue",
    "LogRecord",
    "Object",
    "ObjectAttributeValue",
    "ObjectRef",
    "ObjectScope",
    "Relationship",
    "SporesAttr",
    "attribute_type",
    "attribute_value_from_python",
    "epoch",
    "generate_event_id",
    "generate_object_id",
    "object_attribute_from_python",
    "value_text",
]


# -- annotation markers ---------------------------------------------------------------------------


@attrs.frozen
class SporesAttr:
    """Marks a model field logged as an object attribute: ``Annotated[T, SporesAttr]``."""

    name: str | None = None
    """The attribute's name in the log (default: the field's name)."""


@attrs.frozen
class EventAttr:
    """Marks a blackboard field copied into every adapter event: ``Annotated[T, EventAttr]``."""

    name: str | None = None
    """The attribute's name in the log (default: the field's name)."""


class ObjectScope(Enum):
    """How long an object named by an :class:`ObjectRef` field matters to the log."""

    GLOBAL = "global"
    """Lives across events: written when first seen, when it changes and on cache eviction."""
    EVENT = "event"
    """Belongs to the event at hand: written with every event that relates to it."""
    AUTO = "auto"
    """Let spores decide: treated like ``GLOBAL`` (written through the object cache)."""


def _scope(value: Any) -> Any:
    # An unknown value passes through, so that _check_scope can name the ObjectRef's qualifier.
    try:
        return ObjectScope(value)
    except ValueError:
        return value


def _check_scope(ref: ObjectRef, _: Any, value: Any) -> None:
    if not isinstance(value, ObjectScope):
        names = [repr(scope.value) for scope in ObjectScope]
        where = f"ObjectRef {ref.qualifier!r}"
        fix = f"use {', '.join(names[:-1])} or {names[-1]} (or an ObjectScope member)"
        raise DefinitionError([Problem(where, f"scope {value!r} is not a scope", fix)], what=where)


@attrs.frozen
class ObjectRef:
    """Marks a blackboard field holding an object to relate to adapter events."""

    qualifier: str
    """The relationship's qualifier in the log (``"actor"``, ``"order"``...)."""
    scope: ObjectScope = attrs.field(default=ObjectScope.EVENT, converter=_scope, validator=_check_scope)
    """See :class:`ObjectScope`; a string such as ``"global"`` is accepted too."""


# -- records --------------------------------------------------------------------------------------


@attrs.frozen
class Relationship:
    """A qualified link from an event (or object) to an object."""

    object_id: str
    qualifier: str


@attrs.frozen
class EventAttributeValue:
    """One event attribute: its name, its value as text and the value's type name."""

    name: str
    value: str
    type: str


@attrs.frozen
class ObjectAttributeValue:
    """One object attribute: like :class:`EventAttributeValue`, with the time it had that value."""

    name: str
    value: str
    type: str
    time: datetime | None = None


@attrs.define
class Event:
    """Something that happened: ``type`` at ``time``, with attributes and related objects.

    ``relationships`` maps any key to a :class:`Relationship`; the qualifier written to the log is
    the relationship's own ``qualifier`` (so one event can relate several objects with the same
    qualifier, e.g. every consumed token as ``"input"``).
    """

    id: str
    type: str
    activity: str | None = None
    time: datetime = attrs.field(factory=datetime.now)
    attributes: dict[str, EventAttributeValue] = attrs.field(factory=dict)
    relationships: dict[str, Relationship] = attrs.field(factory=dict)


@attrs.define
class Object:
    """An entity events relate to, with its current attributes and links to other objects."""

    id: str
    type: str
    attributes: dict[str, ObjectAttributeValue] = attrs.field(factory=dict)
    relationships: dict[str, Relationship] = attrs.field(factory=dict)


@attrs.define
class LogRecord:
    """One line of the log: exactly one of ``event`` and ``object``."""

    event: Event | None = None
    object: Object | None = None

    def __attrs_post_init__(self) -> None:
        if (self.event is None) == (self.object is None):
            raise ValueError("a LogRecord holds exactly one of event= and object=. Fix: pass one of them")


# -- ids ------------------------------------------------------------------------------------------

# Event ids: one random prefix per process plus a counter.  As unique as a uuid4 per event for any
# realistic log (2**64 prefixes), at a tenth of the cost: ids are made for every event.
_PREFIX = f"evt-{uuid.uuid4().int >> 64:016x}-"
_counter = itertools.count(1)


def _new_prefix() -> None:
    """A forked child must not repeat its parent's ids: it gets its own prefix."""
    global _PREFIX, _counter
    _PREFIX, _counter = f"evt-{uuid.uuid4().int >> 64:016x}-", itertools.count(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_prefix)


def generate_event_id() -> str:
    """A new unique event id, ``evt-<process prefix>-<n>``."""
    return _PREFIX + str(next(_counter))


# id(instance) -> (a weak reference to it, its generated id); an entry leaves with its instance.
# Keyed by identity: a WeakKeyDictionary compares its keys with ==, so it gave equal instances
# one id (two objects logged as one) and unhashable ones (a plain dataclass) a new id each time.
_generated: dict[int, tuple[weakref.ref[Any], str]] = {}

KEPT_WITHOUT_WEAKREF = 65_536
"""How many instances that cannot be weakly referenced (a dict without ``"id"``, a tuple, a class
with ``__slots__`` and no ``__weakref__``) :func:`generate_object_id` keeps alive to give each one
id: the ones seen most recently (a warning says when the first one is let go)."""

# id(instance) -> (the instance, its generated id), in the order they were last seen: held here
# (no weak reference to them), so their address, the key, is not reused while they keep the id.
_kept: dict[int, tuple[Any, str]] = {}
_let_go = False  # whether letting one go was said (once per process)


def _forget(key: int, ref: weakref.ref[Any]) -> None:
    """An instance with a generated id is gone: drop its entry (unless its address is reused)."""
    entry = _generated.get(key)
    if entry is not None and entry[0] is ref:
        _generated.pop(key, None)


def generate_object_id(obj: Any) -> str:
    """The id an object is logged under.

    ``str(obj.id)`` when it has an ``id`` (a dict: an ``"id"`` key); a string or number is its own
    id; any other object gets ``obj-<uuid4>``, the same one every time the same instance is seen
    (an instance that cannot be weakly referenced, e.g. a tuple, is kept alive for it: the latest
    :data:`KEPT_WITHOUT_WEAKREF` of them).
    """
    ident = getattr(obj, "id", None)
    if ident is None and type(obj) is dict:
        ident = obj.get("id")
    if ident is not None:
        return str(ident)
    if isinstance(obj, str | int | float):
        return str(obj)
    key = id(obj)
    found = _generated.get(key)
    if found is not None and found[0]() is obj:
        return found[1]
    kept = _kept.pop(key, None)
    if kept is not None:  # (held here: no other instance has its address)
        _kept[key] = kept  # seen again: the latest
        return kept[1]
    made = f"obj-{uuid.uuid4()}"
    try:
        ref = weakref.ref(obj, lambda gone, key=key: _forget(key, gone))  # type: ignore[misc]
    except TypeError:  # not weak-referenceable: kept alive, so that its address stays its own
        _keep(key, obj, made)
        return made
    _generated[key] = (ref, made)
    return made


def _keep(key: int, obj: Any, made: str) -> None:
    """Keep ``obj`` (that cannot be weakly referenced) with its id; past
    :data:`KEPT_WITHOUT_WEAKREF`, let the one seen longest ago go (said once)."""
    global _let_go
    _kept[key] = (obj, made)
    if len(_kept) > KEPT_WITHOUT_WEAKREF:
        del _kept[next(iter(_kept))]
        if not _let_go:
            _let_go = True
            log.warning(
                "spores: more than %d objects without an id that cannot be weakly referenced (dicts, "
                "tuples, classes with __slots__) were logged; the one seen longest ago is let go, and "
                'gets a new id if it is logged again. Fix: give them an id (a dict an "id" key, a class '
                "an id attribute)",
                KEPT_WITHOUT_WEAKREF,
            )


# -- values ---------------------------------------------------------------------------------------

_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "float", datetime: "timestamp"}


def attribute_type(value: Any) -> str:
    """The log's type name for ``value``: boolean, integer, float, timestamp or string."""
    found = _TYPES.get(type(value))
    if found is not None:
        return found
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) and not isinstance(value, Enum):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime):
        return "timestamp"
    return "string"


def value_text(value: Any) -> str:
    """``value`` as the log writes it: None -> "null", an Enum -> its member name, a datetime ->
    ISO text, a bool -> "true"/"false", anything else ``str(value)``."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def attribute_value_from_python(name: str, value: Any) -> EventAttributeValue:
    """An event attribute from a Python value."""
    return EventAttributeValue(name, value_text(value), attribute_type(value))


def object_attribute_from_python(name: str, value: Any, time: datetime | None = None) -> ObjectAttributeValue:
    """An object attribute from a Python value, valid from ``time``."""
    return ObjectAttributeValue(name, value_text(value), attribute_type(value), time)


def epoch(when: datetime | float | None, argument: str = "time") -> float:
    """Seconds since the Unix epoch for a datetime (naive means local time), a float or now; else a
    ValueError naming ``argument``."""
    if when is None:
        return _time.time()
    if isinstance(when, datetime):
        return when.timestamp()
    # (negative is a time before 1970; NaN or infinity would be written as bare NaN/Infinity, which is
    # not JSON, and a str or a bool would be turned into a number silently)
    if is_finite(when):
        return float(when)
    raise ValueError(
        f"{argument}={when!r} is not a time. Fix: pass a datetime, seconds since the Unix epoch (a finite "
        "int or float), or None for now"
    )
