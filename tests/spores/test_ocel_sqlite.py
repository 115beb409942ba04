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


def test_an_event_taken_twice_is_kept_once_and_loses_nothing_else(tmp_path: Path) -> None:
    # A send cut off by its loop shutting down is made again in full (docs/observing.md), so a
    # JSON-lines log may hold an event twice; converting it hit the event table's primary key,
    # which rolled the whole batch back (no event at all here) and stopped the conversion.
    path = tmp_path / "run.sqlite"
    transport = Ocel2SqliteTransport(path, batch_size=8)

    def event(i: int) -> tuple[str, str, float, list[tuple[str, object]], list[tuple[str, str]], None]:
        return (f"e{i}", "tick", float(i), [("n", i)], [("o1", "order")], None)

    transport.write_event(event(0))
    transport.flush()
    for i in (1, 2, 2, 0, 3):  # e2 twice in one batch, e0 again after it was inserted
        transport.write_event(event(i))
    transport.close()
    db = sqlite3.connect(path)
    ids = [i for (i,) in db.execute("SELECT ocel_id FROM event ORDER BY rowid")]
    rows = db.execute("SELECT ocel_id, n FROM event_tick ORDER BY rowid").fetchall()
    links = db.execute("SELECT count(*) FROM event_object").fetchone()[0]
    db.close()
    assert ids == ["e0", "e1", "e2", "e3"]
    assert rows == [("e0", 0), ("e1", 1), ("e2", 2), ("e3", 3)]
    assert links == 4


def test_an_event_taken_twice_with_an_id_sqlite_cannot_hold_is_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    transport = Ocel2SqliteTransport(path, batch_size=100)
    for _ in range(2):
        transport.write_event(("e-\udcff", "tick", 1.0, [], [], None))
    transport.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT ocel_id FROM event").fetchall() == [("e-\\udcff",)]
    db.close()
