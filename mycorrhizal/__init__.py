"""mycorrhizal: state machines (septum), Petri nets (hypha) and behaviour trees (rhizomorph) for
asyncio, composed by mycelium over one shared blackboard.

The behaviour-tree names are re-exported here (``from mycorrhizal import bt, Runner, Status``), as
0.x did; each engine's own names live in its package.
"""

import logging

from .rhizomorph import (
    BT,
    Composite,
    CycleClock,
    Decorator,
    DictatedClock,
    ErrorPolicy,
    ExceptionPolicy,
    Leaf,
    ManualClock,
    MonotonicClock,
    Node,
    Runner,
    Status,
    Timebase,
    Tree,
    TreeBuilder,
    UTCClock,
    WallClock,
    bt,
)

__all__ = [
    "BT",
    "Composite",
    "CycleClock",
    "Decorator",
    "DictatedClock",
    "ErrorPolicy",
    "ExceptionPolicy",
    "Leaf",
    "ManualClock",
    "MonotonicClock",
    "Node",
    "Runner",
    "Status",
    "Timebase",
    "Tree",
    "TreeBuilder",
    "UTCClock",
    "WallClock",
    "__version__",
    "bt",
]

#: The installed version of mycorrhizal.
__version__ = "0.1.0"

# A library adds no handler of its own (the logging HOWTO's rule): with logging unconfigured, the
# WARNING lines for failures the engines handle (retried firings, routed errors) are not printed
# by Python's last-resort handler; an application that configures logging sees them.
logging.getLogger(__name__).addHandler(logging.NullHandler())
