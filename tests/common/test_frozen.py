"""Frozen records (common.frozen): the tuple-based records every engine's events are."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import attrs
import pytest

from mycorrhizal.common.frozen import FrozenRecord, evolve, field, fields, is_record, maker


class Base(FrozenRecord):
    source: str
    time: float


class Moved(Base):
    state: str
    label: Any = field(eq=False)
    note: str = field(default="")


def moved(**changes: Any) -> Moved:
    values: dict[str, Any] = {"source": "m", "time": 1.5, "state": "Idle", "label": "GO"}
    values.update(changes)
    return Moved(**values)


def test_fields_follow_the_base_and_are_read_by_name() -> None:
    record = moved()
    assert [f.name for f in fields(Moved)] == ["source", "time", "state", "label", "note"]
    assert fields(record) == fields(Moved) and [f.eq for f in fields(Moved)][2:4] == [True, False]
    assert (record.source, record.time, record.state, record.label, record.note) == (
        "m",
        1.5,
        "Idle",
        "GO",
        "",
    )
    assert is_record(record) and is_record(Moved) and not is_record(("m", 1.5)) and not is_record(tuple)


def test_equality_and_hash_compare_the_class_and_the_compared_fields_only() -> None:
    assert moved() == moved(label="other") and hash(moved()) == hash(moved(label="other"))
    assert moved() != moved(state="Busy") and not moved() == moved(state="Busy")  # noqa: SIM201
    values = ("m", 1.5, "Idle", "GO", "")
    assert moved() != values and not moved() == values  # noqa: SIM201 - never equal to its tuple
    assert values != moved() and not values == moved()  # noqa: SIM201 - either way
    assert Base(source="m", time=1.5) != Moved(source="m", time=1.5, state="", label=None)
    with pytest.raises(TypeError, match="not supported"):
        assert moved() < moved()  # no tuple order


def test_records_are_frozen() -> None:
    record = moved()
    with pytest.raises(attrs.exceptions.FrozenInstanceError, match="can't set attribute"):
        record.state = "Busy"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError, match="can't set attribute"):
        del record.state  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError, match="can't set attribute"):
        record.extra = 1  # type: ignore[attr-defined]


def test_repr_evolve_pickle_and_maker() -> None:
    record = moved()
    assert repr(record) == "Moved(source='m', time=1.5, state='Idle', label='GO', note='')"
    changed = evolve(record, state="Busy", note="n")
    assert (changed.state, changed.note, changed.label, record.state) == ("Busy", "n", "GO", "Idle")
    assert type(changed) is Moved
    again = pickle.loads(pickle.dumps(record))
    assert type(again) is Moved and again == record and again.label == "GO"
    made = maker(Moved)(("m", 1.5, "Idle", "GO", ""))
    assert type(made) is Moved and made == record and repr(made) == repr(record)


def test_mistakes_are_named() -> None:
    with pytest.raises(TypeError, match=r"evolve\(Moved\): no field named 'stat'"):
        evolve(moved(), stat="Busy")
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'state'"):
        Moved(source="m", time=1.5, label=None)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"field 'count' would hide tuple\.count\. Fix: rename it$"):

        class Counted(FrozenRecord):
            count: int

    with pytest.raises(TypeError, match="not a record class"):
        fields(tuple)  # type: ignore[arg-type]


class Relabelled(Moved):
    """A record class adding no field: it is built, shown and signed as its base."""


@pytest.mark.parametrize("cls", [Moved, Relabelled])
def test_constructors_show_their_fields_and_take_keywords_only(cls: type[Moved]) -> None:
    assert str(inspect.signature(cls)) == "(*, source, time, state, label, note='')"
    record = cls(source="m", time=1.5, state="Idle", label="GO")
    assert type(record) is cls and record.note == "" and maker(cls)(tuple(record)) == record
    with pytest.raises(TypeError, match=rf"{cls.__qualname__}\(\) takes 1 positional argument"):
        cls("m", 1.5, "Idle", "GO")  # type: ignore[misc]


class Grouped(FrozenRecord):
    """A record whose ``tokens`` is stored as the engine had it (a list) and read as a dict."""

    source: str
    tokens: dict[str, int] = field(
        eq=False, read=lambda stored: dict(stored) if type(stored) is list else stored
    )


def test_a_field_read_turns_the_stored_value_into_the_fields_value_everywhere_it_is_seen() -> None:
    stored = [("a", 1), ("b", 2)]
    record = maker(Grouped)(("net", stored))
    assert record.tokens == {"a": 1, "b": 2} and record.tokens is not record.tokens  # made per read
    assert repr(record) == "Grouped(source='net', tokens={'a': 1, 'b': 2})"
    again = pickle.loads(pickle.dumps(record))
    assert again.tokens == {"a": 1, "b": 2} and tuple(again)[1] == {"a": 1, "b": 2}  # pickled as read
    assert evolve(record, source="other").tokens == {"a": 1, "b": 2}
    given = Grouped(source="net", tokens={"c": 3})  # the keyword constructor: a value of the field's type
    assert given.tokens == {"c": 3} and given == record  # tokens is not compared


def test_a_field_read_must_not_be_compared() -> None:
    with pytest.raises(TypeError, match=r"field 'tokens' has read= and is compared\. Fix: add eq=False$"):

        class Compared(FrozenRecord):
            tokens: Any = field(read=dict)
