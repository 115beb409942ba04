"""fsm_key machines go away: at rest past fsm_idle_ttl, or least recently used past fsm_max_machines."""

import logging
import re
from collections.abc import Awaitable, Callable
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import HandlerError, ManualClock
from mycorrhizal.mycelium import PNRunner, machines, pn
from mycorrhizal.mycelium.machine_pool import POOL
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.septum.durable import unseen

from .conftest import STRAY, STRAY_FIX, RunNet, machine_mislabelling


@septum.state(config=StateConfiguration(can_dwell=True))
def Idle():
    """Routes every token; 'k:close' closes its key for 100 s, 'k:park' parks it, 'k:slow' takes 100 s."""

    class Events(Enum):
        CLOSE = auto()
        PARK = auto()

    @septum.on_enter
    def on_enter(ctx):  # type: ignore[no-untyped-def]
        ctx.common["entries"] = ctx.common.get("entries", 0) + 1

    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        command = ctx.msg.token.split(":")[1]
        if command == "slow":
            await ctx.timebase.sleep(100)
        ctx.msg.route("done")
        return {"close": Events.CLOSE, "park": Events.PARK}.get(command)

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.CLOSE, Closed), LabeledTransition(Events.PARK, Parked)]


@septum.state(config=StateConfiguration(timeout=100.0))
def Closed():
    class Events(Enum):
        REOPEN = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.reject("closed")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        ctx.common["reopened"] = ctx.common.get("reopened", 0) + 1
        return Events.REOPEN

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.REOPEN, Idle)]


@septum.state(config=StateConfiguration(can_dwell=True))
def Parked():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.reject("parked")


def keyed(weight: int = 1, **options: Any) -> Any:
    """The net of ``Idle``'s machines by key; ``weight``: tokens per firing."""

    @pn.net
    def Keyed(builder):  # type: ignore[no-untyped-def]
        inbox, done, refused = builder.place("inbox"), builder.place("done"), builder.place("refused")

        @builder.transition(
            fsm=Idle,
            fsm_key=lambda token: token.split(":")[0],
            inputs=[(inbox, weight)],
            outputs=[done],
            rejected=refused,
            **options,
        )
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Keyed


async def send(runner: PNRunner, *tokens: str) -> None:
    runner.add_tokens("inbox", tokens)
    await runner.run_until_idle()


def keys(runner: PNRunner) -> set[str]:
    return set(machines(runner, "work"))


async def test_a_machine_at_rest_goes_fsm_idle_ttl_after_its_last_token(
    running: RunNet, clock: ManualClock
) -> None:
    runner = await running(keyed(fsm_idle_ttl=60))
    await send(runner, "a:x", "b:x")
    await clock.run_for(30)
    await send(runner, "a:x")
    await clock.run_for(29.9)
    assert keys(runner) == {"a", "b"}
    await clock.run_for(0.1)  # t=60: b's last token is 60 s old
    assert keys(runner) == {"a"} and machines(runner, "work").evicted_idle == 1
    await clock.run_for(30)  # t=90: a's too
    assert keys(runner) == set() and machines(runner, "work").evicted_idle == 2
    assert clock.pending == 0  # no machine left, no eviction timer left


async def test_a_machine_away_from_rest_is_looked_at_again_a_ttl_later(
    running: RunNet, clock: ManualClock
) -> None:
    runner = await running(keyed(fsm_idle_ttl=60))
    await send(runner, "a:close")
    await clock.run_for(60)
    assert machines(runner, "work")["a"].current_state is Closed  # waiting for its timeout: kept
    await clock.run_for(40)  # t=100: the timeout takes it back to Idle, at rest from now on
    await clock.run_for(19.9)
    assert keys(runner) == {"a"}
    await clock.run_for(0.1)  # t=120: looked at again, and at rest
    assert keys(runner) == set()


async def test_a_machine_handling_a_token_is_not_evicted(running: RunNet, clock: ManualClock) -> None:
    runner = await running(keyed(fsm_idle_ttl=60))
    runner.add_token("inbox", "a:slow")  # its handler takes 100 s, in the initial state
    await clock.run_for(60)
    assert runner.in_flight == 1 and keys(runner) == {"a"}
    await clock.run_for(40)
    await runner.run_until_idle()
    assert runner.tokens("done") == ("a:slow",)
    await clock.run_for(19.9)
    assert keys(runner) == {"a"}
    await clock.run_for(0.1)
    assert keys(runner) == set()


@pytest.mark.parametrize(
    ("idle_states", "evicted"), [(None, False), ([Idle, Parked], True)], ids=["default", "declared"]
)
async def test_declared_idle_states_are_rest_too(
    running: RunNet, clock: ManualClock, idle_states: Any, evicted: bool
) -> None:
    runner = await running(keyed(fsm_idle_ttl=60, fsm_idle_states=idle_states))
    await send(runner, "a:park")
    await clock.run_for(180)
    assert keys(runner) == (set() if evicted else {"a"})


async def test_an_evicted_machine_is_forgotten_and_its_key_starts_afresh(
    running: RunNet, clock: ManualClock
) -> None:
    bb: dict[str, Any] = {}
    runner = await running(keyed(fsm_idle_ttl=60, fsm_idle_states=[Idle, Parked]), bb)
    await send(runner, "a:park", "a:x")
    assert [r.reason for r in runner.tokens("refused")] == ["parked"]
    old = machines(runner, "work")["a"]
    await clock.run_for(60)
    await send(runner, "a:x")  # a fresh machine: it forgot it was parked
    assert runner.tokens("done") == ("a:park", "a:x")
    assert machines(runner, "work")["a"] is not old and bb["entries"] == 2


async def test_fsm_max_machines_evicts_the_least_recently_used(running: RunNet, clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = await running(keyed(fsm_max_machines=2), bb)
    await send(runner, "a:x", "b:x", "a:x", "c:x")
    assert keys(runner) == {"a", "c"}  # b's last token was older than a's
    view = machines(runner, "work")
    assert (view.evicted_lru, view.evicted_lru_active) == (1, 0)
    await send(runner, "a:close", "c:x", "d:x")  # a, closed for 100 s, is now the least recently used
    assert keys(runner) == {"c", "d"} and (view.evicted_lru, view.evicted_lru_active) == (2, 1)
    await clock.run_for(200)
    assert "reopened" not in bb  # the evicted machine's timeout never fires
    assert len(view) == 2


async def test_memory_stays_flat_with_a_key_per_token(running: RunNet, clock: ManualClock) -> None:
    # 2,000 distinct keys, each used once: with both rules the pool never holds more than the bound,
    # and once the traffic stops, fsm_idle_ttl empties it.
    runner = await running(keyed(fsm_idle_ttl=60, fsm_max_machines=100))
    most = 0
    for batch in range(20):
        await send(runner, *(f"{batch}-{i}:x" for i in range(100)))
        most = max(most, len(machines(runner, "work")))
        await clock.run_for(1)
    assert most == 100 and len(runner.tokens("done")) == 2_000
    assert machines(runner, "work").evicted_lru == 1_900
    await clock.run_for(60)
    assert len(machines(runner, "work")) == 0 and clock.pending == 0


async def test_without_eviction_every_key_keeps_its_machine(running: RunNet, clock: ManualClock) -> None:
    runner = await running(keyed())
    await send(runner, *(f"{i}:x" for i in range(50)))
    await clock.run_for(10_000)
    assert len(machines(runner, "work")) == 50


# A firing of several tokens holds its keys' machines until it ends; until this test, eviction saw
# only the machine being handed a token, and let the others go between their firing's tokens.
HOLDING = {
    "idle": ({"fsm_idle_ttl": 60, "fsm_idle_states": [Idle, Parked]}, ()),
    "lru": ({"fsm_max_machines": 2, "concurrency": 2}, ("c:x", "c:x", "c:x")),
}


@pytest.mark.parametrize("rule", list(HOLDING))
async def test_a_machine_held_by_a_firing_of_several_tokens_is_not_evicted(
    running: RunNet, clock: ManualClock, rule: str
) -> None:
    options, others = HOLDING[rule]
    bb: dict[str, Any] = {}
    runner = await running(keyed(3, **options), bb)
    # One firing: a parks, b's handler takes 100 s, then a's second token. With "lru", a second
    # firing meanwhile brings a new key c into the full pool.
    runner.add_tokens("inbox", ["a:park", "b:slow", "a:x", *others])
    view = machines(runner, "work")
    await clock.run_for(0)
    parked = view.get("a")
    await clock.run_for(60)  # a's last token is 60 s old, and it is at rest: but its firing holds it
    meanwhile = (view.get("a"), view.evicted_idle, view.evicted_lru, len(view))
    await clock.run_for(40)
    await runner.run_until_idle()  # (asserted once the firing has ended, so that a failure ends the test)
    # (with "lru": over fsm_max_machines while a and b are taken)
    assert parked is not None and meanwhile == (parked, 0, 0, 3 if others else 2)
    assert [r.reason for r in runner.tokens("refused")] == ["parked"]  # a's second token: the same machine
    assert bb["entries"] == (3 if others else 2)  # a, b (and c) entered their initial state once each
    if others:
        await send(runner, "d:x", "d:x", "d:x")  # the next new key brings the pool back to its bound
        assert keys(runner) == {"a", "d"} and view.evicted_lru == 2  # b and c: the least recently used


@septum.state(config=StateConfiguration(timeout=10.0, can_dwell=True))
def Fuse():
    """Routes every token; its timeout handler raises."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("done")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("fuse blew")


def fused(initial: Any = Fuse, **options: Any) -> Any:
    """The net of ``initial``'s machines (``Fuse``'s by default), one per token."""

    @pn.net
    def Fused(builder):  # type: ignore[no-untyped-def]
        inbox, done = builder.place("inbox"), builder.place("done")

        @builder.transition(
            fsm=initial, fsm_key=lambda token: token, inputs=[inbox], outputs=[done], **options
        )
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Fused


async def _move(runner: PNRunner) -> None:
    fsm = runner.memory("work")[POOL].forget("a")  # as a worker does whose key went to another
    await fsm.aclose()


async def _replace(runner: PNRunner) -> None:
    fsm = runner.memory("work")[POOL].adopt("a", StateMachine(Fuse, timebase=runner.timebase))
    await fsm.aclose()


LET_GO: dict[str, tuple[dict[str, Any], Callable[[PNRunner], Awaitable[Any]], str]] = {
    "lru": ({"fsm_max_machines": 1}, lambda r: send(r, "b"), "evicted by fsm_max_machines"),
    "stopped": ({}, lambda r: r.stop(), "closed as the runner stopped"),
    "removed": ({}, lambda r: r.remove("work"), "closed as its transition was removed from the net"),
    "moved": ({}, _move, "let go, its key moved to another runner"),
    "replaced": ({}, _replace, "replaced by a machine brought in from outside"),
}


# Until this test a machine let go while it kept what its timeout handler raised on its own (for
# its next firing, which never came) took that error with it: only its log line said it.
@pytest.mark.parametrize("how", list(LET_GO))
async def test_a_machine_let_go_with_a_failure_no_firing_received_reports_it(
    running: RunNet, clock: ManualClock, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    options, let_go, went = LET_GO[how]
    runner = await running(fused(**options))
    await send(runner, "a")
    await clock.run_for(10.0)  # a's on_timeout raises on its own: kept for a's next firing
    kept = unseen(machines(runner, "work")["a"])
    assert kept is not None
    with caplog.at_level(logging.WARNING, "mycorrhizal.mycelium"):
        await let_go(runner)
    (error,) = runner.errors
    said = (
        f"transition 'Fused.work': the machine of key 'a', in state Fuse, was {went} keeping an error its "
        "timeout handler raised on its own, which no firing received (HandlerError: state Fuse: on_timeout "
        "raised RuntimeError: fuse blew). Fix: handle that error in the state's handler, or give "
        "fsm_options an error_state or on_error so that the machine recovers on its own"
    )
    assert isinstance(error, HandlerError) and re.fullmatch(re.escape(said), str(error))
    assert (error.transition, error.state, error.__cause__) == ("Fused.work", "Fuse", kept)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [said]


async def test_a_machine_let_go_with_an_undeclared_label_no_firing_received_says_its_own_fix(
    running: RunNet, clock: ManualClock
) -> None:
    # Before: the fix said to handle it in the handler or give fsm_options an error_state, which
    # routes no undeclared label; the label's own fix (declare it) was dropped.
    runner = await running(fused(machine_mislabelling("done")))
    await send(runner, "a")
    await clock.run_for(10.0)  # a's on_timeout returns a label it does not declare: kept
    kept = unseen(machines(runner, "work")["a"])
    await runner.stop()
    (error,) = runner.errors
    said = (
        r"^transition 'Fused\.work': the machine of key 'a', in state Mislabelled, was closed as the runner "
        r"stopped keeping an error its timeout handler raised on its own, which no firing received "
        rf"\(UndeclaredLabelError: state Mislabelled: on_timeout {STRAY}\){STRAY_FIX}"
    )
    assert (error.transition, error.state, error.__cause__) == ("Fused.work", "Mislabelled", kept)
    with pytest.raises(HandlerError, match=said):
        raise error
