"""The OCEL 2.0 SQLite writer: every record it took is in the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mycorrhizal.spores import Ocel2SqliteTransport


@pytest.mark.parametrize(
    ("usual", "value", "stored"),
    [
        (7, 2**64, float(2**64)),  # an id, a hash: beyond SQLite's 64-bit INTEGER
        ("a", "report-\udcff.csv", "report-\\udcff.csv"),  # os.fsdecode of a non-UTF-8 name
    ],
)
def test_a_value_sqlite_cannot_hold_does_not_lose_the_rest_of_its_batch(
    tmp_path: Path, usual: object, value: object, stored: object
) -> None:
    path = tmp_path / "run.sqlite"
    transport = Ocel2SqliteTransport(path, batch_size=100)
    transport.write_event(("e0", "read", 1.0, [("n", usual)], [], None))
    transport.write_event(("odd", "read", 2.0, [("n", value)], [], None))
    for i in range(1, 60):  # the batch is inserted on the way; no record raises
        transport.write_event((f"e{i}", "read", 2.0 + i, [("n", usual)], [], None))
    transport.close()
    db = sqlite3.connect(path)
    ids = [i for (i,) in db.execute("SELECT ocel_id FROM event ORDER BY rowid")]
    values = dict(db.execute("SELECT ocel_id, n FROM event_read").fetchall())
    db.close()
    assert ids == ["e0", "odd", *(f"e{i}" for i in range(1, 60))]
    assert values["odd"] == stored
