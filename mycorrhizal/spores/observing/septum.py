"""What a state machine's events become in the log.

Every event relates the machine (object type ``machine``, qualifier ``machine``); an event about a
message also relates the message (qualifier ``message``) when it is an object of its own (it has
an ``id`` or a ``@spore.object`` type).  Each state the machine enters is also written as the
machine object's ``state`` attribute, so the object's history is the machine's path (a log
begun while the machine runs gets first the state its first event finds the machine in: a
statechart's innermost state, also when the event is about a state around it).

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
StepCancelled       ``<state> cancelled``           ``role``, ``message_type`` (the message went
                                                    back to its queue)
StateCompleted      ``<state> completed``           -
==================  ==============================  ==============================================
"""

from __future__ import annotations

from enum import Enum, EnumType
from typing import Any

import mycorrhizal.spores.config as config  # config._state: config.current(), read without a call (per event)

from ...septum import StateMachine
from ...septum.events import (
    HandlerFailed,
    MachineEvent,
    MessageHandled,
    StateCompleted,
    StateEntered,
    StateLeft,
    StateRetried,
    StepCancelled,
    TimeoutFired,
)
from ..encoder import attributes_json, quote, relation_json
from ..extraction import has_identity
from ..records import Attributes, Relations
from .base import Carried, Handler, Observation, error_attributes, label_text, unpacked_as

__all__ = ["HANDLERS"]


def _machine(obs: Observation, event: MachineEvent, current: bool = True) -> tuple[float, Relations]:
    when = obs.when(event.time)
    if current:
        machine = _state_known(obs, event.source, event.state, when)
    else:
        machine = obs.runtime_object("machine", event.source, when)
    return when, [(machine, "machine")]


def _state_known(obs: Observation, source: str, state_name: str, when: float) -> str:
    """The machine object's id, written once, and the state an event about ``state_name`` finds the
    machine in written as its ``state`` when this log holds none of its states yet (a new
    ``configure()``, ``observe()`` of a running machine): the log's first event about it must not
    leave its state unknown."""
    machine = source if obs.run is None else f"{obs.run}/{source}"  # as runtime_object names it
    dispatcher = config._state.dispatcher
    known = obs.states.get(machine)
    if known is None or known[1] is not dispatcher:
        state_name = _innermost(obs.inner if obs.inner is not None else obs.runtime, state_name)
        _write_state(obs, machine, state_name, when, dispatcher)
    # (else its state went to this dispatcher, and with it the object: see _write_state)
    return machine


def _write_state(obs: Observation, machine: str, state_name: str, when: float, dispatcher: Any) -> None:
    """Write ``state_name`` as the machine object's ``state``.  The first record of the object
    when none was written yet: an OCEL SQLite log keeps an object's first values in its first row,
    so the state a machine starts in is read back as its value, not as a change from none (as
    pm4py reads a JSON log's first value)."""
    dispatcher.object((machine, "machine", when, [("state", state_name)], []))
    # Both marks at once, and only here: a state known to a dispatcher means the object is too.
    obs._written[machine] = dispatcher  # (what runtime_object would have written first)
    obs.states[machine] = (state_name, dispatcher)  # once written


def _innermost(fsm: Any, state_name: str) -> str:
    """The state ``fsm`` is in when ``state_name`` is a compound or parallel state around it: a
    statechart's record about a parent (its timeout fired, its ``on_state`` handled a message)
    does not name the state inside it that the machine is in."""
    if isinstance(fsm, StateMachine):
        active = fsm.configuration
        innermost = fsm.current_state.name
        if len(active) > 1 and state_name != innermost and any(s.name == state_name for s in active):
            return innermost
    return state_name


def _label(label: Any, into: Attributes) -> None:
    text = label_text(label)
    if text is not None:
        into.append(("label", text))


def _message(message: Any, when: float, attributes: Attributes, relations: Relations) -> None:
    """``message_type``; a text or enum message as ``message`` too; a message that is an object of
    its own (an ``id`` or a ``@spore.object`` type) related as ``message``; a net's machine's
    message, a token (:class:`~.base.Carried`), is related as the firings relate the token."""
    if message is None:
        return
    if type(message) is Carried:
        attributes.append(("message_type", type(message.token).__name__))
        Observation.relate_tokens((message.token,), "message", when, relations)
        return
    attributes.append(("message_type", type(message).__name__))
    if isinstance(message, str | Enum):
        attributes.append(("message", label_text(message)))
    elif has_identity(message):
        Observation.relate_tokens((message,), "message", when, relations)


unpacked_as(StateEntered, "source", "time", "state", "previous", "label", "message")
unpacked_as(StateLeft, "source", "time", "state", "label", "target")


Move = tuple[str, str, str | None, str | None]
"""(state, ``"entered"`` or ``"left"``, the previous or target state, the label's text)."""
MoveParts = tuple[str, str, Attributes, str]
"""(event type, its JSON, the event's attributes, their JSON)."""
_MOVES: dict[Move, MoveParts] = {}  # machines move between a few states by a few labels


def _move(key: Move) -> MoveParts:
    """The event type and attributes of a move, made once per move (up to 4,096 kept)."""
    state_name, what, other, label_name = key
    attributes: Attributes = []
    if other is not None:
        attributes.append(("previous" if what == "entered" else "target", other))
    if label_name is not None:
        attributes.append(("label", label_name))
    event_type = f"{state_name} {what}"
    made = (event_type, quote(event_type), attributes, attributes_json(attributes))
    if len(_MOVES) < 4096:
        _MOVES[key] = made
    return made


def _write_move(obs: Observation, key: Move, when: float, machine: str) -> None:
    made = _MOVES.get(key) or _move(key)
    dispatcher = config._state.dispatcher
    if dispatcher.lines:  # the line written at once, its parts made before
        dispatcher.event_line(made[1], when, made[3], relation_json(machine, "machine"))
    else:
        obs.write(made[0], when, list(made[2]), [(machine, "machine")])


def entered(obs: Observation, event: StateEntered) -> None:
    """``<state> entered``; the machine object's ``state`` becomes ``<state>``."""
    source, time, state_name, previous, label, _ = event  # one unpacking, no property calls
    when = obs.when(time)
    machine = source if obs.run is None else f"{obs.run}/{source}"  # as runtime_object names it
    dispatcher = config._state.dispatcher
    if obs.states.get(machine) != (state_name, dispatcher):  # a self-transition changes nothing
        _write_state(obs, machine, state_name, when, dispatcher)  # (the object's first record, if it is)
    # label_text(label), without its call (nor isinstance's) for an enum member
    label_name = label._name_ if type(type(label)) is EnumType else label_text(label)
    _write_move(obs, (state_name, "entered", previous, label_name), when, machine)


def left(obs: Observation, event: StateLeft) -> None:
    """``<state> left`` for ``target``."""
    source, time, state_name, label, target = event  # one unpacking, no property calls
    when = obs.when(time)
    machine = _state_known(obs, source, state_name, when)  # (a new log: its state first)
    label_name = label._name_ if type(type(label)) is EnumType else label_text(label)
    _write_move(obs, (state_name, "left", target, label_name), when, machine)


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


def cancelled(obs: Observation, event: StepCancelled) -> None:
    """``<state> cancelled``: the task running a handler was cancelled; its message went back."""
    when, relations = _machine(obs, event)
    attributes: Attributes = [("role", event.role)]
    _message(event.message, when, attributes, relations)
    obs.write(f"{event.state} cancelled", when, attributes, relations)


def completed(obs: Observation, event: StateCompleted) -> None:
    """``<state> completed``: a composite state reached a terminal state (the machine is in it)."""
    when, relations = _machine(obs, event, current=False)
    obs.write(f"{event.state} completed", when, [], relations)


HANDLERS: dict[type, Handler] = {
    StateEntered: entered,
    StateLeft: left,
    MessageHandled: handled,
    TimeoutFired: timed_out,
    StateRetried: retried,
    HandlerFailed: failed,
    StepCancelled: cancelled,
    StateCompleted: completed,
}
"""Event class -> the function writing its records."""
