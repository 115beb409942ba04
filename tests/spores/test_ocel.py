"""OCEL 2.0 JSON and SQLite writers, checked field by field and read back by pm4py.

pm4py (dev extra) takes about 2 s to import; this module imports it once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
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
