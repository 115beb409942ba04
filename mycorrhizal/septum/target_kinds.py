"""0.x's type hierarchy of transition targets, for ``isinstance`` checks in 0.x programs.

0.x declared ``TransitionType`` with three branches: ``StateTransition`` (a state, ``Push``,
``Pop``), ``StateContinuation`` (``Again``, ``Unhandled``, ``Retry``) and ``StateRenewal``
(``Restart``, ``Repeat``).  Here the targets are :class:`~.targets.SpecialTarget` classes and
:class:`~.states.State` objects; the four names are abstract classes they are registered with, so
``isinstance(target, StateContinuation)`` and ``issubclass(Again, TransitionType)`` answer as in 0.x.
"""

from __future__ import annotations

from abc import ABC

from .registry import StateRef
from .states import State
from .targets import Again, Pop, Push, Repeat, Restart, Retry, Unhandled

__all__ = ["StateContinuation", "StateRenewal", "StateTransition", "TransitionType"]


class TransitionType(ABC):  # noqa: B024 - a marker: the targets are registered, not derived
    """0.x's base of every transition target (states and the special targets)."""


class StateTransition(TransitionType):  # noqa: B024
    """0.x's targets that change the state: a state, ``StateRef``, ``Push`` and ``Pop``."""


class StateContinuation(TransitionType):  # noqa: B024
    """0.x's targets that stay in the state: ``Again``, ``Unhandled`` and ``Retry``."""


class StateRenewal(TransitionType):  # noqa: B024
    """0.x's targets that re-enter the state: ``Restart`` and ``Repeat``."""


for _kind, _targets in (
    (StateTransition, (State, StateRef, Push, Pop)),
    (StateContinuation, (Again, Unhandled, Retry)),
    (StateRenewal, (Restart, Repeat)),
):
    for _target in _targets:
        _kind.register(_target)
