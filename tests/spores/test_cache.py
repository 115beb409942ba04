"""The object cache (UPSTREAM-API 6.8): written when new, changed, every n-th sighting, on eviction
(when that says something new)."""

from __future__ import annotations

import pytest

from mycorrhizal import spores
from mycorrhizal.spores import EvictionPolicy, ObjectLRUCache, ObjectScope, relate

from .conftest import MemorySink


@pytest.fixture
def written() -> list[tuple]:
    return []


def cache(written: list[tuple], **kwargs) -> ObjectLRUCache:
    return ObjectLRUCache(written.append, **kwargs)


@pytest.mark.parametrize(
    "settings",
    [{"size": 0}, {"size": True}, {"size": 2.5}, {"size": float("nan")}, {"size": "8"}]
    + [
        {"touch_resend_n": -1},
        {"touch_resend_n": True},
        {"touch_resend_n": float("inf")},
        {"touch_resend_n": "3"},
    ],
)
def test_cache_settings_that_are_not_counts_are_refused(written: list[tuple], settings: dict) -> None:
    with pytest.raises(ValueError, match=r"object cache: size=.*, touch_resend_n=.*; use ints, size >= 1"):
        cache(written, **settings)


def test_an_object_is_written_when_first_seen_and_when_it_changes(written: list[tuple]) -> None:
    c = cache(written)
    for status in ["new", "new", "new", "paid", "paid"]:
        c.see("o1", "Order", [("status", status)], 1.0)
    assert [w[3] for w in written] == [[("status", "new")], [("status", "paid")]]
    assert c.metrics.first_sights == 1


def test_mutable_values_are_compared_by_content_at_each_sighting(written: list[tuple]) -> None:
    c = cache(written)
    items = ["a"]
    c.see("o1", "Order", [("items", items)], 1.0)
    items.append("b")
    c.see("o1", "Order", [("items", items)], 2.0)
    assert len(written) == 2


def test_every_nth_sighting_is_written_again(written: list[tuple]) -> None:
    c = cache(written, touch_resend_n=3)
    for _ in range(7):
        c.see("o1", "Order", [("status", "new")], 1.0)
    assert len(written) == 3  # first, 3rd and 6th sighting


@pytest.mark.parametrize(
    ("policy", "writes", "size"),
    [(EvictionPolicy.EVICT_AND_LOG, 4, 2), (EvictionPolicy.EVICT_AND_BUFFER, 3, 2), ("no_evict", 3, 3)],
)
def test_eviction_policies(written: list[tuple], policy, writes: int, size: int) -> None:
    c = cache(written, size=2, policy=policy)
    items = ["x"]
    for ident in ["a", "b", "c"]:
        c.see(ident, "T", [("items", items)], 1.0)
        items.append(ident)  # changed in place after its sighting: only the evicted "a" shows it
    assert len(written) == writes and len(c) == size
    if policy == EvictionPolicy.EVICT_AND_LOG:
        # the least recently seen went out and was written once more, with its values at eviction
        assert written[-1][0] == "a" and written[-1][3] == [("items", items)]
        assert c.metrics.evictions == 1


@pytest.mark.parametrize("values", [[("v", 1), ("s", "x")], [("items", ["x"])], []])
def test_an_evicted_object_whose_last_record_holds_its_values_is_not_written_twice(
    written: list[tuple], values: list[tuple]
) -> None:
    """evict_and_log writes an evicted object again only if that record says something new.

    Every change a sighting finds is written at once, so the last record of an object of plain
    values (or of mutable values unchanged since) already holds what a record at eviction would:
    the JSON-lines log would hold the same line twice and an OCEL log (which keeps an attribute's
    value only when it changes) nothing more.  Plain or unchanged, each object is written once.
    """
    c = cache(written, size=2)
    for ident in ["a", "b", "c", "d"]:
        c.see(ident, "T", list(values), 1.0)
    assert [w[0] for w in written] == ["a", "b", "c", "d"]
    assert c.metrics.evictions == 2 and "a" not in c and "b" not in c


@pytest.mark.parametrize("end", ["eviction", "flush"])
def test_the_values_last_seen_are_written_at_eviction_and_flush(written: list[tuple], end: str) -> None:
    """An unchanged sighting may bring the same values in other mutable objects (a list replaced
    by an equal one); one changed in place after that sighting is what eviction and flush() write."""
    c = cache(written, size=1)
    c.see("a", "T", [("path", [])], 1.0)
    path: list[str] = []  # equal to the last record's: nothing written
    c.see("a", "T", [("path", path)], 2.0)
    path.append("p1")  # changed in place since its last sighting
    if end == "eviction":
        c.see("b", "T", [], 3.0)
    else:
        c.flush(3.0)
    assert [(w[0], w[3]) for w in written if w[0] == "a"] == [
        ("a", [("path", [])]),
        ("a", [("path", ["p1"])]),
    ]


def test_least_recently_seen_is_evicted(written: list[tuple]) -> None:
    c = cache(written, size=2)
    c.see("a", "T", [], 1.0)
    c.see("b", "T", [], 1.0)
    c.see("a", "T", [], 1.0)
    c.see("c", "T", [], 1.0)
    assert "a" in c and "b" not in c


def test_a_failed_eviction_write_is_counted(written: list[tuple], caplog: pytest.LogCaptureFixture) -> None:
    def write(raw: tuple) -> None:
        if raw[0] == "a" and written:
            raise OSError("disk full")
        written.append(raw)

    c = ObjectLRUCache(write, size=1)
    items = ["x"]
    c.see("a", "T", [("items", items)], 1.0)
    items.append("y")  # changed since its record: written again at eviction
    c.see("b", "T", [], 1.0)
    assert c.metrics.eviction_failures == 1
    assert "writing evicted object 'a' failed" in caplog.text


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="size=0"):
        ObjectLRUCache(print, size=0)
    with pytest.raises(ValueError, match="evict_sometimes"):
        spores.configure(eviction_policy="evict_sometimes")


def test_configured_cache_flush_and_metrics(sink: MemorySink) -> None:
    spores.configure(transport=sink, object_cache_size=8, touch_resend_n=0)
    order = {"id": "o1", "status": "new"}
    assert relate(order, "order") == ("o1", "order")
    relate(order, "order")
    assert len(sink.objects()) == 1
    relate(order, "order", ObjectScope.EVENT)  # event-scoped: written every time
    assert len(sink.objects()) == 2
    spores.flush_object_cache()
    assert len(sink.objects()) == 3
    assert spores.get_cache_metrics().first_sights == 1
    assert spores.get_object_cache().size == 8
    assert spores.get_config().touch_resend_n == 0


@pytest.mark.parametrize("first", [None, "new"], ids=["first sighting", "change"])
def test_an_object_whose_record_failed_to_write_is_written_at_its_next_sighting(first: str | None) -> None:
    # A transport that fails once (a full disk, a dropped connection): the object was cached as
    # written all the same, so no later sighting wrote it and the log never held it (or its change).
    written: list[tuple] = []
    failing = [True]

    def write(raw: tuple) -> None:
        if failing[0]:
            failing[0] = False
            raise OSError("the disk is full")
        written.append(raw)

    c = ObjectLRUCache(write)
    if first is not None:
        failing[0] = False
        c.see("o1", "Order", [("status", first)], 1.0)
        failing[0] = True
    with pytest.raises(OSError, match="disk is full"):
        c.see("o1", "Order", [("status", "paid")], 2.0)
    c.see("o1", "Order", [("status", "paid")], 3.0)
    assert written[-1:] == [("o1", "Order", 3.0, [("status", "paid")], [])]
