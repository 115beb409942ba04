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
    analyse = getattr(target, "analysis_report", None)
    ok = True
    if callable(analyse):
        findings: list[tuple[bool, str]] = analyse()
        for good, text in findings:
            ok = ok and good
            lines.append(("  ok    " if good else "  WARN  ") + text)
    return ok, lines


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
