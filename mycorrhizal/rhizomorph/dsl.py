"""The decorator language: ``@bt.tree`` functions declaring leaves, composites and decorators.

While a ``@bt.tree`` body runs, every node it declares is recorded in a scope local to that call
(nothing process-wide), so the tree can check that it has exactly one root and report declared
nodes it never uses.  Composite functions are generators; they are called once, when the tree
compiles, after the whole body has run - so a composite may yield nodes declared below it.

Decorators are :class:`~.nodes.Chain` values: ``bt.timeout(5)`` is a chain of one wrapper that is
applied by calling it on a node (``bt.timeout(5)(fetch)``, or as ``@bt.timeout(5)`` above a leaf)
and that can grow (``bt.failer().gate(ok).timeout(5)``).  Composites also have an inline form,
``bt.sequence(a, b)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from ..common.errors import DefinitionError, Problem
from .builder import auto_name
from .checks import awaiting, leaf_parameters, make_leaf
from .compile import compile_tree
from .nodes import Case, Chain, Composite, Leaf, Match, Node, TryCatch, Wrap
from .status import ErrorPolicy, Status
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

    @overload
    def tree(self, fn: Callable[[], Any], /) -> Tree: ...
    @overload
    def tree(self, fn: None = None, /, *, strict: bool = False) -> Callable[[Callable[[], Any]], Tree]: ...
    def tree(
        self, fn: Callable[[], Any] | None = None, /, *, strict: bool = False
    ) -> Tree | Callable[[Callable[[], Any]], Tree]:
        """Run ``fn``'s body, collecting the nodes it declares; return the validated :class:`Tree`.

        A declared node the root never reaches is logged as a WARNING (and reported by
        ``mycorrhizal check``); ``@bt.tree(strict=True)`` makes it a DefinitionError.
        """
        if fn is None:
            return lambda f: self._tree(f, strict)
        return self._tree(fn, strict)

    def _tree(self, fn: Callable[[], Any], strict: bool) -> Tree:
        name = getattr(fn, "__name__", "tree")
        if not callable(fn) or isinstance(fn, type):
            problem = Problem(
                f"tree {name!r}",
                f"@bt.tree was applied to {'a class' if isinstance(fn, type) else repr(fn)}",
                "apply it to a function whose body declares the tree's nodes (`def Name():`; "
                "the class form some 0.x documents show did not run in 0.x either)",
            )
            raise DefinitionError([problem], what=f"tree {name!r}")
        scope = _Scope(name)
        _scopes.append(scope)
        try:
            _run_body(fn, scope)
        finally:
            _scopes.pop()
        _check_roots(scope)
        tree = Tree(name, scope.roots[0], tuple(scope.declared))
        _scopes.append(None)
        try:
            compile_tree(tree, scope.problems, scope.declared, strict=strict)
        finally:
            _scopes.pop()
        return tree

    def root(self, node: N) -> N:
        """Mark the tree's root node (use above the node's own decorator)."""
        scope = _current()
        if scope is None:
            raise DefinitionError(
                [
                    Problem(
                        "@bt.root",
                        "used outside a @bt.tree function",
                        "use it inside the body of a function decorated with @bt.tree (not a class body)",
                    )
                ],
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

    def _inline(self, kind: Any, children: tuple[Any, ...], **settings: Any) -> Composite:
        label = settings.pop("name", None) or auto_name(kind, children)
        return _declare(Composite(name=label, composite_kind=kind, children=children, **settings), [])

    def _shape(self, kind: Any, args: tuple[Any, ...], **settings: Any) -> Any:
        """The decorator form (a generator function, or nothing yet) or the inline form (nodes)."""
        if not args:
            return lambda f: self._composite(kind, f, **settings)
        if len(args) == 1 and not isinstance(args[0], Node | Tree):
            return self._composite(kind, args[0], **settings)
        return self._inline(kind, args, **settings)

    @overload
    def sequence(self, fn: Children, /) -> Composite: ...
    @overload
    def sequence(
        self, first: Node | Tree, /, *children: Node | Tree, memory: bool = True, name: str | None = None
    ) -> Composite: ...
    @overload
    def sequence(
        self, *, memory: bool = True, name: str | None = None
    ) -> Callable[[Children], Composite]: ...
    def sequence(self, *args: Any, memory: bool = True, name: str | None = None) -> Any:
        """Declare a sequence: succeeds when all children succeed, in order.

        On a generator function (``@bt.sequence``, ``@bt.sequence(memory=False)``), or inline over
        nodes: ``bt.sequence(a, b)``.  ``memory=True`` (default) resumes at the child that was
        RUNNING; ``memory=False`` (reactive) re-checks the earlier children every tick and halts
        the running one if one of them fails.
        """
        return self._shape("sequence", args, memory=memory, name=name)

    @overload
    def selector(self, fn: Children, /) -> Composite: ...
    @overload
    def selector(
        self, first: Node | Tree, /, *children: Node | Tree, memory: bool = True, name: str | None = None
    ) -> Composite: ...
    @overload
    def selector(
        self, *, memory: bool = True, name: str | None = None
    ) -> Callable[[Children], Composite]: ...
    def selector(self, *args: Any, memory: bool = True, name: str | None = None) -> Any:
        """Declare a selector (fallback): succeeds with the first child that does not fail.

        Same forms as :meth:`sequence`.  ``memory=False`` (reactive) re-tries higher-priority
        children every tick and halts a lower-priority running child when a higher one succeeds
        or runs.
        """
        return self._shape("selector", args, memory=memory, name=name)

    @overload
    def parallel(self, fn: Children, /) -> Composite: ...
    @overload
    def parallel(
        self,
        first: Node | Tree,
        /,
        *children: Node | Tree,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        name: str | None = None,
    ) -> Composite: ...
    @overload
    def parallel(
        self,
        *,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        name: str | None = None,
    ) -> Callable[[Children], Composite]: ...
    def parallel(
        self,
        *args: Any,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        name: str | None = None,
    ) -> Any:
        """Declare a parallel node: ticks all unfinished children each tick.

        SUCCESS once ``success_threshold`` children succeeded (default: all); FAILURE once
        ``failure_threshold`` failed or success became impossible (the default).
        """
        return self._shape(
            "parallel",
            args,
            success_threshold=success_threshold,
            failure_threshold=failure_threshold,
            name=name,
        )

    # ------------------------------------------------------------------------------- decorators

    @staticmethod
    def _chain(wrap: Wrap, child: Any = None) -> Any:
        chain = Chain((wrap,))
        return chain if child is None else chain(child)

    def inverter(self, child: Node | None = None) -> Any:
        """SUCCESS <-> FAILURE; RUNNING, ERROR and CANCELLED pass through.

        ``bt.inverter(child)`` wraps at once; ``bt.inverter()`` starts a chain.
        """
        return self._chain(Wrap("inverter"), child)

    def succeeder(self, child: Node | None = None) -> Any:
        """FAILURE becomes SUCCESS once the child completes (``bt.succeeder()`` starts a chain)."""
        return self._chain(Wrap("succeeder"), child)

    def failer(self, child: Node | None = None) -> Any:
        """SUCCESS becomes FAILURE once the child completes (``bt.failer()`` starts a chain)."""
        return self._chain(Wrap("failer"), child)

    def retry(self, max_attempts: int, retry_on: Iterable[Status] | None = None) -> Chain:
        """Run the child again when it fails (FAILURE or ERROR, or the statuses in ``retry_on``),
        ``max_attempts`` runs in all."""
        return Chain(()).retry(max_attempts, retry_on)  # type: ignore[no-any-return]

    def repeat(self, times: int) -> Chain:
        """Run the child to SUCCESS ``times`` times; the first other result ends it."""
        return Chain((Wrap("repeat", times),))

    def timeout(self, seconds: float) -> Chain:
        """FAILURE, and the child halted, if it is still RUNNING ``seconds`` after it started."""
        return Chain((Wrap("timeout", seconds),))

    def rate_limit(self, period: float) -> Chain:
        """Start the child at most once per ``period`` seconds; in between report its last result."""
        return Chain((Wrap("rate_limit", period),))

    def ratelimit(self, *, hz: float | None = None, period: float | None = None) -> Chain:
        """:meth:`rate_limit` given as a rate (``hz``) or a ``period``: exactly one of them."""
        return Chain(()).ratelimit(hz=hz, period=period)  # type: ignore[no-any-return]

    def guard(self, condition: Node | Callable[..., Any]) -> Chain:
        """Tick the child only while ``condition`` succeeds; halt it when the condition fails.

        The condition is a condition node or a plain function (made into a condition leaf).
        """
        return Chain((Wrap("guard", condition=condition),))

    #: The 0.x name of :meth:`guard`.
    gate = guard

    def when(self, condition: Node | Callable[..., Any]) -> Chain:
        """An optional step: tick the child while ``condition`` succeeds; if it fails, halt the
        child and succeed."""
        return Chain((Wrap("when", condition=condition),))

    def do_while(self, condition: Node | Callable[..., Any]) -> Chain:
        """Loop: while ``condition`` holds, run the child (one run per tick, RUNNING in between);
        SUCCESS once the condition fails, the child's status if the child fails."""
        return Chain((Wrap("do_while", condition=condition),))

    def try_catch(self, try_block: Node) -> Callable[[Node], TryCatch]:
        """``bt.try_catch(body)(handler)``: ``body``'s SUCCESS, or else what ``handler`` reports."""

        def catch(catch_block: Node) -> TryCatch:
            label = f"try_catch({_child_name(try_block)}, {_child_name(catch_block)})"
            return _declare(TryCatch(name=label, body=try_block, handler=catch_block), [])

        return awaiting(catch, "bt.try_catch(...) without its catch block", "bt.try_catch(body)(handler)")

    def match(self, key: Callable[..., Any], name: str | None = None) -> Callable[..., Match]:
        """``bt.match(key_fn)(bt.case(m1)(a), bt.case(m2)(b), bt.defaultcase(c))``: tick the first
        case whose matcher accepts ``key_fn(bb)``; FAILURE if none does."""
        params, _ = leaf_parameters(key, "match", "key function")  # (problems: reported at compile)
        label = name or f"match({getattr(key, '__name__', 'key')})"

        def cases(*given: Case) -> Match:
            return _declare(Match(name=label, key=key, key_params=params, cases=given), [])

        return awaiting(cases, f"{label} without its cases", "bt.match(key)(bt.case(value)(node), ...)")

    def case(self, matcher: Any) -> Callable[[Node], Case]:
        """A case of :meth:`match`: a type (isinstance), a predicate of the key, or a value (==)."""
        shown = getattr(matcher, "__name__", None) or repr(matcher)  # (a type or function by its name)
        return awaiting(
            lambda child: Case(matcher, child),
            f"bt.case({shown}) without its child",
            f"bt.case({shown})(node), inside bt.match(key)(...)",
        )

    def defaultcase(self, child: Node) -> Case:
        """The case of :meth:`match` that accepts every key."""
        return Case(None, child, default=True)

    def as_spec(self, thing: Any) -> Node:
        """The node ``thing`` is (a node, or anything with a ``node_spec``); TypeError otherwise."""
        spec = thing if isinstance(thing, Node) else getattr(thing, "node_spec", None)
        if not isinstance(spec, Node):
            raise TypeError(
                f"{thing!r} is not a behaviour-tree node. Fix: pass a node: a leaf (@bt.action, "
                "@bt.condition), a composite, a decorator or a bt.subtree()"
            )
        return spec

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
