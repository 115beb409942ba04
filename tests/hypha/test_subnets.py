"""Subnets and names: instances, qualified names, and names resolved in the declaring net's scope."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import DefinitionAttributeError, DefinitionError, RoutingError
from mycorrhizal.hypha import NetBuilder, NetSpec, PlaceRef, Runner, SubnetHandle, TransitionRef, pn


@pn.net
def Inner(builder: NetBuilder) -> None:
    inbox = builder.place("inbox")
    outbox = builder.place("outbox")

    @builder.transition(inputs=[inbox], outputs=[outbox])
    async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {outbox: ("done", consumed[0])}


@pn.net
def Top(builder: NetBuilder) -> None:
    jobs = builder.place("jobs")
    results = builder.place("results")
    w1 = builder.subnet(Inner, "worker1")
    w2 = builder.subnet(Inner, "worker2")

    @builder.transition(inputs=[jobs], outputs=[w1.inbox, w2.inbox])
    def dispatch(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {w1.inbox if consumed[0] % 2 else w2.inbox: consumed[0]}

    @builder.transition(inputs=[w1.outbox, w2.outbox], outputs=[results])
    def gather(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {results: [consumed[w1.outbox][0], consumed[w2.outbox][0]]}


async def test_subnet_instances_are_independent_and_named(bb: dict[str, Any]) -> None:
    runner = Runner(Top, bb)
    runner.add_tokens("jobs", [1, 2])
    await runner.run_until_idle()
    assert runner.marking()["Top.results"] == (("done", 1), ("done", 2))
    assert list(runner.marking()) == [
        "Top.jobs",
        "Top.results",
        "Top.worker1.inbox",
        "Top.worker1.outbox",
        "Top.worker2.inbox",
        "Top.worker2.outbox",
    ]


@pytest.mark.parametrize("name", ["Top.worker1.inbox", "worker1.inbox", PlaceRef("worker1.inbox")])
async def test_add_token_by_qualified_or_relative_name(bb: dict[str, Any], name: str) -> None:
    runner = Runner(Top, bb)
    runner.add_token(name, 7)
    assert runner.marking()["worker1.inbox"] == (7,)
    assert runner.tokens("Top.worker1.inbox") == (7,)


async def test_unique_local_names_work_and_ambiguous_ones_do_not(bb: dict[str, Any]) -> None:
    runner = Runner(Top, bb)
    runner.add_token("jobs", 1)
    with pytest.raises(
        RoutingError,
        match=r"'inbox' is ambiguous in net 'Top': it names \['Top.worker1.inbox', 'Top.worker2.inbox'\]",
    ):
        runner.add_token("inbox", 1)
    with pytest.raises(RoutingError, match=r"no place 'nowhere'"):
        runner.add_token("nowhere", 1)
    with pytest.raises(KeyError, match=r"no place 'inbox' in this net"):
        runner.marking()["inbox"]
    assert "jobs" in runner.marking() and "inbox" not in runner.marking()
    assert runner.marking().counts()["Top.jobs"] == 1


async def test_runners_share_a_spec_but_not_a_marking(bb: dict[str, Any]) -> None:
    first, second = Runner(Top, bb), Runner(Top, {})
    first.add_token("jobs", 1)
    await first.run_until_idle()
    await second.run_until_idle()
    assert first.marking().total() == 1 and second.marking().total() == 0


@pn.net
def Leaf(builder: NetBuilder) -> None:
    inbox = builder.place("inbox")
    outbox = builder.place("outbox")

    @builder.transition(inputs=[inbox], outputs=[outbox])
    def work(consumed: Any, bb: Any, timebase: Any) -> Any:
        bb.setdefault("seen", []).append(list(consumed["inbox"]))
        return {outbox: consumed[inbox][0].upper()}


@pn.net
def Middle(builder: NetBuilder) -> None:
    builder.subnet(Leaf, "leaf")


@pn.net
def Outer(builder: NetBuilder) -> None:
    # The outer net has places named like the leaf's, and wires them to the leaf's transition too.
    inbox = builder.place("inbox")
    outbox = builder.place("outbox")
    middle = builder.subnet(Middle, "middle")
    builder.arc(inbox, middle.leaf.work)
    builder.arc(middle.leaf.work, outbox)


async def test_a_deep_handler_resolves_names_in_its_own_net_first(bb: dict[str, Any]) -> None:
    runner = Runner(Outer, bb)
    runner.add_token("middle.leaf.inbox", "deep")
    runner.add_token("Outer.inbox", "outer")
    await runner.run_until_idle()
    marking = runner.marking()
    assert marking["Outer.middle.leaf.outbox"] == ("DEEP",)  # the leaf's own outbox, not Outer's
    assert marking["Outer.outbox"] == () and marking.total() == 1
    assert bb["seen"] == [["deep"]]


async def test_names_at_depth_three(bb: dict[str, Any]) -> None:
    runner = Runner(Outer, bb)
    for name in ("Outer.middle.leaf.inbox", "middle.leaf.inbox", "Outer.inbox", "inbox"):
        runner.add_token(name, name)
    assert runner.marking()["middle.leaf.inbox"] == ("Outer.middle.leaf.inbox", "middle.leaf.inbox")
    assert runner.marking()["inbox"] == ("Outer.inbox", "inbox")  # the top net's own name wins
    assert runner.memory("middle.leaf.work") is runner.memory("Outer.middle.leaf.work")
    with pytest.raises(RoutingError, match=r"no place 'leaf.inbox'"):
        runner.add_token("leaf.inbox", 1)


@pn.net
def Stamp(builder: NetBuilder) -> None:
    inbox = builder.place("inbox")
    outbox = builder.place("outbox")

    @builder.transition(inputs=[inbox], outputs=[outbox])
    def stamp(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
        bb["seen"] = (list(consumed), list(ctx.outputs))
        return {outbox: consumed[0]}  # written for its own net: its own inbox's token comes first


@pytest.mark.parametrize("depth", [1, 2])
async def test_a_subnet_transitions_own_arcs_come_before_those_an_embedding_net_adds(
    bb: dict[str, Any], depth: int
) -> None:
    # The subnet was declared (with its arcs) before the embedding net added its own: "input arcs
    # in declaration order" puts the subnet's first, so its handler's consumed[0] keeps its meaning.
    def Middle(builder: NetBuilder) -> None:
        builder.subnet(Stamp, "s")

    builder = NetBuilder("Outer")
    sub = builder.subnet(Stamp, "s") if depth == 1 else builder.subnet(Middle, "m").s
    extra, log = builder.place("extra"), builder.place("log")
    builder.arc(extra, sub.stamp).arc(log)
    runner = Runner(builder.build(), bb)
    runner.add_token(extra, "from outer")
    runner.add_token(sub.inbox, "own")
    await runner.run_until_idle()
    assert bb["seen"] == (["own", "from outer"], ["outbox", "log"])
    assert runner.marking()[sub.outbox] == ("own",)
    await runner.stop()


def named_net(kind: str) -> NetSpec:
    """A net whose element ``net`` is a place, a transition or a subnet (a 0.x program may name one so)."""
    builder = NetBuilder("Named")
    if kind == "place":
        builder.place("net")
        builder.forward("net", builder.place("out"))
    elif kind == "transition":
        builder.forward(builder.place("net_in"), builder.place("out"), name="net")
    else:
        builder.subnet(Inner, "net")
    return builder.build()


@pytest.mark.parametrize(
    ("kind", "ref"), [("place", PlaceRef), ("transition", TransitionRef), ("subnet", SubnetHandle)]
)
def test_a_subnet_element_named_net_is_reached_by_attribute_as_in_0x(kind: str, ref: type) -> None:
    handle = NetBuilder("Top").subnet(named_net(kind), "sub")
    assert isinstance(handle.net, ref) and str(handle.net) == "sub.net"
    assert str(handle["net"]) == "sub.net"


def test_a_subnet_handles_net_is_the_embedded_spec_when_no_element_is_named_net() -> None:
    assert NetBuilder("Top").subnet(Inner, "w").net is Inner


async def test_a_0x_program_wiring_a_subnet_place_named_net_runs(bb: dict[str, Any]) -> None:
    builder = NetBuilder("Top")
    jobs, sub = builder.place("jobs"), builder.subnet(named_net("place"), "sub")
    builder.forward(jobs, sub.net)
    runner = Runner(builder.build(), bb)
    runner.add_token(jobs, "job")
    await runner.run_until_idle()
    assert runner.marking()["Top.sub.out"] == ("job",)
    await runner.stop()


@pytest.mark.parametrize(
    ("reach", "error"),
    [
        (lambda handle: handle.inbx, DefinitionAttributeError),
        (lambda handle: handle["inbx"], DefinitionError),
    ],
    ids=["attribute", "item"],
)
def test_a_misspelt_subnet_element_is_answered_with_the_nearest(reach: Any, error: type[Exception]) -> None:
    handle = NetBuilder("Outer").subnet(Inner, "worker1")
    with pytest.raises(
        error,
        match=r"net 'Inner' has no element 'inbx' \(it has .*\)\. Fix: did you mean 'inbox'\? If not, check",
    ):
        reach(handle)
