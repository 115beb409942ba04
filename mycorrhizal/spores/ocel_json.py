"""OCEL 2.0 JSON: the standard's JSON document, written when the log is closed.

``configure(transport=Ocel2JsonTransport("run.json"))``: records are kept in memory and the
whole document (``objectTypes``, ``eventTypes``, ``objects``, ``events``) is written on
:meth:`~Ocel2JsonTransport.close`, on :meth:`~Ocel2JsonTransport.flush` (the log so far) and at
interpreter exit, to a temporary file renamed over the target (a reader never sees half a file).
For logs too large for memory use :class:`~mycorrhizal.spores.ocel_sqlite.Ocel2SqliteTransport`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from . import lifecycle
from .ocel import (
    UNKNOWN_TYPE,
    OcelFile,
    converted,
    refuse_non_text,
    time_text,
    typed_value,
)
from .records import RawEvent, RawObject

__all__ = ["Ocel2JsonTransport"]

# An event as kept: id, type, ISO time, (name, OCEL type, value) attributes, relationships.
_Event = tuple[str, str, str, list[tuple[str, str, Any]], list[tuple[str, str]]]


class Ocel2JsonTransport(OcelFile):
    """Collects records and writes them as one OCEL 2.0 JSON document (an existing file is replaced)."""

    def __init__(self, filepath: str | Path, *, indent: int | str | None = None) -> None:
        # json.dump's indent: None, an int (<= 0: newlines only) or a str; a float or a bool would
        # only fail (or be read as 1 space) when the document is written, at close
        if indent is not None and (isinstance(indent, bool) or not isinstance(indent, int | str)):
            raise ValueError(
                f"Ocel2JsonTransport: indent={indent!r} is not an indent json can use. Fix: use None "
                "(compact), an int (spaces per level) or a str such as '\\t'"
            )
        super().__init__(filepath)
        self._indent = indent
        self._events: list[_Event] = []
        self._event_ids: set[str] = set()  # an event given twice is kept once (its first copy)
        # object id -> (attribute entries (name, value, ISO time), o2o relationships)
        self._objects: dict[str, tuple[list[tuple[str, Any, str]], list[tuple[str, str]]]] = {}
        lifecycle.register(self, self.close)

    def write_event(self, raw: RawEvent) -> None:
        """Take one event."""
        ident, kind, when, attributes, relations, _ = raw
        # (checked when taken: met only when the document is written, they would fail all of it)
        refuse_non_text("Ocel2JsonTransport", "event", ident, kind, attributes, relations)
        time = time_text("Ocel2JsonTransport", "event", ident, when)
        values = converted(attributes, "Ocel2JsonTransport", "event", ident)
        with self._lock:
            self._refuse_if_closed()
            if ident in self._event_ids:
                # A send cut off by its loop shutting down is made again in full, so a JSON-lines
                # log may hold an event twice; OCEL allows one event per id (as the SQLite writer).
                return
            self._event_ids.add(ident)
            self._event_types.note(kind, values)
            self._events.append((ident, kind, time, values, list(relations)))
            self._referenced.update(oid for oid, _ in relations)

    def write_object(self, raw: RawObject) -> None:
        """Take one object record: its first values, then only what changed."""
        ident, _, when, attributes, relations = raw
        refuse_non_text("Ocel2JsonTransport", "object", ident, raw[1], attributes, relations)
        time = time_text("Ocel2JsonTransport", "object", ident, when)
        with self._lock:
            self._refuse_if_closed()
            first, news = self._history.observe(raw)
            if first:
                self._object_types.note(raw[1], news)
                self._objects[ident] = ([], [])
            else:
                self._object_types.note(self._history.types[ident], news)
            entries, o2o = self._objects[ident]
            entries.extend((name, value, time) for name, _, value in news)
            o2o.extend(r for r in relations if r not in o2o)
            self._referenced.update(oid for oid, _ in relations)

    def document(self) -> dict[str, Any]:
        """The OCEL 2.0 JSON document of everything taken so far."""
        with self._lock:
            return self._document()

    def _document(self) -> dict[str, Any]:
        types = self._history.types
        objects = [self._object(ident, types[ident]) for ident in self._objects]
        objects += [{"id": i, "type": UNKNOWN_TYPE} for i in self._never_logged()]
        declared_objects = dict(self._object_types.types)
        if len(objects) > len(self._objects):
            declared_objects.setdefault(UNKNOWN_TYPE, {})
        return {
            "objectTypes": _declare(declared_objects),
            "eventTypes": _declare(self._event_types.types),
            "objects": objects,
            "events": [self._event(e) for e in self._events],
        }

    def _object(self, ident: str, kind: str) -> dict[str, Any]:
        entries, o2o = self._objects[ident]
        declared = self._object_types.types.get(kind, {})
        out: dict[str, Any] = {"id": ident, "type": kind}
        out["attributes"] = [
            {"name": name, "time": time, "value": _json_value(declared.get(name, "string"), value)}
            for name, value, time in entries
        ]
        out["relationships"] = [{"objectId": oid, "qualifier": q} for oid, q in o2o]
        return out

    def _event(self, event: _Event) -> Any:
        ident, kind, time, values, relations = event
        declared = self._event_types.types.get(kind, {})
        return {
            "id": ident,
            "type": kind,
            "time": time,
            "attributes": [{"name": n, "value": _json_value(declared.get(n, k), v)} for n, k, v in values],
            "relationships": [{"objectId": oid, "qualifier": q} for oid, q in relations],
        }

    def flush(self) -> None:
        """Write the document of everything taken so far (the file is replaced)."""
        with self._lock:
            self._write()

    def _write(self) -> None:
        """:meth:`flush`, with the lock held."""
        document = self._document()
        temporary = self.path.with_name(self.path.name + ".tmp")
        # A lone surrogate (text decoded with os.fsdecode) has no UTF-8: written as its JSON
        # escape, which reads back as the same text, rather than failing the whole document.
        with open(temporary, "w", encoding="utf-8", errors="backslashreplace") as out:
            json.dump(document, out, indent=self._indent, ensure_ascii=False)
        os.replace(temporary, self.path)

    def close(self) -> None:
        """Write the document and stop taking records (idempotent)."""
        with self._lock:  # one step: a record another thread hands in meanwhile is refused, not lost
            if self._closed:
                return
            self._write()
            self._closed = True
        lifecycle.unregister(self)


_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _json_value(kind: str, value: Any) -> Any:
    """``value`` as the document holds an attribute declared ``kind``: a float JSON has no number for
    (NaN, an infinity) as its text, which float parsers read back (``json.dump`` would write a bare
    ``NaN``, which is not JSON: a strict reader refuses the whole document)."""
    value = typed_value(kind, value)
    if type(value) is float and not math.isfinite(value):
        return _NON_FINITE.get(value, "NaN")
    return value


def _declare(types: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "attributes": [{"name": a, "type": t} for a, t in attributes.items()]}
        for name, attributes in types.items()
    ]
