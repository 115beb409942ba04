"""Structure gate: the package's import graph and the size of its modules and functions.

Fails (exit 1) on
- an import circle between modules of the package (any import counts: top-level, inside a function,
  or under ``TYPE_CHECKING``; a circle is a design bug, not something to dodge);
- an import that breaks the layering (see ALLOWED): ``common`` imports nothing of ours, an engine
  (``septum``, ``hypha``, ``rhizomorph``) imports only ``common``, ``mycelium`` the engines and ``common``;
- an import of one of our own modules inside a function (the usual way to hide a circle);
- a module longer than MAX_MODULE_LINES or a function longer than MAX_FUNCTION_LINES.

Known exceptions live in ``.ci/structure-exceptions.txt`` (one ``kind subject  # reason`` per line);
an exception that no longer occurs is reported too, so the list only ever shrinks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mycorrhizal"
ENGINES = {"septum", "hypha", "rhizomorph"}
# Which top-level subpackages each subpackage may import (itself always allowed).
ALLOWED = {
    "common": set(),
    "septum": {"common"},
    "hypha": {"common"},
    "rhizomorph": {"common"},
    # mycelium composes the engines; its spores_integration module (a 0.x import path) re-exports
    # the tree adapter that spores builds, so spores sits below mycelium.
    "mycelium": {"common", "spores"} | ENGINES,
    # Stores (SQLite, Redis) implement common's store interface; engines only know that interface.
    "durability": {"common"},
    # Redis: RedisStore (the store interface, sharing durability's payload rules) and workers running
    # hypha nets over shared places, with mycelium's fsm= machines kept per key (one worker per key,
    # machine snapshots from septum); the engines never import it.
    "distribution": {"common", "durability", "hypha", "mycelium", "septum"},
    # Event logging wraps user handlers of every engine and observes every runtime.
    "spores": {"common"} | ENGINES,
    # Prometheus metrics are observers of every engine's runtimes; they read the queues of mycelium's
    # embedded machines (a gauge).
    "metrics": {"common", "mycelium"} | ENGINES,
    # The live view watches runtimes of every engine (and mycelium's embedded machines).
    "live": {"common", "mycelium"} | ENGINES,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: set[str]) -> list[tuple[str, bool]]:
    """(imported module, inside a function?) for every import of ours in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom):
                base = resolve(module, is_package, child)
                for alias in child.names:
                    # ``from pkg import sub`` imports the module pkg.sub; ``from pkg import name``, pkg.
                    hit = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    if hit in modules and hit != module:
                        found.append((hit, in_function))
            elif isinstance(child, ast.Import):
                found.extend((a.name, in_function) for a in child.names if a.name in modules)
            visit(child, inner)

    visit(tree, False)
    return found


def top_package(module: str) -> str | None:
    """The subpackage a module belongs to (``septum``...), or None for top-level modules like cli."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def long_functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = (child.end_lineno or child.lineno) - child.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        out.append((name, length))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def violations() -> dict[str, str]:
    files = {module_name(p): p for p in (ROOT / PACKAGE).rglob("*.py")}
    modules = set(files)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    found: dict[str, str] = {}
    for module, path in files.items():
        own = top_package(module)
        for target, in_function in imports_of(module, path, modules):
            graph.add_edge(module, target)
            theirs = top_package(target)
            if own in ALLOWED and theirs and theirs != own and theirs not in ALLOWED[own]:
                found[f"layer {module} -> {target}"] = f"{own} may not import {theirs}"
            if in_function:
                found[f"function-import {module} -> {target}"] = "an import of ours inside a function"
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            found[f"module-size {module}"] = f"{lines} lines (max {MAX_MODULE_LINES})"
        for name, length in long_functions(path):
            found[f"function-size {module}:{name}"] = f"{length} lines (max {MAX_FUNCTION_LINES})"
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            found[f"cycle {' '.join(sorted(component))}"] = "modules that import each other in a circle"
    return found


def exceptions() -> set[str]:
    path = ROOT / ".ci" / "structure-exceptions.txt"
    if not path.exists():
        return set()
    entries = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {entry for entry in entries if entry}


def main() -> int:
    found, allowed = violations(), exceptions()
    bad = sorted(set(found) - allowed)
    stale = sorted(allowed - set(found))
    for key in bad:
        print(f"structure: {key}: {found[key]}")
    for key in stale:
        print(f"structure: '{key}' is listed in .ci/structure-exceptions.txt but no longer occurs: remove it")
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main())
