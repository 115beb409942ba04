"""Writing events and objects directly: the layer loggers, adapters and observers are built on.

``emit_event("shipped", {"weight": 2.5}, [("order-1", "order")])`` writes one event now;
``relate(obj, "order")`` writes an object (through the object cache, or directly for an
``EVENT``-scoped one) and returns the relationship to put on an event.  Everything goes through
the configured dispatcher, so it follows :func:`~mycorrhizal.spores.configure`.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ..common.blackboard import BlackboardView
from . import config, encoder, extraction
from .encoder import attribute_json
from .extraction import blackboard_objects, describe, plan_of
from .models import ObjectScope, Relationship, epoch, generate_event_id
from .records import Attributes, RawEvent, Relations

__all__ = [
    "adapter_event",
    "JSON_READERS",
    "blackboard_relations",
    "emit_event",
    "emit_object",
    "enabled",
    "json_reader",
    "relate",
    "write_related",
]


def enabled() -> bool:
    """Whether spores logs at all right now (``configure(enabled=False)`` turns it off)."""
    return config.get_config().enabled


def _attributes(attributes: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> Attributes:
    if attributes is None:
        return []
    if type(attributes) is dict or isinstance(attributes, Mapping):
        return list(attributes.items())
    return list(attributes)


def _relations(relationships: Iterable[Any] | Mapping[str, Relationship] | None) -> Relations:
    if relationships is None:
        return []
    if type(relationships) is list:  # the usual form: no Mapping check (an ABC's, ~1,000 instructions)
        items: Iterable[Any] = relationships
    else:
        items = relationships.values() if isinstance(relationships, Mapping) else relationships
    pairs: Relations = []
    for r in items:  # a loop, not a comprehension: no frame of its own
        pairs.append((r.object_id, r.qualifier) if isinstance(r, Relationship) else (str(r[0]), str(r[1])))
    return pairs


def emit_event(
    event_type: str,
    attributes: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    relationships: Iterable[Any] | Mapping[str, Relationship] | None = None,
    *,
    time: datetime | float | None = None,
    activity: str | None = None,
) -> str | None:
    """Write one event; returns its id (None while spores is disabled).

    ``relationships`` are :class:`Relationship` objects or ``(object id, qualifier)`` pairs (a
    mapping's values are used); ``time`` is a datetime or epoch seconds (default: now).
    """
    state = config._state  # config.current(), read without a call
    if not state.config.enabled:
        return None
    dispatcher = state.dispatcher
    when = _time.time() if time is None else epoch(time)
    pairs = _attributes(attributes)
    relations = _relations(relationships)
    ident = generate_event_id()
    if dispatcher.lines and activity is None:  # the line written at once, no record
        type_json, relations_json = encoder.quote(event_type), encoder.relations_json(relations)
        dispatcher.event_line(type_json, when, encoder.attributes_json(pairs), relations_json, ident)
    else:
        dispatcher.event((ident, event_type, when, pairs, relations, activity))
    return ident


def emit_object(
    object_type: str,
    object_id: str,
    attributes: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    relationships: Iterable[Any] | Mapping[str, Relationship] | None = None,
    *,
    time: datetime | float | None = None,
) -> None:
    """Write one object record (not through the cache); ``relationships`` link it to other objects."""
    if not config.get_config().enabled:
        return
    config.get_dispatcher().object(
        (str(object_id), object_type, epoch(time), _attributes(attributes), _relations(relationships))
    )


def relate(
    obj: Any,
    qualifier: str,
    scope: ObjectScope = ObjectScope.GLOBAL,
    *,
    now: datetime | float | None = None,
) -> tuple[str, str]:
    """Write ``obj`` as its scope says and return the ``(object id, qualifier)`` relationship.

    ``GLOBAL``/``AUTO`` objects go through the object cache (written when new or changed);
    ``EVENT`` objects are written every time.  ``now`` is the time they are written at: a datetime
    or epoch seconds, as ``emit_event``'s ``time`` (default: now).
    """
    when = _time.time() if now is None else epoch(now, "now")
    return write_related(config.current(), obj, scope, when), qualifier


def write_related(state: config.State, obj: Any, scope: ObjectScope, now: float) -> str:
    """Write ``obj`` as ``scope`` says (through the cache, or at once); returns its id."""
    described = extraction._describers.get(type(obj))  # describe(obj), without its call
    ident, kind, attributes = describe(obj) if described is None else described(obj)
    if scope is _EVENT:
        state.dispatcher.object((ident, kind, now, attributes, []))
    else:
        state.cache.see(ident, kind, attributes, now)
    return ident


def blackboard_relations(bb: Any, now: float, into: Relations) -> None:
    """Write the ``ObjectRef`` objects of ``bb`` and append their relationships to ``into``."""
    if plan_of(type(bb)).object_refs:
        state = config.current()
        for obj, qualifier, scope in blackboard_objects(bb):  # (write_related: ``now`` is the engine's)
            into.append((write_related(state, obj, scope, now), qualifier))


Reader = Callable[[Any, float, Attributes, Relations], None]
_readers: dict[type, Reader] = {}
_NOTHING = object()  # no value read yet
_EVENT = ObjectScope.EVENT  # a global's read: ObjectScope.EVENT costs ~7 times more on 3.11
_SINGLES: set[type] = set()  # classes of ObjectRef values seen to be one object, not a collection


def _nothing(bb: Any, now: float, attributes: Attributes, relations: Relations) -> None:
    return None


def _reader(cls: type) -> Reader:
    """What adapters read from blackboards of ``cls``, as one function (made once per class, kept
    in ``_readers``; read ``_readers.get(cls) or _reader(cls)``).  A handler's interface view
    (``bb: SomeInterface``) is read as its blackboard, whose class marks the fields."""
    made = _through_view_records if issubclass(cls, BlackboardView) else _marks_reader(cls)
    _readers[cls] = made
    return made


def _through_view_records(view: Any, now: float, attributes: Attributes, relations: Relations) -> None:
    """:func:`_reader`'s function for an interface view: its blackboard's."""
    bb = view.target
    (_readers.get(type(bb)) or _reader(type(bb)))(bb, now, attributes, relations)


def _marks_reader(cls: type) -> Reader:
    """:func:`_reader`'s function for a blackboard class (not a view)."""
    plan = plan_of(cls)
    fields, refs = plan.event_attrs, plan.object_refs
    if not fields and not refs:
        return _nothing

    def read(bb: Any, now: float, attributes: Attributes, relations: Relations) -> None:
        for field, name in fields:
            value = getattr(bb, field, None)
            if value is not None:
                attributes.append((name, value))
        if refs:
            _write_refs(bb, refs, now, relations)

    return read


def _write_refs(bb: Any, refs: tuple[tuple[str, str, ObjectScope], ...], now: float, into: Relations) -> None:
    """Write the objects of ``bb``'s ``ObjectRef`` fields ``refs`` (each item of a collection) and
    append their relationships to ``into``."""
    state = config._state  # config.current(), read without a call
    for field, qualifier, scope in refs:
        value = getattr(bb, field, None)
        if value is None:
            continue
        if type(value) in _SINGLES and scope is not _EVENT:
            # The usual field: one object (known without isinstance's walk of four classes),
            # through the cache; write_related's work without its call, no tuple to loop over.
            described = extraction._describers.get(type(value))
            ident, kind, values = describe(value) if described is None else described(value)
            state.cache.see(ident, kind, values, now)
            into.append((ident, qualifier))
        else:
            _write_ref(state, value, qualifier, scope, now, into)


def _write_ref(
    state: config.State, value: Any, qualifier: str, scope: ObjectScope, now: float, into: Relations
) -> None:
    """Write the object ``value`` of an ``ObjectRef`` field (each item if it is a collection)."""
    if type(value) in _SINGLES:
        objects: Any = (value,)
    elif extraction.is_collection(value):
        objects = value
    else:
        objects = (value,)
        if len(_SINGLES) < 1024:
            _SINGLES.add(type(value))
    for obj in objects:
        if obj is not None:
            into.append((write_related(state, obj, scope, now), qualifier))


Parts = tuple[str, str]
"""(attributes, relationships) of an event as JSON text, each without brackets (maybe empty)."""
JsonReader = Callable[[Any, float, str], Parts]
JSON_READERS: dict[type, JsonReader] = {}
"""Blackboard class -> its :func:`json_reader` (look up here first: the hot paths do)."""


def _no_parts(bb: Any, now: float, attributes: str = "") -> Parts:
    return attributes, ""


def _through_view(view: Any, now: float, attributes: str = "") -> Parts:
    """:func:`json_reader`'s function for an interface view: its blackboard's."""
    bb = view.target
    return (JSON_READERS.get(type(bb)) or json_reader(type(bb)))(bb, now, attributes)


def json_reader(cls: type) -> JsonReader:
    """What :func:`adapter_event` reads from a blackboard of ``cls`` (its ``EventAttr`` fields and
    ``ObjectRef`` objects, written first), as a function giving the JSON text of an event's
    attributes and relationships (made once per class, kept in :data:`JSON_READERS`; each
    attribute's and relationship's text is made once per value).  The function's third argument
    is the JSON of the attributes the event has before the blackboard's (default: none).

    A handler given its blackboard through an interface view (``bb: SomeInterface``) gets the
    view: what is read is the blackboard's own marks, as for a handler given the blackboard."""
    made = _through_view if issubclass(cls, BlackboardView) else _json_marks_reader(cls)
    JSON_READERS[cls] = made
    return made


def _json_marks_reader(cls: type) -> JsonReader:
    """:func:`json_reader`'s function for a blackboard class (not a view)."""
    plan = plan_of(cls)
    fields, refs = plan.event_attrs, plan.object_refs
    if not fields and not refs:
        return _no_parts

    # per field, (the text it held last, its attribute's JSON): the same text object again needs
    # no look-up (one tuple, replaced whole, so that threads reading at once see a matching pair)
    named = tuple((field, name, [(_NOTHING, "")]) for field, name in fields)
    one = refs[0] if len(refs) == 1 and refs[0][2] is not _EVENT else None
    related = [(_NOTHING, "")]  # (the id last related through ``one``, its relationship's JSON)

    def read(bb: Any, now: float, attributes: str = "") -> Parts:
        for field, name, last in named:  # attributes joined as they come: no list to join
            value = getattr(bb, field, None)
            if value is None:
                continue
            seen = last[0]
            if seen[0] is value:
                made = seen[1]
            elif type(value) is str:  # a text attribute's JSON made before: without a call
                made = encoder.TEXT_ATTRIBUTES.get((name, value)) or attribute_json(name, value)
                last[0] = (value, made)
            else:
                made = attribute_json(name, value)
            attributes = f"{attributes},{made}" if attributes else made
        if not refs:
            return attributes, ""
        if one is not None:  # the usual blackboard: one ObjectRef field holding one object
            value = getattr(bb, one[0], None)
            if value is None:
                return attributes, ""
            if type(value) in _SINGLES:  # _write_refs' first case, without its frame and list
                described = extraction._describers.get(type(value))
                ident, kind, values = describe(value) if described is None else described(value)
                config._state.cache.see(ident, kind, values, now)
                seen = related[0]
                if seen[0] is ident:  # the same object as last time: the same text
                    return attributes, seen[1]
                made = encoder.relation_json(ident, one[1])
                related[0] = (ident, made)
                return attributes, made
        pairs: Relations = []
        _write_refs(bb, refs, now, pairs)
        return attributes, encoder.relations_json(pairs)

    return read


def adapter_event(
    event_type: str, attributes: Attributes, bb: Any, relations: Relations, now: float
) -> RawEvent:
    """The event an adapter writes: its attributes, then the blackboard's EventAttr fields and
    ObjectRef objects (written first), then ``relations`` already collected."""
    if bb is not None:
        (_readers.get(type(bb)) or _reader(type(bb)))(bb, now, attributes, relations)
    return (generate_event_id(), event_type, now, attributes, relations, None)
