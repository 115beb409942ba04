"""The runner: flow, consumed tokens, outputs, capacity, priorities, guards, concurrency, ctx, stop."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from mycorrhizal.common import CapacityError, HandlerError, ManualClock, RoutingError
from mycorrhizal.common.errors import ExecutionError
from mycorrhizal.common.observers import wants_all
from mycorrhizal.common.timebase import CycleClock, MonotonicClock, Timebase
from mycorrhizal.hypha import Consumed, FiringContext, NetBuilder, PlaceRef, PlaceType, Runner, pn
from mycorrhizal.hypha.context import consumed_class
from tests._observing import Recorder

from .conftest import pipeline, settle, sleepy_net


async def test_tokens_flow_through_a_pipeline_in_order(bb: dict[str, Any]) -> None:
    runner = Runner(pipeline(3, initial=range(5)), bb)
    await runner.run_until_idle()
    marking = runner.marking()
    assert marking["p3"] == (0, 1, 2, 3, 4)
    assert marking.total() == 5
    assert runner.stats.firings == 15
    assert runner.fired() == {"Pipe3.t0": 5, "Pipe3.t1": 5, "Pipe3.t2": 5}


async def test_non_suspending_handlers_complete_inline_without_tasks(bb: dict[str, Any]) -> None:
    runner = Runner(pipeline(50), bb)
    await runner.start()
    tasks_before = len(asyncio.all_tasks())
    runner.add_token("p0", "x")
    await asyncio.sleep(0)  # one loop iteration runs the whole scheduler pass
    assert runner.marking()["p50"] == ("x",)
    assert len(asyncio.all_tasks()) == tasks_before
    await runner.stop()


async def test_blackboard_and_timebase_are_passed_as_is(clock: ManualClock) -> None:
    seen: list[Any] = []
    board = object()

    @pn.net
    def Peek(builder: NetBuilder) -> None:
        p = builder.place("p", initial=[1])

        @builder.transition(inputs=[p])
        def look(consumed: Any, bb: Any, timebase: Any) -> None:
            seen.extend([bb, timebase])

    runner = Runner(Peek, board, clock)
    await runner.run_until_idle()
    assert seen[0] is board and seen[1] is clock and runner.bb is board


async def test_consumed_is_flat_and_per_place_with_weights(bb: dict[str, Any]) -> None:
    got: list[Any] = []

    @pn.net
    def Join(builder: NetBuilder) -> None:
        a = builder.place("a", initial=["a1", "a2", "a3"])
        b = builder.place("b", initial=["b1"])
        out = builder.place("out")

        @builder.transition(outputs=[out])
        async def join(consumed: Consumed, bb: Any, timebase: Any) -> Any:
            got.append((list(consumed), consumed[a], consumed["b"], consumed["Join.b"], consumed.by_place()))
            return {out: tuple(consumed)}

        builder.arc(a, join, weight=2)
        builder.arc(b, join)

    runner = Runner(Join, bb)
    await runner.run_until_idle()
    flat, per_a, per_b, per_b_qualified, by_place = got[0]
    assert flat == ["a1", "a2", "b1"]
    assert per_a == ["a1", "a2"] and per_b == ["b1"] == per_b_qualified
    assert by_place == {"Join.a": ["a1", "a2"], "Join.b": ["b1"]}
    assert runner.marking()["a"] == ("a3",)
    assert runner.marking()["out"] == (("a1", "a2", "b1"),)


def test_consumed_errors() -> None:
    consumed = consumed_class({"p": ("N.p", 0, 2)})([1, 2])
    assert isinstance(consumed, Consumed) and consumed["p"] == [1, 2] and consumed[1] == 2
    with pytest.raises(KeyError, match=r"'q' is not an input place of this transition \(inputs: \['N.p'\]\)"):
        consumed["q"]
    with pytest.raises(
        ValueError,
        match=r"consumed.token needs exactly one token, this firing \(inputs \['N.p'\]\) consumed 2\. "
        r"Fix: read consumed\[0\]",
    ):
        _ = consumed.token


@pytest.mark.parametrize(
    "value, expected",
    [
        (["x", "y"], ("x", "y")),  # a list means several tokens
        ([["x", "y"]], (["x", "y"],)),  # wrap a list to send it as one token
        (("x", "y"), (("x", "y"),)),  # anything else, tuples included, is one token
        ([], ()),  # an empty list produces nothing
    ],
)
async def test_a_list_value_means_several_tokens(bb: dict[str, Any], value: Any, expected: Any) -> None:
    @pn.net
    def Split(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[0])
        out = builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        def split(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: value}

    runner = Runner(Split, bb)
    await runner.run_until_idle()
    assert runner.marking()["out"] == expected


async def test_generator_handlers_commit_everything_they_yield_together(bb: dict[str, Any]) -> None:
    @pn.net
    def Gen(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[3])
        evens = builder.place("evens")
        odds = builder.place("odds")
        other = builder.place("other", initial=[2])

        @builder.transition(inputs=[src], outputs=[evens, odds])
        async def count(consumed: Any, bb: Any, timebase: Any) -> Any:
            for i in range(consumed[0] + 1):
                yield {evens if i % 2 == 0 else odds: i}

        @builder.transition(inputs=[other], outputs=[evens])
        def plain(consumed: Any, bb: Any, timebase: Any) -> Any:
            yield {evens: ["g1", "g2"]}
            yield None

    runner = Runner(Gen, bb)
    await runner.run_until_idle()
    assert runner.marking()["evens"] == (0, 2, "g1", "g2")
    assert runner.marking()["odds"] == (1, 3)


async def test_a_failing_generator_produces_nothing(bb: dict[str, Any]) -> None:
    @pn.net
    def Gen(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["t"])
        out = builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        async def half(consumed: Any, bb: Any, timebase: Any) -> Any:
            yield {out: 1}
            raise ValueError("midway")

    runner = Runner(Gen, bb)
    await runner.run_until_idle()
    assert runner.marking()["out"] == () and runner.marking()["src"] == ("t",)


async def test_plain_function_returning_a_coroutine_is_awaited(bb: dict[str, Any]) -> None:
    async def real(token: Any, out: str) -> Any:
        return {out: token + 1}

    @pn.net
    def Wrapped(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[1])
        out = builder.place("out")
        builder.transition(name="t", inputs=[src], outputs=[out])(lambda c, bb, tb: real(c[0], out))

    runner = Runner(Wrapped, bb)
    await runner.run_until_idle()
    assert runner.marking()["out"] == (2,)


@pytest.mark.parametrize(
    "result, error, match",
    [
        (
            {"elsewhere": 1},
            RoutingError,
            r"transition 'Route.t' may not produce into 'elsewhere': it has no output",
        ),
        (  # a ref is named as the user wrote it, not as PlaceRef('elsewhere')
            {PlaceRef("elsewhere"): 1},
            RoutingError,
            r"transition 'Route.t' may not produce into 'elsewhere': it has no output",
        ),
        (
            42,
            HandlerError,
            r"transition 'Route.t' returned int 42, which is not an output\. Fix: return \(or yield\)",
        ),
    ],
)
async def test_bad_outputs_fail_the_firing_and_lose_nothing(
    bb: dict[str, Any], result: Any, error: type[Exception], match: str
) -> None:
    @pn.net
    def Route(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["tok"])
        out = builder.place("out")
        builder.place("elsewhere")

        @builder.transition(inputs=[src], outputs=[out])
        async def t(consumed: Any, bb: Any, timebase: Any) -> Any:
            return result

    runner = Runner(Route, bb)
    await runner.run_until_idle()
    assert runner.marking()["src"] == ("tok",)
    assert runner.stats.failures == 1
    (recorded,) = runner.errors
    assert isinstance(recorded, HandlerError) and recorded.transition == "Route.t"
    assert isinstance(recorded.__cause__, error)
    with pytest.raises(error, match=match):
        raise recorded.__cause__
    if error is RoutingError:
        assert recorded.place == "elsewhere"


async def test_none_consumes_without_producing(bb: dict[str, Any]) -> None:
    runner = Runner(pn.net(_eat_all), bb)
    await runner.run_until_idle()
    assert runner.marking().total() == 0 and runner.stats.firings == 3


def _eat_all(builder: NetBuilder) -> None:
    p = builder.place("p", initial=[1, 2, 3])

    @builder.transition(inputs=[p])
    async def eat(consumed: Any, bb: Any, timebase: Any) -> None:
        return None


# -- priorities and guards --------------------------------------------------------------------------


async def test_higher_priority_fires_first(bb: dict[str, Any]) -> None:
    order: list[str] = []

    @pn.net
    def Prio(builder: NetBuilder) -> None:
        shared = builder.place("shared", initial=[1, 2, 3])

        @builder.transition(inputs=[shared], priority=0)
        def low(consumed: Any, bb: Any, timebase: Any) -> None:
            order.append("low")

        @builder.transition(inputs=[shared], priority=5)
        def high(consumed: Any, bb: Any, timebase: Any) -> None:
            order.append("high")

    runner = Runner(Prio, bb)
    await runner.run_until_idle()
    assert order == ["high", "high", "high"]


async def test_priority_yields_to_guards_that_refuse(bb: dict[str, Any]) -> None:
    order: list[Any] = []

    @pn.net
    def Prio(builder: NetBuilder) -> None:
        shared = builder.place("shared", initial=[1, 2, 3, 4])

        @builder.transition(inputs=[shared], priority=1, guard=lambda c: c[0] > 2)
        def big(consumed: Any, bb: Any, timebase: Any) -> None:
            order.append(("big", consumed[0]))

        @builder.transition(inputs=[shared])
        def small(consumed: Any, bb: Any, timebase: Any) -> None:
            order.append(("small", consumed[0]))

    runner = Runner(Prio, bb)
    await runner.run_until_idle()
    assert order == [("big", 3), ("big", 4), ("small", 1), ("small", 2)]


@pytest.mark.parametrize("place_type", [PlaceType.QUEUE, PlaceType.BAG])
async def test_guard_can_choose_a_token_that_is_not_at_the_head(
    bb: dict[str, Any], place_type: PlaceType
) -> None:
    @pn.net
    def Pick(builder: NetBuilder) -> None:
        pool = builder.place("pool", type=place_type, initial=[1, 3, 5, 8, 7, 9])
        out = builder.place("out")

        @builder.transition(inputs=[pool], outputs=[out], guard=lambda c: c[0] % 2 == 0)
        def even(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    runner = Runner(Pick, bb)
    await runner.run_until_idle()
    assert runner.marking()["out"] == (8,)
    assert sorted(runner.marking()["pool"]) == [1, 3, 5, 7, 9]
    if place_type is PlaceType.QUEUE:
        assert runner.marking()["pool"] == (1, 3, 5, 7, 9)


async def test_guard_joins_tokens_across_places(bb: dict[str, Any]) -> None:
    @pn.net
    def Match(builder: NetBuilder) -> None:
        requests = builder.place("requests", initial=[("r1", 1), ("r2", 2), ("r3", 3)])
        replies = builder.place("replies", initial=[("a", 3), ("b", 1)])
        paired = builder.place("paired")

        def same_id(consumed: Any, bb: Any) -> bool:
            return bool(consumed[requests][0][1] == consumed[replies][0][1])

        @builder.transition(inputs=[requests, replies], outputs=[paired], guard=same_id)
        def pair(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {paired: (consumed[0][0], consumed[1][0])}

    runner = Runner(Match, bb)
    await runner.run_until_idle()
    assert runner.marking()["paired"] == (("r1", "b"), ("r3", "a"))
    assert runner.marking()["requests"] == (("r2", 2),) and runner.marking()["replies"] == ()


async def test_guard_sees_the_blackboard_and_weights(bb: dict[str, Any]) -> None:
    bb["want"] = 10

    @pn.net
    def Sum(builder: NetBuilder) -> None:
        nums = builder.place("nums", initial=[1, 2, 3, 7, 4])
        out = builder.place("out")

        def adds_up(consumed: Any, bb: Any, timebase: Any) -> bool:
            return bool(sum(consumed) == bb["want"])

        @builder.transition(outputs=[out], guard=adds_up)
        def pair(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: tuple(consumed)}

        builder.arc(nums, pair, weight=2)

    runner = Runner(Sum, bb)
    await runner.run_until_idle()
    assert runner.marking()["out"] == ((3, 7),)
    assert runner.marking()["nums"] == (1, 2, 4)


async def test_a_raising_guard_counts_as_false_and_is_recorded(bb: dict[str, Any], caplog: Any) -> None:
    @pn.net
    def Bad(builder: NetBuilder) -> None:
        p = builder.place("p", initial=[0, 1])

        @builder.transition(inputs=[p], guard=lambda c: 1 / c[0] > 0)
        def t(consumed: Any, bb: Any, timebase: Any) -> None:
            return None

    runner = Runner(Bad, bb)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    assert runner.marking()["p"] == (0,)
    # evaluated once before the firing of 1 and once after it (the marking changed): never in a loop
    assert runner.stats.guard_errors == 2
    assert "guard of transition 'Bad.t' raised ZeroDivisionError" in caplog.text


# -- concurrency ------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 3, 16])
async def test_suspending_handlers_run_concurrently_up_to_the_bound(
    clock: ManualClock, concurrency: int
) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(sleepy_net(concurrency), bb, clock)
    runner.add_tokens("jobs", range(10))
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == min(concurrency, 10)
    await settle(clock, runner.run_until_idle())
    assert bb["peak"] == min(concurrency, 10)
    assert sorted(runner.marking()["done"]) == list(range(10))
    expected_time = -(-10 // concurrency)
    assert clock.now() >= expected_time


async def test_eager_false_runs_every_firing_in_its_own_task(bb: dict[str, Any]) -> None:
    seen: list[Any] = []

    @pn.net
    def Tasky(builder: NetBuilder) -> None:
        p = builder.place("p", initial=[1])
        out = builder.place("out")

        @builder.transition(inputs=[p], outputs=[out], eager=False)
        async def timed(consumed: Any, bb: Any, timebase: Any) -> Any:
            seen.append(asyncio.current_task())
            async with asyncio.timeout(5):
                return {out: consumed[0]}

    runner = Runner(Tasky, bb)
    await runner.run_until_idle()
    assert seen[0] is not None and runner.marking()["out"] == (1,)


async def test_eager_handler_needing_a_task_gets_a_helpful_error(bb: dict[str, Any]) -> None:
    @pn.net
    def Eager(builder: NetBuilder) -> None:
        p = builder.place("p", initial=[1])

        @builder.transition(inputs=[p])
        async def timed(consumed: Any, bb: Any, timebase: Any) -> None:
            async with asyncio.timeout(5):
                return None

    runner = Runner(Eager, bb)
    await runner.run_until_idle()
    assert str(runner.errors[-1]).endswith(
        ". Fix: declare 'Eager.timed' with eager=False (this handler needs its own task from its first line)"
    )
    assert runner.marking()["p"] == (1,)


# -- ctx --------------------------------------------------------------------------------------------


async def test_ctx_gives_name_memory_runner_outputs_and_emit(bb: dict[str, Any]) -> None:
    contexts: list[FiringContext] = []

    @pn.net
    def Ctx(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["a", "b", "c"])
        ok = builder.place("ok")
        bad = builder.place("bad")

        @builder.transition(inputs=[src], outputs=[ok, bad])
        async def route(consumed: Any, bb: Any, timebase: Any, ctx: FiringContext) -> Any:
            contexts.append(ctx)
            ctx.memory["count"] = ctx.memory.get("count", 0) + 1
            ctx.emit(ctx.outputs[ctx.memory["count"] % 2], consumed[0])
            return {ok: "also"} if consumed[0] == "c" else None

    runner = Runner(Ctx, bb)
    await runner.run_until_idle()
    first = contexts[0]
    assert first.transition == "Ctx.route" and first.runner is runner and first.outputs == ("ok", "bad")
    assert first.memory is contexts[-1].memory and first.memory["count"] == 3
    assert runner.marking()["ok"] == ("b", "also")
    assert runner.marking()["bad"] == ("a", "c")
    # memory is private to the runner
    other = Runner(Ctx, bb)
    await other.run_until_idle()
    assert contexts[-1].memory is not first.memory


@pytest.mark.parametrize("target", ["not_mine", PlaceRef("not_mine")], ids=["name", "ref"])
async def test_ctx_emit_into_a_non_output_raises_routing_error(bb: dict[str, Any], target: str) -> None:
    @pn.net
    def Ctx(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["a"])
        builder.place("not_mine")

        @builder.transition(inputs=[src])
        def route(consumed: Any, bb: Any, timebase: Any, ctx: FiringContext) -> None:
            ctx.emit(target, consumed[0])

    runner = Runner(Ctx, bb)
    await runner.run_until_idle()
    cause = runner.errors[-1].__cause__
    assert isinstance(cause, RoutingError) and cause.place == "not_mine"
    with pytest.raises(RoutingError, match=r"transition 'Ctx.route' may not produce into 'not_mine'"):
        raise cause
    assert runner.marking()["src"] == ("a",)


# -- marking, lifecycle ----------------------------------------------------------------------------


async def test_initial_tokens_are_in_the_marking_before_start(bb: dict[str, Any]) -> None:
    runner = Runner(pipeline(1, initial=[1, 2]), bb)
    assert runner.marking()["p0"] == (1, 2)
    assert not runner.running
    assert "p0: 2" in repr(runner.marking()) and "stopped" in repr(runner)


async def test_debug_log_names_each_firing(bb: dict[str, Any], caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.hypha"):
        runner = Runner(pipeline(1, initial=["tok"]), bb)
        await runner.run_until_idle()
    assert "fired Pipe1.t0: consumed ['tok'], produced 'tok' into Pipe1.p1" in caplog.text
    assert "runner started" in caplog.text


async def test_observers_see_every_firing_and_can_be_removed(bb: dict[str, Any], caplog: Any) -> None:
    events = Recorder()

    @pn.net
    def Watched(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[1, 2])
        out = builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        def t(consumed: Any, bb: Any, timebase: Any) -> Any:
            if consumed[0] == 2:
                raise ValueError("two")
            return {out: consumed[0] * 10}

    @wants_all
    def broken(event: Any) -> None:
        raise RuntimeError("observer bug")

    runner = Runner(Watched, bb)
    runner.add_observer(events)
    runner.add_observer(broken)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    assert [(e.kind, e.transition, e.consumed) for e in events] == [
        ("started", "Watched.t", {"Watched.src": (1,)}),
        ("committed", "Watched.t", {"Watched.src": (1,)}),
        ("started", "Watched.t", {"Watched.src": (2,)}),
        ("failed", "Watched.t", {"Watched.src": (2,)}),
    ]
    assert events[1].produced == {"Watched.out": (10,)} and isinstance(events[3].error, ValueError)
    assert "observer" in caplog.text and "is detached" in caplog.text and runner.marking()["out"] == (10,)
    with pytest.raises(ValueError, match="that observer is not attached"):
        runner.remove_observer(broken)  # it raised, so it was detached
    runner.remove_observer(events)
    runner.add_token("src", 3)
    await runner.run_until_idle()
    assert len(events) == 4


async def test_an_idle_runner_schedules_nothing(clock: ManualClock) -> None:
    runner = Runner(pipeline(3, initial=[1]), {}, clock)
    passes: list[int] = []
    run_pass = runner._ready.fire

    def counting_pass() -> None:
        passes.append(1)
        run_pass()

    runner._ready.fire = counting_pass
    await runner.run_until_idle()
    assert passes == [1]  # one pass fired everything
    for _ in range(100):
        await asyncio.sleep(0)
    assert passes == [1] and clock.pending == 0  # no polling, no timers
    runner.add_token("p0", 2)
    await runner.run_until_idle()
    assert passes == [1, 1] and runner.marking()["p3"] == (1, 2)
    await runner.stop()


async def test_memory_of_a_transition_is_reachable_from_outside_by_name() -> None:
    @pn.net
    def Remembering(builder):  # type: ignore[no-untyped-def]
        src, out = builder.place("src", initial=[1, 2, 3]), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        def keep(consumed, bb, timebase, ctx):  # type: ignore[no-untyped-def]
            ctx.memory.setdefault("seen", []).append(consumed.token)
            return {out: consumed.token}

    runner = Runner(Remembering, {})
    await runner.run_until_idle()
    assert runner.memory("keep") is runner.memory("Remembering.keep")
    assert runner.memory("keep") == {"seen": [1, 2, 3]}
    with pytest.raises(RoutingError, match=r"has no transition 'nope'; transitions: \['Remembering.keep'\]"):
        runner.memory("nope")


async def test_one_emit_commits_like_a_returned_output_including_lists_and_capacity() -> None:
    @pn.net
    def Emitting(builder):  # type: ignore[no-untyped-def]
        src = builder.place("src", initial=[[1, 2], [3, 4, 5]])
        out = builder.place("out", capacity=3)
        failed = builder.place("failed")

        @builder.transition(inputs=[src], outputs=[out], on_error=failed, concurrency=1)
        def spread(consumed, bb, timebase, ctx):  # type: ignore[no-untyped-def]
            ctx.emit(out, consumed.token)  # a list: several tokens, as when returned

    runner = Runner(Emitting, {})
    await runner.run_until_idle()
    assert runner.tokens("out") == (1, 2)
    (failed,) = runner.tokens("failed")  # three more do not fit in the one free slot
    assert failed.token == [3, 4, 5] and isinstance(failed.error, CapacityError)


@pn.net
def Bakery(builder: NetBuilder) -> None:
    dough, bread = builder.place("dough"), builder.place("bread")

    @builder.transition(inputs=[dough], outputs=[bread])
    def bake(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {bread: consumed[0]}


PLACES = r"places: \['Bakery.dough', 'Bakery.bread'\]\. Fix: "


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.add_token("doughh", 1), rf"no place 'doughh'; {PLACES}did you mean 'dough'\? If not, "),
        (lambda r: r.add_tokens("Dough", [1]), rf"no place 'Dough'; {PLACES}did you mean 'dough'\?"),
        (lambda r: r.tokens("Bakery.bred"), rf"no place 'Bakery.bred'; {PLACES}did you mean 'Bakery.bread'"),
        (
            lambda r: r.memory("bkae"),
            r"has no transition 'bkae'; transitions: \['Bakery.bake'\]\. Fix: did you mean 'bake'\? If not, "
            r"name one of those transitions$",
        ),
        # Nothing close: the names, and where they are, as before; and still a fix.
        (lambda r: r.add_token("oven", 1), rf"no place 'oven'; {PLACES}name one of those places$"),
    ],
    ids=["add_token", "add_tokens_case", "tokens_qualified", "memory", "nothing_close"],
)
def test_a_misspelt_place_or_transition_is_answered_with_the_nearest_names(
    bb: dict[str, Any], call: Any, match: str
) -> None:
    # Before: "net 'Bakery' has no place 'doughh'; places: [...]" and no fix at all.
    with pytest.raises(RoutingError, match=match):
        call(Runner(Bakery, bb))


@pytest.mark.parametrize(
    ("running_on", "given", "told"),
    [
        (ManualClock, ManualClock, "another ManualClock, not the one it runs on"),
        (MonotonicClock, ManualClock, "one of type ManualClock"),
        (ManualClock, CycleClock, "one of type CycleClock"),
    ],
    ids=["same-class", "monotonic-to-manual", "manual-to-cycle"],
)
async def test_start_on_another_clock_while_running_names_both_clocks(
    bb: dict[str, Any], running_on: type[Timebase], given: type[Timebase], told: str
) -> None:
    # The error printed both clocks as <mycorrhizal.common.timebase.ManualClock object at 0x...>:
    # two identical-looking strings, neither saying what they are nor whether they are one clock.
    runner = Runner(pipeline(1), bb, running_on())
    await runner.start()
    message = (
        rf"^runner of net 'Pipe1' is running on a timebase of type {running_on.__name__}, and start\(\) "
        rf"was given {re.escape(told)}; a running runner keeps its timebase\. Fix: stop\(\) it before "
        r"starting it on the new timebase, or call start\(\) without one to keep running$"
    )
    with pytest.raises(ExecutionError, match=message):
        await runner.start(given())
    assert isinstance(runner.timebase, running_on) and runner.running
    await runner.stop()
