"""A bt= transition runs its tree afresh for every token, however the handler runs it: inline (a plain
function when the body is empty), as a coroutine (a body, or eager=False), or partly each (a tree
that needs more ticks)."""

import asyncio
from typing import Any

import pytest

from mycorrhizal.common import RoutingError
from mycorrhizal.mycelium import pn
from mycorrhizal.rhizomorph import Status, bt

from .conftest import RunNet

BODY = ["empty body", "body", "eager=False"]


def routing_net(tree: Any, how: str, weight: int = 1) -> Any:
    """``inbox -> route -> even | odd`` with ``tree``; ``how`` is one of BODY."""

    @pn.net
    def Runs(builder):  # type: ignore[no-untyped-def]
        inbox, even, odd = builder.place("inbox"), builder.place("even"), builder.place("odd")
        refused, failed = builder.place("refused"), builder.place("failed")
        # One firing at a time: the outputs keep the tokens' order (FIFO).
        options: dict[str, Any] = {"concurrency": 1}
        if how == "eager=False":
            options["eager"] = False

        async def with_body(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            bb["bodies"] = bb.get("bodies", 0) + 1

        def empty(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

        builder.transition(
            bt=tree,
            inputs=[(inbox, weight)],
            outputs=[even, odd],
            rejected=refused,
            on_error=failed,
            name="route",
            **options,
        )(with_body if how == "body" else empty)

    return Runs


def parity(token: int) -> str:
    return "odd" if token % 2 else "even"


@bt.tree
def OncePerHour():
    """Routes a token at most once per hour of the run: a fresh run per token routes every token."""

    @bt.action
    def route(ctx):  # type: ignore[no-untyped-def]
        ctx.bb.setdefault("contexts", []).append(ctx)
        ctx.route(parity(ctx.token))
        return Status.SUCCESS

    bt.root(bt.rate_limit(3600.0)(route))


@pytest.mark.parametrize("how", BODY)
async def test_each_token_gets_a_run_of_its_own(running: RunNet, how: str) -> None:
    bb: dict[str, Any] = {}
    runner = await running(routing_net(OncePerHour, how), bb)
    runner.add_tokens("inbox", range(6))
    await runner.run_until_idle()
    assert runner.tokens("even") == (0, 2, 4) and runner.tokens("odd") == (1, 3, 5)
    assert runner.tokens("refused") == runner.tokens("failed") == ()
    contexts = bb["contexts"]
    assert [ctx.token for ctx in contexts] == list(range(6))
    assert len({id(ctx) for ctx in contexts}) == 6  # a routing context per token
    with pytest.raises(RoutingError, match="consumed by a firing that has ended"):
        contexts[0].route("even")  # kept by a leaf: the token's firing is over


@bt.tree
def SlowOnOdd():
    """Routes even tokens at once; an odd one after its leaf awaited (the tree needs more ticks)."""

    @bt.action
    async def route(ctx):  # type: ignore[no-untyped-def]
        if ctx.token % 2:
            await asyncio.sleep(0)
        ctx.route(parity(ctx.token))
        return Status.SUCCESS

    bt.root(route)


@pytest.mark.parametrize("how", BODY)
@pytest.mark.parametrize("weight", [1, 3])
async def test_a_tree_that_needs_more_ticks_finishes_its_token_then_the_firings_others(
    running: RunNet, how: str, weight: int
) -> None:
    runner = await running(routing_net(SlowOnOdd, how, weight))
    runner.add_tokens("inbox", range(12))
    await runner.run_until_idle()
    assert runner.tokens("even") == (0, 2, 4, 6, 8, 10)
    assert runner.tokens("odd") == (1, 3, 5, 7, 9, 11)
    assert runner.tokens("refused") == runner.tokens("failed") == ()


@bt.tree
def WhereAmI():
    @bt.action
    def route(ctx):  # type: ignore[no-untyped-def]
        ctx.bb.setdefault("tasks", []).append(asyncio.current_task())
        ctx.route(parity(ctx.token))
        return Status.SUCCESS

    bt.root(route)


@pytest.mark.parametrize("how", BODY)
async def test_eager_false_runs_each_tree_in_its_firings_task(running: RunNet, how: str) -> None:
    bb: dict[str, Any] = {}
    runner = await running(routing_net(WhereAmI, how), bb)
    runner.add_tokens("inbox", range(3))
    await runner.run_until_idle()
    assert runner.tokens("even") == (0, 2) and runner.tokens("odd") == (1,)
    # Inline (eager), a handler runs outside any task until it suspends, as hypha documents.
    inline = how != "eager=False"
    assert all((task is None) == inline for task in bb["tasks"])


@bt.tree
def RaisesOnThree():
    @bt.action
    def route(ctx):  # type: ignore[no-untyped-def]
        if ctx.token == 3:
            raise ValueError("three")
        ctx.route(parity(ctx.token))
        return Status.SUCCESS

    bt.root(route)


@pytest.mark.parametrize("how", BODY)
async def test_a_run_that_raised_is_not_reused_and_loses_no_token(running: RunNet, how: str) -> None:
    runner = await running(routing_net(RaisesOnThree, how))
    runner.add_tokens("inbox", range(6))
    await runner.run_until_idle()
    assert runner.tokens("even") == (0, 2, 4) and runner.tokens("odd") == (1, 5)
    (failed,) = runner.tokens("failed")
    assert failed.token == 3
