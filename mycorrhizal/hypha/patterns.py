"""Common shapes declared in one call: forward, fork, join, merge, round robin and routing by type.

Each is an ordinary transition with its arcs, declared through the builder's ``transition`` (so it is
checked, drawn and analysed like any other) with a handler that moves tokens unchanged: the same
objects, one output token per token consumed, whatever the tokens are (lists included).
:class:`Patterns` is part of :class:`~mycorrhizal.hypha.builder.NetBuilder`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from ..common.errors import DefinitionTypeError, Problem, RoutingError
from .places import TransitionRef
from .transitions import ListValue, transition_options

__all__ = ["Patterns"]


Declared = tuple[Any, Any, int, str, str | None, str | None]
"""An arc as a builder holds it: (src, dst, weight, how it was declared, its name, the shape that
declared it or None)."""


class _Declares(Protocol):
    name: str
    list_value: ListValue
    transition: Callable[..., Any]
    _problems: list[Problem]
    _arcs: list[Declared]


def shape_origin(shape: str, tname: str) -> str:
    """How a shape's arcs say where they come from (``builder.fork() of transition 'fork_a'``)."""
    return f"builder.{shape}() of transition {tname!r}"


def _declare(
    builder: _Declares,
    shape: str,
    handler: Callable[..., Any],
    tname: str,
    inputs: list[Any],
    outputs: list[Any],
    options: Mapping[str, Any],
) -> TransitionRef:
    """Declare the shape's transition; its arcs say the shape declared them (not ``inputs=``, which
    the user never wrote), so a problem with one of them points at the shape."""
    first = len(builder._arcs)
    ref: TransitionRef = builder.transition(name=tname, inputs=inputs, outputs=outputs, **options)(handler)
    _mark_shape(builder, first, shape, tname)
    return ref


def _mark_shape(builder: _Declares, first: int, shape: str, tname: str) -> None:
    """Say that ``shape`` declared the builder's arcs from index ``first`` on."""
    origin = shape_origin(shape, tname)
    marked = [(src, dst, w, origin, name, shape) for src, dst, w, _, name, _ in builder._arcs[first:]]
    builder._arcs[first:] = marked


def _refuse_none(builder: _Declares, tname: str, places: Sequence[Any], given: str, fix: str) -> None:
    """A shape without outputs (or a merge without inputs) cannot do its job (a fork would even eat
    its tokens, a merge would declare nothing at all): refused at build.  (A join without inputs
    declares a transition without input arcs, which the net's checks refuse already.)"""
    if not places:
        builder._problems.append(Problem(f"transition {tname!r}", given, fix))


def _local(ref: Any) -> str:
    """The element's own name (``"inbox"`` for ``"worker1.inbox"``), for default transition names."""
    return str(ref).rpartition(".")[2]


def _refuse_loop(builder: _Declares, tname: str, shape: str, input_place: str, outs: Sequence[str]) -> None:
    """A shape that puts a token back where it took it from fires on it for ever (never idle)."""
    if str(input_place) in {str(out) for out in outs}:
        builder._problems.append(
            Problem(
                f"transition {tname!r}",
                f"{shape}() puts tokens it takes from {str(input_place)!r} back into {str(input_place)!r}, "
                "so it would fire on them for ever",
                "send the tokens to other places",
            )
        )


def _takes_options(builder: _Declares, tname: str, shape: str, options: Mapping[str, Any]) -> None:
    """Refuse (naming the transition) ``inputs=``/``outputs=``, which a shape sets itself, and any
    option the builder's ``transition()`` does not take, before Python's bare TypeError would."""
    accepted = transition_options(type(builder)) - {"inputs", "outputs"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        got = ", ".join(f"{option}=" for option in unknown)
        problem = Problem(
            f"transition {tname!r}",
            f"{shape}() got {got}, which it does not take (it sets its own inputs and outputs from its "
            f"place arguments; it takes name= and {', '.join(sorted(accepted))})",
            f"pass only those, or declare the transition with {type(builder).__name__}.transition()",
        )
        raise DefinitionTypeError([problem], what=f"net {builder.name!r}")


def _one(builder: _Declares) -> Callable[[Any], Any]:
    """How to write one token as an output value, whichever way the builder reads lists."""
    if builder.list_value is ListValue.SEVERAL:
        return lambda token: [token]  # a list of one: exactly that token, even if it is a list
    return lambda token: token


class Patterns:
    """``forward``, ``fork``, ``join``, ``merge``, ``round_robin`` and ``route`` of a net builder.

    Each returns the ref of the transition it declares (``merge`` a list of them); ``name`` replaces
    the default name and ``options`` go to ``transition()`` (``priority=``, ``on_error=``...).
    """

    def forward(
        self: _Declares, input_place: str, output_place: str, name: str | None = None, **options: Any
    ) -> TransitionRef:
        """A transition ``forward_<in>_to_<out>`` moving each token of ``input_place`` to ``output_place``."""
        one = _one(self)

        def forward(consumed: Sequence[Any], bb: Any, timebase: Any) -> Iterator[dict[str, Any]]:
            for token in consumed:
                yield {output_place: one(token)}

        tname = name or f"forward_{_local(input_place)}_to_{_local(output_place)}"
        _takes_options(self, tname, "forward", options)
        _refuse_loop(self, tname, "forward", input_place, [output_place])
        return _declare(self, "forward", forward, tname, [input_place], [output_place], options)

    def fork(
        self: _Declares,
        input_place: str,
        output_places: Sequence[str],
        name: str | None = None,
        **options: Any,
    ) -> TransitionRef:
        """A transition ``fork_<in>`` putting each token (the same object) into every output place."""
        one, outs = _one(self), list(output_places)

        def fork(consumed: Sequence[Any], bb: Any, timebase: Any) -> Iterator[dict[str, Any]]:
            for token in consumed:
                yield {out: one(token) for out in outs}

        tname = name or f"fork_{_local(input_place)}"
        _takes_options(self, tname, "fork", options)
        vanish = "fork() was given no output places, so every token it takes would vanish"
        _refuse_none(self, tname, outs, vanish, "give it at least one output place")
        _refuse_loop(self, tname, "fork", input_place, outs)
        return _declare(self, "fork", fork, tname, [input_place], outs, options)

    def join(
        self: _Declares,
        input_places: Sequence[str],
        output_place: str,
        name: str | None = None,
        **options: Any,
    ) -> TransitionRef:
        """A transition ``join_to_<out>`` that fires when every input place has a token and puts each
        consumed token, separately, into ``output_place``."""
        one = _one(self)

        def join(consumed: Sequence[Any], bb: Any, timebase: Any) -> Iterator[dict[str, Any]]:
            for token in consumed:
                yield {output_place: one(token)}

        tname = name or f"join_to_{_local(output_place)}"
        _takes_options(self, tname, "join", options)
        return _declare(self, "join", join, tname, list(input_places), [output_place], options)

    def merge(
        self: _Declares,
        input_places: Sequence[str],
        output_place: str,
        name: str | None = None,
        **options: Any,
    ) -> list[TransitionRef]:
        """One forwarding transition per input place (``<in>_<i>_to_<out>``, or ``<name>_<i>``)."""
        refs, ins, tname = [], list(input_places), name or f"merge_to_{_local(output_place)}"
        empty = f"merge() was given no input places, so it declares nothing and feeds {str(output_place)!r}"
        _refuse_none(self, tname, ins, empty + " nothing", "give it at least one input place")
        for i, place in enumerate(ins):
            tname = f"{name}_{i}" if name else f"{_local(place)}_{i}_to_{_local(output_place)}"
            _takes_options(self, tname, "merge", options)
            first = len(self._arcs)
            refs.append(Patterns.forward(self, place, output_place, tname, **options))
            _mark_shape(self, first, "merge", tname)
        return refs

    def round_robin(
        self: _Declares,
        input_place: str,
        output_places: Sequence[str],
        name: str | None = None,
        **options: Any,
    ) -> TransitionRef:
        """A transition ``round_robin_<in>`` sending tokens to the output places in turn."""
        one, outs = _one(self), list(output_places)

        def round_robin(
            consumed: Sequence[Any], bb: Any, timebase: Any, ctx: Any
        ) -> Iterator[dict[str, Any]]:
            for token in consumed:
                turn = ctx.memory.get("next", 0)
                ctx.memory["next"] = (turn + 1) % len(outs)
                yield {outs[turn]: one(token)}

        tname = name or f"round_robin_{_local(input_place)}"
        _takes_options(self, tname, "round_robin", options)
        nowhere = "round_robin() was given no output places, so it has nowhere to send a token"
        _refuse_none(self, tname, outs, nowhere, "give it at least one output place")
        options.setdefault("concurrency", 1)
        return _declare(self, "round_robin", round_robin, tname, [input_place], outs, options)

    def route(
        self: _Declares,
        input_place: str,
        type_map: Mapping[type, str],
        name: str | None = None,
        **options: Any,
    ) -> TransitionRef:
        """A transition ``route_<in>`` putting each token into ``type_map[type(token)]`` (exact type).

        A token of a type the map does not have fails the firing with a :class:`RoutingError`: it goes
        back to ``input_place`` (or to the ``on_error=`` place), never silently away.
        """
        one, targets = _one(self), dict(type_map)
        tname = name or f"route_{_local(input_place)}"
        _takes_options(self, tname, "route", options)
        # Only a route without an error place is told to get one (the token then went back).
        fix = "add the type to the map"
        if not isinstance(options.get("on_error"), str):
            fix += ", or give it on_error= (a place for such tokens)"

        def route(consumed: Sequence[Any], bb: Any, timebase: Any, ctx: Any) -> Iterator[dict[str, Any]]:
            for token in consumed:
                target = targets.get(type(token))
                if target is None:
                    # ctx.transition is the qualified name: a subnet used twice has two route_<in>
                    known = [t.__name__ for t in targets]
                    raise RoutingError(
                        f"transition {ctx.transition!r} has no place for a token of type "
                        f"{type(token).__name__} (it routes {known}). Fix: {fix}",
                        transition=ctx.transition,
                    )
                yield {target: one(token)}

        outs = list(dict.fromkeys(targets.values()))
        nowhere = "route() was given an empty type map, so it has nowhere to send a token"
        _refuse_none(self, tname, outs, nowhere, "map at least one type to a place")
        _refuse_loop(self, tname, "route", input_place, outs)
        for key in targets:
            if not isinstance(key, type):  # e.g. int | float: no token's type(token) is ever equal to it
                self._problems.append(
                    Problem(
                        f"transition {tname!r}",
                        f"route() sends each token by its exact type, and {key!r} is not a type",
                        "give each type its own entry, e.g. {int: place, float: place}",
                    )
                )
        return _declare(self, "route", route, tname, [input_place], outs, options)
