"""Atomic firing and error policies: no token is ever lost, and a failing handler never spins."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock
from mycorrhizal.hypha import FailedToken, NetBuilder, OnError, Runner, pn

from .conftest import settle


def failing_net(
    *,
    on_error: Any = OnError.RETURN,
    retry_delay: float | None = None,
    suspend: bool = False,
    fail_on: Any = None,
) -> tuple[Any, list[Any]]:
    """``src`` -> ``work`` -> ``out``; work raises for tokens in ``fail_on`` (all when None)."""
    calls: list[Any] = []

    @pn.net
    def Failing(builder: NetBuilder) -> None:
        src = builder.place("src")
        out = builder.place("out")
        builder.place("dead")

        @builder.transition(inputs=[src], outputs=[out], on_error=on_error, retry_delay=retry_delay)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            calls.append(consumed[0])
            if suspend:
                await timebase.sleep(1)
            if fail_on is None or consumed[0] in fail_on:
                raise ValueError(f"cannot handle {consumed[0]}")
            return {out: consumed[0]}

    return Failing, calls


async def test_failed_tokens_go_back_to_the_head_in_their_original_order(clock: ManualClock) -> None:
    net, calls = failing_net(fail_on={"a"})
    runner = Runner(net, {}, clock)
    runner.add_tokens("src", ["a", "b", "c"])
    await runner.run_until_idle()
    # 'a' failed and went back to the head; the transition waits for a new token before retrying,
    # so a QUEUE keeps its order (a poison token at the head blocks the queue: use an error place)
    assert runner.marking()["src"] == ("a", "b", "c")
    assert runner.marking()["out"] == ()
    assert calls == ["a"]
    assert runner.stats.failures == 1 and runner.stats.returned == 1


async def test_concurrent_firings_fail_independently(clock: ManualClock) -> None:
    net, calls = failing_net(suspend=True, fail_on={"a"})
    runner = Runner(net, {}, clock)
    runner.add_tokens("src", ["a", "b", "c"])
    await settle(clock, runner.run_until_idle())
    assert runner.marking()["src"] == ("a",)
    assert runner.marking()["out"] == ("b", "c")
    assert calls == ["a", "b", "c"]


async def test_an_always_failing_handler_is_retried_only_when_the_marking_changes(bb: dict[str, Any]) -> None:
    net, calls = failing_net()
    runner = Runner(net, bb)
    runner.add_token("src", "x")
    await runner.run_until_idle()
    assert calls == ["x"]
    runner.add_token("src", "y")  # a new token: one more attempt (at the head, 'x')
    await runner.run_until_idle()
    assert calls == ["x", "x"]
    assert runner.marking()["src"] == ("x", "y")
    assert runner.stats.failures == 2 and runner.marking().total() == 2


async def test_two_failing_transitions_on_one_place_do_not_ping_pong(bb: dict[str, Any]) -> None:
    calls: list[str] = []

    @pn.net
    def Both(builder: NetBuilder) -> None:
        shared = builder.place("shared", initial=["tok"])

        @builder.transition(inputs=[shared])
        async def first(consumed: Any, bb: Any, timebase: Any) -> None:
            calls.append("first")
            raise RuntimeError("first")

        @builder.transition(inputs=[shared])
        async def second(consumed: Any, bb: Any, timebase: Any) -> None:
            calls.append("second")
            raise RuntimeError("second")

    runner = Runner(Both, bb)
    await runner.run_until_idle()
    assert sorted(calls) == ["first", "second"]
    assert runner.marking()["shared"] == ("tok",)


async def test_retry_delay_retries_on_the_timebase(clock: ManualClock) -> None:
    net, calls = failing_net(retry_delay=5, fail_on={"x"})
    runner = Runner(net, {}, clock)
    runner.add_token("src", "x")
    await settle(clock, runner.run_until_idle(), step=0.5)
    assert calls == ["x"]
    await clock.run_for(4.9)
    assert calls == ["x"]
    await clock.run_for(0.1)
    assert calls == ["x", "x"]
    await clock.run_for(5)
    assert calls == ["x", "x", "x"]
    await runner.stop()
    await clock.run_for(50)  # stopped: the retry timer is gone
    assert calls == ["x", "x", "x"]


@pytest.mark.parametrize("suspend", [False, True])
async def test_error_place_receives_failed_tokens_with_the_exception(
    clock: ManualClock, suspend: bool
) -> None:
    net, calls = failing_net(on_error="dead", suspend=suspend, fail_on={"b"})
    runner = Runner(net, {}, clock)
    runner.add_tokens("src", ["a", "b", "c"])
    await settle(clock, runner.run_until_idle())
    assert sorted(runner.marking()["out"]) == ["a", "c"]
    (failed,) = runner.marking()["dead"]
    assert isinstance(failed, FailedToken)
    assert failed.token == "b" and failed.transition == "Failing.work" and failed.place == "Failing.src"
    assert isinstance(failed.error, ValueError) and str(failed.error) == "cannot handle b"
    assert runner.stats.parked == 1


async def test_error_place_wraps_every_consumed_token(bb: dict[str, Any]) -> None:
    @pn.net
    def Multi(builder: NetBuilder) -> None:
        a = builder.place("a", initial=[1, 2])
        b = builder.place("b", initial=[3])
        dead = builder.place("dead")

        @builder.transition(on_error=dead)
        def boom(consumed: Any, bb: Any, timebase: Any) -> None:
            raise KeyError("k")

        builder.arc(a, boom, weight=2)
        builder.arc(b, boom)

    runner = Runner(Multi, bb)
    await runner.run_until_idle()
    dead = runner.marking()["dead"]
    assert [(f.token, f.place) for f in dead] == [(1, "Multi.a"), (2, "Multi.a"), (3, "Multi.b")]
    assert runner.marking().total() == 3


async def test_failures_are_logged_and_recorded(bb: dict[str, Any], caplog: Any) -> None:
    runner = Runner(failing_net()[0], bb)
    runner.add_token("src", "x")
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    failure = (
        "transition 'Failing.work' failed with ValueError: cannot handle x; its 1 consumed token(s) were "
        "returned to their input places; it is retried when a new token reaches one of its inputs. Fix: "
        "handle ValueError in the handler of 'Failing.work', or give it on_error='<a place>' so that a "
        "token it fails on does not hold back the others"
    )
    (record, idle) = caplog.records
    assert (record.levelno, record.getMessage(), record.exc_info) == (logging.WARNING, failure, None)
    assert idle.getMessage() == (
        "net Failing: idle, but transition 'Failing.work' holds back 1 token(s) after ValueError: "
        "cannot handle x; retried when a new token arrives"
    )
    (error,) = runner.errors
    assert isinstance(error, HandlerError) and error.transition == "Failing.work"
    assert isinstance(error.__cause__, ValueError)
    with pytest.raises(HandlerError, match=r"transition 'Failing.work' failed with ValueError"):
        raise error


async def test_the_traceback_of_a_handled_failure_is_logged_at_debug(bb: dict[str, Any], caplog: Any) -> None:
    runner = Runner(failing_net()[0], bb)
    runner.add_token("src", "x")
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    (traced,) = [r for r in caplog.records if r.exc_info]
    assert traced.levelno == logging.DEBUG and traced.getMessage().startswith("traceback of: transition")
    assert traced.exc_info is not None and isinstance(traced.exc_info[1], ValueError)


async def test_bounded_places_keep_their_room_across_a_failure(bb: dict[str, Any]) -> None:
    @pn.net
    def Bounded(builder: NetBuilder) -> None:
        src = builder.place("src", capacity=2, initial=[1, 2])
        out = builder.place("out", capacity=1)

        @builder.transition(inputs=[src], outputs=[out])
        def boom(consumed: Any, bb: Any, timebase: Any) -> None:
            raise ValueError("no")

    runner = Runner(Bounded, bb)
    await runner.run_until_idle()
    assert runner.marking()["src"] == (1, 2)
    from mycorrhizal.common import CapacityError

    with pytest.raises(CapacityError, match=r"place 'Bounded.src' is full"):
        runner.add_token("src", 3)
    runner.add_token("out", "fits")  # the reservation on 'out' was released


async def test_cancellation_of_a_firing_returns_its_tokens(clock: ManualClock) -> None:
    net, calls = failing_net(suspend=True, fail_on=set())
    runner = Runner(net, {}, clock)
    runner.add_tokens("src", ["a", "b"])
    await runner.start()
    await clock.run_for(0)
    assert runner.in_flight == 2
    for task in list(runner._inflight.tasks):
        task.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sorted(runner.marking()["src"]) == ["a", "b"]
    assert runner.stats.cancelled == 2
    await runner.stop()


class Abort(BaseException):
    """Stands for KeyboardInterrupt/SystemExit: not a handler failure, but must not lose tokens."""


@pytest.mark.parametrize("plain", [True, False])
async def test_base_exceptions_propagate_but_keep_the_tokens(bb: dict[str, Any], plain: bool) -> None:
    @pn.net
    def Abortive(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["keep me"])

        if plain:

            @builder.transition(inputs=[src])
            def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                raise Abort()

        else:

            @builder.transition(inputs=[src])
            async def stop_everything(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
                raise Abort()

    runner = Runner(Abortive, bb)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: None)  # the loop would log the escaped callback error
    with pytest.raises(Abort):
        await runner.run_until_idle()
    assert runner.marking()["src"] == ("keep me",)
    assert runner.stats.failures == 0


def _abort_then_ship(shape: str) -> Any:
    """``stop_everything`` (priority 1) raises Abort; ``ship`` (priority 0), ready in the same pass,
    moves its token on.  ``shape`` picks the path the aborting firing takes through the pass."""

    @pn.net
    def AbortThenShip(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["keep me"])
        box = builder.place("box", initial=["parcel"])
        out = builder.place("out")

        if shape == "plain":

            @builder.transition(inputs=[src], priority=1)
            def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                raise Abort()

        elif shape == "hot":

            @builder.transition(inputs=[src], priority=1)
            async def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                raise Abort()

        else:

            @builder.transition(inputs=[src], priority=1, guard=lambda token: True)
            def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                raise Abort()

        @builder.transition(inputs=[box], outputs=[out])
        def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    return AbortThenShip


@pytest.mark.parametrize("shape", ["plain", "hot", "guarded"])
async def test_after_a_pass_raised_the_transitions_still_ready_fire_on_the_next_run_until_idle(
    clock: ManualClock, caplog: Any, shape: str
) -> None:
    """A caller that catches the exception and goes on (a Ctrl-C handler asking "quit?") does not
    get a net that calls itself idle while ``ship`` waits with its token."""
    runner = Runner(_abort_then_ship(shape), {}, clock)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the escaped pass
    with caplog.at_level(logging.INFO, logger="mycorrhizal.hypha"), pytest.raises(Abort):
        await runner.run_until_idle()  # raises at once, in the old code too
    for _ in range(5):  # nothing fires by itself: the caller decides (it could stop() the runner here)
        await asyncio.sleep(0)
    assert runner.fired()["AbortThenShip.ship"] == 0 and runner.marking()["box"] == ("parcel",)
    (held,) = await settle(clock, runner.run_until_idle(), limit=5)  # stop_everything waits: told why
    assert (held.name, held.kind, held.waiting, held.retry_at) == (
        "AbortThenShip.stop_everything",
        "transition",
        1,
        None,
    )
    assert isinstance(held.error, Abort)
    assert runner.marking()["out"] == ("parcel",) and runner.marking()["box"] == ()
    assert runner.marking()["src"] == ("keep me",)  # and stop_everything is not fired again by itself
    assert runner.fired() == {"AbortThenShip.stop_everything": 0, "AbortThenShip.ship": 1}
    records = [
        r for r in caplog.records if r.name == "mycorrhizal.hypha" and re.search(r"\bAbort\b", r.getMessage())
    ]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO, logging.WARNING]
    told, passed, held_back = (r.getMessage() for r in records)
    assert told == (
        "net AbortThenShip: transition AbortThenShip.stop_everything raised Abort: no failure; its "
        "tokens went back to their input places and it is raised to the caller (run_until_idle())"
    )
    assert passed == (
        "net AbortThenShip: scheduler pass ended by Abort, raised to the caller; the transitions "
        "still ready fire at the next run_until_idle() or token"
    )
    assert held_back == (
        "net AbortThenShip: idle, but transition 'AbortThenShip.stop_everything' holds back 1 token(s) "
        "after Abort; retried when a new token arrives"
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("mycorrhizal")]
    await runner.stop()


def _abort_later(exc_type: type[BaseException], *, eager: bool) -> Any:
    """src -> stop_everything, whose handler runs in its own task (it suspends first, or is not
    eager) and then raises ``exc_type``."""

    @pn.net
    def Later(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["keep me"])

        @builder.transition(inputs=[src], eager=eager)
        async def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
            await asyncio.sleep(0)  # suspends: the firing goes on in a task (no time passes)
            raise exc_type()

    return Later


@pytest.mark.parametrize("eager", [True, False])
async def test_a_base_exception_from_a_suspended_firing_is_raised_by_run_until_idle(
    clock: ManualClock, eager: bool
) -> None:
    runner = Runner(_abort_later(Abort, eager=eager), {}, clock)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the task's error
    with pytest.raises(Abort):  # not a wait for ever: the firing's task ends with it
        await settle(clock, runner.run_until_idle(), limit=5)
    assert runner.marking()["src"] == ("keep me",) and runner.in_flight == 0
    assert runner.stats.failures == 0 and runner.fired() == {"Later.stop_everything": 0}
    # as after an inline firing: the transition is not fired again by itself (no spinning); it is
    # held, and run_until_idle() says so (returning at once)
    (held,) = await settle(clock, runner.run_until_idle(), limit=5)
    assert (held.name, held.waiting, held.retry_at) == ("Later.stop_everything", 1, None)
    assert isinstance(held.error, Abort) and runner.fired() == {"Later.stop_everything": 0}
    await runner.stop()


@pn.net
def LaterThenShip(builder: NetBuilder) -> None:
    """``stop_everything`` takes ``src``'s token, suspends and raises Abort; ``ship`` wants it too."""
    src = builder.place("src", initial=["keep me"])
    out = builder.place("out")

    @builder.transition(inputs=[src], priority=1)
    async def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
        await asyncio.sleep(0)  # suspends: the firing goes on in a task
        raise Abort()

    @builder.transition(inputs=[src], outputs=[out])
    def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: consumed[0]}


async def test_a_token_a_suspended_firing_gives_back_on_a_base_exception_sets_nothing_off_by_itself(
    clock: ManualClock,
) -> None:
    # As after a pass a BaseException ended: the token is back and ship may take it, but only in
    # the pass the next run_until_idle() (or token) asks for, not while the program shuts down.
    runner = Runner(LaterThenShip, {}, clock)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the task's error
    with pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    for _ in range(5):
        await asyncio.sleep(0)
    assert runner.fired()["LaterThenShip.ship"] == 0 and runner.marking()["src"] == ("keep me",)
    assert await settle(clock, runner.run_until_idle(), limit=5) == ()
    assert runner.marking()["out"] == ("keep me",)
    await runner.stop()


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("eager", [True, False])
def test_a_keyboard_interrupt_from_a_suspended_firing_leaves_the_loop_and_run_until_idle(
    exc_type: type[BaseException], eager: bool
) -> None:
    """A real KeyboardInterrupt leaves the event loop from the firing's task; a program that goes
    on driving the loop (or an ``asyncio.run`` that winds down) finds ``run_until_idle()`` ended by
    it, not waiting for ever."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)  # the firing's task's error
    runner = Runner(_abort_later(exc_type, eager=eager), {}, ManualClock())
    waiting = loop.create_task(runner.run_until_idle())
    escaped = 0
    try:
        for _ in range(20):  # loop turns, each one iteration of the event loop
            if waiting.done():
                break
            loop.call_soon(loop.stop)
            try:
                loop.run_forever()
            except exc_type:
                escaped += 1
        assert waiting.done() and isinstance(waiting.exception(), exc_type)
        assert escaped == 2  # out of the firing's task, then out of run_until_idle's
        assert runner.marking()["src"] == ("keep me",) and runner.in_flight == 0
    finally:
        loop.run_until_complete(runner.stop())
        loop.close()


async def test_a_handler_that_finishes_despite_cancellation_commits(clock: ManualClock) -> None:
    @pn.net
    def Stubborn(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["job"])
        out = builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        async def finish_anyway(consumed: Any, bb: Any, timebase: Any) -> Any:
            try:
                await timebase.sleep(10)
            except asyncio.CancelledError:
                return {out: ("cut short", consumed[0])}
            return {out: ("done", consumed[0])}

    runner = Runner(Stubborn, {}, clock)
    await runner.start()
    await clock.run_for(0)
    await runner.stop(cancel=True)
    assert runner.marking()["out"] == (("cut short", "job"),) and runner.marking()["src"] == ()


async def test_a_plain_function_returning_a_suspending_coroutine_that_fails(clock: ManualClock) -> None:
    async def later(timebase: Any) -> Any:
        await timebase.sleep(1)
        raise LookupError("gone")

    @pn.net
    def Wrapped(builder: NetBuilder) -> None:
        src = builder.place("src", initial=["a"])
        dead = builder.place("dead")
        builder.transition(name="t", inputs=[src], on_error=dead)(lambda c, bb, tb: later(tb))

    runner = Runner(Wrapped, {}, clock)
    await settle(clock, runner.run_until_idle())
    (failed,) = runner.marking()["dead"]
    assert failed.token == "a" and isinstance(failed.error, LookupError)


async def test_ctx_emit_from_a_handler_that_suspends(clock: ManualClock) -> None:
    @pn.net
    def Later(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[1, 2])
        out = builder.place("out")

        @builder.transition(inputs=[src], outputs=[out], concurrency=1)
        async def slow(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
            await timebase.sleep(1)
            ctx.emit(out, consumed[0] * 10)

    runner = Runner(Later, {}, clock)
    await settle(clock, runner.run_until_idle())
    assert runner.marking()["out"] == (10, 20) and clock.now() >= 2


async def test_retry_delay_survives_a_stop_and_a_restart(clock: ManualClock) -> None:
    net, calls = failing_net(retry_delay=5, fail_on={"x"})
    runner = Runner(net, {}, clock)
    runner.add_token("src", "x")
    await settle(clock, runner.run_until_idle(), step=0.5)
    assert calls == ["x"]
    await runner.stop()  # cancels the pending retry
    await runner.start()
    await clock.run_for(5)  # the restarted runner arms it again
    assert calls == ["x", "x"]
    await runner.stop()


async def test_handled_failures_of_every_kind_are_one_warning_line_without_a_traceback(
    clock: ManualClock, caplog: Any
) -> None:
    @pn.net
    def Noisy(builder: NetBuilder) -> None:
        src, mid, dead = builder.place("src", initial=[1, 2, 3]), builder.place("mid"), builder.place("dead")

        @builder.io_output_place(on_error=dead)
        def parked(token: Any, bb: Any, timebase: Any) -> None:
            raise OSError("parked sink")

        @builder.io_output_place()
        def retried(token: Any, bb: Any, timebase: Any) -> None:
            raise OSError("retried sink")

        @builder.transition(inputs=[src], outputs=[mid], guard=lambda consumed: 1 / (consumed[0] - 1))
        def guarded(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {mid: consumed[0]}

        @builder.transition(inputs=[mid], outputs=[parked, retried])
        def fan(consumed: Any, bb: Any, timebase: Any) -> Any:
            if consumed[0] == 3:
                raise ValueError("fan")
            return {parked: consumed[0], retried: consumed[0]}

    runner = Runner(Noisy, {}, clock)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    assert runner.stats.guard_errors and runner.stats.sink_failures == 2 and runner.stats.failures == 1
    handled = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(handled) >= 3 and all(r.exc_info is None and "\n" not in r.getMessage() for r in handled)
    assert [r for r in caplog.records if r.levelno > logging.WARNING] == []


@pytest.mark.parametrize("eager", [True, False])
async def test_a_base_exception_beside_a_firing_that_commits_does_not_fire_its_token_again(
    clock: ManualClock, eager: bool
) -> None:
    """Two firings of one transition end at the same instant: one commits (which makes the transition
    look at its input again), the other raises Abort.  The token that went back is not taken again by
    itself (it would raise the same exception again): a new token, or stop() and start(), lets it."""
    runs: list[Any] = []

    @pn.net
    def Pair(builder: NetBuilder) -> None:
        src, out = builder.place("src", initial=["ok", "abort"]), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out], eager=eager)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            runs.append(consumed[0])
            await timebase.sleep(1)
            if consumed[0] == "abort":
                raise Abort()
            return {out: consumed[0]}

    runner = Runner(Pair, {}, clock)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the firing's task
    with pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    assert runs == ["ok", "abort"] and runner.marking()["src"] == ("abort",) and runner.in_flight == 0
    for _ in range(3):
        clock.advance(1)
    (held,) = await settle(clock, runner.run_until_idle(), limit=5)
    assert held.name == "Pair.work" and isinstance(held.error, Abort)
    assert runs == ["ok", "abort"] and runner.marking() == {"Pair.src": ("abort",), "Pair.out": ("ok",)}
    runner.add_token("src", "later")  # a new token: the transition takes the returned one first
    with pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    assert runs == ["ok", "abort", "abort", "later"] and runner.marking()["out"] == ("ok", "later")
    await runner.stop()


async def test_a_retry_pending_from_an_earlier_failure_does_not_fire_a_base_exception_token_again(
    clock: ManualClock,
) -> None:
    """A failure arms a retry; a new token lets the transition fire before it expires, and that firing
    raises Abort.  The token Abort sent back is held until a new token or a restart: the old retry
    timer does not take it again by itself (which raised Abort again, from a loop callback)."""
    runs: list[Any] = []

    @pn.net
    def Once(builder: NetBuilder) -> None:
        src, out = builder.place("src"), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            runs.append(consumed[0])
            if len(runs) == 1:
                raise ValueError("transient")
            raise Abort()

    runner = Runner(Once, {}, clock)
    runner.add_token("src", "a")
    (stuck,) = await runner.run_until_idle()
    assert stuck.retry_at == 0.1
    runner.add_token("src", "b")  # a new token: the transition takes "a" again, which raises Abort
    with pytest.raises(Abort):
        await runner.run_until_idle()
    (held,) = await runner.run_until_idle()
    assert isinstance(held.error, Abort) and held.retry_at is None
    clock.advance(1)
    assert len(await runner.run_until_idle()) == 1
    assert runs == ["a", "a"] and runner.marking()["src"] == ("a", "b")
    await runner.stop()


async def test_a_failure_beside_a_base_exception_does_not_fire_its_token_again(clock: ManualClock) -> None:
    """Two firings of one transition end at the same instant: one raises Abort, the other fails.  The
    failure's retry does not take the token Abort sent back by itself: both wait for a new token (or
    stop() and start())."""
    runs: list[Any] = []

    @pn.net
    def Pair(builder: NetBuilder) -> None:
        src, out = builder.place("src", initial=["abort", "fail"]), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            runs.append(consumed[0])
            await timebase.sleep(1)
            if consumed[0] == "abort":
                raise Abort()
            raise ValueError("transient")

    runner = Runner(Pair, {}, clock)
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the firing's task
    with pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    assert runs == ["abort", "fail"] and runner.in_flight == 0
    for _ in range(3):
        clock.advance(1)
    (held,) = await settle(clock, runner.run_until_idle(), limit=5)
    assert held.retry_at is None and held.waiting == 2
    assert runs == ["abort", "fail"] and sorted(runner.marking()["src"]) == ["abort", "fail"]
    await runner.stop()
    await runner.start()  # a restart lets it fire again
    with pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    assert sorted(runs) == ["abort", "abort", "fail", "fail"]
    await runner.stop()


JAMMED = RuntimeError("the door is jammed. Fix: oil it")  # an error that ends with what to do


@pytest.mark.parametrize(
    ("on_error", "where"),
    [
        (
            OnError.RETURN,
            "returned to their input places; it is retried when a new token reaches one of its inputs",
        ),
        ("dead", "sent to error place 'Jam.dead'"),
    ],
    ids=["returned", "error place"],
)
async def test_a_failure_whose_error_says_what_to_do_says_it_last(
    bb: dict[str, Any], on_error: Any, where: str
) -> None:
    @pn.net
    def Jam(builder: NetBuilder) -> None:
        src, out, dead = builder.place("src"), builder.place("out"), builder.place("dead")

        @builder.transition(
            inputs=[src], outputs=[out], on_error=dead if on_error == "dead" else on_error, retry_delay=None
        )
        def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            raise JAMMED

    runner = Runner(Jam, bb)
    runner.add_token("src", 1)
    stuck = await runner.run_until_idle()
    (error,) = runner.errors
    failure = (
        f"transition 'Jam.work' failed with RuntimeError: the door is jammed; its 1 consumed token(s) were "
        f"{where}. Fix: oil it"
    )
    with pytest.raises(HandlerError, match=f"^{re.escape(failure)}$"):
        raise error
    if on_error == OnError.RETURN:
        (held,) = stuck
        assert str(held) == (
            "transition 'Jam.work' holds back 1 token(s) after RuntimeError: the door is jammed; retried "
            "when a new token arrives. Fix: oil it"
        )
    await runner.stop()
