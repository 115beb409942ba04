"""mycelium: state machines and behaviour trees inside Petri-net transitions, over one blackboard.

``from mycorrhizal.mycelium import pn, PNRunner``; then ``@builder.transition(bt=Tree, ...)`` or
``@builder.transition(fsm=InitialState, ...)`` inside a ``@pn.net``. See docs/mycelium.md.  The
names of 0.x (``tree``, ``Action``, ``TreeRunner``, ``state``, ``on_state``...) are here too; see
docs/compat.md.
"""

from ..common.errors import FSMInstantiationError, MyceliumError, TreeDefinitionError
from ..hypha import PlaceType
from ..septum import (
    Again,
    LabeledTransition,
    Pop,
    Push,
    Repeat,
    Restart,
    Retry,
    StateConfiguration,
    Unhandled,
)
from .bridges import machine_action, tree_state
from .builder import BT_MODES, MyceliumBuilder, MyceliumPN, pn, pn_net
from .instance import FSMRunner, FSMs, TreeInstance, TreeRunner
from .machine_view import Machines, machines
from .routing import Delivery, Rejection, TokenContext
from .runner import PNRunner
from .states import events, on_state, state, transitions
from .trees import Action, Condition, Parallel, Selector, Sequence, root, tree

PNContext = TokenContext
"""0.x's name of the context a tree gets in a transition (``bb.pn_ctx`` there): :class:`TokenContext`."""

__all__ = [
    "BT_MODES",
    "Action",
    "Again",
    "Condition",
    "Delivery",
    "FSMInstantiationError",
    "FSMRunner",
    "FSMs",
    "LabeledTransition",
    "Machines",
    "MyceliumBuilder",
    "MyceliumError",
    "MyceliumPN",
    "PNContext",
    "PNRunner",
    "Parallel",
    "PlaceType",
    "Pop",
    "Push",
    "Rejection",
    "Repeat",
    "Restart",
    "Retry",
    "Selector",
    "Sequence",
    "StateConfiguration",
    "TokenContext",
    "TreeDefinitionError",
    "TreeInstance",
    "TreeRunner",
    "Unhandled",
    "events",
    "machine_action",
    "machines",
    "on_state",
    "pn",
    "pn_net",
    "root",
    "state",
    "transitions",
    "tree",
    "tree_state",
]
