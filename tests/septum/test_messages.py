"""Messages: FIFO within a priority, priorities, the bounded queue and its overflow policies."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import QueueOverflowError
from mycorrhizal.septum import (
    LabeledTransition,
    StateConfiguration,
    StateMachine,
    StateMachineComplete,
    Unhandled,
    septum,
)

from ._helpers import E, log_to, make, terminal

End = terminal()


def _record(ctx):
    if ctx.msg is not None:
        log_to(ctx, ctx.msg)
    return E.DONE if ctx.msg == "stop" else None


Recorder = make("Recorder", on_state=_record, transitions=lambda: [LabeledTransition(E.DONE, End)])


@pytest.fixture
def bb() -> dict:
    return {}


async def test_thousand_messages_are_handled_in_the_order_sent(bb) -> None:
    fsm = StateMachine(Recorder, common_data=bb)
    await fsm.initialize()
    for i in range(1000):
        fsm.send_message(i)
    assert fsm.queue_size == 1000
    steps = await fsm.run()
    assert steps == 1001  # the entry run plus one step per message
    assert bb["log"] == list(range(1000))
    assert fsm.is_idle


async def test_common_data_is_the_object_given_and_msg_is_not_wrapped(bb) -> None:
    seen = []
    msg = object()
    probe = make(
        "Probe",
        on_state=lambda ctx: seen.append((ctx.common, ctx.msg)),
        config=StateConfiguration(can_dwell=True),
    )
    fsm = StateMachine(probe, common_data=bb)
    fsm.send_message(msg)
    await fsm.run()
    assert seen == [(bb, None), (bb, msg)]
    assert seen[1][0] is bb and seen[1][1] is msg
    assert fsm.common is bb


@given(st.lists(st.tuples(st.integers(-2, 2), st.integers()), max_size=60))
async def test_higher_priority_first_and_fifo_within_a_priority(items) -> None:
    bb: dict = {}
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=None)
    await fsm.initialize()
    for seq, (priority, value) in enumerate(items):
        fsm.send_message((priority, seq, value), priority=priority)
    await fsm.run()
    got = bb.get("log", [])
    assert got == sorted(got, key=lambda m: (-m[0], m[1]))
    assert sorted(got) == sorted((p, i, v) for i, (p, v) in enumerate(items))


async def test_full_queue_raises_by_default_and_counts(bb, caplog) -> None:
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=3)
    for i in range(3):
        assert fsm.send_message(i) is True
    with (
        caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"),
        pytest.raises(
            QueueOverflowError, match=r"state Recorder\): message queue is full \(3 messages\)"
        ) as info,
    ):
        fsm.send_message("late")
    # The error's text names the machine and the state; the refused message is its .event, and
    # the WARNING line names it (docs/septum.md, "Messages and the queue").
    assert info.value.event == "late" and info.value.state == "Recorder"
    assert "queue full (3), refused 'late' (overflow #1)" in caplog.text
    assert fsm.overflow_count == 1
    await fsm.run()
    assert bb["log"] == [0, 1, 2]


async def test_drop_newest_refuses_counts_and_logs(bb, caplog) -> None:
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=2, queue_overflow="drop_newest")
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        results = [fsm.send_message(i) for i in range(4)]
    assert results == [True, True, False, False]
    assert fsm.overflow_count == 2
    assert "dropped new message 3 (overflow #2)" in caplog.text
    await fsm.run()
    assert bb["log"] == [0, 1]


async def test_drop_oldest_evicts_the_longest_waiting_lowest_priority(bb, caplog) -> None:
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=3, queue_overflow="drop_oldest")
    fsm.send_message("a")
    fsm.send_message("low", priority=-1)
    fsm.send_message("b")
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        assert fsm.send_message("c") is True  # evicts "low", the lowest priority
        assert fsm.send_message("d") is True  # evicts "a", the oldest of priority 0
    assert fsm.overflow_count == 2
    assert "evicted oldest message 'low'" in caplog.text
    await fsm.run()
    assert bb["log"] == ["b", "c", "d"]


async def test_drop_oldest_with_only_high_priority_messages(bb) -> None:
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=2, queue_overflow="drop_oldest")
    fsm.send_message("x", priority=5)
    fsm.send_message("y", priority=5)
    fsm.send_message("z", priority=5)
    await fsm.run()
    assert bb["log"] == ["y", "z"]


async def test_unbounded_queue_when_asked(bb) -> None:
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=None)
    for i in range(20_000):
        fsm.send_message(i)
    await fsm.run()
    assert len(bb["log"]) == 20_000


async def test_ctx_send_message_queues_behind_the_current_one(bb) -> None:
    def on_state(ctx):
        if ctx.msg is None:
            return None
        log_to(ctx, ctx.msg)
        if ctx.msg < 3:
            ctx.send_message(ctx.msg + 10)
        return None

    s = make("Echo", on_state=on_state, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s, common_data=bb)
    fsm.send_message(1)
    fsm.send_message(2)
    await fsm.run()
    assert bb["log"] == [1, 2, 11, 12]


async def test_unhandled_messages_are_counted_and_logged(bb, caplog) -> None:
    s = make(
        "Picky",
        on_state=lambda ctx: E.SKIP if ctx.msg == "junk" else None,
        transitions=lambda: [LabeledTransition(E.SKIP, Unhandled)],
    )
    fsm = StateMachine(s, common_data=bb)
    with caplog.at_level(logging.INFO, logger="mycorrhizal.septum"):
        fsm.send_message("junk")
        fsm.send_message("fine")
        fsm.send_message("junk")
        await fsm.run()
    assert fsm.unhandled_count == 2
    assert fsm.current_state is s
    assert "Picky left message 'junk' unhandled (unhandled #2)" in caplog.text


@pytest.mark.parametrize(
    ("call", "refused"),
    [
        (lambda fsm: fsm.send_message("late"), "it takes no more messages"),
        (lambda fsm: fsm.send("late"), "it takes no more messages"),
        (lambda fsm: fsm.tick(), "it has no more steps"),
        (lambda fsm: fsm.step(), "it has no more steps"),
    ],
    ids=["send_message", "send", "tick", "step"],
)
async def test_complete_machine_refuses_messages_and_steps_saying_what_to_do(call: Any, refused: str) -> None:
    fsm = StateMachine(End)
    await fsm.initialize()
    assert fsm.is_complete
    message = f"machine End is complete (terminal state End); {refused}. "
    message += "Fix: build a new StateMachine to run the states again"
    with pytest.raises(StateMachineComplete, match=f"^{re.escape(message)}$"):
        call(fsm)


async def test_a_group_declared_in_a_function_is_named_as_written(caplog: pytest.LogCaptureFixture) -> None:
    # Its name, the class's qualname, read "test_....<locals>.Grp" in errors and logs.
    @septum.group
    class Grp:
        start = End

    caplog.set_level(logging.INFO, "mycorrhizal.septum")
    fsm = StateMachine(Grp)
    await fsm.initialize()
    with pytest.raises(StateMachineComplete, match=r"^machine Grp is complete \(terminal state End\)"):
        fsm.send_message("late")
    assert caplog.messages == ["machine Grp: start in End", "machine Grp: complete in terminal state End"]


async def test_a_group_declared_in_a_function_is_named_as_written_in_records_and_pictures() -> None:
    # Records (so event logs and metrics labels), pictures and repr read "test_....<locals>.Grp".
    @septum.group
    class Grp:
        start = End

    fsm = StateMachine(Grp)
    records: list[Any] = []
    fsm.add_observer(records.append)
    await fsm.initialize()
    assert records and {record.source for record in records} == {"Grp"}
    assert fsm.to_diagram().name == "Grp" and repr(fsm) == "<StateMachine Grp in End>"


async def test_default_blackboard_is_a_fresh_dict_per_machine() -> None:
    a, b = StateMachine(Recorder), StateMachine(Recorder)
    assert a.common == {} and a.common is not b.common
    a.send_message("x")
    await a.run()
    assert a.common == {"log": ["x"]} and b.common == {}
    with pytest.raises(AttributeError, match="'Context' object has no attribute 'nope'"):
        _ = a.ctx.nope  # type: ignore[union-attr]


async def test_blackboard_is_the_same_object_before_and_after_the_machine_runs() -> None:
    fsm = StateMachine(Recorder)
    early = fsm.common  # asked for before any handler ran
    fsm.send_message("m")
    await fsm.run()
    assert fsm.common is early and early == {"log": ["m"]}


@pytest.mark.parametrize("bad", [1.5, "high", True])
def test_priority_must_be_an_int(bad) -> None:
    with pytest.raises(
        TypeError,
        match=r"^machine Recorder: send_message\(priority=...\) takes an int, got .*\. Fix: pass an int",
    ):
        StateMachine(Recorder).send_message("m", priority=bad)


@pytest.mark.parametrize("policy", ["raise", "drop_newest", "drop_oldest"])
def test_a_bad_priority_on_a_full_queue_is_refused_before_any_overflow(policy) -> None:
    fsm = StateMachine(Recorder, max_queue_size=1, queue_overflow=policy)
    fsm.send_message("kept")
    with pytest.raises(TypeError, match="takes an int"):
        fsm.send_message("m", priority="high")
    assert fsm.queue_size == 1 and fsm.overflow_count == 0


_operation = st.one_of(
    st.tuples(st.just("send"), st.integers(-2, 2)),
    st.tuples(st.just("step"), st.just(0)),
)


@given(
    policy=st.sampled_from(["raise", "drop_newest", "drop_oldest"]),
    limit=st.integers(1, 4),
    operations=st.lists(_operation, max_size=40),
)
async def test_queue_matches_its_model_under_priorities_and_overflow(policy, limit, operations) -> None:
    """Handled order, refusals, evictions and counts match a plain list model of the documented rules."""
    bb: dict = {}
    fsm = StateMachine(Recorder, common_data=bb, max_queue_size=limit, queue_overflow=policy)
    await fsm.run()  # the entry run
    model: list[tuple[int, int]] = []  # (priority, sequence) in arrival order
    handled: list[tuple[int, int]] = []
    overflows = 0
    for seq, (what, priority) in enumerate(operations):
        if what == "step":
            steps = await fsm.run(max_steps=1)
            assert steps == (1 if model else 0)
            if model:
                top = max(p for p, _ in model)
                handled.append(model.pop(next(i for i, (p, _) in enumerate(model) if p == top)))
            continue
        msg = (priority, seq)
        if len(model) < limit:
            assert fsm.send_message(msg, priority=priority) is True
            model.append(msg)
            continue
        overflows += 1
        if policy == "raise":
            with pytest.raises(
                QueueOverflowError,
                match=r"machine Recorder \(state Recorder\): message queue is full \(\d+ messages\)\. "
                r"Fix: run\(\) the machine",
            ):
                fsm.send_message(msg, priority=priority)
        elif policy == "drop_newest":
            assert fsm.send_message(msg, priority=priority) is False
        else:
            low = min(p for p, _ in model)
            if priority < low:  # the newcomer is the lowest of all: it is the one given up
                assert fsm.send_message(msg, priority=priority) is False
                continue
            assert fsm.send_message(msg, priority=priority) is True
            model.pop(next(i for i, (p, _) in enumerate(model) if p == low))
            model.append(msg)
        assert fsm.queue_size == len(model)
    assert bb.get("log", []) == handled
    assert fsm.overflow_count == overflows and fsm.queue_size == len(model)


async def test_withdraw_takes_back_exactly_the_object_sent_if_still_queued(bb) -> None:
    first, second, urgent = ["m"], ["m"], ["m"]  # equal but distinct messages
    fsm = StateMachine(Recorder, common_data=bb)
    await fsm.run()
    fsm.send_message(first)
    fsm.send_message(second)
    fsm.send_message(urgent, priority=3)
    assert fsm.withdraw(second) is True and fsm.withdraw(urgent) is True
    assert fsm.withdraw(second) is False and fsm.queue_size == 1
    await fsm.run()
    assert bb["log"] == [first] and bb["log"][0] is first
    assert fsm.withdraw(first) is False  # already handled


async def test_messages_left_when_the_machine_completes_are_reported_not_dropped_silently(caplog) -> None:
    fsm = StateMachine(Recorder)
    for msg in ("stop", "late", "later"):
        fsm.send_message(msg)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        await fsm.run()
    assert fsm.is_complete and fsm.common["log"] == ["stop"] and fsm.queue_size == 2
    expected = "machine Recorder: complete in terminal state End with 2 queued messages never handled"
    assert expected in caplog.text


def _looping_state(calls: list, is_async: bool):
    """S1 -> S1 on every message (the message path of benchmarks/septum_bench.py); ``calls`` gets
    every on_state run's ``ctx.msg``."""

    def on_state(ctx):
        calls.append(ctx.msg)
        return None if ctx.msg is None else E.GO

    async def on_state_async(ctx):
        return on_state(ctx)

    itself: list = []  # the transition's target is the state being made
    state = make(
        "Looping",
        on_state=on_state_async if is_async else on_state,
        transitions=lambda: [LabeledTransition(E.GO, itself[0])],
    )
    itself.append(state)
    return state


@pytest.mark.parametrize("is_async", [True, False], ids=["async handler", "plain handler"])
@pytest.mark.parametrize("watched", ["fast path", "observer", "INFO log"])
async def test_send_message_then_run_hands_each_message_to_the_handler_once(
    is_async, watched, caplog
) -> None:
    calls: list = []
    fsm = StateMachine(_looping_state(calls, is_async))
    if watched == "observer":
        fsm.add_observer(lambda event: None)
    if watched == "INFO log":
        caplog.set_level(logging.INFO, logger="mycorrhizal.septum")
    await fsm.run()  # the entry run
    for i in range(5):
        fsm.send_message(i)
        assert await fsm.run() == 2  # the message, then the entry run the self-transition owes
    # Each message reaches on_state exactly once; the only other runs are entry runs (msg None).
    assert calls == [None, 0, None, 1, None, 2, None, 3, None, 4, None]
    assert fsm.is_idle and fsm.queue_size == 0
