"""Capacity and back-pressure: room held from take to commit, full outputs disable a transition."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import CapacityError, ExecutionError, ManualClock
from mycorrhizal.hypha import NetBuilder, Runner, pn

from .conftest import settle


def bounded_net(capacity: int) -> Any:
    @pn.net
    def Bounded(builder: NetBuilder) -> None:
        src = builder.place("src")
        buf = builder.place("buf", capacity=capacity)

        @builder.transition(inputs=[src], outputs=[buf])
        def fill(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {buf: consumed[0]}

    return Bounded


async def test_full_output_place_blocks_the_transition(bb: dict[str, Any]) -> None:
    runner = Runner(bounded_net(2), bb)
    runner.add_tokens("src", [1, 2, 3, 4])
    await runner.run_until_idle()
    assert runner.marking()["buf"] == (1, 2)
    assert runner.marking()["src"] == (3, 4)


async def test_room_freed_downstream_re_enables_the_producer(bb: dict[str, Any]) -> None:
    @pn.net
    def Drain(builder: NetBuilder) -> None:
        src = builder.place("src", initial=range(6))
        buf = builder.place("buf", capacity=1)
        gate = builder.place("gate")
        done = builder.place("done")

        @builder.transition(inputs=[src], outputs=[buf])
        def fill(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {buf: consumed[0]}

        @builder.transition(inputs=[buf, gate], outputs=[done])
        def drain(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {done: consumed[buf][0]}

    runner = Runner(Drain, bb)
    await runner.run_until_idle()
    assert runner.marking()["buf"] == (0,)
    runner.add_tokens("gate", ["g"] * 3)
    await runner.run_until_idle()
    assert runner.marking()["done"] == (0, 1, 2)
    assert runner.marking()["buf"] == (3,)
    assert max(len(runner.marking()["buf"]), 0) <= 1


async def test_add_token_to_a_full_place_raises(bb: dict[str, Any]) -> None:
    runner = Runner(bounded_net(1), bb)
    runner.add_token("buf", "a")
    with pytest.raises(CapacityError, match=r"place 'Bounded.buf' is full \(capacity 1\)") as excinfo:
        runner.add_token("buf", "b")
    assert excinfo.value.place == "Bounded.buf"
    with pytest.raises(CapacityError, match=r"has room for 0 more token\(s\), not 2"):
        runner.add_tokens("buf", ["b", "c"])
    assert runner.marking()["buf"] == ("a",)


@pytest.mark.parametrize("tokens", ["abc", b"abc", bytearray(b"abc")])
async def test_add_tokens_refuses_a_string_that_would_become_one_token_per_character(
    bb: dict[str, Any], tokens: Any
) -> None:
    runner = Runner(bounded_net(5), bb)
    fix = (
        r"\. Fix: pass a list of tokens, add_tokens\('Bounded.src', \[token\]\), "
        r"or use add_token\('Bounded.src', token\)$"
    )
    with pytest.raises(
        ExecutionError, match=r"^place 'Bounded.src': add_tokens was given the .*abc.*" + fix
    ) as raised:
        runner.add_tokens("src", tokens)  # before the fix: three tokens 'a', 'b', 'c'
    assert raised.value.place == "Bounded.src"
    with pytest.raises(ExecutionError, match="one token per character"):
        runner.runtime.places[("Bounded", "src")].add_tokens(tokens)
    assert runner.marking()["src"] == ()
    runner.add_tokens("src", [tokens])  # as the error says: one token
    assert runner.marking()["src"] == (tokens,)


@pytest.mark.parametrize(("tokens", "shown"), [(42, "int 42"), (None, "NoneType None"), (2.5, "float 2.5")])
async def test_add_tokens_refuses_a_single_value_naming_the_place(
    bb: dict[str, Any], tokens: Any, shown: str
) -> None:
    runner = Runner(bounded_net(5), bb)
    fix = (
        r"\. Fix: pass a list of tokens, add_tokens\('Bounded.src', \[token\]\), "
        r"or use add_token\('Bounded.src', token\)$"
    )
    message = rf"^place 'Bounded.src': add_tokens was given the {shown}, which is not a collection of tokens"
    with pytest.raises(ExecutionError, match=message + fix) as raised:
        runner.add_tokens("src", tokens)  # before the fix: TypeError "'int' object is not iterable"
    assert raised.value.place == "Bounded.src"
    with pytest.raises(ExecutionError, match=message):
        runner.runtime.places[("Bounded", "src")].add_tokens(tokens)
    assert runner.marking()["src"] == ()


async def test_producing_more_than_the_room_fails_the_firing(bb: dict[str, Any]) -> None:
    @pn.net
    def Over(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[1])
        buf = builder.place("buf", capacity=2)

        @builder.transition(inputs=[src], outputs=[buf])
        def burst(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {buf: [1, 2, 3]}

    runner = Runner(Over, bb)
    await runner.run_until_idle()
    assert runner.marking()["src"] == (1,) and runner.marking()["buf"] == ()
    cause = runner.errors[-1].__cause__
    assert isinstance(cause, CapacityError)
    with pytest.raises(CapacityError, match=r"produced 3 token\(s\) into 'Over.buf', which has room for 2"):
        raise cause


async def test_a_bounded_input_keeps_its_room_while_a_firing_is_in_flight(clock: ManualClock) -> None:
    @pn.net
    def Held(builder: NetBuilder) -> None:
        src = builder.place("src")
        buf = builder.place("buf", capacity=1)
        done = builder.place("done")

        @builder.transition(inputs=[src], outputs=[buf])
        def fill(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {buf: consumed[0]}

        @builder.transition(inputs=[buf], outputs=[done], concurrency=1)
        async def slow(consumed: Any, bb: Any, timebase: Any) -> Any:
            await timebase.sleep(1)
            return {done: consumed[0]}

    runner = Runner(Held, {}, clock)
    runner.add_tokens("src", [1, 2])
    await runner.start()
    await clock.run_for(0)
    # token 1 is in flight in 'slow'; its room in buf is still held, so 2 waits in src
    assert runner.in_flight == 1
    assert runner.marking()["src"] == (2,) and runner.marking()["buf"] == ()
    await settle(clock, runner.run_until_idle())
    assert runner.marking()["done"] == (1, 2)


@pytest.mark.parametrize("produced, fires", [(1, 5), (2, 0)])
async def test_a_self_loop_on_a_full_place_needs_room_only_for_what_it_adds(
    bb: dict[str, Any], produced: int, fires: int
) -> None:
    @pn.net
    def Loop(builder: NetBuilder) -> None:
        ring = builder.place("ring", capacity=2, initial=["a", "b"])
        fuel = builder.place("fuel", initial=range(5))

        @builder.transition(inputs=[ring, fuel], outputs=[(ring, produced)])
        def turn(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {ring: [consumed[ring][0]] * produced}

    runner = Runner(Loop, bb)
    await runner.run_until_idle()
    assert runner.stats.firings == fires
    assert len(runner.marking()["ring"]) == 2


async def test_room_a_firing_held_but_did_not_use_wakes_other_producers(clock: ManualClock) -> None:
    @pn.net
    def Shared(builder: NetBuilder) -> None:
        a = builder.place("a", initial=["x"])
        b = builder.place("b", initial=["y"])
        slot = builder.place("slot", capacity=1)

        @builder.transition(inputs=[a], outputs=[slot])
        async def maybe(consumed: Any, bb: Any, timebase: Any) -> None:
            await timebase.sleep(1)
            return None  # held room in 'slot' for nothing

        @builder.transition(inputs=[b], outputs=[slot])
        def surely(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {slot: consumed[0]}

    runner = Runner(Shared, {}, clock)
    await runner.start()
    await clock.run_for(0)
    assert runner.marking()["b"] == ("y",)  # 'slot' is held by the firing of 'maybe'
    await settle(clock, runner.run_until_idle())
    assert runner.marking()["slot"] == ("y",)


async def overbooked(clock: ManualClock, bb: dict[str, Any]) -> Runner:
    """A runner whose 'full' (capacity 1, holding a token) got an arc from 'work' while two firings of
    'work' were in flight: each holds room there, so 'full' is overbooked until they end."""

    @pn.net
    def Over(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")
        builder.place("full", capacity=1, initial=["t"])
        builder.place("spare")

        @builder.transition(inputs=[jobs], outputs=[done], concurrency=2)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            await timebase.sleep(1)
            return {"Over.full": []} if bb.get("nothing") else {done: consumed[0]}

    runner = Runner(Over, bb, clock)
    await runner.start()
    runner.add_tokens("Over.jobs", ["a", "b"])
    await clock.run_for(0)
    runner.add_arc("Over.work", "Over.full")
    assert runner.in_flight == 2
    return runner


async def test_a_firing_given_an_output_into_an_overbooked_place_may_produce_nothing_there(
    clock: ManualClock,
) -> None:
    # Such a firing failed with "produced 0 token(s) into 'Over.full', which has room for -1".
    runner = await overbooked(clock, {"nothing": True})
    await settle(clock, runner.run_until_idle())
    assert runner.fired() == {"Over.work": 2} and list(runner.errors) == []
    assert runner.marking()["full"] == ("t",)


async def test_an_overbooked_place_is_said_to_have_no_room_not_less(clock: ManualClock) -> None:
    # Its room read -2 ("has room for -2 more token(s)"), and removing an empty place into it was
    # refused ("has room for -1 token(s), not the 0 of 'Over.spare'").
    runner = await overbooked(clock, {})
    with pytest.raises(CapacityError, match=r"'Over.full' has room for 0 more token\(s\), not 1\. Fix: "):
        runner.add_tokens("Over.full", ["x"])
    await runner.remove("Over.spare", tokens_to="Over.full")
    assert "Over.spare" not in runner.marking().counts()
    await settle(clock, runner.run_until_idle())
    assert runner.marking()["full"] == ("t",) and runner.fired() == {"Over.work": 2}
