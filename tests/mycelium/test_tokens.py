"""Every consumed token ends in exactly one place, whatever the embedded tree or machine does."""

import asyncio
from enum import Enum, auto
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycorrhizal.common import HandlerError, ManualClock, RoutingError
from mycorrhizal.common.errors import split_fix
from mycorrhizal.hypha import FailedToken
from mycorrhizal.mycelium import PNRunner, Rejection, machines, pn
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

from .conftest import RunNet, machine_failing_on, tree_failing_on

PLACES = ("inbox", "ok", "refused", "failed")


def net(*, weight: int = 1, rejected: bool = True, **embedded: Any) -> Any:
    @pn.net
    def Accounting(builder):  # type: ignore[no-untyped-def]
        inbox, ok, refused, failed = (builder.place(n) for n in PLACES)

        @builder.transition(
            inputs=[(inbox, weight)],
            outputs=[ok],
            rejected=refused if rejected else None,
            on_error=failed,
            **embedded,
        )
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Accounting


def where(runner: Any) -> dict[str, tuple[Any, ...]]:
    """Each place's tokens, unwrapped from Rejection/FailedToken, for a per-token account."""

    def plain(token: Any) -> Any:
        return token.token if isinstance(token, Rejection | FailedToken) else token

    return {place: tuple(plain(t) for t in runner.tokens(place)) for place in PLACES}


@bt.tree
def RejectThenRoute():
    @bt.action
    def act(ctx):  # type: ignore[no-untyped-def]
        ctx.reject("no")
        ctx.route("ok")
        return Status.SUCCESS

    bt.root(act)


async def test_a_rejected_token_cannot_also_be_routed(running: RunNet) -> None:
    runner = await running(net(bt=RejectThenRoute))
    runner.add_token("inbox", "job")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    with pytest.raises(RoutingError, match="token 'job' was already routed"):
        raise failed.error
    assert where(runner) == {"inbox": (), "ok": (), "refused": (), "failed": ("job",)}


@pytest.mark.parametrize(
    "embedded",
    [{"bt": tree_failing_on("b", "ok")}, {"fsm": machine_failing_on("b", "ok")}],
    ids=["tree", "machine"],
)
async def test_a_failure_mid_batch_produces_nothing_and_keeps_every_token(
    running: RunNet, embedded: dict[str, Any]
) -> None:
    runner = await running(net(weight=2, **embedded))
    runner.add_tokens("inbox", ["a", "b"])
    await runner.run_until_idle()
    assert where(runner) == {"inbox": (), "ok": (), "refused": (), "failed": ("a", "b")}
    assert all(isinstance(t.error, HandlerError) for t in runner.tokens("failed"))


def by_letter(token: str) -> str:
    if token == "?":
        raise KeyError("no key for '?'")
    return token[0]


@septum.state(config=StateConfiguration(can_dwell=True))
def Counter():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.common.setdefault("seen", []).append(ctx.msg.token)
            ctx.msg.route("ok")


async def test_a_failing_fsm_key_fails_the_firing_before_any_machine_sees_a_token(running: RunNet) -> None:
    bb: dict[str, Any] = {}
    runner = await running(net(weight=2, fsm=Counter, fsm_key=by_letter), bb)
    runner.add_tokens("inbox", ["ab", "?"])
    await runner.run_until_idle()
    assert where(runner) == {"inbox": (), "ok": (), "refused": (), "failed": ("ab", "?")}
    (_, failed) = runner.tokens("failed")
    with pytest.raises(HandlerError, match="transition 'Accounting.work': fsm_key raised KeyError: .*'[?]'"):
        raise failed.error
    assert isinstance(failed.error.__cause__, KeyError) and failed.error.transition == "Accounting.work"
    assert "seen" not in bb  # "ab" was not handled by a machine and then failed with the firing


@pytest.mark.parametrize("weight", [1, 2], ids=["one token", "a batch"])
async def test_an_unhashable_fsm_key_fails_the_firing_naming_fsm_key(running: RunNet, weight: int) -> None:
    bb: dict[str, Any] = {}
    runner = await running(net(weight=weight, fsm=Counter, fsm_key=lambda token: [token]), bb)
    runner.add_tokens("inbox", ["a", "b"][:weight])
    await runner.run_until_idle()
    assert where(runner)["failed"] == ("a", "b")[:weight] and "seen" not in bb
    expected = (
        "transition 'Accounting.work': fsm_key returned ['a'] for token 'a', which is unhashable, so it "
        "cannot name a machine. Fix: make fsm_key return a str, a number or a tuple"
    )
    error = runner.tokens("failed")[0].error
    assert isinstance(error, HandlerError) and str(error) == expected
    assert error.transition == "Accounting.work" and isinstance(error.__cause__, TypeError)


def raising_key(token: Any) -> Any:
    raise KeyError("backend")


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        (
            raising_key,
            "make fsm_key return a key for every token, or keep such tokens out of 'Accounting.work'",
        ),
        (lambda token: [token], "make fsm_key return a str, a number or a tuple"),
    ],
    ids=["raises", "unhashable"],
)
async def test_a_bad_fsm_key_says_how_to_fix_it_and_shows_a_huge_token_shortened(
    running: RunNet, key: Any, fix: str
) -> None:
    # Both errors used to end without a fix, so the net's error about the failed firing told the user
    # to "handle HandlerError in the handler", a body that never sees fsm_key's error; and they
    # quoted the whole token, however large.
    runner = await running(net(fsm=Counter, fsm_key=key), {})
    runner.add_token("inbox", "x" * 10_000)
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    (error,) = runner.errors
    for said in (str(failed.error), str(error)):
        assert split_fix(said)[1] == fix and said.count(". Fix: ") == 1, said
        assert len(said) < 1_000, said


@septum.state(config=StateConfiguration(can_dwell=True))
def Hoarder():
    class Events(Enum):
        FLUSH = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        if ctx.msg.token == "flush":
            for held in ctx.common.pop("held"):
                held.route("ok")  # too late: the firings that delivered these have ended
            ctx.msg.route("ok")
            return None
        ctx.common.setdefault("held", []).append(ctx.msg)  # kept to be routed later

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.FLUSH, Hoarder)]


async def test_routing_a_delivery_after_its_firing_ended_is_an_error_not_a_silent_no_op(
    running: RunNet,
) -> None:
    runner = await running(net(fsm=Hoarder))
    runner.add_token("inbox", "held")
    await runner.run_until_idle()
    (rejection,) = runner.tokens("refused")
    assert rejection.token == "held" and "did not route it" in rejection.reason
    runner.add_token("inbox", "flush")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    assert failed.token == "flush"
    with pytest.raises(
        HandlerError, match="state Hoarder: on_state raised RoutingError: transition 'Accounting.work'"
    ) as info:
        raise failed.error
    with pytest.raises(RoutingError, match="token 'held' was consumed by a firing that has ended"):
        raise info.value.__cause__  # type: ignore[misc]
    assert runner.tokens("ok") == ()  # "held" is in refused, once; never also in ok


@septum.state(config=StateConfiguration(timeout=5.0, can_dwell=True))
def Ticking():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.common.setdefault("seen", []).append(ctx.msg.token)
            ctx.msg.route("ok")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("timer handler broke")


async def test_a_machine_failing_on_its_own_timer_leaves_no_stale_delivery(
    running: RunNet, clock: ManualClock
) -> None:
    bb: dict[str, Any] = {}
    runner = await running(net(fsm=Ticking), bb)
    runner.add_token("inbox", "first")
    await runner.run_until_idle()
    await clock.run_for(5)  # on_timeout raises in the background: kept for the next run()
    runner.add_token("inbox", "second")
    await runner.run_until_idle()  # that failure surfaces in this firing: "second" goes to failed
    (failed,) = runner.tokens("failed")
    assert failed.token == "second" and "timer handler broke" in str(failed.error)
    runner.add_token("inbox", "third")
    await runner.run_until_idle()
    assert bb["seen"] == ["first", "third"]  # "second" was not handed to the machine later
    assert machines(runner, "work")[None].queue_size == 0
    assert where(runner)["ok"] == ("first", "third")


@septum.state(config=StateConfiguration(can_dwell=True))
def Slow():
    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        if ctx.msg.token == "bad":
            raise ValueError("bad token")
        await ctx.timebase.sleep(1)
        ctx.msg.route("ok")


async def test_concurrent_firings_hand_one_machine_one_token_at_a_time(
    running: RunNet, clock: ManualClock
) -> None:
    runner = await running(net(fsm=Slow, concurrency=2))
    runner.add_tokens("inbox", ["good", "bad"])
    idle = asyncio.ensure_future(runner.run_until_idle())
    await clock.run_for(1)
    await idle
    assert where(runner) == {"inbox": (), "ok": ("good",), "refused": (), "failed": ("bad",)}
    (failed,) = runner.tokens("failed")
    assert "bad token" in str(failed.error)


# -- the invariant, under any mix of decisions ----------------------------------------------------

DECISIONS = ("route", "reject", "raise", "nothing", "route twice", "reject then route")


def decide(token: tuple[int, str], route: Any, reject: Any) -> None:
    """Do to ``token`` what its second item says (``route``/``reject`` act on it)."""
    what = token[1]
    if what == "raise":
        raise ValueError(f"token {token[0]} asked for it")
    if what in ("route", "route twice"):
        route()
    if what in ("reject", "reject then route"):
        reject()
    if what in ("route twice", "reject then route"):
        route()


@bt.tree
def Decider():
    @bt.action
    def act(ctx):  # type: ignore[no-untyped-def]
        for token in ctx.tokens:
            decide(token, lambda t=token: ctx.route("ok", t), lambda t=token: ctx.reject("no", t))
        return Status.SUCCESS

    bt.root(act)


@septum.state(config=StateConfiguration(can_dwell=True))
def DecidingMachine():
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            decide(ctx.msg.token, lambda: ctx.msg.route("ok"), lambda: ctx.msg.reject("no"))


_nets: dict[tuple[Any, ...], Any] = {}


@given(
    embedded=st.sampled_from(["tree", "batch", "machine"]),
    weight=st.integers(1, 3),
    rejected=st.booleans(),
    decisions=st.lists(st.sampled_from(DECISIONS), max_size=12),
)
async def test_every_token_ends_in_exactly_one_place(
    embedded: str, weight: int, rejected: bool, decisions: list[str]
) -> None:
    key = (embedded, weight, rejected)
    if key not in _nets:
        options = (
            {"fsm": DecidingMachine}
            if embedded == "machine"
            else {"bt": Decider, "bt_mode": "batch" if embedded == "batch" else "token"}
        )
        _nets[key] = net(weight=weight, rejected=rejected, **options)
    tokens = list(enumerate(decisions))
    runner = PNRunner(_nets[key], {}, ManualClock())
    await runner.start()
    runner.add_tokens("inbox", tokens)
    await runner.run_until_idle()
    await runner.stop()
    found = where(runner)
    assert sorted(t for place in found.values() for t in place) == tokens  # each once, none lost
    left = len(tokens) % weight
    assert sorted(found["inbox"]) == tokens[len(tokens) - left :]  # too few for one more firing
    for token in found["ok"]:
        assert token[1] == "route"
    for token in found["refused"]:
        assert rejected and token[1] in ("reject", "nothing")
