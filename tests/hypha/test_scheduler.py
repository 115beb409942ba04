"""The scheduler pass runs as a coroutine driven by hand (hot handlers are awaited in it): a handler
that suspends takes only its own firing into a task; everything else stays inline and in order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock, RoutingError
from mycorrhizal.hypha import NetBuilder, Runner, pn


def two_lanes(record: list[Any], more: list[Any]) -> Any:
    """``slow`` suspends on its first token only (then hands ``fast`` more work through ``more``);
    ``fast`` never suspends and records where it ran."""

    @pn.net
    def Lanes(builder: NetBuilder) -> None:
        a, b = builder.place("a"), builder.place("b")
        a_out, b_out = builder.place("a_out"), builder.place("b_out")

        @builder.transition(inputs=[a], outputs=[a_out])
        async def slow(consumed: Any, bb: Any, timebase: Any) -> Any:
            if consumed[0] == 0:
                await timebase.sleep(1)
                more[0].add_token("b", 99)  # ready work the continuation must leave to the scheduler
            record.append(("slow", consumed[0], asyncio.current_task() is not None))
            return {a_out: consumed[0]}

        @builder.transition(inputs=[b], outputs=[b_out])
        async def fast(consumed: Any, bb: Any, timebase: Any) -> Any:
            record.append(("fast", consumed[0], asyncio.current_task() is not None))
            return {b_out: consumed[0]}

    return Lanes


async def test_a_suspending_hot_handler_takes_only_its_own_firing_into_a_task() -> None:
    record: list[Any] = []
    more: list[Any] = []
    clock = ManualClock()
    runner = Runner(two_lanes(record, more), None, clock)
    more.append(runner)
    runner.add_tokens("a", [0, 1, 2])
    runner.add_tokens("b", [10, 11, 12])
    await runner.start()
    await clock.run_for(0)
    # everything but the suspended firing ran inline, in the same pass, in round-robin order
    assert [r for r in record if r[0] == "fast"] == [("fast", n, False) for n in (10, 11, 12)]
    assert [r for r in record if r[0] == "slow"] == [("slow", 1, False), ("slow", 2, False)]
    assert runner.in_flight == 1
    await clock.run_for(1)
    await runner.run_until_idle()
    await runner.stop()
    # the continuation finished its own firing in its task, and left the rest to the scheduler
    assert record[-2:] == [("slow", 0, True), ("fast", 99, False)]
    assert runner.fired() == {"Lanes.slow": 3, "Lanes.fast": 4}
    assert runner.marking()["a_out"] == (1, 2, 0) and runner.marking()["b_out"] == (10, 11, 12, 99)


@pytest.mark.parametrize("when", ["at once", "after suspending"])
async def test_a_failing_hot_handler_gives_its_token_back(when: str) -> None:
    clock = ManualClock()

    @pn.net
    def Failing(builder: NetBuilder) -> None:
        src, out = builder.place("src"), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out], retry_delay=None)
        async def fail(consumed: Any, bb: Any, timebase: Any) -> Any:
            if when == "after suspending":
                await timebase.sleep(1)
            raise LookupError(consumed[0])

    runner = Runner(Failing, None, clock)
    runner.add_token("src", "job")
    await runner.start()
    await clock.run_for(1)
    await runner.run_until_idle()
    await runner.stop()
    assert runner.marking()["src"] == ("job",) and runner.stats.failures == 1
    assert isinstance(runner.errors[-1].__cause__, LookupError)


class Abort(BaseException):
    """Stands for KeyboardInterrupt: not a failure, but the token must stay."""


async def test_a_hot_handler_raising_a_base_exception_keeps_its_token() -> None:
    @pn.net
    def Abortive(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["keep me"])

        @builder.transition(inputs=[src])
        async def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
            raise Abort()

    runner = Runner(Abortive, None)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    with pytest.raises(Abort):
        await runner.run_until_idle()
    assert runner.marking()["src"] == ("keep me",) and runner.stats.failures == 0


async def test_a_suspended_hot_firing_cancelled_by_stop_returns_its_token() -> None:
    clock = ManualClock()
    cleaned: list[str] = []

    @pn.net
    def Slow(builder: NetBuilder) -> None:
        src, out = builder.place("src"), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        async def wait(consumed: Any, bb: Any, timebase: Any) -> Any:
            try:
                await timebase.sleep(10)
            finally:
                cleaned.append(consumed[0])
            return {out: consumed[0]}

    runner = Runner(Slow, None, clock)
    runner.add_tokens("src", ["x", "y"])
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 2
    await runner.stop(cancel=True)
    assert cleaned == ["x", "y"] and runner.marking()["src"] == ("x", "y") and runner.marking()["out"] == ()


@pytest.mark.parametrize("fail", [False, True])
async def test_a_hot_firing_with_several_inputs_suspends_commits_or_gives_both_back(fail: bool) -> None:
    clock = ManualClock()

    @pn.net
    def Pair(builder: NetBuilder) -> None:
        left, right, out = builder.place("left"), builder.place("right"), builder.place("out")

        @builder.transition(inputs=[left, right], outputs=[out], retry_delay=None)
        async def join(consumed: Any, bb: Any, timebase: Any) -> Any:
            await timebase.sleep(1)
            if fail:
                raise LookupError("no partner")
            return {out: (consumed[left][0], consumed[right][0])}

    runner = Runner(Pair, None, clock)
    runner.add_tokens("left", ["l1", "l2"])
    runner.add_tokens("right", ["r1"])
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 1 and runner.marking()["left"] == ("l2",)
    await clock.run_for(1)
    await runner.run_until_idle()
    await runner.stop()
    if fail:
        assert runner.marking()["left"] == ("l1", "l2") and runner.marking()["right"] == ("r1",)
    else:
        assert runner.marking()["out"] == (("l1", "r1"),) and runner.marking()["left"] == ("l2",)


# -- handlers taking ctx: awaited in the loop like any hot handler (through context.with_context) ------


def emitting(form: str, record: list[Any]) -> Any:
    """src -> route -> even | odd | many; ``route`` takes ctx and produces ``form``."""

    @pn.net
    def Emitting(builder: NetBuilder) -> None:
        src, even, odd = builder.place("src"), builder.place("even"), builder.place("odd")
        many = builder.place("many")

        @builder.transition(inputs=[src], outputs=[even, odd, many])
        async def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
            record.append((ctx.transition, ctx.consumed == consumed, ctx.bb is bb, ctx.timebase is timebase))
            n = consumed[0]
            ctx.memory["seen"] = ctx.memory.get("seen", 0) + 1
            if form == "nothing":
                return None
            if form == "returned only":
                return {even: n}
            ctx.emit("odd", n)
            if form == "one emit":
                return None
            if form == "two emits":
                ctx.emit("even", n * 10)
                return None
            if form == "an emitted list":
                ctx.emit("many", [n, n + 1])
                return None
            if form == "returned dict and emit":
                return {even: n * 10}
            if form == "returned pair and emit":
                return ("even", n * 10)
            assert form == "everywhere and emit"
            return {"*": n * 10}

    return Emitting


FORMS = {  # what each form leaves in (even, odd, many) for the tokens 1 and 2
    "nothing": ((), (), ()),
    "returned only": ((1, 2), (), ()),
    "one emit": ((), (1, 2), ()),
    "two emits": ((10, 20), (1, 2), ()),
    "an emitted list": ((), (1, 2), (1, 2, 2, 3)),
    "returned dict and emit": ((10, 20), (1, 2), ()),
    "returned pair and emit": ((10, 20), (1, 2), ()),
    "everywhere and emit": ((10, 20), (10, 1, 20, 2), (10, 20)),
}


@pytest.fixture(params=["hot path", "DEBUG path"])
def path(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> str:
    """The path a hot firing takes: awaited in the scheduler loop, or with DEBUG on (its lines),
    ``Scheduler.fire_fast`` with ``ctx`` made by ``Firing.context``: both must commit the same."""
    if request.param == "DEBUG path":
        caplog.set_level(logging.DEBUG, logger="mycorrhizal.hypha")
    return str(request.param)


@pytest.mark.parametrize("form", list(FORMS))
async def test_a_ctx_handler_on_the_hot_path_commits_what_it_returned_and_emitted(
    form: str, path: str
) -> None:
    record: list[Any] = []
    board = object()
    runner = Runner(emitting(form, record), board)
    (route,) = runner._transitions
    assert route.hot and route.hot_call is not route.handler  # awaited in the loop through its adapter
    runner.add_tokens("src", [1, 2])
    await runner.run_until_idle()
    await runner.stop()
    marking = runner.marking()
    assert (marking["even"], marking["odd"], marking["many"]) == FORMS[form]
    assert record == [("Emitting.route", True, True, True)] * 2 and runner.memory("route") == {"seen": 2}
    assert runner.stats.failures == 0 and marking["src"] == ()


async def test_a_ctx_handler_returning_a_wrong_value_besides_an_emit_fails_with_nothing_produced(
    path: str,
) -> None:
    @pn.net
    def Wrong(builder: NetBuilder) -> None:
        src, out = builder.place("src"), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out], retry_delay=None)
        async def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
            ctx.emit("out", consumed[0])
            return "out"  # neither a dict, a pair nor None

    runner = Runner(Wrong, {})
    runner.add_token("src", "job")
    await runner.run_until_idle()
    await runner.stop()
    assert runner.marking()["src"] == ("job",) and runner.marking()["out"] == ()
    with pytest.raises(
        HandlerError,
        match=r"transition 'Wrong.route' returned str 'out', which is not an output; .*\. Fix: return \(or "
        r"yield\) a dict",
    ):
        raise runner.errors[-1]


@pytest.mark.parametrize("when", ["at once", "after suspending"])
@pytest.mark.parametrize("how", ["raises", "emits into a place it has no arc to"])
async def test_a_failing_ctx_handler_gives_its_token_back_and_produces_nothing(when: str, how: str) -> None:
    clock = ManualClock()

    @pn.net
    def Failing(builder: NetBuilder) -> None:
        src, out = builder.place("src"), builder.place("out")
        builder.place("elsewhere")

        @builder.transition(inputs=[src], outputs=[out], retry_delay=None)
        async def fail(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
            ctx.emit("out", "half done")  # dropped with the failed firing
            if when == "after suspending":
                await timebase.sleep(1)
            if how == "raises":
                raise LookupError(consumed[0])
            ctx.emit("elsewhere", consumed[0])
            return {out: "done"}

    runner = Runner(Failing, None, clock)
    runner.add_tokens("src", ["job"])
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == (1 if when == "after suspending" else 0)
    await clock.run_for(1)
    await runner.run_until_idle()
    await runner.stop()
    marking = runner.marking()
    assert marking["src"] == ("job",) and marking["out"] == () and marking["elsewhere"] == ()
    assert runner.stats.failures == 1
    expected = LookupError if how == "raises" else RoutingError
    assert isinstance(runner.errors[-1].__cause__, expected)


async def test_a_suspending_ctx_handler_takes_only_its_firing_into_a_task_and_commits_its_emits() -> None:
    clock = ManualClock()
    record: list[Any] = []

    @pn.net
    def Lanes(builder: NetBuilder) -> None:
        a, b, out = builder.place("a"), builder.place("b"), builder.place("out")

        @builder.transition(inputs=[a], outputs=[out])
        async def slow(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
            ctx.emit(out, ("before", consumed[0]))
            if consumed[0] == 0:
                await timebase.sleep(1)
            ctx.emit(out, ("after", consumed[0]))
            record.append(("slow", consumed[0], asyncio.current_task() is not None))
            return {out: ("returned", consumed[0])}

        @builder.transition(inputs=[b], outputs=[out])
        async def fast(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
            record.append(("fast", consumed[0], asyncio.current_task() is not None))
            ctx.emit(out, ("fast", consumed[0]))

    runner = Runner(Lanes, None, clock)
    runner.add_tokens("a", [0, 1])
    runner.add_tokens("b", [10])
    await runner.start()
    await clock.run_for(0)
    assert record == [("fast", 10, False), ("slow", 1, False)] and runner.in_flight == 1
    assert runner.marking()["a"] == ()
    await clock.run_for(1)
    await runner.run_until_idle()
    await runner.stop()
    assert record[-1] == ("slow", 0, True)  # finished in its own task
    assert runner.marking()["out"] == (
        ("fast", 10),
        ("returned", 1),
        ("before", 1),
        ("after", 1),
        ("returned", 0),
        ("before", 0),
        ("after", 0),
    )


async def test_a_suspended_ctx_firing_cancelled_by_stop_returns_its_tokens_and_drops_its_emits() -> None:
    clock = ManualClock()
    cleaned: list[Any] = []

    @pn.net
    def Slow(builder: NetBuilder) -> None:
        left, right, out = builder.place("left"), builder.place("right"), builder.place("out")

        @builder.transition(inputs=[left, right], outputs=[out])
        async def wait(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
            ctx.emit(out, "early")
            try:
                await timebase.sleep(10)
            finally:
                cleaned.append(tuple(consumed))
            return {out: "late"}

    runner = Runner(Slow, None, clock)
    runner.add_tokens("left", ["l1", "l2"])
    runner.add_tokens("right", ["r1", "r2"])
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 2 and runner.marking()["left"] == ()
    await runner.stop(cancel=True)
    assert cleaned == [("l1", "r1"), ("l2", "r2")]
    marking = runner.marking()
    assert marking["left"] == ("l1", "l2") and marking["right"] == ("r1", "r2") and marking["out"] == ()
    assert runner.fired() == {"Slow.wait": 0}


async def test_a_ctx_handler_emits_into_an_output_its_running_net_gained() -> None:
    @pn.net
    def Growing(builder: NetBuilder) -> None:
        src, out = builder.place("src"), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        async def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
            ctx.emit(ctx.outputs[-1], consumed[0])

    runner = Runner(Growing, None)
    await runner.start()
    runner.add_token("src", 1)
    await runner.run_until_idle()
    runner.add_place("Growing.extra")
    runner.add_arc("Growing.route", "Growing.extra")
    runner.add_token("src", 2)
    await runner.run_until_idle()
    await runner.stop()
    assert runner.marking()["out"] == (1,) and runner.marking()["extra"] == (2,)
