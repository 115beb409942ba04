"""The SQLite file behind :class:`~mycorrhizal.durability.SQLiteStore`: tables, settings, checks.

Three tables: ``runs`` (name, fencing epoch), ``journal`` and ``snapshots`` (run, seq, document).
A journal row holds the consecutive records of one run that one commit wrote: ``first_seq``,
``last_seq`` and ``records``, a JSON array of ``[kind, payload]`` pairs (one row per record would cost
more than everything else a record costs).  Rows are keyed by run and first seq.

The file is marked with an application id and a schema version, so a file of another program, or of
a newer mycorrhizal, is refused with a clear error instead of being misread.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import attrs

from ..common.errors import DefinitionError, Problem, StoreError, reason
from ..common.numbers import is_seconds

__all__ = ["SCHEMA_VERSION", "Options", "connect"]

APPLICATION_ID = 0x4D594352  # "MYCR"
SCHEMA_VERSION = 1
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    run_id INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    records TEXT NOT NULL,
    PRIMARY KEY (run_id, first_seq)
);
CREATE TABLE IF NOT EXISTS snapshots (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    written REAL NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"""


MAX_BUSY_TIMEOUT = 2_147_483
"""The longest ``busy_timeout`` SQLite can wait: 2**31 - 1 milliseconds, in whole seconds."""


@attrs.frozen
class Options:
    """How a :class:`SQLiteStore` commits; see docs/durability.md for what each costs."""

    commit_interval: float = 0.002
    """Seconds the writer waits after the first pending record for more to join its commit."""
    max_batch: int = 1000
    """Pending records that start a commit at once, without waiting out ``commit_interval``."""
    synchronous: str = "FULL"
    """SQLite's ``synchronous``: FULL survives power loss, NORMAL only a crash of the process."""
    keep_snapshots: int = 2
    """Snapshots kept per run; journal records older than the oldest kept one are deleted."""
    autocheckpoint: int = 1000
    """WAL pages that trigger a checkpoint into the database file (0: only when closed)."""
    busy_timeout: float = 5.0
    """Seconds to wait for another process's write lock on the same file before failing."""

    def check(self) -> None:
        """Raise one DefinitionError listing every option out of range."""
        problems = []
        if not is_seconds(self.commit_interval) or self.commit_interval > 60:
            problems.append(self._problem("commit_interval", "seconds between 0 and 60", "0.002"))
        for name in ("max_batch", "keep_snapshots"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                problems.append(self._problem(name, "an int >= 1", "1000" if name == "max_batch" else "2"))
        if type(self.autocheckpoint) is not int or self.autocheckpoint < 0:
            problems.append(self._problem("autocheckpoint", "an int >= 0 (WAL pages)", "1000"))
        # SQLite takes the wait in milliseconds as a C int: more (math.inf too) wraps round to not
        # waiting at all, the opposite of what was asked
        if not is_seconds(self.busy_timeout) or self.busy_timeout > MAX_BUSY_TIMEOUT:
            problems.append(self._problem("busy_timeout", f"seconds from 0 to {MAX_BUSY_TIMEOUT}", "5.0"))
        if self.synchronous not in SYNCHRONOUS:
            problems.append(self._problem("synchronous", f"one of {', '.join(SYNCHRONOUS)}", "'FULL'"))
        DefinitionError.raise_if_any(problems, what="SQLiteStore options")

    def _problem(self, name: str, expected: str, example: str) -> Problem:
        value = getattr(self, name)
        return Problem(
            f"SQLiteStore({name}=...)", f"must be {expected}, got {value!r}", f"pass {name}={example}"
        )


def _unopenable(path: str | os.PathLike[str], exc: sqlite3.Error) -> str:
    """Why SQLite could not open ``path``, and the fix (its own 'unable to open database file' says
    neither, for the two usual mistakes)."""
    where = Path(path)
    if where.is_dir():
        example = os.fspath(where / "run.db")
        return f"{os.fspath(where)!r} is a folder. Fix: pass the path of a file in it, e.g. {example!r}"
    if not where.parent.is_dir():
        return f"its folder {os.fspath(where.parent)!r} does not exist. Fix: create the folder first"
    return f"{reason(exc)}. Fix: check the path"


def connect(path: str | os.PathLike[str], options: Options) -> sqlite3.Connection:
    """Open (creating if needed) the store's file in WAL mode with its tables; StoreError if unfit."""
    try:
        # Handed to the writer thread once set up; only that thread uses it from then on.
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=options.busy_timeout
        )
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot open {os.fspath(path)!r} as an SQLite store: {_unopenable(path, exc)}"
        ) from exc
    try:
        _prepare(connection, os.fspath(path), options)
    except BaseException:
        connection.close()
        raise
    return connection


def _prepare(connection: sqlite3.Connection, path: str, options: Options) -> None:
    try:
        application, version = _marks(connection)
        if application not in (0, APPLICATION_ID) or application == 0 and _has_tables(connection):
            raise StoreError(
                f"{path!r} is an SQLite database of another program, not a mycorrhizal store. "
                f"Fix: give SQLiteStore a path of its own"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path!r} was written by a newer mycorrhizal (store schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}). Fix: open it with that newer version"
            )
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"{path!r} cannot use SQLite's WAL mode (got {mode!r}). Fix: use a local disk")
        connection.execute(f"PRAGMA synchronous={options.synchronous}")
        connection.execute(f"PRAGMA wal_autocheckpoint={options.autocheckpoint}")
        if version < SCHEMA_VERSION:
            connection.executescript(
                f"BEGIN IMMEDIATE;{_TABLES}PRAGMA application_id={APPLICATION_ID};"
                f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
            )
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot use {path!r} as an SQLite store: {reason(exc)}. Fix: check the file"
        ) from exc


def _marks(connection: sqlite3.Connection) -> tuple[int, int]:
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    return int(application), int(version)


def _has_tables(connection: sqlite3.Connection) -> bool:
    (count,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return int(count) > 0
