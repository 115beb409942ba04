"""Converting a JSON-lines log (spores' own or upstream's) into an OCEL 2.0 JSON or SQLite file."""

from __future__ import annotations

from pathlib import Path

from ..common.errors import fix_last, reason
from .logfile import SQLITE_SUFFIXES
from .ocel import parse_jsonl_record
from .ocel_json import Ocel2JsonTransport
from .ocel_sqlite import Ocel2SqliteTransport

__all__ = ["convert_jsonl"]


def convert_jsonl(source: str | Path, target: str | Path) -> int:
    """Write the records of the JSON-lines file ``source`` to ``target`` as OCEL 2.0; returns how many.

    ``target`` ending in ``.sqlite``/``.sqlite3``/``.db`` is written as SQLite, else as JSON.  A
    line that is no spores record, or a record OCEL cannot hold, stops it with a ValueError naming
    the line (the records before it are written).
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
                where = f"{source}, line {number}"
                try:
                    kind, raw = parse_jsonl_record(line)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from exc
                try:
                    if kind == "event":
                        writer.write_event(raw)  # type: ignore[arg-type]
                    else:
                        writer.write_object(raw)  # type: ignore[arg-type]
                except (ValueError, TypeError) as exc:  # a record, but one the writer refuses
                    said = f"{where}: a spores record OCEL 2.0 cannot hold: {reason(exc)}"
                    raise ValueError(fix_last(said, "", otherwise="correct the line or remove it")) from exc
                count += 1
    finally:
        writer.close()
    return count
