"""Choosing a transport from a file name: what ``--log out/events.json`` options need.

``.json`` is the OCEL 2.0 JSON document, ``.sqlite`` / ``.sqlite3`` / ``.db`` the OCEL 2.0
SQLite database, ``.jsonl`` JSON lines (spores' own format, batched).  Anything else is refused:
a typo must not silently pick a format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .ocel_json import Ocel2JsonTransport
from .ocel_sqlite import Ocel2SqliteTransport
from .transport import AsyncFileTransport

__all__ = ["LOG_SUFFIXES", "SQLITE_SUFFIXES", "transport_for"]

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
"""File name endings written as OCEL 2.0 SQLite."""
LOG_SUFFIXES = (".json", *SQLITE_SUFFIXES, ".jsonl")
"""Every file name ending :func:`transport_for` knows."""


def transport_for(path: str | Path) -> Any:
    """A new transport writing ``path`` in the format its ending names (see the module documentation).

    Raises ValueError, naming the endings, for any other file name.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        return Ocel2JsonTransport(target)
    if suffix in SQLITE_SUFFIXES:
        return Ocel2SqliteTransport(target)
    if suffix == ".jsonl":
        return AsyncFileTransport(target)
    raise ValueError(
        f"cannot tell the log format of {str(path)!r}. Fix: end the file name with .json (OCEL 2.0 JSON), "
        ".sqlite, .sqlite3 or .db (OCEL 2.0 SQLite), or .jsonl (JSON lines)"
    )
