"""Every bad net definition we know of, with the exact error it raises.

Each is a :class:`DefinitionError` raised when the net is built (or the runner created), listing
every problem at once; each problem names the user's place, transition, arc or subnet and ends with
the fix.  A problem that only follows from another one is not reported again (an arc with a bad
weight does not also leave its transition "without an input arc").
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.hypha import (
    ArcSpec,
    Backoff,
    NetBuilder,
    NetSpec,
    PlaceRef,
    PlaceSpec,
    PlaceType,
    Runner,
    TransitionSpec,
    pn,
)


def move(consumed: Any, bb: Any, timebase: Any) -> None:
    return None


async def source(bb: Any, timebase: Any) -> Any:
    yield 1


async def sink(token: Any, bb: Any, timebase: Any) -> None:
    return None


@pn.net
def Other(builder: NetBuilder) -> None:
    builder.transition(name="t", inputs=[builder.place("elsewhere")])(move)


def base() -> NetBuilder:
    """A valid net 'Bad' (place p -> transition t) that each case then breaks."""
    b = NetBuilder("Bad")
    p = b.place("p")
    b.transition(name="t", inputs=[p])(move)
    return b


def place_name_with_a_dot(b: NetBuilder) -> None:
    b.place("a.b")


def empty_place_name(b: NetBuilder) -> None:
    b.place("")


def place_name_not_a_string(b: NetBuilder) -> None:
    b.place(3)  # type: ignore[arg-type]


def net_name_with_a_dot(b: NetBuilder) -> None:
    NetBuilder("my.net").build()


def duplicate_place(b: NetBuilder) -> None:
    b.place("p")


def place_and_transition_share_a_name(b: NetBuilder) -> None:
    b.place("t")


def subnet_shares_a_name(b: NetBuilder) -> None:
    b.subnet(Other, "p")


def capacity_zero(b: NetBuilder) -> None:
    b.place("q", capacity=0)


def capacity_not_an_int(b: NetBuilder) -> None:
    b.place("q", capacity="3")


def capacity_bool(b: NetBuilder) -> None:
    b.place("q", capacity=True)


def initial_tokens_over_capacity(b: NetBuilder) -> None:
    b.place("q", capacity=1, initial=[1, 2])


def initial_is_a_string(b: NetBuilder) -> None:
    b.place("q", initial="abc")


def initial_is_not_a_collection(b: NetBuilder) -> None:
    b.place("q", initial=5)  # type: ignore[arg-type]


def place_type_not_a_place_type(b: NetBuilder) -> None:
    b.place("q", type="queue")  # type: ignore[arg-type]


def source_not_callable(b: NetBuilder) -> None:
    b.io_input_place("src", 42)


def source_with_an_extra_parameter(b: NetBuilder) -> None:
    async def src(bb: Any, timebase: Any, limit: int) -> Any:
        yield limit

    b.io_input_place("src", src)


def sink_not_callable(b: NetBuilder) -> None:
    b.io_output_place("out", "print")


def sink_taking_no_token(b: NetBuilder) -> None:
    async def out() -> None:
        return None

    b.io_output_place("out", out)


def handler_not_callable(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"])("not callable")


def handler_with_too_few_parameters(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"])(lambda consumed: None)


def handler_with_an_extra_required_parameter(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"])(lambda consumed, bb, timebase, extra: None)


def guard_not_callable(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], guard=True)(move)


def async_guard(b: NetBuilder) -> None:
    async def g(consumed: Any) -> bool:
        return True

    b.transition(name="h", inputs=["p"], guard=g)(move)


def guard_without_parameters(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], guard=lambda: True)(move)


def guard_with_four_parameters(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], guard=lambda a, b, c, d: True)(move)


def priority_not_an_int(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], priority="high")(move)


def concurrency_zero(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], concurrency=0)(move)


def negative_retry_delay(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], retry_delay=-1)(move)


def backoff_that_shrinks(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], retry_delay=Backoff(first=1, factor=0.5))(move)


def attachment_not_a_diagram(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], attachment="picture")(move)


def inputs_not_a_list(b: NetBuilder) -> None:
    b.transition(name="h", inputs="p")(move)


def inputs_entry_of_three(b: NetBuilder) -> None:
    b.transition(name="h", inputs=[("p", 2, 3)])(move)


def error_place_unknown(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], on_error="missing")(move)


def error_place_bounded(b: NetBuilder) -> None:
    b.place("dead", capacity=3)
    b.transition(name="h", inputs=["p"], on_error="dead")(move)


def error_place_is_a_source(b: NetBuilder) -> None:
    b.io_input_place("src", source)
    b.transition(name="h", inputs=["p"], on_error="src")(move)


def error_place_is_an_input(b: NetBuilder) -> None:
    b.transition(name="h", inputs=["p"], on_error="p")(move)


def sink_error_place_is_itself(b: NetBuilder) -> None:
    b.io_output_place("out", sink, on_error="out")


def sink_error_places_in_a_cycle(b: NetBuilder) -> None:
    b.io_output_place("a", sink, on_error="b2")
    b.io_output_place("b2", sink, on_error="a")


def sink_error_place_unknown(b: NetBuilder) -> None:
    b.io_output_place("out", sink, on_error="nowhere")


def arc_to_an_unknown_place(b: NetBuilder) -> None:
    b.arc("nowhere", "t")


def arc_between_two_places(b: NetBuilder) -> None:
    b.arc("p", "p")


def arc_between_two_transitions(b: NetBuilder) -> None:
    b.transition(name="u", inputs=["p"])(move)
    b.arc("t", "u")


def arc_weight_zero(b: NetBuilder) -> None:
    b.arc("t", "p", weight=0)


def negative_arc_weight(b: NetBuilder) -> None:
    q = b.place("q")
    b.transition(name="h", inputs=[(q, -1)])(move)


def float_arc_weight(b: NetBuilder) -> None:
    q = b.place("q")
    b.transition(name="h", inputs=[(q, 1.5)])(move)


def arc_from_a_place_of_another_net(b: NetBuilder) -> None:
    b.transition(name="h", inputs=[PlaceRef("elsewhere")])(move)


def arc_declared_twice(b: NetBuilder) -> None:
    b.arc("p", "t", weight=2)  # inputs=[p] declared it with weight 1 (the same weight would be one arc)


def arc_called_twice(b: NetBuilder) -> None:
    b.place("q")
    b.arc("q", "t")
    b.arc("q", "t")


def arc_weight_as_third_argument(b: NetBuilder) -> None:
    b.place("q")
    b.arc("q", "t", 2)  # type: ignore[arg-type]


def place_named_star(b: NetBuilder) -> None:
    b.place("*")


def consuming_from_a_sink(b: NetBuilder) -> None:
    b.io_output_place("out", sink)
    b.transition(name="h", inputs=["p", "out"])(move)


def producing_into_a_source(b: NetBuilder) -> None:
    b.io_input_place("src", source)
    b.transition(name="h", inputs=["p"], outputs=["src"])(move)


def input_weight_over_capacity(b: NetBuilder) -> None:
    q = b.place("q", capacity=2)
    b.transition(name="h", inputs=[(q, 3)])(move)


def output_weight_over_capacity(b: NetBuilder) -> None:
    q = b.place("q", capacity=2)
    b.transition(name="h", inputs=["p"], outputs=[(q, 3)])(move)


def transition_without_input(b: NetBuilder) -> None:
    b.transition(name="h", outputs=["p"])(move)


def subnet_not_a_net(b: NetBuilder) -> None:
    b.subnet(42, "w")  # type: ignore[arg-type]


def unknown_element_of_a_subnet(b: NetBuilder) -> None:
    w = b.subnet(Other, "w")
    w.inbox  # noqa: B018 - the lookup is the test


def transition_never_applied(b: NetBuilder) -> None:
    b.transition(name="gate", inputs=["p"])  # the handler was forgotten: nothing is declared


def call_forms_never_applied(b: NetBuilder) -> None:
    b.transition(inputs=["p"])
    b.io_input_place("incoming")
    b.io_output_place()
    b.place(type=PlaceType.BAG)


def fork_to_no_place(b: NetBuilder) -> None:
    b.fork("p", [])  # e.g. a list of outputs computed empty: every token it took would vanish


def round_robin_to_no_place(b: NetBuilder) -> None:
    b.round_robin("p", [])


def merge_of_no_place(b: NetBuilder) -> None:
    b.merge([], "p")  # e.g. a list of inputs computed empty: it would declare nothing, silently


def join_of_no_place(b: NetBuilder) -> None:
    b.join([], "p")


def route_with_an_empty_map(b: NetBuilder) -> None:
    b.route("p", {})


def two_transitions_share_a_name_and_an_arc(b: NetBuilder) -> None:
    b.transition(name="t", inputs=["p"])(move)  # e.g. two forward() of same-named subnet places


def arc_declared_again_by_the_embedding_net(b: NetBuilder) -> None:
    w = b.subnet(Other, "w")
    b.arc(w.elsewhere, w.t)  # subnet Other declares it already: t would take two tokens, one arc seen


@pn.net
def Relay(builder: NetBuilder) -> None:
    src, dst = builder.place("src"), builder.place("dst")
    builder.transition(name="hop", inputs=[src], outputs=[dst])(move)


def output_arc_declared_again_two_levels_up(b: NetBuilder) -> None:
    def Middle(builder: NetBuilder) -> None:
        builder.subnet(Relay, "r")

    m = b.subnet(Middle, "m")
    b.arc(m.r.hop, m.r.dst)


def route_keyed_by_a_union(b: NetBuilder) -> None:
    q = b.place("q")
    b.route("p", {int | float: q, "str": q})  # neither is a type: no token could ever match them


def shapes_putting_tokens_back_where_they_came_from(b: NetBuilder) -> None:
    q = b.place("q")
    b.forward("p", "p")  # each would fire for ever on its first token: run_until_idle() never returns
    b.fork("p", [q, "p"], name="copy")
    b.round_robin("p", [q, "p"], name="turns")  # fine: a token put back goes to q at its next turn
    b.route("p", {int: "p", str: q}, name="sort")


BUILDER_CASES = [
    (
        place_name_with_a_dot,
        "net 'Bad'",
        [
            (
                "place 'a.b': names must be non-empty strings without '.' (dots separate subnet "
                "levels). Fix: rename it, e.g. 'worker_inbox'"
            ),
        ],
    ),
    (
        empty_place_name,
        "net 'Bad'",
        [
            (
                "place '': names must be non-empty strings without '.' (dots separate subnet levels). "
                "Fix: rename it, e.g. 'worker_inbox'"
            ),
        ],
    ),
    (
        place_name_not_a_string,
        "net 'Bad'",
        [
            (
                "place 3: names must be non-empty strings without '.' (dots separate subnet levels). "
                "Fix: rename it, e.g. 'worker_inbox'"
            ),
        ],
    ),
    (
        net_name_with_a_dot,
        "net 'my.net'",
        [
            (
                "net 'my.net': names must be non-empty strings without '.' (dots separate subnet "
                "levels). Fix: rename it, e.g. 'worker_inbox'"
            ),
        ],
    ),
    (
        duplicate_place,
        "net 'Bad'",
        [
            (
                "place 'p': the name is declared 2 times in net 'Bad'. Fix: give each place, "
                "transition and subnet of a net its own name"
            ),
        ],
    ),
    (
        place_and_transition_share_a_name,
        "net 'Bad'",
        [
            (
                "place 't', transition 't': these share the name 't' in net 'Bad'. Fix: give each "
                "place, transition and subnet of a net its own name"
            ),
        ],
    ),
    (
        subnet_shares_a_name,
        "net 'Bad'",
        [
            (
                "place 'p', subnet 'p': these share the name 'p' in net 'Bad'. Fix: give each place, "
                "transition and subnet of a net its own name"
            ),
        ],
    ),
    (
        capacity_zero,
        "net 'Bad'",
        [
            (
                "place 'q': capacity 0 is not a positive integer. Fix: use capacity=None (unbounded) "
                "or an int >= 1"
            ),
        ],
    ),
    (
        capacity_not_an_int,
        "net 'Bad'",
        [
            (
                "place 'q': capacity '3' is not a positive integer. Fix: use capacity=None "
                "(unbounded) or an int >= 1"
            ),
        ],
    ),
    (
        capacity_bool,
        "net 'Bad'",
        [
            (
                "place 'q': capacity True is not a positive integer. Fix: use capacity=None "
                "(unbounded) or an int >= 1"
            ),
        ],
    ),
    (
        initial_tokens_over_capacity,
        "net 'Bad'",
        [
            (
                "place 'q': 2 initial tokens exceed capacity 1. Fix: raise the capacity or start with "
                "fewer tokens"
            ),
        ],
    ),
    (
        initial_is_a_string,
        "net 'Bad'",
        [
            (
                "place 'q': initial is a string, which would make one token per character. Fix: pass "
                "a list of tokens, e.g. initial=['job']"
            ),
        ],
    ),
    (
        initial_is_not_a_collection,
        "net 'Bad'",
        [
            (
                "place 'q': initial=5 is not a collection of tokens. Fix: pass a list of tokens, e.g. "
                "initial=[5] for one token"
            ),
        ],
    ),
    (
        place_type_not_a_place_type,
        "net 'Bad'",
        [
            ("place 'q': type 'queue' is not a PlaceType. Fix: use PlaceType.QUEUE or PlaceType.BAG"),
        ],
    ),
    (
        source_not_callable,
        "net 'Bad'",
        [
            ("io input place 'src': source 42 is not callable. Fix: pass 'async def source(bb, timebase)'"),
        ],
    ),
    (
        source_with_an_extra_parameter,
        "net 'Bad'",
        [
            (
                "io input place 'src': its source takes (bb, timebase, limit) but is called with (bb, "
                "timebase). Fix: declare it as 'async def source(bb, timebase)'"
            ),
        ],
    ),
    (
        sink_not_callable,
        "net 'Bad'",
        [
            (
                "io output place 'out': sink 'print' is not callable. Fix: pass 'async def "
                "sink(token, bb, timebase)'"
            ),
        ],
    ),
    (
        sink_taking_no_token,
        "net 'Bad'",
        [
            (
                "io output place 'out': its sink takes no parameter, so it cannot be given the token. "
                "Fix: declare it as 'async def sink(token, bb, timebase)'"
            ),
        ],
    ),
    (
        handler_not_callable,
        "net 'Bad'",
        [
            (
                "transition 'h': handler 'not callable' is not callable. Fix: decorate a function "
                "(consumed, bb, timebase)"
            ),
        ],
    ),
    (
        handler_with_too_few_parameters,
        "net 'Bad'",
        [
            (
                "transition 'h': handler takes 1 positional parameter(s), but a transition handler is "
                "called with (consumed, bb, timebase). Fix: declare it as 'async def "
                "handler(consumed, bb, timebase)' (optionally a 4th parameter named 'ctx')"
            ),
        ],
    ),
    (
        handler_with_an_extra_required_parameter,
        "net 'Bad'",
        [
            (
                "transition 'h': handler has extra required parameter(s) extra; only (consumed, bb, "
                "timebase) and an optional 4th named 'ctx' are passed. Fix: remove them, give them "
                "defaults, or name the 4th parameter 'ctx'"
            ),
        ],
    ),
    (
        guard_not_callable,
        "net 'Bad'",
        [
            "transition 'h': guard True is not callable. Fix: pass a function (consumed, bb)",
        ],
    ),
    (
        async_guard,
        "net 'Bad'",
        [
            (
                "transition 'h': guard is async; guards are evaluated by the scheduler while it "
                "chooses what to fire and cannot await. Fix: make the guard a plain 'def "
                "guard(consumed, bb)' and do I/O in the handler"
            ),
        ],
    ),
    (
        guard_without_parameters,
        "net 'Bad'",
        [
            (
                "transition 'h': guard takes 0 required parameter(s). Fix: declare it as 'def "
                "guard(consumed)', '(consumed, bb)' or '(consumed, bb, timebase)'"
            ),
        ],
    ),
    (
        guard_with_four_parameters,
        "net 'Bad'",
        [
            (
                "transition 'h': guard takes 4 required parameter(s). Fix: declare it as 'def "
                "guard(consumed)', '(consumed, bb)' or '(consumed, bb, timebase)'"
            ),
        ],
    ),
    (
        priority_not_an_int,
        "net 'Bad'",
        [
            "transition 'h': priority 'high' is not an int. Fix: use an int; higher fires first",
        ],
    ),
    (
        concurrency_zero,
        "net 'Bad'",
        [
            (
                "transition 'h': concurrency 0 is not a positive int. Fix: use concurrency=1 for one "
                "firing at a time, or more"
            ),
        ],
    ),
    (
        negative_retry_delay,
        "net 'Bad'",
        [
            (
                "transition 'h': retry_delay -1 is not a duration >= 0. Fix: use seconds on the "
                "runner's timebase, a Backoff(first, factor, limit), or None"
            ),
        ],
    ),
    (
        backoff_that_shrinks,
        "net 'Bad'",
        [
            (
                "transition 'h': retry_delay Backoff(first=1, factor=0.5, limit=30.0) is not a "
                "backoff: it needs 0 <= first <= limit and factor >= 1. Fix: e.g. Backoff(first=0.1, "
                "factor=2, limit=30)"
            ),
        ],
    ),
    (
        attachment_not_a_diagram,
        "net 'Bad'",
        [
            (
                "transition 'h': attachment 'picture' is not a Diagram. Fix: pass a "
                "mycorrhizal.common.Diagram (e.g. some_spec.to_diagram())"
            ),
        ],
    ),
    (
        inputs_not_a_list,
        "net 'Bad'",
        [
            "transition 'h': inputs='p' is not a list. Fix: write inputs=[place, ...]",
        ],
    ),
    (
        inputs_entry_of_three,
        "net 'Bad'",
        [
            (
                "transition 'h': inputs= entry ('p', 2, 3) is neither a place nor a (place, weight) "
                "pair. Fix: write inputs=[place] or inputs=[(place, 2)]"
            ),
        ],
    ),
    (
        error_place_unknown,
        "net 'Bad'",
        [
            (
                "transition 'h': error place 'missing' is not a place of net 'Bad'. Fix: declare the "
                "error place in the same net, or use OnError.RETURN"
            ),
        ],
    ),
    (
        error_place_bounded,
        "net 'Bad'",
        [
            (
                "transition 'h': error place 'dead' has a capacity, so a failure could have nowhere "
                "to go. Fix: make the error place unbounded"
            ),
        ],
    ),
    (
        error_place_is_a_source,
        "net 'Bad'",
        [
            (
                "transition 'h': error place 'src' is an io input place. Fix: use an ordinary place "
                "or an io output place"
            ),
        ],
    ),
    (
        error_place_is_an_input,
        "net 'Bad'",
        [
            (
                "transition 'h': its error place 'p' is also one of its inputs, so a failed token "
                "would come straight back to the transition that failed on it. Fix: send failures to "
                "a place of their own (and retry from there on purpose)"
            ),
        ],
    ),
    (
        sink_error_place_is_itself,
        "net 'Bad'",
        [
            (
                "io output place 'out': its error place is itself, so a failed token would go "
                "straight back to the sink. Fix: send failures to a place of their own"
            ),
        ],
    ),
    (
        sink_error_places_in_a_cycle,
        "net 'Bad'",
        [
            (
                "io output place 'a': its failures go round a cycle of sinks back to itself. Fix: end "
                "the chain of error places in a place that is not a sink"
            ),
            (
                "io output place 'b2': its failures go round a cycle of sinks back to itself. Fix: "
                "end the chain of error places in a place that is not a sink"
            ),
        ],
    ),
    (
        sink_error_place_unknown,
        "net 'Bad'",
        [
            (
                "io output place 'out': error place 'nowhere' is not a place of net 'Bad'. Fix: "
                "declare the error place in the same net, or use OnError.RETURN"
            ),
        ],
    ),
    (
        arc_to_an_unknown_place,
        "net 'Bad'",
        [
            (
                "arc 'nowhere' -> 't': 'nowhere' is not a place or transition of net 'Bad'. Fix: "
                "declare it first, or use 'subnet.element'"
            ),
        ],
    ),
    (
        arc_between_two_places,
        "net 'Bad'",
        [
            (
                "arc 'p' -> 'p': an arc must join a place and a transition. Fix: connect place -> "
                "transition or transition -> place"
            ),
        ],
    ),
    (
        arc_between_two_transitions,
        "net 'Bad'",
        [
            (
                "arc 't' -> 'u': an arc must join a place and a transition. Fix: connect place -> "
                "transition or transition -> place"
            ),
        ],
    ),
    (
        arc_weight_zero,
        "net 'Bad'",
        [
            "arc 't' -> 'p': weight 0 is not a positive int. Fix: use weight=1 or more",
        ],
    ),
    (
        negative_arc_weight,
        "net 'Bad'",
        [
            ("transition 'h' inputs= 'q' -> 'h': weight -1 is not a positive int. Fix: use weight=1 or more"),
        ],
    ),
    (
        float_arc_weight,
        "net 'Bad'",
        [
            (
                "transition 'h' inputs= 'q' -> 'h': weight 1.5 is not a positive int. Fix: use "
                "weight=1 or more"
            ),
        ],
    ),
    (
        arc_from_a_place_of_another_net,
        "net 'Bad'",
        [
            (
                "transition 'h' inputs= 'elsewhere' -> 'h': 'elsewhere' is not a place or transition "
                "of net 'Bad'. Fix: declare it first, or use 'subnet.element'"
            ),
        ],
    ),
    (
        arc_declared_twice,
        "net 'Bad'",
        [
            (
                "arc 'p' -> 't': this arc is declared twice (transition 't' inputs= and arc). Fix: "
                "declare it once; use weight= for several tokens"
            ),
        ],
    ),
    (
        arc_called_twice,
        "net 'Bad'",
        [
            (
                "arc 'q' -> 't': this arc is declared twice (arc and arc). Fix: declare it once; use "
                "weight= for several tokens"
            ),
        ],
    ),
    (
        arc_weight_as_third_argument,
        "net 'Bad'",
        [
            (
                "arc 'q' -> 't': its name 2 is not a string (the third argument of arc() is the arc's "
                "name). Fix: pass the weight by keyword: arc(src, dst, weight=2)"
            ),
        ],
    ),
    (
        place_named_star,
        "net 'Bad'",
        [
            (
                "place '*': '*' is not a name: as an output key it means every output place not named "
                "beside it. Fix: rename it, e.g. 'all'"
            ),
        ],
    ),
    (
        consuming_from_a_sink,
        "net 'Bad'",
        [
            (
                "transition 'h' inputs= 'out' -> 'h': 'out' is an io output place (a sink); "
                "transitions cannot consume from it. Fix: consume from an ordinary place instead"
            ),
        ],
    ),
    (
        producing_into_a_source,
        "net 'Bad'",
        [
            (
                "transition 'h' outputs= 'h' -> 'src': 'src' is an io input place (fed by its "
                "source); transitions cannot produce into it. Fix: produce into an ordinary place "
                "instead"
            ),
        ],
    ),
    (
        input_weight_over_capacity,
        "net 'Bad'",
        [
            (
                "transition 'h' inputs= 'q' -> 'h': it takes 3 tokens per firing from 'q', which "
                "holds at most 2, so the transition can never fire. Fix: lower the weight to 2 or "
                "less, or raise the place's capacity to 3"
            ),
        ],
    ),
    (
        output_weight_over_capacity,
        "net 'Bad'",
        [
            (
                "transition 'h' outputs= 'h' -> 'q': it puts 3 tokens per firing into 'q', which has "
                "room for at most 2, so the transition can never fire. Fix: lower the weight to 2 or "
                "less, or raise the place's capacity to 3"
            ),
        ],
    ),
    (
        transition_without_input,
        "net 'Bad'",
        [
            (
                "transition 'h': it has no input arc, so it would be enabled forever. Fix: give it an "
                "input place (use an io_input_place for a source)"
            ),
        ],
    ),
    (
        subnet_not_a_net,
        "net 'Bad'",
        [
            ("subnet 'w': 42 is not a net. Fix: pass a @pn.net net or a 'def Net(builder)' function"),
        ],
    ),
    (
        unknown_element_of_a_subnet,
        "subnet 'w'",
        [
            (
                "subnet 'w': net 'Other' has no element 'inbox' (it has ['elsewhere', 't']). Fix: "
                "check the spelling or add that place/transition to the subnet"
            ),
        ],
    ),
    (
        transition_never_applied,
        "net 'Bad'",
        [
            "transition 'gate': builder.transition(...) was called but never applied to a function, so "
            "nothing was declared. Fix: put @builder.transition(...) above the function, or call it with "
            "the function: builder.transition(...)(fn)"
        ],
    ),
    (
        call_forms_never_applied,
        "net 'Bad'",
        [
            "a transition: builder.transition(...) was called but never applied to a function, so nothing "
            "was declared. Fix: put @builder.transition(...) above the function, or call it with the "
            "function: builder.transition(...)(fn)",
            "io_input_place 'incoming': builder.io_input_place(...) was called but never applied to a "
            "function, so nothing was declared. Fix: put @builder.io_input_place(...) above the function, "
            "or call it with the function: builder.io_input_place(...)(fn)",
            "an io_output_place: builder.io_output_place(...) was called but never applied to a function, "
            "so nothing was declared. Fix: put @builder.io_output_place(...) above the function, or call "
            "it with the function: builder.io_output_place(...)(fn)",
            "a place: builder.place(...) was called but never applied to a function, so nothing was "
            "declared. Fix: name the place, builder.place('name', ...), or put @builder.place(...) above "
            "a function",
        ],
    ),
    (
        fork_to_no_place,
        "net 'Bad'",
        [
            (
                "transition 'fork_p': fork() was given no output places, so every token it takes would "
                "vanish. Fix: give it at least one output place"
            ),
        ],
    ),
    (
        round_robin_to_no_place,
        "net 'Bad'",
        [
            (
                "transition 'round_robin_p': round_robin() was given no output places, so it has nowhere "
                "to send a token. Fix: give it at least one output place"
            ),
        ],
    ),
    (
        merge_of_no_place,
        "net 'Bad'",
        [
            (
                "transition 'merge_to_p': merge() was given no input places, so it declares nothing and "
                "feeds 'p' nothing. Fix: give it at least one input place"
            ),
        ],
    ),
    (
        join_of_no_place,
        "net 'Bad'",
        [
            (
                "transition 'join_to_p': it has no input arc, so it would be enabled forever. Fix: give "
                "it an input place (use an io_input_place for a source)"
            ),
        ],
    ),
    (
        route_with_an_empty_map,
        "net 'Bad'",
        [
            (
                "transition 'route_p': route() was given an empty type map, so it has nowhere to send a "
                "token. Fix: map at least one type to a place"
            ),
        ],
    ),
    (
        two_transitions_share_a_name_and_an_arc,
        "net 'Bad'",
        [
            (
                "transition 't': the name is declared 2 times in net 'Bad'. Fix: give each place, "
                "transition and subnet of a net its own name"
            ),  # not also "arc 'p' -> 't' declared twice": that only follows from the shared name
        ],
    ),
    (
        arc_declared_again_by_the_embedding_net,
        "net 'Bad'",
        [
            (
                "arc 'w.elsewhere' -> 'w.t': this arc is declared twice (transition 't' inputs= in subnet "
                "'w' and arc). Fix: declare it once; use weight= for several tokens"
            ),
        ],
    ),
    (
        output_arc_declared_again_two_levels_up,
        "net 'Bad'",
        [
            (
                "arc 'm.r.hop' -> 'm.r.dst': this arc is declared twice (transition 'hop' outputs= in "
                "subnet 'm.r' and arc). Fix: declare it once; use weight= for several tokens"
            ),
        ],
    ),
    (
        route_keyed_by_a_union,
        "net 'Bad'",
        [
            (
                "transition 'route_p': route() sends each token by its exact type, and int | float is not "
                "a type. Fix: give each type its own entry, e.g. {int: place, float: place}"
            ),
            (
                "transition 'route_p': route() sends each token by its exact type, and 'str' is not a "
                "type. Fix: give each type its own entry, e.g. {int: place, float: place}"
            ),
        ],
    ),
    (
        shapes_putting_tokens_back_where_they_came_from,
        "net 'Bad'",
        [
            (
                "transition 'forward_p_to_p': forward() puts tokens it takes from 'p' back into 'p', so it "
                "would fire on them for ever. Fix: send the tokens to other places"
            ),
            (
                "transition 'copy': fork() puts tokens it takes from 'p' back into 'p', so it would fire "
                "on them for ever. Fix: send the tokens to other places"
            ),
            (
                "transition 'sort': route() puts tokens it takes from 'p' back into 'p', so it would fire "
                "on them for ever. Fix: send the tokens to other places"
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    "declare, what, problems", BUILDER_CASES, ids=[case[0].__name__ for case in BUILDER_CASES]
)
def test_a_bad_declaration_raises_exactly_this(declare: Any, what: str, problems: list[str]) -> None:
    builder = base()
    with pytest.raises(DefinitionError, match=re.escape(problems[0])) as excinfo:
        declare(builder)
        builder.build()
    assert excinfo.value.what == what
    assert [str(p) for p in excinfo.value.problems] == problems
    assert all(". Fix: " in p and not p.endswith("Fix: ") for p in problems)


async def _async_body(builder: NetBuilder) -> None:
    return None


def _raising_body(builder: NetBuilder) -> None:
    {}["missing"]  # noqa: B018 - a body with a bug


def _hand_made_net_against_its_arc() -> None:
    Runner(
        NetSpec(
            "Hand",
            places=(PlaceSpec("p"),),
            transitions=(TransitionSpec("t", move),),
            arcs=(ArcSpec("t", "p", direction="in"), ArcSpec("p", "t")),
        )
    )


OTHER_CASES = [
    (
        lambda: pn.net(_async_body),
        "net '_async_body'",
        ["net '_async_body': the net body is 'async def'. Fix: declare it with plain 'def Net(builder)'"],
    ),
    (
        lambda: pn.net(_raising_body),
        "net '_raising_body'",
        [
            "net '_raising_body': its body raised KeyError: 'missing'. Fix: fix the net body (the original "
            "error and its traceback are attached)"
        ],
    ),
    (
        lambda: pn.net(42),  # type: ignore[call-overload]
        "net definition",
        ["pn.net: 42 is not a function. Fix: decorate 'def Net(builder)' with @pn.net"],
    ),
    (
        lambda: Runner(42),  # type: ignore[arg-type]
        "Runner(net)",
        ["Runner: 42 is not a net. Fix: pass a net built with @pn.net or NetBuilder(...).build()"],
    ),
    (
        lambda: Runner(Other, {}, "clock"),  # type: ignore[arg-type]
        "Runner of net 'Other'",
        [
            "Runner of net 'Other': timebase='clock' is not a timebase (it needs now(), sleep() and "
            "call_later()). Fix: pass a clock such as MonotonicClock(), ManualClock() or CycleClock(), or "
            "subclass Timebase"
        ],
    ),
    (
        _hand_made_net_against_its_arc,
        "net 'Hand'",
        ["arc 't' -> 'p': its direction is 'in' but it goes out of the transition. Fix: use direction='out'"],
    ),
]


@pytest.mark.parametrize(
    "make, what, problems",
    OTHER_CASES,
    ids=[
        "async_net_body",
        "net_body_raises",
        "pn_net_on_a_non_function",
        "runner_of_a_non_net",
        "runner_timebase_not_a_clock",
        "hand_made_arc",
    ],
)
def test_a_bad_net_raises_exactly_this(make: Any, what: str, problems: list[str]) -> None:
    with pytest.raises(DefinitionError, match=re.escape(problems[0])) as excinfo:
        make()
    assert excinfo.value.what == what
    assert [str(p) for p in excinfo.value.problems] == problems


@pytest.mark.parametrize("keyword", ["bt", "fsm", "fsm_key", "rejected", "bt_mode"])
def test_a_composing_keyword_on_hyphas_pn_names_the_pn_that_takes_it(keyword: str) -> None:
    def Desk(builder: NetBuilder) -> None:
        inbox, out = builder.place("inbox"), builder.place("out")

        @builder.transition(inputs=[inbox], outputs=[out], **{keyword: object()})
        def triage(consumed: Any, bb: Any, timebase: Any) -> None:
            pass

    fix = (
        f"unexpected keyword argument '{keyword}'. Fix: {keyword}= belongs to a composed net: import "
        "pn from mycorrhizal.mycelium (its transitions take bt=, fsm= and rejected=) instead of "
        "mycorrhizal.hypha"
    )
    with pytest.raises(
        DefinitionError, match=r"^net 'Desk' has 1 problem:\n  - net 'Desk': its body raised TypeError: "
    ):
        pn.net(Desk)  # before: 'Fix: fix the net body', with no word of mycelium
    with pytest.raises(DefinitionError, match=re.escape(fix)):
        pn.net(Desk)


def test_a_net_body_that_raises_keeps_the_original_error() -> None:
    with pytest.raises(
        DefinitionError,
        match="net '_raising_body': its body raised KeyError: 'missing'. Fix: fix the net body",
    ) as excinfo:
        pn.net(_raising_body)
    assert isinstance(excinfo.value.__cause__, KeyError)
