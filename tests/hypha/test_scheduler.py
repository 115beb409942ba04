"""The scheduler pass runs as a coroutine driven by hand (hot handlers are awaited in it): a handler
that suspends takes only its own firing into a task; everything else stays inline and in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
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
