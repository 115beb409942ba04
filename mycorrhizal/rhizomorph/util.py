"""``to_mermaid(tree)``: the Mermaid text of a tree, under the import path 0.x programs use."""

from __future__ import annotations

from typing import Any

__all__ = ["to_mermaid"]


def to_mermaid(tree: Any) -> str:
    """``tree.to_mermaid()``: the Mermaid flowchart of a tree (or a builder); ValueError otherwise."""
    method = getattr(tree, "to_mermaid", None)
    if not callable(method):
        raise ValueError(f"{tree!r} has no to_mermaid(). Fix: pass a tree made with @bt.tree or TreeBuilder")
    text: str = method()
    return text
