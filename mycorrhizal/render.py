"""Pictures of anything mycorrhizal builds: state machines, nets, trees and composed nets.

Every spec, machine and runner describes itself as a :class:`~mycorrhizal.common.Diagram`
(``to_diagram()``); this module turns that into Graphviz DOT, an image file, or Mermaid text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import graphviz

from .common.diagram import Diagram, Diagrammable, render_diagram, to_graphviz, to_mermaid_text

__all__ = ["diagram_of", "render", "to_dot", "to_graphviz_graph", "to_mermaid"]


def diagram_of(subject: Any) -> Diagram:
    """The :class:`Diagram` of a state, machine, net, tree, runner or an existing diagram."""
    if isinstance(subject, Diagram):
        return subject
    if isinstance(subject, type):  # a class has to_diagram too, but only its instances can draw
        raise TypeError(
            f"cannot draw the class {subject.__name__}: pass an instance of it (a runner, not Runner)"
        )
    if isinstance(subject, Diagrammable):
        return subject.to_diagram()
    raise TypeError(
        f"cannot draw {subject!r} (type {type(subject).__name__}): pass a septum state or machine, "
        "a hypha net or runner, a rhizomorph tree or runner, or a mycelium net"
    )


def to_graphviz_graph(subject: Any) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of ``subject``, for callers who want to style it further."""
    return to_graphviz(diagram_of(subject))


def to_dot(subject: Any) -> str:
    """Graphviz DOT source of ``subject``."""
    source: str = to_graphviz(diagram_of(subject)).source
    return source


def to_mermaid(subject: Any) -> str:
    """Mermaid flowchart text of ``subject``."""
    return to_mermaid_text(diagram_of(subject))


def render(subject: Any, path: str | Path, format: str | None = None) -> Path:
    """Write a picture of ``subject`` to ``path`` (svg, png, pdf, dot or mmd, from its suffix unless
    ``format`` is given); return the path."""
    return render_diagram(diagram_of(subject), path, format)
