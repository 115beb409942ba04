"""Structural analysis of a compiled machine with networkx: reachability and ways to get stuck.

``Pop`` cannot be resolved statically, so it is modelled as returning to any state that some
``Push`` leaves on the stack.  Labels returned by ``on_timeout`` and ``on_fail`` are in the same
transition tables, so they count like any other.
"""

from __future__ import annotations

import networkx as nx

from .guards import ops
from .plan import MachineSpec
from .targets import GOTO, POP, PUSH

__all__ = ["analysis_report", "machine_graph"]


def machine_graph(spec: MachineSpec) -> nx.DiGraph:
    """Compiled states (:class:`~.compile.Node`) as graph nodes, possible transitions as edges."""
    graph = nx.DiGraph()
    returns = {
        then for node in spec.nodes.values() for op in ops(node) if op.kind == PUSH for then in op.stack
    }
    for node in spec.nodes.values():
        graph.add_node(node)
        for op in ops(node):
            if op.kind in (GOTO, PUSH) and op.target is not None:
                graph.add_edge(node, op.target)
            elif op.kind == POP:
                for back in returns:
                    graph.add_edge(node, back)
    return graph


def analysis_report(spec: MachineSpec) -> list[tuple[bool, str]]:
    """Findings as (fine, text): reachability, terminal states, states that cannot finish."""
    graph = machine_graph(spec)
    start = spec.initial
    error = f" and error state {spec.error.name}" if spec.error is not None else ""
    findings: list[tuple[bool, str]] = [
        (True, f"{graph.number_of_nodes()} states reachable from {start.name}{error}")
    ]
    terminals = [node for node in graph.nodes if node.terminal]
    if not terminals:
        findings.append((True, "no terminal state: the machine runs until it is stopped"))
    else:
        findings.append((True, f"terminal states: {', '.join(sorted(n.name for n in terminals))}"))
        can_finish = set(terminals)
        for terminal in terminals:
            can_finish |= nx.ancestors(graph, terminal)
        stuck = sorted(n.name for n in nx.descendants(graph, start) | {start} if n not in can_finish)
        if stuck:
            findings.append(
                (
                    False,
                    f"no terminal state can be reached from {', '.join(stuck)}: a machine that gets there "
                    "never completes",
                )
            )
        else:
            findings.append((True, "every state reachable from the start can still reach a terminal state"))
    # What 0.x accepted and this library accepts too (logged as WARNINGs; strict machines refuse it).
    findings.extend((False, f"{warning.subject}: {warning.message}") for warning in spec.warnings)
    dwellers = sorted(node.name for node in spec.nodes.values() if node.state.config.can_dwell)
    if dwellers:
        findings.append((True, f"may wait for ever by design (can_dwell): {', '.join(dwellers)}"))
    return findings
