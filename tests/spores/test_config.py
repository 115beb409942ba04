"""spores' own refusals (configure(), LogRecord, times): each names what was passed, then its fix."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from mycorrhizal import spores
from mycorrhizal.common.errors import split_fix
from mycorrhizal.spores import LogRecord, ObjectScope
from mycorrhizal.spores.emit import relate

from .conftest import MemorySink


def _encoder_for_a_record_writer() -> None:
    spores.configure(transport=MemorySink(), encoder=spores.JSONEncoder())


# Each case: what the user did, and the words naming what they passed.
REFUSALS = [
    (_encoder_for_a_record_writer, r"configure\(\): MemorySink writes records itself"),
    (lambda: spores.configure(object_cache_size=0), r"configure\(\): object_cache_size=0: the cache holds"),
    (lambda: spores.configure(touch_resend_n=-1), r"configure\(\): touch_resend_n=-1 is not a count"),
    (
        lambda: spores.configure(eviction_policy="lru"),
        r"configure\(\): eviction_policy='lru' is not a policy",
    ),
    (
        lambda: spores.configure(object_cache_size=0, touch_resend_n=True, eviction_policy="lru"),
        r"configure\(\): object_cache_size=0: .*; touch_resend_n=True .*; "
        r"eviction_policy='lru' is not a policy",
    ),
    (lambda: LogRecord(), "a LogRecord holds exactly one of event= and object="),
    (lambda: spores.emit_event("tick", time=math.nan), "time=nan is not a time"),
    (lambda: relate({"id": "o1"}, "order", ObjectScope.GLOBAL, now="12"), "now='12' is not a time"),
]


@pytest.mark.parametrize(("act", "names"), REFUSALS)
def test_each_refusal_names_what_was_passed_and_ends_with_one_fix(
    sink: MemorySink, act: Callable[[], object], names: str
) -> None:
    # Before, these gave their advice after "; " or ":": no ". Fix: " to find it by.
    with pytest.raises(ValueError, match=f"^{names}") as caught:
        act()
    said = str(caught.value)
    assert said.count(". Fix: ") == 1, said
    wrong, fix = split_fix(said)
    assert wrong.strip() and fix is not None and fix.strip(), said
    assert sink.kinds() == []
