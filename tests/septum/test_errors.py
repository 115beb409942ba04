"""Handler exceptions: routed to the error hook / error state, or raised as HandlerError."""

from __future__ import annotations

import pytest

from mycorrhizal.common import HandlerError
from mycorrhizal.septum import LabeledTransition, Pop, Push, StateConfiguration, StateMachine

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


async def test_error_hook_must_return_a_state() -> None:
    fsm = StateMachine(Worker, on_error=lambda ctx, error: "Oops")
    fsm.send_message("bad")
    with pytest.raises(TypeError, match="on_error must return a septum state or None, got 'Oops'"):
        await fsm.run()


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
