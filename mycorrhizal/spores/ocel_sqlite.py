"""OCEL 2.0 SQLite: the standard's relational layout, written as the log grows (for large logs).

Tables (as the OCEL 2.0 specification lays them out, and pm4py reads them):

- ``event(ocel_id, ocel_type)``, ``object(ocel_id, ocel_type)``;
- ``event_object(ocel_event_id, ocel_object_id, ocel_qualifier)`` and
  ``object_object(ocel_source_id, ocel_target_id, ocel_qualifier)``;
- ``event_map_type`` / ``object_map_type`` (``ocel_type`` -> ``ocel_type_map``, the table suffix);
- one ``event_<map>(ocel_id, ocel_time, <attributes>)`` table per event type and one
  ``object_<map>(ocel_id, ocel_time, ocel_changed_field, <attributes>)`` per object type: an
  object's first row holds its initial values (``ocel_changed_field`` NULL), each later row one
  changed attribute.

Rows are buffered and inserted ``batch_size`` at a time in one transaction, and on
:meth:`~Ocel2SqliteTransport.flush`, :meth:`~Ocel2SqliteTransport.close` and at interpreter exit.
An existing file is replaced when the transport is created.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..common.numbers import is_count
from . import lifecycle
from .ocel import (
    UNKNOWN_TYPE,
    OcelFile,
    TypeRegistry,
    converted,
    iso_time,
    refuse_non_text,
    time_text,
    typed_value,
)
from .records import RawEvent, RawObject

__all__ = ["Ocel2SqliteTransport"]

_SCHEMA = """
CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT,
    PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier));
CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, ocel_qualifier TEXT,
    PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier));
CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
"""
_EVENT_ROW = "INSERT INTO event VALUES (?, ?)"
_COLUMN_TYPES = {
    "string": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "boolean": "BOOLEAN",
    "time": "TIMESTAMP",
}

log = logging.getLogger("mycorrhizal.spores")


def _storable(value: Any) -> Any:
    """``value`` as SQLite can hold it: an integer beyond 64 bits as its digits (an INTEGER
    column keeps them as a REAL), text with a lone surrogate with it escaped (``\\udcff``)."""
    if type(value) is int and not -(2**63) <= value < 2**63:
        return str(value)
    if type(value) is str:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


_OCEL_COLUMNS = frozenset({"ocel_id", "ocel_time", "ocel_changed_field"})


def _refuse_clashes(side: str, kind: str, names: list[str], known: dict[str, str] | None) -> None:
    """Refuse (before anything of the record is kept) attribute names new to type ``kind`` that
    its table cannot hold as columns of their own: SQLite's column names ignore case, and the
    table has its ``ocel_*`` columns."""
    new = [name for name in names if known is None or name not in known]
    if not new:
        return
    taken = {name.casefold(): name for name in known or ()}
    for name in new:
        folded = name.casefold()
        if folded in _OCEL_COLUMNS:
            problem = f"attribute {name!r} is named like the layout's own column {folded!r}. Fix: rename it"
        else:
            other = taken.setdefault(folded, name)
            if other == name:
                continue
            problem = (
                f"attributes {name!r} and {other!r} would be one column (SQLite ignores case). "
                "Fix: rename one"
            )
        raise ValueError(f"Ocel2SqliteTransport: {side} type {kind!r}: {problem}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Ocel2SqliteTransport(OcelFile):
    """Writes records into an OCEL 2.0 SQLite database as they come (see the module documentation)."""

    def __init__(self, filepath: str | Path, *, batch_size: int = 2000) -> None:
        if not is_count(batch_size):
            raise ValueError(
                f"Ocel2SqliteTransport: batch_size={batch_size!r} is not a count. Fix: use an int, 1 or more"
            )
        super().__init__(filepath)
        self.path.unlink(missing_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        # A log is written in batches; a batch need not wait for the disk twice (WAL, and no sync
        # per transaction).  Closing the connection checkpoints the WAL into the file.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._batch_size = batch_size
        self._maps: dict[tuple[str, str], str] = {}  # ("event"|"object", type) -> table suffix
        self._rows: defaultdict[str, list[tuple[Any, ...]]] = defaultdict(list)  # insert statement -> rows
        self._buffered = 0
        lifecycle.register(self, self.close)

    # -- taking records -------------------------------------------------------------------------------

    def write_event(self, raw: RawEvent) -> None:
        """Take one event."""
        ident, kind, when, attributes, relations, _ = raw
        # (checked before anything of the record is kept: a row failing later fails its whole batch)
        refuse_non_text("Ocel2SqliteTransport", "event", ident, kind, attributes, relations)
        time = time_text("Ocel2SqliteTransport", "event", ident, when)
        values = converted(attributes, "Ocel2SqliteTransport", "event", ident)
        with self._lock:
            self._refuse_if_closed()
            names = [n for n, _, _ in values]
            _refuse_clashes("event", kind, names, self._event_types.types.get(kind))
            table = self._table("event", kind, self._event_types.note(kind, values))
            if self._event_types.widened:
                self._retype("event", self._event_types)
            declared = self._event_types.types[kind]
            self._add(_EVENT_ROW, (ident, kind))
            self._add(
                self._insert(table, ["ocel_id", "ocel_time", *names]),
                (ident, time, *(typed_value(declared[n], v) for n, _, v in values)),
            )
            for oid, qualifier in relations:
                self._add("INSERT OR IGNORE INTO event_object VALUES (?, ?, ?)", (ident, oid, qualifier))
                self._referenced.add(oid)
            self._maybe_flush()

    def write_object(self, raw: RawObject) -> None:
        """Take one object record: its first values, then one row per changed attribute."""
        ident, kind, when, attributes, relations = raw
        refuse_non_text("Ocel2SqliteTransport", "object", ident, kind, attributes, relations)
        time = time_text("Ocel2SqliteTransport", "object", ident, when)
        with self._lock:
            self._refuse_if_closed()
            kind = self._history.types.get(ident, kind)  # OCEL keeps an object's first type
            _refuse_clashes("object", kind, [n for n, _ in attributes], self._object_types.types.get(kind))
            first, news = self._history.observe(raw)
            table = self._table("object", kind, self._object_types.note(kind, news))
            if self._object_types.widened:
                self._retype("object", self._object_types)
            declared = self._object_types.types[kind]
            if first:
                self._add("INSERT INTO object VALUES (?, ?)", (ident, kind))
                names = [n for n, _, _ in news]
                row = (ident, time, None, *(typed_value(declared[n], v) for n, _, v in news))
                self._add(self._insert(table, ["ocel_id", "ocel_time", "ocel_changed_field", *names]), row)
            else:
                for name, _, value in news:
                    statement = self._insert(table, ["ocel_id", "ocel_time", "ocel_changed_field", name])
                    self._add(statement, (ident, time, name, typed_value(declared[name], value)))
            for target, qualifier in relations:
                self._add("INSERT OR IGNORE INTO object_object VALUES (?, ?, ?)", (ident, target, qualifier))
                self._referenced.add(target)
            self._maybe_flush()

    # -- tables ---------------------------------------------------------------------------------------

    def _table(self, side: str, type_name: str, added: list[tuple[str, str]]) -> str:
        """The per-type table of ``type_name`` (created on first use), with columns for ``added``."""
        suffix = self._maps.get((side, type_name))
        if suffix is None:
            suffix = self._new_suffix(side, type_name)
            extra = ", ocel_changed_field TEXT" if side == "object" else ""
            self._flush_rows()  # rows for tables created before must not wait behind this DDL
            with self._db:  # committed at once: not rolled back with a batch that fails later
                self._db.execute(
                    f"CREATE TABLE {_quote(side + '_' + suffix)} (ocel_id TEXT, ocel_time TIMESTAMP{extra})"
                )
                self._db.execute(f"INSERT INTO {side}_map_type VALUES (?, ?)", (type_name, suffix))
        table = _quote(f"{side}_{suffix}")
        if added:
            self._flush_rows()
            with self._db:
                for name, kind in added:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(name)} {_COLUMN_TYPES[kind]}")
        return table

    def _retype(self, side: str, registry: TypeRegistry) -> None:
        """Give each attribute ``registry`` widened a column of its new type, its rows' values
        converted as the JSON writer writes them (``7`` -> ``'7'``, ``True`` -> ``'true'``): a
        column keeps the type it was made with, and SQLite turns text that looks like a number
        into one in an INTEGER or REAL column (``'007'`` would be read back as 7)."""
        widened, registry.widened = registry.widened, []
        if sqlite3.sqlite_version_info < (3, 35):  # no ALTER TABLE ... DROP COLUMN before 3.35
            log.warning(
                "%s: SQLite %s cannot retype the column of %s; its values keep the type they were "
                "stored with (text that looks like a number reads back as one): use SQLite 3.35 or "
                "newer, or the OCEL JSON writer",
                self.path,
                sqlite3.sqlite_version,
                ", ".join(f"{side} {type_name}.{name}" for type_name, name, _ in widened),
            )
            return
        self._flush_rows()  # rows taken before go in with their column's type, then converted
        with self._db:
            for type_name, name, old in widened:
                table = _quote(f"{side}_{self._maps[(side, type_name)]}")
                new, was = _quote(name), _quote(f"{name} (before, {old})")
                value = f"CASE WHEN {was} THEN 'true' ELSE 'false' END" if old == "boolean" else was
                kind = _COLUMN_TYPES[registry.types[type_name][name]]
                self._db.execute(f"ALTER TABLE {table} RENAME COLUMN {new} TO {was}")
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {new} {kind}")
                self._db.execute(
                    f"UPDATE {table} SET {new} = CAST({value} AS {kind}) WHERE {was} IS NOT NULL"
                )
                self._db.execute(f"ALTER TABLE {table} DROP COLUMN {was}")

    def _new_suffix(self, side: str, type_name: str) -> str:
        base = re.sub(r"[^0-9A-Za-z_]", "", type_name) or "Type"
        taken = {s.casefold() for (k, _), s in self._maps.items() if k == side}
        suffix, n = base, 2
        while suffix.casefold() in taken:
            suffix, n = f"{base}_{n}", n + 1
        self._maps[(side, type_name)] = suffix
        return suffix

    @staticmethod
    def _insert(table: str, columns: list[str]) -> str:
        names = ", ".join(_quote(c) for c in columns)
        return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"

    # -- writing --------------------------------------------------------------------------------------

    def _add(self, statement: str, row: tuple[Any, ...]) -> None:
        self._rows[statement].append(row)
        self._buffered += 1

    def _maybe_flush(self) -> None:
        if self._buffered >= self._batch_size:
            self._flush_rows()

    def _flush_rows(self) -> None:
        if not self._buffered:
            return
        rows, self._rows, self._buffered = self._rows, defaultdict(list), 0
        try:
            self._insert_rows(rows)
        except (OverflowError, UnicodeEncodeError, sqlite3.IntegrityError):
            # One row failed the transaction, and with it every row of the batch: a value SQLite
            # cannot hold (an integer beyond 64 bits, text with a lone surrogate), or an event
            # taken twice (a send cut off by its loop shutting down is made again in full, so a
            # JSON-lines log may hold it twice).  Insert the batch again, such values made
            # storable, each event once.
            storable = {s: [tuple(map(_storable, row)) for row in b] for s, b in rows.items()}
            self._insert_rows(self._first_copies(storable))

    def _first_copies(self, rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
        """``rows`` without the rows of events inserted before or already in ``rows``."""
        ids = [row[0] for row in rows.get(_EVENT_ROW, ())]
        inserted: set[Any] = set()
        for start in range(0, len(ids), 500):  # (SQLite takes at most 999 parameters)
            chunk = ids[start : start + 500]
            query = f"SELECT ocel_id FROM event WHERE ocel_id IN ({', '.join('?' * len(chunk))})"
            inserted.update(found for (found,) in self._db.execute(query, chunk))
        out: dict[str, list[tuple[Any, ...]]] = {}
        for statement, batch in rows.items():
            if statement == _EVENT_ROW or statement.startswith('INSERT INTO "event_'):
                seen, first = set(inserted), []
                for row in batch:
                    if row[0] not in seen:
                        seen.add(row[0])
                        first.append(row)
                batch = first
            out[statement] = batch
        return out

    def _insert_rows(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        with self._db:  # one transaction
            for statement, batch in rows.items():
                self._db.executemany(statement, batch)

    def flush(self) -> None:
        """Insert every buffered row now."""
        with self._lock:
            self._flush_rows()

    def close(self) -> None:
        """Insert everything (objects related but never logged get type ``UNKNOWN``) and close."""
        with self._lock:
            if self._closed:
                return
            for ident in self._never_logged():
                table = self._table("object", UNKNOWN_TYPE, [])
                self._add("INSERT INTO object VALUES (?, ?)", (ident, UNKNOWN_TYPE))
                # (columns named: a logged type called UNKNOWN may have attributes of its own)
                self._add(self._insert(table, ["ocel_id", "ocel_time"]), (ident, iso_time(0.0)))
            self._flush_rows()
            self._db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file for readers
            self._db.close()
            self._closed = True
        lifecycle.unregister(self)
