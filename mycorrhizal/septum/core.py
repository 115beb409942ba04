"""The public names of :mod:`mycorrhizal.septum`, also importable from ``mycorrhizal.septum.core``.

It also holds the module-level decorator aliases 0.x programs import from here (``state``,
``on_state``, ..., ``events``, ``root``; see :mod:`.dsl`) and 0.x's names ``SharedContext``,
``ValidationError`` and ``PopFromEmptyStack`` (see docs/compat.md).  They are not in the package namespace,
where ``events`` is the module of observer records.
"""

from ..common.errors import DefinitionError, PopFromEmptyStack
from . import *  # noqa: F403 - the same public surface under the name the seeds import from
from . import __all__ as _package_all
from .context import SharedContext
from .dsl import events, on_enter, on_fail, on_leave, on_state, on_timeout, root, state, transitions
from .legacy import BlockedInUntimedState, NoStateToTick
from .registry import StateRef, get_all_states, get_state, register_state
from .target_kinds import StateContinuation, StateRenewal, StateTransition, TransitionType

__all__ = [
    *_package_all,
    "BlockedInUntimedState",
    "NoStateToTick",
    "StateContinuation",
    "StateRef",
    "StateRenewal",
    "StateTransition",
    "TransitionType",
    "get_all_states",
    "get_state",
    "register_state",
    "PopFromEmptyStack",
    "SharedContext",
    "ValidationError",
    "events",
    "on_enter",
    "on_fail",
    "on_leave",
    "on_state",
    "on_timeout",
    "root",
    "state",
    "transitions",
]


ValidationError = DefinitionError
"""0.x's name for what ``StateMachine(...)`` raises on bad states: a :class:`DefinitionError`."""
