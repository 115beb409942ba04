"""0.x's way of running a net (UPSTREAM-API.md §2.5, §2.6, §5.3): ``Runner(net_fn, bb)``,
``await runner.start(timebase)``, ``runner.runtime.places[...]``, views for annotated handlers,
short source and sink signatures, ``hypha.util.to_mermaid``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest

from mycorrhizal.common import DefinitionError, ExecutionError, ManualClock, RoutingError
from mycorrhizal.common.interface_builder import blackboard_interface, readonly, readwrite
from mycorrhizal.common.timebase import CycleClock, MonotonicClock
from mycorrhizal.common.wrappers import AccessControlError
from mycorrhizal.hypha.core import NetBuilder, PlaceType, Runner, pn
from mycorrhizal.hypha.core.runtime import NetRuntime, PlaceRuntime, TransitionRuntime
from mycorrhizal.hypha.util import to_mermaid


@dataclass
class Shop:
    limit: int = 2
    packed: list[Any] = field(default_factory=list)


@blackboard_interface
class Packing:
    limit: Annotated[int, readonly]
    packed: Annotated[list[Any], readwrite]


@pn.net
def Packer(builder: NetBuilder) -> None:
    orders = builder.place("orders", type=PlaceType.QUEUE)
    boxes = builder.place("boxes", type=PlaceType.QUEUE)

    @builder.transition()
    async def pack(consumed: Any, bb: Packing, timebase: Any) -> Any:
        for order in consumed:
            await timebase.sleep(1)  # packing takes one cycle
            bb.packed.append(order)
            yield {boxes: f"box({order})"}

    builder.arc(orders, pack).arc(boxes)


async def test_runner_of_a_net_function_started_on_a_cycle_clock() -> None:
    shop = Shop()
    runner = Runner(Packer, shop)
    clock = CycleClock(stepsize=1)
    await runner.start(clock)
    assert runner.timebase is clock and runner.spec is Packer and runner.blackboard is shop
    runtime = runner.runtime
    assert isinstance(runtime, NetRuntime) and runtime.spec is Packer
    orders = runtime.places[("Packer", "orders")]
    assert isinstance(orders, PlaceRuntime) and orders.fqn == "Packer.orders" and orders.spec.name == "orders"
    orders.add_token("a")
    orders.add_token("b")
    for _ in range(4):
        clock.advance()
        await asyncio.sleep(0)
    await runner.stop()
    assert runtime.places[("Packer", "boxes")].tokens == ("box(a)", "box(b)")
    assert shop.packed == ["a", "b"]
    pack = runtime.transitions[("Packer", "pack")]
    assert isinstance(pack, TransitionRuntime) and (pack.fqn, pack.fired, pack.in_flight) == (
        "Packer.pack",
        2,
        0,
    )


async def test_start_with_another_timebase_while_running_is_refused() -> None:
    runner = Runner(Packer, Shop())
    await runner.start(MonotonicClock())
    await runner.start()  # no timebase: nothing changes
    with pytest.raises(
        ExecutionError, match=r"runner of net 'Packer' is running on .*\. Fix: stop\(\) it before"
    ):
        await runner.start(ManualClock())
    await runner.stop()
    clock = ManualClock()
    await runner.start(clock)  # stopped: the new timebase is taken
    assert runner.timebase is clock
    await runner.stop()
    with pytest.raises(
        DefinitionError, match=r"Runner of net 'Packer': timebase=.*MonotonicClock'> is not a"
    ):
        await runner.start(MonotonicClock)  # type: ignore[arg-type] - the class, not a clock
    assert runner.timebase is clock and not runner.running


@pytest.mark.parametrize("n", [-1, True, 1.5, "2"])
def test_place_runtime_peek_refuses_a_count_that_means_nothing(n: Any) -> None:
    boxes = Runner(Packer, Shop()).runtime.places[("Packer", "boxes")]
    boxes.add_token(1)
    message = r"place 'Packer.boxes': peek_tokens\(.*\) takes how many tokens.*Fix:"
    with pytest.raises(ValueError, match=message):
        boxes.peek_tokens(n)
    assert boxes.peek_tokens(0) == [] and boxes.tokens == (1,)


async def test_place_runtime_peeks_and_removes_without_losing_duplicates() -> None:
    runner = Runner(Packer, Shop())
    boxes = runner.runtime.places[("Packer", "boxes")]
    boxes.add_token(1)
    boxes.add_token(1)
    boxes.add_token(2)
    assert boxes.peek_tokens(2) == [1, 1] and boxes.peek_tokens() == [1]
    assert boxes.remove_tokens([1]) == [1]
    assert boxes.tokens == (1, 2)  # 0.x removed every equal token; one entry removes one token
    with pytest.raises(RoutingError, match=r"place 'Packer.boxes' holds no \(more\) token equal to 1"):
        boxes.remove_tokens([1, 1])
    assert boxes.tokens == (1, 2)


async def test_removing_from_a_full_bounded_place_makes_room_for_its_producers() -> None:
    @pn.net
    def Bounded(builder: NetBuilder) -> None:
        src, full = builder.place("src"), builder.place("full", capacity=1)

        @builder.transition()
        async def fill(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {full: consumed[0]}

        builder.arc(src, fill).arc(full)

    runner = Runner(Bounded, None)
    runner.add_tokens("src", [1, 2])
    await runner.run_until_idle()
    full = runner.runtime.places[("Bounded", "full")]
    assert full.tokens == (1,)
    full.remove_tokens([1])
    await runner.run_until_idle()
    assert full.tokens == (2,)
    await runner.stop()


async def test_an_annotated_handler_gets_a_view_that_enforces_the_interface() -> None:
    @pn.net
    def Cheater(builder: NetBuilder) -> None:
        orders, out = builder.place("orders"), builder.place("out")

        @builder.transition()
        async def cheat(consumed: Any, bb: Packing, timebase: Any) -> Any:
            bb.limit = 99
            return {out: consumed[0]}

        builder.arc(orders, cheat).arc(out)

    shop = Shop()
    runner = Runner(Cheater, shop)
    runner.add_token("orders", "o")
    await runner.run_until_idle()
    await runner.stop()
    assert shop.limit == 2 and runner.tokens("orders") == ("o",)
    assert isinstance(runner.errors[-1].__cause__, AccessControlError)


async def test_sources_and_sinks_take_short_signatures_and_views() -> None:
    delivered: list[Any] = []

    @pn.net
    def Echo(builder: NetBuilder) -> None:
        @builder.io_input_place()
        async def requests() -> Any:
            for i in range(3):
                yield i

        @builder.io_output_place()
        async def replies(token: Any) -> None:
            delivered.append(token)

        @builder.io_output_place()
        async def audit(token: Any, bb: Packing, timebase: Any) -> None:
            bb.packed.append(token)

        @builder.transition()
        async def answer(consumed: Any, bb: Any, timebase: Any) -> Any:
            yield {replies: consumed[0] * 10, audit: consumed[0]}

        builder.arc(requests, answer)
        builder.arc(answer, replies)
        builder.arc(answer, audit)

    shop = Shop()
    runner = Runner(Echo, shop)
    await runner.start(MonotonicClock())
    await runner.run_until_idle()
    await runner.stop()
    assert delivered == [0, 10, 20] and shop.packed == [0, 1, 2]


def test_an_annotation_naming_nothing_is_a_definition_error() -> None:
    builder = NetBuilder("Broken")
    p = builder.place("p")

    async def handler(consumed: Any, bb: NoSuchInterface, timebase: Any) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    handler.__annotations__["bb"] = "NoSuchInterface"
    builder.transition(inputs=[p])(handler)
    with pytest.raises(
        DefinitionError, match=r"the annotation 'NoSuchInterface' of its parameter 'bb' cannot be"
    ):
        builder.build()


def test_runner_refuses_what_is_not_a_net() -> None:
    def not_a_net() -> None: ...

    with pytest.raises(DefinitionError, match="is not a net"):
        Runner(not_a_net, None)  # type: ignore[arg-type]


def test_util_to_mermaid_takes_a_spec_or_a_net_function() -> None:
    assert to_mermaid(Packer._spec) == to_mermaid(Packer) == Packer.to_mermaid()
    with pytest.raises(ValueError, match="is not a net"):
        to_mermaid(42)


async def test_stop_with_a_timeout_cancels_what_is_still_in_flight_and_keeps_its_tokens() -> None:
    @pn.net
    def Slow(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition()
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            await timebase.sleep(10)
            return {done: consumed[0]}

        builder.arc(jobs, work).arc(done)

    clock = ManualClock()
    runner = Runner(Slow, None)
    await runner.start(clock)
    runner.runtime.places[("Slow", "jobs")].add_token("job")
    await clock.run_for(0)
    stopping = asyncio.ensure_future(runner.stop(timeout=5.0))
    await clock.run_for(5)
    await stopping
    assert runner.runtime.places[("Slow", "jobs")].tokens == ("job",)
    assert runner.runtime.places[("Slow", "done")].tokens == ()
