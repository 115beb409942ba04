"""0.x's ways of declaring a net (UPSTREAM-API.md §2.1-2.3): arc chains, place decorators, the
one-call shapes, ``builder.spec``, ``builder.guard``, ``state_factory``, refs and subnets."""

from __future__ import annotations

import asyncio
import typing
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.hypha import ListValue, PlaceRef, Stuck, SubnetHandle, TransitionRef
from mycorrhizal.hypha import NetBuilder as NativeBuilder
from mycorrhizal.hypha.core import NetBuilder, PlaceType, Runner, pn
from mycorrhizal.hypha.core.builder import ArcChain
from mycorrhizal.hypha.core.specs import GuardSpec, NetSpec, SubnetRef


def forward_to(out: str) -> Any:
    async def forward(consumed: Any, bb: Any, timebase: Any) -> Any:
        for token in consumed:
            yield {out: token}

    return forward


def run(net: Any, feed: dict[str, list[Any]], bb: Any = None) -> Any:
    async def go() -> Any:
        runner = Runner(net, bb)
        for place, tokens in feed.items():
            runner.add_tokens(place, tokens)
        await runner.run_until_idle()
        await runner.stop()
        return runner

    return asyncio.run(go())


# -- arcs ------------------------------------------------------------------------------------------


def test_arc_returns_a_chain_that_continues_from_its_target() -> None:
    builder = NetBuilder("Chain")
    p1, p2, p3 = builder.place("p1"), builder.place("p2"), builder.place("p3")
    t1 = builder.transition()(forward_to(p2))
    t2 = builder.transition(name="t2")(forward_to(p3))
    chain = builder.arc(p1, t1).arc(p2).arc(t2)
    chain.arc(p3, "last", weight=1)
    assert isinstance(chain, ArcChain) and chain.current == t2
    arcs = [(a.src, a.dst, a.direction, a.name) for a in builder.spec.arcs]
    assert arcs == [
        ("p1", "forward", "in", None),
        ("forward", "p2", "out", None),
        ("p2", "t2", "in", None),
        ("t2", "p3", "out", "last"),
    ]
    runner = run(builder.spec, {"p1": [1, 2]})
    assert runner.marking()["p3"] == (1, 2)


def test_arc_and_subnet_take_0x_keyword_names() -> None:
    @pn.net
    def Inner(builder: NetBuilder) -> None:
        q, done = builder.place("q"), builder.place("done")
        builder.arc(source=q, target=builder.transition(name="t")(forward_to(done))).arc(target=done)

    builder = NetBuilder("Top")
    inner = builder.subnet(net_func=Inner, instance_name="inner")
    inbox = builder.place("inbox")
    builder.arc(source=inbox, target=builder.transition(name="feed")(forward_to(inner.q)), weight=1).arc(
        target=inner.q
    )
    assert run(builder.spec, {"inbox": ["job"]}).marking()["inner.done"] == ("job",)


def test_outputs_and_an_explicit_arc_to_the_same_place_are_one_arc() -> None:
    @pn.net
    def Twice(builder: NetBuilder) -> None:
        inbox, hot = builder.place("inbox"), builder.place("hot")

        @builder.transition(outputs=[hot])
        async def route(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {hot: consumed[0]}

        builder.arc(inbox, route)
        builder.arc(route, hot, "to hot")

    assert [(a.src, a.dst, a.weight, a.name) for a in Twice.arcs] == [
        ("route", "hot", 1, "to hot"),
        ("inbox", "route", 1, None),
    ]
    assert run(Twice, {"inbox": ["x"]}).marking()["hot"] == ("x",)


def test_the_same_arc_with_two_weights_is_still_an_error() -> None:
    builder = NetBuilder("Clash")
    inbox, out = builder.place("inbox"), builder.place("out")
    t = builder.transition(inputs=[inbox])(forward_to(out))
    builder.arc(t, out)
    builder.arc(inbox, t, weight=2)
    with pytest.raises(DefinitionError, match=r"declared twice \(transition 'forward' inputs= and arc\)"):
        builder.build()


# -- places ----------------------------------------------------------------------------------------


def test_place_decorator_forms_name_the_place_after_the_function() -> None:
    builder = NetBuilder("Decorated")

    @builder.place
    def pending() -> None:
        raise AssertionError("a place's function is never called")

    @builder.place(type=PlaceType.BAG)
    def pool() -> None:
        raise AssertionError("a place's function is never called")

    plain = builder.place("plain")
    assert (pending, pool, plain) == ("pending", "pool", "plain")
    assert all(isinstance(ref, PlaceRef) for ref in (pending, pool, plain))
    t = builder.transition()(forward_to(pool))
    builder.arc(pending, t).arc(pool)
    spec = builder.spec
    assert [(p.name, p.type) for p in spec.places] == [
        ("pending", PlaceType.QUEUE),
        ("pool", PlaceType.BAG),
        ("plain", PlaceType.QUEUE),
    ]
    assert run(spec, {"pending": [1]}).marking()["pool"] == (1,)
    # as in 0.x the decorated function is kept as the place's handler (and never called)
    handlers = [p.handler for p in spec.places]
    assert [getattr(h, "__name__", None) for h in handlers] == ["pending", "pool", None]


def test_a_place_keeps_its_state_factory_and_a_function_given_to_its_ref() -> None:
    def make() -> dict[str, int]:
        raise AssertionError("a place's state_factory is never called")

    def handler() -> None:
        raise AssertionError("a place's function is never called")

    builder = NetBuilder("Kept")
    box = builder.place("box", type=PlaceType.BAG, state_factory=make)
    assert box(handler) is box  # 0.x: calling a PlaceRef with a function stores it, returns the ref
    out = builder.place("out")
    builder.arc(box, builder.transition()(forward_to(out))).arc(out)
    place = builder.spec.places[0]
    assert (place.type, place.state_factory, place.handler) == (PlaceType.BAG, make, handler)
    assert run(builder.spec, {"box": [1]}).marking()["out"] == (1,)
    with pytest.raises(DefinitionError, match=r"function attached to place 'box': it is declared after"):
        box(handler)  # the net is built: the spec can no longer change
    with pytest.raises(TypeError, match=r"place 'loose': this ref was not handed out by a net builder"):
        PlaceRef("loose")(handler)


def test_net_builder_takes_0x_parent_argument() -> None:
    @pn.net
    def Outer(builder: NetBuilder) -> None:
        builder.arc(builder.place("p"), builder.transition(name="t")(forward_to("p")))

    builder = NetBuilder("Child", Outer)
    builder.arc(builder.place("q"), builder.transition(name="t")(forward_to("q")))
    # kept for programs that read it; the built net is a net of its own, embedded with subnet()
    assert builder.parent is Outer and builder.spec.name == "Child"
    assert NetBuilder("Alone", None).parent is None and NetBuilder("Alone").parent is None


def test_the_default_place_keeps_0x_order_first_in_first_out() -> None:
    """0.x's default BAG took the first token; the QUEUE default here takes tokens in the same order."""
    builder = NetBuilder("Order")
    src, out = builder.place("src"), builder.place("out")
    builder.arc(src, builder.transition()(forward_to(out))).arc(out)
    assert run(builder.spec, {"src": [3, 1, 2]}).marking()["out"] == (3, 1, 2)


def test_refs_know_their_qualified_names() -> None:
    @pn.net
    def Inner(builder: NetBuilder) -> None:
        q = builder.place("q")
        assert (q.local_name, q.fqn, q.parts) == ("q", "Inner.q", ("Inner", "q"))
        builder.arc(q, builder.transition(name="t")(forward_to(q)))

    builder = NetBuilder("Top")
    sub = builder.subnet(Inner, "sub")
    assert isinstance(sub, SubnetRef) and SubnetRef is SubnetHandle
    assert (sub.q.local_name, sub.q.get_fqn(), sub.q.get_parts()) == ("q", "Top.sub.q", ("Top", "sub", "q"))
    assert isinstance(sub.t, TransitionRef) and sub.t.fqn == "Top.sub.t"
    assert not hasattr(sub, "_spec") and not hasattr(sub, "_private")
    with pytest.raises(DefinitionError, match="has no element 'nope'"):
        _ = sub.nope
    # 0.x raised AttributeError for an unknown name; programs probing with hasattr/getattr keep working
    assert not hasattr(sub, "nope") and getattr(sub, "nope", None) is None
    with pytest.raises(DefinitionError, match="has no element 'nope'") as info:
        _ = sub["nope"]
    assert not isinstance(info.value, AttributeError)


# -- builder.spec and nets held as _spec -----------------------------------------------------------


def test_builder_spec_is_the_built_net_and_later_declarations_are_refused() -> None:
    builder = NetBuilder("Dynamic")
    inbox, out = builder.place("input"), builder.place("output")
    builder.arc(inbox, builder.transition(name="move")(forward_to(out))).arc(out)

    def Dynamic() -> None:
        """A hand-made '0.x net function': anything with a _spec is a net."""

    Dynamic._spec = builder.spec  # type: ignore[attr-defined]
    assert builder.spec is builder.build() and isinstance(builder.spec, NetSpec)
    assert run(Dynamic, {"input": ["job"]}).marking()["output"] == ("job",)
    with pytest.raises(DefinitionError, match=r"place 'late': it is declared after net 'Dynamic' was built"):
        builder.place("late")

    top = NetBuilder("Top")
    embedded = top.subnet(Dynamic, "inner")
    assert embedded.net is builder.spec


def test_pn_net_gives_a_spec_that_answers_for_spec_and_mermaid() -> None:
    @pn.net
    def Pipe(builder: NetBuilder) -> None:
        todo, done = builder.place("todo"), builder.place("done")
        builder.arc(todo, builder.transition(name="work")(forward_to(done))).arc(done)

    assert Pipe._spec is Pipe
    text = Pipe.to_mermaid()
    assert text.startswith("flowchart") and '"todo"' in text and '"work"' in text


# -- transitions: state_factory and builder.guard --------------------------------------------------


def test_state_factory_gives_the_handler_one_state_per_runner() -> None:
    made: list[list[Any]] = []

    def new_state() -> list[Any]:
        made.append([])
        return made[-1]

    @pn.net
    def Counting(builder: NetBuilder) -> None:
        jobs, done = builder.place("jobs"), builder.place("done")

        @builder.transition(state_factory=new_state)
        async def count(consumed: Any, bb: Any, timebase: Any, state: list[Any]) -> Any:
            state.append(consumed[0])
            return {done: len(state)}

        builder.arc(jobs, count).arc(done)

    first, second = run(Counting, {"jobs": ["a", "b"]}), run(Counting, {"jobs": ["c"]})
    assert first.marking()["done"] == (1, 2) and second.marking()["done"] == (1,)
    assert made == [["a", "b"], ["c"]]


def test_state_factory_needs_a_fourth_parameter() -> None:
    builder = NetBuilder("Bad")
    p = builder.place("p")
    builder.transition(state_factory=dict, inputs=[p])(forward_to(p))
    with pytest.raises(
        DefinitionError, match=r"with state_factory it is called with \(consumed, bb, timebase, state\)"
    ):
        builder.build()


def choose_even_pair(bindings: Any, bb: Any, timebase: Any) -> Any:
    bb.append(len(bindings))
    for binding in bindings:
        (left,), (right,) = binding
        if (left + right) % 2 == 0:
            yield binding


async def choose_async(bindings: Any, bb: Any, timebase: Any) -> Any:
    # an async generator (the 0.x guard form) that never really waits
    for binding in bindings:
        if binding[0][0] == "b":
            yield binding


def guarded(guard: Any) -> NetSpec:
    builder = NetBuilder("Guarded")
    left, right, out = builder.place("left"), builder.place("right"), builder.place("out")

    @builder.transition(guard=guard)
    async def pair(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: tuple(consumed)}

    builder.arc(left, pair)
    builder.arc(right, pair).arc(out)
    return builder.spec


def test_a_guard_spec_sees_every_binding_and_yields_the_one_to_fire() -> None:
    seen: list[int] = []
    spec = guarded(NetBuilder("x").guard(choose_even_pair))
    assert isinstance(spec.lookup("pair").guard, GuardSpec)  # type: ignore[union-attr]
    runner = run(spec, {"left": [1, 2], "right": [3, 5, 4]}, seen)
    assert runner.marking()["out"] == ((1, 3), (2, 4))
    assert runner.marking()["right"] == (5,)
    assert seen[0] == 6  # 2 x 3 candidates, all shown at once


def test_an_async_guard_generator_that_does_not_wait_works_too() -> None:
    runner = run(guarded(GuardSpec(choose_async)), {"left": ["a", "b"], "right": [1]})
    assert runner.marking()["out"] == (("b", 1),)


def test_an_async_guard_generator_that_waits_is_a_guard_error_and_is_closed_at_once() -> None:
    cleaned: list[str] = []
    loop_errors: list[dict[str, Any]] = []

    async def waits(bindings: Any, bb: Any, timebase: Any) -> Any:
        try:
            await asyncio.get_running_loop().create_future()  # never ready
            yield bindings[0]
        finally:
            cleaned.append("finally")

    async def go() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: loop_errors.append(context))
        runner = Runner(guarded(GuardSpec(waits)), None)
        runner.add_tokens("left", [1])
        runner.add_tokens("right", [2])
        await runner.run_until_idle()
        await runner.stop()
        return runner

    runner = asyncio.run(go())  # shutting the loop down finalizes leftover async generators
    assert runner.stats.guard_errors == 1 and runner.marking()["out"] == ()
    assert "awaited something that was not ready" in str(runner.errors[-1])
    assert cleaned == ["finally"]  # its cleanup ran when the guard was evaluated, not at loop shutdown
    assert loop_errors == []  # not "an error occurred during closing of asynchronous generator"


def test_a_guard_function_that_is_not_a_generator_is_refused() -> None:
    def returns(bindings: Any, bb: Any, timebase: Any) -> Any:
        return bindings[0]

    with pytest.raises(DefinitionError, match=r"is not a generator, so it could never yield a binding"):
        guarded(GuardSpec(returns))


def test_a_guard_yielding_something_else_counts_as_a_guard_error() -> None:
    def stranger(bindings: Any, bb: Any, timebase: Any) -> Any:
        yield ("not", "a binding")

    runner = run(guarded(GuardSpec(stranger)), {"left": [1], "right": [2]})
    assert runner.stats.guard_errors == 1 and runner.marking()["out"] == ()
    assert "not one of the candidate bindings" in str(runner.errors[-1])


# -- one-call shapes -------------------------------------------------------------------------------


@pytest.fixture(params=[NetBuilder, NativeBuilder], ids=["0.x reading", "native reading"])
def builder_class(request: pytest.FixtureRequest) -> type[Any]:
    """Both readings of list values: the shapes move tokens unchanged either way."""
    cls: type[Any] = request.param
    return cls


def test_forward_fork_join_and_merge_move_tokens_unchanged(builder_class: type[Any]) -> None:
    builder = builder_class("Shapes")
    a, b, c, d, e, f = (builder.place(n) for n in "abcdef")
    assert builder.forward(a, b) == "forward_a_to_b"
    assert builder.fork(b, [c, d]) == "fork_b"
    assert builder.join([c, d], e) == "join_to_e"
    assert builder.merge([e], f, name="gather") == ["gather_0"]
    token = [1, 2]  # a list token stays one token, the same object, under both readings
    runner = run(builder.spec, {"a": [token, "x"]})
    assert runner.marking()["f"] == (token, token, "x", "x")
    assert runner.marking()["f"][0] is token


def test_round_robin_takes_turns(builder_class: type[Any]) -> None:
    builder = builder_class("Turns")
    src, x, y = builder.place("src"), builder.place("x"), builder.place("y")
    assert builder.round_robin(src, [x, y]) == "round_robin_src"
    runner = run(builder.spec, {"src": [1, 2, 3, 4, 5]})
    assert (runner.marking()["x"], runner.marking()["y"]) == ((1, 3, 5), (2, 4))


def test_route_sends_by_exact_type_and_keeps_what_it_cannot_route() -> None:
    builder = NetBuilder("Sorter")
    src, ints, texts = builder.place("src"), builder.place("ints"), builder.place("texts")
    builder.route(src, {int: ints, str: texts})

    async def go() -> tuple[Any, tuple[Stuck, ...]]:
        runner = Runner(builder.spec, None)
        runner.add_tokens("src", [1, "a", 2, 3.5, "b"])
        stuck = await runner.run_until_idle()
        await runner.stop()
        return runner, stuck

    runner, stuck = asyncio.run(go())
    assert runner.marking()["ints"] == (1, 2) and runner.marking()["texts"] == ("a",)
    assert runner.marking()["src"] == (3.5, "b")  # not dropped: back at the head, reported stuck
    assert [s.name for s in stuck] == ["Sorter.route_src"]
    assert "no place for a token of type float" in str(stuck[0].error)


@pytest.mark.parametrize("instance", ["left", "right"])
def test_a_token_route_cannot_place_names_the_qualified_transition(instance: str) -> None:
    # Two instances of one subnet: the bare name 'route_src' would not say which one failed.
    builder = NetBuilder("Sorters")
    for name in ("left", "right"):
        sub = builder.subnet(sorter, name)
        assert sub.route_src == f"{name}.route_src"
    runner = run(builder.spec, {f"{instance}.src": [3.5]})
    error = runner.errors[-1].__cause__
    assert error.transition == f"Sorters.{instance}.route_src"
    assert str(error).startswith(f"transition 'Sorters.{instance}.route_src' has no place for")


def sorter(builder: Any) -> None:
    src, ints = builder.place("src"), builder.place("ints")
    builder.route(src, {int: ints})


def test_list_values_of_the_0x_builder_are_read_as_one_token() -> None:
    assert NetBuilder.list_value is ListValue.ONE


def test_doc_only_forms_that_cost_nothing_are_accepted() -> None:
    from mycorrhizal import mycelium
    from mycorrhizal.hypha import pn as native_pn

    @pn.net
    def Annotated(builder: pn.NetBuilder) -> None:
        builder.forward(builder.place("a"), builder.place("b"))

    assert Annotated.definition is not None
    assert typing.get_type_hints(Annotated.definition)["builder"] is NetBuilder  # the annotation evaluates
    assert pn.NetBuilder is NetBuilder and native_pn.NetBuilder is NativeBuilder
    assert mycelium.pn.NetBuilder is mycelium.MyceliumBuilder
    runner = mycelium.PNRunner(net=Annotated, blackboard={}, timebase=None)
    assert runner.spec is Annotated and runner.blackboard == {}


def test_specs_answer_0x_field_names() -> None:
    builder = NetBuilder("Fields")

    @builder.io_input_place()
    async def feed() -> Any:
        yield 1

    @builder.io_output_place()
    async def drain(token: Any) -> None:
        pass

    bag = builder.place("bag", type=PlaceType.BAG)
    builder.arc(feed, builder.transition(name="t")(forward_to(bag))).arc(bag, weight=1)
    builder.arc(bag, builder.transition(name="u")(forward_to(drain))).arc(drain)
    spec = builder.spec
    places = {p.name: p for p in spec.places}
    assert places["bag"].place_type is PlaceType.BAG
    assert (places["feed"].is_io_input, places["feed"].is_io_output) == (True, False)
    assert (places["drain"].is_io_input, places["drain"].is_io_output) == (False, True)
    assert [(a.source, a.target) for a in spec.arcs][:2] == [("feed", "t"), ("t", "bag")]
    assert (spec.get_fqn(), spec.get_parts(), spec.fqn, spec.parts) == (
        "Fields",
        ("Fields",),
        "Fields",
        ("Fields",),
    )
    # 0.x made refs by hand as PlaceRef(local_name, parent_spec)
    assert PlaceRef("bag", spec).fqn == "Fields.bag" and TransitionRef("t", spec).get_parts() == (
        "Fields",
        "t",
    )
