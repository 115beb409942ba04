"""What the numbers users pass as options may be: durations in seconds and counts.

One rule for every engine: a bool is not a number (``True`` is not 1 second), a string is not a
number (no silent ``float("5")``), NaN means nothing, and negative seconds mean nothing.  Infinity
is a duration only where it means "forever"; a count is an int (``None`` says "no limit" where
there is one).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["is_count", "is_finite", "is_seconds"]


def is_seconds(value: Any, *, forever: bool = True) -> bool:
    """True for a number of seconds >= 0: an int or float, not a bool, not NaN, and not infinite
    unless ``forever`` (the caller reads infinity as "never")."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value >= 0  # (False for NaN)
        and (forever or value != math.inf)
    )


def is_count(value: Any, least: int = 1) -> bool:
    """True for an int >= ``least`` (not a bool, not a float, even a whole one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def is_finite(value: Any) -> bool:
    """True for a finite int or float (not a bool): a time a clock can be at, or move by."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
