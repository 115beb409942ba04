"""Who runs a machine: a caller's run(), the timer's background run, and handlers calling run()."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import ExecutionError, HandlerError, ManualClock
from mycorrhizal.septum import LabeledTransition, Repeat, State, StateConfiguration, StateMachine, septum

from ._charts import box, leaf, names, regions
from ._helpers import E, log_to, make, terminal

End = terminal()


FIX = (
    r"\. Fix: send a message with ctx\.send_message\(\.\.\.\) \(or return a label\) instead of driving "
    r"the machine from its own handler$"
)
"""How a handler driving its own machine is told to do it instead (a pattern for ``match=``)."""


@septum.state(config=StateConfiguration(can_dwell=True))
class Broken:
    """An error state: a re-entrant drive must never lead here."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        log_to(ctx, "broken")


@pytest.fixture(params=[None, Broken], ids=["no error_state", "error_state"])
def error_state(request: pytest.FixtureRequest) -> State | None:
    """A machine built with no error state, and one built with one."""
    found: State | None = request.param
    return found


def reentrant(nested: str, **handlers: Any) -> tuple[dict[str, Any], list[StateMachine]]:
    """Handlers in which the ``reenter`` ones call ``nested`` on the machine put in the list."""
    holder: list[StateMachine] = []

    async def reenter(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:  # the entry run: tick() takes its one-frame path for it
            await getattr(holder[0], nested)()

    return {role: reenter if fn == "reenter" else fn for role, fn in handlers.items()}, holder


def refused(state: str, role: str, nested: str) -> str:
    """The whole message of a handler's refused drive of its own machine (a pattern)."""
    said = rf"^machine {state}: state {state}: {role} called {nested}\(\) on its own machine"
    return said + r"[^\n]*" + FIX


@pytest.mark.parametrize("driver", ["run", "tick"])
@pytest.mark.parametrize(
    ("role", "nested"),
    [
        ("on_state", "run"),
        ("on_state", "tick"),
        ("on_state", "reset"),
        ("on_enter", "initialize"),
        ("on_enter", "run"),
    ],
)
async def test_a_handler_driving_its_own_machine_is_raised_never_routed(
    driver: str, role: str, nested: str, error_state: State | None, clock: ManualClock, caplog: Any
) -> None:
    # Before: refused inside the handler, then routed as its failure: a HandlerError, or with an
    # error_state, a WARNING and the error state, although the docs raise such bugs, never route them.
    handlers, holder = reentrant(nested, **{"on_state": lambda ctx: None, role: "reenter"})
    s = make("SelfRunner", config=StateConfiguration(can_dwell=True), **handlers)
    fsm = StateMachine(s, error_state=error_state, timebase=clock)
    holder.append(fsm)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal"):
        with pytest.raises(ExecutionError, match=refused("SelfRunner", role, nested)) as info:
            await getattr(fsm, driver)()
    assert not isinstance(info.value, HandlerError)
    assert fsm.current_state is s and "log" not in fsm.common
    assert caplog.records == []


async def test_a_timeout_handler_driving_its_own_machine_is_raised_to_the_next_caller(
    error_state: State | None, clock: ManualClock
) -> None:
    # Nobody runs the machine when its timeout fires: the background run keeps the error for the next run().
    handlers, holder = reentrant(
        "tick",
        on_state=lambda ctx: None,
        on_timeout="reenter",
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    s = make("Sleeper", config=StateConfiguration(timeout=1), **handlers)
    fsm = StateMachine(s, error_state=error_state, timebase=clock)
    holder.append(fsm)
    await fsm.run()
    await clock.run_for(1)
    with pytest.raises(ExecutionError, match=refused("Sleeper", "on_timeout", "tick")) as info:
        await fsm.run()
    assert not isinstance(info.value, HandlerError)
    assert fsm.current_state is s and "log" not in fsm.common


def compound(inner: State) -> State:
    return box("Outer", inner)


def parallel(inner: State) -> State:
    other = leaf("Other", on_state=lambda ctx: None, config=StateConfiguration(can_dwell=True))
    return regions("Outer", inner, other)


@pytest.mark.parametrize("shape", [compound, parallel])
@pytest.mark.parametrize("nested", ["run", "tick"])
async def test_a_statecharts_handler_driving_its_own_machine_is_raised_never_routed(
    shape: Any, nested: str, error_state: State | None, clock: ManualClock
) -> None:
    handlers, holder = reentrant(nested, on_state="reenter")
    chart = shape(leaf("Inner", config=StateConfiguration(can_dwell=True), **handlers))
    fsm = StateMachine(chart, error_state=error_state, timebase=clock)
    holder.append(fsm)
    pattern = rf"^machine Outer: state Inner: on_state called {nested}\(\) on its own machine[^\n]*" + FIX
    with pytest.raises(ExecutionError, match=pattern) as info:
        await fsm.run()
    assert not isinstance(info.value, HandlerError)
    assert "Inner" in names(fsm.configuration) and "broken" not in fsm.common["log"]


async def test_awaiting_send_message_is_a_handlers_failure_routed_as_any_other(
    error_state: State | None, clock: ManualClock
) -> None:
    # send_message() queues at once and returns a bool: awaiting it is the handler's TypeError, not a
    # drive of the machine, and is routed like any failure of the handler.
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg == "go":
            await ctx.machine.send_message("again")

    fsm = StateMachine(
        make("Sender", on_state=on_state, config=StateConfiguration(can_dwell=True)),
        error_state=error_state,
        timebase=clock,
    )
    fsm.send_message("go")
    if error_state is None:
        with pytest.raises(HandlerError, match=r"^state Sender: on_state raised TypeError: .*bool.*await"):
            await fsm.run()
        return
    await fsm.run()
    # Its entry run, then the message queued before the await failed.
    assert fsm.current_state is Broken and fsm.common["log"] == ["broken", "broken"]


@pytest.mark.parametrize("driver", ["run", "tick"])
@pytest.mark.parametrize("nested", ["run", "tick", "initialize"])
async def test_a_handler_driving_its_own_machine_is_refused_not_deadlocked(driver, nested) -> None:
    holder: list[StateMachine] = []

    async def reenter(ctx):
        if ctx.msg is None:  # the entry run: tick() takes its one-frame path for it
            await getattr(holder[0], nested)()

    s = make("SelfRunner", on_state=reenter, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s)
    holder.append(fsm)
    if nested == "initialize":
        await fsm.initialize()  # done: a second call returns at once, inside a handler too
        await getattr(fsm, driver)()
        return
    with pytest.raises(ExecutionError, match=rf"on_state called {nested}\(\) on its own machine") as info:
        await getattr(fsm, driver)()
    assert info.value.__cause__ is None  # raised itself, not a HandlerError caused by it


async def test_a_handler_may_start_its_own_machine_in_another_task() -> None:
    tasks: list[asyncio.Task[int]] = []
    holder: list[StateMachine] = []

    async def later(ctx):
        if ctx.msg == "spawn":
            ctx.send_message("spawned")
            tasks.append(asyncio.create_task(holder[0].run()))  # waits its turn: no deadlock
        elif ctx.msg is not None:
            log_to(ctx, ctx.msg)

    s = make("Spawner", on_state=later, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s)
    holder.append(fsm)
    fsm.send_message("spawn")
    assert await fsm.run() == 3
    assert await tasks[0] == 0 and fsm.common["log"] == ["spawned"]


async def test_the_timers_background_run_waits_for_a_callers_run_instead_of_failing(
    clock: ManualClock,
) -> None:
    async def on_timeout(ctx):
        log_to(ctx, "timeout")
        await ctx.timebase.sleep(1)  # the caller's run() is suspended here
        log_to(ctx, "timeout handled")

    s = make(
        "Busy",
        config=StateConfiguration(timeout=1.0),
        on_state=lambda ctx: log_to(ctx, ctx.msg) if ctx.msg is not None else None,
        on_timeout=on_timeout,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    clock.advance(1)  # fires: the timer schedules a background run, which has not started yet
    later = asyncio.create_task(clock.run_for(1))
    await fsm.run()  # ...and a caller gets there first; the background run starts while it waits
    await later
    fsm.send_message("next")
    await fsm.run()  # nothing went wrong in the background, so nothing is raised here
    assert fsm.common["log"] == ["timeout", "timeout handled", "next"]


async def test_a_cancelled_waiter_does_not_strand_the_runs_behind_it(clock: ManualClock) -> None:
    async def slow(ctx):
        if ctx.msg == "slow":
            await ctx.timebase.sleep(1)
        if ctx.msg is not None:
            log_to(ctx, ctx.msg)

    s = make("Queue", on_state=slow, config=StateConfiguration(can_dwell=True))
    fsm = StateMachine(s, timebase=clock)
    fsm.send_message("slow")
    first = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)
    second = asyncio.create_task(fsm.run())
    third = asyncio.create_task(fsm.run())
    await asyncio.sleep(0)
    second.cancel()
    await clock.run_for(1)
    assert await first == 2
    assert await third == 0  # not stranded behind the cancelled second: it got its turn, idle
    with pytest.raises(asyncio.CancelledError):
        await second
    assert fsm.common["log"] == ["slow"]


async def test_a_background_failure_while_a_caller_waited_is_raised_to_that_caller(
    clock: ManualClock,
) -> None:
    async def on_timeout(ctx):
        await ctx.timebase.sleep(1)
        return None

    def on_state(ctx):
        if ctx.msg == "poison":
            raise RuntimeError("poisoned")

    s = make(
        "Shared",
        config=StateConfiguration(timeout=1.0),
        on_state=on_state,
        on_timeout=on_timeout,
        transitions=lambda: [LabeledTransition(E.DONE, End)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    await clock.run_for(1)  # the background run is now suspended in on_timeout
    fsm.send_message("poison")
    caller = asyncio.create_task(fsm.run())  # waits its turn; the background run handles "poison"
    await clock.run_for(1)
    with pytest.raises(Exception, match="on_state raised RuntimeError: poisoned"):
        await caller
    assert await fsm.run() == 0  # reported once


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("send"), st.booleans()),  # a message; True: its handler suspends
            st.tuples(st.just("run"), st.just(False)),  # a caller's run(), as a task
            st.tuples(st.just("time"), st.sampled_from([0.5, 1.0, 2.0])),
        ),
        max_size=25,
    )
)
async def test_callers_and_the_timer_share_a_machine_without_losing_or_repeating_anything(ops) -> None:
    clock = ManualClock()

    async def on_state(ctx):
        if ctx.msg is not None:
            number, slow = ctx.msg
            if slow:
                try:
                    await ctx.timebase.sleep(0.5)
                except asyncio.CancelledError:  # the state's timeout interrupted it, as documented
                    log_to(ctx, number)
                    raise
            log_to(ctx, number)

    async def on_timeout(ctx):
        ctx.common.setdefault("timeouts", []).append(ctx.timebase.now() - ctx.common["entered"])
        await ctx.timebase.sleep(0.25)  # the timer's background run is suspended here for a while
        return E.REPEAT

    s = make(
        "Shared",
        config=StateConfiguration(timeout=1.0),
        on_enter=lambda ctx: ctx.common.__setitem__("entered", ctx.timebase.now()),
        on_state=on_state,
        on_timeout=on_timeout,
        transitions=lambda: [LabeledTransition(E.REPEAT, Repeat)],
    )
    fsm = StateMachine(s, timebase=clock)
    await fsm.run()
    callers = []
    sent = 0
    for what, arg in ops:
        if what == "send":
            fsm.send_message((sent, arg))
            sent += 1
        elif what == "run":
            callers.append(asyncio.create_task(fsm.run()))
        else:
            await clock.run_for(arg)
    callers.append(asyncio.create_task(fsm.run()))  # the last: it also raises a background failure
    while not all(c.done() for c in callers) or fsm.queue_size:
        await clock.run_for(0.5)  # a run() may wait behind the timer's, asleep on this clock
    for caller in callers:
        await caller  # none of them raises: nothing failed, in a caller or in the background
    assert fsm.common.get("log", []) == list(range(sent))  # once each, handled or interrupted, in order
    assert all(elapsed >= 1.0 for elapsed in fsm.common.get("timeouts", []))
