"""Retries after a failure: by default a bounded backoff on the runner's timebase, so one transient
fault never stalls a queue; and ``run_until_idle()`` says what is held back meanwhile."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.hypha import Backoff, NetBuilder, Runner, Stuck, pn


def flaky_net(failures: Any, retry_delay: Any = "default") -> tuple[Any, list[Any]]:
    """``jobs`` -> ``work`` -> ``done``; the first ``failures`` calls of work raise (or the calls whose
    number, from 1, is in ``failures``)."""
    calls: list[Any] = []
    failing = range(1, failures + 1) if isinstance(failures, int) else failures
    options = {} if retry_delay == "default" else {"retry_delay": retry_delay}

    @pn.net
    def Flaky(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], **options)
        def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            calls.append(timebase.now())
            if len(calls) in failing:
                raise ConnectionError("transient")
            return {done: consumed[0]}

    return Flaky, calls


async def test_one_transient_failure_does_not_stall_the_queue(clock: ManualClock, caplog: Any) -> None:
    net, calls = flaky_net(1)
    runner = Runner(net, {}, clock)
    runner.add_tokens("jobs", range(1000))
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        stuck = await runner.run_until_idle()
    # before: run_until_idle() returned as if idle, 1 call made, 1,000 tokens waiting for good
    assert stuck == (Stuck("Flaky.work", "transition", 1000, stuck[0].error, 0.1),)
    assert isinstance(stuck[0].error, ConnectionError)
    assert "net Flaky: idle, but transition 'Flaky.work' holds back 1000 token(s) after ConnectionError" in (
        caplog.text
    )
    await clock.run_for(0.1)
    assert await runner.run_until_idle() == () and runner.stuck() == ()
    assert runner.marking()["done"] == tuple(range(1000)) and len(calls) == 1001


async def test_the_default_backoff_doubles_up_to_its_limit_and_starts_over_after_a_success(
    clock: ManualClock,
) -> None:
    net, calls = flaky_net({*range(1, 13), 14})  # 12 failures, a success, then one more failure
    runner = Runner(net, {}, clock)
    runner.add_tokens("jobs", ["a", "b"])
    await runner.start()
    await clock.run_for(200)
    gaps = [round(b - a, 6) for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0, 0.0, 0.1]
    assert runner.marking()["done"] == ("a", "b")
    assert Backoff().delay(1) == 0.1 and Backoff().delay(10_000) == 30.0
    await runner.stop()


@pytest.mark.parametrize(
    "retry_delay, calls_until_6, next_retry",
    [
        (None, [0.0], None),
        (2.5, [0.0, 2.5, 5.0], 7.5),
        (Backoff(first=1, factor=3, limit=4), [0.0, 1.0, 4.0], 8.0),
    ],
)
async def test_retry_delay_chooses_the_policy(
    clock: ManualClock, retry_delay: Any, calls_until_6: list[float], next_retry: float | None
) -> None:
    net, calls = flaky_net(99, retry_delay)
    runner = Runner(net, {}, clock)
    runner.add_token("jobs", "a")
    await runner.start()
    await clock.run_for(6)
    assert calls == calls_until_6
    (stuck,) = runner.stuck()
    assert stuck.retry_at == next_retry
    await runner.stop()


async def test_a_new_token_retries_at_once(clock: ManualClock) -> None:
    net, calls = flaky_net(1)
    runner = Runner(net, {}, clock)
    runner.add_token("jobs", "a")
    await runner.run_until_idle()
    runner.add_token("jobs", "b")
    assert await runner.run_until_idle() == ()
    assert runner.marking()["done"] == ("a", "b") and calls == [0.0, 0.0, 0.0]


async def test_stop_pauses_retries_and_start_arms_them_again(clock: ManualClock) -> None:
    net, calls = flaky_net(1, retry_delay=5)
    runner = Runner(net, {}, clock)
    runner.add_token("jobs", "a")
    await runner.run_until_idle()
    await runner.stop()
    await clock.run_for(10)
    assert calls == [0.0] and runner.stuck()[0].retry_at is None
    await runner.start()
    assert runner.stuck()[0].retry_at == 15.0
    await clock.run_for(5)
    assert runner.marking()["done"] == ("a",)
    await runner.stop()


async def test_a_failing_sink_is_retried_with_the_default_backoff(clock: ManualClock) -> None:
    attempts: list[float] = []

    @pn.net
    def Out(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["x"])

        @builder.io_output_place()
        def sink(token: Any, bb: Any, timebase: Any) -> None:
            attempts.append(timebase.now())
            if len(attempts) < 3:
                raise ConnectionError("down")
            bb["sent"] = token

        @builder.transition(inputs=[src], outputs=[sink])
        def forward(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {sink: consumed[0]}

    bb: dict[str, Any] = {}
    runner = Runner(Out, bb, clock)
    (stuck,) = await runner.run_until_idle()
    assert (stuck.name, stuck.kind, stuck.waiting, stuck.retry_at) == ("Out.sink", "sink", 1, 0.1)
    await clock.run_for(1)
    assert bb == {"sent": "x"} and [round(a, 6) for a in attempts] == [0.0, 0.1, 0.3]
    assert runner.stuck() == ()
    await runner.stop()


@pytest.mark.parametrize(
    "retry_delay, message",
    [
        (-1, r"retry_delay -1 is not a duration >= 0"),
        ("soon", r"retry_delay 'soon' is not a duration >= 0"),
        (True, r"retry_delay True is not a duration >= 0"),  # (a bool is not 1 second)
        (Backoff(first=1, factor=0.5), r"is not a backoff: it needs 0 <= first <= limit and factor >= 1"),
        (Backoff(first=10, limit=1), r"is not a backoff"),
    ],
)
def test_bad_retry_delays_are_definition_errors(retry_delay: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        flaky_net(1, retry_delay)
