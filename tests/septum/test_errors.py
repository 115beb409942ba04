"""Handler exceptions: routed to the error hook / error state, or raised as HandlerError."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import (
    ExecutionError,
    HandlerError,
    PopFromEmptyStack,
    QueueOverflowError,
    StateMachineComplete,
    UndeclaredLabelError,
)
from mycorrhizal.common.errors import split_fix
from mycorrhizal.septum import (
    Again,
    HandlerFailed,
    LabeledTransition,
    Pop,
    Push,
    Repeat,
    Restart,
    Retry,
    StateConfiguration,
    StateMachine,
)
from mycorrhizal.septum.registry import register_state
from mycorrhizal.septum.util import to_mermaid

from ._helpers import E, log_to, make, terminal

End = terminal()


def boom(ctx):
    if ctx.msg == "bad":
        raise ValueError("bad input")
    return None


def recover(ctx):
    log_to(ctx, ("recovering", ctx.error.state, ctx.error.event, type(ctx.error.__cause__).__name__))
    return E.BACK


Worker = make(
    "Worker",
    on_state=boom,
    on_leave=lambda ctx: log_to(ctx, "leave Worker"),
    transitions=lambda: [LabeledTransition(E.DONE, End)],
)
Oops = make("Oops", on_state=recover, transitions=lambda: [LabeledTransition(E.BACK, Worker)])


async def test_without_error_state_the_error_is_raised_with_state_and_message() -> None:
    fsm = StateMachine(Worker)
    fsm.send_message("bad")
    with pytest.raises(HandlerError, match="state Worker: on_state raised ValueError: bad input") as info:
        await fsm.run()
    assert info.value.state == "Worker" and info.value.event == "bad"
    assert isinstance(info.value.__cause__, ValueError)
    assert fsm.current_state is Worker  # the machine is still usable
    fsm.send_message("fine")
    await fsm.run()


async def test_error_state_receives_the_error_and_the_failed_state_is_abandoned(caplog) -> None:
    fsm = StateMachine(Worker, error_state=Oops)
    fsm.send_message("bad")
    await fsm.run()
    assert fsm.common["log"] == [("recovering", "Worker", "bad", "ValueError")]  # no "leave Worker"
    assert fsm.current_state is Worker
    assert "machine Worker: state Worker: on_state raised ValueError: bad input; going to Oops" in caplog.text


async def _fails_on_entry(ctx):
    raise ValueError("bad entry")


FailingEntry = make(
    "FailingEntry", on_state=_fails_on_entry, transitions=lambda: [LabeledTransition(E.DONE, End)]
)


@pytest.mark.parametrize("routed", [False, True])
async def test_a_failing_async_entry_run_taken_by_tick_is_raised_or_routed(routed: bool) -> None:
    # tick() takes the entry run of an async state in a frame of its own: failures go the same way.
    fsm = StateMachine(FailingEntry, error_state=Oops if routed else None)
    await fsm.initialize()
    if routed:
        assert await fsm.tick()
        assert fsm.current_state is Oops and fsm.common == {}  # Oops has not run yet
        await fsm.tick()
        assert fsm.common["log"] == [("recovering", "FailingEntry", None, "ValueError")]
        return
    with pytest.raises(HandlerError, match="state FailingEntry: on_state raised ValueError: bad entry"):
        await fsm.tick()
    assert fsm.current_state is FailingEntry and fsm.is_idle  # the entry run was taken, not owed


async def test_error_in_the_error_state_is_raised() -> None:
    def broken(ctx):
        raise KeyError("again")

    Broken = make("BrokenError", on_state=broken, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(Worker, error_state=Broken)
    fsm.send_message("bad")
    with pytest.raises(HandlerError, match="state BrokenError: on_state raised KeyError"):
        await fsm.run()


@pytest.mark.parametrize("role", ["on_enter", "on_leave"])
async def test_errors_in_enter_and_leave_hooks_are_routed(role) -> None:
    def fail(ctx):
        raise RuntimeError(f"{role} broke")

    hooks = {role: fail}
    target = make(
        "Target",
        on_state=lambda ctx: None,
        config=StateConfiguration(can_dwell=True),
        **({"on_enter": fail} if role == "on_enter" else {}),
    )
    source = make(
        "Source",
        on_state=lambda ctx: E.GO if ctx.msg else None,
        transitions=lambda: [LabeledTransition(E.GO, target)],
        **({"on_leave": fail} if role == "on_leave" else {}),
    )
    assert hooks
    Catch = make(
        "Catch", on_state=lambda ctx: log_to(ctx, str(ctx.error)), config=StateConfiguration(can_dwell=True)
    )
    fsm = StateMachine(source, error_state=Catch)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is Catch
    assert fsm.common["log"] == [
        f"state {'Target' if role == 'on_enter' else 'Source'}: {role} raised RuntimeError: {role} broke"
    ]


async def test_error_hook_observes_and_can_choose_the_state() -> None:
    seen = []

    def hook(ctx, error):
        seen.append((error.state, error.event))
        return Oops if error.event == "bad" else None

    fsm = StateMachine(Worker, on_error=hook)
    fsm.send_message("bad")
    await fsm.run()
    assert seen == [("Worker", "bad")]
    assert fsm.common["log"][0][0] == "recovering"


async def test_async_error_hook_returning_none_falls_back_to_raising() -> None:
    async def hook(ctx, error):
        return None

    fsm = StateMachine(Worker, on_error=hook)
    fsm.send_message("bad")
    with pytest.raises(HandlerError, match="bad input"):
        await fsm.run()


async def test_error_hook_must_return_a_state_a_label_or_none() -> None:
    fsm = StateMachine(Worker, on_error=lambda ctx, error: "Oops")
    fsm.send_message("bad")
    with pytest.raises(
        TypeError, match="on_error returned 'Oops', which is neither a septum state nor a label"
    ):
        await fsm.run()


@pytest.mark.parametrize(
    ("chosen", "shown"),
    [(Again, "Again"), (Pop(), r"Pop\(\)"), ("Oops", "'Oops'")],
    ids=["class", "instance", "text"],
)
async def test_an_error_hook_answering_an_unlisted_target_hears_it_named(chosen: object, shown: str) -> None:
    # Before: "on_error returned <class 'mycorrhizal.septum.targets.Again'>, which is neither ..."
    fsm = StateMachine(Worker, on_error=lambda ctx, error: chosen)
    fsm.send_message("bad")
    declared = r"which is neither a septum state nor a label state Worker declares\. Fix: "
    with pytest.raises(TypeError, match=rf"^on_error returned {shown}, {declared}"):
        await fsm.run()


@pytest.mark.parametrize("hook", ["raising", "not a state or label"])
async def test_a_failure_whose_error_hook_fails_is_told_to_observers_before_it_is_raised(hook: str) -> None:
    # The handler raised, then the hook asked where to go raised (or answered nonsense): what the
    # caller gets is the hook's error, and observers are told the handler's failure, raised (None).
    def broken(ctx, error):
        if hook == "raising":
            raise RuntimeError("hook broke")
        return "Oops"

    fsm = StateMachine(Worker, on_error=broken)
    seen = []
    fsm.add_observer(seen.append)
    fsm.send_message("bad")
    refused = {
        "raising": "^hook broke$",
        "not a state or label": "on_error returned 'Oops', which is neither a septum state nor a label "
        "state Worker declares. Fix: return a state, one of its labels, or None",
    }
    with pytest.raises(RuntimeError if hook == "raising" else TypeError, match=refused[hook]):
        await fsm.run()
    failed = [e for e in seen if isinstance(e, HandlerFailed)]
    told = [(e.state, e.role, e.message, e.routed_to) for e in failed]
    assert told == [("Worker", "on_state", "bad", None)]
    assert str(failed[0].error.__cause__) == "bad input"


async def test_error_state_keeps_the_stack_so_it_can_pop_back() -> None:
    Risky = make("Risky", on_state=boom, transitions=lambda: [LabeledTransition(E.DONE, End)])
    Home = make(
        "Home",
        on_state=lambda ctx: E.PUSH if ctx.msg == "call" else None,
        transitions=lambda: [LabeledTransition(E.PUSH, Push(Risky, Home))],
    )
    Handler = make("Handler", on_state=lambda ctx: E.POP, transitions=lambda: [LabeledTransition(E.POP, Pop)])
    fsm = StateMachine(Home, error_state=Handler)
    fsm.send_message("call")
    fsm.send_message("bad")
    await fsm.run()
    assert fsm.current_state is Home and fsm.state_stack == ()


async def test_initial_on_enter_failure_is_routed() -> None:
    def fail(ctx):
        raise OSError("no disk")

    Start = make("Start", on_enter=fail, on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(Start, error_state=Oops)
    await fsm.initialize()
    assert fsm.current_state is Oops


# -- a hook that raises with nowhere to route the error: the machine stays consistent ----------


def _fail(ctx):
    raise RuntimeError("hook broke")


@pytest.mark.parametrize("move", ["push", "pop"])
async def test_a_failed_on_leave_leaves_the_stack_as_it_was(move) -> None:
    Callee = make("Callee", on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    Caller = make(
        "Caller",
        on_state=lambda ctx: {"push": E.PUSH, "pop": E.POP}.get(ctx.msg),
        on_leave=lambda ctx: _fail(ctx) if ctx.common.get("fragile") else None,
        transitions=lambda: [LabeledTransition(E.PUSH, Push(Caller, Callee)), LabeledTransition(E.POP, Pop)],
    )
    fsm = StateMachine(Caller)
    fsm.send_message("push")  # Caller -> Caller, with Callee to return to: the stack is [Callee]
    await fsm.run()
    assert fsm.state_stack == (Callee,)
    fsm.common["fragile"] = True
    fsm.send_message(move)
    with pytest.raises(HandlerError, match="state Caller: on_leave raised RuntimeError: hook broke"):
        await fsm.run()
    assert fsm.current_state is Caller and fsm.state_stack == (Callee,)  # the move did not happen
    fsm.common["fragile"] = False
    fsm.send_message("pop")
    await fsm.run()
    assert fsm.current_state is Callee and fsm.state_stack == ()


async def test_a_failed_on_leave_keeps_the_states_timeout(clock) -> None:
    s = make(
        "Sticky",
        config=StateConfiguration(timeout=5.0),
        on_state=lambda ctx: E.GO if ctx.msg == "go" else None,
        on_leave=lambda ctx: _fail(ctx) if ctx.msg == "go" else None,
        on_timeout=lambda ctx: E.DONE,
        transitions=lambda: [LabeledTransition(E.GO, End), LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    fsm.send_message("go")
    with pytest.raises(HandlerError, match="state Sticky: on_leave raised"):
        await fsm.run()
    assert fsm.current_state is s  # still in Sticky, so its timeout still counts
    await clock.run_for(5)
    assert fsm.current_state is End


async def test_a_failed_initial_on_enter_enters_once_and_arms_one_timer(clock) -> None:
    def enter(ctx):
        log_to(ctx, "enter")
        if len(ctx.common["log"]) == 1:
            raise OSError("no disk")

    s = make(
        "Booting",
        config=StateConfiguration(timeout=5.0),
        on_enter=enter,
        on_state=lambda ctx: log_to(ctx, ("state", ctx.msg)),
        on_timeout=lambda ctx: (log_to(ctx, ("timeout", ctx.timebase.now())), E.REPEAT)[1],
        transitions=lambda: [LabeledTransition(E.REPEAT, Repeat)],
    )
    fsm = StateMachine(s, timebase=clock)
    with pytest.raises(HandlerError, match="state Booting: on_enter raised OSError: no disk"):
        await fsm.run()
    await clock.run_for(1)
    await fsm.run()  # the state was entered (only its hook failed): its entry run, no second entry
    assert fsm.common["log"] == ["enter", ("state", None)]
    await clock.run_for(4)
    assert fsm.common["log"][2:] == [("timeout", 5.0), "enter", ("state", None)]
    await clock.run_for(4.9)
    assert len(fsm.common["log"]) == 5  # one timer per entry: nothing stale fires early
    await clock.run_for(0.1)
    assert fsm.common["log"][5] == ("timeout", 10.0)


async def test_a_failed_terminal_on_enter_still_completes_the_machine() -> None:
    Final = terminal("Final", on_enter=_fail)
    s = make("Last", on_state=lambda ctx: E.DONE, transitions=lambda: [LabeledTransition(E.DONE, Final)])
    fsm = StateMachine(s)
    with pytest.raises(HandlerError, match="state Final: on_enter raised RuntimeError"):
        await fsm.run()
    assert fsm.current_state is Final and fsm.is_complete
    assert await fsm.run() == 0
    with pytest.raises(
        StateMachineComplete,
        match=r"machine Last is complete \(terminal state Final\); it takes no more messages\. "
        r"Fix: build a new",
    ):
        fsm.send_message("more")


async def test_a_state_chosen_by_the_error_hook_whose_on_enter_fails_is_raised_not_rerouted() -> None:
    Shaky = make(
        "Shaky", on_enter=_fail, on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True)
    )
    calls = []

    def hook(ctx, error):
        calls.append(error.state)
        return Shaky

    fsm = StateMachine(Worker, on_error=hook)
    fsm.send_message("bad")
    with pytest.raises(HandlerError, match="state Shaky: on_enter raised RuntimeError: hook broke"):
        await fsm.run()
    assert calls == ["Worker"] and fsm.current_state is Shaky


@pytest.mark.parametrize("move", ["retry", "restart"])
async def test_a_failed_on_leave_leaves_the_retry_count_as_it_was(move) -> None:
    s = make(
        "Counting",
        config=StateConfiguration(retries=5),
        on_state=lambda ctx: {"retry": E.RETRY, "restart": E.RESTART}.get(ctx.msg),
        on_leave=lambda ctx: _fail(ctx) if ctx.common.get("fragile") else None,
        on_fail=lambda ctx: None,
        transitions=lambda: [LabeledTransition(E.RETRY, Retry), LabeledTransition(E.RESTART, Restart)],
    )
    fsm = StateMachine(s)
    fsm.send_message("retry")
    await fsm.run()
    assert fsm.retry_count == 1
    fsm.common["fragile"] = True
    fsm.send_message(move)
    with pytest.raises(HandlerError, match="on_leave raised"):
        await fsm.run()
    assert fsm.retry_count == 1  # the re-entry did not happen, so neither did its count


async def test_an_error_in_a_timer_driven_on_timeout_is_routed_to_the_error_state(clock) -> None:
    s = make(
        "Expiring",
        config=StateConfiguration(timeout=2.0),
        on_state=lambda ctx: None,
        on_timeout=_fail,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    Catch = make(
        "CatchTimeout",
        on_state=lambda ctx: log_to(ctx, str(ctx.error)),
        config=StateConfiguration(can_dwell=True),
    )
    fsm = StateMachine(s, timebase=clock, error_state=Catch)
    await fsm.run()
    await clock.run_for(2)  # nobody runs the machine: the timer's background run handles it
    assert fsm.current_state is Catch and clock.pending == 0
    assert fsm.common["log"] == ["state Expiring: on_timeout raised RuntimeError: hook broke"]
    assert await fsm.run() == 0  # routed, so nothing is kept to be raised later


# --- every refusal ends with its fix ----------------------------------------------------------------

Idle = make("Idle", on_state=lambda ctx: None, transitions=lambda: [LabeledTransition(E.DONE, End)])


async def _undeclared() -> None:
    loose = make("Loose", on_state=lambda ctx: "GONE", transitions=lambda: [LabeledTransition(E.GO, End)])
    await StateMachine(loose).run()


async def _unawaited() -> None:
    async def later() -> E:
        return E.GO

    async def on_state(ctx: object) -> object:
        return later()  # the mistake: no await

    await StateMachine(
        make("Hasty", on_state=on_state, transitions=lambda: [LabeledTransition(E.GO, End)])
    ).run()


async def _empty_stack() -> None:
    pops = make(
        "Pops",
        on_state=lambda ctx: E.POP,
        transitions=lambda: [LabeledTransition(E.POP, Pop), LabeledTransition(E.PUSH, Push(End))],
    )
    await StateMachine(pops).run()


async def _complete() -> None:
    fsm = StateMachine(End)
    await fsm.initialize()
    fsm.send_message("late")


async def _closed() -> None:
    fsm = StateMachine(Idle)
    await fsm.aclose()
    fsm.send_message("late")


async def _queue_full() -> None:
    fsm = StateMachine(Idle, max_queue_size=1)
    fsm.send_message("first")
    fsm.send_message("second")


async def _async_handler_driven_synchronously() -> None:
    async def on_state(ctx: object) -> None:
        return None

    StateMachine(
        make("Awaits", on_state=on_state, transitions=lambda: [LabeledTransition(E.GO, End)])
    ).run_sync()


async def _error_hook_answers_nonsense() -> None:
    fsm = StateMachine(Worker, on_error=lambda ctx, error: "nowhere")
    fsm.send_message("bad")
    await fsm.run()


async def _not_a_machine() -> None:
    to_mermaid(42)


async def _not_a_state() -> None:
    register_state(42)  # type: ignore[arg-type]


async def _documents_only() -> None:
    _ = StateMachine(Idle).blackboard


async def _immutable() -> None:
    Idle.name = "Busy"  # type: ignore[misc]


REFUSALS = [
    (_undeclared, UndeclaredLabelError, r"^state Loose: on_state returned 'GONE', which its transitions"),
    (
        _unawaited,
        ExecutionError,
        r"^state Hasty: on_state returned the coroutine later\(\) instead of a label\.",
    ),
    (_empty_stack, PopFromEmptyStack, r"^state Pops: Pop \(label POP\) with an empty stack\. Fix: Push"),
    (_complete, StateMachineComplete, r"^machine End is complete \(terminal state End\); it takes no more"),
    (_closed, ExecutionError, r"^machine Idle is closed; it takes no more messages\. Fix: build a new"),
    (
        _queue_full,
        QueueOverflowError,
        r"^machine Idle \(state Idle\): message queue is full \(1 messages\)\.",
    ),
    (_async_handler_driven_synchronously, ExecutionError, r"^machine Awaits cannot be driven synchronously"),
    (
        _error_hook_answers_nonsense,
        TypeError,
        r"^on_error returned 'nowhere', which is neither a septum state",
    ),
    (_not_a_machine, ValueError, r"^42 is not a state machine\. Fix: pass a StateMachine"),
    (_not_a_state, TypeError, r"^register_state\(\) takes a septum state, got 42\. Fix: decorate it"),
    (_documents_only, AttributeError, r"'blackboard': only 0\.x's documents named it\. Fix: use fsm\.common"),
    (_immutable, AttributeError, r"^state 'Idle' is immutable\. Fix: declare a new one instead$"),
]
"""(what raises, the error's type, its start): refusals of a machine, its states and helpers."""


@pytest.mark.parametrize(
    ("trigger", "kind", "match"), REFUSALS, ids=[t.__name__.strip("_") for t, _, _ in REFUSALS]
)
async def test_each_refusal_names_what_it_refuses_and_ends_with_one_fix(
    trigger: Any, kind: type[Exception], match: str
) -> None:
    # Before: these said their advice after "; " (UndeclaredLabelError: "...does not declare; add
    # LabeledTransition(...)"), which split_fix() could not find: no ". Fix: " at all.
    with pytest.raises(kind, match=match) as info:
        await trigger()
    said = str(info.value)
    problem, fix = split_fix(said)
    assert said.count(". Fix: ") == 1 and problem and fix, said
