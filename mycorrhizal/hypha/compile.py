"""Compiling a net: check every rule, then flatten the spec into one level with qualified names and
index-based arcs (the plan runners and the analysis work on).

Plans are cached by spec identity in this module, never on the (frozen) spec: a spec is compiled once
and its plan shared by every runner of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import attrs

from ..common.errors import DefinitionError, Problem
from ..common.interface_views import interface_of
from .checks import problems
from .handler_checks import BB_POSITION
from .places import PlaceKind, PlaceSpec
from .spec import ArcSpec, NetSpec
from .transitions import TransitionSpec, signature_of

__all__ = ["FlatNet", "FlatPlace", "FlatTransition", "IOCall", "compile_net", "flatten", "problems_of"]

_V = TypeVar("_V")


@attrs.frozen
class IOCall:
    """How a source ``(bb, timebase)`` or a sink ``(token, bb, timebase)`` is called: with the first
    ``arity`` of those arguments, and a view of the blackboard if it is annotated with an interface."""

    arity: int
    interface: type | None = None


@attrs.frozen
class FlatPlace:
    """A place with its qualified name (``Top.worker1.inbox``)."""

    index: int
    qname: str
    spec: PlaceSpec
    error_place: int | None = None
    io: IOCall | None = None
    """IO places: how their source or sink is called."""


@attrs.frozen
class FlatTransition:
    """A transition with its qualified name and arcs as (place index, weight) pairs."""

    index: int
    qname: str
    scope: str
    spec: TransitionSpec
    inputs: tuple[tuple[int, int], ...]
    outputs: tuple[tuple[int, int], ...]
    in_keys: dict[str, tuple[str, int, int]] = attrs.field(eq=False)
    """Any name of an input place -> (qualified name, start, stop) of its tokens in ``consumed``."""
    out_keys: dict[str, int] = attrs.field(eq=False)
    """Any name of an output place -> place index."""
    output_refs: tuple[str, ...] = ()
    error_place: int | None = None
    interface: type | None = None
    """The interface the handler's ``bb`` parameter is annotated with: it gets a view of the blackboard."""


@attrs.frozen
class FlatNet:
    """A whole net on one level."""

    name: str
    places: tuple[FlatPlace, ...]
    transitions: tuple[FlatTransition, ...]
    place_aliases: dict[str, int] = attrs.field(eq=False)
    transition_aliases: dict[str, int] = attrs.field(eq=False)
    ambiguous: dict[str, tuple[str, ...]] = attrs.field(factory=dict, eq=False)
    """Bare place names used by several places -> their qualified names."""

    def place_index(self, name: Any) -> int | None:
        """Index of the place called ``name`` (ref, qualified or relative name, or unique local name)."""
        return self.place_aliases.get(name)


_plans: WeakKeyDictionary[NetSpec, FlatNet] = WeakKeyDictionary()


def compile_net(spec: NetSpec, *, also: Iterable[Problem] = (), moot: Iterable[Problem] = ()) -> FlatNet:
    """The plan of ``spec``, compiled once: raises one :class:`DefinitionError` listing every problem.

    ``also``: problems found while declaring it, reported with the rest; ``moot``: problems those
    make pointless to report (a transition whose ``inputs=`` could not be read has no input arc).
    """
    plan = _plans.get(spec)
    if plan is None:
        skip = set(moot)
        found = [*also, *(p for p in problems_of(spec) if p not in skip)]
        DefinitionError.raise_if_any(found, what=f"net {spec.name!r}")
        plan = _plans[spec] = flatten(spec)
    return plan


def problems_of(spec: NetSpec) -> list[Problem]:
    """Everything wrong with ``spec`` and with those of its subnets that were not compiled yet."""
    found = problems(spec)
    for qname, sub in spec.walk():
        if sub is not spec and sub not in _plans:
            found.extend(Problem(f"subnet {qname!r}: {p.subject}", p.message, p.fix) for p in problems(sub))
    return found


# -- flattening -----------------------------------------------------------------------------------

_Arc = tuple[int, int, str]
"""(place index, weight, the place's name as the arc declared it)."""


@attrs.define
class _Tree:
    """Everything in a net tree, in walk order, with qualified names."""

    top: str
    places: list[FlatPlace] = attrs.field(factory=list)
    pindex: dict[str, int] = attrs.field(factory=dict)
    transitions: list[tuple[str, str, TransitionSpec]] = attrs.field(factory=list)
    """(qualified name, scope of the declaring net, spec)."""
    tindex: dict[str, int] = attrs.field(factory=dict)
    arcs: list[tuple[str, ArcSpec]] = attrs.field(factory=list)
    """(scope of the declaring net, arc)."""


def flatten(spec: NetSpec) -> FlatNet:
    """Flatten ``spec`` and its subnets at any depth (``spec`` must be valid: see :func:`compile_net`)."""
    tree = _collect(spec)
    _link_sink_error_places(tree)
    inputs, outputs = _arcs_by_transition(tree)
    transitions = [_flat_transition(tree, i, inputs[i], outputs[i]) for i in range(len(tree.transitions))]
    place_aliases, ambiguous = _place_aliases(tree.places, tree.top)
    transition_aliases: dict[str, int] = {}
    for ft in transitions:
        for key in _aliases(ft.qname, tree.top):
            transition_aliases.setdefault(key, ft.index)
    return FlatNet(
        tree.top, tuple(tree.places), tuple(transitions), place_aliases, transition_aliases, ambiguous
    )


def _collect(spec: NetSpec) -> _Tree:
    tree = _Tree(spec.name)
    for scope, net in spec.walk():
        for p in net.places:
            q = f"{scope}.{p.name}"
            tree.pindex[q] = len(tree.places)
            tree.places.append(FlatPlace(len(tree.places), q, p, io=_io_call(p)))
        for t in net.transitions:
            q = f"{scope}.{t.name}"
            tree.tindex[q] = len(tree.transitions)
            tree.transitions.append((q, scope, t))
        tree.arcs.extend((scope, a) for a in net.arcs)
    return tree


def _io_call(p: PlaceSpec) -> IOCall | None:
    fn: Any
    if p.kind is PlaceKind.IO_INPUT:
        fn, given, position = p.source, 2, BB_POSITION["source"]
    elif p.kind is PlaceKind.IO_OUTPUT:
        fn, given, position = p.sink, 3, BB_POSITION["sink"]
    else:
        return None
    sig = signature_of(fn)
    arity = given if not sig.known or sig.varargs else min(given, len(sig.positional))
    return IOCall(arity, interface_of(fn, position) if arity > position else None)


def _link_sink_error_places(tree: _Tree) -> None:
    """Sinks' error places are named relative to the net that declared the sink."""
    for i, fp in enumerate(tree.places):
        if fp.spec.kind is PlaceKind.IO_OUTPUT and fp.spec.on_error is not None:
            scope = fp.qname.rsplit(".", 1)[0]
            tree.places[i] = attrs.evolve(fp, error_place=tree.pindex[f"{scope}.{fp.spec.on_error}"])


def _arcs_by_transition(tree: _Tree) -> tuple[list[list[_Arc]], list[list[_Arc]]]:
    """Each transition's input and output arcs in declaration order.

    A subnet is declared, arcs included, before a net embedding it adds arcs to its transitions; the
    walk visits the embedding net first, so each transition's arcs are put deepest declaring net
    first (a stable sort): the subnet's handler finds its own tokens and outputs where it expects them.
    """
    inputs: list[list[tuple[int, _Arc]]] = [[] for _ in tree.transitions]
    outputs: list[list[tuple[int, _Arc]]] = [[] for _ in tree.transitions]
    for scope, arc in tree.arcs:
        src, dst, depth = f"{scope}.{arc.src}", f"{scope}.{arc.dst}", -scope.count(".")
        if arc.direction == "in":
            inputs[tree.tindex[dst]].append((depth, (tree.pindex[src], arc.weight, arc.src)))
        else:
            outputs[tree.tindex[src]].append((depth, (tree.pindex[dst], arc.weight, arc.dst)))
    return [_declared(arcs) for arcs in inputs], [_declared(arcs) for arcs in outputs]


def _declared(arcs: list[tuple[int, _Arc]]) -> list[_Arc]:
    return [arc for _, arc in sorted(arcs, key=lambda entry: entry[0])]


def _flat_transition(tree: _Tree, i: int, inputs: list[_Arc], outputs: list[_Arc]) -> FlatTransition:
    q, scope, t = tree.transitions[i]
    in_named: list[tuple[list[str | None], tuple[str, int, int]]] = []
    start = 0
    for pi, weight, declared in inputs:
        pq = tree.places[pi].qname
        in_named.append((_keys(pq, scope, tree.top, declared), (pq, start, start + weight)))
        start += weight
    out_named = [(_keys(tree.places[pi].qname, scope, tree.top, declared), pi) for pi, _, declared in outputs]
    return FlatTransition(
        index=i,
        qname=q,
        scope=scope,
        spec=t,
        inputs=tuple((pi, w) for pi, w, _ in inputs),
        outputs=tuple((pi, w) for pi, w, _ in outputs),
        in_keys=_by_priority(in_named),
        out_keys=_by_priority(out_named),
        output_refs=tuple(declared for _, _, declared in outputs),
        error_place=tree.pindex[f"{scope}.{t.on_error}"] if isinstance(t.on_error, str) else None,
        interface=interface_of(t.handler, BB_POSITION["transition"]),
    )


def _place_aliases(places: list[FlatPlace], top: str) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    """Every name a runner accepts for a place, and the bare names that are ambiguous."""
    aliases: dict[str, int] = {}
    for fp in places:
        for key in _aliases(fp.qname, top):
            aliases.setdefault(key, fp.index)
    # A bare local name ("inbox") also works when exactly one place anywhere has it.
    by_local: dict[str, list[int]] = {}
    for fp in places:
        by_local.setdefault(fp.spec.name, []).append(fp.index)
    ambiguous: dict[str, tuple[str, ...]] = {}
    for local, found in by_local.items():
        if len(found) == 1:
            aliases.setdefault(local, found[0])
        elif local not in aliases:
            ambiguous[local] = tuple(places[i].qname for i in found)
    return aliases, ambiguous


def _aliases(qname: str, top: str) -> list[str]:
    rel = qname[len(top) + 1 :]
    return [qname, rel]


def _keys(qname: str, scope: str, top: str, declared: str) -> list[str | None]:
    """Names a transition in ``scope`` may use for place ``qname``, most specific first (None where a
    level does not apply)."""
    local = qname[len(scope) + 1 :] if qname.startswith(scope + ".") else None
    return [qname, local, declared, qname[len(top) + 1 :]]


def _by_priority(named: list[tuple[list[str | None], _V]]) -> dict[str, _V]:
    """Map every name to its value, a more specific name winning over a less specific one.

    A transition of a subnet may have arcs both to its own ``outbox`` and, added by the embedding
    net, to the embedding net's ``outbox``; in its handler ``"outbox"`` is its own place (the name
    relative to its scope), whatever order the arcs were declared in.
    """
    keys: dict[str, _V] = {}
    for level in range(4):
        for names, value in named:
            key = names[level]
            if key is not None:
                keys.setdefault(key, value)
    return keys
