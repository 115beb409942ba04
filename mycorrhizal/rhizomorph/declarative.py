"""The declarative form: a tree as plain data (dict / JSON), with leaves looked up by name.

Nothing in the data is ever evaluated: every action, condition and halt hook is a name that must be
registered in a :class:`Registry`, and every embedded tree is a name registered there too.

    {"tree": "Patrol",
     "root": {"selector": [
         {"sequence": [{"condition": "battery_low"}, {"action": "go_charge"}], "name": "charge"},
         {"timeout": {"action": "patrol"}, "seconds": 30},
         {"guard": {"action": "wander"}, "if": {"condition": "safe"}},
         {"subtree": "Idle"}]}}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from ..common.errors import DefinitionError, Problem
from . import views
from .builder import make_leaf
from .compile import Plan, compile_tree, plan_of
from .nodes import Composite, Decorator, Leaf, Node
from .tree import Subtree, Tree

__all__ = ["Registry", "load_tree", "tree_to_dict"]

_LEAVES = ("action", "condition")
_COMPOSITES = ("sequence", "selector", "parallel")
_WRAPPERS = ("inverter", "succeeder", "failer", "retry", "repeat", "timeout", "rate_limit", "guard")
_TYPES = (*_LEAVES, *_COMPOSITES, *_WRAPPERS, "subtree")
#: The extra key each decorator needs, and the type of its value.
_ARGUMENT = {"retry": "attempts", "repeat": "times", "timeout": "seconds", "rate_limit": "period"}
_ALLOWED = {
    "action": {"name", "on_halt", "on_error"},
    "condition": {"name", "on_error"},
    "sequence": {"name", "memory"},
    "selector": {"name", "memory"},
    "parallel": {"name", "success_threshold", "failure_threshold"},
    "guard": {"name", "if"},
    "subtree": {"name"},
    **{kind: {"name"} for kind in ("inverter", "succeeder", "failer")},
    **{kind: {"name", key} for kind, key in _ARGUMENT.items()},
}


def _refuse(subject: str, message: str, fix: str) -> NoReturn:
    raise DefinitionError([Problem(subject, message, fix)], what="registry")


class Registry:
    """Named functions (leaves, halt hooks) and trees that declarative trees may refer to."""

    __slots__ = ("_functions", "_trees")

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        trees: Iterable[Tree] = (),
    ) -> None:
        self._functions: dict[str, Callable[..., Any]] = {}
        self._trees: dict[str, Tree] = {}
        for name, fn in (functions or {}).items():
            self.add(name, fn)
        for tree in trees:
            self.add_tree(tree)

    def add(self, name: str, fn: Callable[..., Any]) -> None:
        """Register ``fn`` under ``name``; registering another function under a taken name is an error."""
        if not isinstance(name, str) or not name:
            _refuse(
                f"registry name {name!r}", f"is not a name for {fn!r}", "register it under a non-empty string"
            )
        if not callable(fn):
            _refuse(f"registry name {name!r}", f"{fn!r} is not a function", "register a function")
        known = self._functions.get(name)
        if known is not None and known is not fn:
            _refuse(
                f"registry name {name!r}",
                f"already names {known!r}, cannot also name {fn!r}",
                "register one of them under another name",
            )
        self._functions[name] = fn

    def leaf(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: register ``fn`` under its ``__name__`` and return it unchanged."""
        name = getattr(fn, "__name__", None)
        if name is None:
            _refuse(
                f"registry entry {fn!r}", "has no __name__ to register it under", "use registry.add(name, fn)"
            )
        self.add(name, fn)
        return fn

    def add_tree(self, tree: Tree, name: str | None = None) -> None:
        """Register ``tree`` for ``{"subtree": name}`` (default: the tree's own name)."""
        if not isinstance(tree, Tree):
            _refuse(f"registry tree {name or str(tree)!r}", f"{tree!r} is not a tree", "register a tree")
        key = name or tree.name
        known = self._trees.get(key)
        if known is not None and known is not tree:
            _refuse(f"registry tree {key!r}", "is already registered", "register it under another name")
        self._trees[key] = tree

    def function(self, name: str) -> Callable[..., Any] | None:
        """The function registered as ``name``, or None."""
        return self._functions.get(name)

    def tree(self, name: str) -> Tree | None:
        """The tree registered as ``name``, or None."""
        return self._trees.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered function name, sorted."""
        return tuple(sorted(self._functions))

    @classmethod
    def of(cls, *trees: Tree) -> Registry:
        """A registry of the leaves (by leaf name), halt hooks and subtrees of ``trees``.

        Halt hooks are registered under their function name (``halt_<leaf>`` for a lambda).
        Two different functions under one name - two leaves with the same name - is an error.
        """
        registry = cls()
        for tree in trees:
            if not isinstance(tree, Tree):
                _refuse(f"Registry.of({tree!r})", "was given something that is not a tree", "pass trees")
            compiled = plan_of(tree)
            inside = [False] * compiled.size  # True for nodes of an embedded tree
            for i, spec in enumerate(compiled.specs):
                parent = compiled.parents[i]
                if parent >= 0:
                    inside[i] = inside[parent] or isinstance(compiled.specs[parent], Subtree)
                if inside[i]:
                    continue
                if isinstance(spec, Subtree):
                    registry.add_tree(spec.tree)
                elif isinstance(spec, Leaf):
                    registry.add(spec.name, spec.fn)
                    if spec.on_halt is not None:
                        registry.add(_hook_name(spec), spec.on_halt)
        return registry


def _hook_name(leaf: Leaf) -> str:
    """The registry name of a leaf's halt hook: its function name, or ``halt_<leaf>`` for a lambda."""
    name = getattr(leaf.on_halt, "__name__", "")
    return name if name.isidentifier() else f"halt_{leaf.name}"


# ------------------------------------------------------------------------------------------- export


@views.to_data.register
def tree_to_dict(tree: Tree) -> dict[str, Any]:
    """The JSON-ready form of ``tree``: leaves by leaf name, hooks by function name, subtrees by tree name."""
    return {"tree": tree.name, "root": _Export(plan_of(tree)).node(0)}


def _leaf_data(spec: Leaf) -> dict[str, Any]:
    out: dict[str, Any] = {spec.leaf_kind: spec.name}
    if spec.on_halt is not None:
        out["on_halt"] = _hook_name(spec)
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
        spec = self.plan.specs[i]
        if isinstance(spec, Leaf):
            return _leaf_data(spec)
        if isinstance(spec, Subtree):
            return _subtree_data(spec)
        if isinstance(spec, Composite):
            return self._composite(i, spec)
        assert isinstance(spec, Decorator)
        return self._decorator(i, spec)

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

    def _decorator(self, i: int, spec: Decorator) -> dict[str, Any]:
        kind = spec.decorator_kind
        kids = self.plan.children[i]
        out: dict[str, Any]
        if kind == "guard":
            out = {"guard": self.node(kids[1]), "if": self.node(kids[0])}
        else:
            out = {kind: self.node(kids[0])}
        if kind in _ARGUMENT:
            out[_ARGUMENT[kind]] = spec.arg
        out["name"] = spec.name
        return out


# ------------------------------------------------------------------------------------------- import


def load_tree(data: Mapping[str, Any] | str, registry: Registry) -> Tree:
    """Build a :class:`Tree` from its declarative form (a mapping, or JSON text).

    Every problem - unknown node types, unknown or missing keys, names not in ``registry``, bad
    leaf signatures - is collected, each naming where it is, and raised as one DefinitionError.
    """
    if not isinstance(registry, Registry):
        problem = Problem(
            "load_tree()", f"needs a Registry, got {registry!r}", "pass Registry({name: function, ...})"
        )
        raise DefinitionError([problem], what="tree")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise DefinitionError(
                [Problem("tree JSON", f"is not valid JSON ({exc})", "fix the JSON text")], what="tree"
            ) from exc
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise DefinitionError(
            [
                Problem(
                    "tree data", f"is {type(data).__name__}, not an object", 'use {"tree": ..., "root": ...}'
                )
            ],
            what="tree",
        )
    name = data.get("tree")
    if not isinstance(name, str) or not name:
        problems.append(Problem("tree data", f'"tree" is {name!r}', 'give the tree a name: "tree": "Name"'))
        name = "tree"
    extra = set(data) - {"tree", "root"}
    if extra:
        problems.append(
            Problem(f"tree {name!r}", f"has unknown keys {sorted(extra)}", 'keep "tree" and "root"')
        )
    if "root" not in data:
        problems.append(Problem(f"tree {name!r}", "has no root", 'add "root": {...}'))
        DefinitionError.raise_if_any(problems, what=f"tree {name!r}")
    root = _Loader(registry, problems).node(data["root"], f"{name}.root")
    DefinitionError.raise_if_any(problems, what=f"tree {name!r}")
    assert root is not None
    tree = Tree(name, root)
    compile_tree(tree)
    return tree


class _Loader:
    def __init__(self, registry: Registry, problems: list[Problem]) -> None:
        self.registry = registry
        self.problems = problems

    def fail(self, where: str, message: str, fix: str) -> None:
        self.problems.append(Problem(where, message, fix))

    def function(self, ref: Any, where: str, role: str) -> Callable[..., Any] | None:
        if not isinstance(ref, str):
            self.fail(
                where,
                f"the {role} is {ref!r}, not a registered name",
                "use the name of a registered function",
            )
            return None
        fn = self.registry.function(ref)
        if fn is None:
            known = ", ".join(self.registry.names) or "nothing is registered"
            self.fail(
                where,
                f"{role} {ref!r} is not in the registry (known: {known})",
                f"register it: registry.add({ref!r}, fn)",
            )
        return fn

    def kind_of(self, data: Any, where: str) -> str | None:
        """The one node type ``data`` names (or None, after reporting why not)."""
        if not isinstance(data, Mapping):
            self.fail(where, f"is {data!r}, not a node object", 'write a node as {"action": "name"} etc.')
            return None
        kinds: list[str] = [key for key in data if key in _TYPES]
        if len(kinds) != 1:
            self.fail(
                where,
                f"names {len(kinds)} node types ({', '.join(kinds) or 'none'})",
                f"give exactly one of: {', '.join(_TYPES)}",
            )
            return None
        return kinds[0]

    def node(self, data: Any, where: str) -> Node | None:
        kind = self.kind_of(data, where)
        if kind is None:
            return None
        label = data.get("name")
        if label is not None and not isinstance(label, str):
            self.fail(where, f'"name" is {label!r}', "use a string")
            label = None
        here = f"{where}({label})" if label else where
        unknown = set(data) - {kind} - _ALLOWED[kind]
        if unknown:
            self.fail(
                here, f"{kind} has unknown keys {sorted(unknown)}", f"allowed: {sorted(_ALLOWED[kind])}"
            )
        value = data[kind]
        if kind in _LEAVES:
            return self.leaf(kind, value, data, label, here)
        if kind == "subtree":
            return self.subtree(value, label, here)
        if kind in _COMPOSITES:
            return self.composite(kind, value, data, label, here)
        return self.wrapper(kind, value, data, label, here)

    def subtree(self, value: Any, label: str | None, where: str) -> Node | None:
        tree = self.registry.tree(value) if isinstance(value, str) else None
        if tree is None:
            self.fail(
                where, f"subtree {value!r} is not in the registry", "register it: registry.add_tree(tree)"
            )
            return None
        return Subtree(name=label or tree.name, tree=tree)

    def leaf(
        self, kind: Any, ref: Any, data: Mapping[str, Any], label: str | None, where: str
    ) -> Node | None:
        fn = self.function(ref, where, kind)
        hook = self.function(data["on_halt"], where, "halt hook") if "on_halt" in data else None
        if fn is None:
            return None
        leaf, problems = make_leaf(fn, kind, label or ref, hook, data.get("on_error"))
        self.problems.extend(Problem(f"{where}: {p.subject}", p.message, p.fix) for p in problems)
        return leaf

    def composite(
        self, kind: Any, value: Any, data: Mapping[str, Any], label: str | None, where: str
    ) -> Node | None:
        if not isinstance(value, list):
            self.fail(where, f"{kind} children are {value!r}, not a list", f'write "{kind}": [child, ...]')
            return None
        kids = [self.node(item, f"{where}.{kind}[{n}]") for n, item in enumerate(value)]
        memory = data.get("memory", True)
        if not isinstance(memory, bool):
            self.fail(where, f'"memory" is {memory!r}', "use true or false")
            memory = True
        if any(kid is None for kid in kids):
            return None
        return Composite(
            name=label or kind,
            composite_kind=kind,
            children=tuple(kid for kid in kids if kid is not None),
            memory=memory,
            success_threshold=data.get("success_threshold"),
            failure_threshold=data.get("failure_threshold"),
        )

    def wrapper(
        self, kind: Any, value: Any, data: Mapping[str, Any], label: str | None, where: str
    ) -> Node | None:
        child = self.node(value, f"{where}.{kind}")
        cond = None
        if kind == "guard":
            if "if" not in data:
                self.fail(where, "guard has no condition", 'add "if": {"condition": "name"}')
                return None
            cond = self.node(data["if"], f"{where}.if")
        arg = None
        if kind in _ARGUMENT:
            key = _ARGUMENT[kind]
            if key not in data:
                self.fail(where, f'{kind} has no "{key}"', f'add "{key}": <number>')
                return None
            arg = data[key]
        if child is None or (kind == "guard" and cond is None):
            return None
        return Decorator(
            name=label or f"{kind}({child.name})", decorator_kind=kind, child=child, arg=arg, condition=cond
        )
