"""mycelium: state machines and behaviour trees inside Petri-net transitions, over one blackboard.

``from mycorrhizal.mycelium import pn, PNRunner``; then ``@builder.transition(bt=Tree, ...)`` or
``@builder.transition(fsm=InitialState, ...)`` inside a ``@pn.net``. See docs/mycelium.md.
"""

from ..hypha import PlaceType
from ..hypha import Runner as PNRunner
from .bridges import machine_action, tree_state
from .builder import BT_MODES, MyceliumBuilder, MyceliumPN, pn
from .machine_pool import Machines, machines
from .routing import Delivery, Rejection, TokenContext

__all__ = [
    "BT_MODES",
    "Delivery",
    "Machines",
    "MyceliumBuilder",
    "MyceliumPN",
    "PNRunner",
    "PlaceType",
    "Rejection",
    "TokenContext",
    "machine_action",
    "machines",
    "pn",
    "tree_state",
]
