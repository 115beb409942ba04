"""Validate a tree spec once and compile it into flat tables plus tick/halt closures.

Compilation resolves each composite's children (calling its generator function once), checks the
whole tree - collecting every problem, each naming its node - and numbers the nodes in preorder.
A node spec that appears in several places gets a separate slot per place.  The result is shared
by every runner of the tree; runners only hold per-node lists indexed by these numbers.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from numbers import Real
from typing import TYPE_CHECKING, Any

from ..common.errors import DefinitionError, Problem
from . import ticking
from .nodes import Composite, Decorator, Leaf, Node, Subtree
from .status import ErrorPolicy, Status
from .ticking import HaltFn, TickFn

if TYPE_CHECKING:
    from .tree import Tree

__all__ = ["CompiledTree", "compile_tree", "describe"]

_NOT_IDENT = re.compile(r"\W+")


class CompiledTree:
    """Flat, preorder tables of one tree; everything a runner needs that does not change."""

    __slots__ = (
        "name",
        "size",
        "specs",
        "ids",
        "labels",
        "parents",
        "children",
        "edge_labels",
        "policies",
        "root_tick",
        "halts",
        "cur_template",
        "subtrees",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0
        self.specs: list[Node] = []
        self.ids: list[str] = []
        self.labels: list[str] = []
        self.parents: list[int] = []
        self.children: list[tuple[int, ...]] = []
        self.edge_labels: list[tuple[str, ...]] = []
        self.policies: list[ErrorPolicy | None] = []
        self.halts: list[HaltFn] = []
        self.cur_template: list[int] = []
        self.subtrees: list[str | None] = []  # name of the embedded tree a subtree node stands for
        self.root_tick: TickFn = _never


def _never(rt: Any) -> Status:  # pragma: no cover - replaced before any runner exists
    raise AssertionError("tree not compiled")


def describe(node: Node) -> str:
    """How a node is named in error messages: its kind and name."""
    return f"{node.kind} {node.name!r}"


def _label(node: Node) -> str:
    if isinstance(node, Decorator):
        kind = node.decorator_kind
        if kind in ("retry", "repeat"):
            what = f"{kind} ×{node.arg}"
        elif kind in ("timeout", "rate_limit"):
            what = f"{kind.replace('_', ' ')} {node.arg}s"
        else:
            what = kind
        default = node.name.startswith(f"{kind}(")
        return what if default else f"{node.name}\n{what}"
    if isinstance(node, Composite):
        extra = "" if node.memory or node.composite_kind == "parallel" else " (reactive)"
        return f"{node.name}\n{node.composite_kind}{extra}"
    if isinstance(node, Subtree):
        return f"{node.name}\nsubtree {node.tree.name}"
    return node.name


def compile_tree(tree: Tree, problems: Iterable[Problem] = (), declared: Iterable[Node] = ()) -> CompiledTree:
    """Compile ``tree``; raise one DefinitionError listing every problem (plus ``problems``).

    ``declared`` are the nodes a ``@bt.tree`` body declared: each must be reachable from the root.
    """
    found: list[Problem] = list(problems)
    resolved: dict[int, tuple[Node, ...]] = {}
    reachable: set[int] = set()
    where = f"tree {tree.name!r}"

    def kids_of(node: Node) -> tuple[Node, ...]:
        key = id(node)
        if key in resolved:
            return resolved[key]
        kids: tuple[Node, ...] = ()
        if isinstance(node, Composite):
            kids = _resolve_children(node, found)
        elif isinstance(node, Decorator):
            kids = _decorator_children(node, found)
        elif isinstance(node, Subtree):
            kids = (node.tree.root,)
        resolved[key] = kids
        return kids

    # Walk once to resolve children, find cycles and check every node's own settings.
    def walk(node: Node, path: tuple[Any, ...]) -> None:
        if id(node) in {id(p) for p in path}:
            cycle = " -> ".join(p.name for p in (*path[path.index(node) :], node))
            found.append(
                Problem(describe(node), f"contains itself ({cycle})", "a tree cannot contain a cycle")
            )
            return
        if isinstance(node, Subtree) and any(isinstance(p, Subtree) and p.tree is node.tree for p in path):
            found.append(
                Problem(describe(node), f"embeds tree {node.tree.name!r} inside itself", "remove the loop")
            )
            return
        first_visit = id(node) not in reachable
        reachable.add(id(node))
        if first_visit:
            found.extend(_check_settings(node, len(kids_of(node))))
        for kid in kids_of(node):
            walk(kid, (*path, node))

    if not isinstance(tree.root, Node):
        found.append(Problem(where, f"its root is {tree.root!r}, not a node", "pass a node as the root"))
    else:
        walk(tree.root, ())
    found.extend(
        Problem(
            describe(node),
            f"is declared in {where} but not reachable from its root",
            "yield it from a composite (or wrap it in a decorator that is), or delete it",
        )
        for node in declared
        if id(node) not in reachable
    )
    DefinitionError.raise_if_any(found, what=where)

    compiled = CompiledTree(tree.name)
    _flatten(compiled, tree, kids_of)
    _build_closures(compiled)
    return compiled


def _resolve_children(node: Composite, found: list[Problem]) -> tuple[Node, ...]:
    from .tree import Tree  # a Tree yielded directly means "embed it"

    items: Iterable[Any] = node.children
    if node.source is not None:
        try:
            params = tuple(inspect.signature(node.source).parameters)
        except (TypeError, ValueError):
            params = ()
        if params:
            found.append(
                Problem(
                    describe(node),
                    f"its function takes parameters ({', '.join(params)})",
                    "a composite function takes no parameters; it yields its children",
                )
            )
            return ()
        try:
            produced = node.source()
            if produced is None or not isinstance(produced, Iterable):
                found.append(
                    Problem(
                        describe(node),
                        f"its function returned {produced!r} instead of yielding children",
                        "write it as a generator: `yield child` for each child, in order",
                    )
                )
                return ()
            items = list(produced)
        except Exception as exc:  # the generator body is user code: report it, naming the node
            found.append(
                Problem(describe(node), f"raised {exc!r} while listing its children", "fix the generator")
            )
            return ()
    kids: list[Node] = []
    for position, item in enumerate(items):
        if isinstance(item, Tree):
            item = Subtree(name=item.name, tree=item)
        if isinstance(item, Node):
            kids.append(item)
            continue
        hint = (
            "decorate it with @bt.action or @bt.condition"
            if callable(item)
            else "yield nodes declared with @bt.action, @bt.condition, a composite or a decorator"
        )
        found.append(
            Problem(describe(node), f"child {position} is {item!r}, not a behaviour-tree node", hint)
        )
    if not kids and not any(p.subject == describe(node) for p in found):
        found.append(
            Problem(describe(node), "has no children", f"give the {node.composite_kind} at least one child")
        )
    return tuple(kids)


def _decorator_children(node: Decorator, found: list[Problem]) -> tuple[Node, ...]:
    kids: list[Node] = []
    if node.decorator_kind == "guard":
        if isinstance(node.condition, Node):
            kids.append(node.condition)
        else:
            found.append(
                Problem(
                    describe(node), f"its condition is {node.condition!r}, not a node", "pass a condition"
                )
            )
    if isinstance(node.child, Node):
        kids.append(node.child)
    else:
        found.append(
            Problem(
                describe(node),
                f"decorates {node.child!r}, which is not a node",
                "apply it to a node: put it above @bt.action/@bt.condition/a composite",
            )
        )
    return tuple(kids)


def _check_settings(node: Node, kid_count: int) -> list[Problem]:
    subject = describe(node)
    out: list[Problem] = []
    if isinstance(node, Composite) and node.composite_kind == "parallel" and kid_count:
        for label, value in (
            ("success_threshold", node.success_threshold),
            ("failure_threshold", node.failure_threshold),
        ):
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= kid_count:
                out.append(
                    Problem(
                        subject,
                        f"{label}={value!r} but it has {kid_count} children",
                        f"use a whole number from 1 to {kid_count}",
                    )
                )
    if isinstance(node, Decorator):
        kind, arg = node.decorator_kind, node.arg
        if kind in ("retry", "repeat") and (not isinstance(arg, int) or isinstance(arg, bool) or arg < 1):
            out.append(Problem(subject, f"{kind} count is {arg!r}", "use a whole number >= 1"))
        if kind in ("timeout", "rate_limit") and (
            not isinstance(arg, Real) or isinstance(arg, bool) or not arg > 0
        ):
            out.append(Problem(subject, f"{kind} duration is {arg!r}", "use a number of seconds > 0"))
    return out


def _flatten(compiled: CompiledTree, tree: Tree, kids_of: Callable[[Node], tuple[Node, ...]]) -> None:
    used: dict[str, int] = {}

    def ident(label: str) -> str:
        base = _NOT_IDENT.sub("_", label).strip("_") or "node"
        if base[0].isdigit():
            base = f"n_{base}"
        count = used.get(base, 0) + 1
        used[base] = count
        return base if count == 1 else f"{base}_{count}"

    def add(node: Node, parent: int, edge: str) -> int:
        index = compiled.size
        compiled.size += 1
        compiled.specs.append(node)
        compiled.ids.append(ident(node.name))
        compiled.labels.append(_label(node))
        compiled.parents.append(parent)
        compiled.children.append(())
        compiled.edge_labels.append(())
        compiled.policies.append(node.on_error if isinstance(node, Leaf) else None)
        compiled.subtrees.append(node.tree.name if isinstance(node, Subtree) else None)
        reactive = isinstance(node, Composite) and not node.memory and node.composite_kind != "parallel"
        compiled.cur_template.append(-1 if reactive else 0)
        kids = kids_of(node)
        labels: tuple[str, ...] = ("",) * len(kids)
        if isinstance(node, Decorator) and node.decorator_kind == "guard":
            labels = ("if", "then")
        compiled.children[index] = tuple(add(kid, index, "") for kid in kids)
        compiled.edge_labels[index] = labels
        return index

    add(tree.root, -1, "")


_MAPS: dict[str, dict[Status, Status]] = {
    "inverter": {Status.SUCCESS: Status.FAILURE, Status.FAILURE: Status.SUCCESS},
    "succeeder": {Status.FAILURE: Status.SUCCESS},
    "failer": {Status.SUCCESS: Status.FAILURE},
}


def _build_closures(compiled: CompiledTree) -> None:
    size = compiled.size
    ticks: list[TickFn] = [ticking.passthrough(0, _never)] * size
    halts: list[HaltFn] = [ticking.leaf_halt(0, None)] * size
    # Children have higher preorder numbers than their parents, so build from the end.
    for i in range(size - 1, -1, -1):
        node = compiled.specs[i]
        kids = compiled.children[i]
        kid_ticks = [ticks[k] for k in kids]
        kid_halts = [halts[k] for k in kids]
        if isinstance(node, Leaf):
            call = ticking.make_call(node.fn, node.params)
            condition = node.leaf_kind == "condition"
            build = ticking.async_leaf if node.is_async else ticking.sync_leaf
            ticks[i] = build(i, compiled.ids[i], node.name, condition, call)
            hook = ticking.make_call(node.on_halt, node.halt_params) if node.on_halt else None
            halts[i] = ticking.leaf_halt(i, hook)
            continue
        halts[i] = ticking.composite_halt(
            i,
            kid_halts,
            compiled.cur_template[i],
            clear_data=not (isinstance(node, Decorator) and node.decorator_kind == "rate_limit"),
        )
        if isinstance(node, Composite):
            if node.composite_kind == "sequence":
                ticks[i] = ticking.sequence(i, kid_ticks, kid_halts, node.memory)
            elif node.composite_kind == "selector":
                ticks[i] = ticking.selector(i, kid_ticks, kid_halts, node.memory)
            else:
                count = len(kids)
                need_success = node.success_threshold or count
                # By default a parallel fails exactly when success has become impossible.
                need_failure = node.failure_threshold or count - need_success + 1
                ticks[i] = ticking.parallel(i, kid_ticks, kid_halts, need_success, need_failure)
        elif isinstance(node, Decorator):
            kind = node.decorator_kind
            if kind in _MAPS:
                ticks[i] = ticking.status_map(i, kid_ticks[0], _MAPS[kind])
            elif kind == "retry":
                ticks[i] = ticking.counted(i, kid_ticks[0], int(node.arg or 1), ticking.RETRY_ON)
            elif kind == "repeat":
                ticks[i] = ticking.counted(i, kid_ticks[0], int(node.arg or 1), ticking.REPEAT_ON)
            elif kind == "timeout":
                ticks[i] = ticking.timeout(i, kid_ticks[0], kid_halts[0], float(node.arg or 0), node.name)
            elif kind == "rate_limit":
                ticks[i] = ticking.rate_limit(i, kids[0], kid_ticks[0], float(node.arg or 0))
            else:  # guard: children are (condition, child)
                ticks[i] = ticking.guard(i, kid_ticks[0], kid_ticks[1], kid_halts[1])
        else:  # Subtree
            ticks[i] = ticking.passthrough(i, kid_ticks[0])
    compiled.halts = halts
    compiled.root_tick = ticks[0]
