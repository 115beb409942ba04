"""Transitions: labelled targets, the special targets in both forms, retries, push/pop, terminal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import ExecutionError, UndeclaredLabelError
from mycorrhizal.septum import (
    Again,
    LabeledTransition,
    Pop,
    Push,
    Repeat,
    Restart,
    Retry,
    StateConfiguration,
    StateMachine,
    StateMachineComplete,
    Unhandled,
)

from ._charts import box, leaf, on
from ._helpers import E, log_to, make, terminal

End = terminal(on_enter=lambda ctx: log_to(ctx, "enter End"))


def traced(name, on_state, transitions, config=None, **more):
    """A state logging enter/leave/state with its retry count."""
    return make(
        name,
        config=config,
        on_enter=lambda ctx: log_to(ctx, f"enter {name}"),
        on_leave=lambda ctx: log_to(ctx, f"leave {name}"),
        on_state=lambda ctx: (log_to(ctx, f"{name} r{ctx.retry_count} {ctx.msg}"), on_state(ctx))[1],
        transitions=transitions,
        **more,
    )


@pytest.mark.parametrize("form", ["class", "instance"])
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Again, ["enter S", "S r0 None", "S r0 go", "S r0 None", "leave S", "enter End"]),
        (
            Repeat,
            ["enter S", "S r0 None", "S r0 go", "leave S", "enter S", "S r0 None", "leave S", "enter End"],
        ),
        (
            Restart,
            ["enter S", "S r0 None", "S r0 go", "leave S", "enter S", "S r0 None", "leave S", "enter End"],
        ),
        (
            Retry,
            ["enter S", "S r0 None", "S r0 go", "leave S", "enter S", "S r1 None", "leave S", "enter End"],
        ),
        (Unhandled, ["enter S", "S r0 None", "S r0 go"]),
    ],
)
async def test_special_targets_in_both_forms(form, target, expected) -> None:
    chosen = target() if form == "instance" else target
    calls = {"n": 0}

    def on_state(ctx):
        if ctx.msg == "go":
            return E.GO
        calls["n"] += 1
        return E.DONE if calls["n"] == 2 else None

    s = traced("S", on_state, lambda: [LabeledTransition(E.GO, chosen), LabeledTransition(E.DONE, End)])
    fsm = StateMachine(s)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.common["log"] == expected


def test_class_and_instance_forms_are_equal() -> None:
    for cls in (Again, Unhandled, Retry, Repeat, Restart, Pop):
        assert cls() == cls and cls() == cls()
        assert hash(cls()) == hash(cls())
    assert Push(End) == Push(End) and Push(End) != Push(End, End)
    assert repr(Push(End)) == "Push(End)"


async def test_retry_budget_then_on_fail() -> None:
    fails = []

    def on_fail(ctx):
        fails.append(ctx.retry_count)
        return E.FAIL

    s = traced(
        "R",
        lambda ctx: E.RETRY,
        lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.FAIL, End)],
        config=StateConfiguration(retries=3),
        on_fail=on_fail,
    )
    fsm = StateMachine(s)
    await fsm.run()
    runs = [line for line in fsm.common["log"] if line.startswith("R r")]
    assert runs == ["R r0 None", "R r1 None", "R r2 None", "R r3 None"]  # first attempt + 3 retries
    assert fails == [3]
    assert fsm.current_state is End


async def test_retries_zero_fails_at_first_retry() -> None:
    s = make(
        "Z",
        config=StateConfiguration(retries=0),
        on_state=lambda ctx: E.RETRY,
        on_fail=lambda ctx: E.FAIL,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.FAIL, End)],
    )
    fsm = StateMachine(s)
    assert await fsm.run() == 1
    assert fsm.current_state is End


async def test_on_fail_returning_none_stays_and_a_retry_label_is_refused() -> None:
    stay = make(
        "Stay",
        config=StateConfiguration(retries=1),
        on_state=lambda ctx: E.RETRY if ctx.msg else None,
        on_fail=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry)],
    )
    fsm = StateMachine(stay)
    fsm.send_message("x")
    fsm.send_message("y")
    await fsm.run()
    assert fsm.current_state is stay and fsm.retry_count == 1

    loop = make(
        "Loop",
        config=StateConfiguration(retries=0),
        on_state=lambda ctx: E.RETRY,
        on_fail=lambda ctx: E.RETRY,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry)],
    )
    with pytest.raises(ExecutionError, match="on_fail returned RETRY, a Retry, after the retries ran out"):
        await StateMachine(loop).run()


async def test_on_fail_undeclared_label() -> None:
    s = make(
        "F",
        config=StateConfiguration(retries=0),
        on_state=lambda ctx: E.RETRY,
        on_fail=lambda ctx: "nope",
        transitions=lambda: [LabeledTransition(E.RETRY, Retry)],
    )
    with pytest.raises(UndeclaredLabelError, match="state F: on_fail returned 'nope'"):
        await StateMachine(s).run()


_observed: list[int] = []


def _worker_on_state(ctx):
    _observed.append(ctx.retry_count)
    if ctx.msg is None:
        return None
    return E.RETRY if ctx.msg == "retry" else E.GO


_Other = make(
    "Other",
    on_state=lambda ctx: E.BACK if ctx.msg is None else None,
    transitions=lambda: [LabeledTransition(E.BACK, _Worker)],
)
_Worker = make(
    "Worker",
    on_state=_worker_on_state,
    transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.GO, _Other)],
)


@given(st.lists(st.sampled_from(["retry", "away"]), max_size=30))
async def test_retry_count_counts_retries_and_resets_when_leaving(moves) -> None:
    """Across leave/re-enter, retry_count is the number of Retries since the state was entered."""
    _observed.clear()
    fsm = StateMachine(_Worker)
    await fsm.run()
    expected = [0]
    count = 0
    for move in moves:
        fsm.send_message(move)
        await fsm.run()
        expected.append(count)  # the message is handled with the current count
        count = count + 1 if move == "retry" else 0
        expected.append(count)  # the entry run after the retry or after coming back
        assert fsm.retry_count == count
    assert _observed == expected


async def _retries_once(ctx):
    return E.RETRY if ctx.retry_count == 0 else E.GO


async def _stays(ctx):
    return None


_Elsewhere = make("Elsewhere", on_state=_stays, config=StateConfiguration(can_dwell=True))
_RetriesOnce = make(
    "RetriesOnce",
    on_state=_retries_once,
    transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.GO, _Elsewhere)],
)


async def test_ticking_a_retry_then_a_plain_transition_resets_the_count() -> None:
    # tick() takes an async state's entry run in a frame of its own; the count resets there too.
    fsm = StateMachine(_RetriesOnce)
    await fsm.initialize()
    assert await fsm.tick() and (fsm.current_state, fsm.retry_count) == (_RetriesOnce, 1)
    assert await fsm.tick() and (fsm.current_state, fsm.retry_count) == (_Elsewhere, 0)


async def test_push_and_pop_give_call_and_return() -> None:
    Menu = traced(
        "Menu",
        lambda ctx: {"open": E.PUSH, "quit": E.DONE}.get(ctx.msg),
        lambda: [LabeledTransition(E.PUSH, Push(Sub, Confirm, Menu)), LabeledTransition(E.DONE, End)],
    )
    Sub = traced(
        "Sub", lambda ctx: E.POP if ctx.msg == "back" else None, lambda: [LabeledTransition(E.POP, Pop)]
    )
    Confirm = traced(
        "Confirm", lambda ctx: E.POP if ctx.msg == "ok" else None, lambda: [LabeledTransition(E.POP, Pop())]
    )
    fsm = StateMachine(Menu)
    await fsm.run()
    fsm.send_message("open")
    await fsm.run()
    assert fsm.current_state is Sub
    assert fsm.state_stack == (Menu, Confirm)  # bottom first: the next Pop returns to Confirm
    fsm.send_message("back")
    await fsm.run()
    assert fsm.current_state is Confirm and fsm.state_stack == (Menu,)
    fsm.send_message("ok")
    await fsm.run()
    assert fsm.current_state is Menu and fsm.state_stack == ()
    fsm.send_message("quit")
    await fsm.run()
    assert fsm.is_complete


async def test_ctx_exposes_state_stack_and_timebase(clock) -> None:
    seen = []

    def on_state(ctx):
        seen.append((ctx.state.name, ctx.stack, ctx.timebase, ctx.machine.current_state.name))
        return E.POP if ctx.state is Inner else E.PUSH

    Inner = make("Inner", on_state=on_state, transitions=lambda: [LabeledTransition(E.POP, Pop)])
    Outer = make(
        "Outer",
        on_state=lambda ctx: E.PUSH if ctx.msg else None,
        transitions=lambda: [LabeledTransition(E.PUSH, Push(Inner, Finish))],
    )
    Finish = terminal("Finish")
    fsm = StateMachine(Outer, timebase=clock)
    fsm.send_message("go")
    await fsm.run()
    assert seen == [("Inner", (Finish,), clock, "Inner")]
    assert fsm.current_state is Finish


async def test_pop_on_empty_stack_names_the_state() -> None:
    Caller = make(
        "Caller",
        on_state=lambda ctx: E.PUSH if ctx.msg == "call" else E.POP if ctx.msg else None,
        transitions=lambda: [LabeledTransition(E.PUSH, Push(Callee)), LabeledTransition(E.POP, Pop)],
    )
    Callee = make(
        "Callee",
        on_state=lambda ctx: E.POP if ctx.msg else None,
        transitions=lambda: [LabeledTransition(E.POP, Pop)],
    )
    fsm = StateMachine(Caller)
    fsm.send_message("pop")
    with pytest.raises(ExecutionError, match="state Caller: Pop \\(label POP\\) with an empty stack"):
        await fsm.run()


async def test_undeclared_label_is_a_runtime_error_naming_state_and_label() -> None:
    s = make(
        "Loose",
        on_state=lambda ctx: "mystery" if ctx.msg else None,
        transitions=lambda: [LabeledTransition(E.GO, End)],
    )
    fsm = StateMachine(s)
    fsm.send_message(1)
    with pytest.raises(UndeclaredLabelError, match="state Loose: on_state returned 'mystery'") as info:
        await fsm.run()
    assert info.value.state == "Loose" and info.value.event == "mystery"

    unhashable = make(
        "Unhashable", on_state=lambda ctx: ["x"], transitions=lambda: [LabeledTransition(E.GO, End)]
    )
    with pytest.raises(UndeclaredLabelError, match="state Unhashable: on_state returned \\['x'\\]"):
        await StateMachine(unhashable).run()


async def test_terminal_state_ends_run_normally_and_tick_then_refuses() -> None:
    s = make("Go", on_state=lambda ctx: E.DONE, transitions=lambda: [LabeledTransition(E.DONE, End)])
    fsm = StateMachine(s)
    await fsm.run()
    assert fsm.is_complete and fsm.current_state is End
    assert fsm.common["log"] == ["enter End"]
    assert await fsm.run() == 0  # run() on a complete machine just returns
    with pytest.raises(StateMachineComplete, match="terminal state End"):
        await fsm.tick()


async def test_async_and_sync_handlers_mix() -> None:
    async def enter(ctx):
        log_to(ctx, "async enter")

    async def on_state(ctx):
        return E.DONE

    s = make(
        "Mixed",
        on_enter=enter,
        on_state=on_state,
        on_leave=lambda ctx: log_to(ctx, "sync leave"),
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s)
    await fsm.run()
    assert fsm.common["log"] == ["async enter", "sync leave", "enter End"]


async def test_labelled_self_transition_reenters_and_resets_retries() -> None:
    n = {"i": 0}

    def on_state(ctx):
        n["i"] += 1
        return {1: E.RETRY, 2: E.GO, 3: E.DONE}.get(n["i"])

    s = traced(
        "Self",
        on_state,
        lambda: [
            LabeledTransition(E.RETRY, Retry),
            LabeledTransition(E.GO, Self),
            LabeledTransition(E.DONE, End),
        ],
    )
    Self = s
    fsm = StateMachine(s)
    await fsm.run()
    assert [x for x in fsm.common["log"] if x.startswith("Self r")] == [
        "Self r0 None",
        "Self r1 None",
        "Self r0 None",
    ]


_seen: list[tuple[str, int]] = []
_MOVES = {
    "retry": E.RETRY,
    "repeat": E.REPEAT,
    "restart": E.RESTART,
    "again": E.AGAIN,
    "self": E.SKIP,
    "away": E.GO,
}


def _budget_on_state(ctx):
    _seen.append(("state", ctx.retry_count))
    return None if ctx.msg is None else _MOVES[ctx.msg]


_Budgeted = make(
    "Budgeted",
    config=StateConfiguration(retries=2),
    on_enter=lambda ctx: _seen.append(("enter", ctx.retry_count)),
    on_state=_budget_on_state,
    on_fail=lambda ctx: _seen.append(("fail", ctx.retry_count)),
    transitions=lambda: [
        LabeledTransition(E.RETRY, Retry),
        LabeledTransition(E.REPEAT, Repeat),
        LabeledTransition(E.RESTART, Restart),
        LabeledTransition(E.AGAIN, Again),
        LabeledTransition(E.SKIP, _Budgeted),
        LabeledTransition(E.GO, _Away),
    ],
)
_Away = make(
    "Away",
    on_state=lambda ctx: E.BACK if ctx.msg is None else None,
    transitions=lambda: [LabeledTransition(E.BACK, _Budgeted)],
)


@given(st.lists(st.sampled_from(sorted(_MOVES)), max_size=30))
async def test_retry_budget_across_repeat_restart_again_and_leaving(moves) -> None:
    """retry_count as each handler sees it, against the table of targets in docs/septum.md."""
    _seen.clear()
    fsm = StateMachine(_Budgeted)
    await fsm.run()
    expected = [("enter", 0), ("state", 0)]
    count = 0
    for move in moves:
        fsm.send_message(move)
        await fsm.run()
        expected.append(("state", count))
        if move == "retry" and count == 2:
            expected.append(("fail", 2))  # the budget is spent: on_fail, and stay
            continue
        if move == "again":
            expected.append(("state", count))
            continue
        count = {"retry": count + 1, "repeat": count}.get(move, 0)  # restart, self, away: 0
        expected += [("enter", count), ("state", count)]
        assert fsm.retry_count == count
    assert _seen == expected


def flat_returning(label: object) -> StateMachine:
    """Loose, which declares GO and DONE and returns ``label`` to a message."""
    return StateMachine(
        make(
            "Loose",
            on_state=lambda ctx: label if ctx.msg else None,
            transitions=lambda: [LabeledTransition(E.GO, End), LabeledTransition(E.DONE, End)],
        )
    )


def chart_returning(label: object) -> StateMachine:
    """Root > (Box > A, Next): A declares GO, Box declares BACK; A returns ``label`` to a message."""
    after = leaf("Next", on_state=on({}), transitions=lambda: [])
    a = leaf("A", on_state=on({"go": label}), transitions=lambda: [LabeledTransition(E.GO, after)])
    inner = box("Box", a, transitions=lambda: [LabeledTransition(E.BACK, after)])
    return StateMachine(box("Root", inner, after))


@pytest.mark.parametrize(
    ("machine", "label", "fix"),
    [
        (flat_returning, "DONEE", r"did you mean 'DONE'\? If not, add LabeledTransition\(DONEE, \.\.\.\)"),
        (flat_returning, "go", r"did you mean 'GO'\? If not, add LabeledTransition\(go, \.\.\.\) or return"),
        # A label an enclosing state declares is offered too: it is looked up there as well.
        (chart_returning, "BAK", r"did you mean 'BACK'\? If not, add LabeledTransition\(BAK, \.\.\.\)"),
        (flat_returning, "mystery", r"add LabeledTransition\(mystery, \.\.\.\) or return a declared label$"),
    ],
    ids=["flat", "case", "enclosing_state", "nothing_close"],
)
def test_a_misspelt_label_returned_is_answered_with_the_nearest_declared(
    machine: Any, label: str, fix: str
) -> None:
    fsm = machine(label)
    fsm.run_sync()
    # Before: "... which its transitions() does not declare; add LabeledTransition(DONEE, ...) or ..."
    with pytest.raises(
        UndeclaredLabelError,
        match=rf"returned '{label}', which its transitions\(\) does not declare\. Fix: {fix}",
    ):
        fsm.send("go")


Elsewhere = terminal("Elsewhere")


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        (Retry, "Retry"),
        (Unhandled, "Unhandled"),
        (Pop, "Pop"),
        (Again(), r"Again\(\)"),
        (Elsewhere, "Elsewhere"),
    ],
    ids=["special_class", "unhandled_class", "pop_class", "special_instance", "state"],
)
def test_a_target_returned_but_not_listed_is_named_as_written(target: object, shown: str) -> None:
    # Before: "on_state returned <class 'mycorrhizal.septum.targets.Retry'>, ...;
    # add LabeledTransition(SOME_LABEL, <class 'mycorrhizal.septum.targets.Retry'>)", a fix
    # that cannot be pasted; a state read "<septum state Elsewhere>".
    fsm = flat_returning(target)
    fsm.run_sync()
    with pytest.raises(
        UndeclaredLabelError,
        match=rf"^state Loose: on_state returned {shown}, which its transitions\(\) does not declare\. Fix: "
        rf"add LabeledTransition\(SOME_LABEL, {shown}\) or return a declared label$",
    ):
        fsm.send("go")
