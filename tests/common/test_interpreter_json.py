"""``compact_json`` (common/interpreter.py): the reused C encoder and its fallback write the same text."""

from __future__ import annotations

import json
import json.encoder
import math
from typing import Any

import pytest

from mycorrhizal.common import interpreter
from mycorrhizal.common.interpreter import compact_json

SAMPLES: list[Any] = [
    None,
    [1, 2.5, -0.0, 1e300, "naïve ✓", True, {"a": [None]}],
    ("fire", {"in": [[1, "job"]], "out": {}}),
    {"nested": {"deeper": [{"x": '\x00\n"'}]}},
]


@pytest.fixture(params=["c-encoder", "fallback"])
def dumps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    if request.param == "fallback":
        monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    return interpreter._compact_json_function()


@pytest.mark.parametrize("value", SAMPLES)
def test_text_is_what_json_dumps_writes_compactly(dumps: Any, value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert dumps(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [(math.nan, ValueError), ([math.inf], ValueError), ({1j: 1}, TypeError), ([object()], TypeError)],
)
def test_what_is_not_strict_json_raises(dumps: Any, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        dumps(value)


def test_a_value_containing_itself_hits_the_recursion_limit(dumps: Any) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(RecursionError):
        dumps(loop)


def test_this_interpreter_uses_the_c_encoder() -> None:
    assert json.encoder.c_make_encoder is not None
    assert compact_json.__name__ == "compact"  # not the fallback's JSONEncoder.encode
