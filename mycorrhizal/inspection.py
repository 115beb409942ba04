"""Whole-library inspection for the command line: validation reports and the examples' pictures.

This module sits on top of the engines (like rendering): it may import any of them.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common.diagram import Diagram
from .common.errors import DefinitionError
from .hypha import NetSpec, analyze, net_graph
from .render import diagram_of

__all__ = ["check_report", "diagram_targets"]


def check_report(target: Any) -> tuple[bool, list[str]]:
    """Validate ``target`` (building it the way a runner would) and analyse it; (ok, report lines)."""
    try:
        diagram = diagram_of(target)
    except DefinitionError as exc:
        return False, [f"INVALID: {exc}"]
    lines = [
        f"{diagram.name}: valid "
        f"({sum(1 for _ in diagram.all_nodes())} elements, {len(diagram.edges)} connections)"
    ]
    findings: list[tuple[bool, str]]
    if isinstance(target, NetSpec):
        findings = _net_findings(target)
    else:
        # Engines offer their own structural analysis through this method (septum states do).
        analyse = getattr(target, "analysis_report", None)
        findings = analyse() if callable(analyse) else []
    lines.extend(("  ok    " if good else "  WARN  ") + text for good, text in findings)
    ok = all(good for good, _ in findings)
    return ok, lines


def _net_findings(net: NetSpec) -> list[tuple[bool, str]]:
    """Structural and (for closed, bounded nets) behavioural findings about a Petri net."""
    graph = net_graph(net)
    places = {n: d for n, d in graph.nodes(data=True) if d["kind"] == "place"}
    # Places nothing produces into, with no initial tokens, can only be fed by runner.add_token.
    entries = sorted(
        n for n, d in places.items() if graph.in_degree(n) == 0 and not d["initial"] and d["io"] == "place"
    )
    result = analyze(net, entry_places=entries)
    findings = [(True, f"{len(places)} places, {graph.number_of_nodes() - len(places)} transitions")]
    if entries:
        findings.append((True, f"fed from outside (add_token): {', '.join(entries)}"))
    dead = result.unreachable
    if dead.places or dead.transitions:
        parts = sorted(dead.places | dead.transitions)
        findings.append((False, f"can never be marked or fire: {', '.join(parts)}"))
    else:
        findings.append((True, "every place can be marked and every transition can fire"))
    if entries:
        findings.append((True, "open net: deadlocks depend on what is fed in, so they are not searched"))
    elif result.unbounded is not None:
        findings.append((True, f"reachability not explored: {result.unbounded}"))
    else:
        reach = result.reachability
        assert reach is not None  # analyze() sets it whenever the net is bounded
        findings.append((True, f"{reach.graph.number_of_nodes()} reachable markings"))
        for marking in result.deadlocks:
            shown = ", ".join(f"{place}={count}" for place, count in marking.items()) or "empty"
            findings.append((False, f"deadlock: no transition can fire in marking {{{shown}}}"))
        if result.dead_transitions:
            findings.append((False, f"never fire: {', '.join(sorted(result.dead_transitions))}"))
    return findings


def diagram_targets(examples: Path) -> Iterator[tuple[str, Diagram]]:
    """(name, diagram) for every entry of every example's module-level ``DIAGRAMS`` mapping.

    Names are ``<folder>/<script>`` for a single picture and ``<folder>/<script>-<key>`` otherwise.
    """
    for script in sorted(examples.glob("**/*.py")):
        if script.name.startswith("_"):
            continue
        sys.path.insert(0, str(script.parent))
        try:
            namespace = runpy.run_path(str(script), run_name=f"mycorrhizal_example_{script.stem}")
        finally:
            sys.path.remove(str(script.parent))
        wanted: dict[str, Any] = namespace.get("DIAGRAMS") or {}
        base = script.relative_to(examples).with_suffix("").as_posix()
        for key, obj in wanted.items():
            yield (base if len(wanted) == 1 else f"{base}-{key}"), diagram_of(obj)
