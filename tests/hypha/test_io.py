"""IO places: async sources feeding the net and sinks draining it, with back-pressure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import pytest

from mycorrhizal.common import CapacityError, HandlerError, ManualClock
from mycorrhizal.hypha import FailedToken, NetBuilder, Runner, pn

from .conftest import settle


def io_net(count: int, *, capacity: int | None = None, sink_sleeps: float = 0, fail: Any = ()) -> Any:
    @pn.net
    def IO(builder: NetBuilder) -> None:
        @builder.io_input_place(capacity=capacity)
        async def requests(bb: Any, timebase: Any) -> Any:
            for i in range(count):
                bb.setdefault("produced", []).append(i)
                yield i

        @builder.io_output_place(capacity=capacity, on_error="dead")
        async def replies(token: Any, bb: Any, timebase: Any) -> None:
            if sink_sleeps:
                await timebase.sleep(sink_sleeps)
            if token in fail:
                raise ValueError(f"sink refuses {token}")
            bb.setdefault("delivered", []).append(token)

        builder.place("dead")

        @builder.transition(inputs=[requests], outputs=[replies])
        async def handle(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {replies: consumed[0] * 10}

    return IO


async def test_source_tokens_reach_the_sink_in_order() -> None:
    bb: dict[str, Any] = {}
    runner = Runner(io_net(20), bb)
    await runner.run_until_idle()
    assert bb["delivered"] == [i * 10 for i in range(20)]
    assert runner.marking().total() == 0
    assert runner.stats.delivered == 20
    await runner.stop()


async def test_a_slow_sink_back_pressures_the_source(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(io_net(10, capacity=2, sink_sleeps=1), bb, clock)
    await runner.start()
    await clock.run_for(0)
    # replies (capacity 2) holds 1 token in the sink plus 1 waiting; requests is full (2): the
    # source is held back
    assert runner.in_flight == 1
    counts = runner.marking().counts()
    assert counts["IO.replies"] == 1 and counts["IO.requests"] == 2
    assert len(bb["produced"]) <= 6
    await settle(clock, runner.run_until_idle())
    assert bb["delivered"] == [i * 10 for i in range(10)]
    await runner.stop()


async def test_sink_failure_sends_the_token_to_its_error_place() -> None:
    bb: dict[str, Any] = {}
    runner = Runner(io_net(3, fail={10}), bb)
    await runner.run_until_idle()
    assert bb["delivered"] == [0, 20]
    (failed,) = runner.marking()["dead"]
    assert isinstance(failed, FailedToken) and failed.token == 10 and failed.place == "IO.replies"
    assert runner.stats.sink_failures == 1
    await runner.stop()


async def test_sink_failure_without_error_place_keeps_the_token_until_a_new_one_arrives(
    bb: dict[str, Any],
) -> None:
    attempts: list[Any] = []

    @pn.net
    def Sink(builder: NetBuilder) -> None:
        src = builder.place("src")

        @builder.io_output_place()
        def out(token: Any, bb: Any, timebase: Any) -> None:
            attempts.append(token)
            if token == "bad":
                raise ValueError("bad")

        @builder.transition(inputs=[src], outputs=[out])
        def move(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    runner = Runner(Sink, bb)
    runner.add_token("src", "bad")
    await runner.run_until_idle()
    assert attempts == ["bad"] and runner.marking()["out"] == ("bad",)
    runner.add_token("src", "good")
    await runner.run_until_idle()
    assert attempts == ["bad", "bad"]
    assert runner.marking()["out"] == ("bad", "good")
    await runner.stop()


async def test_source_errors_are_recorded_and_the_net_keeps_running(bb: dict[str, Any]) -> None:
    @pn.net
    def Src(builder: NetBuilder) -> None:
        @builder.io_input_place()
        async def feed(bb: Any, timebase: Any) -> Any:
            yield 1
            raise ConnectionError("gone")

        out = builder.place("out")

        @builder.transition(inputs=[feed], outputs=[out])
        def move(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    runner = Runner(Src, bb)
    (stopped,) = await runner.run_until_idle()  # the failed source is reported, not only logged
    assert (stopped.name, stopped.kind, stopped.waiting) == ("Src.feed", "source", 0)
    assert isinstance(stopped.error.__cause__, ConnectionError)
    assert runner.marking()["out"] == (1,)
    assert runner.stats.source_errors == 1
    assert "source of 'Src.feed' failed with ConnectionError: gone" in str(runner.errors[-1])
    await runner.stop()


async def test_a_plain_iterable_source_works(bb: dict[str, Any]) -> None:
    @pn.net
    def Src(builder: NetBuilder) -> None:
        feed = builder.io_input_place("feed", lambda bb, timebase: iter([1, 2, 3]))
        out = builder.place("out")
        builder.transition(name="move", inputs=[feed], outputs=[out])(lambda c, bb, tb: {out: c[0]})

    runner = Runner(Src, bb)
    await runner.run_until_idle()
    assert runner.marking()["out"] == (1, 2, 3)
    await runner.stop()


async def test_stop_cancels_sources_and_sink_deliveries_without_losing_tokens(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(io_net(5, sink_sleeps=10), bb, clock)
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 1
    await runner.stop(cancel=True)
    delivered = bb.get("delivered", [])
    assert delivered == []
    assert runner.marking()["replies"] == tuple(i * 10 for i in range(len(bb["produced"])))
    assert runner.in_flight == 0
    # restarting delivers what waited (the source starts again from its beginning)
    restarted = asyncio.ensure_future(runner.run_until_idle())
    await settle(clock, restarted, step=10)
    assert bb["delivered"][:5] == [0, 10, 20, 30, 40]
    await runner.stop()


async def test_an_async_sink_failing_after_it_suspended(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(io_net(3, sink_sleeps=1, fail={10}), bb, clock)
    await settle(clock, runner.run_until_idle())
    assert bb["delivered"] == [0, 20]
    (failed,) = runner.marking()["dead"]
    assert failed.token == 10 and str(failed.error) == "sink refuses 10"
    await runner.stop()


async def test_a_cancelled_delivery_gives_back_its_token_and_its_room(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(io_net(2, capacity=1, sink_sleeps=5), bb, clock)
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 1
    await runner.stop(cancel=True)
    assert runner.marking()["replies"] == (0,)
    # the room held for the interrupted delivery is free again: nothing else is reserved
    with pytest.raises(CapacityError, match=r"place 'IO.replies' has room for 0 more token\(s\), not 1"):
        runner.add_tokens("replies", ["extra"])


def _returns_a_number(bb: Any, timebase: Any) -> Any:
    return 42


async def _returns_instead_of_yielding(bb: Any, timebase: Any) -> Any:
    return [1, 2]


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (
            _returns_a_number,
            r"source of 'Src.feed' failed with TypeError: it returned 42 \(type int\), not tokens; it "
            r"produces no more tokens until the runner is started again\. Fix: make it yield each token "
            r".*or return an iterable of tokens$",
        ),
        (
            _returns_instead_of_yielding,
            r"source of 'Src.feed' failed with TypeError: it is an async def that returns instead of "
            r"yielding; it produces no more tokens until the runner is started again\. Fix: write `yield "
            r"token` for each token",
        ),
    ],
)
async def test_a_source_returning_no_tokens_is_a_clear_failure_that_run_until_idle_reports(
    bb: dict[str, Any], source: Any, match: str, caplog: Any
) -> None:
    @pn.net
    def Src(builder: NetBuilder) -> None:
        feed = builder.io_input_place("feed", source)
        out = builder.place("out")
        builder.transition(name="move", inputs=[feed], outputs=[out])(lambda c, bb, tb: {out: c[0]})

    runner = Runner(Src, bb)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        (stopped,) = await runner.run_until_idle()  # before the fix: () although the source failed
    assert stopped.kind == "source" and stopped.name == "Src.feed" and stopped.retry_at is None
    assert re.search(match, str(stopped.error)) and isinstance(stopped.error.__cause__, TypeError)
    assert runner.stats.source_errors == 1 and runner.stuck() == (stopped,)
    assert "idle, but source 'Src.feed' stopped after HandlerError" in caplog.text
    await runner.stop()
    await runner.start()  # a new start calls the source again: nothing failed yet in this run
    assert runner.stuck() == ()
    await runner.stop()


class Abort(BaseException):
    """Stands for KeyboardInterrupt/SystemExit: not a sink failure; the token stays and it goes on."""


async def test_a_base_exception_from_a_suspended_sink_keeps_the_token_and_ends_run_until_idle(
    clock: ManualClock, caplog: Any
) -> None:
    @pn.net
    def Sink(builder: NetBuilder) -> None:
        @builder.io_output_place()
        async def out(token: Any, bb: Any, timebase: Any) -> None:
            await asyncio.sleep(0)  # the delivery goes on in its own task (no time passes)
            raise Abort()

    runner = Runner(Sink, {}, clock)
    runner.add_token("Sink.out", "keep me")
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the task's error
    with (
        caplog.at_level(logging.INFO, logger="mycorrhizal.hypha"),
        pytest.raises(Abort),
    ):  # not a wait for ever
        await settle(clock, runner.run_until_idle(), limit=5)
    assert runner.marking()["out"] == ("keep me",) and runner.in_flight == 0
    (told,) = [r for r in caplog.records if "raised Abort" in r.getMessage()]
    assert told.levelno == logging.INFO and told.getMessage() == (
        "net Sink: sink Sink.out raised Abort: no failure; its token went back to the head of its place "
        "and it is raised to the caller (run_until_idle())"
    )
    assert runner.stats.sink_failures == 0 and runner.stats.delivered == 0
    await runner.stop()


def bounded_source_net(capacity: int, plain: bool) -> Any:
    """A source that never suspends feeding a bounded place, drained by one transition."""

    @pn.net
    def Burst(builder: NetBuilder) -> None:
        async def burst(bb: Any, timebase: Any) -> Any:
            for i in range(6):
                yield i  # no await: the source runs until the place is full

        source = (lambda bb, timebase: range(6)) if plain else burst
        feed = builder.io_input_place("feed", source, capacity=capacity)
        out = builder.place("out")
        builder.forward(feed, out)

    return Burst


@pytest.mark.parametrize("capacity", [1, 2, 5])
@pytest.mark.parametrize("plain", [False, True], ids=["async generator", "plain iterable"])
async def test_run_until_idle_waits_for_a_bounded_source_whose_room_was_just_freed(
    capacity: int, plain: bool
) -> None:
    # Room freed in the place resumes the waiting source only at its next step: until then it is
    # about to put a token, not idle, and run_until_idle() must not return in between.
    runner = Runner(bounded_source_net(capacity, plain), {})
    assert await runner.run_until_idle() == ()
    assert runner.marking()["out"] == tuple(range(6)) and runner.marking()["feed"] == ()
    await runner.stop()


def resuming_source_net() -> Any:
    """A source that resumes from the position it keeps on the blackboard (as the docs advise), into
    a place of capacity 1 whose consumer's guard waits until ``bb["open"]``."""

    @pn.net
    def Resume(builder: NetBuilder) -> None:
        @builder.io_input_place(capacity=1)
        async def feed(bb: Any, timebase: Any) -> Any:
            while bb["next"] < 5:
                bb["next"] += 1
                yield bb["next"] - 1

        out = builder.place("out")
        builder.forward(feed, out, guard=lambda consumed, bb: bb["open"])

    return Resume


async def test_a_full_source_place_is_waited_for_before_the_next_token_is_asked_for() -> None:
    bb: dict[str, Any] = {"next": 0, "open": False}
    runner = Runner(resuming_source_net(), bb)
    await runner.run_until_idle()
    assert runner.marking()["feed"] == (0,)
    assert bb["next"] == 1  # token 1 is not asked for while there is no room for it
    await runner.stop()  # a token the source had given but the place had no room for would be lost here
    bb["open"] = True
    await runner.run_until_idle()
    assert runner.marking()["out"] == (0, 1, 2, 3, 4)
    await runner.stop()


async def test_a_base_exception_from_a_source_is_raised_from_run_until_idle(
    clock: ManualClock, caplog: Any
) -> None:
    @pn.net
    def Src(builder: NetBuilder) -> None:
        @builder.io_input_place()
        async def feed(bb: Any, timebase: Any) -> Any:
            yield 1
            raise Abort()

        builder.forward(feed, builder.place("out"))

    runner = Runner(Src, {}, clock)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the task's error
    with caplog.at_level(logging.INFO, logger="mycorrhizal.hypha"), pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)  # not "idle, nothing held back"
    assert runner.marking()["out"] == (1,) and runner.stats.source_errors == 0
    (told,) = [r for r in caplog.records if "raised Abort" in r.getMessage()]
    assert told.levelno == logging.INFO and told.getMessage() == (
        "net Src: source of Src.feed raised Abort: no failure; it gives no more tokens until the runner "
        "is started again, and it is raised to the caller (run_until_idle())"
    )
    await runner.stop()


HUGE = 5_000


def never_suspending_source_net(plain: bool) -> Any:
    """An unbounded io input place fed ``HUGE`` tokens by a source that never suspends: a plain
    iterable, or an async generator that awaits nothing (each token counted in ``bb["given"]``)."""

    def given(bb: Any) -> Any:
        for i in range(HUGE):
            bb["given"] += 1
            yield i

    async def agiven(bb: Any) -> Any:
        for i in given(bb):
            yield i

    @pn.net
    def Huge(builder: NetBuilder) -> None:
        builder.io_input_place("feed", given if plain else agiven)
        builder.forward("feed", builder.place("out"))

    return Huge


@pytest.mark.parametrize("plain", [True, False], ids=["plain iterable", "async generator"])
async def test_a_source_that_never_suspends_lets_other_tasks_and_stop_run(plain: bool) -> None:
    bb = {"given": 0}
    runner = Runner(never_suspending_source_net(plain), bb)
    seen: list[int] = []

    async def other() -> None:
        seen.append(bb["given"])

    await runner.start()
    await asyncio.gather(other(), runner.stop())
    assert seen[0] < HUGE  # the other task ran while the source was still giving tokens
    assert bb["given"] < HUGE  # and stop() stopped it
    assert sorted(runner.marking()["feed"] + runner.marking()["out"]) == list(range(bb["given"]))


def jammed_io() -> Any:
    """A source and a sink that raise an error ending with what to do."""

    @pn.net
    def Jam(builder: NetBuilder) -> None:
        @builder.io_input_place()
        async def feed(bb: Any, timebase: Any) -> Any:
            yield 1
            raise ConnectionError("the feed is gone. Fix: reconnect it")

        @builder.io_output_place()
        def out(token: Any, bb: Any, timebase: Any) -> None:
            raise ConnectionError("the printer is jammed. Fix: clear it")

        @builder.transition(inputs=[feed], outputs=[out])
        def move(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    return Jam


async def test_a_source_or_sink_whose_error_says_what_to_do_says_it_last(bb: dict[str, Any]) -> None:
    runner = Runner(jammed_io(), bb, ManualClock())
    await runner.run_until_idle()
    failures = sorted(str(error) for error in runner.errors)
    assert failures == [
        "sink 'Jam.out' failed with ConnectionError: the printer is jammed; the token was kept at the head "
        "of the place; it is retried in 0.1 s, or when a new token arrives. Fix: clear it",
        "source of 'Jam.feed' failed with ConnectionError: the feed is gone; it produces no more tokens "
        "until the runner is started again. Fix: reconnect it",
    ]
    for error in runner.errors:
        with pytest.raises(HandlerError, match=r"\. Fix: (clear|reconnect) it$"):
            raise error
    await runner.stop()


def chained_sinks(second: BaseException) -> Any:
    """A sink whose error place is a sink too; the first refuses every token, the second raises ``second``."""

    @pn.net
    def Chain(builder: NetBuilder) -> None:
        @builder.io_output_place()
        async def rescue(token: Any, bb: Any, timebase: Any) -> None:
            raise second

        @builder.io_output_place(on_error="rescue")
        async def out(token: Any, bb: Any, timebase: Any) -> None:
            raise ValueError(f"out refuses {token}")

    return Chain


@pytest.mark.parametrize(
    ("second", "kept"),
    [(ValueError("rescue refuses it too"), 2), (Abort(), 1)],
    ids=["the error place's sink fails too", "the error place's sink raises a BaseException"],
)
async def test_a_sink_failure_is_kept_before_its_error_place_s_own_sink_runs(
    clock: ManualClock, second: BaseException, kept: int
) -> None:
    runner = Runner(chained_sinks(second), {}, clock)
    await runner.start()
    raised = pytest.raises(Abort) if isinstance(second, Abort) else contextlib.nullcontext()
    with raised:
        runner.add_token("Chain.out", "t")
        await runner.run_until_idle()
    first = runner.errors[0]
    assert first.place == "Chain.out" and re.match(
        r"^sink 'Chain\.out' failed with ValueError: out refuses t; the token was sent to error place "
        r"'Chain\.rescue'",
        str(first),
    )
    assert len(runner.errors) == kept and runner.stats.sink_failures == kept
    if kept == 2:
        assert runner.errors[1].place == "Chain.rescue"
    await runner.stop()
