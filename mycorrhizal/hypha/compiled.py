"""Flattening a (nested) net spec into one level with qualified names and index-based arcs.

Runners and the analysis work on this flat form; it is computed once per spec and shared by every
runner of that spec.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from .places import PlaceKind, PlaceSpec
from .spec import NetSpec
from .transitions import TransitionSpec

__all__ = ["FlatNet", "FlatPlace", "FlatTransition", "flatten"]

_V = TypeVar("_V")


@attrs.frozen
class FlatPlace:
    """A place with its qualified name (``Top.worker1.inbox``)."""

    index: int
    qname: str
    spec: PlaceSpec
    error_place: int | None = None


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


def _aliases(qname: str, top: str) -> list[str]:
    rel = qname[len(top) + 1 :]
    return [qname, rel]


def flatten(spec: NetSpec) -> FlatNet:
    """Flatten ``spec`` and its subnets at any depth."""
    top = spec.name
    places: list[FlatPlace] = []
    pindex: dict[str, int] = {}
    tspecs: list[tuple[str, str, TransitionSpec]] = []
    tindex: dict[str, int] = {}
    # (scope of the declaring net, arc) for every arc in the tree
    arcs: list[tuple[str, Any]] = []
    for scope, net in spec.walk():
        for p in net.places:
            q = f"{scope}.{p.name}"
            pindex[q] = len(places)
            places.append(FlatPlace(len(places), q, p))
        for t in net.transitions:
            q = f"{scope}.{t.name}"
            tindex[q] = len(tspecs)
            tspecs.append((q, scope, t))
        arcs.extend((scope, a) for a in net.arcs)
    # Sinks' error places are named relative to the net that declared the sink.
    for i, fp in enumerate(places):
        if fp.spec.kind is PlaceKind.IO_OUTPUT and fp.spec.on_error is not None:
            scope = fp.qname.rsplit(".", 1)[0]
            places[i] = attrs.evolve(fp, error_place=pindex[f"{scope}.{fp.spec.on_error}"])

    inputs: dict[int, list[tuple[int, int, str]]] = {i: [] for i in range(len(tspecs))}
    outputs: dict[int, list[tuple[int, int, str]]] = {i: [] for i in range(len(tspecs))}
    for scope, arc in arcs:
        src, dst = f"{scope}.{arc.src}", f"{scope}.{arc.dst}"
        if arc.direction == "in":
            inputs[tindex[dst]].append((pindex[src], arc.weight, arc.src))
        else:
            outputs[tindex[src]].append((pindex[dst], arc.weight, arc.dst))

    transitions: list[FlatTransition] = []
    for i, (q, scope, t) in enumerate(tspecs):
        in_named: list[tuple[list[str | None], tuple[str, int, int]]] = []
        start = 0
        for pi, weight, declared in inputs[i]:
            pq = places[pi].qname
            in_named.append((_keys(pq, scope, top, declared), (pq, start, start + weight)))
            start += weight
        in_keys = _by_priority(in_named)
        out_keys = _by_priority(
            [(_keys(places[pi].qname, scope, top, declared), pi) for pi, _, declared in outputs[i]]
        )
        refs = [declared for _, _, declared in outputs[i]]
        err = pindex[f"{scope}.{t.on_error}"] if isinstance(t.on_error, str) else None
        transitions.append(
            FlatTransition(
                index=i,
                qname=q,
                scope=scope,
                spec=t,
                inputs=tuple((pi, w) for pi, w, _ in inputs[i]),
                outputs=tuple((pi, w) for pi, w, _ in outputs[i]),
                in_keys=in_keys,
                out_keys=out_keys,
                output_refs=tuple(refs),
                error_place=err,
            )
        )

    place_aliases: dict[str, int] = {}
    for fp in places:
        for key in _aliases(fp.qname, top):
            place_aliases.setdefault(key, fp.index)
    # A bare local name ("inbox") also works when exactly one place anywhere has it.
    by_local: dict[str, list[int]] = {}
    for fp in places:
        by_local.setdefault(fp.spec.name, []).append(fp.index)
    ambiguous: dict[str, tuple[str, ...]] = {}
    for local, found in by_local.items():
        if len(found) == 1:
            place_aliases.setdefault(local, found[0])
        elif local not in place_aliases:
            ambiguous[local] = tuple(places[i].qname for i in found)
    transition_aliases: dict[str, int] = {}
    for ft in transitions:
        for key in _aliases(ft.qname, top):
            transition_aliases.setdefault(key, ft.index)
    return FlatNet(top, tuple(places), tuple(transitions), place_aliases, transition_aliases, ambiguous)


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
