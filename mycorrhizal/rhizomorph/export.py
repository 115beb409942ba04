"""A compiled tree as plain data: the export half of the declarative form (:mod:`.declarative`).

Leaves are written by leaf name, halt hooks, match keys, predicates and types by function name
(``halt_<leaf>`` / ``key_<match>`` for a lambda), subtrees by tree name; :func:`functions_of` lists
exactly those names, which is what :meth:`Registry.of <.declarative.Registry.of>` registers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..common.errors import DefinitionError, Problem
from . import views
from .compile import Plan, plan_of
from .nodes import Case, Composite, Decorator, Leaf, Match, Node, TryCatch
from .tree import Subtree, Tree

__all__ = ["ARGUMENT", "CONDITION_KEY", "functions_of", "hook_name", "tree_to_dict"]

#: The extra key of each decorator that takes a number.
ARGUMENT = {"retry": "attempts", "repeat": "times", "timeout": "seconds", "rate_limit": "period"}
#: The key holding the condition of each decorator that has one.
CONDITION_KEY = {"guard": "if", "when": "if", "do_while": "while"}
_PLAIN = (str, int, float, bool, type(None))


def _fn_name(fn: Any, fallback: str) -> str:
    name = getattr(fn, "__name__", "")
    return name if isinstance(name, str) and name.isidentifier() else fallback


def hook_name(leaf: Leaf) -> str:
    """The registry name of a leaf's halt hook: its function name, or ``halt_<leaf>`` for a lambda."""
    return _fn_name(leaf.on_halt, f"halt_{leaf.name}")


def _key_name(match: Match) -> str:
    return _fn_name(match.key, f"key_{match.name}")


def _matcher_data(match: Match, case: Case) -> dict[str, Any]:
    if case.default:
        return {}
    matcher = case.matcher
    if isinstance(matcher, type):
        return {"type": _fn_name(matcher, f"type_{match.name}")}
    if callable(matcher):
        return {"predicate": _fn_name(matcher, f"predicate_{match.name}")}
    if not isinstance(matcher, _PLAIN):
        problem = Problem(
            f"match {match.name!r}",
            f"case value {matcher!r} cannot be written as data",
            "match on strings, numbers, booleans or None, or use a predicate function",
        )
        raise DefinitionError([problem], what=f"match {match.name!r}")
    return {"value": matcher}


def functions_of(plan: Plan) -> Iterator[tuple[str, Callable[..., Any] | Tree]]:
    """(name, function or tree) of everything the plan's data refers to by name: its functions and
    embedded trees (but not what is inside those)."""
    inside = [False] * plan.size  # True for nodes of an embedded tree
    for i, spec in enumerate(plan.specs):
        parent = plan.parents[i]
        if parent >= 0:
            inside[i] = inside[parent] or isinstance(plan.specs[parent], Subtree)
        if inside[i]:
            continue
        if isinstance(spec, Subtree):
            yield spec.tree.name, spec.tree
        elif isinstance(spec, Leaf):
            yield spec.name, spec.fn
            if spec.on_halt is not None:
                yield hook_name(spec), spec.on_halt
        elif isinstance(spec, Match):
            yield _key_name(spec), spec.key
            for case in spec.cases:
                data = _matcher_data(spec, case)
                named = data.get("type") or data.get("predicate")
                if named is not None:
                    yield named, case.matcher


@views.to_data.register
def tree_to_dict(tree: Tree) -> dict[str, Any]:
    """The JSON-ready form of ``tree``: leaves by leaf name, hooks by function name, subtrees by tree name."""
    return {"tree": tree.name, "root": _Export(plan_of(tree)).node(0)}


def _leaf_data(spec: Leaf) -> dict[str, Any]:
    out: dict[str, Any] = {spec.leaf_kind: spec.name}
    if spec.on_halt is not None:
        out["on_halt"] = hook_name(spec)
    if spec.on_error is not None:
        out["on_error"] = spec.on_error.value
    return out


def _subtree_data(spec: Subtree) -> dict[str, Any]:
    out: dict[str, Any] = {"subtree": spec.tree.name}
    if spec.name != spec.tree.name:
        out["name"] = spec.name
    return out


class _Export:
    """The declarative form of each node of a plan, children included."""

    __slots__ = ("plan",)

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def node(self, i: int) -> dict[str, Any]:
        spec: Node = self.plan.specs[i]
        if isinstance(spec, Leaf):
            return _leaf_data(spec)
        if isinstance(spec, Subtree):
            return _subtree_data(spec)
        if isinstance(spec, Composite):
            return self._composite(i, spec)
        kids = [self.node(k) for k in self.plan.children[i]]
        if isinstance(spec, TryCatch):
            return {"try_catch": kids[0], "catch": kids[1], "name": spec.name}
        if isinstance(spec, Match):
            cases = [
                {**_matcher_data(spec, case), ("default" if case.default else "do"): kid}
                for case, kid in zip(spec.cases, kids, strict=True)
            ]
            return {"match": _key_name(spec), "cases": cases, "name": spec.name}
        assert isinstance(spec, Decorator)
        return self._decorator(spec, kids)

    def _composite(self, i: int, spec: Composite) -> dict[str, Any]:
        kids = [self.node(k) for k in self.plan.children[i]]
        out: dict[str, Any] = {spec.composite_kind: kids, "name": spec.name}
        if spec.composite_kind == "parallel":
            for key in ("success_threshold", "failure_threshold"):
                if getattr(spec, key) is not None:
                    out[key] = getattr(spec, key)
        elif not spec.memory:
            out["memory"] = False
        return out

    @staticmethod
    def _decorator(spec: Decorator, kids: list[dict[str, Any]]) -> dict[str, Any]:
        kind = spec.decorator_kind
        out: dict[str, Any]
        if kind in CONDITION_KEY:
            out = {kind: kids[1], CONDITION_KEY[kind]: kids[0]}
        else:
            out = {kind: kids[0]}
        if kind in ARGUMENT:
            out[ARGUMENT[kind]] = spec.arg
        if spec.retry_on is not None:
            out["retry_on"] = sorted(status.value for status in spec.retry_on)
        out["name"] = spec.name
        return out
