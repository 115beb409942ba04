"""The programmatic form: build a tree from code that decides its shape at run time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..common.callables import written_name
from ..common.errors import DefinitionError, Problem
from .checks import describe, make_leaf
from .compile import compile_tree
from .declarative import Registry, load_tree
from .nodes import Chain, Composite, Decorator, Leaf, Node
from .status import ErrorPolicy
from .tree import Subtree, Tree

__all__ = ["TreeBuilder", "auto_name"]

LeafFn = Callable[..., Any]


def _named(args: tuple[Any, ...]) -> tuple[str | None, tuple[Any, ...]]:
    """(name, children) of ``sequence("name", a, b)`` or of the 0.x form ``sequence(a, b)``."""
    if args and isinstance(args[0], str):
        return args[0], args[1:]
    return None, args


def _leaf_args(first: LeafFn | str, second: LeafFn | None, name: str | None) -> tuple[LeafFn, str | None]:
    """(function, name) of ``action(fn, name=...)`` or of the 0.x order ``action("name", fn)``."""
    if isinstance(first, str):
        if second is None:
            raise DefinitionError(
                [Problem(f"leaf {first!r}", "was given a name but no function", "pass action(name, fn)")],
                what=f"leaf {first!r}",
            )
        return second, name or first
    return first, name


def auto_name(kind: str, children: tuple[Any, ...]) -> str:
    """The name of a composite given none: ``sequence(a, b)``."""
    names = ", ".join(
        str(getattr(child, "name", None) or getattr(child, "__name__", "?")) for child in children
    )
    return f"{kind}({names})"


class TreeBuilder:
    """Make nodes with explicit names and children, pick a root, ``build()`` the :class:`Tree`.

    Every method returns the node it made; children are passed in tick order.  Leaf signature
    problems raise at once; structural problems raise from :meth:`build`, all together.  The 0.x
    argument orders work too: ``action("name", fn)``, ``sequence(a, b, memory=False)`` (no name
    first), ``build(root)``; every node has the fluent wrappers (``leaf.gate(ok).timeout(1)``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._root: Node | None = None

    def action(
        self,
        fn: LeafFn | str,
        func: LeafFn | None = None,
        *,
        name: str | None = None,
        on_halt: Callable[..., Any] | None = None,
        on_error: ErrorPolicy | str | None = None,
    ) -> Leaf:
        """An action leaf calling ``fn`` (see :meth:`BT.action`); also ``action("name", fn)``."""
        fn, name = _leaf_args(fn, func, name)
        leaf, problems = make_leaf(fn, "action", name, on_halt, on_error)
        DefinitionError.raise_if_any(problems, what=f"tree {self.name!r}")
        return leaf

    def condition(
        self,
        fn: LeafFn | str,
        func: LeafFn | None = None,
        *,
        name: str | None = None,
        on_error: ErrorPolicy | str | None = None,
    ) -> Leaf:
        """A condition leaf calling ``fn`` (see :meth:`BT.condition`); also ``condition("name", fn)``."""
        fn, name = _leaf_args(fn, func, name)
        leaf, problems = make_leaf(fn, "condition", name, None, on_error)
        DefinitionError.raise_if_any(problems, what=f"tree {self.name!r}")
        return leaf

    def sequence(self, *args: Any, memory: bool = True) -> Composite:
        """A sequence: ``sequence("name", *children)`` (or ``sequence(*children)``, named after them)."""
        name, children = _named(args)
        label = name or auto_name("sequence", children)
        return Composite(name=label, composite_kind="sequence", children=children, memory=memory)

    def selector(self, *args: Any, memory: bool = True) -> Composite:
        """A selector: ``selector("name", *children)`` (or ``selector(*children)``)."""
        name, children = _named(args)
        label = name or auto_name("selector", children)
        return Composite(name=label, composite_kind="selector", children=children, memory=memory)

    def parallel(
        self,
        *args: Any,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
    ) -> Composite:
        """A parallel node: ``parallel("name", *children, ...)`` (or ``parallel(*children, ...)``)."""
        name, children = _named(args)
        return Composite(
            name=name or auto_name("parallel", children),
            composite_kind="parallel",
            children=children,
            success_threshold=success_threshold,
            failure_threshold=failure_threshold,
        )

    def _wrap(
        self, kind: Any, child: Node, name: str | None, arg: float | None = None, cond: Any = None
    ) -> Decorator:
        label = name or f"{kind}({getattr(child, 'name', child)!s})"
        return Decorator(name=label, decorator_kind=kind, child=child, arg=arg, condition=cond)

    def _ordered(self, kind: str, arg: Any, child: Any, what: str) -> None:
        """Refuse ``retry(node, 3)``: the node given where the ``what`` goes, and the ``what`` after it."""
        if isinstance(arg, Node) and not isinstance(child, Node):
            problem = Problem(
                f"{kind} of {describe(arg)}",
                f"got the node first and {child!r} second",
                f"pass the {what} first: {kind}({child!r}, node)",
            )
            raise DefinitionError([problem], what=f"tree {self.name!r}")

    def inverter(self, child: Node, *, name: str | None = None) -> Decorator:
        """Swap SUCCESS and FAILURE."""
        return self._wrap("inverter", child, name)

    def succeeder(self, child: Node, *, name: str | None = None) -> Decorator:
        """Report FAILURE as SUCCESS."""
        return self._wrap("succeeder", child, name)

    def failer(self, child: Node, *, name: str | None = None) -> Decorator:
        """Report SUCCESS as FAILURE."""
        return self._wrap("failer", child, name)

    def retry(self, attempts: int, child: Node, *, name: str | None = None) -> Decorator:
        """Give ``child`` up to ``attempts`` tries."""
        self._ordered("retry", attempts, child, "count")
        return self._wrap("retry", child, name, attempts)

    def repeat(self, times: int, child: Node, *, name: str | None = None) -> Decorator:
        """Run ``child`` to success ``times`` times."""
        self._ordered("repeat", times, child, "count")
        return self._wrap("repeat", child, name, times)

    def timeout(self, seconds: float, child: Node, *, name: str | None = None) -> Decorator:
        """FAILURE (and ``child`` halted) after ``seconds`` of RUNNING."""
        self._ordered("timeout", seconds, child, "seconds")
        return self._wrap("timeout", child, name, seconds)

    def rate_limit(self, period: float, child: Node, *, name: str | None = None) -> Decorator:
        """Start ``child`` at most once per ``period`` seconds."""
        self._ordered("rate_limit", period, child, "period")
        return self._wrap("rate_limit", child, name, period)

    def guard(self, condition: Node, child: Node, *, name: str | None = None) -> Decorator:
        """Tick ``child`` only while ``condition`` succeeds."""
        if _is_condition(child) and _holds_action(condition):
            self._guard_swapped(condition, child)
        return self._wrap("guard", child, name, None, condition)

    def _guard_swapped(self, condition: Node, child: Any) -> None:
        """Refuse ``guard(work, allowed)`` (0.x's ``work.gate(allowed)`` read in order): a node that
        runs an action as the condition of a lone condition, which would run it unguarded."""
        work = condition.name
        check = child.name if isinstance(child, Node) else written_name(child)
        shown = describe(child) if isinstance(child, Node) else f"the function {check}"
        problem = Problem(
            f"guard of {describe(condition)}",
            f"got {describe(condition)} as the condition and {shown} as the node it guards",
            f"pass the condition first: guard({check}, {work}) (to run {work} and then check {check}, "
            f"use sequence({work}, {check}))",
        )
        raise DefinitionError([problem], what=f"tree {self.name!r}")

    def subtree(self, tree: Tree, *, name: str | None = None) -> Subtree:
        """Embed ``tree`` here."""
        if not isinstance(tree, Tree):
            problem = Problem(
                f"subtree {name or str(tree)!r}",
                f"builder.subtree() got {tree!r}, not a tree",
                "pass a tree made with @bt.tree, TreeBuilder or load_tree",
            )
            raise DefinitionError([problem], what=f"tree {self.name!r}")
        return Subtree(name=name or tree.name, tree=tree)

    def root(self, node: Node) -> Node:
        """Make ``node`` the root (a tree has one: a second, different root is an error)."""
        if self._root is not None and self._root is not node:
            raise DefinitionError(
                [
                    Problem(
                        f"tree {self.name!r}",
                        f"root() was called twice: first with {_name_of(self._root)}, "
                        f"then with {_name_of(node)}",
                        "call builder.root(node) once, with the node at the top of the tree",
                    )
                ],
                what=f"tree {self.name!r}",
            )
        self._root = node
        return node

    def build(self, root: Node | None = None) -> Tree:
        """Validate and compile the tree (one DefinitionError lists every problem).

        ``build(node)`` is ``root(node)`` then ``build()``.
        """
        if root is not None:
            self.root(root)
        if self._root is None:
            raise DefinitionError(
                [Problem(f"tree {self.name!r}", "has no root", "call builder.root(node) before build()")],
                what=f"tree {self.name!r}",
            )
        tree = Tree(self.name, self._root)
        compile_tree(tree)
        return tree

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | str, function_registry: Mapping[str, Callable[..., Any]] | Registry
    ) -> TreeBuilder:
        """A builder holding the tree of ``data`` (see :func:`load_tree`), its leaves looked up by name."""
        registry = (
            function_registry if isinstance(function_registry, Registry) else Registry(function_registry)
        )
        tree = load_tree(data, registry)
        builder = cls(tree.name)
        builder.root(tree.root)
        return builder

    def to_mermaid(self) -> str:
        """The built tree's Mermaid text (see :meth:`Tree.to_mermaid`)."""
        return self.build().to_mermaid()

    def to_dict(self) -> dict[str, Any]:
        """The built tree's declarative form (see :meth:`Tree.to_dict`)."""
        return self.build().to_dict()


def _is_condition(node: Any) -> bool:
    """A condition leaf, or a plain function (what a guard takes as its condition)."""
    if isinstance(node, Leaf):
        return node.leaf_kind == "condition"
    return not isinstance(node, Node | Chain) and callable(node)


def _holds_action(node: Any) -> bool:
    """Whether ``node`` is an action leaf or has one among its listed children or wrapped nodes."""
    if isinstance(node, Leaf):
        return node.leaf_kind == "action"
    if isinstance(node, Composite):
        return any(_holds_action(kid) for kid in node.children)
    if isinstance(node, Decorator):
        return _holds_action(node.child) or _holds_action(node.condition)
    return False


def _name_of(node: Any) -> str:
    return f"{node.kind} {node.name!r}" if isinstance(node, Node) else repr(node)
