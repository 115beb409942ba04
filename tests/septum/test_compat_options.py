"""0.x's ``StateMachine`` keywords (UPSTREAM-API §1.4): ``filter_fn``, ``trap_fn``, ``on_error_fn``
and ``queue_overflow_policy``, mapped onto this library's options."""

from __future__ import annotations

import logging
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import (
    DefinitionError,
    ExecutionError,
    HandlerError,
    PopFromEmptyStack,
    QueueOverflowError,
    UndeclaredLabelError,
)
from mycorrhizal.septum import HandlerFailed
from mycorrhizal.septum.core import (
    BlockedInUntimedState,
    LabeledTransition,
    NoStateToTick,
    Pop,
    Push,
    Retry,
    StateConfiguration,
    StateMachine,
    Unhandled,
    septum,
)


@septum.state(config=StateConfiguration(can_dwell=True))
def Broken():
    @septum.on_state
    async def on_state(ctx):
        return None


@septum.state(config=StateConfiguration(can_dwell=True))
def Listening():
    class Events(Enum):
        FAIL = auto()
        IGNORE = auto()

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is not None:  # not the entry run
            ctx.common.setdefault("seen", []).append(ctx.msg)
        if ctx.msg == "boom":
            raise ValueError("boom")
        if ctx.msg == "ignore":
            return Events.IGNORE
        return None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.FAIL, Broken), LabeledTransition(Events.IGNORE, Unhandled)]


async def test_filter_fn_drops_a_message_it_answers_truthily_with_a_debug_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[Any] = []

    def noisy(ctx: Any, msg: Any) -> bool:
        calls.append((ctx, msg))
        return msg == "noise"

    fsm = StateMachine(initial_state=Listening, common_data={}, filter_fn=noisy)
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.septum"):
        assert fsm.send_message("noise") is False
        assert fsm.send_message("signal") is True
        assert fsm.send_message("") is True  # a falsy message is never filtered, as in 0.x
    await fsm.run()
    assert fsm.common["seen"] == ["signal", ""]
    assert [msg for _, msg in calls] == ["noise", "signal"]
    assert calls[0][0] is fsm.context
    assert any("filter_fn dropped message 'noise'" in r.getMessage() for r in caplog.records)


async def test_trap_fn_is_called_when_a_message_is_answered_with_none_or_unhandled() -> None:
    trapped: list[Any] = []
    fsm = StateMachine(
        initial_state=Listening, common_data={}, trap_fn=lambda ctx: trapped.append((ctx, ctx.msg))
    )
    fsm.send_message("hello")
    fsm.send_message("ignore")
    await fsm.run()
    assert [msg for _, msg in trapped] == ["hello", "ignore"]
    assert all(ctx is fsm.context for ctx, _ in trapped)


async def test_on_error_fn_is_the_on_error_hook() -> None:
    errors: list[BaseException] = []

    def to_broken(ctx: Any, exc: BaseException) -> Any:
        errors.append(exc)
        return Broken

    fsm = StateMachine(initial_state=Listening, common_data={}, on_error_fn=to_broken)
    fsm.send_message("boom")
    await fsm.run()
    assert fsm.current_state is Broken
    assert len(errors) == 1 and "boom" in str(errors[0])


@septum.state(config=StateConfiguration(can_dwell=True, retries=1))
def Flaky():
    class Events(Enum):
        FAILED = auto()
        GIVE_UP = auto()
        ELSEWHERE = auto()

    @septum.on_enter
    async def on_enter(ctx):
        ctx.common["entries"] = ctx.common.get("entries", 0) + 1

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg == "boom":
            raise ValueError("boom")
        return None

    @septum.on_leave
    async def on_leave(ctx):
        ctx.common["left"] = ctx.common.get("left", 0) + 1

    @septum.on_fail
    async def on_fail(ctx):
        return Events.GIVE_UP

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.FAILED, Retry),
            LabeledTransition(Events.GIVE_UP, Broken),
            LabeledTransition(Events.ELSEWHERE, Broken),
        ]


@pytest.mark.parametrize("label", [Flaky.Events.FAILED, "FAILED", Retry, Retry()])
async def test_on_error_fn_may_return_a_label_taken_as_the_failing_handler_would(label: Any) -> None:
    seen: list[Any] = []

    def retry(ctx: Any, exc: BaseException) -> Any:
        seen.append((ctx.state, ctx.error))
        return label

    fsm = StateMachine(initial_state=Flaky, common_data={}, on_error_fn=retry)
    await fsm.initialize()
    fsm.send_message("boom")
    await fsm.run()
    assert fsm.current_state is Flaky and fsm.retry_count == 1
    assert fsm.common == {"entries": 2, "left": 1}  # Retry: left (on_leave) and entered again
    assert seen == [(Flaky, None)] and "boom" in str(fsm.context.error)
    fsm.send_message("boom")  # past the retries: on_fail chooses, as after any Retry
    await fsm.run()
    assert fsm.current_state is Broken and fsm.common["left"] == 2


async def test_a_label_from_on_error_fn_is_reported_to_observers() -> None:
    fsm = StateMachine(initial_state=Flaky, common_data={}, on_error_fn=lambda ctx, exc: "ELSEWHERE")
    events: list[Any] = []
    fsm.add_observer(events.append)
    fsm.send_message("boom")
    await fsm.run()
    assert fsm.current_state is Broken and fsm.common["left"] == 1  # left through on_leave
    failed = [e for e in events if isinstance(e, HandlerFailed)]
    assert [(e.state, e.routed_to) for e in failed] == [("Flaky", "ELSEWHERE")]


@pytest.mark.parametrize("answer", ["NOPE", 42, Push(Broken)])
async def test_on_error_fn_returning_what_the_state_does_not_declare_is_a_type_error(answer: Any) -> None:
    fsm = StateMachine(initial_state=Flaky, on_error_fn=lambda ctx, exc: answer)
    fsm.send_message("boom")
    with pytest.raises(TypeError, match="neither a septum state nor a label state Flaky declares"):
        await fsm.run()


@pytest.mark.parametrize("policy", ["block", "fail"])
def test_block_and_fail_refuse_a_message_on_a_full_queue_with_a_runtime_error(policy: str) -> None:
    fsm = StateMachine(initial_state=Listening, max_queue_size=2, queue_overflow_policy=policy)
    fsm.send_message("a")
    fsm.send_message("b")
    with pytest.raises(QueueOverflowError, match="message queue is full") as raised:
        fsm.send_message("c")
    assert isinstance(raised.value, RuntimeError)  # what 0.x raised
    assert fsm.queue_size == 2


async def test_0x_parameters_may_be_passed_by_position_in_0x_order() -> None:
    # 0.x: StateMachine(initial_state, max_queue_size, queue_overflow_policy, error_state,
    # filter_fn, trap_fn, on_error_fn, common_data)
    trapped: list[Any] = []
    board: dict[str, Any] = {}
    fsm = StateMachine(
        Listening, 2, "drop_oldest", None, lambda ctx, msg: msg == "noise", trapped.append, None, board
    )
    for msg in ("noise", "a", "b", "c"):
        fsm.send_message(msg)
    await fsm.run()
    assert fsm.common is board and board["seen"] == ["b", "c"]  # bounded to 2, oldest dropped
    assert len(trapped) == 2  # both answered with None


async def test_drop_newest_and_drop_oldest_are_ours() -> None:
    newest = StateMachine(
        initial_state=Listening, common_data={}, max_queue_size=2, queue_overflow_policy="drop_newest"
    )
    oldest = StateMachine(
        initial_state=Listening, common_data={}, max_queue_size=2, queue_overflow_policy="drop_oldest"
    )
    for fsm in (newest, oldest):
        for msg in ("a", "b", "c"):
            fsm.send_message(msg)
        await fsm.run()
    assert newest.common["seen"] == ["a", "b"]
    assert oldest.common["seen"] == ["b", "c"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"queue_overflow_policy": "spill"}, "queue_overflow_policy must be one of"),
        ({"queue_overflow_policy": "fail", "queue_overflow": "drop_newest"}, "both queue_overflow= and"),
        # "raise" said outright is still said: 0.x's name must not silently turn it into dropping
        ({"queue_overflow_policy": "drop_oldest", "queue_overflow": "raise"}, "both queue_overflow= and"),
        ({"on_error_fn": lambda c, e: None, "on_error": lambda c, e: None}, "both on_error= and"),
        ({"filter_fn": 3}, "filter_fn must be a function"),
        ({"trap_fn": "x"}, "trap_fn must be a function"),
    ],
)
def test_bad_0x_keywords_are_refused_naming_the_fix(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(DefinitionError, match=match):
        StateMachine(initial_state=Listening, **kwargs)


async def test_0x_message_priorities_are_accepted_most_urgent_first() -> None:
    priorities = StateMachine.MessagePriorities
    assert [(p.name, int(p)) for p in priorities] == [("ERROR", 0), ("INTERNAL_MESSAGE", 1), ("MESSAGE", 2)]
    fsm = StateMachine(initial_state=Listening, common_data={})
    fsm.send_message("plain")
    fsm.send_message("message", priority=priorities.MESSAGE)
    fsm.send_message("internal", priority=priorities.INTERNAL_MESSAGE)
    fsm.send_message("error", priority=priorities.ERROR)
    await fsm.run()
    assert fsm.common["seen"] == ["error", "internal", "plain", "message"]


@pytest.mark.parametrize("bad", [True, 1.5, "high"])
def test_a_priority_that_is_not_an_int_is_refused(bad: Any) -> None:
    fsm = StateMachine(initial_state=Listening)
    with pytest.raises(TypeError, match="takes an int"):
        fsm.send_message("m", priority=bad)
    assert fsm.queue_size == 0


@pytest.mark.parametrize("error", [BlockedInUntimedState, NoStateToTick])
def test_0x_error_names_are_importable_execution_errors(error: type[Exception]) -> None:
    assert issubclass(error, ExecutionError)
    assert error.__module__ == "mycorrhizal.septum.legacy"
    with pytest.raises(ExecutionError, match="^x$"):
        raise error("x")


@septum.state(config=StateConfiguration(can_dwell=True))
def Sloppy():
    class Events(Enum):
        BACK = auto()
        CALL = auto()

    @septum.on_state
    async def on_state(ctx):
        return {"typo": "MYSTERY", "back": Events.BACK}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.BACK, Pop), LabeledTransition(Events.CALL, Push(Sloppy, Sloppy))]


@pytest.mark.parametrize(("message", "error"), [("typo", UndeclaredLabelError), ("back", PopFromEmptyStack)])
async def test_bugs_in_the_machine_are_raised_never_routed(message: str, error: type[Exception]) -> None:
    # 0.x routed an unknown label and an empty-stack Pop like a handler's failure.
    hooked: list[Any] = []
    fsm = StateMachine(
        initial_state=Sloppy, error_state=Broken, on_error_fn=lambda ctx, exc: hooked.append(exc)
    )
    fsm.send_message(message)
    with pytest.raises(error, match="state Sloppy"):
        await fsm.run()
    assert fsm.current_state is Sloppy and hooked == []


async def test_an_error_inside_the_error_state_is_raised() -> None:
    # 0.x ended the tick and dropped it.
    fsm = StateMachine(initial_state=Listening, error_state=Listening, common_data={})
    fsm.send_message("boom")
    with pytest.raises(HandlerError, match="state Listening: on_state raised ValueError: boom"):
        await fsm.run()
