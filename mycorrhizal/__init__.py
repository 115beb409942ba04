"""mycorrhizal: state machines (septum), Petri nets (hypha) and behaviour trees (rhizomorph) for
asyncio, composed by mycelium over one shared blackboard.

The behaviour-tree names are re-exported here (``from mycorrhizal import bt, Runner, Status``), as
0.x did; each engine's own names live in its package.
"""

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
