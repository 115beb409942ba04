"""The OCEL 2.0 JSON writer: every record it took is in the document it writes."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.spores import Ocel2JsonTransport


def test_a_text_with_a_lone_surrogate_does_not_keep_the_whole_log_from_disk(tmp_path: Path) -> None:
    # A path read with os.fsdecode from a name that is not UTF-8 holds lone surrogates
    # ("report-\udcff.csv"); UTF-8 cannot encode them, and the document was never written.
    path = tmp_path / "run.json"
    transport = Ocel2JsonTransport(path)
    transport.write_object(("f-\udcff", "file", 1.0, [("path", "report-\udcff.csv")], []))
    for i in range(3):
        transport.write_event((f"e{i}", "read", 2.0 + i, [("n", i)], [("f-\udcff", "file")], None))
    transport.close()
    document = json.loads(path.read_text(encoding="utf-8"))
    assert [e["id"] for e in document["events"]] == ["e0", "e1", "e2"]
    assert document["objects"][0]["id"] == "f-\udcff"
    assert document["objects"][0]["attributes"][0]["value"] == "report-\udcff.csv"
    assert not path.with_name("run.json.tmp").exists()


class Kind(Enum):
    SHIPPED = 1


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (("event", ("e1", Kind.SHIPPED, 2.0, [], [], None)), "event type Kind.SHIPPED"),
        (("event", ("e1", "shipped", 2.0, [(Kind.SHIPPED, 1)], [], None)), "attribute name Kind.SHIPPED"),
        (("object", (Kind.SHIPPED, "order", 2.0, [], [])), "object id Kind.SHIPPED"),
        (("object", ("o2", Kind.SHIPPED, 2.0, [], [])), "object type Kind.SHIPPED"),
        (("object", ("o2", "order", 2.0, [(Kind.SHIPPED, 1)], [])), "attribute name Kind.SHIPPED"),
    ],
)
def test_a_record_json_cannot_hold_is_refused_when_taken_not_at_close(
    tmp_path: Path, record: tuple[str, tuple], message: str
) -> None:
    # json.dump met the enum only when the document was written: close() raised every time (at
    # exit too) and the whole log was lost, far from the call that passed the enum.
    path = tmp_path / "run.json"
    transport = Ocel2JsonTransport(path)
    transport.write_event(("e0", "created", 1.0, [("n", 1)], [], None))
    kind, raw = record
    write = transport.write_event if kind == "event" else transport.write_object
    with pytest.raises(TypeError, match=f"{message} .*, not a str\\. Fix: use its text"):
        write(raw)  # type: ignore[arg-type]
    transport.close()
    assert [e["id"] for e in json.loads(path.read_text())["events"]] == ["e0"]


def test_an_event_taken_twice_is_kept_once(tmp_path: Path) -> None:
    # A send cut off by its loop shutting down is made again in full (docs/observing.md), so a
    # JSON-lines log may hold an event twice: the document held it twice (two events with one id,
    # which OCEL forbids), where the SQLite writer keeps its first copy.
    path = tmp_path / "run.json"
    transport = Ocel2JsonTransport(path)
    for ident, n in [("e0", 0), ("e1", 1), ("e1", 1), ("e0", 9), ("e2", 2)]:
        transport.write_event((ident, "tick", float(n), [("n", n)], [("o1", "order")], None))
    transport.flush()
    transport.write_event(("e2", "tick", 2.0, [("n", 2)], [("o1", "order")], None))  # after a flush too
    transport.close()
    events = json.loads(path.read_text())["events"]
    assert [(e["id"], e["attributes"]) for e in events] == [
        ("e0", [{"name": "n", "value": 0}]),
        ("e1", [{"name": "n", "value": 1}]),
        ("e2", [{"name": "n", "value": 2}]),
    ]


@pytest.mark.parametrize("indent", [2.0, float("nan"), True])
def test_an_indent_json_cannot_use_is_refused_when_made_not_when_written(tmp_path: Path, indent: Any) -> None:
    refused = r"Ocel2JsonTransport: indent=.* is not an indent json can use\. Fix: use None \(compact\)"
    with pytest.raises(ValueError, match=refused):
        Ocel2JsonTransport(tmp_path / "log.json", indent=indent)


@pytest.mark.parametrize(("indent", "starts"), [(None, '{"'), (2, '{\n  "'), (-1, '{\n"'), ("\t", '{\n\t"')])
def test_the_indents_json_takes_are_kept(tmp_path: Path, indent: Any, starts: str) -> None:
    transport = Ocel2JsonTransport(tmp_path / "log.json", indent=indent)
    transport.close()
    assert (tmp_path / "log.json").read_text().startswith(starts)
