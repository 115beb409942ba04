"""septum: asyncio finite-state machines with a pushdown stack, timeouts and retries.

Declare states with ``@septum.state`` (class or function form), build a :class:`StateMachine`
from the initial state, ``send_message()`` and ``await run()``.  See docs/septum.md.

The package is layered, each layer importing only the ones below it: declaration (:mod:`.dsl`),
specs (:mod:`.states`, :mod:`.config`, :mod:`.targets`), compilation (:mod:`.compile` into a
:mod:`.plan`), the runtime (:mod:`.machine` and its :mod:`.engine`), and pictures and analysis
(:mod:`.render`, :mod:`.analysis`).  Specs draw and analyse themselves through the tools installed
below, so that they never import the layers above them.
"""

from ..common.errors import StateMachineComplete
from . import chartanalysis, chartrender, compile, names, states
from .compound import Completed, CompositeState
from .config import StateConfiguration
from .context import Context
from .dsl import septum
from .events import (
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
from .history import DeepHistory, History
from .machine import StateMachine
from .mailbox import OverflowPolicy
from .options import DEFAULT_MAX_QUEUE_SIZE, DEFAULT_MAX_STACK_DEPTH
from .plan import MachineSpec
from .scxml_export import to_scxml
from .scxml_import import from_scxml
from .states import State, StateGroup
from .targets import Again, LabeledTransition, Pop, Push, Repeat, Restart, Retry, SpecialTarget, Unhandled

states.install_tools(
    states.Tools(
        compile=compile.machine_spec,
        diagram=chartrender.diagram,
        analyse=chartanalysis.report,
        resolve=names.resolved,
    )
)

__all__ = [
    "DEFAULT_MAX_QUEUE_SIZE",
    "DEFAULT_MAX_STACK_DEPTH",
    "Again",
    "Completed",
    "CompositeState",
    "Context",
    "DeepHistory",
    "HandlerFailed",
    "History",
    "LabeledTransition",
    "MachineEvent",
    "MachineSpec",
    "MessageHandled",
    "OverflowPolicy",
    "Pop",
    "Push",
    "Repeat",
    "Restart",
    "Retry",
    "SpecialTarget",
    "State",
    "StateCompleted",
    "StateConfiguration",
    "StateEntered",
    "StateGroup",
    "StateLeft",
    "StateMachine",
    "StateMachineComplete",
    "StateRetried",
    "StepCancelled",
    "TimeoutFired",
    "Unhandled",
    "from_scxml",
    "septum",
    "to_scxml",
]
