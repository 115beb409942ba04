"""Converting a JSON-lines log (spores' own or upstream's) into an OCEL 2.0 JSON or SQLite file."""

from __future__ import annotations

from pathlib import Path

from .logfile import SQLITE_SUFFIXES
from .ocel_json import Ocel2JsonTransport
from .ocel_sqlite import Ocel2SqliteTransport

__all__ = ["convert_jsonl"]


def convert_jsonl(source: str | Path, target: str | Path) -> int:
    """Write the records of the JSON-lines file ``source`` to ``target`` as OCEL 2.0; returns how many.

    ``target`` ending in ``.sqlite``/``.sqlite3``/``.db`` is written as SQLite, else as JSON.
    """
    out_path = Path(target)
    sqlite = out_path.suffix.lower() in SQLITE_SUFFIXES
    writer = Ocel2SqliteTransport(out_path) if sqlite else Ocel2JsonTransport(out_path)
    count = 0
    try:
        with open(source, "rb") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    writer.send(line)
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{source}, line {number}: not a spores record ({exc})") from exc
                count += 1
    finally:
        writer.close()
    return count
