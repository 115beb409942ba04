"""Pictures of nets: places as circles (with token counts), transitions as boxes, subnets as clusters."""

from __future__ import annotations

from collections.abc import Mapping

from ..common.diagram import Cluster, Diagram, Edge, Node, Shape
from .places import PlaceKind
from .spec import NetSpec, set_drawer

__all__ = ["net_diagram"]

_FULL = "#ffe9a8"
_IO = "#dbeafe"
_BUSY = "#c7f0c2"


def net_diagram(
    net: NetSpec, counts: Mapping[str, int] | None, busy: Mapping[str, int] | None = None
) -> Diagram:
    """Picture of ``net``.  From a runner, ``counts`` (qualified place name -> tokens) and ``busy``
    (qualified transition name -> firings in flight); from a spec, the initial tokens."""
    edges: list[Edge] = []
    nodes, clusters = _level(net, net.name, counts, busy or {}, edges)
    return Diagram(name=net.name, nodes=tuple(nodes), edges=tuple(edges), clusters=tuple(clusters))


def _level(
    net: NetSpec, scope: str, counts: Mapping[str, int] | None, busy: Mapping[str, int], edges: list[Edge]
) -> tuple[list[Node], list[Cluster]]:
    nodes: list[Node] = []
    clusters: list[Cluster] = []
    for p in net.places:
        q = f"{scope}.{p.name}"
        n = counts.get(q, 0) if counts is not None else len(p.initial)
        cap = "" if p.capacity is None else f"/{p.capacity}"
        label = f"{p.name}\n{n}{cap}" if (n or cap or counts is not None) else p.name
        shape: Shape = "circle" if p.kind is PlaceKind.PLAIN else "doublecircle"
        role = {
            PlaceKind.PLAIN: "place",
            PlaceKind.IO_INPUT: "io input (source)",
            PlaceKind.IO_OUTPUT: "io output (sink)",
        }[p.kind]
        fill = _FULL if n else (_IO if p.kind is not PlaceKind.PLAIN else None)
        nodes.append(Node(q, label, shape, fill, f"{role} {q} ({p.type.value})"))
        if p.on_error is not None:
            edges.append(Edge(q, f"{scope}.{p.on_error}", "on error", "dashed"))
    for t in net.transitions:
        q = f"{scope}.{t.name}"
        extras = []
        if t.guard is not None:
            extras.append("[guard]")
        if t.priority:
            extras.append(f"prio {t.priority}")
        if busy.get(q):
            extras.append(f"{busy[q]} in flight")
        label = t.name + ("\n" + " ".join(extras) if extras else "")
        nodes.append(Node(q, label, "box", _BUSY if busy.get(q) else None, f"transition {q}"))
        if isinstance(t.on_error, str):
            edges.append(Edge(q, f"{scope}.{t.on_error}", "on error", "dashed"))
        if t.attachment is not None:
            # A transition has no elements of its own, so "<transition>." is a free id prefix.
            cluster, inner = t.attachment.as_cluster(f"{q}.", label=f"{t.name}: {t.attachment.name}")
            clusters.append(cluster)
            edges.extend(inner)
            first = next(cluster.all_nodes(), None)
            if first is not None:
                edges.append(Edge(q, first.id, "runs", "dotted"))
    for a in net.arcs:
        edges.append(Edge(f"{scope}.{a.src}", f"{scope}.{a.dst}", str(a.weight) if a.weight != 1 else ""))
    for s in net.subnets:
        sub_nodes, sub_clusters = _level(s.net, f"{scope}.{s.name}", counts, busy, edges)
        clusters.append(
            Cluster(f"{scope}.{s.name}", f"{s.name}: {s.net.name}", tuple(sub_nodes), tuple(sub_clusters))
        )
    return nodes, clusters


set_drawer(net_diagram)  # NetSpec.to_diagram() and Runner.to_diagram() draw with it (see spec.set_drawer)
