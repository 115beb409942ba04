"""Declaring nets: @pn.net, NetBuilder, refs, subnets, and every definition error."""

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, Diagram, Node
from mycorrhizal.hypha import (
    NetBuilder,
    NetSpec,
    OnError,
    PlaceKind,
    PlaceRef,
    PlaceType,
    Runner,
    SubnetHandle,
    TransitionRef,
    build_net,
    pn,
)
from mycorrhizal.hypha.compile import compile_net
from mycorrhizal.hypha.transitions import HandlerKind


async def move(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
    return {"out": consumed[0]}


def simple(builder: NetBuilder) -> None:
    src = builder.place("src", initial=[1])
    out = builder.place("out")
    builder.transition(name="t", inputs=[src], outputs=[out])(move)


def test_decorator_and_programmatic_forms_give_the_same_net() -> None:
    decorated = pn.net(simple)
    builder = NetBuilder("simple")
    simple(builder)
    programmatic = builder.build()
    for net in (decorated, programmatic):
        assert isinstance(net, NetSpec)
        assert net.name == "simple"
        assert [p.name for p in net.places] == ["src", "out"]
        assert [t.name for t in net.transitions] == ["t"]
        assert [(a.src, a.dst, a.direction) for a in net.arcs] == [("src", "t", "in"), ("t", "out", "out")]
    assert decorated.definition is simple


def test_refs_are_named_strings() -> None:
    builder = NetBuilder("N")
    inbox = builder.place("inbox")
    assert isinstance(inbox, PlaceRef) and inbox == "inbox" and repr(inbox) == "PlaceRef('inbox')"

    @builder.transition(inputs=[inbox])
    async def eat(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    assert isinstance(eat, TransitionRef) and eat == "eat" and repr(eat) == "TransitionRef('eat')"


def test_place_options_are_kept() -> None:
    @pn.net
    def Places(builder: NetBuilder) -> None:
        builder.place("q", initial=[1, 2], capacity=5)
        builder.place("b", type=PlaceType.BAG)

    q, b = Places.places
    assert (q.type, q.capacity, q.initial, q.kind) == (PlaceType.QUEUE, 5, (1, 2), PlaceKind.PLAIN)
    assert (b.type, b.capacity, b.initial) == (PlaceType.BAG, None, ())


@pytest.mark.parametrize(
    "handler, kind, ctx",
    [
        (lambda consumed, bb, timebase: None, HandlerKind.FUNCTION, False),
        (move, HandlerKind.COROUTINE, False),
    ],
)
def test_handler_kind_is_decided_at_build(handler: Any, kind: HandlerKind, ctx: bool) -> None:
    builder = NetBuilder("N")
    p = builder.place("p")
    builder.transition(name="t", inputs=[p])(handler)
    (t,) = builder.build().transitions
    assert (t.kind, t.wants_ctx) == (kind, ctx)


def test_generator_handlers_and_ctx_are_detected() -> None:
    builder = NetBuilder("N")
    p = builder.place("p")

    @builder.transition(inputs=[p])
    async def agen(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> Any:
        yield {}

    @builder.transition(inputs=[p])
    def gen(consumed: Any, bb: Any, timebase: Any) -> Any:
        yield {}

    a, g = builder.build().transitions
    assert (a.kind, a.wants_ctx) == (HandlerKind.ASYNC_GENERATOR, True)
    assert (g.kind, g.wants_ctx) == (HandlerKind.GENERATOR, False)


def _problems(excinfo: pytest.ExceptionInfo[DefinitionError]) -> str:
    return "\n".join(str(p) for p in excinfo.value.problems)


@pytest.mark.parametrize(
    "declare, match",
    [
        (lambda b: b.place("a.b"), r"place 'a\.b': names must be non-empty strings without '\.'"),
        (lambda b: (b.place("x"), b.place("x")), r"place 'x': the name is declared 2 times in net 'Bad'"),
        (lambda b: b.place("x", capacity=0), r"capacity 0 is not a positive integer"),
        (lambda b: b.place("x", capacity=1, initial=[1, 2]), r"2 initial tokens exceed capacity 1"),
        (lambda b: b.place("x", initial="abc"), r"initial is a string"),
        (lambda b: b.place("x", type="queue"), r"type 'queue' is not a PlaceType"),
        (lambda b: b.arc("nowhere", "t0"), r"'nowhere' is not a place or transition of net 'Bad'"),
        (lambda b: b.arc("p0", "p0"), r"an arc must join a place and a transition"),
        (lambda b: b.arc("t0", "p0", weight=0), r"weight 0 is not a positive int"),
        (
            lambda b: b.arc("p0", "t0", weight=2),
            r"this arc is declared twice \(transition 't0' inputs= and arc\)",
        ),
        (lambda b: (b.place("p1"), b.arc("p1", "t0"), b.arc("p1", "t0")), r"declared twice \(arc and arc\)"),
    ],
)
def test_definition_errors_name_the_element_and_the_fix(declare: Any, match: str) -> None:
    builder = NetBuilder("Bad")
    p0 = builder.place("p0")
    builder.transition(name="t0", inputs=[p0])(move)
    declare(builder)
    with pytest.raises(DefinitionError, match="net 'Bad' has") as excinfo:
        builder.build()
    assert any(p.fix for p in excinfo.value.problems)
    assert __import__("re").search(match, _problems(excinfo)), _problems(excinfo)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"priority": "high"}, r"priority 'high' is not an int"),
        ({"concurrency": 0}, r"concurrency 0 is not a positive int"),
        ({"retry_delay": -1}, r"retry_delay -1 is not a duration >= 0"),
        ({"attachment": "picture"}, r"attachment 'picture' is not a Diagram"),
        ({"on_error": "missing"}, r"error place 'missing' is not a place of net 'Bad'"),
        ({"on_error": "bounded"}, r"error place 'bounded' has a capacity"),
        ({"guard": lambda: True}, r"guard takes 0 required parameter"),
        ({"outputs": ["src"]}, r"'src' is an io input place"),
        ({"inputs": ["p", "sink"]}, r"'sink' is an io output place"),
        ({"on_error": "p"}, r"its error place 'p' is also one of its inputs"),
    ],
)
def test_transition_option_errors(kwargs: dict[str, Any], match: str) -> None:
    builder = NetBuilder("Bad")
    p = builder.place("p")
    builder.place("bounded", capacity=3)
    builder.io_input_place("src", _source)
    builder.io_output_place("sink", _sink)
    builder.transition(name="t", **{"inputs": [p], **kwargs})(move)
    with pytest.raises(DefinitionError, match=match):
        builder.build()


async def _source(bb: Any, timebase: Any) -> Any:
    yield 1


async def _sink(token: Any, bb: Any, timebase: Any) -> None:
    return None


def test_async_guard_is_refused() -> None:
    async def guard(consumed: Any) -> bool:
        return True

    builder = NetBuilder("Bad")
    p = builder.place("p")
    builder.transition(name="t", inputs=[p], guard=guard)(move)
    with pytest.raises(DefinitionError, match=r"transition 't': guard is async.*Fix: make the guard a plain"):
        builder.build()


@pytest.mark.parametrize(
    "handler, match",
    [
        (lambda consumed: None, r"handler takes 1 positional parameter\(s\)"),
        (lambda consumed, bb, timebase, extra: None, r"extra required parameter\(s\) extra"),
        ("not callable", r"is not callable"),
    ],
)
def test_handler_signature_errors(handler: Any, match: str) -> None:
    builder = NetBuilder("Bad")
    p = builder.place("p")
    builder.transition(name="t", inputs=[p])(handler)
    with pytest.raises(DefinitionError, match=match):
        builder.build()


def test_transition_without_input_is_refused() -> None:
    builder = NetBuilder("Bad")
    out = builder.place("out")
    builder.transition(name="forever", outputs=[out])(move)
    with pytest.raises(DefinitionError, match=r"transition 'forever': it has no input arc.*io_input_place"):
        builder.build()


def test_every_problem_is_reported_at_once() -> None:
    builder = NetBuilder("Bad")
    builder.place("x", capacity=-1)
    builder.place("x")
    builder.arc("x", "ghost")
    with pytest.raises(DefinitionError, match=r"net 'Bad' has 3 problems") as excinfo:
        builder.build()
    assert len(excinfo.value.problems) == 3


def test_async_net_body_is_refused() -> None:
    async def Body(builder: NetBuilder) -> None:
        return None

    with pytest.raises(DefinitionError, match=r"the net body is 'async def'"):
        pn.net(Body)


def worker(builder: NetBuilder) -> None:
    inbox = builder.place("inbox")
    outbox = builder.place("outbox")

    @builder.transition(inputs=[inbox], outputs=[outbox])
    async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {outbox: consumed[0]}


Worker = pn.net(worker)


def test_subnet_handles_give_qualified_refs() -> None:
    builder = NetBuilder("Top")
    w = builder.subnet(Worker, "worker1")
    assert isinstance(w, SubnetHandle) and w.net is Worker
    assert w.inbox == "worker1.inbox" and isinstance(w.inbox, PlaceRef)
    assert w["work"] == "worker1.work" and isinstance(w["work"], TransitionRef)
    with pytest.raises(DefinitionError, match=r"net 'worker' has no element 'inbx'"):
        _ = w.inbx


def test_subnets_nest_at_any_depth_with_readable_names() -> None:
    @pn.net
    def Team(builder: NetBuilder) -> None:
        builder.subnet(Worker, "alice")
        builder.subnet(Worker, "bob")

    @pn.net
    def Top(builder: NetBuilder) -> None:
        jobs = builder.place("jobs")
        team = builder.subnet(Team, "team")
        builder.transition(name="assign", inputs=[jobs], outputs=[team.alice.inbox])(move)

    flat = compile_net(Top)
    assert [p.qname for p in flat.places] == [
        "Top.jobs",
        "Top.team.alice.inbox",
        "Top.team.alice.outbox",
        "Top.team.bob.inbox",
        "Top.team.bob.outbox",
    ]
    assert [t.qname for t in flat.transitions] == ["Top.assign", "Top.team.alice.work", "Top.team.bob.work"]
    assert Top.lookup("team.bob.inbox") is Worker.places[0]


def test_subnet_accepts_a_plain_body_built_with_the_same_builder_class() -> None:
    built: list[str] = []

    class Recording(NetBuilder):
        def build(self) -> NetSpec:
            built.append(self.name)
            return super().build()

    def Top(builder: NetBuilder) -> None:
        builder.subnet(worker, "w")

    net = build_net(Top, builder_class=Recording)
    assert built == ["worker", "Top"]
    assert net.lookup("w.inbox") is not None


class TaggingBuilder(NetBuilder):
    """A subclass in the style mycelium uses: extra keywords, a generated handler registered via super()."""

    def transition(self, fn: Any = None, /, *, tag: str | None = None, **kwargs: Any) -> Any:
        if tag is None:
            return super().transition(fn, **kwargs) if fn is not None else super().transition(**kwargs)

        def decorate(user_fn: Any) -> TransitionRef:
            async def generated(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
                for token in consumed:
                    ctx.emit(ctx.outputs[0], (tag, user_fn(token)))

            return super(TaggingBuilder, self).transition(
                name=user_fn.__name__,
                attachment=Diagram(tag, nodes=(Node("x", tag),)),
                **kwargs,
            )(generated)

        return decorate


async def test_builder_subclass_can_add_keywords_and_generated_handlers() -> None:
    def Tagged(builder: TaggingBuilder) -> None:
        src = builder.place("src", initial=[1, 2])
        out = builder.place("out")

        @builder.transition(tag="double", inputs=[src], outputs=[out])
        def double(x: int) -> int:
            return 2 * x

    net = pn.net(Tagged, builder_class=TaggingBuilder)
    (t,) = net.transitions
    assert t.name == "double" and t.wants_ctx and t.attachment is not None

    # a subnet inside a net built by the subclass, and that net inside a plain one
    @pn.net
    def Outer(builder: NetBuilder) -> None:
        builder.subnet(net, "inner")

    runner = Runner(Outer, {})
    await runner.run_until_idle()
    assert runner.marking()["inner.out"] == (("double", 2), ("double", 4))


def test_re_running_a_definition_on_another_builder() -> None:
    spec = pn.net(simple)
    again = TaggingBuilder(spec.name).run(spec.definition)  # type: ignore[arg-type]
    assert [p.name for p in again.places] == ["src", "out"] and again is not spec


def test_build_is_idempotent() -> None:
    builder = NetBuilder("N")
    simple(builder)
    assert builder.build() is builder.build()


def test_io_places_decorator_and_call_forms() -> None:
    @pn.net
    def IO(builder: NetBuilder) -> None:
        @builder.io_input_place(capacity=2)
        async def requests(bb: Any, timebase: Any) -> Any:
            yield 1

        @builder.io_output_place()
        async def replies(token: Any, bb: Any, timebase: Any) -> None:
            return None

        builder.io_input_place("more", _source)
        builder.io_output_place("log", _sink, on_error="dead")
        builder.place("dead")
        builder.transition(name="t", inputs=[requests, "more"], outputs=[replies, "log"])(move)

    kinds = {p.name: (p.kind, p.capacity) for p in IO.places}
    assert kinds["requests"] == (PlaceKind.IO_INPUT, 2)
    assert kinds["replies"] == (PlaceKind.IO_OUTPUT, None)
    assert kinds["more"][0] is PlaceKind.IO_INPUT and kinds["log"][0] is PlaceKind.IO_OUTPUT
    assert compile_net(IO).places[3].error_place == 4


def test_on_error_defaults_to_return() -> None:
    (t,) = pn.net(simple).transitions
    assert t.on_error is OnError.RETURN


def test_runner_refuses_non_nets() -> None:
    with pytest.raises(DefinitionError, match=r"Runner: <function simple.*is not a net.*Fix: pass a net"):
        Runner(simple, {})  # type: ignore[arg-type]


def test_a_sink_cannot_be_its_own_error_place() -> None:
    builder = NetBuilder("Bad")
    builder.io_output_place("out", _sink, on_error="out")
    with pytest.raises(DefinitionError, match=r"io output place 'out': its error place is itself"):
        builder.build()


def test_sinks_cannot_pass_failures_round_in_a_cycle() -> None:
    builder = NetBuilder("Bad")
    builder.io_output_place("a", _sink, on_error="b")
    builder.io_output_place("b", _sink, on_error="a")
    with pytest.raises(
        DefinitionError, match=r"io output place 'a': its failures go round a cycle"
    ) as excinfo:
        builder.build()
    assert len(excinfo.value.problems) == 2


@pytest.mark.parametrize(
    ("declare", "problem"),
    [
        (
            lambda b: b.transition(name="bake", inputs=["doughh"], outputs=["bread"])(move),
            r"transition 'bake' inputs= 'doughh' -> 'bake': 'doughh' is not a place or transition of net "
            r"'Bakery'\. Fix: did you mean 'dough'\? If not, declare it first, or use 'subnet\.element'$",
        ),
        (lambda b: b.arc("bread", "Bake"), r"'Bake' is not a place .*\. Fix: did you mean 'bake'\?"),
        (lambda b: b.arc("bake", "w1.inbx"), r"'w1\.inbx' is not a place .*\. Fix: did you mean 'w1\.inbox'"),
        (lambda b: b.arc("nowhere", "bake"), r"'nowhere' is not .*\. Fix: declare it first, or use '\S+'$"),
    ],
    ids=["inputs", "arc_case", "arc_into_a_subnet", "nothing_close"],
)
def test_an_arc_to_a_misspelt_element_is_answered_with_the_nearest(declare: Any, problem: str) -> None:
    builder = NetBuilder("Bakery")
    dough, bread = builder.place("dough"), builder.place("bread")
    builder.transition(name="bake", inputs=[dough], outputs=[bread])(move)
    builder.subnet(Worker, "w1")
    declare(builder)
    # Before: "... is not a place or transition of net 'Bakery'. Fix: declare it first, ..." alone.
    with pytest.raises(DefinitionError, match=f"(?m){problem}"):  # (?m): '$' ends the problem's line
        builder.build()
