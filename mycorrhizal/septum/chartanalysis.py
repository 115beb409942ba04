"""Structural analysis of a statechart (``mycorrhizal check``): levels, where it can end, where it sticks.

The graph has an edge from a state to every state a transition it may take enters first.  A
transition declared on a composite state may be taken from anywhere inside it, so it counts from
every state inside too; entering a composite state leads to its initial child (every region of a
parallel one); a history target may lead to any child of its compound state; a terminal child of a
compound state leads where its ``Completed`` transition goes.  The machine ends in a top-level
terminal state, or in a terminal child of a top-level composite state that declares no
``Completed`` transition.  Plain machines are analysed by :mod:`.analysis`.
"""

from __future__ import annotations

import networkx as nx

from . import guards
from .analysis import analysis_report
from .compound import Completed
from .hierarchy import ChartNode, ChartSpec
from .history import HistoryOp
from .plan import MachineSpec, Op
from .targets import AGAIN, POP, PUSH, REPEAT, RESTART, RETRY, UNHANDLED

__all__ = ["chart_graph", "report"]


def _firsts(node: ChartNode, op: Op, returns: set[ChartNode]) -> list[ChartNode]:
    if isinstance(op, HistoryOp):
        compound: ChartNode = op.target  # type: ignore[assignment]
        return list(compound.children)
    if op.kind in (AGAIN, UNHANDLED):
        return []
    if op.kind in (RETRY, REPEAT, RESTART):
        return [node]
    if op.kind == POP:
        return sorted(returns, key=lambda n: n.order)
    return [op.target]  # type: ignore[list-item]


def _completions(node: ChartNode) -> list[Op]:
    op = node.table.get(Completed)
    if op is None:
        return []
    return [o for _, o in op.options] if isinstance(op, guards.Choice) else [op]


def chart_graph(spec: ChartSpec) -> tuple[nx.DiGraph, set[ChartNode]]:
    """(the graph of the statechart, the states in which the machine ends)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(spec.ordered)
    returns = {then for n in spec.ordered for op in guards.ops(n) if op.kind == PUSH for then in op.stack}
    ends: set[ChartNode] = set()
    for node in spec.ordered:
        inside = [n for n in spec.ordered if n.within(node)]
        for op in guards.ops(node):
            for first in _firsts(node, op, returns):  # type: ignore[arg-type]
                graph.add_edges_from((source, first) for source in inside)
        if node.composite:
            graph.add_edges_from(
                (node, child) for child in node.children if node.parallel or child is node.initial
            )
        if node.terminal:
            parent = node.parent
            if parent is None:
                ends.add(node)
                continue
            owners = [parent] + (
                [parent.parent] if parent.parent is not None and parent.parent.parallel else []
            )
            done = [op for owner in owners for op in _completions(owner)]
            for op in done:
                graph.add_edges_from((node, first) for first in _firsts(parent, op, returns))  # type: ignore[arg-type]
            if not done and parent.parent is None:
                ends.add(node)
    return graph, ends


def _kind(node: ChartNode) -> str:
    return "parallel" if node.parallel else "compound"


def report(spec: MachineSpec) -> list[tuple[bool, str]]:
    """Findings as (fine, text) for any compiled machine (a plain one's from :mod:`.analysis`)."""
    if not isinstance(spec, ChartSpec):
        return analysis_report(spec)
    graph, ends = chart_graph(spec)
    start: ChartNode = spec.initial  # type: ignore[assignment]
    reach = nx.descendants(graph, start) | {start}
    reach |= {a for n in reach for a in n.ancestors}
    error = f" and error state {spec.error.name}" if spec.error is not None else ""
    composites = [n for n in spec.ordered if n.composite]
    findings: list[tuple[bool, str]] = [
        (True, f"{len(reach)} states reachable from {start.name}{error}"),
        (
            True,
            "composite states: " + ", ".join(f"{n.name} ({_kind(n)})" for n in composites),
        ),
    ]
    if not ends:
        findings.append((True, "no terminal state: the machine runs until it is stopped"))
    else:
        findings.append((True, f"the machine completes in: {', '.join(sorted(n.name for n in ends))}"))
        can_finish = set(ends)
        for end in ends:
            can_finish |= nx.ancestors(graph, end)
        stuck = sorted(n.name for n in reach if not n.composite and not n.terminal and n not in can_finish)
        if stuck:
            findings.append((False, f"the machine can never complete from {', '.join(stuck)}"))
        else:
            findings.append((True, "every state reachable from the start can still lead to completion"))
    waiting = sorted(
        n.name
        for n in composites
        if n.parent is not None
        and not n.parent.parallel  # a region's completion is its parallel state's to take
        and not _completions(n)
        and any(c.terminal for c in n.children)
    )
    if waiting:
        shown = ", ".join(waiting)
        findings.append(
            (False, f"complete but declare no Completed transition (then wait in a final state): {shown}")
        )
    dwellers = sorted(n.name for n in spec.ordered if n.state.config.can_dwell)
    if dwellers:
        findings.append((True, f"may wait for ever by design (can_dwell): {', '.join(dwellers)}"))
    return findings
