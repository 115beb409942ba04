"""Engine events as JSON-ready dicts for the page: type, engine, time, a one-line text and fields.

Any engine's event record works: the fields are read from the record class (every engine's events
are frozen records deriving from :class:`mycorrhizal.common.Event`; attrs classes work too), so new
event types show up in the view without a change here.  Values are shown as short text (tokens
can be anything).
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from ..common.frozen import fields, is_record

__all__ = ["describe", "show"]

MAX_TEXT = 160
_PLAIN = (bool, int, float)


def show(value: Any) -> Any:
    """``value`` as JSON: numbers and booleans as they are, anything else as text of bounded length."""
    if value is None or isinstance(value, _PLAIN):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, BaseException):
        text = f"{type(value).__name__}: {value}"
    elif isinstance(value, str):
        text = value
    else:
        text = repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _fields(event: Any) -> dict[str, Any]:
    cls = type(event)
    if is_record(cls):
        names = [field.name for field in fields(cls)]
    elif attrs.has(cls):
        names = [field.name for field in attrs.fields(cls)]
    else:
        names = [name for name in getattr(event, "__dict__", {}) if not name.startswith("_")]
    return {name: show(getattr(event, name)) for name in names if name not in ("source", "time")}


def _engine(cls: type) -> str:
    parts = cls.__module__.split(".")
    return parts[1] if parts[0] == "mycorrhizal" and len(parts) > 1 else parts[0]


def describe(event: Any, seq: int, nodes: list[str], tag: dict[str, str] | None = None) -> dict[str, Any]:
    """The page's record of ``event``: ``seq`` numbers it; ``nodes`` are the picture ids it is about.

    ``tag`` adds context the event does not carry (the transition and key of an embedded machine).
    """
    fields = _fields(event)
    if tag:
        fields.update(tag)
    cls = type(event)
    time = getattr(event, "time", None)
    source = show(getattr(event, "source", ""))
    text = " ".join(f"{name}={value}" for name, value in fields.items() if value not in (None, ""))
    if isinstance(source, str) and source:
        text = text.replace(source + ".", "")  # names inside the runtime read better unqualified
    return {
        "seq": seq,
        "type": cls.__name__,
        "engine": _engine(cls),
        "source": source,
        "time": time if isinstance(time, _PLAIN) else None,
        "text": show(text),
        "fields": fields,
        "nodes": nodes,
    }
