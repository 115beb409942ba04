"""The public names of rhizomorph (the same as the package's), importable as ``rhizomorph.core``."""

from . import (
    BT,
    Composite,
    Decorator,
    ErrorPolicy,
    Leaf,
    Node,
    Registry,
    Runner,
    Status,
    Subtree,
    Tree,
    TreeBuilder,
    bt,
    load_tree,
    tree_to_dict,
)

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
