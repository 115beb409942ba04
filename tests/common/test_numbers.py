"""The one rule every engine applies to numeric options: seconds and counts."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mycorrhizal.common.numbers import is_count, is_seconds


@pytest.mark.parametrize(
    ("value", "seconds", "finite_seconds"),
    [
        (0, True, True),
        (2.5, True, True),
        (math.inf, True, False),  # "forever", where the caller says infinity means that
        (-1, False, False),
        (-0.1, False, False),
        (math.nan, False, False),
        (True, False, False),  # a bool is not one second
        ("5", False, False),  # nor is a string
        (None, False, False),
    ],
)
def test_is_seconds(value: Any, seconds: bool, finite_seconds: bool) -> None:
    assert is_seconds(value) is seconds
    assert is_seconds(value, forever=False) is finite_seconds


@pytest.mark.parametrize(
    ("value", "least", "expected"),
    [
        (1, 1, True),
        (0, 0, True),
        (0, 1, False),
        (-1, 0, False),
        (True, 0, False),
        (2.0, 1, False),
        ("3", 1, False),
    ],
)
def test_is_count(value: Any, least: int, expected: bool) -> None:
    assert is_count(value, least) is expected
