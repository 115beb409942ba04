"""Pictures of statecharts: composite states as nested frames, regions separated, history as H/H*.

A compound state is a frame holding its children; the frame also holds a small box named after the
state, where the transitions it declares start and the transitions into it end, with a dotted edge
to its initial child.  A parallel state's frame holds one dashed frame per region.  A compound state
that some transition re-enters by history holds an ``H`` (shallow) or ``H*`` (deep) circle, with a
dotted edge to where history goes before the state was ever left.  Everything else is drawn as
:mod:`.render` draws a plain machine (guards on the edges, special targets, the current states
filled).  Plain machines are drawn by :mod:`.render` itself.
"""

from __future__ import annotations

from typing import Any

from ..common.diagram import Cluster, Diagram, Edge, Node
from . import guards
from .hierarchy import ChartNode, ChartSpec
from .history import DEEP_HISTORY, HistoryOp
from .plan import MachineSpec, Op, label_text
from .render import RETURN, START, _ids, _op_edges, _state_node, spec_diagram
from .states import State
from .targets import POP

__all__ = ["diagram"]


def diagram(spec: MachineSpec, current: State | tuple[State, ...] | None) -> Diagram:
    """The picture of any compiled machine: a statechart's with frames, a plain one's as before."""
    if not isinstance(spec, ChartSpec):
        return spec_diagram(spec, current)
    if isinstance(current, State):
        current = (current,)
    ids = _ids(spec)
    history = _history_kinds(spec)
    edges = [Edge(START, ids[spec.initial.state])]
    for node in spec.ordered:
        edges.extend(_edges(node, ids))
    top_nodes: list[Node] = [Node(START, "start", shape="point")]
    clusters: list[Cluster] = []
    for node in spec.top:
        drawn = _draw(spec, node, ids, current, history, edges)
        (clusters if isinstance(drawn, Cluster) else top_nodes).append(drawn)  # type: ignore[arg-type]
    if any(op.kind == POP for node in spec.nodes.values() for op in guards.ops(node)):
        top_nodes.append(Node(RETURN, "return\n(pop)", shape="circle"))
    return Diagram(name=spec.shown, nodes=tuple(top_nodes), edges=tuple(edges), clusters=tuple(clusters))


def _history_kinds(spec: ChartSpec) -> dict[ChartNode, dict[int, ChartNode | None]]:
    """For each compound state re-entered by history: the kinds used, each with its default."""
    found: dict[ChartNode, dict[int, ChartNode | None]] = {}
    for node in spec.nodes.values():
        for op in guards.ops(node):
            if isinstance(op, HistoryOp):
                target: ChartNode = op.target  # type: ignore[assignment]
                found.setdefault(target, {})[op.kind] = op.default or target.initial  # type: ignore[assignment]
    return found


def _history_id(ids: dict[State, str], node: ChartNode, kind: int) -> str:
    return f"{ids[node.state]}_{'Hdeep' if kind == DEEP_HISTORY else 'H'}"


def _edges(node: ChartNode, ids: dict[State, str]) -> list[Edge]:
    me = ids[node.state]
    found: list[Edge] = []
    for op in node.table.values():
        options = op.options if isinstance(op, guards.Choice) else ((None, op),)
        for guard, option in options:
            found.extend(_edge(me, option, ids, guard))
    return found


def _edge(me: str, op: Op, ids: dict[State, str], guard: Any) -> list[Edge]:
    if isinstance(op, HistoryOp):
        text = label_text(op.label) + guards.describe(guard, op)
        return [Edge(me, _history_id(ids, op.target, op.kind), text)]  # type: ignore[arg-type]
    return _op_edges(me, op, ids, guard)


def _draw(
    spec: ChartSpec,
    node: ChartNode,
    ids: dict[State, str],
    current: tuple[State, ...] | None,
    history: dict[ChartNode, dict[int, ChartNode | None]],
    edges: list[Edge],
) -> Node | Cluster:
    """``node`` as a picture: a node for an atomic state, a frame for a composite one."""
    own = _state_node(spec, node, ids[node.state], current)
    if not node.composite:
        return own
    own = Node(own.id, own.label, shape="box", fill=own.fill, tooltip=own.tooltip)
    nodes: list[Node] = [own]
    inner: list[Cluster] = []
    for child in node.children:
        drawn = _draw(spec, child, ids, current, history, edges)
        (inner if isinstance(drawn, Cluster) else nodes).append(drawn)  # type: ignore[arg-type]
        if node.parallel or child is node.initial:
            edges.append(
                Edge(own.id, ids[child.state], "region" if node.parallel else "initial", style="dotted")
            )
    for kind, default in sorted(history.get(node, {}).items()):
        mark = _history_id(ids, node, kind)
        nodes.append(Node(mark, "H*" if kind == DEEP_HISTORY else "H", shape="circle"))
        if default is not None:
            edges.append(Edge(mark, ids[default.state], "default", style="dotted"))
    parent = node.parent
    in_region = parent is not None and parent.parallel
    label = f"{node.name} (parallel)" if node.parallel else node.name
    return Cluster(
        id=f"{own.id}_frame",
        label=label,
        nodes=tuple(nodes),
        clusters=tuple(inner),
        style="dashed" if in_region else "solid",
    )
