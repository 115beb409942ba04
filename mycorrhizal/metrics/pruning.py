"""Letting go of the series of what a running net lost: a transition or place it no longer has.

A net changed while it runs (``runner.remove``) tells its observers a ``NetChanged``.  The series
labelled with what it removed would otherwise be exported for as long as the process runs, and a
net that adds and removes transitions of new names would grow the registry without bound.  A label
set goes when no runtime observed through the same ``Metrics`` still has what it names: another
runner of the net, or (for the machines and trees of ``fsm=``/``bt=`` transitions, labelled by the
transition's name alone) any observed net, machine or tree of that name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..hypha import NetSpec
from ..hypha import Runner as NetRunner
from ..rhizomorph import Runner as TreeRunner
from ..septum import StateMachine
from .families import Families

__all__ = ["elements", "prune"]


def elements(net: NetSpec) -> frozenset[str]:
    """The places and transitions of ``net`` (its subnets' too), named as labels name them: without
    the net's own name in front."""
    names: set[str] = set()
    for qualified, part in net.walk():
        prefix = qualified[len(net.name) + 1 :] + "." if qualified != net.name else ""
        names.update(prefix + place.name for place in part.places)
        names.update(prefix + transition.name for transition in part.transitions)
    return frozenset(names)


def prune(families: Families, runtimes: Iterable[Any], net: str, gone: frozenset[str]) -> None:
    """Remove the label sets of the elements ``gone`` from net ``net`` that none of ``runtimes`` (the
    observed ones) still has."""
    kept: set[str] = set()  # what another observed runner of the net still has
    named: set[str] = set()  # what machines and trees of the observed runtimes are labelled with
    for runtime in runtimes:
        if isinstance(runtime, NetRunner):
            own = elements(runtime.net)
            named |= own
            if runtime.net.name == net:
                kept |= own
        elif isinstance(runtime, StateMachine):
            named.add(runtime.spec.shown)
        elif isinstance(runtime, TreeRunner):
            named.add(runtime.tree.name)
    of_net = gone - kept
    of_inner = of_net - named
    net_families = {id(family): family for family in families.of_nets}
    inner_families = {id(family): family for family in families.of_inner}
    children = families.children
    for key in list(children):
        labels = key[1:]
        if key[0] in net_families and labels[0] == net and labels[1] in of_net:
            net_families[key[0]].remove(*labels)
        elif key[0] in inner_families and labels[0] in of_inner:
            inner_families[key[0]].remove(*labels)
        else:
            continue
        del children[key]  # an observer's cached child of it would count into nothing
