"""rhizomorph: behaviour trees on asyncio that cancel what they abandon.

Declare a tree with ``@bt.tree`` (or :class:`TreeBuilder`, or :func:`load_tree` from a dict), then
tick it with a :class:`Runner` over a blackboard.  The clocks of :mod:`mycorrhizal.common.timebase`
are re-exported here, as 0.x did.
"""

from ..common.timebase import (
    CycleClock,
    DictatedClock,
    ManualClock,
    MonotonicClock,
    Timebase,
    UTCClock,
    WallClock,
)
from . import render as _render  # noqa: F401 - registers the pictures of trees and runners
from .builder import TreeBuilder
from .declarative import Registry, load_tree, tree_to_dict
from .dsl import BT, bt
from .nodes import Case, Chain, Composite, Decorator, Leaf, Match, Node, TryCatch
from .runner import Runner
from .status import ErrorPolicy, ExceptionPolicy, Status
from .tree import Subtree, Tree

__all__ = [
    "BT",
    "Case",
    "Chain",
    "Composite",
    "CycleClock",
    "Decorator",
    "DictatedClock",
    "ErrorPolicy",
    "ExceptionPolicy",
    "Leaf",
    "ManualClock",
    "Match",
    "MonotonicClock",
    "Node",
    "Registry",
    "Runner",
    "Status",
    "Subtree",
    "Timebase",
    "Tree",
    "TreeBuilder",
    "TryCatch",
    "UTCClock",
    "WallClock",
    "bt",
    "load_tree",
    "tree_to_dict",
]
