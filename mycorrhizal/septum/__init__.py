"""septum: asyncio finite-state machines with a pushdown stack, timeouts and retries.

Declare states with ``@septum.state`` (class or function form), build a :class:`StateMachine`
from the initial state, ``send_message()`` and ``await run()``.  See docs/septum.md.
"""

from ..common.errors import StateMachineComplete
from .compile import MachineSpec
from .config import StateConfiguration
from .context import Context
from .machine import DEFAULT_MAX_QUEUE_SIZE, OverflowPolicy, StateMachine
from .state import State, StateGroup, septum
from .targets import Again, LabeledTransition, Pop, Push, Repeat, Restart, Retry, SpecialTarget, Unhandled

__all__ = [
    "DEFAULT_MAX_QUEUE_SIZE",
    "Again",
    "Context",
    "LabeledTransition",
    "MachineSpec",
    "OverflowPolicy",
    "Pop",
    "Push",
    "Repeat",
    "Restart",
    "Retry",
    "SpecialTarget",
    "State",
    "StateConfiguration",
    "StateGroup",
    "StateMachine",
    "StateMachineComplete",
    "Unhandled",
    "septum",
]
