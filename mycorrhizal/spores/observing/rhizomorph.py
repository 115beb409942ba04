"""What a tree's events become in the log.

Every event relates the tree (object type ``tree``, qualifier ``tree``); node events also relate
the node (object type ``node``, id ``<tree>/<node id>``, qualifier ``node``; each node object is
linked to its tree with qualifier ``part of``).  The events of a net's tree run about one token
(``bt_mode="token"``) also relate that token (qualifier ``token``).

==================  ======================================  ==================================
record              event type                              attributes
==================  ======================================  ==================================
NodeStatusChanged   ``<node> <STATUS>`` (``drive SUCCESS``)  ``old`` (the status before), path
NodeHalted          ``<node> halted``                        path
LeafFailed          ``<node> failed``                        ``error_type``, ``error``,
                                                             ``outcome`` (the status made of
                                                             it; absent when it propagated)
TimedOut            ``<node> timed out``                     ``seconds``
CleanupFailed       ``<node> cleanup failed``                ``error_type``, ``error``, ``during``
TickFinished        ``tick``                                 ``tick`` (its number), ``status``
TickStarted         ``tick started`` (``started=True``)      ``tick``
==================  ======================================  ==================================
"""

from __future__ import annotations

from ...rhizomorph.events import (
    CleanupFailed,
    LeafFailed,
    NodeEvent,
    NodeHalted,
    NodeStatusChanged,
    TickFinished,
    TickStarted,
    TimedOut,
)
from ..records import Attributes, Relations
from .base import Handler, Observation, error_attributes

__all__ = ["HANDLERS"]


def _node(obs: Observation, event: NodeEvent) -> tuple[float, Relations]:
    when = obs.when(event.time)
    tree = obs.runtime_object("tree", event.source, when)
    node = obs.part_object("node", f"{tree}/{event.node}", tree, "part of", when)
    return when, _about_token(obs, when, [(tree, "tree"), (node, "node")])


def _about_token(obs: Observation, when: float, relations: Relations) -> Relations:
    """``relations``, and the token of a net's tree run (:attr:`Observation.token`) if any."""
    if obs.token is not None:
        obs.relate_tokens((obs.token,), "token", when, relations)
    return relations


def status_changed(obs: Observation, event: NodeStatusChanged) -> None:
    """``<node> <STATUS>``."""
    when, relations = _node(obs, event)
    attributes: Attributes = [("path", event.path)]
    if event.old is not None:
        attributes.append(("old", event.old.name))
    obs.write(f"{event.node} {event.new.name}", when, attributes, relations)


def halted(obs: Observation, event: NodeHalted) -> None:
    """``<node> halted``."""
    when, relations = _node(obs, event)
    obs.write(f"{event.node} halted", when, [("path", event.path)], relations)


def leaf_failed(obs: Observation, event: LeafFailed) -> None:
    """``<node> failed``, with the error and the status the error policy made of it."""
    when, relations = _node(obs, event)
    attributes: Attributes = [("path", event.path)]
    error_attributes(event.error, attributes)
    if event.outcome is not None:
        attributes.append(("outcome", event.outcome.name))
    obs.write(f"{event.node} failed", when, attributes, relations)


def timed_out(obs: Observation, event: TimedOut) -> None:
    """``<node> timed out``."""
    when, relations = _node(obs, event)
    obs.write(f"{event.node} timed out", when, [("path", event.path), ("seconds", event.seconds)], relations)


def cleanup_failed(obs: Observation, event: CleanupFailed) -> None:
    """``<node> cleanup failed``."""
    when, relations = _node(obs, event)
    attributes: Attributes = [("path", event.path)]
    error_attributes(event.error, attributes)
    attributes.append(("during", event.during))
    obs.write(f"{event.node} cleanup failed", when, attributes, relations)


def tick_finished(obs: Observation, event: TickFinished) -> None:
    """``tick``: one per tick, with the root's status."""
    when = obs.when(event.time)
    tree = obs.runtime_object("tree", event.source, when)
    attributes: Attributes = [("tick", event.tick), ("status", event.status.name)]
    obs.write("tick", when, attributes, _about_token(obs, when, [(tree, "tree")]))


def tick_started(obs: Observation, event: TickStarted) -> None:
    """``tick started`` (only with ``started=True``)."""
    when = obs.when(event.time)
    tree = obs.runtime_object("tree", event.source, when)
    obs.write("tick started", when, [("tick", event.tick)], _about_token(obs, when, [(tree, "tree")]))


HANDLERS: dict[type, Handler] = {
    NodeStatusChanged: status_changed,
    NodeHalted: halted,
    LeafFailed: leaf_failed,
    TimedOut: timed_out,
    CleanupFailed: cleanup_failed,
    TickFinished: tick_finished,
    TickStarted: tick_started,
}
"""Event class -> the function writing its records."""
