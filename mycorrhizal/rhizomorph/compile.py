"""Validate a tree spec once and compile it into a plan: flat, preorder tables of plain data.

Compilation resolves each composite's children (calling its generator function once), checks the
whole tree with the rules in :mod:`.checks` - collecting every problem, each naming its node - and
numbers the nodes in preorder.  A node spec that appears in several places gets a slot per place.

The plan is data only (no closures): the runtime (:mod:`.program`) turns it into tick and halt
functions, and the pictures (:mod:`.render`) and the JSON form (:mod:`.declarative`) read it.
Plans are kept in a cache keyed by the tree's identity - never on the tree - and live as long as
the tree does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from ..common.errors import DefinitionError, Problem
from . import checks, views
from .nodes import CONDITIONED, Composite, Decorator, Leaf, Match, Node, TryCatch
from .status import ErrorPolicy
from .tree import Subtree, Tree

__all__ = ["Plan", "compile_tree", "plan_of"]

_NOT_IDENT = re.compile(r"\W+")
log = logging.getLogger("mycorrhizal.rhizomorph")


class Plan:
    """Flat, preorder tables of one tree: everything about it that no run changes.

    Node ``i``'s parent is ``parents[i]`` (-1 for the root) and its children ``children[i]``, in
    tick order; a parent always has a smaller number than its children.
    """

    __slots__ = (
        "name",
        "size",
        "specs",
        "kinds",
        "ids",
        "paths",
        "parents",
        "children",
        "policies",
        "cursors",
        "unused",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0
        #: The node spec at each slot (a spec used in two places fills two slots).
        self.specs: list[Node] = []
        #: ``spec.kind`` of each slot: what the runtime builds for it.
        self.kinds: list[str] = []
        #: Plain identifiers, unique in the tree, made from the node names (``is_open_2``).
        self.ids: list[str] = []
        #: ``root/child/.../node`` by ids: where each slot is in the tree.
        self.paths: list[str] = []
        self.parents: list[int] = []
        self.children: list[tuple[int, ...]] = []
        #: A leaf's own error policy (None: the runner's).
        self.policies: list[ErrorPolicy | None] = []
        #: Where each node's cursor starts: -1 for a reactive sequence/selector (no child followed).
        self.cursors: list[int] = []
        #: Nodes the tree's body declared that the root never reaches (accepted, with a WARNING).
        self.unused: tuple[Node, ...] = ()


_plans: WeakKeyDictionary[Tree, Plan] = WeakKeyDictionary()


def plan_of(tree: Tree) -> Plan:
    """The plan of ``tree``, compiled on first use (raising DefinitionError if it is invalid)."""
    plan = _plans.get(tree)
    if plan is None:
        plan = compile_tree(tree)
    return plan


@views.preorder.register
def _preorder(tree: Tree) -> Sequence[Node]:
    return plan_of(tree).specs


def compile_tree(
    tree: Tree, problems: Iterable[Problem] = (), declared: Iterable[Node] = (), *, strict: bool = False
) -> Plan:
    """Compile ``tree``; raise one DefinitionError listing every problem (plus ``problems``).

    ``declared`` are the nodes a ``@bt.tree`` body declared.  One the root never reaches is logged
    as a WARNING and listed in ``plan.unused`` (``mycorrhizal check`` reports it); with ``strict``
    it is a problem like any other.
    """
    declared = tuple(declared)
    walk = _Walk(tree.name, list(problems), declared)
    walk.visit(tree.root, ())
    unused: list[Node] = []
    if not walk.unlisted:  # (if a composite could not list its children, reachability is unknown)
        unused = [node for node in declared if id(node) not in walk.reachable]
        if strict:
            walk.found.extend(checks.unreachable(node, tree.name) for node in unused)
    DefinitionError.raise_if_any(walk.found, what=f"tree {tree.name!r}")
    plan = _Flatten(tree.name, walk).run(tree.root)
    plan.unused = tuple(unused)
    for node in unused:
        log.warning(
            "tree %r: %s %r is declared but the root never reaches it; it is ignored "
            "(yield it from a composite, or delete it)",
            tree.name,
            node.kind,
            node.name,
        )
    _plans[tree] = plan
    return plan


@views.findings.register
def _findings(tree: Tree) -> list[tuple[bool, str]]:
    plan = plan_of(tree)
    found = [(True, f"{plan.size} nodes")]
    if plan.unused:
        names = ", ".join(f"{node.kind} {node.name!r}" for node in plan.unused)
        found.append((False, f"declared but never reached from the root: {names}"))
    else:
        found.append((True, "every declared node is reached from the root"))
    return found


class _Walk:
    """One pass over the node graph: resolve every node's children, check every rule."""

    __slots__ = ("tree_name", "found", "declared", "resolved", "reachable", "unlisted")

    def __init__(self, tree_name: str, found: list[Problem], declared: tuple[Node, ...] = ()) -> None:
        self.tree_name = tree_name
        self.found = found
        #: The nodes the tree's body declared: the names a misspelt child is compared with.
        self.declared = declared
        self.resolved: dict[int, tuple[Node, ...]] = {}
        self.reachable: set[int] = set()
        #: True once a composite's function could not list its children.
        self.unlisted = False

    def kids_of(self, node: Node) -> tuple[Node, ...]:
        """The children of ``node`` in tick order (a composite's function is called only once)."""
        key = id(node)
        kids = self.resolved.get(key)
        if kids is None:
            kids = self.resolved[key] = self._resolve(node)
        return kids

    def _resolve(self, node: Node) -> tuple[Node, ...]:
        if isinstance(node, Composite):
            return self._composite_children(node)
        if isinstance(node, Decorator):
            self.found.extend(checks.check_decorated(node))
            kids = (
                (self._condition(node), node.child) if node.decorator_kind in CONDITIONED else (node.child,)
            )
            return tuple(kid for kid in kids if isinstance(kid, Node))
        if isinstance(node, TryCatch):
            self.found.extend(checks.check_try_catch(node))
            return tuple(kid for kid in (node.body, node.handler) if isinstance(kid, Node))
        if isinstance(node, Match):
            self.found.extend(checks.check_match(node))
            return tuple(case.child for case in node.cases if isinstance(getattr(case, "child", None), Node))
        if isinstance(node, Subtree):
            return (node.tree.root,)
        return ()

    def _condition(self, node: Decorator) -> Any:
        """The decorator's condition node; a plain function becomes a condition leaf (checked as one)."""
        cond = node.condition
        if isinstance(cond, Node) or not callable(cond):
            return cond
        leaf, problems = checks.make_leaf(cond, "condition")
        self.found.extend(problems)
        return leaf

    def _composite_children(self, node: Composite) -> tuple[Node, ...]:
        items = node.children if node.source is None else self._run_source(node, node.source)
        if items is None:
            return ()
        kids: list[Node] = []
        for position, item in enumerate(items):
            if isinstance(item, Tree):  # a tree given as a child means "embed it"
                item = Subtree(name=item.name, tree=item)
            if isinstance(item, Node):
                kids.append(item)
            else:
                self.found.append(checks.not_a_child(node, position, item))
        if not items:
            self.found.append(checks.no_children(node))
        return tuple(kids)

    def _run_source(self, node: Composite, source: Any) -> Sequence[Any] | None:
        problems = checks.check_source_signature(node, source)
        if not problems:
            try:
                produced = source()
                problems = checks.not_yielding(node, produced)
                if not problems:
                    return list(_spread(produced))
            except Exception as exc:  # the generator body is user code: report it, naming the node
                problems = [checks.source_raised(node, exc, [kid.name for kid in self.declared])]
        self.found.extend(problems)
        self.unlisted = True
        return None

    def visit(self, node: Node, path: tuple[Node, ...]) -> None:
        """Check ``node`` (once, however often it is used) and everything below it."""
        if any(p is node for p in path):
            self.found.append(checks.contains_itself(node, path))
            return
        if isinstance(node, Subtree) and any(isinstance(p, Subtree) and p.tree is node.tree for p in path):
            self.found.append(checks.embeds_itself(node, node.tree.name))
            return
        kids = self.kids_of(node)
        if id(node) not in self.reachable:
            self.reachable.add(id(node))
            self.found.extend(self._settings(node, len(kids)))
        for kid in kids:
            self.visit(kid, (*path, node))

    @staticmethod
    def _settings(node: Node, kid_count: int) -> list[Problem]:
        if isinstance(node, Composite):
            return checks.check_thresholds(node, kid_count)
        if isinstance(node, Decorator):
            return checks.check_counts(node) + checks.check_durations(node) + checks.check_retry_on(node)
        return []


def _spread(items: Iterable[Any]) -> Iterable[Any]:
    """A composite function's yields, with a list or tuple of children standing for each of them
    (``yield [a, b]`` is ``yield a; yield b``, as in mycorrhizal 0.x)."""
    for item in items:
        if isinstance(item, list | tuple):
            yield from _spread(item)
        else:
            yield item


class _Flatten:
    """Number the nodes in preorder and fill the plan's tables."""

    __slots__ = ("plan", "walk", "used")

    def __init__(self, name: str, walk: _Walk) -> None:
        self.plan = Plan(name)
        self.walk = walk
        self.used: dict[str, int] = {}

    def run(self, root: Node) -> Plan:
        self._add(root, -1)
        return self.plan

    def _ident(self, label: str) -> str:
        base = _NOT_IDENT.sub("_", label).strip("_") or "node"
        if base[0].isdigit():
            base = f"n_{base}"
        count = self.used.get(base, 0) + 1
        self.used[base] = count
        return base if count == 1 else f"{base}_{count}"

    def _add(self, node: Node, parent: int) -> int:
        plan = self.plan
        index = plan.size
        plan.size += 1
        node_id = self._ident(node.name)
        plan.specs.append(node)
        plan.kinds.append(node.kind)
        plan.ids.append(node_id)
        plan.paths.append(node_id if parent < 0 else f"{plan.paths[parent]}/{node_id}")
        plan.parents.append(parent)
        plan.children.append(())
        plan.policies.append(node.on_error if isinstance(node, Leaf) else None)
        reactive = isinstance(node, Composite) and not node.memory and node.composite_kind != "parallel"
        # -1: a reactive sequence/selector follows no child yet; a match runs no case yet.
        plan.cursors.append(-1 if reactive or isinstance(node, Match) else 0)
        plan.children[index] = tuple(self._add(kid, index) for kid in self.walk.kids_of(node))
        return index
