"""What the OCEL 2.0 writers share: attribute types, value conversion, times, object histories and
the bookkeeping of a file transport (:class:`OcelFile`).

OCEL 2.0 (the object-centric event log standard) declares, for each event type and object type,
its attributes with one type each (``string``, ``integer``, ``float``, ``boolean``, ``time``).
Objects carry a history: an attribute's first value and every later change, each with its time.
"""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Self

from .records import Attributes, RawEvent, RawObject
from .transport import closed_error

__all__ = [
    "NOT_A_RECORD_FIX",
    "NULL_TYPE",
    "ObjectHistory",
    "OcelFile",
    "TypeRegistry",
    "UNKNOWN_TYPE",
    "converted",
    "iso_time",
    "ocel_value",
    "parse_jsonl_record",
    "refuse_non_text",
    "time_text",
    "typed_attributes",
    "typed_value",
]

log = logging.getLogger("mycorrhizal.spores")

NULL_TYPE = "null"
"""The type :class:`ObjectHistory` gives a change to None (no OCEL type: it is never declared)."""

UNKNOWN_TYPE = "UNKNOWN"
"""The type given to an object that events relate to but that was never logged itself."""


def iso_time(epoch: float) -> str:
    """An epoch time as OCEL writes it: ISO 8601 in UTC, ``2024-05-01T10:00:00.123456Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_text(writer: str, what: str, ident: Any, epoch: Any) -> str:
    """:func:`iso_time` of a record's time, or a ValueError naming the record (called before anything
    of it is kept): ISO 8601 has the years 1 to 9999, and a time in milliseconds is beyond them."""
    try:
        return iso_time(epoch)
    except (ValueError, OverflowError, OSError, TypeError):
        raise ValueError(
            f"{writer}: {what} {ident!r} at time {epoch!r}: OCEL writes times of the years 1 to 9999. "
            "Fix: pass seconds since the Unix epoch (not milliseconds), or a datetime"
        ) from None


def refuse_non_text(writer: str, what: str, ident: Any, kind: Any, attributes: Any, relations: Any) -> None:
    """Refuse a record whose id, type, attribute names, related object ids or qualifiers are not all
    text (an enum member, an int id): a file met them only when it was written, at close(), and lost
    every record with them.  ``attributes``: (name, ...) items; ``relations``: (object id, qualifier)."""
    parts = [("attribute name", item[0]) for item in attributes if not isinstance(item[0], str)]
    for oid, qualifier in relations:
        if not isinstance(oid, str):
            parts.append(("related object id", oid))
        if not isinstance(qualifier, str):
            parts.append(("qualifier", qualifier))
    for part, value in [(f"{what} id", ident), (f"{what} type", kind), *parts]:
        if not isinstance(value, str):
            raise TypeError(
                f"{writer}: {what} {ident!r}: the {part} {value} is a {type(value).__name__}, not a str. "
                "Fix: use its text (str() of a number, an enum member's .name)"
            )


_DIRECT = {bool: "boolean", int: "integer", float: "float", str: "string"}


def ocel_value(value: Any) -> tuple[str, Any] | None:
    """``(OCEL type, value)`` for a Python value; None for None (OCEL leaves the attribute out)."""
    kind = _DIRECT.get(type(value))
    if kind is not None:
        return kind, value
    if value is None:
        return None
    if isinstance(value, Enum):
        return "string", value.name
    if isinstance(value, datetime):
        return "time", _datetime_text(value)
    for base, name in _DIRECT.items():  # subclasses (IntFlag aside: enums are handled above)
        if isinstance(value, base):
            return name, base(value)
    return "string", str(value)


def _datetime_text(value: datetime) -> str:
    """A datetime as OCEL writes it (a naive one read as local time), or a ValueError with a fix."""
    try:
        moment = value if value.tzinfo is not None else value.astimezone()
        return iso_time(moment.timestamp())
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"the time {value.isoformat()} is beyond the years 1 to 9999 (in UTC) that OCEL writes. "
            "Fix: log a datetime within those years"
        ) from None


def _widen(old: str, new: str) -> str:
    if old == new:
        return old
    if {old, new} == {"integer", "float"}:
        return "float"
    return "string"


def typed_value(kind: str, value: Any) -> Any:
    """``value`` as an attribute declared ``kind`` holds it (after widening, e.g. to text)."""
    if kind == "string" and not isinstance(value, str):
        if value is None:  # a change to None: null in every layout
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if kind == "float" and isinstance(value, int):
        return float(value)
    return value


class TypeRegistry:
    """The attributes (and their OCEL types) of each event or object type, in first-seen order."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, str]] = {}
        self.widened: list[tuple[str, str, str]] = []
        """(type, attribute, its type before) of each attribute widened since the writer last
        took them (the SQLite writer retypes its column; empty: nothing to do)."""

    def note(self, type_name: str, attributes: list[tuple[str, str, Any]]) -> list[tuple[str, str]]:
        """Record the attributes of one record; returns the (name, type) of attributes new to the type.
        A None value (an object's attribute changed to None, see :class:`ObjectHistory`) has no type."""
        known = self.types.get(type_name)
        if known is None:
            known = self.types[type_name] = {}
        added: list[tuple[str, str]] = []
        for name, kind, value in attributes:
            if value is None:
                continue
            old = known.get(name)
            if old is None:
                known[name] = kind
                added.append((name, kind))
            elif old != kind:
                wider = _widen(old, kind)
                if wider != old:
                    log.warning(
                        "spores: attribute %r of type %r holds %s and %s values; written as %s",
                        name,
                        type_name,
                        old,
                        kind,
                        wider,
                    )
                    known[name] = wider
                    self.widened.append((type_name, name, old))
        return added


def typed_attributes(
    attributes: Attributes, writer: str, what: str, ident: Any
) -> list[tuple[str, str | None, Any]]:
    """(name, OCEL type, value) of every attribute, the type None for a None value; or a ValueError
    naming the record and the attribute (raised before anything of the record is kept)."""
    out: list[tuple[str, str | None, Any]] = []
    for name, value in attributes:
        try:
            typed = ocel_value(value)
        except ValueError as exc:
            raise ValueError(f"{writer}: {what} {ident!r}: attribute {name!r}: {exc}") from None
        out.append((name, None, None) if typed is None else (name, typed[0], typed[1]))
    return out


def converted(attributes: Attributes, writer: str, what: str, ident: Any) -> list[tuple[str, str, Any]]:
    """(name, OCEL type, value) of the attributes that are not None (see :func:`typed_attributes`)."""
    typed = typed_attributes(attributes, writer, what, ident)
    return [(name, kind, value) for name, kind, value in typed if kind is not None]


class ObjectHistory:
    """Every object's type and current attribute values: which parts of a record are news.

    An attribute left out (or None) in an object's first record is not written: it has no value
    yet.  One that had a value and is now None is a change, to None: ``(name, NULL_TYPE, None)``,
    written as null (OCEL 2.0 JSON ``"value": null``; SQL NULL in the changed attribute's column),
    which pm4py reads back as a change to a missing value.  A record with a value OCEL cannot
    write is refused (ValueError) before anything of it is kept: the history stays as it was."""

    def __init__(self, writer: str) -> None:
        self.writer = writer
        """The writer's name, which a refusal begins with."""
        self.types: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}

    def observe(self, raw: RawObject) -> tuple[bool, list[tuple[str, str, Any]]]:
        """(first sighting?, the attributes that are new or changed) for one object record."""
        ident, kind, _, attributes, _ = raw
        # every value converted first: one refused half-way would leave the values before it kept
        typed = typed_attributes(attributes, self.writer, "object", ident)
        current = self.values.get(ident)
        if current is None:
            values = [(name, k, value) for name, k, value in typed if k is not None]
            self.types[ident] = kind
            self.values[ident] = {name: value for name, _, value in values}
            return True, values
        if self.types[ident] != kind:
            log.warning(
                "spores: object %r was logged as %r and now as %r; OCEL keeps its first type",
                ident,
                self.types[ident],
                kind,
            )
        changed: list[tuple[str, str, Any]] = []
        for name, k, value in typed:
            if k is None:
                if current.pop(name, None) is not None:  # had a value: now it has none
                    changed.append((name, NULL_TYPE, None))
            elif current.get(name, _MISSING) != value:
                current[name] = value
                changed.append((name, k, value))
        return False, changed


_MISSING = object()

_FROM_TEXT: dict[str, Any] = {
    "integer": int,
    "float": float,
    "boolean": lambda text: text == "true",
    "timestamp": datetime.fromisoformat,
}


def _python_value(item: dict[str, Any]) -> Any:
    text, kind = item.get("value"), item.get("type", "string")
    if text is None or text == "null":
        return None
    parse = _FROM_TEXT.get(kind)
    return parse(text) if parse is not None else text


def _relations(items: Any) -> list[tuple[str, str]]:
    return [(str(r["objectId"]), str(r["qualifier"])) for r in items or ()]


NOT_A_RECORD_FIX = (
    "Fix: convert a JSON-lines log that a spores file transport wrote (SyncFileTransport, "
    "AsyncFileTransport: one JSON object per line, with an 'event' or an 'object' key), or remove the line"
)
"""The fix :func:`parse_jsonl_record`'s refusals end with."""


def parse_jsonl_record(line: bytes | str) -> tuple[str, RawEvent | RawObject]:
    """A line of spores' JSON-lines format (also upstream's) as ``("event"|"object", raw record)``;
    a line that is none (not JSON, no record, a field missing or of the wrong kind): a ValueError
    saying why, ending with a fix."""
    try:
        data = json.loads(line)
    except ValueError as exc:  # (JSONDecodeError, UnicodeDecodeError)
        raise _not_a_record(f"not JSON: {exc}", line) from None
    if not isinstance(data, dict) or (data.get("event") is None and data.get("object") is None):
        raise _not_a_record("neither 'event' nor 'object'", line)
    try:
        return _record(data)
    except KeyError as exc:
        raise _not_a_record(f"no {exc}", line) from None
    except (ValueError, TypeError, AttributeError) as exc:  # a field of the wrong kind
        raise _not_a_record(str(exc), line) from None


def _not_a_record(why: str, line: bytes | str) -> ValueError:
    return ValueError(f"not a spores record ({why}): {line!r:.200}. {NOT_A_RECORD_FIX}")


def _record(data: dict[str, Any]) -> tuple[str, RawEvent | RawObject]:
    """:func:`parse_jsonl_record` of a decoded line holding an event or an object."""
    event = data.get("event")
    if event is not None:
        attrs = [(a["name"], _python_value(a)) for a in event.get("attributes") or ()]
        raw_event: RawEvent = (
            str(event["id"]),
            str(event["type"]),
            float(event["time"]),
            attrs,
            _relations(event.get("relationships")),
            event.get("activity"),
        )
        return "event", raw_event
    obj = data["object"]
    items = obj.get("attributes") or ()
    when = next((float(a["time"]) for a in items if a.get("time") is not None), 0.0)
    raw_object: RawObject = (
        str(obj["id"]),
        str(obj["type"]),
        when,
        [(a["name"], _python_value(a)) for a in items],
        _relations(obj.get("relationships")),
    )
    return "object", raw_object


class OcelFile(ABC):
    """What both OCEL 2.0 file transports keep: the target file, the types declared so far, the
    objects' histories, the objects events relate to; and what they do alike."""

    def __init__(self, filepath: str | Path) -> None:
        self.path = Path(filepath)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._event_types = TypeRegistry()
        self._object_types = TypeRegistry()
        self._history = ObjectHistory(type(self).__name__)
        self._referenced: set[str] = set()
        self._closed = False

    @abstractmethod
    def write_event(self, raw: RawEvent) -> None:
        """Take one event."""

    @abstractmethod
    def write_object(self, raw: RawObject) -> None:
        """Take one object record."""

    def send(self, data: bytes, content_type: str = "application/json") -> None:
        """Take one record in spores' JSON-lines format (to convert existing files)."""
        kind, raw = parse_jsonl_record(data)
        if kind == "event":
            self.write_event(raw)  # type: ignore[arg-type]
        else:
            self.write_object(raw)  # type: ignore[arg-type]

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise closed_error(type(self).__name__, self.path)

    def _never_logged(self) -> list[str]:
        """Objects events relate to that were never logged themselves (each warned about once)."""
        unknown = sorted(self._referenced - self._history.types.keys())
        for ident in unknown:
            log.warning(
                "spores: object %r is related to events but was never logged; its OCEL type is %r",
                ident,
                UNKNOWN_TYPE,
            )
        return unknown

    @abstractmethod
    def close(self) -> None:
        """Write everything and stop taking records."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
