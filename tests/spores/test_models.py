"""Models, value conversion, ids and the JSON-lines format (UPSTREAM-API 6.7)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal import spores
from mycorrhizal.common import DefinitionError
from mycorrhizal.spores import (
    Event,
    EventAttributeValue,
    JSONEncoder,
    LogRecord,
    Object,
    ObjectRef,
    ObjectScope,
    Relationship,
    attribute_value_from_python,
    generate_event_id,
    generate_object_id,
    models,
    object_attribute_from_python,
)
from mycorrhizal.spores.emit import relate
from mycorrhizal.spores.records import to_log_record

from .conftest import MemorySink


class Color(Enum):
    RED = 1


WHEN = datetime(2024, 2, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("value", "text", "kind"),
    [
        (None, "null", "string"),
        (True, "true", "boolean"),
        (False, "false", "boolean"),
        (3, "3", "integer"),
        (2.5, "2.5", "float"),
        (Color.RED, "RED", "string"),
        (WHEN, "2024-02-01T12:00:00", "timestamp"),
        ("x", "x", "string"),
        ([1, 2], "[1, 2]", "string"),
    ],
)
def test_values_are_text_with_a_type_name(value, text, kind) -> None:
    assert attribute_value_from_python("a", value) == EventAttributeValue("a", text, kind)
    assert object_attribute_from_python("a", value, WHEN).time == WHEN


def test_a_log_record_holds_exactly_one_of_event_and_object() -> None:
    with pytest.raises(ValueError, match=r"exactly one of event= and object=\. Fix: pass one of them$"):
        LogRecord()
    with pytest.raises(ValueError, match="exactly one"):
        LogRecord(event=Event("e", "t"), object=Object("o", "t"))


def test_event_ids_are_unique_and_object_ids_come_from_the_object() -> None:
    ids = {generate_event_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("evt-") for i in ids)

    @dataclass
    class WithId:
        id: int

    class Plain:
        pass

    plain = Plain()
    assert generate_object_id(WithId(7)) == "7"
    assert generate_object_id({"id": "order-1", "x": 1}) == "order-1"
    assert generate_object_id("job-1") == "job-1"
    assert generate_object_id(plain) == generate_object_id(plain) != generate_object_id(Plain())
    assert generate_object_id(plain).startswith("obj-")


@pytest.mark.parametrize("tokens", [(1, "1"), ("1", 1)])
def test_a_number_and_its_text_are_one_object_of_the_type_logged_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tokens: tuple[Any, Any]
) -> None:
    # what docs/observing.md says under "Object ids": ids are text, and an OCEL id is one object
    assert generate_object_id(tokens[0]) == generate_object_id(tokens[1]) == "1"
    path = tmp_path / "log.json"
    transport = spores.Ocel2JsonTransport(path)
    spores.configure(transport=transport)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.spores"):
        for token in tokens:
            spores.emit_event("seen", None, [relate(token, "token")])
        transport.close()
    document = json.loads(path.read_text())
    first, then = type(tokens[0]).__name__, type(tokens[1]).__name__
    assert [(o["id"], o["type"]) for o in document["objects"]] == [("1", first)]
    assert [e["relationships"] for e in document["events"]] == [[{"objectId": "1", "qualifier": "token"}]] * 2
    assert f"object '1' was logged as {first!r} and now as {then!r}; OCEL keeps its first type" in caplog.text


@dataclass
class Job:  # a token as most write it: no id, compared by value, so unhashable
    name: str


@dataclass(frozen=True)
class Part:  # no id, hashable by value: two parts may be equal and still two parts
    name: str


def test_an_object_without_an_id_keeps_one_id_per_instance() -> None:
    job = Job("print")
    # An unhashable instance got a new id at every sighting: a new object each time in the log.
    assert generate_object_id(job) == generate_object_id(job)
    job.name = "scan"  # changed in place: the same object
    assert generate_object_id(job) == generate_object_id(job)
    # Equal instances (a WeakKeyDictionary compares keys by ==) shared one id: two objects as one.
    first, second = Part("bolt"), Part("bolt")
    assert generate_object_id(first) != generate_object_id(second)
    assert generate_object_id(first) == generate_object_id(first)


@dataclass(slots=True)
class Slotted:  # no id, and no __weakref__ slot: cannot be weakly referenced
    name: str


@pytest.mark.parametrize(
    "make",
    # (tuple([...]): a new tuple each call, where a literal would be one constant)
    [lambda: {"text": "db down"}, lambda: tuple(["order", 1]), lambda: Slotted("bolt")],
    ids=["dict", "tuple", "slotted"],
)
def test_an_object_that_cannot_be_weakly_referenced_keeps_one_id_per_instance(make: Any) -> None:
    # A dict without "id", a tuple or a slotted class got a new id at every sighting: a token
    # moving through a net was a new object in each event about it.
    first, second = make(), make()
    assert generate_object_id(first) == generate_object_id(first) != generate_object_id(second)
    assert generate_object_id(first).startswith("obj-")


def test_the_objects_kept_for_their_id_are_bounded_and_letting_one_go_is_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(models, "KEPT_WITHOUT_WEAKREF", 2)
    monkeypatch.setattr(models, "_kept", {})
    monkeypatch.setattr(models, "_let_go", False)
    tuples = [("t", n) for n in range(4)]
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.spores"):
        ids = [generate_object_id(t) for t in tuples]
    assert len(models._kept) == 2 and generate_object_id(tuples[3]) == ids[3]
    assert generate_object_id(tuples[0]) != ids[0]  # let go: a new id
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and re.search(
        r"more than 2 objects without an id that cannot be weakly referenced.*"
        r"Fix: give them an id \(a dict an \"id\" key",
        warnings[0],
    )


def test_an_object_without_an_id_is_written_once_when_seen_again() -> None:
    sink = MemorySink()
    spores.configure(transport=sink)
    job = Job("print")
    assert relate(job, "job") == relate(job, "job")
    assert len(sink.objects()) == 1


def test_object_ref_takes_a_scope_name() -> None:
    assert ObjectRef("actor", "global").scope is ObjectScope.GLOBAL
    assert ObjectRef("actor").scope is ObjectScope.EVENT


@pytest.mark.parametrize("scope", ["forever", "GLOBAL", 3, None])
def test_an_object_ref_with_an_unknown_scope_names_its_qualifier_and_the_scopes(scope: Any) -> None:
    fix = "Fix: use 'global', 'event' or 'auto' (or an ObjectScope member)"
    with pytest.raises(
        DefinitionError, match=re.escape(f"ObjectRef 'actor': scope {scope!r} is not a scope. {fix}")
    ):
        ObjectRef("actor", scope)
    with pytest.raises(ValueError, match="is not a scope"):  # still what code catching the old error catches
        ObjectRef("actor", scope)


def test_the_json_lines_format_is_upstream_s() -> None:
    event = Event(
        id="evt-1",
        type="OrderCreated",
        time=WHEN,
        attributes={"item_count": attribute_value_from_python("item_count", 2)},
        relationships={"order": Relationship("order_1", "order")},
    )
    line = JSONEncoder().encode(LogRecord(event=event))
    assert line == (
        b'{"event":{"id":"evt-1","type":"OrderCreated","activity":null,"time":'
        + repr(WHEN.timestamp()).encode()
        + b',"attributes":[{"name":"item_count","value":"2","type":"integer"}],'
        b'"relationships":[{"objectId":"order_1","qualifier":"order"}]},"object":null}'
    )
    obj = Object("order_1", "Order", {"status": object_attribute_from_python("status", "created", WHEN)})
    assert json.loads(JSONEncoder().encode(LogRecord(object=obj))) == {
        "event": None,
        "object": {
            "id": "order_1",
            "type": "Order",
            "attributes": [
                {"name": "status", "value": "created", "type": "string", "time": WHEN.timestamp()}
            ],
            "relationships": [],
        },
    }
    assert JSONEncoder().content_type() == "application/json"


def test_relationship_qualifiers_come_from_the_relationship_not_the_key() -> None:
    event = Event(
        "e", "fired", relationships={"t1": Relationship("t1", "input"), "t2": Relationship("t2", "input")}
    )
    rels = json.loads(JSONEncoder().encode(LogRecord(event=event)))["event"]["relationships"]
    assert rels == [{"objectId": "t1", "qualifier": "input"}, {"objectId": "t2", "qualifier": "input"}]


attribute_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(), st.sampled_from(Color)
)


@given(
    name=st.text(),
    # the models key attributes by name and relationships by (object, qualifier): no repeats
    values=st.lists(st.tuples(st.text(), attribute_values), max_size=4, unique_by=lambda v: v[0]),
    rels=st.lists(st.tuples(st.text(), st.text()), max_size=3, unique=True),
    when=st.floats(min_value=0, max_value=4e9),
)
def test_the_fast_encoder_writes_what_the_model_encoder_writes(name, values, rels, when) -> None:
    encoder = JSONEncoder()
    # The models hold a datetime (microseconds), so times agree to a microsecond.
    raw_event = ("evt-x", name, when, values, rels, None)
    fast = json.loads(encoder.encode_event(raw_event))
    model = json.loads(encoder.encode(to_log_record("event", raw_event)))
    assert fast["event"].pop("time") == pytest.approx(model["event"].pop("time"), abs=1e-6)
    assert fast == model
    raw_object = ("o", name, when, values, rels)
    fast = json.loads(encoder.encode_object(raw_object))
    model = json.loads(encoder.encode(to_log_record("object", raw_object)))
    for a, b in zip(fast["object"]["attributes"], model["object"]["attributes"], strict=True):
        assert a.pop("time") == pytest.approx(b.pop("time"), abs=1e-6)
    assert fast == model
    assert [a["value"] for a in fast["object"]["attributes"]] == [
        attribute_value_from_python(n, v).value for n, v in values
    ]


class Shade(StrEnum):
    RED = "red"


def test_a_list_of_texts_is_made_once_and_a_text_like_enum_is_not_taken_for_it() -> None:
    encoder = JSONEncoder()

    def values(attributes: list[tuple[str, Any]]) -> list[tuple[str, str, str]]:
        line = json.loads(encoder.encode_event(("e", "t", 0.0, attributes, [("o", "q")], None)))
        return [(a["name"], a["value"], a["type"]) for a in line["event"]["attributes"]]

    for _ in range(2):  # the second time from the list made the first time
        assert values([("state", "red"), ("label", "GO")]) == [
            ("state", "red", "string"),
            ("label", "GO", "string"),
        ]
    # equal to ("state", "red") as a key, written as an enum is: its member's name
    assert values([("state", Shade.RED), ("label", "GO")]) == [
        ("state", "RED", "string"),
        ("label", "GO", "string"),
    ]


@pytest.mark.parametrize("time", [float("nan"), float("inf"), True, "12"])
@pytest.mark.parametrize("emit", ["event", "object"])
def test_a_time_that_is_no_time_is_refused_and_nothing_is_written(
    sink: MemorySink, emit: str, time: Any
) -> None:
    # NaN and infinity were written as bare NaN/Infinity (not JSON); '12' and True silently became numbers
    with pytest.raises(
        ValueError, match=rf"time={re.escape(repr(time))} is not a time\. Fix: pass a datetime"
    ):
        if emit == "event":
            spores.emit_event("tick", time=time)
        else:
            spores.emit_object("thing", "o1", time=time)
    assert sink.kinds() == []


@pytest.mark.parametrize("now", [float("nan"), float("inf"), True, "12"])
@pytest.mark.parametrize("scope", [ObjectScope.GLOBAL, ObjectScope.EVENT])
def test_relate_refuses_a_now_that_is_no_time_and_writes_nothing(
    sink: MemorySink, scope: ObjectScope, now: Any
) -> None:
    # NaN and infinity were written as bare nan/inf (not JSON), True as 1.0; '12' failed deep inside
    with pytest.raises(
        ValueError, match=rf"^now={re.escape(repr(now))} is not a time\. Fix: pass a datetime"
    ):
        relate({"id": "o1", "x": 1}, "order", scope, now=now)
    spores.flush_object_cache()
    assert sink.kinds() == []


@pytest.mark.parametrize("now", [12, 12.0, datetime.fromtimestamp(12)])
def test_relate_takes_now_as_epoch_seconds_or_a_datetime(sink: MemorySink, now: Any) -> None:
    assert relate({"id": "o1", "x": 1}, "order", ObjectScope.EVENT, now=now) == ("o1", "order")
    assert sink.records[0][1][2] == 12.0


def test_a_time_before_1970_is_kept(sink: MemorySink) -> None:
    spores.emit_event("tick", time=-1.5)
    assert sink.events("tick")[0]["time"] == -1.5
