"""Routing refusals of bt= transitions end with their own fix, which the net's error keeps last."""

from typing import Any

import pytest

from mycorrhizal.common import RoutingError
from mycorrhizal.common.errors import split_fix
from mycorrhizal.mycelium import Delivery, pn
from mycorrhizal.mycelium.routing import TokenContext
from mycorrhizal.rhizomorph import Status, bt

from .conftest import RunNet


def _unknown_output(ctx: Any) -> Status:
    ctx.route("nowhere")
    return Status.SUCCESS


def _routed_twice(ctx: Any) -> Status:
    ctx.route("ok")
    ctx.route("ok")
    return Status.SUCCESS


def _a_stranger(ctx: Any) -> Status:
    ctx.route("ok", "stranger")
    return Status.SUCCESS


def _unnamed_in_a_batch(ctx: Any) -> Status:
    ctx.route("ok")
    return Status.SUCCESS


def _left_unrouted(ctx: Any) -> Status:
    return Status.FAILURE


# (leaf, bt_mode, the RoutingError's problem, its fix)
MISTAKES = [
    (_unknown_output, "token", r"cannot route to 'nowhere': its outputs are \['ok'\]", "add 'nowhere' to"),
    (_routed_twice, "token", "token 'job' was already routed", "route or reject each token once"),
    (_a_stranger, "token", "token 'stranger' is not one of the tokens", "route one of ctx.tokens"),
    (_unnamed_in_a_batch, "batch", "runs its tree over a batch of 1 tokens", "name the token"),
    (_left_unrouted, "token", "tree 'Wrong' ended FAILURE without routing it", "route every token"),
]


def wrong_net(leaf: Any, mode: str) -> Any:
    @bt.tree
    def Wrong():
        bt.root(bt.action(name="act")(leaf))

    @pn.net
    def Routing(builder):  # type: ignore[no-untyped-def]
        inbox, ok = builder.place("inbox"), builder.place("ok")

        @builder.transition(bt=Wrong, bt_mode=mode, inputs=[inbox], outputs=[ok])
        async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Routing


@pytest.mark.parametrize(
    ("leaf", "mode", "problem", "fix"), MISTAKES, ids=[leaf.__name__.strip("_") for leaf, *_ in MISTAKES]
)
async def test_a_routing_mistake_ends_with_its_own_fix_in_the_nets_errors(
    running: RunNet, leaf: Any, mode: str, problem: str, fix: str
) -> None:
    # Before: the advice came after "; " ("...its outputs are ['ok']; add it to the transition's
    # outputs=[...]"), so the net's error, finding no ". Fix: ", ended with a generic one that does
    # not apply ("handle RoutingError in the handler of 'Routing.route'").
    runner = await running(wrong_net(leaf, mode))
    runner.add_token("inbox", "job")
    await runner.run_until_idle()
    assert runner.tokens("inbox") == ("job",) and runner.tokens("ok") == ()
    (error,) = runner.errors
    cause = error.__cause__
    assert isinstance(cause, RoutingError) and cause.transition == "Routing.route"
    with pytest.raises(RoutingError, match=problem):
        raise cause
    own = split_fix(str(cause))[1]
    assert own is not None and own.startswith(fix), str(cause)
    said = str(error)
    assert said.count(". Fix: ") == 1 and split_fix(said)[1] == own, said
    assert "Routing.route" in said and "handle RoutingError" not in said


def _closed_context() -> TokenContext:
    ctx = TokenContext("Net.t", {"ok": "Net.ok"}, ("job",), {}, None)
    ctx.close()
    return ctx


def _closed_delivery() -> Delivery:
    delivery = Delivery("Net.t", {"ok": "Net.ok"}, "job")
    delivery._finish()
    return delivery


@pytest.mark.parametrize("make", [_closed_context, _closed_delivery])
def test_routing_after_the_firing_ended_says_to_route_while_handling(make: Any) -> None:
    with pytest.raises(RoutingError, match="consumed by a firing that has ended") as info:
        make().route("ok")
    assert split_fix(str(info.value))[1] == "route or reject a token while its firing handles it"
