"""Trees and runners as :class:`~mycorrhizal.common.Diagram` pictures.

Node ids are the plan's plain identifiers (unique per tree); edges go parent -> child in tick
order (labelled where children play different parts: a guard's ``if`` / ``then``, a do_while's
``condition`` / ``body``, a try_catch's ``try`` / ``catch``, a match's by case).  A runner's
picture colours each node by the status it reported in the last tick.  This module registers
itself as the implementation of ``tree.to_diagram()`` and ``runner.to_diagram()``
(:func:`.views.picture`).
"""

from __future__ import annotations

from ..common.diagram import Diagram, Edge, Node, Shape
from . import views
from .compile import Plan, plan_of
from .nodes import Composite, Decorator, Leaf, Match, TryCatch
from .nodes import Node as Spec
from .runner import Runner
from .status import Status
from .tree import Subtree, Tree

__all__ = ["NOT_TICKED", "STATUS_COLOURS", "tree_diagram"]

#: Fill colour of each status in a runner's picture; nodes not ticked in the last tick are grey.
STATUS_COLOURS: dict[Status, str] = {
    Status.SUCCESS: "#b7e4c7",
    Status.FAILURE: "#f4a6a6",
    Status.RUNNING: "#ffe08a",
    Status.ERROR: "#e06666",
    Status.CANCELLED: "#c9c9f0",
}
NOT_TICKED = "#eeeeee"


def _shape(spec: Spec) -> Shape:
    if isinstance(spec, Leaf):
        return "rounded" if spec.leaf_kind == "action" else "hexagon"
    if isinstance(spec, Decorator):
        return "diamond"
    if isinstance(spec, Subtree):
        return "note"
    return "box"


def _decorator_label(node: Decorator) -> str:
    kind = node.decorator_kind
    if kind in ("retry", "repeat"):
        what = f"{kind} ×{node.arg}"
    elif kind in ("timeout", "rate_limit"):
        what = f"{kind.replace('_', ' ')} {node.arg}s"
    else:
        what = kind
    default = node.name.startswith(f"{kind}(")
    return what if default else f"{node.name}\n{what}"


_SYMBOLS = {"sequence": "→ ", "selector": "? ", "parallel": "⇉ "}
#: Edge labels of the nodes whose children play different parts.
_EDGE_LABELS = {
    "guard": ("if", "then"),
    "when": ("if", "then"),
    "do_while": ("condition", "body"),
    "try_catch": ("try", "catch"),
}


def _label(node: Spec) -> str:
    if isinstance(node, Decorator):
        return _decorator_label(node)
    if isinstance(node, TryCatch | Match):
        return f"{node.name}\n{node.kind.replace('_', ' ')}"
    if isinstance(node, Composite):
        extra = "" if node.memory or node.composite_kind == "parallel" else " (reactive)"
        return f"{_SYMBOLS[node.composite_kind]}{node.name}\n{node.composite_kind}{extra}"
    if isinstance(node, Subtree):
        return f"{node.name}\nsubtree {node.tree.name}"
    return node.name


def _fill(runner: Runner | None, i: int, kind: str) -> tuple[str | None, str]:
    """(fill colour, tooltip) of node ``i``: by its status in ``runner``'s last tick."""
    if runner is None:
        return None, kind
    status = runner.status[i]
    if status is not None and runner.seen[i] == runner.ticks:
        return STATUS_COLOURS[status], f"{kind}: {status.name}"
    return NOT_TICKED, f"{kind}: not ticked in the last tick"


def tree_diagram(plan: Plan, runner: Runner | None = None) -> Diagram:
    """The picture of a compiled tree, coloured by ``runner``'s last tick when one is given."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i, spec in enumerate(plan.specs):
        fill, tooltip = _fill(runner, i, spec.kind)
        nodes.append(Node(id=plan.ids[i], label=_label(spec), shape=_shape(spec), fill=fill, tooltip=tooltip))
        kids = plan.children[i]
        labels = _edge_labels(spec, len(kids))
        edges.extend(Edge(plan.ids[i], plan.ids[kid], label) for kid, label in zip(kids, labels, strict=True))
    return Diagram(name=plan.name, nodes=tuple(nodes), edges=tuple(edges), direction="TB")


def _edge_labels(spec: Spec, count: int) -> tuple[str, ...]:
    if isinstance(spec, Match):
        return tuple(case.label for case in spec.cases)
    return _EDGE_LABELS.get(spec.kind, ("",) * count)


@views.picture.register
def _tree_picture(tree: Tree) -> Diagram:
    return tree_diagram(plan_of(tree))


@views.picture.register
def _runner_picture(runner: Runner) -> Diagram:
    return tree_diagram(plan_of(runner.tree), runner)
