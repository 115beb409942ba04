"""Bounds a machine keeps: which message a full queue gives up, how deep Push may go, what is logged."""

from __future__ import annotations

import logging
from enum import Enum, auto

import pytest

from mycorrhizal.common import ExecutionError
from mycorrhizal.septum import LabeledTransition, Pop, Push, StateConfiguration, StateMachine, septum


@septum.state(config=StateConfiguration(can_dwell=True))
class Sink:
    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is not None:
            ctx.common.setdefault("got", []).append(ctx.msg)


async def test_drop_oldest_never_evicts_a_higher_priority_message_for_a_lower_one() -> None:
    fsm = StateMachine(Sink, max_queue_size=2, queue_overflow="drop_oldest")
    assert fsm.send_message("urgent 1", priority=5) and fsm.send_message("urgent 2", priority=5)
    assert fsm.send_message("routine", priority=0) is False  # the newcomer is the lowest: it goes
    assert fsm.overflow_count == 1
    assert fsm.send_message("urgent 3", priority=5) is True  # same priority: the oldest goes
    await fsm.run()
    assert fsm.common["got"] == ["urgent 2", "urgent 3"] and fsm.overflow_count == 2


async def test_drop_oldest_evicts_the_oldest_of_the_lowest_priority() -> None:
    fsm = StateMachine(Sink, max_queue_size=3, queue_overflow="drop_oldest")
    for msg, priority in [("low 1", -1), ("low 2", -1), ("high", 3)]:
        fsm.send_message(msg, priority=priority)
    assert fsm.send_message("normal", priority=0)  # evicts "low 1"
    await fsm.run()
    assert fsm.common["got"] == ["high", "normal", "low 2"]


class E(Enum):
    DEEPER = auto()
    BACK = auto()


@septum.state(config=StateConfiguration(can_dwell=True))
class Recursing:
    """Each "deeper" pushes itself once more: the stack grows by one."""

    @septum.on_state
    async def on_state(ctx):
        return {"deeper": E.DEEPER, "back": E.BACK}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [LabeledTransition(E.DEEPER, Push(Recursing, Recursing)), LabeledTransition(E.BACK, Pop)]


async def test_push_past_the_stack_depth_limit_is_a_clear_error() -> None:
    fsm = StateMachine(Recursing, max_stack_depth=3)
    for _ in range(3):
        fsm.send_message("deeper")
    await fsm.run()
    assert len(fsm.state_stack) == 3
    fsm.send_message("deeper")
    deeper = r"state Recursing: Push \(label DEEPER\) would make the stack 4 deep"
    with pytest.raises(ExecutionError, match=deeper):
        await fsm.run()
    assert len(fsm.state_stack) == 3  # refused before anything moved
    fsm.send_message("back")
    await fsm.run()
    assert len(fsm.state_stack) == 2


def test_the_default_stack_depth_limit_and_bad_values() -> None:
    from mycorrhizal.common import DefinitionError
    from mycorrhizal.septum import DEFAULT_MAX_STACK_DEPTH

    assert DEFAULT_MAX_STACK_DEPTH == 1000
    with pytest.raises(DefinitionError, match="max_stack_depth must be an int >= 1, got 0"):
        StateMachine(Recursing, max_stack_depth=0)


@septum.state(config=StateConfiguration(can_dwell=True))
class Failing:
    @septum.on_state
    async def on_state(ctx):
        if ctx.msg == "boom":
            raise KeyError("the cause")


@septum.state(config=StateConfiguration(can_dwell=True))
class Recovering:
    @septum.on_state
    async def on_state(ctx):
        return None


async def test_a_routed_failure_is_one_warning_line_with_the_traceback_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fsm = StateMachine(Failing, error_state=Recovering)
    fsm.send_message("boom")
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.septum"):
        await fsm.run()
    [record] = [r for r in caplog.records if r.name == "mycorrhizal.septum"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == (
        "machine Failing: state Failing: on_state raised KeyError: 'the cause'; going to Recovering"
    )
    caplog.clear()
    fsm = StateMachine(Failing, error_state=Recovering)
    fsm.send_message("boom")
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.septum"):
        await fsm.run()
    traced = [r for r in caplog.records if r.exc_info is not None]
    assert len(traced) == 1 and traced[0].levelno == logging.DEBUG
    assert isinstance(traced[0].exc_info[1], KeyError)  # type: ignore[index]
