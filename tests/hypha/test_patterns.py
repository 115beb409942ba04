"""The shapes (forward, fork, join, merge, round_robin, route): the errors their misuse gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mycorrhizal.common.errors import DefinitionError, DefinitionTypeError, RoutingError
from mycorrhizal.hypha import NetBuilder, Runner, pn

Shape = Callable[..., Any]  # (builder, input place, output place, **options)

SHAPES: dict[str, tuple[Shape, str]] = {
    "forward": (lambda b, a, c, **kw: b.forward(a, c, **kw), "forward_a_to_c"),
    "fork": (lambda b, a, c, **kw: b.fork(a, [c], **kw), "fork_a"),
    "join": (lambda b, a, c, **kw: b.join([a], c, **kw), "join_to_c"),
    "merge": (lambda b, a, c, **kw: b.merge([a], c, **kw), "a_0_to_c"),
    "round_robin": (lambda b, a, c, **kw: b.round_robin(a, [c], **kw), "round_robin_a"),
    "route": (lambda b, a, c, **kw: b.route(a, {int: c}, **kw), "route_a"),
}


@pytest.fixture
def places() -> tuple[NetBuilder, Any, Any, Any]:
    """A builder with places ``a``, ``b`` and ``c``."""
    builder = NetBuilder("Shapes")
    return builder, builder.place("a"), builder.place("b"), builder.place("c")


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("option", ["inputs", "outputs", "colour"])
def test_an_option_a_shape_does_not_take_is_a_definition_error_naming_it(
    places: tuple[NetBuilder, Any, Any, Any], shape: str, option: str
) -> None:
    builder, a, b, c = places
    declare, tname = SHAPES[shape]
    match = rf"transition '{tname}': {shape}\(\) got {option}=, which it does not take.*priority.*Fix: "
    with pytest.raises(DefinitionTypeError, match=match):
        declare(builder, a, c, **{option: [b]})


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_shape_still_passes_the_options_it_takes_on(
    places: tuple[NetBuilder, Any, Any, Any], shape: str
) -> None:
    builder, a, _, c = places
    declare, tname = SHAPES[shape]
    declare(builder, a, c, priority=3)
    assert builder.build().lookup(tname).priority == 3


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("end", ["input", "output"])
def test_a_weight_given_by_arc_to_a_shape_s_arc_names_the_shape_and_what_to_do(
    places: tuple[NetBuilder, Any, Any, Any], shape: str, end: str
) -> None:
    builder, a, _, c = places
    declare, tname = SHAPES[shape]
    ref = declare(builder, a, c)
    ref = ref[0] if isinstance(ref, list) else ref  # merge: one transition per input place
    builder.arc(*((a, ref) if end == "input" else (ref, c)), weight=2)
    match = (
        rf"this arc is declared twice \(builder\.{shape}\(\) of transition '{tname}' and arc\)\. "
        rf"Fix: builder\.{shape}\(\) takes no weight: drop the builder\.arc\(\), or declare the "
        r"transition with builder\.transition\(\) and give the weight in inputs=/outputs=$"
    )
    with pytest.raises(DefinitionError, match=match):
        builder.build()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_arcs_of_a_shape_say_which_shape_declared_them(
    places: tuple[NetBuilder, Any, Any, Any], shape: str
) -> None:
    builder, a, b, c = places
    declare, tname = SHAPES[shape]
    declare(builder, a, c)

    async def plain(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    builder.transition(inputs=[b], outputs=[c])(plain)
    arcs = builder.build().arcs
    assert {arc.shape for arc in arcs if tname in (arc.src, arc.dst)} == {shape}
    assert {arc.shape for arc in arcs if "plain" in (arc.src, arc.dst)} == {None}


@pytest.fixture
def worker() -> Any:
    """A subnet with one place, ``outbox``."""

    @pn.net
    def Worker(builder: NetBuilder) -> None:
        builder.place("outbox")

    return Worker


@pytest.mark.parametrize("shape", ["forward", "route"])
def test_two_shapes_defaulting_to_one_name_are_told_to_give_one_a_name(worker: Any, shape: str) -> None:
    builder = NetBuilder("Pool")
    w1, w2, done = builder.subnet(worker, "w1"), builder.subnet(worker, "w2"), builder.place("done")
    for w in (w1, w2):
        if shape == "forward":
            builder.forward(w.outbox, done)
        else:
            builder.route(w.outbox, {int: done})
    with pytest.raises(DefinitionError, match=r"declared 2 times .*Fix: .*give one of them name=\.\.\.$"):
        builder.build()


def test_a_name_declared_twice_by_hand_gets_the_usual_fix(places: tuple[NetBuilder, Any, Any, Any]) -> None:
    builder, a, _, c = places
    for _ in range(2):

        @builder.transition(inputs=[a], outputs=[c], name="move")
        def move(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {c: consumed[0]}

    with pytest.raises(
        DefinitionError, match=r"declared 2 times .*Fix: give each place, transition and subnet[^.]*$"
    ):
        builder.build()


@pytest.mark.parametrize(
    ("on_error", "fix"),
    [
        (None, r"add the type to the map, or give it on_error= \(a place for such tokens\)$"),
        ("odd", r"add the type to the map$"),  # it has an error place already: no advice to add one
    ],
)
async def test_a_token_route_has_no_place_for_gets_advice_that_fits_the_route(
    on_error: str | None, fix: str
) -> None:
    @pn.net
    def Sorter(builder: NetBuilder) -> None:
        mixed, numbers = builder.place("mixed", initial=[1.5]), builder.place("numbers")
        builder.place("odd")
        builder.route(mixed, {int: numbers}, **({} if on_error is None else {"on_error": on_error}))

    runner = Runner(Sorter, {})
    await runner.run_until_idle()
    (error,) = runner.errors
    assert runner.marking().total() == 1  # back in mixed, or in odd as a FailedToken
    with pytest.raises(
        RoutingError,
        match=r"transition 'Sorter.route_mixed' has no place for a token of type "
        r"float \(it routes \['int'\]\)\. Fix: " + fix,
    ):
        raise error.__cause__  # type: ignore[misc]
