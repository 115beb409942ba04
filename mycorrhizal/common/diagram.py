"""A small, engine-neutral picture model, and its conversion to Graphviz and Mermaid.

Each engine describes its spec (or a running instance) as a :class:`Diagram`: nodes with a
semantic shape, edges with labels, and clusters.  This module turns any diagram into a
``graphviz.Digraph`` (DOT source always; SVG/PNG when Graphviz's ``dot`` is installed) and into
Mermaid text, so every engine renders the same way and a composed net can embed the diagrams of
its state machines and trees as clusters.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import attrs
import graphviz

from .errors import RenderError

__all__ = [
    "Cluster",
    "Diagram",
    "Diagrammable",
    "Edge",
    "Node",
    "Shape",
    "dot_available",
    "dot_program",
    "graphviz_ids",
    "render_diagram",
    "to_graphviz",
    "to_mermaid_text",
]

_log = logging.getLogger("mycorrhizal.common")

Shape = Literal["box", "rounded", "circle", "doublecircle", "diamond", "hexagon", "point", "note"]
EdgeStyle = Literal["solid", "dashed", "dotted", "bold"]

_GRAPHVIZ_SHAPE: dict[str, dict[str, str]] = {
    "box": {"shape": "box"},
    "rounded": {"shape": "box", "style": "rounded"},
    "circle": {"shape": "circle"},
    "doublecircle": {"shape": "doublecircle"},
    "diamond": {"shape": "diamond"},
    "hexagon": {"shape": "hexagon"},
    "point": {"shape": "point", "width": "0.15"},
    "note": {"shape": "note"},
}

# Mermaid wraps the label in these brackets to get the shape.
_MERMAID_SHAPE: dict[str, tuple[str, str]] = {
    "box": ("[", "]"),
    "rounded": ("(", ")"),
    "circle": ("((", "))"),
    "doublecircle": ("(((", ")))"),
    "diamond": ("{", "}"),
    "hexagon": ("{{", "}}"),
    "point": ("((", "))"),
    "note": ("[/", "/]"),
}

_MERMAID_ARROW: dict[str, str] = {"solid": "-->", "dashed": "-.->", "dotted": "-.->", "bold": "==>"}


@attrs.frozen
class Node:
    """One box/circle in a picture."""

    id: str
    label: str = ""
    shape: Shape = "box"
    fill: str | None = None
    tooltip: str | None = None


@attrs.frozen
class Edge:
    """An arrow between two node ids."""

    src: str
    dst: str
    label: str = ""
    style: EdgeStyle = "solid"


@attrs.frozen
class Cluster:
    """A labelled group of nodes (and nested groups) drawn inside one frame."""

    id: str
    label: str
    nodes: tuple[Node, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    style: EdgeStyle = "solid"

    def all_nodes(self) -> Iterator[Node]:
        """Every node in this cluster and its sub-clusters."""
        yield from self.nodes
        for sub in self.clusters:
            yield from sub.all_nodes()


@attrs.frozen
class Diagram:
    """A whole picture: top-level nodes, clusters and the edges between any of their nodes."""

    name: str
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    direction: Literal["LR", "TB"] = "LR"

    def all_nodes(self) -> Iterator[Node]:
        """Every node, wherever it sits."""
        yield from self.nodes
        for cluster in self.clusters:
            yield from cluster.all_nodes()

    def as_cluster(self, prefix: str, label: str | None = None) -> tuple[Cluster, tuple[Edge, ...]]:
        """This diagram as a cluster to embed in another, with every id prefixed to stay unique.

        Returns the cluster and this diagram's edges (re-addressed), which the host diagram adds to
        its own edge list.
        """

        def node(n: Node) -> Node:
            return attrs.evolve(n, id=f"{prefix}{n.id}")

        def cluster(c: Cluster) -> Cluster:
            return attrs.evolve(
                c,
                id=f"{prefix}{c.id}",
                nodes=tuple(node(n) for n in c.nodes),
                clusters=tuple(cluster(s) for s in c.clusters),
            )

        edges = tuple(attrs.evolve(e, src=f"{prefix}{e.src}", dst=f"{prefix}{e.dst}") for e in self.edges)
        return (
            Cluster(
                id=f"{prefix}root",
                label=self.name if label is None else label,
                nodes=tuple(node(n) for n in self.nodes),
                clusters=tuple(cluster(c) for c in self.clusters),
                style="dashed",
            ),
            edges,
        )

    def check(self) -> None:
        """Raise :class:`RenderError` if an edge points at a node that is not in the picture."""
        ids = {n.id for n in self.all_nodes()}
        missing = sorted({end for e in self.edges for end in (e.src, e.dst)} - ids)
        if missing:
            raise RenderError(
                f"diagram {self.name!r} has edges to unknown nodes: {missing}. Fix: add those nodes to "
                "the diagram, or drop the edges"
            )


@runtime_checkable
class Diagrammable(Protocol):
    """Anything that can describe itself as a :class:`Diagram` (specs, machines, runners)."""

    def to_diagram(self) -> Diagram:
        """This object's picture."""


def _text(text: str) -> str:
    """``text`` for a Graphviz label or tooltip, to be drawn as written.

    Unescaped, a name like ``<lambda>`` is an HTML-like label (drawn without its brackets, and
    ``<a & b>`` does not parse), ``\\N`` or ``\\l`` are Graphviz escapes, and a name ending with a
    backslash escapes the quote closing its string, which makes DOT that ``dot`` rejects.
    """
    escaped: str = graphviz.escape(text)
    return escaped


def _node_attrs(node: Node) -> dict[str, str]:
    out = dict(_GRAPHVIZ_SHAPE[node.shape])
    if node.fill:
        out["style"] = ",".join(filter(None, (out.get("style"), "filled")))
        out["fillcolor"] = node.fill
    if node.tooltip:
        out["tooltip"] = _text(node.tooltip)
    return out


_GV_UNSAFE = re.compile(r"[^A-Za-z0-9_.]")


def graphviz_ids(diagram: Diagram) -> dict[str, str]:
    """Node id -> its Graphviz id (``:`` would be read as a port, so only word chars and dots).

    Graphviz's SVG names each node by this id (its ``<title>``), so a page can find a node there.
    """
    safe: dict[str, str] = {}
    taken: set[str] = set()
    for node in diagram.all_nodes():
        candidate = base = _GV_UNSAFE.sub("_", node.id)
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        safe[node.id] = candidate
    return safe


def _add_cluster(graph: graphviz.Digraph, cluster: Cluster, ids: dict[str, str]) -> None:
    # Graphviz only draws a frame for subgraphs whose name starts with "cluster".
    with graph.subgraph(name=f"cluster_{cluster.id}") as sub:
        style = "rounded,dashed" if cluster.style == "dashed" else "rounded"
        sub.attr(label=_text(cluster.label), style=style)
        for node in cluster.nodes:
            sub.node(ids[node.id], _text(node.label or node.id), **_node_attrs(node))
        for inner in cluster.clusters:
            _add_cluster(sub, inner, ids)


def to_graphviz(diagram: Diagram) -> graphviz.Digraph:
    """Build a ``graphviz.Digraph`` for ``diagram``; ``.source`` is its DOT text."""
    diagram.check()
    graph = graphviz.Digraph(name=_text(diagram.name))
    graph.attr(rankdir=diagram.direction, fontname="Helvetica")
    graph.attr("node", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="10")
    ids = graphviz_ids(diagram)
    for node in diagram.nodes:
        graph.node(ids[node.id], _text(node.label or node.id), **_node_attrs(node))
    for cluster in diagram.clusters:
        _add_cluster(graph, cluster, ids)
    for edge in diagram.edges:
        extra = {} if edge.style == "solid" else {"style": edge.style}
        graph.edge(ids[edge.src], ids[edge.dst], label=_text(edge.label), **extra)
    return graph


# Mermaid draws a label as HTML: '<', '>' and '&' would be markup, '"' ends the label and '#x;' is
# Mermaid's own entity code; each is written as an entity code, and a line break as a space.
_MERMAID_CODES = {'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "\n": " "}
_MERMAID_UNSAFE = re.compile("[" + "".join(_MERMAID_CODES) + "]")


def _mermaid_label(text: str) -> str:
    return '"' + _MERMAID_UNSAFE.sub(lambda m: _MERMAID_CODES[m.group()], text) + '"'


def to_mermaid_text(diagram: Diagram) -> str:
    """Mermaid ``flowchart`` text for ``diagram``."""
    diagram.check()
    # Mermaid ids must be simple words; number the nodes and keep the real names as labels.
    ids: dict[str, str] = {}
    for i, node in enumerate(diagram.all_nodes()):
        ids[node.id] = f"n{i}"
    lines = [f"flowchart {diagram.direction}"]
    fills: list[str] = []

    def emit_node(node: Node, indent: str) -> None:
        left, right = _MERMAID_SHAPE[node.shape]
        lines.append(f"{indent}{ids[node.id]}{left}{_mermaid_label(node.label or node.id)}{right}")
        if node.fill:
            fills.append(f"    style {ids[node.id]} fill:{node.fill}")

    def emit_cluster(cluster: Cluster, indent: str, number: Iterator[int]) -> None:
        lines.append(f"{indent}subgraph c{next(number)}[{_mermaid_label(cluster.label)}]")
        for node in cluster.nodes:
            emit_node(node, indent + "    ")
        for inner in cluster.clusters:
            emit_cluster(inner, indent + "    ", number)
        lines.append(f"{indent}end")

    for node in diagram.nodes:
        emit_node(node, "    ")
    counter = iter(range(1_000_000))
    for cluster in diagram.clusters:
        emit_cluster(cluster, "    ", counter)
    for edge in diagram.edges:
        arrow = _MERMAID_ARROW[edge.style]
        label = f"|{_mermaid_label(edge.label)}|" if edge.label else ""
        lines.append(f"    {ids[edge.src]} {arrow}{label} {ids[edge.dst]}")
    lines.extend(fills)
    return "\n".join(lines) + "\n"


#: The formats :func:`render_diagram` writes: images need a layout program, text formats need nothing.
IMAGE_FORMATS = ("svg", "png", "pdf")
TEXT_FORMATS = ("dot", "mmd", "mermaid")
#: A self-contained port of Graphviz's ``dot``, installed with this library where wheels exist
#: (PyPI ``graphviz-pure``); used only when Graphviz itself is not installed. It has no PDF output.
FALLBACK_PROGRAM = "graphviz-pure"
_FALLBACK_FORMATS = ("svg", "png")


def _fallback_program() -> str | None:
    """The ``graphviz-pure`` program: on the PATH, or beside this interpreter (an unactivated venv)."""
    found = shutil.which(FALLBACK_PROGRAM)
    if found is not None:
        return found
    folders = {sysconfig.get_path("scripts"), str(Path(sys.executable).parent)}
    return next((hit for f in sorted(folders) if (hit := shutil.which(FALLBACK_PROGRAM, path=f))), None)


def dot_program() -> str | None:
    """The program that lays out images: Graphviz's ``dot``, else ``graphviz-pure``, else None."""
    return shutil.which("dot") or _fallback_program()


def dot_available() -> bool:
    """True when SVG and PNG pictures can be made (Graphviz's ``dot`` or ``graphviz-pure`` is there)."""
    return dot_program() is not None


def _no_program(diagram: Diagram, format: str) -> RenderError:
    return RenderError(
        f"cannot render {diagram.name!r} as {format}: neither Graphviz's 'dot' nor "
        f"{FALLBACK_PROGRAM!r} is installed. Fix: install Graphviz (e.g. 'apt-get install graphviz'), "
        f"or 'pip install {FALLBACK_PROGRAM}' (svg, png), or write format='dot' or 'mmd'"
    )


def _no_pdf(diagram: Diagram, format: str) -> RenderError:
    return RenderError(
        f"cannot render {diagram.name!r} as {format}: Graphviz's 'dot' is not installed and "
        f"{FALLBACK_PROGRAM} writes only svg and png. Fix: install Graphviz (e.g. 'apt-get install "
        "graphviz'), or write svg or png"
    )


def _lay_out(diagram: Diagram, source: str, format: str, program: str) -> bytes:
    """``source`` laid out by ``program`` (Graphviz's ``dot`` or the fallback) as ``format``."""
    # Run here rather than by graphviz.pipe(), which copies dot's warnings to stderr: a library prints
    # nothing, and a failure must say why in the error.
    try:
        command = [program, f"-T{format}"]
        done = subprocess.run(command, input=source.encode(), capture_output=True, check=False)
    except OSError as exc:  # removed, or not executable, since it was found
        raise _no_program(diagram, format) from exc
    said = done.stderr.decode(errors="replace").strip()
    name = "Graphviz's dot" if Path(program).name == "dot" else program
    if done.returncode != 0:
        reason = said.splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise RenderError(
            f"cannot render {diagram.name!r} as {format}: {name} failed: {reason[0].rstrip('.')}. Fix: "
            "write format='dot' and run dot on it to see the whole message, and report the DOT text "
            "as a mycorrhizal bug if dot rejects it"
        )
    if said and _log.isEnabledFor(logging.DEBUG):
        _log.debug("%s said while drawing %r: %s", name, diagram.name, said)
    return done.stdout


def _format_for(diagram: Diagram, target: Path, format: str | None) -> str:
    """The format to write ``target`` in: ``format``, else its suffix (svg without one). A suffix
    that names another format is refused, so that no file holds what its name says it does not."""
    if format is not None and format not in IMAGE_FORMATS + TEXT_FORMATS:
        raise RenderError(f"cannot render {diagram.name!r} as {format!r}. Fix: use svg, png, pdf, dot or mmd")
    suffix = target.suffix.lstrip(".").lower()
    suffix = "mmd" if suffix == "mermaid" else suffix
    known = suffix in IMAGE_FORMATS + TEXT_FORMATS
    if format is None:
        if known or not suffix:
            return suffix or "svg"
        svg = str(target.with_suffix(".svg"))
        raise RenderError(
            f"cannot tell which format to write to {str(target)!r}. Fix: name it {svg!r} "
            "(or .png, .pdf, .dot, .mmd), or pass format="
        )
    if known and suffix != ("mmd" if format == "mermaid" else format):
        raise RenderError(
            f"format={format!r} does not match the file name {str(target)!r}. Fix: drop format= to write "
            f"{suffix}, or name the file {str(target.with_suffix('.' + format))!r}"
        )
    return format


def render_diagram(diagram: Diagram, path: str | Path, format: str | None = None) -> Path:
    """Write ``diagram`` to ``path`` as ``svg``, ``png``, ``pdf``, ``dot`` or ``mmd``; return the path.

    Without ``format`` the suffix of ``path`` chooses (svg when it has none); a ``format`` that
    another known suffix contradicts is a :class:`RenderError`. ``dot`` and ``mmd`` (Mermaid) need
    nothing installed. Images are laid out by Graphviz's ``dot`` when it is installed, else by
    ``graphviz-pure`` (svg and png only).
    """
    target = Path(path)
    format = _format_for(diagram, target, format)
    if format == "dot":
        data = to_graphviz(diagram).source.encode()
    elif format in ("mmd", "mermaid"):
        data = to_mermaid_text(diagram).encode()
    else:
        source = to_graphviz(diagram).source
        if (dot := shutil.which("dot")) is not None:
            data = _lay_out(diagram, source, format, dot)
        elif (fallback := _fallback_program()) is not None:
            if format not in _FALLBACK_FORMATS:
                raise _no_pdf(diagram, format)
            data = _lay_out(diagram, source, format, fallback)
        else:
            raise _no_program(diagram, format)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
