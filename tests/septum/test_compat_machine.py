"""0.x's ways of running a machine (UPSTREAM-API §1.2-§1.6): ``SharedContext``, ``ctx.log`` and
``fsm.log``, ``fsm.context``, ``reset()``, ``tick(timeout)``, ``run(max_iterations=, timeout=)``,
the exception names and the attribute names of transitions, targets and state specs."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock, UndeclaredLabelError
from mycorrhizal.septum import Context
from mycorrhizal.septum.core import (
    Again,
    LabeledTransition,
    Pop,
    PopFromEmptyStack,
    Push,
    Retry,
    SharedContext,
    StateConfiguration,
    StateMachine,
    StateMachineComplete,
    ValidationError,
    septum,
)

from ._charts import box, leaf
from ._helpers import E


@septum.state(config=StateConfiguration(terminal=True))
def Done():
    @septum.on_state
    async def on_state(ctx: SharedContext[dict[str, Any]]):
        ctx.log("finished")


@septum.state(config=StateConfiguration(timeout=5.0))
def Working():
    class Events(Enum):
        FINISH = auto()
        AGAIN = auto()

    @septum.on_state
    async def on_state(ctx: SharedContext[dict[str, Any]]):
        ctx.common.setdefault("seen", []).append(ctx.msg)
        if ctx.msg == "again":
            return "AGAIN"  # the label's name, as 0.x looked labels up
        return None

    @septum.on_timeout
    async def on_timeout(ctx):
        return Events.FINISH

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.FINISH, Done), LabeledTransition(Events.AGAIN, Again)]


@septum.state(config=StateConfiguration(can_dwell=True))
def Idle():
    class Events(Enum):
        START = auto()
        DIVE = auto()
        UP = auto()

    @septum.on_state
    async def on_state(ctx):
        return {"start": Events.START, "dive": Events.DIVE, "up": Events.UP}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.START, Working),
            LabeledTransition(Events.DIVE, Push(Working, Idle)),
            LabeledTransition(Events.UP, Pop),
        ]


async def test_shared_context_is_the_context_and_takes_a_type() -> None:
    assert issubclass(SharedContext, Context)
    assert SharedContext[dict[str, int]].__origin__ is SharedContext  # usable in annotations
    fsm = StateMachine(initial_state=Idle, common_data={})
    assert isinstance(fsm.context, SharedContext)  # what a machine's handlers get is one


@pytest.mark.parametrize("by_keyword", [True, False], ids=["keywords", "positional"])
async def test_a_shared_context_made_by_hand_runs_a_handler_as_in_0x(by_keyword: bool) -> None:
    # 0.x's SharedContext(send_message, log, common, msg=None): how 0.x programs test one handler.
    sent: list[Any] = []
    logged: list[str] = []
    common: dict[str, Any] = {}
    if by_keyword:
        ctx = SharedContext(send_message=sent.append, log=logged.append, common=common, msg="again")
    else:
        ctx = SharedContext(sent.append, logged.append, common, "again")
    assert await Working.on_state(ctx) == "AGAIN"
    assert common == {"seen": ["again"]} and ctx.common is common and ctx.msg == "again"
    ctx.msg = None
    assert await Working.on_state(ctx) is None and common == {"seen": ["again", None]}
    ctx.send_message("ping")
    await Done.on_state(ctx)
    assert sent == ["ping"] and logged == ["finished"]
    assert ctx.state is None and ctx.stack == () and ctx.retry_count == 0
    assert repr(ctx) == "<septum ctx made by hand msg=None>"


def test_a_shared_context_made_by_hand_needs_0x_arguments() -> None:
    with pytest.raises(TypeError, match="common"):
        SharedContext(send_message=print, log=print)  # type: ignore[call-arg]


async def test_ctx_log_logs_at_info_naming_the_state(caplog: pytest.LogCaptureFixture) -> None:
    fsm = StateMachine(initial_state=Done, common_data={})
    with caplog.at_level(logging.INFO, logger="mycorrhizal.septum"):
        await fsm.run()
    assert "state Done: finished" in caplog.messages


async def test_fsm_log_can_be_replaced_as_in_0x(caplog: pytest.LogCaptureFixture) -> None:
    fsm = StateMachine(initial_state=Done)
    lines: list[str] = []
    fsm.log = lines.append
    with caplog.at_level(logging.INFO, logger="mycorrhizal.septum"):
        await fsm.run()
        fsm.log("by hand")
    assert lines == ["finished", "by hand"]
    assert not any("finished" in m for m in caplog.messages)
    fsm.log = lambda text: None  # how 0.x programs silence it
    with pytest.raises(TypeError, match="fsm.log takes a function of one text, got 3"):
        fsm.log = 3  # type: ignore[assignment]


async def test_context_is_the_ctx_handlers_get() -> None:
    board = {"n": 1}
    fsm = StateMachine(initial_state=Idle, common_data=board)
    assert fsm.context.common is board and fsm.context.machine is fsm
    fsm.send_message("start")
    await fsm.run()
    assert fsm.context.common["seen"] == [None]


def test_names_of_0x_on_the_machine() -> None:
    fsm = StateMachine(initial_state=Idle, error_state=Done)
    fsm.send_message("x")
    assert fsm.queue_depth == fsm.queue_size == 1
    assert fsm.initial_state is Idle and fsm.error_state is Done
    assert StateMachine(Idle).error_state is None


async def test_reset_returns_to_the_initial_state_and_clears_everything(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fsm = StateMachine(Idle, timebase=clock)
    fsm.send_message("dive")
    await fsm.run()
    assert fsm.current_state is Working and fsm.state_stack == (Idle,)
    fsm.send_message("pending")
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        await fsm.reset()
    assert "machine Idle: reset in Working dropped 1 queued message never handled" in caplog.messages
    assert (fsm.current_state, fsm.state_stack, fsm.queue_size) == (Idle, (), 0)
    clock.advance(10)  # Working's timer was cancelled: nothing fires
    await fsm.run()
    assert fsm.current_state is Idle and fsm.is_idle and not fsm.is_complete


async def test_tick_waits_for_work_up_to_its_timeout_on_the_timebase(clock: ManualClock) -> None:
    fsm = StateMachine(Idle, timebase=clock)
    await fsm.initialize()
    assert await fsm.tick() is True  # the entry run
    assert await fsm.tick(timeout=0) is False  # nothing to do: returns at once

    waiting = asyncio.ensure_future(fsm.tick(timeout=2.0))
    await asyncio.sleep(0)
    clock.advance(1.0)
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(1.0)
    assert await waiting is False

    waiting = asyncio.ensure_future(fsm.tick(timeout=None))
    await asyncio.sleep(0)
    clock.advance(100.0)
    await asyncio.sleep(0)
    assert not waiting.done()
    fsm.send_message("start")
    assert await waiting is True and fsm.current_state is Working


@pytest.mark.parametrize("timeout", [-1, "1", True, math.nan])
def test_tick_refuses_a_bad_timeout(timeout: Any) -> None:
    with pytest.raises(ValueError, match="tick\\(timeout=...\\) takes a number of seconds >= 0 or None"):
        StateMachine(Idle).tick(timeout=timeout)


@pytest.mark.parametrize("timeout", [-1, "1", True, math.nan])
async def test_run_refuses_a_0x_timeout_that_means_nothing(timeout: Any) -> None:
    fsm = StateMachine(initial_state=Idle, common_data={})
    message = (
        rf"machine Idle: run\(timeout=\.\.\.\) takes a number of seconds >= 0 or None, got "
        rf"{re.escape(repr(timeout))}\. Fix: pass a number >= 0 or None"
    )
    with pytest.raises(ValueError, match=message):
        fsm.run(timeout=timeout)
    assert fsm.current_state is Idle and not fsm.is_complete  # nothing ran


async def test_run_with_0x_keywords_waits_until_terminal(clock: ManualClock) -> None:
    fsm = StateMachine(initial_state=Idle, timebase=clock, common_data={})
    fsm.send_message("start")
    running = asyncio.ensure_future(fsm.run(timeout=1))
    await asyncio.sleep(0)
    fsm.send_message("again")
    await asyncio.sleep(0)
    assert not running.done() and fsm.current_state is Working
    clock.advance(5.0)
    try:  # 0.x programs wrap run() like this; here reaching the end is a normal return
        await running
    except StateMachineComplete:  # pragma: no cover - never raised by run()
        pytest.fail("run() raised StateMachineComplete")
    assert fsm.is_complete and fsm.common["seen"] == [None, "again", None]


async def test_run_with_max_iterations_stops_after_that_many_steps() -> None:
    fsm = StateMachine(initial_state=Idle)
    for msg in ("a", "b", "c"):
        fsm.send_message(msg)
    assert await fsm.run(max_iterations=2) == 2
    assert fsm.queue_size == 2


async def test_pop_from_an_empty_stack_has_its_0x_name() -> None:
    fsm = StateMachine(Idle)
    fsm.send_message("up")
    with pytest.raises(PopFromEmptyStack, match="state Idle: Pop \\(label UP\\) with an empty stack"):
        await fsm.run()


async def test_an_undeclared_label_is_still_the_value_error_0x_raised() -> None:
    # 0.x raised ValueError("Unknown transition ...") out of run() when nothing handled it.
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Chatty():
        @septum.on_state
        async def on_state(ctx):
            return "HELLO" if ctx.msg else None

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.GO, Done)]

    fsm = StateMachine(initial_state=Chatty)
    fsm.send_message("hi")
    with pytest.raises(ValueError, match="state Chatty: on_state returned 'HELLO'") as info:
        await fsm.run()
    assert isinstance(info.value, UndeclaredLabelError)


def test_validation_error_is_the_definition_error() -> None:
    @septum.state()
    def Lost():
        @septum.on_state
        async def on_state(ctx):
            return None

    with pytest.raises(ValidationError, match="Lost"):
        StateMachine(Lost)
    assert ValidationError is DefinitionError


def test_transitions_and_targets_read_with_0x_attribute_names() -> None:
    (finish, again) = Working.get_transitions()
    assert finish.transition is Done and again.transition is Again
    assert Push(Working, Idle).push_states == (Working, Idle)


def test_state_specs_read_with_0x_attribute_names() -> None:
    assert Working.CONFIG is Working.config and Working.CONFIG.timeout == 5.0
    assert Working.base_name == "Working"
    assert Working.on_state is Working.handler("on_state") and Working.on_enter is None
    assert Done.get_transitions() == []


@septum.state(config=StateConfiguration(can_dwell=True))
class Tuning:
    class Events(Enum):
        BACK = auto()

    @septum.on_state
    async def on_state(ctx):
        ctx.log(f"tuning {ctx.msg}")
        return Events.BACK if ctx.msg == "back" else None  # noqa: F821 - resolved by septum

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.BACK, Done)]  # noqa: F821


async def test_a_class_form_state_s_handlers_run_alone_with_their_bare_names() -> None:
    # Before: ``await Tuning.on_state(ctx)`` and ``Tuning.get_transitions()`` raised
    # NameError: name 'Events' is not defined, since septum resolved the names only for a machine.
    logged: list[str] = []
    ctx = SharedContext(send_message=lambda msg: None, log=logged.append, common={}, msg="back")
    assert await Tuning.on_state(ctx) is Tuning.Events.BACK
    assert logged == ["tuning back"]
    assert Tuning.get_transitions() == [LabeledTransition(Tuning.Events.BACK, Done)]
    assert Tuning.on_timeout is None  # a role it does not declare still reads as None


async def test_retry_instance_and_class_are_one_target() -> None:
    @septum.state(config=StateConfiguration(retries=1, can_dwell=True))
    def Flaky():
        class Events(Enum):
            AGAIN = auto()
            GIVE_UP = auto()

        @septum.on_state
        async def on_state(ctx):
            return Events.AGAIN if ctx.msg == "again" else None

        @septum.on_fail
        async def on_fail(ctx):
            return Events.GIVE_UP

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.AGAIN, Retry()), LabeledTransition(Events.GIVE_UP, Done)]

    fsm = StateMachine(Flaky)
    fsm.send_message("again")
    await fsm.run()
    assert fsm.retry_count == 1  # the instance form counts (0.x's instance form did nothing)
    fsm.send_message("again")
    await fsm.run()
    assert fsm.is_complete


async def test_a_handler_may_return_a_target_its_transitions_list_instead_of_the_label() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Direct():
        @septum.on_state
        async def on_state(ctx):
            return ctx.common["answers"].pop(0) if ctx.msg else None

        @septum.transitions
        def transitions():
            return [
                LabeledTransition(E.GO, Done),
                LabeledTransition(E.PUSH, Push(Direct, Direct)),
                LabeledTransition(E.POP, Pop),
                LabeledTransition(E.RETRY, Retry()),
            ]

    bb: dict[str, Any] = {"answers": [Push(Direct, Direct), Retry, Pop(), Done]}
    fsm = StateMachine(Direct, common_data=bb)
    fsm.send_message("push")  # a Push instance equal to the declared one
    await fsm.run()
    assert fsm.state_stack == (Direct,)
    fsm.send_message("retry")  # the class of a declared instance
    await fsm.run()
    assert fsm.retry_count == 1
    fsm.send_message("pop")  # an instance of a declared class
    await fsm.run()
    assert fsm.state_stack == ()
    fsm.send_message("done")  # a state
    await fsm.run()
    assert fsm.is_complete and bb["answers"] == []


async def test_a_target_its_transitions_do_not_list_is_an_undeclared_label() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Narrow():
        @septum.on_state
        async def on_state(ctx):
            return Push(Narrow, Done) if ctx.msg else None

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.PUSH, Push(Narrow, Narrow)), LabeledTransition(E.GO, Done)]

    fsm = StateMachine(Narrow)
    fsm.send_message("push")
    fix = r"add LabeledTransition\(SOME_LABEL, Push\(Narrow, Done\)\)"
    with pytest.raises(UndeclaredLabelError, match=rf"returned Push\(Narrow, Done\), which .* {fix}"):
        await fsm.run()


async def test_reset_of_a_statechart_starts_its_configuration_again(clock: ManualClock) -> None:
    Gone = leaf("Gone", config=StateConfiguration(terminal=True))
    inner = leaf(
        "Inner",
        config=StateConfiguration(timeout=1.0),
        on_state=lambda ctx: None,
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, Gone)],
    )
    outer = box(
        "Outer",
        leaf(
            "First",
            on_state=lambda ctx: E.GO if ctx.msg == "go" else None,
            transitions=lambda: [LabeledTransition(E.GO, inner)],
        ),
        inner,
    )
    fsm = StateMachine(outer, timebase=clock)
    fsm.send_message("go")
    await fsm.run()
    assert [s.name for s in fsm.configuration] == ["Outer", "Inner"]
    await fsm.reset()
    await fsm.run()
    assert [s.name for s in fsm.configuration] == ["Outer", "First"]
    clock.advance(5.0)  # Inner's timer was cancelled
    await fsm.run()
    assert [s.name for s in fsm.configuration] == ["Outer", "First"]


async def test_transitions_may_return_one_transition_outside_a_list() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Single():
        @septum.on_state
        async def on_state(ctx):
            return E.GO if ctx.msg == "go" else None

        @septum.transitions
        def transitions():
            return LabeledTransition(E.GO, Done)

    assert Single.get_transitions() == [LabeledTransition(E.GO, Done)]
    fsm = StateMachine(Single)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is Done


def test_a_state_equals_itself_not_its_name() -> None:
    # 0.x's specs also equalled their name string; here a state is itself, compared by identity.
    assert Idle == Idle and Idle != "Idle" and Idle != f"{__name__}.Idle"
    assert Idle.name == "Idle" and f"{Idle.module}.{Idle.qualname}" == f"{__name__}.Idle"


def test_doc_only_forms_a_none_target_and_the_blackboard_and_queue_names() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Quitting():
        @septum.on_state
        async def on_state(ctx):
            return None

        @septum.transitions
        def transitions():
            return [LabeledTransition(E.DONE, None)]  # as 0.x's documents wrote it

    with pytest.raises(DefinitionError, match="state .*Quitting: label DONE targets None"):
        StateMachine(Quitting)
    fsm = StateMachine(Idle, common_data={"k": 1})
    assert fsm.common == {"k": 1} and fsm.queue_size == fsm.queue_depth == 0
    for doc_only in ("blackboard", "message_queue"):
        with pytest.raises(AttributeError, match=f"'StateMachine' object has no attribute '{doc_only}'"):
            getattr(fsm, doc_only)


def flat_machine() -> StateMachine:
    return StateMachine(Idle, common_data={"k": 1})


def chart_machine() -> StateMachine:
    return StateMachine(box("Outer", leaf("Waiting", on_state=lambda ctx: None)), common_data={"k": 1})


@pytest.mark.parametrize("make", [flat_machine, chart_machine], ids=["flat", "statechart"])
@pytest.mark.parametrize(
    ("name", "instead"),
    [
        ("blackboard", r"use fsm\.common \(ctx\.common in handlers\)$"),
        ("message_queue", r"use fsm\.queue_size \(0\.x's fsm\.queue_depth\) .* fsm\.send_message\(m\)"),
    ],
)
def test_the_doc_only_blackboard_and_queue_names_say_what_to_use_instead(
    make: Any, name: str, instead: str
) -> None:
    # Only 0.x's prose named them (UPSTREAM-API §1.8), so no 0.x program can rely on them: they stay
    # AttributeErrors, as Python's own (hasattr answers False), that point to what this machine has.
    fsm = make()
    with pytest.raises(
        AttributeError, match=rf"^'{type(fsm).__name__}' object has no attribute '{name}': .*{instead}"
    ):
        getattr(fsm, name)
    assert not hasattr(fsm, name)
    assert fsm.common == {"k": 1} and fsm.queue_size == 0
