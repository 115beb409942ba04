"""'mycorrhizal check' findings for nets, machines and trees."""

from typing import Any

import pytest

from mycorrhizal.hypha import NetBuilder, NetSpec
from mycorrhizal.inspection import check_report


def move(*outputs: str) -> Any:
    def handler(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        return {out: "token" for out in outputs}

    return handler


def two_locks(ordered: bool) -> NetSpec:
    """Two workers needing locks A and B; taking them in opposite orders can deadlock."""
    b = NetBuilder("Locks")
    for lock in ("A", "B"):
        b.place(f"lock{lock}", initial=["free"])
    for w, (first, second) in enumerate([("A", "B"), ("A", "B") if ordered else ("B", "A")]):
        b.place(f"idle{w}", initial=["w"])
        b.place(f"half{w}")
        b.transition(name=f"take{w}", inputs=[f"idle{w}", f"lock{first}"], outputs=[f"half{w}"])(
            move(f"half{w}")
        )
        b.transition(
            name=f"finish{w}",
            inputs=[f"half{w}", f"lock{second}"],
            outputs=[f"idle{w}", "lockA", "lockB"],
        )(move(f"idle{w}", "lockA", "lockB"))
    return b.build()


def test_a_net_that_can_deadlock_is_reported_with_the_marking() -> None:
    ok, lines = check_report(two_locks(ordered=False))
    assert not ok
    assert any(line.startswith("  WARN  deadlock: no transition can fire in marking {") for line in lines)


def test_a_net_taking_locks_in_order_is_deadlock_free() -> None:
    ok, lines = check_report(two_locks(ordered=True))
    assert ok, lines
    assert not any("deadlock" in line for line in lines)


def test_an_open_net_names_its_entry_places_and_skips_the_deadlock_search() -> None:
    b = NetBuilder("Open")
    b.place("inbox")
    b.place("done")
    b.transition(name="work", inputs=["inbox"], outputs=["done"])(move("done"))
    ok, lines = check_report(b.build())
    assert ok
    assert "  ok    fed from outside (add_token): Open.inbox" in lines
    assert "  ok    open net: deadlocks depend on what is fed in, so they are not searched" in lines


def test_unreachable_parts_are_flagged() -> None:
    b = NetBuilder("Orphan")
    b.place("start", initial=["x"])
    b.place("end")
    b.transition(name="go", inputs=["start"], outputs=["end"])(move("end"))
    b.place("ping")  # a cycle nothing ever puts a token into
    b.place("pong")
    b.transition(name="hit", inputs=["ping"], outputs=["pong"])(move("pong"))
    b.transition(name="back", inputs=["pong"], outputs=["ping"])(move("ping"))
    ok, lines = check_report(b.build())
    assert not ok
    expected = "  WARN  can never be marked or fire: Orphan.back, Orphan.hit, Orphan.ping, Orphan.pong"
    assert expected in lines


@pytest.mark.parametrize("bad", [42, "text"])
def test_undrawable_targets_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError, match="cannot draw"):
        check_report(bad)
