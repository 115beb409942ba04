"""Guards and actions on transitions: which transition a label takes, and what runs on the way."""

# ruff: noqa: E501 - messages are checked whole, as a user reads them

from __future__ import annotations

import functools
import re
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ExecutionError, HandlerError, ManualClock
from mycorrhizal.render import to_dot
from mycorrhizal.septum import HandlerFailed, LabeledTransition, Retry, StateConfiguration, StateMachine
from tests.septum._charts import box, final, leaf, on
from tests.septum._helpers import E, log_to, make, terminal

DWELL = StateConfiguration(can_dwell=True)


def by_message(ctx: Any) -> Any:
    """Every message is the label GO; the entry run returns None."""
    return None if ctx.msg is None else E.GO


def big(ctx: Any) -> bool:
    return bool(ctx.msg >= 100)


def medium(ctx: Any) -> bool:
    return bool(ctx.msg >= 10)


def sorter() -> tuple[Any, dict[str, Any]]:
    """A state sending GO to Big, Medium or Small depending on the message, in that order."""
    ends = {name: terminal(name) for name in ("Big", "Medium", "Small")}
    start = make(
        "Sorter",
        on_state=by_message,
        transitions=lambda: [
            LabeledTransition(E.GO, ends["Big"], guard=big),
            LabeledTransition(E.GO, ends["Medium"], guard=medium),
            LabeledTransition(E.GO, ends["Small"]),
        ],
    )
    return start, ends


def fragile(ctx: Any) -> bool:
    raise KeyError("limit")


def guarded(where: str, guard: Any = fragile) -> Any:
    """A state Guarded whose label GO is guarded by ``guard``: alone, run on entry, or in a compound."""
    if where == "chart":
        inner = leaf(
            "Guarded",
            on_state=on({"x": E.GO}),
            transitions=lambda: [LabeledTransition(E.GO, final("There"), guard=guard)],
        )
        return box("Outer", inner, transitions=lambda: [LabeledTransition(E.DONE, final("End"))])
    on_state = (lambda ctx: E.GO) if where == "entry run" else by_message
    return make(
        "Guarded", on_state=on_state, transitions=lambda: [LabeledTransition(E.GO, terminal(), guard=guard)]
    )


@pytest.mark.parametrize(("msg", "where"), [(500, "Big"), (50, "Medium"), (5, "Small"), (100, "Big")])
async def test_the_first_transition_whose_guard_passes_wins(msg: int, where: str) -> None:
    start, _ = sorter()
    fsm = StateMachine(start)
    fsm.send_message(msg)
    await fsm.run()
    assert fsm.current_state.name == where


async def test_guards_are_asked_in_order_and_stop_at_the_first_that_passes() -> None:
    asked: list[str] = []

    def no(ctx: Any) -> bool:
        asked.append("no")
        return False

    def yes(ctx: Any) -> bool:
        asked.append("yes")
        return True

    def never(ctx: Any) -> bool:
        asked.append("never")
        return True

    end = terminal()
    start = make(
        "Asks",
        on_state=by_message,
        transitions=lambda: [
            LabeledTransition(E.GO, Retry, guard=no),
            LabeledTransition(E.GO, end, guard=yes),
            LabeledTransition(E.GO, Retry, guard=never),
        ],
    )
    fsm = StateMachine(start)
    fsm.send_message("x")
    await fsm.run()
    assert asked == ["no", "yes"] and fsm.current_state is end


async def test_when_no_guard_passes_the_machine_stays() -> None:
    end = terminal()
    start = make(
        "Picky",
        config=DWELL,
        on_state=by_message,
        transitions=lambda: [LabeledTransition(E.GO, end, guard=lambda ctx: ctx.msg == "ok")],
    )
    fsm = StateMachine(start)
    fsm.send_message("no")
    await fsm.run()
    assert fsm.current_state is start and fsm.unhandled_count == 0
    fsm.send_message("ok")
    await fsm.run()
    assert fsm.current_state is end


async def test_a_guard_sees_the_message_and_the_blackboard() -> None:
    end = terminal()
    start = make(
        "Counter",
        config=DWELL,
        on_state=by_message,
        transitions=lambda: [
            LabeledTransition(E.GO, end, guard=lambda ctx: ctx.common["n"] + ctx.msg >= 3),
        ],
    )
    fsm = StateMachine(start, common_data={"n": 2})
    fsm.send_message(0)
    await fsm.run()
    assert fsm.current_state is start
    fsm.send_message(1)
    await fsm.run()
    assert fsm.current_state is end


async def test_the_action_runs_after_leaving_and_before_entering() -> None:
    def charge(ctx: Any) -> None:
        log_to(ctx, f"charge {ctx.msg}")

    end = terminal("Paid", on_enter=lambda ctx: log_to(ctx, "enter Paid"))
    start = make(
        "Cart",
        on_state=by_message,
        on_leave=lambda ctx: log_to(ctx, "leave Cart"),
        transitions=lambda: [LabeledTransition(E.GO, end, action=charge)],
    )
    fsm = StateMachine(start)
    fsm.send_message(12)
    await fsm.run()
    assert fsm.common["log"] == ["leave Cart", "charge 12", "enter Paid"]


async def test_an_async_action_is_awaited_and_runs_on_a_self_transition() -> None:
    async def note(ctx: Any) -> None:
        log_to(ctx, ("again", ctx.retry_count))

    start = make(
        "Loop",
        config=StateConfiguration(retries=5),
        on_state=by_message,
        on_fail=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.GO, Retry, action=note)],
    )
    fsm = StateMachine(start)
    for msg in "ab":
        fsm.send_message(msg)
    await fsm.run()
    # The action runs once the state is left: it sees the count before the retry.
    assert fsm.common["log"] == [("again", 0), ("again", 1)] and fsm.retry_count == 2


async def test_a_guarded_label_from_on_timeout_and_on_fail() -> None:
    clock = ManualClock()
    late, early = terminal("Late"), terminal("Early")
    timed = make(
        "Timed",
        config=StateConfiguration(timeout=5, retries=0),
        on_state=lambda ctx: E.RETRY if ctx.msg == "retry" else None,
        on_timeout=lambda ctx: E.GO,
        on_fail=lambda ctx: E.DONE,
        transitions=lambda: [
            LabeledTransition(E.GO, late, guard=lambda ctx: ctx.common.get("late", False)),
            LabeledTransition(E.GO, early),
            LabeledTransition(E.RETRY, Retry),
            LabeledTransition(E.DONE, late, guard=lambda ctx: False),
            LabeledTransition(E.DONE, early),
        ],
    )
    fsm = StateMachine(timed, timebase=clock, common_data={"late": True})
    await fsm.run()
    await clock.run_for(5)
    assert fsm.current_state is late
    failing = StateMachine(timed, timebase=clock)
    failing.send_message("retry")
    await failing.run()
    assert failing.current_state is early


def echo(ctx: Any) -> Any:
    return ctx.msg


@pytest.mark.parametrize(
    ("guard", "named"),
    [(echo, "guard echo"), (lambda ctx: ctx.msg, "the guard (a lambda)")],
    ids=["def", "lambda"],
)
async def test_a_guard_that_does_not_answer_true_or_false_is_an_execution_error(
    guard: Any, named: str
) -> None:
    start = make(
        "Sloppy",
        on_state=by_message,
        transitions=lambda: [LabeledTransition(E.GO, terminal(), guard=guard)],
    )
    fsm = StateMachine(start)
    fsm.send_message("yes")
    with pytest.raises(
        ExecutionError,
        match=rf"^state Sloppy: {re.escape(named)} of label GO returned 'yes', but a guard returns True or False\. Fix: write `return bool\(\.\.\.\)`$",
    ):
        await fsm.run()


async def test_a_guard_that_raises_is_routed_like_a_failed_handler() -> None:
    broken = make("Broken", config=DWELL, on_state=lambda ctx: None)
    start = make(
        "Guarded",
        on_state=by_message,
        transitions=lambda: [LabeledTransition(E.GO, terminal(), guard=fragile)],
    )
    fsm = StateMachine(start, error_state=broken)
    fsm.send_message("x")
    await fsm.run()
    assert fsm.current_state is broken
    raising = StateMachine(start)
    raising.send_message("x")
    with pytest.raises(HandlerError, match="state Guarded: guard fragile of label GO raised KeyError"):
        await raising.run()
    assert raising.current_state is start


@pytest.mark.parametrize(
    ("guard", "named"),
    [(fragile, "guard fragile"), (lambda ctx: fragile(ctx), "the guard (a lambda)")],
    ids=["def", "lambda"],
)
@pytest.mark.parametrize("where", ["message", "entry run", "chart"])
async def test_a_guard_that_raises_is_named_with_the_label_it_guards(
    where: str, guard: Any, named: str
) -> None:
    fsm = StateMachine(guarded(where, guard))
    seen: list[Any] = []
    fsm.add_observer(seen.append)
    fsm.send_message("x")
    said = (
        f"state Guarded: {named} of label GO raised KeyError: 'limit'. Fix: handle KeyError in {named} of "
        "label GO, or give the machine an error_state (or on_error) to route failures to"
    )
    with pytest.raises(HandlerError, match=rf"^{re.escape(said)}$"):
        await fsm.run()
    failed = [(e.state, e.role, str(e.error)) for e in seen if isinstance(e, HandlerFailed)]
    assert failed == [("Guarded", "guard", said)]


async def test_an_action_that_raises_still_completes_the_transition_then_fails() -> None:
    def explode(ctx: Any) -> None:
        raise RuntimeError("card declined")

    end = make(
        "Next", config=DWELL, on_state=lambda ctx: None, on_enter=lambda ctx: log_to(ctx, "enter Next")
    )
    start = make(
        "Pay", on_state=by_message, transitions=lambda: [LabeledTransition(E.GO, end, action=explode)]
    )
    fsm = StateMachine(start)
    fsm.send_message("x")
    with pytest.raises(HandlerError, match="state Pay: action raised RuntimeError: card declined"):
        await fsm.run()
    assert fsm.current_state is end and fsm.common["log"] == ["enter Next"]


def test_guards_and_actions_are_drawn_on_the_edges() -> None:
    def charge(ctx: Any) -> None:
        return None

    start, _ = sorter()
    dot = to_dot(start)
    assert 'label="GO [big]"' in dot and 'label="GO [medium]"' in dot and "label=GO" in dot
    pay = make(
        "Pay",
        on_state=by_message,
        transitions=lambda: [LabeledTransition(E.GO, terminal(), guard=big, action=charge)],
    )
    assert 'label="GO [big] / charge"' in to_dot(pay)


def test_a_lambda_guard_or_action_is_drawn_as_what_it_is() -> None:
    pay = make(
        "Pay",
        on_state=by_message,
        transitions=lambda: [
            LabeledTransition(E.GO, terminal(), guard=lambda ctx: True, action=lambda ctx: None)
        ],
    )
    assert 'label="GO [guard] / action"' in to_dot(pay)


def test_analysis_counts_every_guarded_option() -> None:
    start, _ = sorter()
    assert (True, "4 states reachable from Sorter") in start.analysis_report()


async def not_sync(ctx: Any) -> bool:
    return True


def two_arguments(ctx: Any, extra: Any) -> bool:
    return True


@pytest.mark.parametrize(
    ("transition", "message"),
    [
        (
            lambda end: LabeledTransition(E.GO, end, guard="is_big"),
            "state Bad: label GO: guard='is_big' is not callable. Fix: pass a plain function guard(ctx) returning True or False",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, guard=not_sync),
            "state Bad: label GO: guard not_sync is async (or a generator); a guard is asked while a transition is chosen, which never suspends",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, guard=functools.partial(not_sync)),
            "state Bad: label GO: the guard (partial object) is async (or a generator)",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, guard=lambda a, b: True),
            "state Bad: label GO: the guard (a lambda) must take one argument, ctx. Fix: write the lambda as `lambda ctx: ...`",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, guard=two_arguments),
            "state Bad: label GO: guard two_arguments must take one argument, ctx. Fix: define it as `def two_arguments(ctx)`",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, action=42),
            "state Bad: label GO: action=42 is not callable. Fix: pass a function action(ctx)",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, action=lambda ctx: (yield ctx)),
            "state Bad: label GO: the action (a lambda) is a generator function. Fix: make it a plain or async def",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, action=lambda: None),
            "state Bad: label GO: the action (a lambda) must take one argument, ctx. Fix: write the lambda as `lambda ctx: ...`",
        ),
        (
            lambda end: LabeledTransition(E.GO, end, action=functools.partial(two_arguments)),
            "state Bad: label GO: the action (partial object) must take one argument, ctx. Fix: define a function `def action(ctx)` in its place",
        ),
    ],
    ids=[
        "guard not callable",
        "async guard",
        "async partial guard",
        "lambda guard of two",
        "def guard of two",
        "action not callable",
        "generator lambda action",
        "lambda action of none",
        "partial action of two",
    ],
)
def test_bad_guards_and_actions_are_definition_errors(transition: Any, message: str) -> None:
    end = terminal()
    with pytest.raises(DefinitionError, match=re.escape(message)) as info:
        StateMachine(make("Bad", on_state=by_message, transitions=lambda: [transition(end)]))
    assert message in str(info.value)


def test_an_unguarded_transition_before_another_of_its_label_is_a_definition_error() -> None:
    end = terminal()
    bad = make(
        "Shadow",
        on_state=by_message,
        transitions=lambda: [LabeledTransition(E.GO, end), LabeledTransition(E.GO, end, guard=big)],
    )
    with pytest.raises(DefinitionError, match="uses label GO twice, and the earlier transition has no guard"):
        StateMachine(bad)


async def _go(ctx: Any) -> Any:
    """An async entry run returning GO: a tick() takes it on the machine's inline path."""
    return E.GO


@pytest.mark.parametrize("drive", ["tick", "run"])
async def test_a_guarded_label_of_an_entry_run_takes_the_transition_its_guard_picks(drive: str) -> None:
    asked: list[str] = []

    def answer(name: str, passes: bool) -> Any:
        def guard(ctx: Any) -> bool:
            asked.append(name)
            return passes

        return guard

    ends = {name: terminal(name) for name in ("Left", "Right")}
    start = make(
        "Fork",
        on_state=_go,
        transitions=lambda: [
            LabeledTransition(E.GO, ends["Left"], guard=answer("left", False)),
            LabeledTransition(E.GO, ends["Right"], guard=answer("right", True)),
        ],
    )
    fsm = StateMachine(start)
    await fsm.initialize()
    await (fsm.tick() if drive == "tick" else fsm.run(1))
    assert asked == ["left", "right"] and fsm.current_state is ends["Right"]


async def test_a_guard_of_an_entry_run_that_raises_or_passes_nothing() -> None:
    broken = make("Broken", config=DWELL, on_state=lambda ctx: None)
    raises = make(
        "Raises", on_state=_go, transitions=lambda: [LabeledTransition(E.GO, terminal(), guard=fragile)]
    )
    fsm = StateMachine(raises, error_state=broken)
    await fsm.initialize()
    await fsm.tick()
    assert fsm.current_state is broken
    unrouted = StateMachine(raises)
    await unrouted.initialize()
    with pytest.raises(HandlerError, match="state Raises: guard fragile of label GO raised KeyError"):
        await unrouted.tick()
    stays = make(
        "Stays",
        config=DWELL,
        on_state=_go,
        transitions=lambda: [LabeledTransition(E.GO, terminal(), guard=lambda ctx: False)],
    )
    fsm = StateMachine(stays)
    await fsm.initialize()
    await fsm.tick()
    assert fsm.current_state is stays and fsm.unhandled_count == 0
