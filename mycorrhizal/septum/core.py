"""Everything septum offers, in one import: ``from mycorrhizal.septum.core import ...``."""

from .compile import MachineSpec
from .config import StateConfiguration
from .context import Context
from .errors import StateMachineComplete
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
