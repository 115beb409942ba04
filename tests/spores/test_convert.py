"""convert_jsonl: a JSON-lines log to OCEL 2.0, and what it says of a line it cannot convert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mycorrhizal.spores import convert_jsonl

GOOD = '{"event": {"id": "e0", "type": "t", "time": 1.0, "relationships": []}}'
NOT_A_RECORD_FIX = r"\. Fix: convert a JSON-lines log that a spores file transport wrote"


@pytest.mark.parametrize("suffix", ["json", "sqlite"])
@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"neither": 1}', "neither 'event' nor 'object'"),
        ("[1]", "neither 'event' nor 'object'"),  # AttributeError, not a ValueError, before
        ('"text"', "neither 'event' nor 'object'"),
        ("nope", "not JSON: Expecting value"),
        ('{"event": {"id": "e1", "time": 2.0}}', "no 'type'"),
        ('{"event": {"id": "e1", "type": "t", "time": "soon"}}', "could not convert string to float"),
        ('{"object": {"id": "o1", "type": "t", "attributes": [{"value": "1"}]}}', "no 'name'"),
    ],
)
def test_a_line_that_is_no_spores_record_is_said_so_with_a_fix(
    tmp_path: Path, suffix: str, line: str, why: str
) -> None:
    source = tmp_path / "run.jsonl"
    source.write_text(f"{GOOD}\n\n{line}\n")
    where = re.escape(f"{source}, line 3")
    with pytest.raises(ValueError, match=rf"^{where}: not a spores record \({why}.*\): .*{NOT_A_RECORD_FIX}"):
        convert_jsonl(source, tmp_path / f"run.{suffix}")


@pytest.mark.parametrize("suffix", ["json", "sqlite"])
@pytest.mark.parametrize(
    ("line", "problem", "fix"),
    [
        (
            '{"event": {"id": "e1", "type": "t", "time": 1e13}}',
            r"event 'e1' at time .*: OCEL writes times of the years 1 to 9999",
            "pass seconds since the Unix epoch",
        ),
        (
            '{"object": {"id": "o1", "type": "t", "attributes": '
            '[{"name": 5, "value": "1", "type": "integer"}]}}',
            r"object 'o1': the attribute name 5 is a int, not a str",
            "use its text",
        ),
        (
            '{"object": {"id": "o1", "type": "t", "attributes": '
            '[{"name": "at", "value": "9999-12-31T23:00:00-05:00", "type": "timestamp"}]}}',
            r"object 'o1': attribute 'at': the time .* is beyond the years 1 to 9999",
            "log a datetime within those years",
        ),
    ],
)
def test_a_spores_record_ocel_cannot_hold_is_told_apart_from_a_line_that_is_no_record(
    tmp_path: Path, suffix: str, line: str, problem: str, fix: str
) -> None:
    # Both were "not a spores record (...)": a record the writer refused read as a damaged line.
    source = tmp_path / "run.jsonl"
    source.write_text(f"{GOOD}\n{line}\n")
    said = rf"^{re.escape(f'{source}, line 2')}: a spores record OCEL 2\.0 cannot hold: Ocel2\w+: {problem}"
    with pytest.raises(ValueError, match=rf"{said}.*\. Fix: {fix}") as refused:
        convert_jsonl(source, tmp_path / f"run.{suffix}")
    assert "not a spores record" not in str(refused.value)
