"""Observers: the exact events of a run, async observers, and events that account for every token."""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import ManualClock
from mycorrhizal.common.observers import wants_all
from mycorrhizal.durability import MemoryStore
from mycorrhizal.hypha import (
    DeliveryFailed,
    FailedToken,
    FiringCancelled,
    FiringCommitted,
    FiringFailed,
    FiringStarted,
    GuardFailed,
    NetBuilder,
    Runner,
    SourceFailed,
    pn,
)
from tests._observing import CountingClock, Recorder
from tests.runtimes import Edges

from .conftest import settle
from .test_properties import NetShape, build, net_shapes


def summary(events: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for e in events:
        row: tuple[Any, ...] = (e.time, e.kind, dict(e.consumed))
        if isinstance(e, FiringCommitted):
            row += (dict(e.produced),)
        if isinstance(e, FiringFailed):
            row += (type(e.error).__name__, e.error_place)
        out.append(row)
    return out


async def test_a_failure_its_retry_a_cancellation_and_a_commit_in_order(clock: ManualClock) -> None:
    @pn.net
    def Story(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs", initial=["a"]), builder.place("done")

        @builder.transition(inputs=[jobs], outputs=[done], retry_delay=1.0)
        async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            bb["calls"] = bb.get("calls", 0) + 1
            if bb["calls"] == 1:
                raise ValueError("first try")
            await timebase.sleep(5)
            return {done: consumed[0].upper()}

    events = Recorder()
    runner = Runner(Story, {}, clock)
    runner.add_observer(events)
    await runner.run_until_idle()  # fails at once: the retry is 1 s away
    await clock.run_for(2)  # retried at 1, now sleeping until 6
    await runner.stop(cancel=True)  # cancelled at 2
    await runner.start()
    await clock.run_for(5)  # started again at 2, commits at 7
    await runner.stop()
    src = {"Story.jobs": ("a",)}
    assert summary(events) == [
        (0.0, "started", src),
        (0.0, "failed", src, "ValueError", None),
        (1.0, "started", src),
        (2.0, "cancelled", src),
        (2.0, "started", src),
        (7.0, "committed", src, {"Story.done": ("A",)}),
    ]
    assert {e.source for e in events} == {"Story"} and {e.transition for e in events} == {"Story.work"}
    assert all(isinstance(e, FiringStarted) for e in events[::2])
    assert isinstance(events[3], FiringCancelled)


async def test_failures_outside_firings_have_events_too(clock: ManualClock) -> None:
    events = Recorder()
    runner = Runner(Edges, {}, clock)
    runner.add_observer(events)
    await runner.run_until_idle()
    await runner.stop()
    kinds = Counter(type(e) for e in events)
    assert kinds == {
        SourceFailed: 1,
        GuardFailed: 1,
        FiringStarted: 1,
        FiringCommitted: 1,
        DeliveryFailed: 1,
    }
    (delivery,) = [e for e in events if isinstance(e, DeliveryFailed)]
    assert (delivery.place, delivery.token, delivery.error_place) == ("Edges.sink", 1, "Edges.dead")
    (source,) = [e for e in events if isinstance(e, SourceFailed)]
    assert source.place == "Edges.feed" and str(source.error) == "feed gone"


async def test_async_observers_get_every_event_in_order_by_the_time_stop_returns() -> None:
    @pn.net
    def Relay(builder: NetBuilder) -> None:
        src, out = builder.place("src", initial=range(5)), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        def relay(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

    seen: list[Any] = []

    @wants_all
    async def slow(event: Any) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    runner = Runner(Relay, {})
    runner.add_observer(slow)
    await runner.run_until_idle()
    await runner.stop()
    assert [(e.kind, e.consumed["Relay.src"]) for e in seen] == [
        (kind, (i,)) for i in range(5) for kind in ("started", "committed")
    ]


def place_counts(runner: Runner) -> Counter[str]:
    return Counter({name: len(tokens) for name, tokens in runner.marking().items()})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=net_shapes(), seed=st.integers(0, 2**16))
def test_firing_events_account_for_every_token(shape: NetShape, seed: int) -> None:
    """Whatever fails, returns or is parked: initial + produced - consumed, per place, is the marking."""

    async def check() -> None:
        rng = random.Random(seed)
        net = build(shape, rng, itertools.count())
        clock = ManualClock()
        runner = Runner(net, {}, clock)
        before = place_counts(runner)
        events = Recorder()
        runner.add_observer(events)
        await runner.start()
        for _ in range(30):
            await clock.run_for(1.0)
        await runner.stop(cancel=True)
        delta: Counter[str] = Counter()
        for e in events:
            if isinstance(e, FiringCommitted):
                delta.update({p: len(t) for p, t in e.produced.items()})
                delta.subtract({p: len(t) for p, t in e.consumed.items()})
            elif isinstance(e, FiringFailed) and e.error_place is not None:
                delta.subtract({p: len(t) for p, t in e.consumed.items()})
                delta[e.error_place] += sum(len(t) for t in e.consumed.values())
        after = place_counts(runner)
        assert {p: after[p] - before[p] for p in after} == {p: delta[p] for p in after}
        starts = sum(isinstance(e, FiringStarted) for e in events)
        ends = sum(isinstance(e, FiringCommitted | FiringFailed | FiringCancelled) for e in events)
        assert starts == ends  # every firing that started ended, once
        assert runner.stats.parked == sum(
            isinstance(t, FailedToken) for tokens in runner.marking().values() for t in tokens
        )

    asyncio.run(check())


@pn.net
def Pipe(builder: NetBuilder) -> None:
    """Two places in, one out, and the hottest shape (an eager coroutine handler)."""
    left, right, out = builder.place("left"), builder.place("right"), builder.place("out")

    @builder.transition(inputs=[left, right], outputs=[out])
    async def join(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: (consumed[0], consumed[1])}


def refuse_starts(kind: type) -> bool:
    return kind is not FiringStarted


@pytest.mark.parametrize("asks", ["nothing", "no starts", "everything"])
async def test_firing_starts_are_told_only_to_observers_that_ask_for_them(asks: str) -> None:
    events: list[Any] = []

    def observer(event: Any) -> None:
        events.append(event)

    if asks == "no starts":
        observer.wants = refuse_starts  # type: ignore[attr-defined]
    elif asks == "everything":
        wants_all(observer)
    runner = Runner(Pipe, {})
    runner.add_observer(observer)
    runner.add_token("left", "a")
    runner.add_token("right", "b")
    await runner.run_until_idle()
    kinds = [e.kind for e in events]
    assert kinds == (["started", "committed"] if asks == "everything" else ["committed"])
    committed = events[-1]
    assert committed.consumed == {"Pipe.left": ("a",), "Pipe.right": ("b",)}
    assert committed.produced == {"Pipe.out": (("a", "b"),)}
    seen = Recorder()
    runner.add_observer(seen)  # one that asks for everything: it gets the starts, the first only if it asked
    events.clear()
    runner.add_token("left", "c")
    runner.add_token("right", "d")
    await runner.run_until_idle()
    assert [e.kind for e in seen] == ["started", "committed"]
    assert seen[0].consumed == {"Pipe.left": ("c",), "Pipe.right": ("d",)}
    assert [e.kind for e in events] == kinds


async def test_the_hot_path_tells_observers_of_each_firing() -> None:
    @pn.net
    def Relay(builder: NetBuilder) -> None:
        src, out = builder.place("src", initial=range(3)), builder.place("out")

        @builder.transition(inputs=[src], outputs=[out])
        async def relay(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0] * 10}

    events = Recorder()
    runner = Runner(Relay, {})
    runner.add_observer(events)
    await runner.run_until_idle()
    assert [(e.kind, e.consumed, getattr(e, "produced", None)) for e in events] == [
        row
        for i in range(3)
        for row in (
            ("started", {"Relay.src": (i,)}, None),
            ("committed", {"Relay.src": (i,)}, {"Relay.out": (i * 10,)}),
        )
    ]


@pn.net
def Sink(builder: NetBuilder) -> None:
    """src -> drop: a hot firing (an eager async handler) that produces nothing."""
    src = builder.place("src")

    @builder.transition(inputs=[src])
    async def drop(consumed: Any, bb: Any, timebase: Any) -> None:
        return None


async def test_a_lone_observer_on_the_hot_path_has_the_guarantees_of_any(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The hot path's reporter calls a lone plain observer directly (no Observers.emit() frame).
    seen: list[Any] = []

    async def record(event: Any) -> None:
        seen.append(event)

    @wants_all
    def disguised(event: Any) -> Any:
        return record(event)  # a plain observer returning a coroutine: delivered in order

    runner = Runner(Sink, {})
    runner.add_observer(disguised)
    runner.add_token("src", "a")
    await runner.run_until_idle()
    await runner.stop()
    assert [(e.kind, e.consumed) for e in seen] == [
        ("started", {"Sink.src": ("a",)}),
        ("committed", {"Sink.src": ("a",)}),
    ]

    @wants_all
    def raising(event: Any) -> None:
        raise RuntimeError("observer bug")

    runner = Runner(Sink, {})
    runner.add_observer(raising)
    runner.add_token("src", "b")
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    assert "is detached" in caplog.text and runner.fired() == {"Sink.drop": 1}
    with pytest.raises(ValueError, match="that observer is not attached"):
        runner.remove_observer(raising)


async def test_records_are_timed_on_the_timebase_the_runner_was_last_started_on() -> None:
    first, second = ManualClock(), ManualClock()
    second.advance(100)
    events = Recorder()
    runner = Runner(Sink, {}, first)
    runner.add_observer(events)
    runner.add_token("src", "a")
    await runner.run_until_idle()
    await runner.stop()
    await runner.start(timebase=second)
    runner.add_token("src", "b")
    await runner.run_until_idle()
    await runner.stop()
    assert [(e.kind, e.time) for e in events] == [
        ("started", 0.0),
        ("committed", 0.0),
        ("started", 100.0),
        ("committed", 100.0),
    ]


# -- what a commit's record reads, on every path a firing can commit by ---------------------------------


SHAPES = ["nothing", "one token", "sync", "guarded", "two inputs", "a list", "two places"]


def _shaped(shape: str) -> Any:
    """left, right -> move -> out, other: ``move`` takes one token of ``left`` (and one of ``right``
    for "two inputs") and produces what ``shape`` says, by the path that shape takes."""

    @pn.net
    def Shaped(builder: NetBuilder) -> None:
        left, right = builder.place("left"), builder.place("right")
        out, other = builder.place("out"), builder.place("other")
        inputs = [left, right] if shape == "two inputs" else [left]
        produce: dict[str, Any] = {
            "nothing": {},
            "one token": {"out": "x"},
            "two inputs": {"out": "x"},
            "a list": {"out": ["x", "y"]},
            "two places": {"out": "x", "other": "y"},
        }
        guard = (lambda consumed: True) if shape == "guarded" else None
        result = produce.get(shape, {"out": "x"})

        if shape == "sync":

            def move(consumed: Any, bb: Any, timebase: Any) -> Any:
                return dict(result) or None

        else:

            async def move(consumed: Any, bb: Any, timebase: Any) -> Any:
                return dict(result) or None

        builder.transition(name="move", inputs=inputs, outputs=[out, other], guard=guard)(move)

    return Shaped


@pytest.mark.parametrize("debug", [False, True], ids=["", "DEBUG"])
@pytest.mark.parametrize(
    "shape", ["nothing", "one token", "sync", "guarded", "two inputs", "a list", "two places"]
)
async def test_a_commit_reads_its_tokens_by_place_whatever_path_it_took(
    shape: str, debug: bool, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []

    def plain(event: Any) -> None:  # asks for nothing: told the commits only
        seen.append(event)

    runner = Runner(_shaped(shape), {})
    runner.add_observer(plain)
    runner.add_token("Shaped.left", "a")
    runner.add_token("Shaped.right", "b")
    with caplog.at_level(logging.DEBUG if debug else logging.INFO, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    expected = {
        "nothing": {},
        "a list": {"Shaped.out": ("x", "y")},
        "two places": {"Shaped.out": ("x",), "Shaped.other": ("y",)},
    }.get(shape, {"Shaped.out": ("x",)})
    consumed = {"Shaped.left": ("a",)} | ({"Shaped.right": ("b",)} if shape == "two inputs" else {})
    (record,) = seen
    assert type(record) is FiringCommitted and record.transition == "Shaped.move"
    assert (record.consumed, record.produced) == (consumed, expected)
    again = pickle.loads(pickle.dumps(record))  # pickled as read: no runner state travels with it
    assert (again.consumed, again.produced) == (consumed, expected)
    assert repr(record).endswith(f"consumed={consumed!r}, produced={expected!r})")


@pytest.mark.parametrize("shape", ["nothing", "one token", "sync"])
async def test_a_lone_plain_observer_that_raises_on_a_commit_is_detached(
    shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    def raising(event: Any) -> None:
        raise RuntimeError("observer bug")

    runner = Runner(_shaped(shape), {})
    runner.add_observer(raising)
    for token in "ab":
        runner.add_token("Shaped.left", token)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    assert caplog.text.count("is detached") == 1 and runner.fired() == {"Shaped.move": 2}
    with pytest.raises(ValueError, match="that observer is not attached"):
        runner.remove_observer(raising)


async def _five_in_one_pass(
    shape: str, observers: list[Any], caplog: pytest.LogCaptureFixture
) -> tuple[Runner, int]:
    """A started runner of ``_shaped(shape)`` with ``observers``, after five tokens fired in one pass
    in which one observer raised and was detached; and how often the pass read the clock."""
    clock = CountingClock()
    runner = Runner(_shaped(shape), {}, clock)
    await runner.start()
    for observer in observers:
        runner.add_observer(observer)
    runner.add_tokens("Shaped.left", list(range(5)))
    before = clock.reads
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    assert caplog.text.count("is detached") == 1 and runner.fired() == {"Shaped.move": 5}
    return runner, clock.reads - before


@pytest.mark.parametrize("starts", [False, True], ids=["commits", "starts too"])
@pytest.mark.parametrize("shape", ["nothing", "one token", "sync", "guarded"])
async def test_once_the_last_observer_is_detached_no_record_is_built_for_nobody(
    shape: str, starts: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Detaching the last observer (it raised) left the runner watched until its next pass: every
    # firing after it in the same pass still built its records, for nobody.
    def raising(event: Any) -> None:
        raise RuntimeError("observer bug")

    if starts:
        raising = wants_all(raising)  # raises on the first FiringStarted
    runner, reads = await _five_in_one_pass(shape, [raising], caplog)
    assert reads == 1  # the record it raised on
    later = Recorder()  # one attached afterwards is told everything
    runner.add_observer(later)
    runner.add_token("Shaped.left", "a")
    await runner.run_until_idle()
    assert [e.kind for e in later] == ["started", "committed"]
    await runner.stop()


@pytest.mark.parametrize("shape", ["nothing", "one token", "sync", "guarded"])
async def test_once_the_observer_asking_for_starts_is_detached_no_start_is_built_for_the_others(
    shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Detaching (it raised) the one observer asking for FiringStarted, while another stays, left the
    # runner building a FiringStarted for every firing after it in the same pass, for nobody.
    told: list[str] = []

    @wants_all
    def asking(event: Any) -> None:
        told.append(f"asking: {type(event).__name__}")
        raise RuntimeError("observer bug")

    def plain(event: Any) -> None:  # (no wants(): not told FiringStarted)
        told.append(f"plain: {type(event).__name__}")

    runner, reads = await _five_in_one_pass(shape, [asking, plain], caplog)
    assert told == ["asking: FiringStarted", *["plain: FiringCommitted"] * 5]
    assert reads == 1 + 5  # the record it raised on, then the commits only
    await runner.stop()


class Abort(BaseException):
    """Stands for KeyboardInterrupt/SystemExit: not a failure; the tokens go back and it goes on."""


ABORTS = ["plain", "async", "async with ctx", "after a suspension", "not eager", "generator"]


def _aborting(shape: str) -> Any:
    """src -> stop_everything, whose handler raises :class:`Abort` by the path ``shape`` names."""

    @pn.net
    def Abortive(builder: NetBuilder) -> None:
        src = builder.place("src")
        eager = shape != "not eager"

        if shape == "plain":

            def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                raise Abort()

        elif shape == "async with ctx":

            async def stop_everything(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
                raise Abort()

        elif shape == "after a suspension":

            async def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                await timebase.sleep(1)
                raise Abort()

        elif shape == "generator":

            def stop_everything(consumed: Any, bb: Any, timebase: Any) -> Any:
                raise Abort()
                yield  # a generator handler

        else:

            async def stop_everything(consumed: Any, bb: Any, timebase: Any) -> None:
                raise Abort()

        builder.transition(inputs=[src], eager=eager)(stop_everything)

    return Abortive


@pytest.mark.parametrize("shape", ABORTS)
async def test_tokens_given_back_by_a_base_exception_are_told_as_a_cancelled_firing(
    shape: str, clock: ManualClock
) -> None:
    runner = Runner(_aborting(shape), {}, clock)
    events = Recorder()
    runner.add_observer(events)
    runner.add_token("Abortive.src", "keep me")
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    with pytest.raises(Abort):  # also from a firing in its own task ("after a suspension", "not eager")
        await settle(clock, runner.run_until_idle(), limit=5)
    assert runner.marking()["src"] == ("keep me",)
    # every FiringStarted has the record ending its firing: counted from records, the token is back
    assert [(type(e), dict(e.consumed)) for e in events] == [
        (FiringStarted, {"Abortive.src": ("keep me",)}),
        (FiringCancelled, {"Abortive.src": ("keep me",)}),
    ]
    await runner.stop()


# -- a record about a token comes after the record of the step that put it there -------------------

SHIPPING = ["function", "coroutine", "suspending", "two places", "guarded", "emitted", "journaled", "debug"]


def _shipping(shape: str) -> Any:
    """src -> ship -> out, an inline sink that raises (its token parked in 'dead'); ``shape`` picks
    the path the firing commits by."""

    @pn.net
    def Shipping(builder: NetBuilder) -> None:
        src, dead, kept = builder.place("src"), builder.place("dead"), builder.place("kept")

        @builder.io_output_place(on_error=dead)
        def out(token: Any, bb: Any, timebase: Any) -> None:
            raise OSError("out is down")

        outputs = [out, kept] if shape == "two places" else [out]
        guard = (lambda consumed: True) if shape == "guarded" else None
        if shape == "coroutine":

            async def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                return {out: consumed[0]}

        elif shape == "suspending":

            async def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                await timebase.sleep(1)
                return {out: consumed[0]}

        elif shape == "two places":

            def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                return {out: consumed[0], kept: consumed[0]}

        elif shape == "emitted":

            def ship(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
                ctx.emit(out, consumed[0])

        else:

            def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                return {out: consumed[0]}

        builder.transition(inputs=[src], outputs=outputs, guard=guard)(ship)

    return Shipping


def _order(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.kind, getattr(e, "transition", None) or e.place) for e in events]


@pytest.mark.parametrize("shape", SHIPPING)
async def test_a_sink_failing_inline_is_told_after_the_firing_that_produced_its_token(
    shape: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The commit put the token (running the inline sink, which raised) before it told its own
    # record: observers saw the token fail before the firing that produced it.
    store = MemoryStore() if shape == "journaled" else None
    runner = Runner(_shipping(shape), {}, clock, store=store, run="shipping" if store else None)
    events = Recorder()
    runner.add_observer(events)
    runner.add_token("src", "parcel")
    level = logging.DEBUG if shape == "debug" else logging.CRITICAL
    with caplog.at_level(level, logger="mycorrhizal.hypha"):
        await settle(clock, runner.run_until_idle())
    await runner.stop()
    assert _order(events) == [
        ("started", "Shipping.ship"),
        ("committed", "Shipping.ship"),
        ("delivery failed", "Shipping.out"),
    ]
    assert runner.marking()["dead"][0].token == "parcel"


@pytest.mark.parametrize("observer", ["plain", "async"])
async def test_a_sink_failing_on_a_parked_token_is_told_after_what_parked_it(
    observer: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed firing's tokens parked in a sink's place, and a failed delivery's token parked in
    another sink's place: each failure of theirs comes after the record that parked the token."""

    @pn.net
    def Parking(builder: NetBuilder) -> None:
        src, jobs, dead = builder.place("src"), builder.place("jobs"), builder.place("dead")

        @builder.io_output_place(on_error=dead)
        def alarm(token: Any, bb: Any, timebase: Any) -> None:
            raise OSError("alarm is down")

        @builder.io_output_place(on_error=alarm)
        def out(token: Any, bb: Any, timebase: Any) -> None:
            raise OSError("out is down")

        @builder.transition(inputs=[src], outputs=[out])
        def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: consumed[0]}

        @builder.transition(inputs=[jobs], outputs=[dead], on_error=alarm, priority=-1)
        def work(consumed: Any, bb: Any, timebase: Any) -> Any:
            raise ValueError("no work today")

    seen: list[Any] = []

    async def queued(event: Any) -> None:
        seen.append(event)

    runner = Runner(Parking, {}, clock)
    runner.add_observer(seen.append if observer == "plain" else queued)
    runner.add_tokens("src", ["parcel"])
    runner.add_tokens("jobs", ["job"])
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    await runner.stop()
    assert _order(seen) == [
        ("committed", "Parking.ship"),
        ("delivery failed", "Parking.out"),
        ("delivery failed", "Parking.alarm"),
        ("failed", "Parking.work"),
        ("delivery failed", "Parking.alarm"),
    ]


@pytest.mark.parametrize(
    ("way", "times"),
    [("add_token", [0.0]), ("retried", [0.0, 0.1]), ("suspended", [1.0]), ("start", [0.0])],
)
async def test_a_sink_failing_outside_a_firing_is_told_at_once(
    way: str, times: list[float], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A token added from outside, a retried delivery, a delivery that suspended and a sink kicked
    by start(): no record of their own, so a failure of theirs is told when it happens."""

    @pn.net
    def Outbox(builder: NetBuilder) -> None:
        @builder.io_output_place()
        async def out(token: Any, bb: Any, timebase: Any) -> None:
            bb["tries"] = bb.get("tries", 0) + 1
            if way == "suspended" and bb["tries"] == 1:
                await timebase.sleep(1)
            if bb["tries"] <= len(times):
                raise OSError("out is down")

    runner = Runner(Outbox, {}, clock)
    events = Recorder()
    runner.add_observer(events)
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        if way != "start":
            await runner.start()
        runner.add_token("out", "letter")
        if way == "start":
            await runner.start()
        told = len(events)
        await clock.run_for(2)  # the retries (0.1 s, then 0.2 s later), the suspended delivery's end
        await runner.stop()
    assert told == (way != "suspended")
    assert [(e.kind, e.time) for e in events] == [("delivery failed", t) for t in times]
    assert runner.stats.delivered == 1


async def test_a_sink_failure_held_when_the_last_observer_goes_is_told_to_no_later_one(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The firing's first token failed its sink (held for after the commit), its second token's
    # sink removed the only observer: the held record must not wait for the next one attached.
    first, later = Recorder(), Recorder()

    @pn.net
    def Leaving(builder: NetBuilder) -> None:
        src, dead = builder.place("src"), builder.place("dead")

        @builder.io_output_place(on_error=dead)
        def out(token: Any, bb: Any, timebase: Any) -> None:
            if token == "fails":
                raise OSError("out is down")
            if token == "leaves":
                bb["runner"].remove_observer(first)

        @builder.transition(inputs=[src], outputs=[out])
        def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {out: ["fails", "leaves"] if consumed[0] == "both" else consumed[0]}

    board: dict[str, Any] = {}
    runner = board["runner"] = Runner(Leaving, board, clock)
    runner.add_observer(first)
    runner.add_token("src", "both")
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
        runner.add_observer(later)
        runner.add_token("src", "fine")
        await runner.run_until_idle()
    await runner.stop()
    assert _order(first) == [("started", "Leaving.ship")]
    assert _order(later) == [("started", "Leaving.ship"), ("committed", "Leaving.ship")]


# -- a sink raising KeyboardInterrupt or the like inside a commit: the commit is told all the same -----


def _interrupting(shape: str, produced: Any) -> Any:
    """src -> ship -> out, whose inline sink parks "bad" in 'dead' and raises :class:`Abort` on
    "stop"; ``ship`` produces ``produced`` into out by the path ``shape`` names (see SHIPPING)."""

    @pn.net
    def Halting(builder: NetBuilder) -> None:
        src, dead, kept = builder.place("src"), builder.place("dead"), builder.place("kept")

        @builder.io_output_place(on_error=dead)
        def out(token: Any, bb: Any, timebase: Any) -> None:
            if token == "stop":
                raise Abort()
            raise OSError("out is down")

        outputs = [out, kept] if shape == "two places" else [out]
        guard = (lambda consumed: True) if shape == "guarded" else None
        if shape == "coroutine":

            async def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                return {out: produced}

        elif shape == "suspending":

            async def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                await timebase.sleep(1)
                return {out: produced}

        elif shape == "two places":

            def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                return {out: produced, kept: consumed[0]}

        elif shape == "emitted":

            def ship(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
                ctx.emit(out, produced)

        else:

            def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
                return {out: produced}

        builder.transition(inputs=[src], outputs=outputs, guard=guard)(ship)

    return Halting


@pytest.mark.parametrize("produced", ["stop", ["bad", "stop"]], ids=["one token", "a failure first"])
@pytest.mark.parametrize("shape", SHIPPING)
async def test_a_commit_whose_inline_sink_raises_a_base_exception_is_told_before_it_goes_on(
    shape: str, produced: Any, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The sink raised out of the commit's put, before the commit told its record (and the sink
    # failures held for after it): observers never heard of a firing whose tokens did move.
    store = MemoryStore() if shape == "journaled" else None
    runner = Runner(_interrupting(shape, produced), {}, clock, store=store, run="halting" if store else None)
    events = Recorder()
    runner.add_observer(events)
    runner.add_token("src", "parcel")
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    level = logging.DEBUG if shape == "debug" else logging.CRITICAL
    with caplog.at_level(level, logger="mycorrhizal.hypha"), pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    failed = [("delivery failed", "Halting.out")] if isinstance(produced, list) else []
    assert _order(events) == [("started", "Halting.ship"), ("committed", "Halting.ship"), *failed]
    marking = runner.marking()
    assert runner.fired() == {"Halting.ship": 1} and marking["src"] == () and marking["out"] == ("stop",)
    assert [f.token for f in marking["dead"]] == (["bad"] if failed else [])
    assert marking["kept"] == (("parcel",) if shape == "two places" else ())
    await runner.stop()


@pytest.mark.parametrize("way", ["add_tokens", "start", "after a suspension"])
async def test_a_sink_failure_before_a_base_exception_in_a_delivery_outside_a_firing_is_told(
    way: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # No record of their own: a failure is told once the delivery ends, which the sink's Abort
    # ended before it told the failure held meanwhile.
    @pn.net
    def Outbox(builder: NetBuilder) -> None:
        dead = builder.place("dead")

        @builder.io_output_place(on_error=dead)
        async def out(token: Any, bb: Any, timebase: Any) -> None:
            if token == "slow":
                await timebase.sleep(1)
            elif token == "stop":
                raise Abort()
            else:
                raise OSError("out is down")

    runner = Runner(Outbox, {}, clock)
    events = Recorder()
    runner.add_observer(events)
    tokens = ["slow", "bad", "stop"] if way == "after a suspension" else ["bad", "stop"]
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"), pytest.raises(Abort):
        if way == "start":
            runner.add_tokens("out", tokens)  # delivered when the runner starts
        await runner.start()
        if way != "start":
            runner.add_tokens("out", tokens)
        await settle(clock, runner.run_until_idle(), limit=5)
    assert _order(events) == [("delivery failed", "Outbox.out")]
    assert runner.marking()["out"] == ("stop",) and runner.marking()["dead"][0].token == "bad"
    await runner.stop()


async def test_a_failed_firing_whose_parked_tokens_sink_raises_a_base_exception_is_told(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    @pn.net
    def Parking(builder: NetBuilder) -> None:
        src = builder.place("src")

        @builder.io_output_place()
        def alarm(token: Any, bb: Any, timebase: Any) -> None:
            raise Abort()

        @builder.transition(inputs=[src], on_error=alarm)
        def work(consumed: Any, bb: Any, timebase: Any) -> None:
            raise ValueError("no work today")

    runner = Runner(Parking, {}, clock)
    events = Recorder()
    runner.add_observer(events)
    runner.add_token("src", "job")
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"), pytest.raises(Abort):
        await settle(clock, runner.run_until_idle(), limit=5)
    assert _order(events) == [("started", "Parking.work"), ("failed", "Parking.work")]
    assert [f.token for f in runner.marking()["alarm"]] == ["job"]
    assert [str(e) for e in runner.errors] == [
        "transition 'Parking.work' failed with ValueError: no work today; its 1 consumed token(s) were "
        "sent to error place 'Parking.alarm'. Fix: handle ValueError in the handler of 'Parking.work', or "
        "deal with the FailedTokens in 'Parking.alarm'"
    ]
    await runner.stop()
