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
from typing import Any, NoReturn, get_args

from ..common.errors import DefinitionError, Problem, did_you_mean
from .checks import leaf_parameters, make_leaf
from .compile import compile_tree, plan_of
from .export import ARGUMENT as _ARGUMENT
from .export import CONDITION_KEY, functions_of, tree_to_dict
from .nodes import Case, Composite, CompositeKind, Decorator, DecoratorKind, LeafKind, Match, Node, TryCatch
from .status import Status
from .tree import Subtree, Tree

__all__ = ["Registry", "load_tree", "tree_to_dict"]

# The node types a document may name: the spec's own kinds, so that a new kind is known to both.
_LEAVES: tuple[str, ...] = get_args(LeafKind)
_COMPOSITES: tuple[str, ...] = get_args(CompositeKind)
_WRAPPERS: tuple[str, ...] = get_args(DecoratorKind)
_TYPES = (*_LEAVES, *_COMPOSITES, *_WRAPPERS, "subtree", "try_catch", "match")
_ALLOWED = {
    "action": {"name", "on_halt", "on_error"},
    "condition": {"name", "on_error"},
    "sequence": {"name", "memory"},
    "selector": {"name", "memory"},
    "parallel": {"name", "success_threshold", "failure_threshold"},
    "subtree": {"name"},
    "try_catch": {"name", "catch"},
    "match": {"name", "cases"},
    **{kind: {"name"} for kind in ("inverter", "succeeder", "failer")},
    **{kind: {"name", key} for kind, key in _ARGUMENT.items()},
    **{kind: {"name", key} for kind, key in CONDITION_KEY.items()},
}
_ALLOWED["retry"].add("retry_on")
#: Every key some node takes besides its type (a node with no type and another key misspelt its type).
_KEYS = frozenset().union(*_ALLOWED.values())


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
            for name, thing in functions_of(plan_of(tree)):
                if isinstance(thing, Tree):
                    registry.add_tree(thing)
                else:
                    registry.add(name, thing)
        return registry


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
    name = _name_of(data, problems)
    # Until the tree has a name, problems are said of the data (a tree 'tree' would be none of the user's).
    subject, what = (f"tree {name!r}", f"tree {name!r}") if name else ("tree data", "tree")
    extra = set(data) - {"tree", "root"}
    if extra:
        problems.append(Problem(subject, f"has unknown keys {sorted(extra)}", 'keep "tree" and "root"'))
    if "root" not in data:
        problems.append(Problem(subject, "has no root", 'add "root": {...}'))
        DefinitionError.raise_if_any(problems, what=what)
    root = _Loader(registry, problems).node(data["root"], f"{name}.root" if name else "root")
    DefinitionError.raise_if_any(problems, what=what)
    assert root is not None
    tree = Tree(name, root)
    compile_tree(tree)
    return tree


def _name_of(data: Mapping[str, Any], problems: list[Problem]) -> str:
    """The tree's name, its ``"tree"`` key (``""``, after adding the problem, when it has none)."""
    if "tree" not in data:
        problems.append(
            Problem(
                "tree data",
                'has no "tree" key, which names the tree',
                'write the document as {"tree": "Name", "root": {...}}',
            )
        )
        return ""
    name = data["tree"]
    if not isinstance(name, str) or not name:
        problems.append(
            Problem(
                "tree data",
                f'"tree" is {name!r}, not a name',
                'give the tree a name: {"tree": "Name", "root": {...}}',
            )
        )
        return ""
    return name


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
                did_you_mean(ref, self.registry.names, f"register it: registry.add({ref!r}, fn)"),
            )
        return fn

    def kind_of(self, data: Any, where: str) -> str | None:
        """The one node type ``data`` names (or None, after reporting why not)."""
        if not isinstance(data, Mapping):
            self.fail(where, f"is {data!r}, not a node object", 'write a node as {"action": "name"} etc.')
            return None
        kinds: list[str] = [key for key in data if key in _TYPES]
        if len(kinds) != 1:
            # With no type, a key no node takes is most likely the type misspelt: name it.
            stray = [key for key in data if not kinds and key not in _KEYS]
            told = f"; {', '.join(map(repr, stray))} {'is' if len(stray) == 1 else 'are'} not a node type"
            fix = f"give exactly one of: {', '.join(_TYPES)}"
            self.fail(
                where,
                f"names {len(kinds)} node types ({', '.join(kinds) or 'none'}){told if stray else ''}",
                did_you_mean(stray[0], _TYPES, fix) if len(stray) == 1 else fix,
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
        unknown = sorted(set(data) - {kind} - _ALLOWED[kind], key=str)
        if unknown:
            fix = f"allowed: {sorted(_ALLOWED[kind])}"
            if len(unknown) == 1:  # one misspelt key is the common case; several are listed as they are
                fix = did_you_mean(unknown[0], _ALLOWED[kind], fix)
            self.fail(here, f"{kind} has unknown keys {unknown}", fix)
        return self._make(kind, data[kind], data, label, here)

    def _make(
        self, kind: str, value: Any, data: Mapping[str, Any], label: str | None, where: str
    ) -> Node | None:
        if kind in _LEAVES:
            return self.leaf(kind, value, data, label, where)
        if kind in _COMPOSITES:
            return self.composite(kind, value, data, label, where)
        if kind in _OTHERS:
            return _OTHERS[kind](self, value, data, label, where)
        return self.wrapper(kind, value, data, label, where)

    def subtree(self, value: Any, data: Mapping[str, Any], label: str | None, where: str) -> Node | None:
        tree = self.registry.tree(value) if isinstance(value, str) else None
        if tree is None:
            trees = self.registry._trees  # (the registry's own module: no public listing is needed)
            fix = did_you_mean(value, trees, "register it: registry.add_tree(tree)")
            self.fail(where, f"subtree {value!r} is not in the registry", fix)
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
        if kind in CONDITION_KEY:
            key = CONDITION_KEY[kind]
            if key not in data:
                self.fail(where, f"{kind} has no condition", f'add "{key}": {{"condition": "name"}}')
                return None
            cond = self.node(data[key], f"{where}.{key}")
        arg = None
        if kind in _ARGUMENT:
            key = _ARGUMENT[kind]
            if key not in data:
                self.fail(where, f'{kind} has no "{key}"', f'add "{key}": <number>')
                return None
            arg = data[key]
        retry_on = self.statuses(data["retry_on"], where) if "retry_on" in data else None
        if child is None or (kind in CONDITION_KEY and cond is None):
            return None
        return Decorator(
            name=label or f"{kind}({child.name})",
            decorator_kind=kind,
            child=child,
            arg=arg,
            condition=cond,
            retry_on=retry_on,
        )

    def statuses(self, value: Any, where: str) -> frozenset[Status] | None:
        names = {status.value: status for status in Status}
        if not isinstance(value, list) or not all(isinstance(v, str) and v in names for v in value):
            self.fail(where, f'"retry_on" is {value!r}', f"use a list of status names from {sorted(names)}")
            return None
        return frozenset(names[v] for v in value)

    def try_catch(self, value: Any, data: Mapping[str, Any], label: str | None, where: str) -> Node | None:
        body = self.node(value, f"{where}.try_catch")
        if "catch" not in data:
            self.fail(where, "try_catch has no catch block", 'add "catch": {...}')
            return None
        handler = self.node(data["catch"], f"{where}.catch")
        if body is None or handler is None:
            return None
        return TryCatch(name=label or f"try_catch({body.name}, {handler.name})", body=body, handler=handler)

    def match(self, value: Any, data: Mapping[str, Any], label: str | None, where: str) -> Node | None:
        key = self.function(value, where, "key function")
        cases = data.get("cases")
        if not isinstance(cases, list) or not cases:
            self.fail(
                where, f'"cases" is {cases!r}', 'give a list: [{"value": v, "do": node}, {"default": node}]'
            )
            return None
        made = [self.case(item, f"{where}.cases[{n}]") for n, item in enumerate(cases)]
        if key is None or any(case is None for case in made):
            return None
        params, problems = leaf_parameters(key, f"{where}: match", "key function")
        self.problems.extend(problems)
        return Match(
            name=label or f"match({value})",
            key=key,
            key_params=params,
            cases=tuple(case for case in made if case is not None),
        )

    def case(self, data: Any, where: str) -> Case | None:
        kinds = [
            k for k in ("value", "type", "predicate", "default") if isinstance(data, Mapping) and k in data
        ]
        expected = {"default"} if kinds == ["default"] else {kinds[0], "do"} if len(kinds) == 1 else set()
        if not kinds or len(kinds) > 1 or set(data) != expected:
            self.fail(
                where,
                f"is {data!r}",
                'write a case as {"value": v, "do": node}, {"type": "Name", "do": node}, '
                '{"predicate": "name", "do": node} or {"default": node}',
            )
            return None
        kind = kinds[0]
        child = self.node(data[kind] if kind == "default" else data["do"], f"{where}.{kind}")
        if child is None:
            return None
        if kind == "default":
            return Case(None, child, default=True)
        if kind == "value":
            return Case(data["value"], child)
        matcher = self.function(data[kind], where, kind)
        return None if matcher is None else Case(matcher, child)


_OTHERS: dict[str, Callable[[_Loader, Any, Mapping[str, Any], str | None, str], Node | None]] = {
    "subtree": _Loader.subtree,
    "try_catch": _Loader.try_catch,
    "match": _Loader.match,
}
