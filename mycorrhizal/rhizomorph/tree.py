"""The tree spec: a name and a root node, and the node that embeds one tree in another.

A :class:`Tree` is a plain frozen value.  It is validated and compiled by :mod:`.compile`, which
keeps the plan in its own cache (keyed by the tree's identity), never on the tree.  The ways of
making one - ``@bt.tree``, :class:`~.builder.TreeBuilder`, :func:`~.declarative.load_tree` - compile
it at once, so their errors come where the tree is defined; a ``Tree(name, root)`` made by hand is
compiled (and so checked) the first time it is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from ..common.diagram import Diagram, to_mermaid_text
from ..common.errors import DefinitionError, Problem, did_you_mean
from . import views
from .nodes import Leaf, Node

__all__ = ["Subtree", "Tree"]

_NAME_A_NODE = "name a node its @bt.tree body declares"
"""The fix for a tree attribute that names none of its nodes."""


@attrs.frozen(eq=False)
class Tree:
    """A behaviour tree: ``name`` and ``root``.

    ``declared`` are the nodes a ``@bt.tree`` body declared; each is also an attribute of the tree
    by its name (``Patrol.charge``), as in 0.x.
    """

    name: str
    root: Node = attrs.field()
    declared: tuple[Node, ...] = attrs.field(default=(), repr=False)

    @root.validator
    def _a_node(self, _: attrs.Attribute[Node], root: object) -> None:
        # The one thing checked on construction: what the tree is made of (the rest at compile).
        if not isinstance(root, Node):
            problem = Problem(
                f"tree {self.name!r}", f"its root is {root!r}, not a node", "pass a node as the root"
            )
            raise DefinitionError([problem], what=f"tree {self.name!r}")

    def nodes(self) -> Iterator[Node]:
        """Every node spec in preorder (a spec used in two places appears twice)."""
        return iter(views.preorder(self))

    def leaves(self) -> Iterator[Leaf]:
        """Every action and condition, in preorder."""
        return (node for node in views.preorder(self) if isinstance(node, Leaf))

    def to_diagram(self) -> Diagram:
        """The tree's picture (nodes by kind, edges parent -> child in tick order)."""
        return views.picture(self)

    def to_mermaid(self) -> str:
        """The tree's picture as Mermaid flowchart text."""
        return to_mermaid_text(views.picture(self))

    def analysis_report(self) -> list[tuple[bool, str]]:
        """What ``mycorrhizal check`` reports: (fine?, text) pairs, e.g. declared nodes never used."""
        return views.findings(self)

    # 0.x's private names of a built tree (programs read them): its root node spec and its name.
    @property
    def _spec(self) -> Node:
        return self.root

    @property
    def _name(self) -> str:
        return self.name

    @property
    def _tree_name(self) -> str:
        return self.name

    def __getattr__(self, name: str) -> Node:
        # Only reached when normal lookup fails: a declared node by its name (0.x trees had them).
        if name.startswith("_") or name in ("declared", "name", "root"):  # Python's probes: no node
            raise AttributeError(f"tree declares no node named {name!r}. Fix: {_NAME_A_NODE}")
        for node in self.declared:
            if node.name == name:
                return node
        fix = did_you_mean(name, [node.name for node in self.declared], _NAME_A_NODE)
        raise AttributeError(f"tree {self.name!r} declares no node named {name!r}. Fix: {fix}")

    def to_dict(self) -> dict[str, Any]:
        """The declarative (JSON-ready) form; leaves are referred to by name, see :func:`load_tree`."""
        return views.to_data(self)

    def __repr__(self) -> str:
        try:
            size = len(views.preorder(self))
        except DefinitionError:
            return f"Tree({self.name!r}, invalid)"
        return f"Tree({self.name!r}, {size} nodes)"


@attrs.frozen(eq=False)
class Subtree(Node):
    """Another tree embedded at this point (its root is compiled in place)."""

    tree: Tree

    @property
    def kind(self) -> str:
        return "subtree"
