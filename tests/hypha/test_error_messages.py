"""Every runtime error of a net names the user's place, transition or net at fault and ends with the
fix, in the form every engine shares: ``"<problem>. Fix: <what to do>"`` (read by ``split_fix``).

Each case provokes one error the way a user would and returns its text and the name it must say;
before the sweep many ended with ``"...; wait for room"`` or ``"...; do X"`` (no ``". Fix: "`` part),
and some (a firing cancelled from outside, a handler's own ValueError) said no fix at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.common.errors import split_fix
from mycorrhizal.hypha import NetBuilder, Runner, pn
from mycorrhizal.hypha.context import consumed_class

Case = Callable[[ManualClock], Awaitable[tuple[str, str]]]
"""Provokes one error on a manual clock; returns (its text, the name it must say)."""


def box_net(handler: Any = None, *, capacity: int | None = 2, initial: Any = ()) -> Any:
    """``jobs`` -> ``work`` -> ``box`` (of ``capacity``); ``handler`` is work's (default: pass on)."""

    async def passes_on(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {"box": consumed[0]}

    builder = NetBuilder("Boxes")
    jobs = builder.place("jobs", initial=initial)
    box = builder.place("box", capacity=capacity)
    builder.transition(name="work", inputs=[jobs], outputs=[box])(handler or passes_on)
    return builder.build()


def caught(action: Callable[[], Any]) -> str:
    """The text of what ``action()`` raised."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 (each case's text is checked by the test)
        action()
    return str(raised.value)


async def caught_async(action: Callable[[], Awaitable[Any]]) -> str:
    """The text of what awaiting ``action()`` raised."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 (each case's text is checked by the test)
        await action()
    return str(raised.value)


async def recorded(clock: ManualClock, handler: Any, *, cause: bool = False, **options: Any) -> str:
    """What the runner kept in ``errors`` after work's ``handler`` failed on one job (its cause's text
    with ``cause``: what the handler raised)."""
    runner = Runner(box_net(handler, **options), {}, clock)
    runner.add_token("jobs", "job")
    await runner.run_until_idle()
    await runner.stop()
    (error,) = runner.errors
    return str(error.__cause__ if cause else error)


async def full_place(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(capacity=1), {}, clock)
    runner.add_token("box", 1)
    return caught(lambda: runner.add_token("box", 2)), "'Boxes.box'"


async def a_string_batch(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(), {}, clock)
    return caught(lambda: runner.add_tokens("box", "ab")), "'Boxes.box'"


async def a_lone_value_batch(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(), {}, clock)
    return caught(lambda: runner.add_tokens("box", 42)), "'Boxes.box'"


async def a_batch_too_big(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(capacity=2), {}, clock)
    return caught(lambda: runner.add_tokens("box", [1, 2, 3])), "'Boxes.box'"


async def another_timebase(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(), {}, clock)
    await runner.start()
    said = await caught_async(lambda: runner.start(ManualClock()))
    await runner.stop()
    return said, "net 'Boxes'"


async def a_change_before_start(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(), {}, clock)
    return caught(lambda: runner.add_place("Boxes.more")), "net 'Boxes'"


async def removing_a_place_with_tokens(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(), {}, clock)
    await runner.start()
    runner.add_token("box", 1)
    said = await caught_async(lambda: runner.remove("Boxes.box"))
    await runner.stop()
    return said, "'Boxes.box'"


async def removing_a_token_not_there(clock: ManualClock) -> tuple[str, str]:
    runner = Runner(box_net(), {}, clock)
    return caught(lambda: runner.runtime.places[("Boxes", "box")].remove_tokens(["zz"])), "'Boxes.box'"


async def consumed_token_of_two(clock: ManualClock) -> tuple[str, str]:
    consumed = consumed_class({"jobs": ("Boxes.jobs", 0, 2)})(["a", "b"])
    return caught(lambda: consumed.token), "'Boxes.jobs'"


async def returns_no_output(clock: ManualClock) -> tuple[str, str]:
    async def returns_42(consumed: Any, bb: Any, timebase: Any) -> Any:
        return 42

    return await recorded(clock, returns_42, cause=True), "'Boxes.work'"


async def produces_into_a_full_place(clock: ManualClock) -> tuple[str, str]:
    async def three(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {"box": [1, 2, 3]}

    return await recorded(clock, three, cause=True), "'Boxes.work'"


async def emits_into_no_output(clock: ManualClock) -> tuple[str, str]:
    async def misspelt(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
        ctx.emit("bx", consumed[0])

    return await recorded(clock, misspelt, cause=True), "'Boxes.work'"


async def asks_for_a_key_without_a_store(clock: ManualClock) -> tuple[str, str]:
    async def keyed(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
        _ = ctx.idempotency_key

    return await recorded(clock, keyed, cause=True), "'Boxes.work'"


async def a_handler_fails_on_its_own(clock: ManualClock) -> tuple[str, str]:
    async def fails(consumed: Any, bb: Any, timebase: Any) -> None:
        raise ValueError("no work today")  # a user's error, with no fix of its own

    return await recorded(clock, fails), "'Boxes.work'"


async def cancelled_from_outside(clock: ManualClock) -> tuple[Any, Runner]:
    """What ``run_until_idle()`` said is stuck, and the runner, after work's firing was cancelled from
    outside the runner."""

    async def slow(consumed: Any, bb: Any, timebase: Any) -> None:
        await timebase.sleep(10)

    runner = Runner(box_net(slow), {}, clock)
    runner.add_token("jobs", "job")
    idle = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(0)
    for task in asyncio.all_tasks():
        if task is not idle and task is not asyncio.current_task():
            task.cancel()  # as an application shutting down does
    (stuck,) = await asyncio.wait_for(idle, 5)
    await runner.stop()
    return stuck, runner


async def a_cancelled_firing_holds_back_its_tokens(clock: ManualClock) -> tuple[str, str]:
    stuck, _ = await cancelled_from_outside(clock)
    return str(stuck.error), "'Boxes.work'"


async def a_cancelled_firing_is_recorded(clock: ManualClock) -> tuple[str, str]:
    _, runner = await cancelled_from_outside(clock)
    return str(runner.errors[-1]), "'Boxes.work'"


async def a_source_gives_no_tokens(clock: ManualClock) -> tuple[str, str]:
    @pn.net
    def Feed(builder: NetBuilder) -> None:
        feed = builder.io_input_place("feed", lambda bb, timebase: 42)
        out = builder.place("out")
        builder.transition(name="move", inputs=[feed], outputs=[out])(lambda c, bb, tb: {out: c[0]})

    runner = Runner(Feed, {}, clock)
    await runner.run_until_idle()
    await runner.stop()
    return str(runner.errors[-1]), "'Feed.feed'"


async def a_sink_fails(clock: ManualClock) -> tuple[str, str]:
    @pn.net
    def Drain(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["job"])

        @builder.io_output_place()
        def out(token: Any, bb: Any, timebase: Any) -> None:
            raise ValueError("no room on the shelf")

        builder.transition(name="move", inputs=[src], outputs=[out])(lambda c, bb, tb: {out: c[0]})

    runner = Runner(Drain, {}, clock)
    await runner.run_until_idle()
    await runner.stop()
    return str(runner.errors[-1]), "'Drain.out'"


CASES: list[Case] = [
    full_place,
    a_string_batch,
    a_lone_value_batch,
    a_batch_too_big,
    another_timebase,
    a_change_before_start,
    removing_a_place_with_tokens,
    removing_a_token_not_there,
    consumed_token_of_two,
    returns_no_output,
    produces_into_a_full_place,
    emits_into_no_output,
    asks_for_a_key_without_a_store,
    a_handler_fails_on_its_own,
    a_cancelled_firing_holds_back_its_tokens,
    a_cancelled_firing_is_recorded,
    a_source_gives_no_tokens,
    a_sink_fails,
]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
async def test_a_runtime_error_names_what_is_at_fault_and_ends_with_one_fix(
    clock: ManualClock, case: Case
) -> None:
    said, name = await case(clock)
    problem, fix = split_fix(said)
    assert fix is not None, f"no '. Fix: ' part in: {said}"
    assert ". Fix: " not in fix and fix.strip(), f"not exactly one fix, at the end, in: {said}"
    assert name in problem, f"{name} is not named before the fix in: {said}"
