"""How mycorrhizal is layered: which of its packages imports which, read from the source itself.

The picture (``diagrams/architecture/layers.svg``, drawn by ``mycorrhizal diagrams``) is built from
the real import graph of the ``mycorrhizal`` package, using the same import scanner and the same
layer table (``ALLOWED``) as the structure gate ``.ci/structure.py``.  A solid arrow is an import
that exists today; a dotted one is allowed by the gate but not used.  Because ``tests/test_diagrams.py``
fails when the picture is stale, a new import between packages shows up in the picture (and in
review) the day it is written.  docs/architecture.md explains the layers.

    python examples/architecture/layers.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from mycorrhizal.common import Cluster, Diagram, Edge, Node

ROOT = Path(__file__).resolve().parent.parent.parent
GATE_NAME = "mycorrhizal_structure_gate"
ENGINES = ("septum", "hypha", "rhizomorph")
# What each package is for, and its colour in the picture.
ROLES = {
    "common": ("imports nothing of ours", "#e8e8e8"),
    "septum": ("engine: state machines", "#cfe2f3"),
    "hypha": ("engine: Petri nets", "#cfe2f3"),
    "rhizomorph": ("engine: behaviour trees", "#cfe2f3"),
    "durability": ("stores: SQLite, memory", "#fff2cc"),
    "distribution": ("Redis: workers, RedisStore", "#fff2cc"),
    "spores": ("observer: OCEL event logs", "#d9ead3"),
    "metrics": ("observer: Prometheus", "#d9ead3"),
    "live": ("observer: the live web view", "#d9ead3"),
    "mycelium": ("composes the three engines", "#e6d7f0"),
}
# Labels of the top-level modules that have no layer of their own.
DOORS = {"mycorrhizal": "mycorrhizal/__init__\n(0.x's tree names)", "cli": "cli\n(the mycorrhizal command)"}


def load_gate() -> ModuleType:
    """The structure gate as a module: its ALLOWED table and its import scanner (loaded once)."""
    path = ROOT / ".ci" / "structure.py"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run this example in a source checkout of mycorrhizal")
    if GATE_NAME in sys.modules:
        return sys.modules[GATE_NAME]
    spec = importlib.util.spec_from_file_location(GATE_NAME, path)
    assert spec is not None and spec.loader is not None
    gate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gate)
    sys.modules[GATE_NAME] = gate
    return gate


def package_of(gate: ModuleType, module: str) -> str:
    """The box a module belongs to: its subpackage, or its own name for top-level modules (cli...)."""
    layer: str | None = gate.top_package(module)
    if layer:
        return layer
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mycorrhizal"


def package_imports(gate: ModuleType) -> set[tuple[str, str]]:
    """(importer, imported) for every import between two different boxes, over the whole package."""
    files = {gate.module_name(p): p for p in sorted((ROOT / gate.PACKAGE).rglob("*.py"))}
    # Parsing every module takes a moment, and the tests draw this picture several times in one
    # process: the answer is kept on the gate module until a file changes.
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files.values())
    kept = getattr(gate, "layer_imports", None)
    if kept is not None and kept[0] == stamp:
        return set(kept[1])
    edges: set[tuple[str, str]] = set()
    for module, path in files.items():
        for target, _ in gate.imports_of(module, path, set(files)):
            pair = (package_of(gate, module), package_of(gate, target))
            if pair[0] != pair[1]:
                edges.add(pair)
    gate.layer_imports = (stamp, edges)
    return set(edges)


def layer_diagram(gate: ModuleType, imports: set[tuple[str, str]]) -> Diagram:
    """The picture: the layered packages, the front doors on top, real and allowed imports."""
    allowed = {(own, other) for own, others in gate.ALLOWED.items() for other in others}
    layered = [name for name in ROLES if name in gate.ALLOWED]
    doors = sorted({end for pair in imports for end in pair} - set(layered))

    def box(name: str) -> Node:
        role, fill = ROLES[name]
        return Node(name, f"{name}\n{role}", shape="rounded", fill=fill)

    engines = Cluster("engines", "engines: never import each other", tuple(box(n) for n in ENGINES))
    front = Cluster(
        "front",
        "front doors: top-level modules, outside the layer table",
        tuple(Node(n, DOORS.get(n, n), shape="box") for n in doors),
        style="dashed",
    )
    edges = [Edge(a, b) for a, b in sorted(imports)]
    edges += [Edge(a, b, style="dotted") for a, b in sorted(allowed - imports)]
    return Diagram(
        name="mycorrhizal layers",
        nodes=tuple(box(n) for n in layered if n not in ENGINES),
        clusters=(engines, front),
        edges=tuple(edges),
        direction="TB",
    )


GATE = load_gate()
IMPORTS = package_imports(GATE)
DIAGRAMS = {"layers": layer_diagram(GATE, IMPORTS)}


def main() -> None:
    allowed: dict[str, set[str]] = GATE.ALLOWED
    for name in ROLES:
        uses = sorted(b for a, b in IMPORTS if a == name)
        unused = sorted(allowed[name] - set(uses))
        print(f"{name:13} imports {', '.join(uses) or 'nothing of ours'}", end="")
        print(f"  (also allowed: {', '.join(unused)})" if unused else "")
    outside = sorted((a, b) for a, b in IMPORTS if a in allowed and b in allowed and b not in allowed[a])
    print("imports that break the layer table:", ", ".join(f"{a} -> {b}" for a, b in outside) or "none")


if __name__ == "__main__":
    main()
