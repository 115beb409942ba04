"""What the machines and trees living in a net's transitions emit reaches the net's observers.

An observer attached to a composed net's runner gets the net's own records and, wrapped in a
:class:`~mycorrhizal.common.observers.Forwarded` naming the transition and the machine's key (or
the tree's token), every record of its ``fsm=`` machines and ``bt=`` trees.  Nothing is forwarded
while nobody observes the runner: a tree run gets a forwarder only if the runner is observed when
it starts, and the machines of an ``fsm=`` transition get theirs when the runner's first observer
is attached (or when they are made while it is observed) and lose them when the last one goes,
so an unobserved machine builds no records at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..common.observers import Event, Forwarded, Observers, maker, wants_all

__all__ = ["Forward", "forwarder"]

_forwarded = maker(Forwarded)  # positional: no keyword constructor's frame per forwarded record

Forward = Callable[[Event], None]
"""An observer of an embedded machine or tree that hands each record on to the net's observers."""


def forwarder(observers: Observers, net: str, transition: str, key: Any, runtime: Any) -> Forward:
    """An observer of ``runtime`` (a machine or tree run) telling ``observers`` (the net's) each
    record, as a ``Forwarded`` from ``transition``.

    It asks for every record; those the machine or tree tells on request (through its
    ``take_requested``) go on only to the net's observers that ask for the inner record's class,
    the others to every observer, as the machine or tree told them.
    """
    emit, emit_requested = observers.emit, observers.emit_requested

    @wants_all
    def forward(event: Event) -> None:
        emit(_forwarded((net, event.time, transition, key, event, runtime)))

    def take_requested(event: Event) -> None:
        emit_requested(_forwarded((net, event.time, transition, key, event, runtime)), event.__class__)

    forward.take_requested = take_requested  # type: ignore[attr-defined]
    return forward
