"""0.x's BT-in-PN and FSM-in-PN forms (UPSTREAM-API.md §4.3, §4.4): bb.pn_ctx, PNContext, pn_net,
PNRunner.to_mermaid, and fsm= on a body that yields its outputs."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Annotated, Any

import pytest

from mycorrhizal import mycelium
from mycorrhizal.common import (
    AccessControlError,
    DefinitionError,
    ManualClock,
    blackboard_interface,
    readonly,
    readwrite,
)
from mycorrhizal.hypha import PlaceType
from mycorrhizal.mycelium import PNContext, PNRunner, Rejection, TokenContext, machines, pn, pn_net
from mycorrhizal.rhizomorph import Status, bt

from .conftest import RunNet, Tally


class Board:
    def __init__(self) -> None:
        self.seen: list[Any] = []


def test_pn_net_and_pn_context_are_the_same_things() -> None:
    assert PNContext is TokenContext
    assert mycelium.PlaceType is PlaceType  # 0.x's re-export

    @pn_net
    def Tiny(builder):  # type: ignore[no-untyped-def]
        a, b = builder.place("a"), builder.place("b")
        builder.arc(a, builder.transition(name="t")(lambda consumed, bb, timebase: None)).arc(b)

    assert Tiny.name == "Tiny"


@bt.tree
def OldRouter():
    @bt.action
    async def route(bb):  # type: ignore[no-untyped-def]
        ctx = bb.pn_ctx
        token = ctx.current_token
        await asyncio.sleep(0)  # suspends: other firings' trees run meanwhile
        assert bb.pn_ctx is ctx and ctx.current_token is token  # its own context, still
        bb.seen.append(token)
        if token < 0:
            ctx.reject_token("negative")
        elif token == 0:
            ctx.defer_token()
        elif token > 5:
            ctx.route_to(ctx.places.big, token=token * 10)  # a replacement token
        else:
            ctx.route_to(ctx.places.small)
        return Status.SUCCESS

    bt.root(route)


@pn.net
def OldNet(builder):  # type: ignore[no-untyped-def]
    inbox, big, small, bounced = (builder.place(n) for n in ("inbox", "big", "small", "bounced"))

    @builder.transition(bt=OldRouter, outputs=[big, small], rejected=bounced)
    async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass

    builder.arc(inbox, route)


async def test_a_0x_tree_routes_through_its_own_pn_ctx_even_when_firings_overlap(running: RunNet) -> None:
    bb = Board()
    runner = await running(OldNet, bb)
    runner.add_tokens("inbox", [7, 3, -1, 0, 9])
    await runner.run_until_idle()
    assert runner.tokens("big") == (70, 90) and runner.tokens("small") == (3,)
    assert runner.tokens("bounced") == (
        Rejection(-1, "negative", "OldNet.route"),
        Rejection(0, "deferred", "OldNet.route"),
    )
    assert sorted(bb.seen) == [-1, 0, 3, 7, 9] and not hasattr(bb, "pn_ctx")  # the board was not written


@blackboard_interface
class Counting:
    limit: Annotated[int, readonly]
    sent: Annotated[int, readwrite]
    pn_ctx: Annotated[Any, readonly]  # as 0.x's interfaces named it: the bridge set it on the board


@bt.tree
def CountingRouter():
    @bt.action
    async def route(bb: Counting):  # type: ignore[no-untyped-def]
        ctx = bb.pn_ctx
        await asyncio.sleep(0)  # suspends: the other firings' trees run meanwhile
        assert bb.pn_ctx is ctx  # its own context, through the interface view too
        bb.sent += 1
        if ctx.current_token == "cheat":
            bb.limit = 99  # read-only here: refused
        ctx.route_to(ctx.places.small)
        return Status.SUCCESS

    bt.root(route)


async def test_a_0x_leaf_seeing_the_board_through_an_interface_reaches_its_pn_ctx(running: RunNet) -> None:
    # Before: the interface view read pn_ctx from the user's blackboard (which has none):
    # AttributeError, for every token, although the interface names the field.
    @pn.net
    def Counted(builder):  # type: ignore[no-untyped-def]
        inbox, small, broken = (builder.place(n) for n in ("inbox", "small", "broken"))

        @builder.transition(bt=CountingRouter, inputs=[inbox], outputs=[small], on_error=broken)
        async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    bb = SimpleNamespace(limit=3, sent=0)
    runner = await running(Counted, bb)
    runner.add_tokens("inbox", ["a", "cheat", "b"])
    await runner.run_until_idle()
    assert runner.tokens("small") == ("a", "b") and bb.limit == 3 and bb.sent == 3
    (failed,) = runner.tokens("broken")
    assert failed.token == "cheat" and not hasattr(bb, "pn_ctx")
    with pytest.raises(AccessControlError, match="'Counting' may not write 'limit'"):
        raise failed.error


async def test_a_tree_asking_for_ctx_gets_the_blackboard_itself(running: RunNet) -> None:
    boards: list[Any] = []

    @bt.tree
    def Native():
        @bt.action
        def route(bb, ctx):  # type: ignore[no-untyped-def]
            boards.append(bb)
            ctx.route("out")
            return Status.SUCCESS

        bt.root(route)

    @pn.net
    def NativeNet(builder):  # type: ignore[no-untyped-def]
        inbox, out = builder.place("inbox"), builder.place("out")

        @builder.transition(bt=Native, inputs=[inbox], outputs=[out])
        async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    bb = Board()
    runner = await running(NativeNet, bb)
    runner.add_token("inbox", 1)
    await runner.run_until_idle()
    assert boards == [bb] and boards[0] is bb


def _context(tokens: list[Any], *, batch: bool = False, consumed: Any = None) -> TokenContext:
    return TokenContext(
        "Net.t", {"fast": "fast", "slow": "slow"}, tokens, None, None, batch=batch, consumed=consumed
    )


def test_pn_context_queries() -> None:
    a, b, c = ["a"], ["b"], ["c"]
    ctx = _context([a, b, c], batch=True)
    assert ctx.current_token is None and vars(ctx.places) == {"fast": "fast", "slow": "slow"}
    assert not ctx.has_decisions()
    ctx.route_to("fast", token=b)
    ctx.reject_token("no", token=a)
    ctx.defer_token(token=c)
    assert ctx.has_decisions()
    assert ctx.get_routing_decisions() == [(b, "fast")]
    assert ctx.get_rejected_tokens() == [(a, "no"), (c, "deferred")]
    assert ctx.get_deferred_tokens() == [c]
    assert ctx.get_token_origin(a) is None  # no firing behind this one


def test_route_all_to_routes_what_is_undecided() -> None:
    ctx = _context([1, 2, 3], batch=True)
    ctx.reject_token("odd", token=ctx.tokens[0])
    ctx.route_all_to("slow")
    assert ctx.get_routing_decisions() == [(2, "slow"), (3, "slow")]
    with pytest.raises(Exception, match="is not one of the tokens this firing consumed"):
        ctx.route_to("fast", token=99)  # a batch names its own tokens, never a replacement


async def test_token_origin_names_the_input_place(running: RunNet) -> None:
    origins: list[Any] = []

    @bt.tree
    def Origins():
        @bt.action
        def where(bb):  # type: ignore[no-untyped-def]
            ctx = bb.pn_ctx
            origins.append(ctx.get_token_origin(ctx.current_token))
            ctx.route_to(ctx.places.out)
            return Status.SUCCESS

        bt.root(where)

    @pn.net
    def TwoInputs(builder):  # type: ignore[no-untyped-def]
        left, right, out = builder.place("left"), builder.place("right"), builder.place("out")

        @builder.transition(bt=Origins, inputs=[left, right], outputs=[out])
        async def pair(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    runner = await running(TwoInputs, Board())
    runner.add_token("left", "L")
    runner.add_token("right", "R")
    await runner.run_until_idle()
    assert origins == ["TwoInputs.left", "TwoInputs.right"]


async def test_a_deferred_token_without_rejected_place_fails_the_firing_and_is_kept(running: RunNet) -> None:
    @bt.tree
    def Later():
        @bt.action
        def later(bb):  # type: ignore[no-untyped-def]
            bb.pn_ctx.defer_token()
            return Status.SUCCESS

        bt.root(later)

    @pn.net
    def Deferring(builder):  # type: ignore[no-untyped-def]
        inbox, out, broken = builder.place("inbox"), builder.place("out"), builder.place("broken")

        @builder.transition(bt=Later, inputs=[inbox], outputs=[out], on_error=broken)
        async def wait(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    runner = await running(Deferring, Board())
    runner.add_token("inbox", "x")
    await runner.run_until_idle()
    (failed,) = runner.tokens("broken")
    assert failed.token == "x" and "could not place token 'x': deferred" in str(failed.error)


async def test_pn_runner_to_mermaid_draws_the_embedded_tree() -> None:
    runner = PNRunner(OldNet, Board(), ManualClock())
    text = runner.to_mermaid()
    assert text.startswith("flowchart LR") and "route: OldRouter" in text


# -- fsm= on a body that yields its outputs (0.x: the machine is only drawn) ----------------------


async def test_fsm_with_a_generator_body_draws_the_machine_and_the_body_routes(
    running: RunNet, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mycorrhizal.mycelium"):

        @pn.net
        def Drawn(builder):  # type: ignore[no-untyped-def]
            inbox, done = builder.place("inbox"), builder.place("done")

            @builder.transition(fsm=Tally, outputs=[done])
            async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
                for token in consumed:
                    yield {done: token * 2}

            builder.arc(inbox, work)

    assert (
        "its body yields the outputs, so it routes the tokens and the machine Tally is only drawn"
        in caplog.text
    )
    bb: dict[str, Any] = {}
    runner = await running(Drawn, bb)
    runner.add_tokens("inbox", [1, 2])
    await runner.run_until_idle()
    assert runner.tokens("done") == (2, 4) and bb == {}  # Tally never ran: it counts into "tally"
    assert len(machines(runner, "work")) == 0
    assert "work: Tally" in runner.to_mermaid()


def test_machine_keywords_on_a_drawn_machine_are_definition_errors() -> None:
    with pytest.raises(DefinitionError, match="fsm_key only applies when the machine routes the tokens"):

        @pn.net
        def Confused(builder):  # type: ignore[no-untyped-def]
            inbox, done = builder.place("inbox"), builder.place("done")

            @builder.transition(fsm=Tally, fsm_key=lambda token: token, inputs=[inbox], outputs=[done])
            async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
                yield {done: consumed[0]}


def test_bt_and_fsm_together_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="has both bt= and fsm="):

        @pn.net
        def Both(builder):  # type: ignore[no-untyped-def]
            inbox, done = builder.place("inbox"), builder.place("done")

            @builder.transition(bt=OldRouter, fsm=Tally, inputs=[inbox], outputs=[done])
            async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
                pass
