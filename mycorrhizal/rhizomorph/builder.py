"""The programmatic form: build a tree from code that decides its shape at run time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..common.callables import is_async_callable
from ..common.errors import DefinitionError, Problem
from . import checks
from .compile import compile_tree
from .nodes import Composite, Decorator, Leaf, LeafKind, Node
from .status import ErrorPolicy
from .tree import Subtree, Tree

__all__ = ["TreeBuilder", "make_leaf"]


def make_leaf(
    fn: Callable[..., Any],
    kind: LeafKind,
    name: str | None = None,
    on_halt: Callable[..., Any] | None = None,
    on_error: ErrorPolicy | str | None = None,
) -> tuple[Leaf, list[Problem]]:
    """Build a leaf spec and list what is wrong with it (the caller decides when to raise)."""
    label = name or getattr(fn, "__name__", None) or repr(fn)
    subject = f"{kind} {label!r}"
    params, problems = checks.leaf_parameters(fn, subject, kind)
    problems += checks.check_leaf_function(fn, subject)
    halt_params: tuple[str, ...] = ()
    if on_halt is not None:
        halt_params, more = checks.check_halt_hook(on_halt, subject)
        problems += more
    policy, more = checks.check_error_policy(on_error, subject)
    problems += more
    leaf = Leaf(
        name=label,
        fn=fn,
        leaf_kind=kind,
        params=params,
        is_async=callable(fn) and is_async_callable(fn),
        on_halt=on_halt,
        halt_params=halt_params,
        on_error=policy,
    )
    return leaf, problems


class TreeBuilder:
    """Make nodes with explicit names and children, pick a root, ``build()`` the :class:`Tree`.

    Every method returns the node it made; children are passed in tick order.  Leaf signature
    problems raise at once; structural problems raise from :meth:`build`, all together.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._root: Node | None = None

    def action(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        on_halt: Callable[..., Any] | None = None,
        on_error: ErrorPolicy | str | None = None,
    ) -> Leaf:
        """An action leaf calling ``fn`` (see :meth:`BT.action`)."""
        leaf, problems = make_leaf(fn, "action", name, on_halt, on_error)
        DefinitionError.raise_if_any(problems, what=f"tree {self.name!r}")
        return leaf

    def condition(
        self, fn: Callable[..., Any], *, name: str | None = None, on_error: ErrorPolicy | str | None = None
    ) -> Leaf:
        """A condition leaf calling ``fn`` (see :meth:`BT.condition`)."""
        leaf, problems = make_leaf(fn, "condition", name, None, on_error)
        DefinitionError.raise_if_any(problems, what=f"tree {self.name!r}")
        return leaf

    def sequence(self, name: str, *children: Node, memory: bool = True) -> Composite:
        """A sequence over ``children``."""
        return Composite(name=name, composite_kind="sequence", children=children, memory=memory)

    def selector(self, name: str, *children: Node, memory: bool = True) -> Composite:
        """A selector over ``children``."""
        return Composite(name=name, composite_kind="selector", children=children, memory=memory)

    def parallel(
        self,
        name: str,
        *children: Node,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
    ) -> Composite:
        """A parallel node over ``children`` with the given thresholds."""
        return Composite(
            name=name,
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
        return self._wrap("retry", child, name, attempts)

    def repeat(self, times: int, child: Node, *, name: str | None = None) -> Decorator:
        """Run ``child`` to success ``times`` times."""
        return self._wrap("repeat", child, name, times)

    def timeout(self, seconds: float, child: Node, *, name: str | None = None) -> Decorator:
        """FAILURE (and ``child`` halted) after ``seconds`` of RUNNING."""
        return self._wrap("timeout", child, name, seconds)

    def rate_limit(self, period: float, child: Node, *, name: str | None = None) -> Decorator:
        """Start ``child`` at most once per ``period`` seconds."""
        return self._wrap("rate_limit", child, name, period)

    def guard(self, condition: Node, child: Node, *, name: str | None = None) -> Decorator:
        """Tick ``child`` only while ``condition`` succeeds."""
        return self._wrap("guard", child, name, None, condition)

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

    def build(self) -> Tree:
        """Validate and compile the tree (one DefinitionError lists every problem)."""
        if self._root is None:
            raise DefinitionError(
                [Problem(f"tree {self.name!r}", "has no root", "call builder.root(node) before build()")],
                what=f"tree {self.name!r}",
            )
        tree = Tree(self.name, self._root)
        compile_tree(tree)
        return tree


def _name_of(node: Any) -> str:
    return f"{node.kind} {node.name!r}" if isinstance(node, Node) else repr(node)
