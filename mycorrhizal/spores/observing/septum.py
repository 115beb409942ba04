"""What a state machine's events become in the log.

Every event relates the machine (object type ``machine``, qualifier ``machine``); an event about a
message also relates the message (qualifier ``message``) when it is an object of its own (it has
an ``id`` or a ``@spore.object`` type).  Each state the machine enters is also written as the
machine object's ``state`` attribute, so the object's history is the machine's path.

==================  ==============================  ==============================================
record              event type                      attributes
==================  ==============================  ==============================================
StateEntered        ``<state> entered``             ``previous`` (absent at start), ``label``
StateLeft           ``<state> left``                ``target``, ``label``
MessageHandled      ``<state> handled``             ``message_type`` (``message``: a text or enum
                                                    one), ``label`` (absent: it stayed)
TimeoutFired        ``<state> timed out``           -
StateRetried        ``<state> retried``             ``retry`` (1 for the first), ``label``
HandlerFailed       ``<state> failed``              ``role``, ``error_type``, ``error``,
                                                    ``routed_to``, ``message_type``
==================  ==============================  ==============================================
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import mycorrhizal.spores.config as config  # config._state: config.current(), read without a call (per event)

from ...septum.events import (
    HandlerFailed,
    MachineEvent,
    MessageHandled,
    StateEntered,
    StateLeft,
    StateRetried,
    TimeoutFired,
)
from ..extraction import describe
from ..records import Attributes, Relations
from .base import Handler, Observation, error_attributes, label_text, unpacked_as

__all__ = ["HANDLERS"]


def _machine(obs: Observation, event: MachineEvent) -> tuple[float, Relations]:
    when = obs.when(event.time)
    return when, [(obs.runtime_object("machine", event.source, when), "machine")]


def _label(label: Any, into: Attributes) -> None:
    if label is not None:  # label_text(label), without its call for an enum member
        into.append(("label", label._name_ if isinstance(label, Enum) else label_text(label)))


def _message(message: Any, when: float, attributes: Attributes, relations: Relations) -> None:
    """``message_type``; a text or enum message as ``message`` too; a message that is an object of
    its own (an ``id`` or a ``@spore.object`` type) related as ``message``."""
    if message is None:
        return
    attributes.append(("message_type", type(message).__name__))
    if isinstance(message, str | Enum):
        attributes.append(("message", label_text(message)))
    elif getattr(message, "id", None) is not None or hasattr(type(message), "_spores_object_type"):
        ident, kind, values = describe(message)
        config._state.cache.see(ident, kind, values, when)
        relations.append((ident, "message"))


unpacked_as(StateEntered, "source", "time", "state", "previous", "label")
unpacked_as(StateLeft, "source", "time", "state", "label", "target")


def entered(obs: Observation, event: StateEntered) -> None:
    """``<state> entered``; the machine object's ``state`` becomes ``<state>``."""
    source, time, state_name, previous, label = event  # one unpacking, no property calls
    when = obs.when(time)
    machine = obs.runtime_object("machine", source, when)
    attributes: Attributes = [] if previous is None else [("previous", previous)]
    _label(label, attributes)
    state = config._state
    if obs.states.get(machine) != (state_name, state.dispatcher):  # a self-transition changes nothing
        obs.states[machine] = (state_name, state.dispatcher)
        state.dispatcher.object((machine, "machine", when, [("state", state_name)], []))
    obs.write(f"{state_name} entered", when, attributes, [(machine, "machine")])


def left(obs: Observation, event: StateLeft) -> None:
    """``<state> left`` for ``target``."""
    source, time, state_name, label, target = event  # one unpacking, no property calls
    when = obs.when(time)
    attributes: Attributes = [("target", target)]
    _label(label, attributes)
    obs.write(
        f"{state_name} left", when, attributes, [(obs.runtime_object("machine", source, when), "machine")]
    )


def handled(obs: Observation, event: MessageHandled) -> None:
    """``<state> handled``: ``on_state`` returned ``label`` for a message."""
    when, relations = _machine(obs, event)
    attributes: Attributes = []
    _message(event.message, when, attributes, relations)
    _label(event.label, attributes)
    obs.write(f"{event.state} handled", when, attributes, relations)


def timed_out(obs: Observation, event: TimeoutFired) -> None:
    """``<state> timed out``."""
    when, relations = _machine(obs, event)
    obs.write(f"{event.state} timed out", when, [], relations)


def retried(obs: Observation, event: StateRetried) -> None:
    """``<state> retried``, with the retry's number."""
    when, relations = _machine(obs, event)
    attributes: Attributes = [("retry", event.retry)]
    _label(event.label, attributes)
    obs.write(f"{event.state} retried", when, attributes, relations)


def failed(obs: Observation, event: HandlerFailed) -> None:
    """``<state> failed``: a handler raised; where the machine goes next."""
    when, relations = _machine(obs, event)
    attributes: Attributes = [("role", event.role)]
    error_attributes(event.error, attributes)
    if event.routed_to is not None:
        attributes.append(("routed_to", event.routed_to))
    _message(event.message, when, attributes, relations)
    obs.write(f"{event.state} failed", when, attributes, relations)


HANDLERS: dict[type, Handler] = {
    StateEntered: entered,
    StateLeft: left,
    MessageHandled: handled,
    TimeoutFired: timed_out,
    StateRetried: retried,
    HandlerFailed: failed,
}
"""Event class -> the function writing its records."""
