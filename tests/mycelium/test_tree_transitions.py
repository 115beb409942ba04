"""Behaviour trees inside Petri-net transitions: routing, batches, rejection, no token lost."""

from types import SimpleNamespace
from typing import Annotated, Any

import pytest

from mycorrhizal.common import (
    AccessControlError,
    DefinitionError,
    HandlerError,
    InvalidStatusError,
    ManualClock,
    RoutingError,
    blackboard_interface,
    readonly,
)
from mycorrhizal.hypha import FailedToken, Runner
from mycorrhizal.mycelium import PNRunner, Rejection, pn
from mycorrhizal.rhizomorph import Status, bt

from .conftest import PriorityRouter, RunNet, tree_failing_on


def router_net(tree: Any = PriorityRouter, *, rejected: bool = True, mode: str = "token") -> Any:
    @pn.net
    def Routing(builder):  # type: ignore[no-untyped-def]
        inbox = builder.place("inbox")
        fast, slow = builder.place("fast"), builder.place("slow")
        bad = builder.place("bad") if rejected else None
        failed = builder.place("failed")

        @builder.transition(
            bt=tree, bt_mode=mode, inputs=[inbox], outputs=[fast, slow], rejected=bad, on_error=failed
        )
        async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            bb["firings"] = bb.get("firings", 0) + 1

    return Routing


async def test_tree_routes_each_token_to_its_output(running: RunNet) -> None:
    bb: dict[str, Any] = {}
    runner = await running(router_net(), bb)
    jobs = [{"priority": p} for p in (9, 1, -3, 7, 0)]
    runner.add_tokens("inbox", jobs)
    await runner.run_until_idle()
    assert runner.tokens("fast") == (jobs[0], jobs[3])
    assert runner.tokens("slow") == (jobs[1], jobs[4])
    assert runner.tokens("bad") == (Rejection(jobs[2], "priority -3 is negative", "Routing.route"),)
    assert bb["firings"] == 5


@bt.tree
def Indecisive():
    @bt.condition
    def never(bb):  # type: ignore[no-untyped-def]
        return False

    bt.root(never)


async def test_unrouted_token_is_rejected_with_the_trees_outcome(running: RunNet) -> None:
    runner = await running(router_net(Indecisive))
    runner.add_token("inbox", "job")
    await runner.run_until_idle()
    (rejection,) = runner.tokens("bad")
    assert rejection.token == "job"
    assert rejection.reason == "tree 'Indecisive' ended FAILURE without routing it"


async def test_unrouted_token_without_rejected_place_goes_to_the_error_place(running: RunNet) -> None:
    runner = await running(router_net(Indecisive, rejected=False))
    runner.add_token("inbox", "job")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    assert isinstance(failed, FailedToken) and failed.token == "job" and failed.place == "Routing.inbox"
    assert isinstance(failed.error, RoutingError)
    assert "declare rejected=<place>" in str(failed.error)


Exploding = tree_failing_on("bad", "fast")


async def test_a_raising_tree_loses_no_token(running: RunNet) -> None:
    runner = await running(router_net(Exploding))
    runner.add_tokens("inbox", ["a", "bad", "b"])
    await runner.run_until_idle()
    assert runner.tokens("fast") == ("a", "b")
    (failed,) = runner.tokens("failed")
    assert isinstance(failed.error, HandlerError) and failed.error.node == "boom"
    assert isinstance(failed.error.__cause__, ValueError)
    total = sum(len(runner.tokens(p)) for p in ("inbox", "fast", "slow", "bad", "failed"))
    assert total == 3


@bt.tree
def SplitBatch():
    @bt.action
    def split(ctx):  # type: ignore[no-untyped-def]
        assert ctx.token is None and len(ctx.tokens) == 3
        for token in ctx.tokens:
            ctx.route("fast" if token % 2 else "slow", token)
        return Status.SUCCESS

    bt.root(split)


async def test_batch_mode_runs_the_tree_once_over_all_consumed_tokens(running: RunNet) -> None:
    @pn.net
    def Batching(builder):  # type: ignore[no-untyped-def]
        inbox, fast, slow = builder.place("inbox"), builder.place("fast"), builder.place("slow")

        @builder.transition(bt=SplitBatch, bt_mode="batch", inputs=[(inbox, 3)], outputs=[fast, slow])
        async def split(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    runner = await running(Batching)
    runner.add_tokens("inbox", [1, 2, 3])
    await runner.run_until_idle()
    assert runner.tokens("fast") == (1, 3) and runner.tokens("slow") == (2,)


@pytest.mark.parametrize(
    "route, message",
    [
        (lambda ctx: ctx.route("nowhere"), r"cannot route to 'nowhere': its outputs are \['fast', 'slow'\]"),
        (lambda ctx: [ctx.route("fast"), ctx.route("slow")], "was already routed"),
    ],
)
async def test_routing_mistakes_fail_the_firing_naming_the_transition(
    running: RunNet, route: Any, message: str
) -> None:
    @bt.tree
    def Wrong():
        @bt.action
        def act(ctx):  # type: ignore[no-untyped-def]
            route(ctx)
            return Status.SUCCESS

        bt.root(act)

    runner = await running(router_net(Wrong))
    runner.add_token("inbox", "job")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    with pytest.raises(RoutingError, match=message):
        raise failed.error
    assert runner.tokens("fast") == ()


async def test_body_returning_routes_is_refused(running: RunNet) -> None:
    @pn.net
    def Confused(builder):  # type: ignore[no-untyped-def]
        inbox, fast, slow, failed = (builder.place(n) for n in ("inbox", "fast", "slow", "failed"))

        @builder.transition(bt=PriorityRouter, inputs=[inbox], outputs=[fast, slow], on_error=failed)
        def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            return {fast: consumed[0]}

    runner = await running(Confused)
    runner.add_token("inbox", {"priority": 9})
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    with pytest.raises(RoutingError, match="routes the tokens, so the body must return None"):
        raise failed.error


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bt": PriorityRouter, "bt_mode": "bulk"}, "bt_mode='bulk' is unknown. Fix: use 'token' or 'batch'"),
        ({"bt": "PriorityRouter"}, "bt='PriorityRouter' is not a behaviour tree"),
        ({"bt": PriorityRouter, "outputs": []}, "has no outputs to route tokens to"),
        ({"bt": PriorityRouter, "outputs": [("fast", 2)]}, r"output \('fast', 2\) has a weight"),
        ({"bt": PriorityRouter, "rejected": "fast"}, "rejected='fast' is also an output"),
        ({"rejected": "fast"}, "rejected only applies to a transition with bt= or fsm="),
    ],
)
def test_embedding_mistakes_are_definition_errors(kwargs: dict[str, Any], message: str) -> None:
    options = {"outputs": ["fast"], **kwargs}

    def Broken(builder):  # type: ignore[no-untyped-def]
        inbox = builder.place("inbox")
        builder.place("fast")

        @builder.transition(inputs=[inbox], **options)
        async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(DefinitionError, match=message) as info:
        pn.net(Broken)
    assert "transition 'route'" in str(info.value)


@bt.tree
def Enricher():
    @bt.action
    def enrich(ctx, timebase):  # type: ignore[no-untyped-def]
        ctx.route("fast", produce={**ctx.token, "seen_at": timebase.now()})
        return Status.SUCCESS

    bt.root(enrich)


async def test_a_tree_can_route_an_enriched_token_in_place_of_the_consumed_one(running: RunNet) -> None:
    runner = await running(router_net(Enricher))
    runner.add_token("inbox", {"id": 1})
    await runner.run_until_idle()
    assert runner.tokens("fast") == ({"id": 1, "seen_at": 0.0},)


@bt.tree
def BatchOfOne():
    @bt.action
    def check(ctx):  # type: ignore[no-untyped-def]
        assert ctx.token is None and len(ctx.tokens) == 1  # a batch, even of one token
        ctx.route("fast")  # without naming the token: refused, as for any batch
        return Status.SUCCESS

    bt.root(check)


async def test_batch_mode_is_a_batch_even_with_one_token(running: RunNet) -> None:
    runner = await running(router_net(BatchOfOne, mode="batch"))
    runner.add_token("inbox", "job")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")
    with pytest.raises(RoutingError, match="runs its tree over a batch of 1 tokens. Fix: name the token"):
        raise failed.error


# -- a bt= transition added to a running net ---------------------------------------------------------


@pn.net(name="Routing")
def Unrouted(builder):  # type: ignore[no-untyped-def]
    """:func:`router_net`'s places, without its transition (a running net is given it)."""
    for name in ("inbox", "fast", "slow", "bad", "failed"):
        builder.place(name)


async def route(consumed: Any, bb: Any, timebase: Any) -> None:
    """The body of a bt= transition added while running: the tree routes the tokens."""
    bb["firings"] = bb.get("firings", 0) + 1


@pytest.mark.parametrize("runner_class", [Runner, PNRunner])
async def test_a_bt_transition_added_while_running_routes_as_a_declared_one(
    runner_class: type[Runner], clock: ManualClock
) -> None:
    boards: list[dict[str, Any]] = [{}, {}]
    declared = runner_class(router_net(), boards[0], clock)
    added = runner_class(Unrouted, boards[1], clock)
    await declared.start()
    await added.start()
    added.add_transition(
        "route",
        route,
        bt=PriorityRouter,
        inputs=["inbox"],
        outputs=["fast", "slow"],
        rejected="bad",
        on_error="failed",
    )
    added.add_transition("spare", route, bt=PriorityRouter, outputs=["fast"])  # waits for an input arc
    for runner in (declared, added):
        runner.add_tokens("inbox", [{"priority": p} for p in (9, 1, -3, 7)])
        await runner.run_until_idle()
    assert dict(added.marking()) == dict(declared.marking())
    assert added.tokens("bad") == (Rejection({"priority": -3}, "priority -3 is negative", "Routing.route"),)
    assert boards[1]["firings"] == boards[0]["firings"] == 4
    assert added.fired()["Routing.spare"] == 0
    await declared.stop()
    await added.stop()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bt": PriorityRouter, "bt_mode": "bulk"}, "bt_mode='bulk' is unknown. Fix: use 'token' or 'batch'"),
        ({"bt": PriorityRouter, "outputs": []}, "has no outputs to route tokens to"),
        ({"rejected": "fast"}, "rejected only applies to a transition with bt= or fsm="),
    ],
)
async def test_a_broken_bt_transition_added_while_running_is_a_definition_error_and_changes_nothing(
    kwargs: dict[str, Any], message: str, running: RunNet
) -> None:
    runner = await running(Unrouted)
    before = runner.spec
    with pytest.raises(DefinitionError, match=message) as info:
        runner.add_transition("route", route, **{"inputs": ["inbox"], "outputs": ["fast"], **kwargs})
    assert "transition 'route'" in str(info.value)
    assert runner.spec is before and runner.spec.lookup("route") is None


def several_at_once(
    arcs: int, mode: str = "token", concurrency: int = 1, tree: Any = Exploding, parked: bool = False
) -> Any:
    """A net whose bt= transition (tree ``Exploding``: ``boom`` raises on 'bad') takes ``arcs`` tokens;
    ``parked``: it has an error place, ``broken``."""

    @pn.net
    def Several(builder):  # type: ignore[no-untyped-def]
        inbox, fast = builder.place("inbox"), builder.place("fast")
        parking = {"on_error": builder.place("broken")} if parked else {}

        @builder.transition(
            bt=tree, bt_mode=mode, inputs=[(inbox, arcs)], outputs=[fast], concurrency=concurrency, **parking
        )
        async def route(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Several


@bt.tree
def BatchExploding():
    @bt.action
    def boom(ctx):  # type: ignore[no-untyped-def]
        if "bad" in ctx.tokens:
            raise ValueError("cannot handle 'bad'")
        return Status.SUCCESS

    bt.root(boom)


BT_FIX = (
    r"\. Fix: catch the exception in the leaf \(and ctx\.reject\(reason\) the token\), give the leaf "
    r"on_error=ErrorPolicy\.FAILURE \(an unrouted token goes to the transition's "
    r"rejected= place\), or give transition 'Several\.route' on_error='<a place>' to park a failing "
    r"firing's tokens as FailedTokens$"
)


@pytest.mark.parametrize(
    "arcs, mode, concurrency, tree, who",
    [
        (3, "token", 1, Exploding, r"token 'bad'"),  # a firing of three tokens, one tree run each
        (1, "token", 3, Exploding, r"token 'bad'"),  # concurrent firings of one token each
        # one run over the batch: which of its tokens made the leaf raise, only the leaf knows
        (3, "batch", 1, BatchExploding, r"tokens \('a', 'bad', 'b'\)"),
    ],
)
async def test_a_leafs_error_names_the_token_the_node_and_a_fix_that_applies_in_a_transition(
    running: RunNet, arcs: int, mode: str, concurrency: int, tree: Any, who: str
) -> None:
    runner = await running(several_at_once(arcs, mode, concurrency, tree))
    runner.add_tokens("inbox", ["a", "bad", "b"])
    await runner.run_until_idle()
    error = runner.errors[-1]
    assert error.node == "boom" and error.transition == "Several.route"
    with pytest.raises(HandlerError, match=rf"{who}: action 'boom' in tree '\w+' raised .*{BT_FIX}"):
        raise error


async def test_a_huge_token_is_named_by_a_bounded_repr(running: RunNet) -> None:
    huge = "x" * 100_000
    runner = await running(several_at_once(1, tree=tree_failing_on(huge, "fast")))
    runner.add_token("inbox", huge)
    await runner.run_until_idle()
    (error,) = runner.errors
    with pytest.raises(HandlerError, match=r"HandlerError: token 'x{1,60}\.\.\.x{1,60}': action 'boom'"):
        raise error


PARKED_FIX = (
    r"\. Fix: catch the exception in the leaf \(and ctx\.reject\(reason\) the token\), or give the "
    r"leaf on_error=ErrorPolicy\.FAILURE \(an unrouted token goes to the transition's rejected= place\)$"
)


@pytest.mark.parametrize(
    "parked, fix", [(False, BT_FIX), (True, PARKED_FIX)], ids=["no-error-place", "error-place"]
)
async def test_a_leafs_fix_suggests_an_error_place_only_to_a_transition_without_one(
    running: RunNet, parked: bool, fix: str
) -> None:
    runner = await running(several_at_once(1, parked=parked))
    runner.add_tokens("inbox", ["a", "bad"])
    await runner.run_until_idle()
    error = runner.errors[-1]
    assert not parked or [failed.token for failed in runner.tokens("broken")] == ["bad"]
    with pytest.raises(HandlerError, match=rf"token 'bad': action 'boom' in tree '\w+' raised .*{fix}"):
        raise error


@bt.tree
def Misreturning():
    @bt.action
    def boom(ctx):  # type: ignore[no-untyped-def]
        if ctx.token == "bad":
            return "oops"
        ctx.route("fast")
        return Status.SUCCESS

    bt.root(boom)


@blackboard_interface
class Limited:
    limit: Annotated[int, readonly]


@bt.tree
def Overreaching():
    @bt.action
    def boom(bb: Limited, ctx):  # type: ignore[no-untyped-def]
        if ctx.token == "bad":
            bb.limit = 99  # read-only here: refused
        ctx.route("fast")
        return Status.SUCCESS

    bt.root(boom)


@pytest.mark.parametrize(
    "tree, kind, said",
    [
        (Misreturning, InvalidStatusError, r"action 'boom' in tree 'Misreturning' returned 'oops'"),
        (Overreaching, AccessControlError, r"action 'boom' in tree 'Overreaching': .*may not write 'limit'"),
    ],
)
async def test_a_leafs_refused_status_or_access_names_the_token(
    running: RunNet, tree: Any, kind: type[Exception], said: str
) -> None:
    runner = await running(several_at_once(1, tree=tree, parked=True), SimpleNamespace(limit=3))
    runner.add_tokens("inbox", ["a", "bad"])
    await runner.run_until_idle()
    (failed,) = runner.tokens("broken")
    assert failed.error.node == "boom" and failed.error.transition == "Several.route"
    with pytest.raises(kind, match=rf"^token 'bad': {said}"):
        raise failed.error
