"""The OCEL 2.0 SQLite writer: every record it took is in the database."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.spores import Ocel2JsonTransport, Ocel2SqliteTransport


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


def refused(where: str, said: str) -> str:
    """The whole error (a pattern) refusing an attribute name of ``where`` (say, "event type 'go'")."""
    return f"^{re.escape(f'Ocel2SqliteTransport: {where}: {said}')}$"


def test_attribute_names_sqlite_columns_cannot_tell_apart_are_refused_before_anything_is_kept(
    tmp_path: Path,
) -> None:
    # SQLite's column names ignore case, and each per-type table has its ocel_* columns: an
    # attribute 'status' next to 'Status' was refused with an obscure error once, then written
    # into the 'Status' column (two attributes merged); one named 'ocel_time' was dropped.
    path = tmp_path / "run.sqlite"
    transport = Ocel2SqliteTransport(path)
    transport.write_event(("e1", "go", 1.0, [("Status", "a")], [], None))
    # The error says the problem, then the fix (". Fix: ..."), as every error does.
    clash = "attributes {!r} and {!r} would be one column (SQLite ignores case). Fix: rename one"
    for raw, said in [
        (("e2", "go", 2.0, [("status", "b")], [], None), clash.format("status", "Status")),
        (
            ("e3", "go", 3.0, [("ocel_time", "x")], [], None),
            "attribute 'ocel_time' is named like the layout's own column 'ocel_time'. Fix: rename it",
        ),
        (("e4", "go", 4.0, [("Mode", "x"), ("mode", "y")], [], None), clash.format("mode", "Mode")),
    ]:
        with pytest.raises(ValueError, match=refused("event type 'go'", said)):
            transport.write_event(raw)  # type: ignore[arg-type]
    said = "attribute 'OCEL_ID' is named like the layout's own column 'ocel_id'. Fix: rename it"
    with pytest.raises(ValueError, match=refused("object type 'order'", said)):
        transport.write_object(("o1", "order", 1.0, [("OCEL_ID", 7)], []))
    transport.write_object(("o1", "order", 2.0, [("total", 7)], []))  # its first record, after all
    transport.write_event(("e5", "go", 5.0, [("Status", "c")], [], None))
    transport.close()
    db = sqlite3.connect(path)
    events = db.execute("SELECT * FROM event_go ORDER BY rowid").fetchall()
    objects = db.execute("SELECT ocel_id, ocel_type FROM object").fetchall()
    rows = db.execute("SELECT ocel_id, ocel_changed_field, total FROM object_order").fetchall()
    db.close()
    assert events == [("e1", "1970-01-01T00:00:01.000000Z", "a"), ("e5", "1970-01-01T00:00:05.000000Z", "c")]
    assert objects == [("o1", "order")]
    assert rows == [("o1", None, 7)]


def test_objects_never_logged_join_a_logged_type_named_unknown_without_losing_the_last_batch(
    tmp_path: Path,
) -> None:
    # close() gives objects events relate to, but never logged, the type UNKNOWN: its rows were
    # inserted without column names, which a user's own UNKNOWN type with attributes refused,
    # failing close() and with it the last batch of the log.
    path = tmp_path / "run.sqlite"
    transport = Ocel2SqliteTransport(path)
    transport.write_object(("u1", "UNKNOWN", 1.0, [("note", "mine")], []))
    transport.write_event(("e1", "go", 2.0, [], [("u1", "a"), ("ghost", "b")], None))
    transport.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT ocel_id FROM event").fetchall() == [("e1",)]
    assert db.execute("SELECT ocel_id, note FROM object_UNKNOWN ORDER BY rowid").fetchall() == [
        ("u1", "mine"),
        ("ghost", None),
    ]
    db.close()


@pytest.mark.parametrize(
    ("first", "later"),
    [
        (7, "007"),  # a code: a number at first, then text that looks like one
        (True, "12"),
        (1.5, "2e3"),
        (3, 2.5),  # integer, then float: every value a float
    ],
)
def test_an_attribute_widened_holds_what_the_json_document_holds(
    tmp_path: Path, first: object, later: object
) -> None:
    # The column kept the type it was made with: SQLite turned the text '007' into 7 in an
    # INTEGER column, and kept the earlier values as numbers, while the JSON writer (and the
    # warning) said every value of the attribute is text.
    writers = (
        Ocel2SqliteTransport(tmp_path / "run.sqlite", batch_size=1),
        Ocel2JsonTransport(tmp_path / "run.json"),
    )
    for writer in writers:
        with writer:
            writer.write_object(("o1", "box", 1.0, [("code", first)], []))
            writer.write_object(("o2", "box", 2.0, [("code", later)], []))
            writer.write_object(("o1", "box", 3.0, [("code", later)], []))  # a change
            writer.write_event(("e1", "ship", 3.0, [("n", first)], [("o1", "box")], None))
            writer.write_event(("e2", "ship", 4.0, [("n", later)], [("o2", "box")], None))
    db = sqlite3.connect(tmp_path / "run.sqlite")
    stored = {
        "objects": sorted(db.execute("SELECT ocel_id, code FROM object_box").fetchall()),
        "events": db.execute("SELECT ocel_id, n FROM event_ship ORDER BY rowid").fetchall(),
    }
    db.close()
    document = json.loads((tmp_path / "run.json").read_text())
    assert stored == {
        "objects": sorted((o["id"], a["value"]) for o in document["objects"] for a in o["attributes"]),
        "events": [(e["id"], a["value"]) for e in document["events"] for a in e["attributes"]],
    }


def test_an_attribute_widened_on_an_sqlite_without_drop_column_is_warned_about_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Retyping a column needs ALTER TABLE ... DROP COLUMN (SQLite 3.35): an older SQLite (Ubuntu
    # 20.04's 3.31) must not fail the writer, and says what it could not do.
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    with (
        caplog.at_level(logging.WARNING, logger="mycorrhizal.spores"),
        Ocel2SqliteTransport(tmp_path / "run.sqlite", batch_size=1) as writer,
    ):
        writer.write_object(("o1", "box", 1.0, [("code", 7)], []))
        writer.write_object(("o2", "box", 2.0, [("code", "x7")], []))
    assert "cannot retype the column of object box.code" in caplog.text
    db = sqlite3.connect(tmp_path / "run.sqlite")
    assert sorted(db.execute("SELECT ocel_id, code FROM object_box").fetchall()) == [("o1", 7), ("o2", "x7")]
    db.close()


@pytest.mark.parametrize("batch_size", [0, True, 2.5, float("nan"), float("inf"), "100"])
def test_a_batch_size_that_is_not_a_count_is_refused(tmp_path: Path, batch_size: Any) -> None:
    with pytest.raises(
        ValueError, match=r"^Ocel2SqliteTransport: batch_size=.* is not a count\. Fix: use an int, 1 or more$"
    ):
        Ocel2SqliteTransport(tmp_path / "run.sqlite", batch_size=batch_size)
    assert not (tmp_path / "run.sqlite").exists()
