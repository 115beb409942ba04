"""Every rule a tree definition must follow, one small checker per rule.

Each checker looks at one thing and returns the :class:`~mycorrhizal.common.Problem` objects it
finds (an empty list when all is well); nothing here raises.  The declaration forms call the leaf
checkers when a leaf is made, and :mod:`.compile` calls the structural ones while it walks a tree,
collecting every problem before raising one :class:`~mycorrhizal.common.DefinitionError`.
Every problem names the node (``kind 'name'``) and ends with what to do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any, TypeGuard, TypeVar

from ..common.callables import is_async_callable
from ..common.errors import DefinitionError, Problem, did_you_mean
from ..common.interface_views import interface_of
from .nodes import (
    CONDITIONED,
    LEAF_PARAMETERS,
    Case,
    Chain,
    Composite,
    Decorator,
    Leaf,
    LeafKind,
    Match,
    Node,
    TryCatch,
)
from .status import ErrorPolicy, Status

__all__ = [
    "check_counts",
    "check_durations",
    "check_error_policy",
    "check_halt_hook",
    "check_leaf_function",
    "check_match",
    "check_retry_on",
    "check_try_catch",
    "check_thresholds",
    "describe",
    "keyword_only",
    "leaf_interface",
    "leaf_parameters",
    "make_leaf",
]

_ALLOWED = ", ".join(LEAF_PARAMETERS)


def describe(node: Node) -> str:
    """How a node is named in error messages: its kind and name."""
    return f"{node.kind} {node.name!r}"


# --------------------------------------------------------------------------------------------- leaves


def _parameter_problem(p: inspect.Parameter, subject: str, role: str) -> Problem | None:
    if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        return Problem(subject, f"the {role} takes *{p.name}", f"name each parameter it needs ({_ALLOWED})")
    if p.name not in LEAF_PARAMETERS:
        return Problem(
            subject,
            f"the {role} asks for parameter {p.name!r}, which a behaviour tree cannot supply",
            f"use only these parameter names: {_ALLOWED}",
        )
    return None


def leaf_parameters(fn: Any, subject: str, role: str) -> tuple[tuple[str, ...], list[Problem]]:
    """Parameter names of a leaf or halt hook, and the problems with them (unknown names, *args ...).

    Keyword-only parameters are fine: :func:`keyword_only` tells whether the call must name them.
    """
    if not callable(fn):
        return (), [Problem(subject, f"the {role} is {fn!r}, not a function", "pass a function")]
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), [
            Problem(subject, f"the signature of the {role} cannot be read", "pass a plain Python function")
        ]
    names: list[str] = []
    problems: list[Problem] = []
    for p in signature.parameters.values():
        problem = _parameter_problem(p, subject, role)
        if problem is None:
            names.append(p.name)
        else:
            problems.append(problem)
    return tuple(names), problems


def keyword_only(fn: Any) -> bool:
    """True if ``fn`` has a keyword-only parameter (so it is called with keyword arguments)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)


def leaf_interface(fn: Any, subject: str) -> tuple[type | None, list[Problem]]:
    """The interface a leaf's ``bb`` parameter is annotated with (None: the blackboard as it is)."""
    try:
        return interface_of(fn, "bb"), []
    except DefinitionError as err:
        return None, [Problem(subject, p.message, p.fix) for p in err.problems]


def make_leaf(
    fn: Callable[..., Any],
    kind: LeafKind,
    name: str | None = None,
    on_halt: Callable[..., Any] | None = None,
    on_error: ErrorPolicy | str | None = None,
) -> tuple[Leaf, list[Problem]]:
    """Build a leaf spec and list what is wrong with it (the caller decides when to raise)."""
    if isinstance(fn, Leaf):  # a @bt.action function given as a function again (in 0.x it was one)
        fn = fn.fn
    label = name or getattr(fn, "__name__", None) or repr(fn)
    subject = f"{kind} {label!r}"
    params, problems = leaf_parameters(fn, subject, kind)
    problems += check_leaf_function(fn, subject)
    interface: type | None = None
    if not problems and "bb" in params:
        interface, more = leaf_interface(fn, subject)
        problems += more
    halt_params: tuple[str, ...] = ()
    if on_halt is not None:
        halt_params, more = check_halt_hook(on_halt, subject)
        problems += more
    policy, more = check_error_policy(on_error, subject)
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
        interface=interface,
        by_keyword=not problems and keyword_only(fn),
    )
    return leaf, problems


def check_leaf_function(fn: Any, subject: str) -> list[Problem]:
    """A leaf returns its status: a generator function cannot be one."""
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        return [
            Problem(
                subject,
                "is a generator function, but a leaf returns its status",
                "return a Status (or a bool for a condition); only composites yield (their children)",
            )
        ]
    return []


def check_halt_hook(hook: Any, subject: str) -> tuple[tuple[str, ...], list[Problem]]:
    """A halt hook's parameters, and its problems: the leaf's rules, and it must not be async."""
    params, problems = leaf_parameters(hook, subject, "halt hook")
    if not problems and is_async_callable(hook):
        problems.append(
            Problem(
                subject,
                "the halt hook is async, but halting happens synchronously",
                "make it a plain function; cleanup that must await belongs in the leaf's "
                "`except asyncio.CancelledError` / `finally` block",
            )
        )
    return params, problems


def check_error_policy(value: Any, subject: str) -> tuple[ErrorPolicy | None, list[Problem]]:
    """The error policy ``value`` names (None: the runner's), or the problem with it."""
    if value is None:
        return None, []
    try:
        return ErrorPolicy(value), []
    except ValueError:
        return None, [
            Problem(
                subject,
                f"on_error={value!r} is not an error policy",
                "use ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE or ErrorPolicy.ERROR",
            )
        ]


# ----------------------------------------------------------------------------------------- composites


def check_source_signature(node: Composite, source: Callable[..., Any]) -> list[Problem]:
    """A composite function takes no parameters: it only yields its children."""
    try:
        params = tuple(inspect.signature(source).parameters)
    except (TypeError, ValueError):
        params = ()
    if not params:
        return []
    return [
        Problem(
            describe(node),
            f"its function takes parameters ({', '.join(params)})",
            "a composite function takes no parameters; it yields its children",
        )
    ]


def not_yielding(node: Composite, produced: Any) -> list[Problem]:
    """A composite function must be a generator (it returned something that is not iterable)."""
    if produced is not None and isinstance(produced, Iterable):
        return []
    return [
        Problem(
            describe(node),
            f"its function returned {produced!r} instead of yielding children",
            "write it as a generator: `yield child` for each child, in order",
        )
    ]


def source_raised(node: Composite, exc: Exception, names: Iterable[str] = ()) -> Problem:
    """The composite function raised while listing the children (a misspelt child: the nearest of
    ``names``, the nodes the tree declares, or what to name)."""
    fix = "fix the generator"
    if isinstance(exc, NameError) and exc.name:
        fix = did_you_mean(
            exc.name,
            names,
            f"declare {exc.name!r} in the tree (a node declared further down is fine) or import it, "
            "or correct the name",
        )
    return Problem(describe(node), f"raised {exc!r} while listing its children", fix)


_F = TypeVar("_F", bound=Callable[..., Any])


def awaiting(factory: _F, what: str, form: str) -> _F:
    """Mark the function a two-step form returns (``bt.match(key)`` waits for its cases): yielded as
    it is, it is reported as ``what``, with ``form`` as the fix."""
    factory._bt_awaits = (what, form)  # type: ignore[attr-defined]
    return factory


def not_a_child(node: Composite, position: int, item: Any) -> Problem:
    """Something a composite yielded (or was given) is not a node."""
    if isinstance(item, Chain):
        steps = ", ".join(wrap.kind for wrap in item.steps)
        return Problem(
            describe(node),
            f"child {position} is a wrapper chain ({steps}) that was not applied to a node",
            "apply it to the node it wraps, e.g. bt.failer()(node) or bt.gate(ok)(node)",
        )
    awaits = getattr(item, "_bt_awaits", None)
    if awaits is not None:
        what, form = awaits
        return Problem(describe(node), f"child {position} is {what}, not a node", f"complete it: {form}")
    hint = (
        "decorate it with @bt.action or @bt.condition"
        if callable(item)
        else "yield nodes declared with @bt.action, @bt.condition, a composite or a decorator"
    )
    return Problem(describe(node), f"child {position} is {item!r}, not a behaviour-tree node", hint)


def no_children(node: Composite) -> Problem:
    """A composite needs at least one child."""
    return Problem(describe(node), "has no children", f"give the {node.composite_kind} at least one child")


def check_thresholds(node: Composite, kid_count: int) -> list[Problem]:
    """A parallel's thresholds are whole numbers from 1 to its number of children."""
    if node.composite_kind != "parallel" or not kid_count:
        return []
    out: list[Problem] = []
    for label, value in (
        ("success_threshold", node.success_threshold),
        ("failure_threshold", node.failure_threshold),
    ):
        if value is not None and not (_whole(value) and 1 <= value <= kid_count):
            out.append(
                Problem(
                    describe(node),
                    f"{label}={value!r} but it has {kid_count} {'child' if kid_count == 1 else 'children'}",
                    f"use a whole number from 1 to {kid_count}",
                )
            )
    return out


# ----------------------------------------------------------------------------------------- decorators


def check_decorated(node: Decorator) -> list[Problem]:
    """A decorator wraps a node (and a guard's, when's or do_while's condition is a node or function)."""
    out: list[Problem] = []
    if node.decorator_kind in CONDITIONED and not (
        isinstance(node.condition, Node) or callable(node.condition)
    ):
        out.append(
            Problem(
                describe(node),
                f"its condition is {node.condition!r}, not a node or function",
                "pass a condition (@bt.condition) or a function of bb returning True/False",
            )
        )
    if not isinstance(node.child, Node):
        out.append(
            Problem(
                describe(node),
                f"decorates {node.child!r}, which is not a node",
                "apply it to a node: put it above @bt.action/@bt.condition/a composite",
            )
        )
    return out


def check_retry_on(node: Decorator) -> list[Problem]:
    """retry's ``retry_on`` names completed statuses (a RUNNING child is never retried)."""
    statuses = node.retry_on
    if statuses is None:
        return []
    if not statuses or not all(isinstance(s, Status) and s is not Status.RUNNING for s in statuses):
        return [
            Problem(
                describe(node),
                f"retry_on={sorted(statuses, key=repr)!r}",
                "list one or more of Status.FAILURE, Status.ERROR, Status.CANCELLED, Status.SUCCESS",
            )
        ]
    return []


def check_try_catch(node: TryCatch) -> list[Problem]:
    """A try_catch has a try block and a catch block, both nodes."""
    return [
        Problem(
            describe(node), f"its {role} block is {block!r}, not a node", f"pass a node as the {role} block"
        )
        for role, block in (("try", node.body), ("catch", node.handler))
        if not isinstance(block, Node)
    ]


def check_match(node: Match) -> list[Problem]:
    """A match has a plain key function (of bb / tb / ctx) and at least one case, each a Case of a node."""
    subject = describe(node)
    _, out = leaf_parameters(node.key, subject, "key function")
    if not out and is_async_callable(node.key):
        out.append(Problem(subject, "the key function is async", "make it a plain function of bb"))
    if not node.cases:
        out.append(
            Problem(
                subject, "has no cases", "give it at least one bt.case(...)(child) or bt.defaultcase(child)"
            )
        )
    for position, case in enumerate(node.cases):
        awaits = getattr(case, "_bt_awaits", None)  # (a bt.case(...) not given its child)
        if awaits is not None:
            what, form = awaits
            out.append(Problem(subject, f"case {position} is {what}, not a case", f"complete it: {form}"))
        elif not isinstance(case, Case):
            out.append(
                Problem(
                    subject,
                    f"case {position} is {case!r}, not a case",
                    "make it with bt.case(matcher)(child)",
                )
            )
        elif not isinstance(case.child, Node):
            out.append(
                Problem(
                    subject, f"case {case.label} runs {case.child!r}, which is not a node", "give it a node"
                )
            )
    return out


def check_counts(node: Decorator) -> list[Problem]:
    """retry/repeat counts are whole numbers >= 1."""
    kind, arg = node.decorator_kind, node.arg
    if kind in ("retry", "repeat") and not (_whole(arg) and arg >= 1):
        if isinstance(arg, Node):  # (the node to wrap, given where the count goes)
            fix = f"give the count, then the node: bt.{kind}(3)(node)"
            return [Problem(describe(node), f"{kind} count is the node {describe(arg)}", fix)]
        return [Problem(describe(node), f"{kind} count is {arg!r}", "use a whole number >= 1")]
    return []


def check_durations(node: Decorator) -> list[Problem]:
    """timeout/rate_limit durations are numbers of seconds > 0."""
    kind, arg = node.decorator_kind, node.arg
    if kind in ("timeout", "rate_limit") and not (
        isinstance(arg, Real) and not isinstance(arg, bool) and arg > 0
    ):
        if isinstance(arg, Node):  # (the node to wrap, given where the seconds go)
            fix = f"give the seconds, then the node: bt.{kind}(5)(node)"
            return [Problem(describe(node), f"{kind} duration is the node {describe(arg)}", fix)]
        return [Problem(describe(node), f"{kind} duration is {arg!r}", "use a number of seconds > 0")]
    return []


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------ the tree


def contains_itself(node: Node, path: tuple[Node, ...]) -> Problem:
    """A node reached again below itself: the tree would be infinite."""
    cycle = " -> ".join(p.name for p in (*path[path.index(node) :], node))
    return Problem(describe(node), f"contains itself ({cycle})", "a tree cannot contain a cycle")


def embeds_itself(node: Node, tree_name: str) -> Problem:
    """A subtree that embeds, somewhere below, the tree it is in."""
    return Problem(describe(node), f"embeds tree {tree_name!r} inside itself", "remove the loop")


def unreachable(node: Node, tree_name: str) -> Problem:
    """A node declared in a ``@bt.tree`` body that the root never reaches (a forgotten ``yield``)."""
    return Problem(
        describe(node),
        f"is declared in tree {tree_name!r} but not reachable from its root",
        "yield it from a composite (or wrap it in a decorator that is), or delete it",
    )
