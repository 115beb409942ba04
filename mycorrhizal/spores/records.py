"""Records as plain tuples: what the hot path passes from a logger to an encoder or a sink.

Building the :mod:`~mycorrhizal.spores.models` classes for every event costs more than the rest of
logging it, so loggers and adapters hand over tuples; :func:`to_log_record` builds the model for
an encoder that wants one.  Attribute values stay Python values until they are written, so each
writer converts them its own way (text for JSON lines, typed columns for OCEL 2.0).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import (
    Event,
    LogRecord,
    Object,
    Relationship,
    attribute_value_from_python,
    object_attribute_from_python,
)

__all__ = ["Attributes", "RawEvent", "RawObject", "Relations", "to_log_record"]

Attributes = list[tuple[str, Any]]
"""(name, Python value) pairs, in the order they are written."""
Relations = list[tuple[str, str]]
"""(object id, qualifier) pairs."""
RawEvent = tuple[str, str, float, Attributes, Relations, "str | None"]
"""(id, type, time in epoch seconds, attributes, relationships, activity)."""
RawObject = tuple[str, str, float, Attributes, Relations]
"""(id, type, time the attributes were seen, attributes, relationships to other objects)."""


def to_log_record(kind: str, raw: RawEvent | RawObject) -> LogRecord:
    """The :class:`LogRecord` for a raw ``"event"`` or ``"object"``."""
    when = datetime.fromtimestamp(raw[2])
    relationships = {f"{q}:{oid}": Relationship(oid, q) for oid, q in raw[4]}
    if kind == "event":
        event = Event(
            id=raw[0],
            type=raw[1],
            activity=raw[5] if len(raw) > 5 else None,
            time=when,
            attributes={n: attribute_value_from_python(n, v) for n, v in raw[3]},
            relationships=relationships,
        )
        return LogRecord(event=event)
    obj = Object(
        id=raw[0],
        type=raw[1],
        attributes={n: object_attribute_from_python(n, v, when) for n, v in raw[3]},
        relationships=relationships,
    )
    return LogRecord(object=obj)
