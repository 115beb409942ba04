"""rhizomorph: behaviour trees on asyncio that cancel what they abandon.

Declare a tree with ``@bt.tree`` (or :class:`TreeBuilder`, or :func:`load_tree` from a dict), then
tick it with a :class:`Runner` over a blackboard.
"""

from . import render as _render  # noqa: F401 - registers the pictures of trees and runners
from .builder import TreeBuilder
from .declarative import Registry, load_tree, tree_to_dict
from .dsl import BT, bt
from .nodes import Composite, Decorator, Leaf, Node
from .runner import Runner
from .status import ErrorPolicy, Status
from .tree import Subtree, Tree

__all__ = [
    "BT",
    "Composite",
    "Decorator",
    "ErrorPolicy",
    "Leaf",
    "Node",
    "Registry",
    "Runner",
    "Status",
    "Subtree",
    "Tree",
    "TreeBuilder",
    "bt",
    "load_tree",
    "tree_to_dict",
]
