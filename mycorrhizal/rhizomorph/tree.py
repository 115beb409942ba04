"""The tree spec: a name and a root node, validated and compiled once when it is made."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from ..common.diagram import Diagram
from ..common.errors import Problem
from .compiler import CompiledTree, compile_tree
from .nodes import Leaf, Node

__all__ = ["Tree"]


@attrs.frozen(eq=False)
class Tree:
    """A behaviour tree: ``name`` and ``root``; compiled (and so validated) on construction."""

    name: str
    root: Node
    compiled: CompiledTree = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "compiled", compile_tree(self))

    @classmethod
    def _checked(cls, name: str, root: Node, declared: Iterable[Node], problems: list[Problem]) -> Tree:
        """Build a tree from a ``@bt.tree`` body: also reports declared nodes the root never uses."""
        tree = cls.__new__(cls)
        object.__setattr__(tree, "name", name)
        object.__setattr__(tree, "root", root)
        object.__setattr__(tree, "compiled", compile_tree(tree, problems, declared))
        return tree

    def nodes(self) -> Iterator[Node]:
        """Every node spec in preorder (a spec used in two places appears twice)."""
        return iter(self.compiled.specs)

    def leaves(self) -> Iterator[Leaf]:
        """Every action and condition, in preorder."""
        return (node for node in self.compiled.specs if isinstance(node, Leaf))

    def to_diagram(self) -> Diagram:
        """The tree's picture (nodes by kind, edges parent -> child in tick order)."""
        from .render import tree_diagram

        return tree_diagram(self.compiled, None)

    def to_dict(self) -> dict[str, Any]:
        """The declarative (JSON-ready) form; leaves are referred to by name, see :func:`load_tree`."""
        from .declarative import tree_to_dict

        return tree_to_dict(self)

    def __repr__(self) -> str:
        return f"Tree({self.name!r}, {self.compiled.size} nodes)"
