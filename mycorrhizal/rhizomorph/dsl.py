"""The decorator language: ``@bt.tree`` functions declaring leaves, composites and decorators.

While a ``@bt.tree`` body runs, every node it declares is recorded in a scope local to that call
(nothing process-wide), so the tree can check that it has exactly one root and that every declared
node is used.  Composite functions are generators; they are called once, when the tree compiles,
after the whole body has run - so a composite may yield nodes declared below it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from ..common.errors import DefinitionError, Problem
from .builder import make_leaf
from .compile import compile_tree
from .nodes import Composite, Decorator, Leaf, Node
from .status import ErrorPolicy
from .tree import Subtree, Tree

__all__ = ["bt"]

N = TypeVar("N", bound=Node)
Children = Callable[[], Iterable[Any]]


class _Scope:
    __slots__ = ("name", "declared", "roots", "problems")

    def __init__(self, name: str) -> None:
        self.name = name
        self.declared: list[Node] = []
        self.roots: list[Node] = []
        self.problems: list[Problem] = []


# The bodies of the @bt.tree functions running right now (innermost last).  None is a barrier
# pushed while a tree compiles: nodes its composite functions make are not the enclosing body's.
_scopes: list[_Scope | None] = []


def _current() -> _Scope | None:
    return _scopes[-1] if _scopes else None


def _declare(node: N, problems: list[Problem]) -> N:
    scope = _current()
    if scope is not None:
        scope.declared.append(node)
        scope.problems.extend(problems)
    else:
        DefinitionError.raise_if_any(problems, what=f"{node.kind} {node.name!r}")
    return node


def _composite_problems(fn: Any, kind: str, name: str) -> list[Problem]:
    if callable(fn):
        return []  # its parameters and what it yields are checked when the tree compiles
    return [
        Problem(f"{kind} {name!r}", f"@bt.{kind} was applied to {fn!r}", "apply it to a generator function")
    ]


def _child_name(child: Any) -> str:
    return child.name if isinstance(child, Node) else getattr(child, "__name__", repr(child))


def _check_roots(scope: _Scope) -> None:
    """Exactly one root; otherwise raise now (which nodes are reachable would be guesswork)."""
    subject = f"tree {scope.name!r}"
    if len(scope.roots) > 1:
        names = ", ".join(repr(r.name) for r in scope.roots)
        scope.problems.append(
            Problem(subject, f"declares {len(scope.roots)} roots ({names})", "keep one @bt.root")
        )
    elif not scope.roots and not scope.problems:  # (a tree function that was not run has problems)
        scope.problems.append(Problem(subject, "declares no root", "mark exactly one node with @bt.root"))
    if len(scope.roots) != 1:
        DefinitionError.raise_if_any(scope.problems, what=subject)


def _run_body(fn: Callable[[], Any], scope: _Scope) -> None:
    """Run a ``@bt.tree`` function's body (it takes no parameters); its exceptions are problems."""
    try:
        params = tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = ()
    subject = f"tree {scope.name!r}"
    if params:
        scope.problems.append(Problem(subject, f"its function takes parameters {params}", "remove them"))
        return
    try:
        fn()
    except DefinitionError:
        raise  # a leaf or subtree already reported what is wrong, naming it
    except Exception as exc:
        problem = Problem(subject, f"its body raised {exc!r}", "fix the tree function's body")
        raise DefinitionError([problem], what=subject) from exc


class BT:
    """The ``bt`` namespace: decorators that declare behaviour-tree nodes and trees."""

    # ------------------------------------------------------------------------------------ trees

    def tree(self, fn: Callable[[], Any]) -> Tree:
        """Run ``fn``'s body, collecting the nodes it declares; return the validated :class:`Tree`."""
        name = getattr(fn, "__name__", "tree")
        if not callable(fn):
            problem = Problem(
                f"tree {name!r}",
                f"@bt.tree was applied to {fn!r}",
                "apply it to a function whose body declares the tree's nodes",
            )
            raise DefinitionError([problem], what=f"tree {name!r}")
        scope = _Scope(name)
        _scopes.append(scope)
        try:
            _run_body(fn, scope)
        finally:
            _scopes.pop()
        _check_roots(scope)
        tree = Tree(name, scope.roots[0])
        _scopes.append(None)
        try:
            compile_tree(tree, scope.problems, scope.declared)
        finally:
            _scopes.pop()
        return tree

    def root(self, node: N) -> N:
        """Mark the tree's root node (use above the node's own decorator)."""
        scope = _current()
        if scope is None:
            raise DefinitionError(
                [Problem("@bt.root", "used outside a @bt.tree function", "use it inside the tree's body")],
                what="@bt.root",
            )
        if not isinstance(node, Node):
            scope.problems.append(
                Problem(
                    f"root {_child_name(node)!r}",
                    "@bt.root was applied to something that is not a node",
                    "put @bt.root above @bt.sequence/@bt.selector/@bt.action ...",
                )
            )
            return node
        scope.roots.append(node)
        return node

    # ----------------------------------------------------------------------------------- leaves

    @overload
    def action(self, fn: Callable[..., Any], /) -> Leaf: ...
    @overload
    def action(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        on_halt: Callable[..., Any] | None = None,
        on_error: ErrorPolicy | str | None = None,
    ) -> Callable[[Callable[..., Any]], Leaf]: ...
    def action(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        on_halt: Callable[..., Any] | None = None,
        on_error: ErrorPolicy | str | None = None,
    ) -> Leaf | Callable[[Callable[..., Any]], Leaf]:
        """Declare an action: returns a Status (sync or async; RUNNING while it is not done)."""

        def make(f: Callable[..., Any]) -> Leaf:
            return _declare(*make_leaf(f, "action", name, on_halt, on_error))

        return make if fn is None else make(fn)

    @overload
    def condition(self, fn: Callable[..., Any], /) -> Leaf: ...
    @overload
    def condition(
        self, fn: None = None, /, *, name: str | None = None, on_error: ErrorPolicy | str | None = None
    ) -> Callable[[Callable[..., Any]], Leaf]: ...
    def condition(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        on_error: ErrorPolicy | str | None = None,
    ) -> Leaf | Callable[[Callable[..., Any]], Leaf]:
        """Declare a condition: returns True/False (or SUCCESS/FAILURE); never RUNNING by itself."""

        def make(f: Callable[..., Any]) -> Leaf:
            return _declare(*make_leaf(f, "condition", name, None, on_error))

        return make if fn is None else make(fn)

    # ------------------------------------------------------------------------------- composites

    def _composite(self, kind: Any, fn: Any, **settings: Any) -> Composite:
        label = settings.pop("name", None) or getattr(fn, "__name__", kind)
        node = Composite(name=label, composite_kind=kind, source=fn if callable(fn) else None, **settings)
        return _declare(node, _composite_problems(fn, kind, label))

    @overload
    def sequence(self, fn: Children, /) -> Composite: ...
    @overload
    def sequence(
        self, fn: None = None, /, *, memory: bool = True, name: str | None = None
    ) -> Callable[[Children], Composite]: ...
    def sequence(
        self, fn: Children | None = None, /, *, memory: bool = True, name: str | None = None
    ) -> Composite | Callable[[Children], Composite]:
        """Declare a sequence: succeeds when all children succeed, in order.

        ``memory=True`` (default) resumes at the child that was RUNNING; ``memory=False`` (reactive)
        re-checks the earlier children every tick and halts the running one if one of them fails.
        """

        def make(f: Children) -> Composite:
            return self._composite("sequence", f, memory=memory, name=name)

        return make if fn is None else make(fn)

    @overload
    def selector(self, fn: Children, /) -> Composite: ...
    @overload
    def selector(
        self, fn: None = None, /, *, memory: bool = True, name: str | None = None
    ) -> Callable[[Children], Composite]: ...
    def selector(
        self, fn: Children | None = None, /, *, memory: bool = True, name: str | None = None
    ) -> Composite | Callable[[Children], Composite]:
        """Declare a selector (fallback): succeeds with the first child that does not fail.

        ``memory=False`` (reactive) re-tries higher-priority children every tick and halts a
        lower-priority running child when a higher one succeeds or runs.
        """

        def make(f: Children) -> Composite:
            return self._composite("selector", f, memory=memory, name=name)

        return make if fn is None else make(fn)

    @overload
    def parallel(self, fn: Children, /) -> Composite: ...
    @overload
    def parallel(
        self,
        fn: None = None,
        /,
        *,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        name: str | None = None,
    ) -> Callable[[Children], Composite]: ...
    def parallel(
        self,
        fn: Children | None = None,
        /,
        *,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        name: str | None = None,
    ) -> Composite | Callable[[Children], Composite]:
        """Declare a parallel node: ticks all unfinished children each tick.

        SUCCESS once ``success_threshold`` children succeeded (default: all); FAILURE once
        ``failure_threshold`` failed or success became impossible (the default).
        """

        def make(f: Children) -> Composite:
            return self._composite(
                "parallel",
                f,
                success_threshold=success_threshold,
                failure_threshold=failure_threshold,
                name=name,
            )

        return make if fn is None else make(fn)

    # ------------------------------------------------------------------------------- decorators

    def _decorate(self, kind: Any, child: Any, arg: float | None = None, condition: Any = None) -> Decorator:
        node = Decorator(
            name=f"{kind}({_child_name(child)})",
            decorator_kind=kind,
            child=child,
            arg=arg,
            condition=condition,
        )
        return _declare(node, [])

    def inverter(self, child: Node) -> Decorator:
        """SUCCESS <-> FAILURE; RUNNING, ERROR and CANCELLED pass through."""
        return self._decorate("inverter", child)

    def succeeder(self, child: Node) -> Decorator:
        """FAILURE becomes SUCCESS once the child completes."""
        return self._decorate("succeeder", child)

    def failer(self, child: Node) -> Decorator:
        """SUCCESS becomes FAILURE once the child completes."""
        return self._decorate("failer", child)

    def retry(self, attempts: int) -> Callable[[Node], Decorator]:
        """Run the child again when it fails (FAILURE or ERROR), ``attempts`` tries in all."""
        return lambda child: self._decorate("retry", child, attempts)

    def repeat(self, times: int) -> Callable[[Node], Decorator]:
        """Run the child to SUCCESS ``times`` times; the first other result ends it."""
        return lambda child: self._decorate("repeat", child, times)

    def timeout(self, seconds: float) -> Callable[[Node], Decorator]:
        """FAILURE, and the child halted, if it is still RUNNING ``seconds`` after it started."""
        return lambda child: self._decorate("timeout", child, seconds)

    def rate_limit(self, period: float) -> Callable[[Node], Decorator]:
        """Start the child at most once per ``period`` seconds; in between report its last result."""
        return lambda child: self._decorate("rate_limit", child, period)

    def guard(self, condition: Node | Callable[..., Any]) -> Callable[[Node], Decorator]:
        """Tick the child only while ``condition`` succeeds; halt it when the condition fails."""
        cond: Any = condition
        if not isinstance(condition, Node) and callable(condition):
            leaf, problems = make_leaf(condition, "condition")
            scope = _current()
            if scope is not None:
                scope.problems.extend(problems)  # not declared: it belongs to the guard
            else:
                DefinitionError.raise_if_any(problems, what=f"condition {leaf.name!r}")
            cond = leaf
        return lambda child: self._decorate("guard", child, None, cond)

    #: Same as :meth:`guard`.
    when = guard

    def subtree(self, tree: Tree, *, name: str | None = None) -> Subtree:
        """Embed another tree here; it is compiled in place (its nodes get their own slots)."""
        if not isinstance(tree, Tree):
            problem = Problem(
                f"subtree {name or getattr(tree, '__name__', None) or str(tree)!r}",
                f"bt.subtree() got {tree!r}, not a tree",
                "pass a tree made with @bt.tree, TreeBuilder or load_tree",
            )
            raise DefinitionError([problem], what="bt.subtree()")
        return _declare(Subtree(name=name or tree.name, tree=tree), [])


bt = BT()
"""The decorator namespace: ``@bt.tree``, ``@bt.action``, ``@bt.sequence``, ``bt.timeout(5)`` ..."""
