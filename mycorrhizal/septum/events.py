"""What a state machine tells its observers: one small frozen record per thing that happened.

Attach an observer with :meth:`StateMachine.add_observer`; it is called with each record, in the
order things happen (:class:`StateLeft`, and :class:`MessageHandled` when a transition follows,
only to observers that ask for them: see their documentation).  Every record carries ``source``
(the machine's name), ``time`` (its timebase's reading) and ``state`` (the name of the state it
is about).  Labels and messages are
the very objects the handlers returned and were sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..common.errors import HandlerError
from ..common.observers import Event, maker

__all__ = [
    "HandlerFailed",
    "MachineEvent",
    "MessageHandled",
    "StateCompleted",
    "StateEntered",
    "StateLeft",
    "StateRetried",
    "StepCancelled",
    "TimeoutFired",
]


class MachineEvent(Event):
    """Base of septum's events: which state it is about."""

    state: str
    """The name of the state the event is about."""


class StateEntered(MachineEvent):
    """``state`` was entered (its timer is armed; its ``on_enter``, if any, runs next), from
    ``previous`` by ``label``, in a step handling ``message``.

    At start ``previous`` and ``label`` are None; after a handler error routed here, ``label`` is None.
    ``message`` is None when the step handled none (the start, an entry run, a timeout).
    """

    previous: str | None
    label: Any
    message: Any = None


class StateLeft(MachineEvent):
    """``state`` was left for ``target`` by ``label`` (its ``on_leave``, if any, has run).

    Told on request for the state a transition leaves from (its source): only observers whose
    ``wants(StateLeft)`` is true get it (the :class:`StateEntered` that follows names the state
    left, ``previous``, and the label).  The other states a statechart's transition leaves (inside
    its source or around it, other regions) no record names: their ``StateLeft`` goes to every
    observer.
    """

    on_request: ClassVar[bool] = True

    label: Any
    target: str


class StateCompleted(MachineEvent):
    """Composite ``state`` completed: a compound state entered a terminal child, or every region of a
    parallel state is in a terminal state.  Its ``Completed`` transition, if it declares one, follows."""


class MessageHandled(MachineEvent):
    """``on_state`` of ``state`` returned ``label`` for ``message`` (None: it stays).

    Told on request when ``label`` names a transition that runs no code before its target is
    entered (the state has no ``on_leave``, the transition no guard and no action; not ``Retry``,
    ``Unhandled`` or ``Again``, nor a ``Pop`` or ``Push`` its stack refuses) of a state machine's
    state: only observers whose ``wants(MessageHandled)`` is true get it, and the
    :class:`StateEntered` that follows at once names the message and the label.  In every other
    case (the machine stays, a guard decides, an ``on_leave`` or an action runs first and may fail
    or be cancelled, a statechart's state handled it) it goes to every observer.
    """

    on_request: ClassVar[bool] = True

    message: Any
    label: Any


class TimeoutFired(MachineEvent):
    """The timeout of ``state`` expired and is handled: its ``on_timeout`` runs next.

    Told when the machine takes the fired timeout to run ``on_timeout`` (``time`` is then, not
    when the timer went off, if the machine was busy).  A timeout that fires but is dropped
    because its state is left first (a message queued before it leads away, or it fires during
    the state's suspended ``on_leave``) is never told.  An ``on_timeout`` whose task is cancelled
    (:class:`StepCancelled`) is owed again and told again when it runs again.
    """


class StateRetried(MachineEvent):
    """``Retry`` re-enters ``state``: this is retry number ``retry`` (1 for the first)."""

    retry: int
    label: Any


class HandlerFailed(MachineEvent):
    """Handler ``role`` of ``state`` raised ``error`` while handling ``message``.

    ``routed_to`` is the state the machine goes to next (the hook's choice or the error state), the
    label's text when the ``on_error`` hook returned a label (its transition is taken), or None when
    the error is raised to the caller of ``run()``/``tick()`` (or what the ``on_error`` hook itself
    raised is, or, in a statechart whose run was cancelled in the same step, the cancellation is).
    """

    role: str
    message: Any
    error: HandlerError
    routed_to: str | None


class StepCancelled(MachineEvent):
    """The task running ``role`` of ``state`` was cancelled before the handler returned.

    What the step had taken is put back: ``message`` at the head of its queue (None for an entry
    run, which is owed again, or for a timeout, which is queued again).
    """

    role: str
    message: Any


# Positional makers of the records a plain transition is told with (see ``maker``): the hot path.
make_entered = maker(StateEntered)
make_left = maker(StateLeft)
make_handled = maker(MessageHandled)
