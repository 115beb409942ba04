"""Choosing a binding: what a guard that raises costs in the log (firing.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock, RoutingError
from mycorrhizal.hypha import NetBuilder, Runner, pn


def _raising_guard_net() -> Any:
    """``jobs -> check -> done``; the guard raises ``bb["raise"]`` when it is set, else accepts."""

    def guard(consumed: Any, bb: dict[str, Any]) -> bool:
        if bb.get("raise") is not None:
            raise bb["raise"]("guard broke")
        return True

    @pn.net
    def Guarded(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], guard=guard)
        def check(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {done: consumed[0]}

    return Guarded


def _guard_warnings(caplog: Any) -> list[logging.LogRecord]:
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    return [r for r in warnings if "guard of transition" in r.getMessage()]


async def test_a_raising_guard_is_logged_once_per_streak_but_every_failure_counts(
    clock: ManualClock, caplog: Any
) -> None:
    bb: dict[str, Any] = {"raise": ValueError}
    runner = Runner(_raising_guard_net(), bb, clock)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        for i in range(40):  # each new token makes the transition evaluate its guard on every binding
            runner.add_token("jobs", i)
            await runner.run_until_idle()
    assert runner.stats.guard_errors >= 40 * 41 // 2
    assert len(_guard_warnings(caplog)) == 1


@pytest.mark.parametrize(
    ("raises", "warnings"),
    [
        ([ValueError, ValueError], 1),  # the same streak
        ([ValueError, None, ValueError], 2),  # the guard succeeded in between: a new streak
        ([ValueError, KeyError, ValueError], 2),  # a new exception type is logged, a known one is not
    ],
)
async def test_a_new_streak_or_a_new_exception_type_is_logged_again(
    clock: ManualClock, caplog: Any, raises: list[type[Exception] | None], warnings: int
) -> None:
    bb: dict[str, Any] = {}  # refused tokens stay in ``jobs``: each later evaluation sees them too
    runner = Runner(_raising_guard_net(), bb, clock)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        for i, exc in enumerate(raises):
            bb["raise"] = exc
            runner.add_token("jobs", i)
            await runner.run_until_idle()
    assert len(_guard_warnings(caplog)) == warnings


def _raising_guard_and_failing_handler_net() -> Any:
    """``jobs -> check`` whose guard always raises, and ``orders -> ship`` whose handler raises."""

    def broken(consumed: Any) -> bool:
        raise ValueError("guard broke")

    @pn.net
    def Mixed(builder: NetBuilder) -> None:
        jobs, orders, failed = builder.place("jobs"), builder.place("orders"), builder.place("failed")

        @builder.transition(inputs=[jobs], guard=broken)
        def check(consumed: Any, bb: Any, timebase: Any) -> None:
            return None

        @builder.transition(inputs=[orders], on_error=failed)
        def ship(consumed: Any, bb: Any, timebase: Any) -> None:
            raise RuntimeError("ship broke")

    return Mixed


async def test_a_guard_that_keeps_raising_does_not_push_other_errors_out_of_runner_errors(
    clock: ManualClock,
) -> None:
    runner = Runner(_raising_guard_and_failing_handler_net(), {}, clock)
    runner.add_token("orders", "o1")
    await runner.run_until_idle()
    for i in range(50):  # refused tokens stay in ``jobs``: 50 * 51 / 2 failed guard calls in one streak
        runner.add_token("jobs", i)
        await runner.run_until_idle()
    assert runner.stats.guard_errors >= 1000
    causes = [type(error.__cause__) for error in runner.errors]
    assert causes == [RuntimeError, ValueError]  # the handler's failure, then the first of the streak
    assert runner.errors[0].transition == "Mixed.ship"


def _misspelling(mistake: str) -> Any:
    """``dough -> bake -> bread``; bake misspells a place its way (``mistake``); failures go to ``dead``."""

    @pn.net
    def Bakery(builder: NetBuilder) -> None:
        dough, bread, dead = builder.place("dough"), builder.place("bread"), builder.place("dead")

        @builder.transition(inputs=[dough], outputs=[bread], on_error=dead)
        def bake(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
            if mistake == "emit":
                ctx.emit("bred", consumed[0])
                return None
            if mistake == "consumed":
                return {bread: consumed["doughh"]}
            return {"bred": consumed[0]}

    return Bakery


@pytest.mark.parametrize(
    ("mistake", "error", "match"),
    [
        (
            "returned",
            RoutingError,
            r"into 'bred': .*\)\. Fix: did you mean 'bread'\? If not, add builder\.arc",
        ),
        ("emit", RoutingError, r"into 'bred': .*\)\. Fix: did you mean 'bread'\? If not, add an arc"),
        ("consumed", KeyError, r"'doughh' is not an input place .*\. Fix: did you mean 'dough'\? If not"),
    ],
)
async def test_a_handler_naming_a_misspelt_place_is_answered_with_the_nearest(
    clock: ManualClock, mistake: str, error: type[Exception], match: str
) -> None:
    runner = Runner(_misspelling(mistake), {}, clock)
    runner.add_token("dough", 1)
    await runner.run_until_idle()
    (failed,) = runner.marking()["dead"]
    with pytest.raises(error, match=match):
        raise failed.error


@pytest.mark.parametrize("raising", [KeyError, ZeroDivisionError])
async def test_a_guard_that_raised_on_every_binding_is_reported_as_holding_its_tokens_back(
    clock: ManualClock, raising: type[Exception]
) -> None:
    # run_until_idle() returned (), "nothing is held back", while a broken guard kept every token.
    bb: dict[str, Any] = {"raise": raising}
    runner = Runner(_raising_guard_net(), bb, clock)
    runner.add_tokens("jobs", ["a", "b"])
    (stuck,) = await runner.run_until_idle()
    assert (stuck.name, stuck.kind, stuck.waiting, stuck.retry_at) == ("Guarded.check", "transition", 2, None)
    assert isinstance(stuck.error, raising) and runner.stuck() == (stuck,)
    assert str(stuck).startswith(f"transition 'Guarded.check' holds back 2 token(s) after {raising.__name__}")
    (kept,) = runner.errors  # once per streak
    assert isinstance(kept, HandlerError) and kept.transition == "Guarded.check"
    assert str(kept).endswith(
        ". Fix: make the guard return False for a binding it cannot judge (it looks again when a new "
        "token arrives)"
    )
    bb["raise"] = None  # mended: the next token fires them all, and nothing is held back any more
    runner.add_token("jobs", "c")
    assert await runner.run_until_idle() == ()
    assert runner.marking()["done"] == ("a", "b", "c")


async def test_a_guard_that_only_refuses_holds_nothing_back(clock: ManualClock) -> None:
    # Refusing is what a guard is for: the tokens wait for a match, and nothing is reported.
    @pn.net
    def Odd(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], guard=lambda consumed: consumed[0] % 2 == 1)
        def check(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {done: consumed[0]}

    runner = Runner(Odd, {}, clock)
    runner.add_tokens("jobs", [2, 3, 4])
    assert await runner.run_until_idle() == ()
    assert runner.marking()["jobs"] == (2, 4) and runner.marking()["done"] == (3,)
