"""Every rule a net definition must follow, one small checker each.

A checker looks at one level of a net (its own places, transitions, arcs and the names of its
subnets; a subnet is checked on its own) and yields a :class:`Problem` per violation, naming the
user's place or transition and ending with the fix.  :func:`problems` runs them all, so a broken net
reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..common.errors import Problem, did_you_mean
from . import patterns
from .handler_checks import (
    guards_fit,
    handler_interfaces_resolve,
    handlers_fit,
    io_handlers_fit,
    is_count,
    options_fit,
    place_subject,
)
from .places import PlaceKind, PlaceSpec, PlaceType
from .spec import ArcSpec, NetSpec
from .transitions import OnError, TransitionSpec

__all__ = ["RULES", "no_input", "place_subject", "problems"]

Rule = Callable[[NetSpec], Iterable[Problem]]


def _valid_name(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and "." not in name


# -- names ----------------------------------------------------------------------------------------


def _elements(net: NetSpec) -> Iterator[tuple[str, Any]]:
    """(subject, name) of every element of ``net``, places first."""
    for p in net.places:
        yield place_subject(p), p.name
    for t in net.transitions:
        yield f"transition {t.name!r}", t.name
    for s in net.subnets:
        yield f"subnet {s.name!r}", s.name


def names_are_valid(net: NetSpec) -> Iterator[Problem]:
    """Names are non-empty strings without dots (dots separate subnet levels), and not ``*``."""
    for subject, name in [(f"net {net.name!r}", net.name), *_elements(net)]:
        if not _valid_name(name):
            yield Problem(
                subject,
                "names must be non-empty strings without '.' (dots separate subnet levels)",
                "rename it, e.g. 'worker_inbox'",
            )
        elif name == "*":
            yield Problem(
                subject,
                "'*' is not a name: as an output key it means every output place not named beside it",
                "rename it, e.g. 'all'",
            )


def names_are_unique(net: NetSpec) -> Iterator[Problem]:
    """A place, a transition and a subnet of one net never share a name."""
    users: dict[str, list[str]] = {}
    for subject, name in _elements(net):
        if _valid_name(name):
            users.setdefault(name, []).append(subject)
    shaped = {t.name for t in net.transitions if getattr(t.handler, "__module__", None) == patterns.__name__}
    for name, subjects in users.items():
        if len(subjects) == 1:
            continue
        if len(set(subjects)) == 1:
            subject, message = subjects[0], f"the name is declared {len(subjects)} times in net {net.name!r}"
        else:
            subject, message = ", ".join(subjects), f"these share the name {name!r} in net {net.name!r}"
        fix = "give each place, transition and subnet of a net its own name"
        if name in shaped:  # a shape names its transition after its places, which may share names
            fix += (
                "; a shape (forward(), fork(), ...) names its transition after its places, "
                "so give one of them name=..."
            )
        yield Problem(subject, message, fix)


def _shared_names(net: NetSpec) -> set[str]:
    names = [name for _, name in _elements(net)]
    return {name for name in names if names.count(name) > 1}


# -- places ---------------------------------------------------------------------------------------


def place_types_are_known(net: NetSpec) -> Iterator[Problem]:
    """A place is a QUEUE or a BAG."""
    for p in net.places:
        if not isinstance(p.type, PlaceType):
            yield Problem(
                place_subject(p),
                f"type {p.type!r} is not a PlaceType",
                "use PlaceType.QUEUE or PlaceType.BAG",
            )


def capacities_fit(net: NetSpec) -> Iterator[Problem]:
    """A capacity is a positive int, and the initial tokens fit in it."""
    for p in net.places:
        cap = p.capacity
        if cap is None:
            continue
        if not is_count(cap):
            yield Problem(
                place_subject(p),
                f"capacity {cap!r} is not a positive integer",
                "use capacity=None (unbounded) or an int >= 1",
            )
        elif len(p.initial) > cap:
            yield Problem(
                place_subject(p),
                f"{len(p.initial)} initial tokens exceed capacity {cap}",
                "raise the capacity or start with fewer tokens",
            )


# -- transitions ----------------------------------------------------------------------------------


def transitions_have_inputs(net: NetSpec) -> Iterator[Problem]:
    """Every transition has an input arc (one without would be enabled forever).

    Any arc declared into the transition counts, even one with another problem of its own: that
    problem is reported by its own rule, not again as a missing input.
    """
    has_input = {a.dst for a in net.arcs if a.direction == "in"}
    for t in net.transitions:
        if t.name not in has_input:
            yield no_input(t.name)


def no_input(transition: str) -> Problem:
    """The problem of a transition without an input arc."""
    return Problem(
        f"transition {transition!r}",
        "it has no input arc, so it would be enabled forever",
        "give it an input place (use an io_input_place for a source)",
    )


# -- arcs -----------------------------------------------------------------------------------------


def arc_subject(a: ArcSpec) -> str:
    """How problems name an arc: how it was declared, and its ends."""
    return f"{a.origin} {a.src!r} -> {a.dst!r}"


def arcs_join_a_place_and_a_transition(net: NetSpec) -> Iterator[Problem]:
    """Both ends exist; one is a place, the other a transition, in the arc's direction.

    Which kind an end is, when several elements share its name, is left to :func:`names_are_unique`.
    """
    shared = _shared_names(net)
    for a in net.arcs:
        ends = [(end, net.lookup(end) if isinstance(end, str) else None) for end in (a.src, a.dst)]
        missing = [end for end, found in ends if found is None]
        for end in missing:
            yield Problem(
                arc_subject(a),
                f"{end!r} is not a place or transition of net {net.name!r}",
                did_you_mean(end, net.element_paths(), "declare it first, or use 'subnet.element'"),
            )
        if missing or {str(a.src).split(".")[0], str(a.dst).split(".")[0]} & shared:
            continue
        (_, src), (_, dst) = ends
        forward = isinstance(src, PlaceSpec) and isinstance(dst, TransitionSpec)
        backward = isinstance(src, TransitionSpec) and isinstance(dst, PlaceSpec)
        if not (forward or backward):
            yield Problem(
                arc_subject(a),
                "an arc must join a place and a transition",
                "connect place -> transition or transition -> place",
            )
        elif forward != (a.direction == "in"):
            yield Problem(
                arc_subject(a),
                f"its direction is {a.direction!r} but it goes "
                f"{'into' if forward else 'out of'} the transition",
                f"use direction={'in' if forward else 'out'!r}",
            )


def arc_names_are_text(net: NetSpec) -> Iterator[Problem]:
    """An arc's optional name is a string (``arc(src, dst, 2)`` would be a name, not a weight)."""
    for a in net.arcs:
        if a.name is not None and not isinstance(a.name, str):
            yield Problem(
                arc_subject(a),
                f"its name {a.name!r} is not a string (the third argument of arc() is the arc's name)",
                f"pass the weight by keyword: arc(src, dst, weight={a.name!r})",
            )


def arc_weights_are_counts(net: NetSpec) -> Iterator[Problem]:
    """An arc moves a whole number of tokens, at least one."""
    for a in net.arcs:
        if not is_count(a.weight):
            yield Problem(
                arc_subject(a), f"weight {a.weight!r} is not a positive int", "use weight=1 or more"
            )


def arc_weights_fit_capacities(net: NetSpec) -> Iterator[Problem]:
    """An arc never needs more tokens, or more room, than its place can ever hold."""
    for a in net.arcs:
        place = net.lookup(a.src if a.direction == "in" else a.dst)
        if not (isinstance(place, PlaceSpec) and is_count(place.capacity) and is_count(a.weight)):
            continue
        assert place.capacity is not None
        if a.weight <= place.capacity:
            continue
        cap = place.capacity
        if a.direction == "in":
            why = f"it takes {a.weight} tokens per firing from {a.src!r}, which holds at most {cap}"
        else:
            why = f"it puts {a.weight} tokens per firing into {a.dst!r}, which has room for at most {cap}"
        yield Problem(
            arc_subject(a),
            f"{why}, so the transition can never fire",
            f"lower the weight to {place.capacity} or less, or raise the place's capacity to {a.weight}",
        )


def arcs_respect_io_places(net: NetSpec) -> Iterator[Problem]:
    """Transitions never consume from a sink's place nor produce into a source's place."""
    for a in net.arcs:
        place = net.lookup(a.src if a.direction == "in" else a.dst)
        if not isinstance(place, PlaceSpec):
            continue
        if a.direction == "in" and place.kind is PlaceKind.IO_OUTPUT:
            yield Problem(
                arc_subject(a),
                f"{a.src!r} is an io output place (a sink); transitions cannot consume from it",
                "consume from an ordinary place instead",
            )
        elif a.direction == "out" and place.kind is PlaceKind.IO_INPUT:
            yield Problem(
                arc_subject(a),
                f"{a.dst!r} is an io input place (fed by its source); transitions cannot produce into it",
                "produce into an ordinary place instead",
            )


def _subnet_arcs(net: NetSpec) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The arcs ``net``'s subnets declare (at any depth), by their ends' names relative to ``net``
    (how each was declared, and its shape): an embedding net declaring one again would make its
    transition take or give twice as much."""
    found: dict[tuple[str, str], tuple[str, str | None]] = {}
    for qname, sub in net.walk(""):
        if sub is not net:
            path = qname[1:]  # ".w.v" -> "w.v"
            for a in sub.arcs:
                declared = (f"{a.origin} in subnet {path!r}", a.shape)
                found.setdefault((f"{path}.{a.src}", f"{path}.{a.dst}"), declared)
    return found


def arcs_are_declared_once(net: NetSpec) -> Iterator[Problem]:
    """The same arc twice would double its weight behind the reader's back.

    Two elements sharing a name are :func:`names_are_unique`'s problem: the arcs they each declared
    look alike only because of it, and are not reported again.
    """
    seen = _subnet_arcs(net)
    shared = _shared_names(net)
    for a in net.arcs:
        key = (a.src, a.dst)
        if key in seen and not {str(a.src).split(".")[0], str(a.dst).split(".")[0]} & shared:
            origin, shape = seen[key]
            yield Problem(
                arc_subject(a),
                f"this arc is declared twice ({origin} and {a.origin})",
                _declare_once(shape or a.shape),
            )
        else:
            seen[key] = (a.origin, a.shape)


def _declare_once(shape: str | None) -> str:
    """The fix for an arc declared twice: a shape takes no weight, so its arc is given one another way."""
    if shape is None:
        return "declare it once; use weight= for several tokens"
    return (
        f"builder.{shape}() takes no weight: drop the builder.arc(), or declare the transition with "
        "builder.transition() and give the weight in inputs=/outputs="
    )


# -- error places ---------------------------------------------------------------------------------


def _error_place_problems(net: NetSpec, subject: str, where: Any) -> Iterator[Problem]:
    target = net.lookup(where) if isinstance(where, str) else None
    if not isinstance(target, PlaceSpec):
        yield Problem(
            subject,
            f"error place {where!r} is not a place of net {net.name!r}",
            "declare the error place in the same net, or use OnError.RETURN",
        )
    elif target.kind is PlaceKind.IO_INPUT:
        yield Problem(
            subject,
            f"error place {where!r} is an io input place",
            "use an ordinary place or an io output place",
        )
    elif target.capacity is not None:
        yield Problem(
            subject,
            f"error place {where!r} has a capacity, so a failure could have nowhere to go",
            "make the error place unbounded",
        )


def transition_error_places_fit(net: NetSpec) -> Iterator[Problem]:
    """A transition's error place is an unbounded place of its net, and not one of its inputs."""
    for t in net.transitions:
        if isinstance(t.on_error, OnError):
            continue
        subject = f"transition {t.name!r}"
        yield from _error_place_problems(net, subject, t.on_error)
        if any(a.direction == "in" and a.dst == t.name and a.src == t.on_error for a in net.arcs):
            yield Problem(
                subject,
                f"its error place {t.on_error!r} is also one of its inputs, so a failed token would come "
                "straight back to the transition that failed on it",
                "send failures to a place of their own (and retry from there on purpose)",
            )


def sink_error_places_fit(net: NetSpec) -> Iterator[Problem]:
    """A sink's error place is an unbounded place of its net, and failures never come back to it."""
    places = {p.name: p for p in net.places}
    for p in net.places:
        if p.on_error is None:
            continue
        subject = place_subject(p)
        yield from _error_place_problems(net, subject, p.on_error)
        if p.on_error == p.name:
            yield Problem(
                subject,
                "its error place is itself, so a failed token would go straight back to the sink",
                "send failures to a place of their own",
            )
        elif _sink_error_cycle(places, p.name):
            yield Problem(
                subject,
                "its failures go round a cycle of sinks back to itself",
                "end the chain of error places in a place that is not a sink",
            )


def _sink_error_cycle(places: dict[str, PlaceSpec], start: str) -> bool:
    seen = {start}
    here = places[start].on_error
    while here is not None and here in places:
        if here in seen:
            return here == start
        seen.add(here)
        here = places[here].on_error
    return False


RULES: tuple[Rule, ...] = (
    names_are_valid,
    names_are_unique,
    place_types_are_known,
    capacities_fit,
    io_handlers_fit,
    handlers_fit,
    guards_fit,
    options_fit,
    handler_interfaces_resolve,
    arcs_join_a_place_and_a_transition,
    arc_names_are_text,
    arc_weights_are_counts,
    arc_weights_fit_capacities,
    arcs_respect_io_places,
    arcs_are_declared_once,
    transitions_have_inputs,
    transition_error_places_fit,
    sink_error_places_fit,
)
"""Every rule, in the order their problems are listed."""


def problems(net: NetSpec) -> list[Problem]:
    """Everything wrong with ``net``'s own level (its subnets are checked on their own)."""
    return [problem for rule in RULES for problem in rule(net)]
