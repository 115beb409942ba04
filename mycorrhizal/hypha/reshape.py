"""Changing a net spec: a new frozen :class:`NetSpec` from an old one and one change.

Specs never change; a running net that changes (:mod:`.mutation`) is given a new spec made here,
which is then checked and compiled like any other.  Elements are named by their path relative to the
top net (``("worker1", "inbox")``); :func:`path_of` reads what callers pass (``"Net.worker1.inbox"``,
``"worker1.inbox"``, a ref, or a tuple of parts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from os.path import commonprefix
from typing import Any, Literal

import attrs

from ..common.errors import DefinitionError, Problem, did_you_mean
from .places import PlaceSpec
from .spec import ArcSpec, NetSpec
from .transitions import TransitionSpec

__all__ = ["Path", "path_of", "with_arc", "with_element", "without", "without_arc"]

Path = tuple[str, ...]
"""An element's name parts relative to the top net: ``("worker1", "inbox")``."""


def path_of(net: NetSpec, name: str | Sequence[str]) -> Path:
    """The path of ``name`` in ``net``: a dotted name (its qualified name, starting with the net's own
    name, or relative to the net), a ref, or a tuple of name parts (``runtime.places`` keys)."""
    ref_fqn = getattr(name, "fqn", None)
    if isinstance(ref_fqn, str):
        name = ref_fqn
    parts = tuple(str(name).split(".")) if isinstance(name, str) else tuple(str(p) for p in name)
    if len(parts) > 1 and parts[0] == net.name and not any(s.name == parts[0] for s in net.subnets):
        parts = parts[1:]
    return parts


def _problem(subject: str, message: str, fix: str, net: NetSpec) -> DefinitionError:
    return DefinitionError([Problem(subject, message, fix)], what=f"net {net.name!r}")


def _edit(net: NetSpec, scope: Path, change: Callable[[NetSpec], NetSpec], top: NetSpec) -> NetSpec:
    """``net`` with the subnet at ``scope`` replaced by ``change(subnet)``."""
    if not scope:
        return change(net)
    for i, sub in enumerate(net.subnets):
        if sub.name == scope[0]:
            subnets = list(net.subnets)
            subnets[i] = attrs.evolve(sub, net=_edit(sub.net, scope[1:], change, top))
            return attrs.evolve(net, subnets=tuple(subnets))
    raise _problem(
        f"subnet {scope[0]!r}",
        f"net {net.name!r} has no subnet {scope[0]!r}",
        f"name an existing subnet (subnets: {[s.name for s in net.subnets]})",
        top,
    )


def with_element(net: NetSpec, path: Path, element: PlaceSpec | TransitionSpec) -> NetSpec:
    """``net`` with a place or transition added at ``path`` (its spec is renamed to the last part)."""
    element = attrs.evolve(element, name=path[-1])
    if isinstance(element, PlaceSpec):
        add: Callable[[NetSpec], NetSpec] = lambda n: attrs.evolve(n, places=(*n.places, element))  # noqa: E731
    else:
        add = lambda n: attrs.evolve(n, transitions=(*n.transitions, element))  # noqa: E731
    return _edit(net, path[:-1], add, net)


def with_arc(
    net: NetSpec, src: Path, dst: Path, weight: int, name: str | None, origin: str = "runner.add_arc"
) -> NetSpec:
    """``net`` with an arc from ``src`` to ``dst``, declared in the deepest net holding both ends
    (``origin``: the call that declared it, for the problems found in it)."""
    scope = tuple(commonprefix([src[:-1], dst[:-1]]))  # the deepest net holding both ends
    found = net.lookup(".".join(src))
    direction: Literal["in", "out"] = "out" if isinstance(found, TransitionSpec) else "in"
    rel_src, rel_dst = ".".join(src[len(scope) :]), ".".join(dst[len(scope) :])
    arc = ArcSpec(rel_src, rel_dst, weight, direction, origin, name)
    return _edit(net, scope, lambda n: attrs.evolve(n, arcs=(*n.arcs, arc)), net)


def without_arc(net: NetSpec, src: Path, dst: Path) -> NetSpec:
    """``net`` without the arc from ``src`` to ``dst`` (a :class:`DefinitionError` if it has none)."""
    result = _without_arcs(net, lambda ends: ends == (src, dst))
    if result is not net:
        return result
    raise _problem(
        f"arc {'.'.join(src)!r} -> {'.'.join(dst)!r}",
        "the net has no such arc, so there is nothing to remove",
        "name both ends as the arc was declared (qualified names, or relative to the top net)",
        net,
    )


def without(net: NetSpec, path: Path) -> tuple[NetSpec, PlaceSpec | TransitionSpec]:
    """``net`` without the place or transition at ``path`` and every arc touching it; and its spec."""
    found = net.lookup(".".join(path))
    if not isinstance(found, PlaceSpec | TransitionSpec):
        what = "a subnet" if isinstance(found, NetSpec) else "nothing"
        fix = "remove places and transitions one by one (a subnet's elements by their qualified names)"
        if found is None:
            fix = did_you_mean(".".join(path), net.element_paths(), fix)
        raise _problem(f"{'.'.join(path)!r}", f"it names {what}, not a place or a transition", fix, net)

    def drop(n: NetSpec) -> NetSpec:
        if isinstance(found, PlaceSpec):
            return attrs.evolve(n, places=tuple(p for p in n.places if p.name != path[-1]))
        return attrs.evolve(n, transitions=tuple(t for t in n.transitions if t.name != path[-1]))

    return _without_arcs(_edit(net, path[:-1], drop, net), lambda ends: path in ends), found


def _without_arcs(net: NetSpec, dropped: Callable[[tuple[Path, Path]], bool]) -> NetSpec:
    """``net`` without the arcs whose ``(source, target)`` paths ``dropped`` answers True for (the
    same object if there is none)."""
    for scope, sub in list(_nets(net)):
        keep = tuple(a for a in sub.arcs if not dropped((_full(scope, a.src), _full(scope, a.dst))))
        if len(keep) < len(sub.arcs):
            net = _edit(net, scope, lambda n, keep=keep: attrs.evolve(n, arcs=keep), net)  # type: ignore[misc]
    return net


def _nets(net: NetSpec, scope: Path = ()) -> Iterator[tuple[Path, NetSpec]]:
    """Every net in the tree with its path (the top net's is empty)."""
    yield scope, net
    for s in net.subnets:
        yield from _nets(s.net, (*scope, s.name))


def _full(scope: Path, name: Any) -> Path:
    return (*scope, *str(name).split("."))
