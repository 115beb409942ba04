"""Trees and runners as :class:`~mycorrhizal.common.Diagram` pictures.

Node ids are the compiled tree's plain identifiers (unique per tree); edges go parent -> child in
tick order.  A runner's picture colours each node by the status it reported in the last tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..common.diagram import Diagram, Edge, Node, Shape
from .compiler import CompiledTree
from .nodes import Composite, Decorator, Leaf, Subtree
from .status import Status

if TYPE_CHECKING:
    from .runner import Runner

__all__ = ["STATUS_COLOURS", "tree_diagram"]

#: Fill colour of each status in a runner's picture; nodes not ticked in the last tick are grey.
STATUS_COLOURS: dict[Status, str] = {
    Status.SUCCESS: "#b7e4c7",
    Status.FAILURE: "#f4a6a6",
    Status.RUNNING: "#ffe08a",
    Status.ERROR: "#e06666",
    Status.CANCELLED: "#c9c9f0",
}
NOT_TICKED = "#eeeeee"


def _shape(spec: object) -> Shape:
    if isinstance(spec, Leaf):
        return "rounded" if spec.leaf_kind == "action" else "hexagon"
    if isinstance(spec, Decorator):
        return "diamond"
    if isinstance(spec, Subtree):
        return "note"
    return "box"


def _symbol(spec: object) -> str:
    if isinstance(spec, Composite):
        return {"sequence": "→ ", "selector": "? ", "parallel": "⇉ "}[spec.composite_kind]
    return ""


def tree_diagram(compiled: CompiledTree, runner: Runner | None) -> Diagram:
    """The picture of a compiled tree, coloured by ``runner``'s last tick when one is given."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i in range(compiled.size):
        spec = compiled.specs[i]
        fill = None
        tooltip = spec.kind
        if runner is not None:
            status = runner.status[i]
            if status is not None and runner.seen[i] == runner.ticks:
                fill = STATUS_COLOURS[status]
                tooltip = f"{spec.kind}: {status.name}"
            else:
                fill = NOT_TICKED
                tooltip = f"{spec.kind}: not ticked in the last tick"
        nodes.append(
            Node(
                id=compiled.ids[i],
                label=_symbol(spec) + compiled.labels[i],
                shape=_shape(spec),
                fill=fill,
                tooltip=tooltip,
            )
        )
        for kid, label in zip(compiled.children[i], compiled.edge_labels[i], strict=True):
            edges.append(Edge(compiled.ids[i], compiled.ids[kid], label))
    return Diagram(name=compiled.name, nodes=tuple(nodes), edges=tuple(edges), direction="TB")
