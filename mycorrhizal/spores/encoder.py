"""Encoders turn a record into the bytes a transport writes: by default one compact JSON object.

The format (one record per line, both keys always present, one of them ``null``)::

    {"event":{"id":"evt-..","type":"OrderCreated","activity":null,"time":1706800000.123,
      "attributes":[{"name":"item_count","value":"2","type":"integer"}],
      "relationships":[{"objectId":"order_1","qualifier":"order"}]},"object":null}
    {"event":null,"object":{"id":"order_1","type":"Order",
      "attributes":[{"name":"status","value":"created","type":"string","time":1706800000.12}],
      "relationships":[]}}

Times are Unix epoch seconds (floats); values are strings with a type name.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _text
from typing import Any, Protocol, runtime_checkable

from .models import LogRecord, attribute_type, value_text
from .records import Attributes, RawEvent, RawObject, Relations

__all__ = [
    "Encoder",
    "JSONEncoder",
    "QUOTED",
    "RELATIONS",
    "TEXT_ATTRIBUTES",
    "attribute_json",
    "attributes_json",
    "quote",
    "relation_json",
    "time_text",
]


@runtime_checkable
class Encoder(Protocol):
    """Turns a :class:`LogRecord` into bytes for a transport."""

    def encode(self, record: LogRecord) -> bytes:
        """The bytes of one record (without a line terminator)."""
        ...

    def content_type(self) -> str:
        """The MIME type of what :meth:`encode` returns."""
        ...


# Names and types repeat from record to record: their JSON text is made once.
_quoted: dict[str, str] = {}


def _quote(name: str) -> str:
    found = _quoted.get(name)
    if found is None:
        found = _text(name)
        if len(_quoted) < 4096:
            _quoted[name] = found
    return found


# Fragments that repeat from event to event (a relationship to the same object, a text attribute
# with the same value) keep their JSON text; bounded, so a log of ever-new values costs a lookup.
_relations_made: dict[tuple[str, str], str] = {}
_tails: dict[str, str] = {}  # qualifier -> relation_tail(qualifier)
_texts_made: dict[tuple[str, Any], str] = {}  # not shared with relationships: the keys look alike
# Whole lists: an event's attributes when every value is a text.
_text_lists: dict[tuple[tuple[str, Any], ...], str] = {}
_FRAGMENTS = 8192


# Times: f"{t:.6f}" costs ~5,000 instructions (an exact decimal expansion of the float); within
# one second the text is made from the fraction by table, in ~3,100.  The second in force is
# one tuple (start, "<seconds>."), replaced whole, so threads logging at once read a consistent one.
_MICROS = [f"{i:03d}" for i in range(1000)]
_second: tuple[float, str] = (float("inf"), "")  # none until the first time is written


def time_text(t: float) -> str:
    """``t`` (epoch seconds) to the microsecond: ``f"{t:.6f}"``, made cheaply for a time within
    the second of the previous one (where a time within 1e-10 us of a half microsecond may round
    to the other neighbour: both are the time to the microsecond)."""
    second = _second
    fraction = t - second[0]  # exact (Sterbenz) for a time within that second
    if 0.0 <= fraction < 0.999999:  # so that the microseconds stay below 10**6 after rounding
        micros = int(fraction * 1_000_000.0 + 0.5)
        return second[1] + _MICROS[micros // 1000] + _MICROS[micros % 1000]
    return _time_text_slowly(t)


def _time_text_slowly(t: float) -> str:
    global _second
    if 0.0 <= t < 1e15:  # finite and non-negative: a second to make the next times from
        _second = (float(int(t)), f"{int(t)}.")
    return f"{t:.6f}"


def _relation(pair: tuple[str, str]) -> str:
    oid, qualifier = pair
    found = fresh_relation(oid, relation_tail(qualifier))
    if len(_relations_made) < _FRAGMENTS:
        _relations_made[pair] = found
    return found


def _text_attribute(name: str, value: str) -> str:
    found = f'{{"name":{_quoted.get(name) or _quote(name)},"value":{_text(value)},"type":"string"}}'
    if len(_texts_made) < _FRAGMENTS:
        _texts_made[(name, value)] = found
    return found


def _attributes(attributes: Attributes, time: str | None) -> str:
    suffix = "}" if time is None else f',"time":{time}}}'
    parts = []
    for name, value in attributes:
        kind = type(value)
        if kind is str:
            text, type_name = _text(value), "string"
        elif kind is int:
            text, type_name = f'"{value}"', "integer"
        elif kind is float:
            text, type_name = _text(repr(value)), "float"
        else:
            text, type_name = _text(value_text(value)), attribute_type(value)
        parts.append(f'{{"name":{_quote(name)},"value":{text},"type":"{type_name}"{suffix}')
    return ",".join(parts)


def _relations(relations: Relations) -> str:
    return ",".join([f'{{"objectId":{_text(o)},"qualifier":{_quote(q)}}}' for o, q in relations])


class JSONEncoder:
    """Compact JSON, one object per record (``application/json``); the default encoder."""

    __slots__ = ()

    def content_type(self) -> str:
        """``application/json``."""
        return "application/json"

    def encode(self, record: LogRecord) -> bytes:
        """The JSON of one record built from the model classes."""
        event, obj = record.event, record.object
        if event is not None:
            attrs = ",".join(
                f'{{"name":{_text(a.name)},"value":{_text(a.value)},"type":{_text(a.type)}}}'
                for a in event.attributes.values()
            )
            rels = _relations([(r.object_id, r.qualifier) for r in event.relationships.values()])
            activity = "null" if event.activity is None else _text(event.activity)
            return (
                f'{{"event":{{"id":{_text(event.id)},"type":{_text(event.type)},"activity":{activity},'
                f'"time":{event.time.timestamp()!r},"attributes":[{attrs}],"relationships":[{rels}]}},'
                '"object":null}'
            ).encode()
        assert obj is not None  # LogRecord guarantees one of the two
        attrs = ",".join(
            f'{{"name":{_text(a.name)},"value":{_text(a.value)},"type":{_text(a.type)},'
            f'"time":{"null" if a.time is None else repr(a.time.timestamp())}}}'
            for a in obj.attributes.values()
        )
        rels = _relations([(r.object_id, r.qualifier) for r in obj.relationships.values()])
        return (
            f'{{"event":null,"object":{{"id":{_text(obj.id)},"type":{_text(obj.type)},'
            f'"attributes":[{attrs}],"relationships":[{rels}]}}}}'
        ).encode()

    def encode_event(self, raw: RawEvent) -> bytes:
        """The same JSON as :meth:`encode` for an event given as a tuple (the hot path: one
        f-string; names, types, relationships and whole lists of text attributes made once).  The
        time is written to the microsecond, as the models hold it, by :func:`time_text` (a table
        within the second; ``f"{t:.6f}"`` costs ~5,000 instructions, the shortest ``repr`` of a
        POSIX timestamp ~8,000)."""
        ident, kind, time, attributes, relations, activity = raw
        rels = relations_json(relations)
        return (
            f'{{"event":{{"id":{_text(ident)},"type":{_quoted.get(kind) or _quote(kind)},'
            f'"activity":{"null" if activity is None else _text(activity)},"time":{time_text(time)},'
            f'"attributes":[{_event_attributes(attributes) if attributes else ""}],'
            f'"relationships":[{rels}]}},"object":null}}'
        ).encode()

    def encode_object(self, raw: RawObject) -> bytes:
        """The same JSON as :meth:`encode` for an object given as a tuple (its time to the
        microsecond, as :meth:`encode_event` writes it)."""
        ident, kind, time, attributes, relations = raw
        quoted = _quoted
        return (
            f'{{"event":null,"object":{{"id":{_text(ident)},"type":{quoted.get(kind) or _quote(kind)},'
            f'"attributes":[{_attributes(attributes, time_text(time)) if attributes else ""}],'
            f'"relationships":[{_relations(relations) if relations else ""}]}}}}'
        ).encode()


def _event_attributes(attributes: Attributes) -> str:
    """The attribute list of an event (no times); a list whose values are all texts is made once
    (events of one kind repeat theirs: a state's name, a label), others pair by pair."""
    for _, value in attributes:
        if type(value) is not str:  # exactly str: a StrEnum member equal to a text is written otherwise
            return _mixed_attributes(attributes)
    key = tuple(attributes)
    found = _text_lists.get(key)
    if found is None:
        made = _texts_made
        found = ",".join([made.get(pair) or _text_attribute(*pair) for pair in key])
        if len(_text_lists) < _FRAGMENTS:
            _text_lists[key] = found
    return found


def _mixed_attributes(attributes: Attributes) -> str:
    """An attribute list with values other than texts, pair by pair (str/int/float without calls)."""
    quoted, made = _quoted, _texts_made
    parts = []
    for pair in attributes:
        name, value = pair
        cls = type(value)
        if cls is str:  # names and texts repeat (a state's name, a label): each pair made once
            parts.append(made.get(pair) or _text_attribute(name, value))
            continue
        if cls is int:
            text, type_name = f'"{value}"', "integer"
        elif cls is float:
            text, type_name = f'"{value!r}"', "float"
        else:
            text, type_name = _text(value_text(value)), attribute_type(value)
        parts.append(f'{{"name":{quoted.get(name) or _quote(name)},"value":{text},"type":"{type_name}"}}')
    return ",".join(parts)


# -- the parts of a line, for hot paths that write events without a record (Dispatcher.event_line) --

QUOTED = _quoted
"""Text -> its JSON string, for the names and types quoted so far (look up here first)."""
RELATIONS = _relations_made
"""(object id, qualifier) -> the relationship's JSON, for those made so far (look up here first)."""
RELATION_TAILS = _tails
"""Qualifier -> :func:`relation_tail`, for those made so far (look up here first)."""
TEXT_ATTRIBUTES = _texts_made
"""(name, text value) -> the attribute's JSON, for those made so far (look up here first)."""


def quote(text: str) -> str:
    """``text`` as a JSON string (names and types: made once)."""
    return _quoted.get(text) or _quote(text)


def relation_json(object_id: str, qualifier: str) -> str:
    """One relationship of an event, as :meth:`JSONEncoder.encode_event` writes it."""
    pair = (object_id, qualifier)
    return _relations_made.get(pair) or _relation(pair)


def relations_json(relations: Relations) -> str:
    """An event's relationship list, as :meth:`JSONEncoder.encode_event` writes it (without
    brackets); each pair's JSON made once (a relationship to the same object repeats)."""
    made = _relations_made
    if len(relations) == 1:  # the usual case, without a comprehension
        return made.get(relations[0]) or _relation(relations[0])
    return ",".join([made.get(pair) or _relation(pair) for pair in relations])


def relation_tail(qualifier: str) -> str:
    """The end of a relationship's JSON, after its object id: ``,"qualifier":"<qualifier>"}``
    (see :func:`fresh_relation`), made once per qualifier (look in :data:`RELATION_TAILS` first)."""
    found = _tails.get(qualifier)
    if found is None:
        found = f',"qualifier":{_quoted.get(qualifier) or _quote(qualifier)}}}'
        if len(_tails) < 4096:
            _tails[qualifier] = found
    return found


def fresh_relation(object_id: str, tail: str) -> str:
    """A relationship's JSON from its object id and :func:`relation_tail`, not kept in
    :data:`RELATIONS`: for objects related once, mostly (a net's new tokens), which would only fill it."""
    return f'{{"objectId":{_text(object_id)}{tail}'


def attribute_json(name: str, value: Any) -> str:
    """One attribute of an event, as :meth:`JSONEncoder.encode_event` writes it."""
    if type(value) is str:
        return _texts_made.get((name, value)) or _text_attribute(name, value)
    return _mixed_attributes([(name, value)])


def attributes_json(attributes: Attributes) -> str:
    """An event's attribute list, as :meth:`JSONEncoder.encode_event` writes it (without brackets)."""
    return _event_attributes(attributes) if attributes else ""
