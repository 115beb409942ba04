"""OCEL 2.0 JSON and SQLite writers, checked field by field and read back by pm4py.

pm4py (dev extra) takes about 2 s to import; this module imports it once.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum, auto
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pm4py
import pytest

from mycorrhizal import spores
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import (
    ObjectRef,
    ObjectScope,
    Ocel2JsonTransport,
    Ocel2SqliteTransport,
    SeptumAdapter,
    SporesAttr,
    convert_jsonl,
    emit_event,
    emit_object,
    spore,
)
from mycorrhizal.spores.dsl.septum import log_message
from mycorrhizal.spores.ocel import ObjectHistory

# -- a circuit breaker whose every request and state change is logged ---------------------------------


@spore.object("request")
@dataclass
class Request:
    id: str
    ok: Annotated[bool, SporesAttr]


@spore.object("CircuitBreaker")
@dataclass
class Breaker:
    id: str
    state: Annotated[str, SporesAttr] = "CLOSED"
    failures: Annotated[int, SporesAttr] = 0


@dataclass
class Board:
    breaker: Annotated[Breaker, ObjectRef("breaker", ObjectScope.GLOBAL)]
    rejected: int = 0


adapter = SeptumAdapter()


@septum.state(config=StateConfiguration(can_dwell=True))
def CLOSED():
    class Events(Enum):
        TRIP = auto()

    @septum.on_enter
    @adapter.log_state_lifecycle("CLOSED")
    async def on_enter(ctx):
        ctx.common.breaker.state, ctx.common.breaker.failures = "CLOSED", 0

    @septum.on_state
    @log_message("request")
    async def on_state(ctx):
        if ctx.msg is not None and not ctx.msg.ok:
            ctx.common.breaker.failures += 1
            if ctx.common.breaker.failures >= 2:
                return Events.TRIP
        return None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.TRIP, OPEN)]


@septum.state(config=StateConfiguration(can_dwell=True))
def OPEN():
    class Events(Enum):
        COOLED = auto()

    @septum.on_enter
    @adapter.log_state_lifecycle("OPEN")
    async def on_enter(ctx):
        ctx.common.breaker.state = "OPEN"

    @septum.on_state
    @log_message("request")
    async def on_state(ctx):
        if ctx.msg is not None:
            ctx.common.rejected += 1
            if ctx.common.rejected % 2 == 0:  # the cool-down, counted in rejected requests
                return Events.COOLED
        return None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.COOLED, HALF_OPEN)]


@septum.state(config=StateConfiguration(can_dwell=True))
def HALF_OPEN():
    class Events(Enum):
        HEALED = auto()
        TRIP = auto()

    @septum.on_enter
    @adapter.log_state_lifecycle("HALF_OPEN")
    async def on_enter(ctx):
        ctx.common.breaker.state = "HALF_OPEN"

    @septum.on_state
    @log_message("request")
    async def on_state(ctx):
        if ctx.msg is None:
            return None
        return Events.HEALED if ctx.msg.ok else Events.TRIP

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.HEALED, CLOSED), LabeledTransition(Events.TRIP, OPEN)]


OUTCOMES = [True, False, False, True, True, True, True]  # trips after the 3rd, half-open after the 5th


async def run_breaker(transport: Any) -> None:
    spores.configure(transport=transport)
    fsm = StateMachine(CLOSED, common_data=Board(Breaker("breaker-1")))
    await fsm.initialize()
    for i, ok in enumerate(OUTCOMES):
        fsm.send_message(Request(f"req-{i}", ok))
    await fsm.run()
    await spores.aclose()


@pytest.fixture(params=["json", "sqlite"])
def breaker_log(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    path = tmp_path / f"breaker.{request.param}"
    transport = Ocel2JsonTransport(path) if request.param == "json" else Ocel2SqliteTransport(path)
    reader = pm4py.read_ocel2_json if request.param == "json" else pm4py.read_ocel2_sqlite
    return path, transport, reader


async def test_pm4py_reads_the_circuit_breaker_log(breaker_log: Any) -> None:
    path, transport, reader = breaker_log
    await run_breaker(transport)
    ocel = reader(str(path))

    objects = ocel.objects
    assert objects.groupby("ocel:type").size().to_dict() == {"CircuitBreaker": 1, "request": 7}
    activities = ocel.events["ocel:activity"].value_counts().to_dict()
    assert activities == {"request": 7, "CLOSED": 2, "OPEN": 1, "HALF_OPEN": 1}
    order = list(ocel.events.sort_values("ocel:timestamp", kind="stable")["ocel:activity"])
    assert order == [
        "CLOSED",
        *["request"] * 3,
        "OPEN",
        *["request"] * 2,
        "HALF_OPEN",
        "request",
        "CLOSED",
    ] + ["request"]

    relations = ocel.relations
    requests = relations[relations["ocel:activity"] == "request"]
    assert requests.groupby("ocel:qualifier").size().to_dict() == {"breaker": 7, "message": 7}
    per_event = requests[requests["ocel:qualifier"] == "message"].groupby("ocel:eid")["ocel:oid"].nunique()
    assert set(per_event) == {1}  # one request object per request event
    assert set(requests[requests["ocel:qualifier"] == "message"]["ocel:oid"]) == {
        f"req-{i}" for i in range(7)
    }
    entered = relations[relations["ocel:activity"] != "request"]
    assert set(entered["ocel:qualifier"]) == {"breaker"} and set(entered["ocel:oid"]) == {"breaker-1"}

    changes = ocel.object_changes
    states = list(changes[changes["ocel:field"] == "state"]["state"])
    assert states == ["OPEN", "HALF_OPEN", "CLOSED"]
    oks = objects.set_index("ocel:oid").loc[[f"req-{i}" for i in range(7)], "ok"]
    assert [bool(v) for v in oks] == OUTCOMES


# -- the documents themselves ------------------------------------------------------------------------------


class Color(Enum):
    RED = 1


def test_the_json_document_has_the_ocel_2_layout(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    spores.configure(transport=Ocel2JsonTransport(path))
    emit_object(
        "Order", "o1", {"status": "new", "total": 3, "color": Color.RED}, [("c1", "placed_by")], time=10.0
    )
    emit_object("Order", "o1", {"status": "paid", "total": 3}, time=20.0)
    emit_event("Pay", {"amount": 3, "note": None}, [("o1", "order"), ("c1", "payer")], time=20.0)
    emit_event("Pay", {"amount": 2.5}, [("o1", "order")], time=30.0)
    spores.close()
    doc = json.loads(path.read_text())
    assert doc["objectTypes"] == [
        {
            "name": "Order",
            "attributes": [
                {"name": "status", "type": "string"},
                {"name": "total", "type": "integer"},
                {"name": "color", "type": "string"},
            ],
        },
        {"name": "UNKNOWN", "attributes": []},
    ]
    assert doc["eventTypes"] == [{"name": "Pay", "attributes": [{"name": "amount", "type": "float"}]}]
    order = doc["objects"][0]
    assert order["attributes"] == [
        {"name": "status", "time": "1970-01-01T00:00:10.000000Z", "value": "new"},
        {"name": "total", "time": "1970-01-01T00:00:10.000000Z", "value": 3},
        {"name": "color", "time": "1970-01-01T00:00:10.000000Z", "value": "RED"},
        {"name": "status", "time": "1970-01-01T00:00:20.000000Z", "value": "paid"},  # only what changed
    ]
    assert order["relationships"] == [{"objectId": "c1", "qualifier": "placed_by"}]
    assert doc["objects"][1] == {"id": "c1", "type": "UNKNOWN"}  # related, never logged
    first = doc["events"][0]
    assert first["time"] == "1970-01-01T00:00:20.000000Z"
    assert first["attributes"] == [{"name": "amount", "value": 3.0}]  # widened to float; None left out
    assert first["relationships"] == [
        {"objectId": "o1", "qualifier": "order"},
        {"objectId": "c1", "qualifier": "payer"},
    ]


def test_the_sqlite_database_has_the_ocel_2_tables(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    path.write_text("an old file is replaced")
    transport = Ocel2SqliteTransport(path, batch_size=2)
    spores.configure(transport=transport)
    emit_object("Order", "o1", {"status": "new"}, time=10.0)
    emit_event("Pay", {"amount": 3}, [("o1", "order")], time=20.0)
    emit_object("Order", "o1", {"status": "paid", "extra": True}, time=30.0)
    emit_event("Pay-Late!", {}, [("o1", "order")], time=40.0)
    spores.close()
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {
        "event",
        "object",
        "event_object",
        "object_object",
        "event_map_type",
        "object_map_type",
        "event_Pay",
        "event_PayLate",
        "object_Order",
    }
    assert db.execute("SELECT * FROM event_map_type ORDER BY ocel_type").fetchall() == [
        ("Pay", "Pay"),
        ("Pay-Late!", "PayLate"),
    ]
    rows = db.execute(
        "SELECT ocel_id, ocel_time, ocel_changed_field, status, extra FROM object_Order"
    ).fetchall()
    assert rows == [
        ("o1", "1970-01-01T00:00:10.000000Z", None, "new", None),
        ("o1", "1970-01-01T00:00:30.000000Z", "status", "paid", None),
        ("o1", "1970-01-01T00:00:30.000000Z", "extra", None, 1),
    ]
    assert db.execute("SELECT ocel_qualifier FROM event_object").fetchall() == [("order",), ("order",)]
    db.close()


@pytest.mark.parametrize("suffix", ["json", "sqlite"])
def test_records_after_close_are_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x.{suffix}"
    transport = Ocel2JsonTransport(path) if suffix == "json" else Ocel2SqliteTransport(path)
    transport.close()
    transport.close()  # idempotent
    with pytest.raises(ValueError, match="is closed"):
        transport.write_event(("e", "t", 0.0, [], [], None))


class _WritesOnRelease:
    """The transport's lock, handing a record in as soon as the lock is first released (another
    thread's write waiting on it would then go first)."""

    def __init__(self, transport: Any, event: Any) -> None:
        self.inner, self.transport, self.event = transport._lock, transport, event
        self.outcome: BaseException | None = None

    def __enter__(self) -> None:
        self.inner.acquire()

    def __exit__(self, *exc: object) -> None:
        self.inner.release()
        if self.event is not None:
            event, self.event = self.event, None
            try:
                self.transport.write_event(event)
            except ValueError as error:
                self.outcome = error


@pytest.mark.parametrize("suffix", ["json", "sqlite"])
def test_a_record_handed_in_while_close_writes_the_file_is_refused_not_lost(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"x.{suffix}"
    transport = Ocel2JsonTransport(path) if suffix == "json" else Ocel2SqliteTransport(path)
    transport.write_object(("o1", "order", 0.0, [], []))
    transport.write_event(("e1", "t", 0.0, [], [("o1", "order")], None))
    transport._lock = lock = _WritesOnRelease(transport, ("e2", "t", 1.0, [], [("o1", "order")], None))
    transport.close()
    assert isinstance(lock.outcome, ValueError) and "is closed" in str(lock.outcome)
    assert pm4py_events(path) == ["e1"]


def pm4py_events(path: Path) -> list[str]:
    """The event ids pm4py reads from the OCEL file at ``path``."""
    log = pm4py.read_ocel2_json(str(path)) if path.suffix == ".json" else pm4py.read_ocel2_sqlite(str(path))
    return sorted(log.events["ocel:eid"])


def test_encoder_and_record_writer_do_not_mix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uses no encoder"):
        spores.configure(transport=Ocel2JsonTransport(tmp_path / "x.json"), encoder=spores.JSONEncoder())


@pytest.mark.parametrize("suffix", ["json", "sqlite"])
def test_a_json_lines_log_converts_to_ocel(tmp_path: Path, suffix: str) -> None:
    lines = tmp_path / "run.jsonl"
    with spores.SyncFileTransport(lines) as transport:
        spores.configure(transport=transport)
        emit_object("Order", "o1", {"total": 2, "paid": False, "when": None}, time=5.0)
        emit_event("Create", {"items": 2}, [("o1", "order")], time=5.0)
    target = tmp_path / f"run.{suffix}"
    assert convert_jsonl(lines, target) == 2
    reader = pm4py.read_ocel2_json if suffix == "json" else pm4py.read_ocel2_sqlite
    ocel = reader(str(target))
    assert list(ocel.events["ocel:activity"]) == ["Create"]
    assert list(ocel.relations["ocel:qualifier"]) == ["order"]
    assert int(ocel.objects.set_index("ocel:oid").loc["o1", "total"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"neither": 1}\n')
    with pytest.raises(ValueError, match="line 1: not a spores record"):
        convert_jsonl(bad, tmp_path / "bad.json")


@pytest.mark.parametrize("suffix", ["json", "sqlite"])
def test_an_attribute_that_becomes_none_is_written_as_a_change_to_null(tmp_path: Path, suffix: str) -> None:
    # A change to None was compared as "left out" and dropped: the log kept the old value, so a
    # reader saw the order still assigned to c1.  OCEL 2.0 writes it as a change whose value is
    # null (JSON null; SQL NULL in the changed field's column), which pm4py reads as a change.
    path = tmp_path / f"log.{suffix}"
    spores.configure(transport=Ocel2JsonTransport(path) if suffix == "json" else Ocel2SqliteTransport(path))
    emit_object("Order", "o1", {"courier": "c1", "total": 3}, time=10.0)
    emit_object("Order", "o1", {"courier": None, "total": 3}, time=20.0)
    emit_object("Order", "o1", {"courier": None, "total": 4}, time=30.0)  # still None: no change
    emit_object("Order", "o1", {"courier": "c2", "total": 4}, time=40.0)
    emit_object("Order", "o2", {"courier": None}, time=50.0)  # None from the start: left out
    emit_event("Ship", {}, [("o1", "order"), ("o2", "order")], time=60.0)  # (pm4py needs an event)
    spores.close()
    if suffix == "json":
        doc = json.loads(path.read_text())
        assert doc["objectTypes"][0]["attributes"] == [
            {"name": "courier", "type": "string"},
            {"name": "total", "type": "integer"},
        ]
        assert [(a["name"], a["time"][17:19], a["value"]) for a in doc["objects"][0]["attributes"]] == [
            ("courier", "10", "c1"),
            ("total", "10", 3),
            ("courier", "20", None),
            ("total", "30", 4),
            ("courier", "40", "c2"),
        ]
        assert doc["objects"][1] == {"id": "o2", "type": "Order", "attributes": [], "relationships": []}
    else:
        db = sqlite3.connect(path)
        rows = db.execute(
            "SELECT ocel_id, substr(ocel_time, 18, 2), ocel_changed_field, courier, total "
            "FROM object_Order ORDER BY ocel_time, rowid"
        ).fetchall()
        db.close()
        assert rows == [
            ("o1", "10", None, "c1", 3),
            ("o1", "20", "courier", None, None),
            ("o1", "30", "total", None, 4),
            ("o1", "40", "courier", "c2", None),
            ("o2", "50", None, None, None),
        ]
    read = pm4py.read_ocel2_json if suffix == "json" else pm4py.read_ocel2_sqlite
    changes = read(str(path)).object_changes
    couriers = changes[changes["ocel:field"] == "courier"]
    assert [None if pd.isna(v) else v for v in couriers["courier"]] == [None, "c2"]
    assert list(changes[changes["ocel:field"] == "total"]["total"]) == [4]


# -- what a record can hold that an OCEL file cannot -------------------------------------------------------

WRITERS = {
    "json": (Ocel2JsonTransport, pm4py.read_ocel2_json),
    "sqlite": (Ocel2SqliteTransport, pm4py.read_ocel2_sqlite),
}


@pytest.mark.parametrize("suffix", WRITERS)
@pytest.mark.parametrize(
    "when",
    [
        1.7e12,  # milliseconds passed as seconds: the year 55,800
        -1e13,  # before the year 1
        float("nan"),
        float("inf"),
    ],
)
def test_a_time_ocel_cannot_write_is_refused_when_taken_and_nothing_else_is_lost(
    tmp_path: Path, suffix: str, when: float
) -> None:
    # OCEL writes ISO 8601 times (years 1 to 9999).  The JSON writer took such a time and failed at
    # close(), losing the whole document (at exit too); the SQLite writer failed half-way: an
    # event row without its attributes' row, an object remembered but never written.
    make, read = WRITERS[suffix]
    path = tmp_path / f"log.{suffix}"
    writer = make(path)
    writer.write_event(("e0", "tick", 1.0, [("n", 0)], [("o1", "box")], None))
    with pytest.raises(
        ValueError, match=r"event 'e1' at time .*: .*years 1 to 9999\. Fix: pass seconds since"
    ):
        writer.write_event(("e1", "tick", when, [("n", 1)], [("o1", "box")], None))
    with pytest.raises(
        ValueError, match=r"object 'o2' at time .*: .*years 1 to 9999\. Fix: pass seconds since"
    ):
        writer.write_object(("o2", "box", when, [("size", 3)], []))
    writer.write_object(("o2", "box", 2.0, [("size", 4)], []))  # its first record, after all
    writer.write_event(("e2", "tick", 3.0, [("n", 2)], [("o2", "box")], None))
    writer.close()
    ocel = read(str(path))
    assert list(ocel.events["ocel:eid"]) == ["e0", "e2"]
    assert ocel.objects.set_index("ocel:oid")["ocel:type"].to_dict() == {"o1": "UNKNOWN", "o2": "box"}
    assert int(ocel.objects.set_index("ocel:oid").loc["o2", "size"]) == 4
    assert len(ocel.object_changes) == 0


def test_a_float_json_has_no_number_for_is_written_as_its_text(tmp_path: Path) -> None:
    # json.dump wrote NaN and Infinity bare: not JSON, so a strict reader (JavaScript's JSON.parse,
    # a Rust or Java OCEL library) refused the whole document.  OCEL 2.0 JSON has no such number;
    # their text, "NaN", "Infinity", "-Infinity", is what float parsers read back.
    path = tmp_path / "log.json"
    with Ocel2JsonTransport(path) as writer:
        writer.write_object(("o1", "box", 1.0, [("weight", float("nan")), ("limit", float("inf"))], []))
        attributes = [("delta", float("-inf")), ("n", 2.5)]
        writer.write_event(("e1", "weigh", 2.0, attributes, [("o1", "box")], None))

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    document = json.loads(path.read_text(), parse_constant=refuse)
    assert document["events"][0]["attributes"] == [
        {"name": "delta", "value": "-Infinity"},
        {"name": "n", "value": 2.5},
    ]
    ocel = pm4py.read_ocel2_json(str(path))
    event, box = ocel.events.iloc[0], ocel.objects.iloc[0]
    assert (event["delta"], event["n"], box["limit"]) == (float("-inf"), 2.5, float("inf"))
    assert pd.isna(box["weight"])


class Kind(Enum):
    SHIPPED = 1


@pytest.mark.parametrize("suffix", WRITERS)
@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("event", ("e1", "tick", 2.0, [], [(7, "order")], None), "related object id 7 is a int"),
        ("event", ("e1", "tick", 2.0, [], [("o1", Kind.SHIPPED)], None), "qualifier Kind.SHIPPED is a Kind"),
        ("event", (Kind.SHIPPED, "tick", 2.0, [], [], None), "event id Kind.SHIPPED is a Kind"),
        ("event", ("e1", Kind.SHIPPED, 2.0, [], [], None), "event type Kind.SHIPPED is a Kind"),
        ("event", ("e1", "tick", 2.0, [(Kind.SHIPPED, 1)], [], None), "attribute name Kind.SHIPPED is a"),
        ("object", ("o2", "box", 2.0, [], [(7, "part")]), "related object id 7 is a int"),
        ("object", ("o2", "box", 2.0, [], [("o1", Kind.SHIPPED)]), "qualifier Kind.SHIPPED is a Kind"),
        ("object", (Kind.SHIPPED, "box", 2.0, [], []), "object id Kind.SHIPPED is a Kind"),
        ("object", ("o2", Kind.SHIPPED, 2.0, [], []), "object type Kind.SHIPPED is a Kind"),
        ("object", ("o2", "box", 2.0, [(Kind.SHIPPED, 1)], []), "attribute name Kind.SHIPPED is a Kind"),
    ],
)
def test_a_name_that_is_not_text_is_refused_when_taken_and_nothing_else_is_lost(
    tmp_path: Path, suffix: str, kind: str, raw: Any, message: str
) -> None:
    # `Relationship(order.id, "order")` with an int id (as 0.x's examples write) was taken, and
    # close() then failed sorting the ids: the JSON document was never written (at exit neither),
    # SQLite lost its last batch and was left open.  SQLite met an enum event type or attribute
    # name with an obscure error, after it had begun keeping the record.
    make, read = WRITERS[suffix]
    path = tmp_path / f"log.{suffix}"
    writer = make(path, **({"batch_size": 100} if suffix == "sqlite" else {}))
    writer.write_object(("o1", "box", 1.0, [("size", 1)], []))
    writer.write_event(("e0", "tick", 1.0, [("n", 0)], [("o1", "box")], None))
    write = writer.write_event if kind == "event" else writer.write_object
    name = type(writer).__name__
    with pytest.raises(TypeError, match=rf"{name}: .*the {message}.*, not a str\. Fix: use its text"):
        write(raw)
    writer.write_event(("e2", "tick", 3.0, [("n", 2)], [("o1", "box")], None))
    writer.close()
    ocel = read(str(path))
    assert list(ocel.events["ocel:eid"]) == ["e0", "e2"]
    assert list(ocel.objects["ocel:oid"]) == ["o1"]


def test_a_relationship_whose_object_id_is_a_number_is_refused_by_emit_event(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    spores.configure(transport=Ocel2JsonTransport(path))
    emit_event("placed", {}, [("o1", "order")], time=1.0)
    with pytest.raises(TypeError, match=r"related object id 7 is a int, not a str\. Fix: use its text"):
        emit_event("placed", {}, [spores.Relationship(7, "order")], time=2.0)
    spores.close()
    assert [e["time"] for e in json.loads(path.read_text())["events"]] == ["1970-01-01T00:00:01.000000Z"]


BEYOND = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
"""A datetime whose UTC time is in the year 10000: OCEL's ISO 8601 text cannot hold it."""


def test_an_object_record_holding_a_time_ocel_cannot_write_leaves_the_history_as_it_was() -> None:
    # observe() updated the object's values one by one and met the time only then: the values
    # before it were taken as written, so the next record's change of them was never written.
    history = ObjectHistory("Ocel2JsonTransport")
    history.observe(("o1", "box", 1.0, [("size", 1), ("color", "red")], []))
    before = copy.deepcopy((history.types, history.values))
    with pytest.raises(
        ValueError,
        match=r"^Ocel2JsonTransport: object 'o1': attribute 'packed': the time .* is beyond the years 1 to "
        r"9999 .*\. Fix: log a datetime",
    ):
        history.observe(("o1", "box", 2.0, [("size", 2), ("packed", BEYOND), ("color", "blue")], []))
    assert (history.types, history.values) == before
    news = history.observe(("o1", "box", 3.0, [("size", 2), ("color", "blue")], []))
    assert news == (False, [("size", "integer", 2), ("color", "string", "blue")])


@pytest.mark.parametrize("suffix", WRITERS)
def test_a_record_refused_for_its_time_attribute_loses_no_later_change(tmp_path: Path, suffix: str) -> None:
    make, read = WRITERS[suffix]
    path = tmp_path / f"log.{suffix}"
    name = make.__name__
    with make(path) as writer:
        writer.write_object(("o1", "box", 1.0, [("size", 1), ("color", "red")], []))
        with pytest.raises(ValueError, match=rf"^{name}: object 'o1': attribute 'packed': .*\. Fix: "):
            writer.write_object(("o1", "box", 2.0, [("size", 2), ("packed", BEYOND), ("color", "blue")], []))
        with pytest.raises(ValueError, match=rf"^{name}: event 'e1': attribute 'packed': .*\. Fix: "):
            writer.write_event(("e1", "pack", 2.0, [("packed", BEYOND)], [("o1", "box")], None))
        writer.write_object(("o1", "box", 3.0, [("size", 2), ("color", "blue")], []))
        writer.write_event(("e2", "pack", 4.0, [], [("o1", "box")], None))
    ocel = read(str(path))
    changes = ocel.object_changes.sort_values("ocel:field")
    assert list(changes["ocel:field"]) == ["color", "size"]
    assert (changes.iloc[0]["color"], int(changes.iloc[1]["size"])) == ("blue", 2)
    assert list(ocel.events["ocel:eid"]) == ["e2"]
