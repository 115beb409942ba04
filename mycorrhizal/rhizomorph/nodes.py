"""Node specs: the immutable description of every kind of behaviour-tree node.

Specs are frozen attrs classes compared by identity (the same spec yielded from two composites is one
object that appears twice in the compiled tree).  They hold only what the user declared; the tree
compiler (:mod:`.compiler`) turns them into flat tables and tick functions once per tree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..common.callables import is_async_callable
from ..common.errors import Problem
from .status import ErrorPolicy

if TYPE_CHECKING:
    from .tree import Tree

__all__ = [
    "LEAF_PARAMETERS",
    "Composite",
    "Decorator",
    "Leaf",
    "Node",
    "Subtree",
    "check_callable",
]

#: The parameter names a leaf (or halt hook) may declare; each gets the runner's value of that name.
LEAF_PARAMETERS = ("bb", "timebase", "ctx")

LeafKind = Literal["action", "condition"]
CompositeKind = Literal["sequence", "selector", "parallel"]
DecoratorKind = Literal[
    "inverter", "succeeder", "failer", "retry", "repeat", "timeout", "rate_limit", "guard"
]


@attrs.frozen(eq=False)
class Node:
    """Base of every node spec; ``name`` labels it in errors, traces and pictures."""

    name: str

    @property
    def kind(self) -> str:
        """What sort of node this is (``action``, ``sequence``, ``timeout`` ...)."""
        raise NotImplementedError


@attrs.frozen(eq=False)
class Leaf(Node):
    """An action or condition: a user function of ``bb`` / ``timebase`` / ``ctx``."""

    fn: Callable[..., Any]
    leaf_kind: LeafKind
    params: tuple[str, ...]
    #: True when ``fn`` is ``async def`` (decided once, at definition).
    is_async: bool
    #: Called (with the parameters it names) when the leaf is halted while RUNNING.
    on_halt: Callable[..., Any] | None = None
    halt_params: tuple[str, ...] = ()
    #: Overrides the runner's error policy for this leaf.
    on_error: ErrorPolicy | None = None

    @property
    def kind(self) -> str:
        return self.leaf_kind


@attrs.frozen(eq=False)
class Composite(Node):
    """A sequence, selector or parallel node over an ordered list of children."""

    composite_kind: CompositeKind
    #: Explicit children (programmatic form) ...
    children: tuple[Any, ...] = ()
    #: ... or the generator function yielding them (decorator form), called when the tree compiles.
    source: Callable[[], Iterable[Any]] | None = None
    #: Sequence/selector: resume at the RUNNING child (True) or re-evaluate from the first (False).
    memory: bool = True
    success_threshold: int | None = None
    failure_threshold: int | None = None

    @property
    def kind(self) -> str:
        return self.composite_kind


@attrs.frozen(eq=False)
class Decorator(Node):
    """A node with one child whose status it transforms or whose ticking it controls."""

    decorator_kind: DecoratorKind
    child: Any
    #: retry/repeat: a count; timeout/rate_limit: seconds on the timebase.
    arg: float | None = None
    #: guard: the condition node checked before each tick of ``child``.
    condition: Any = None

    @property
    def kind(self) -> str:
        return self.decorator_kind


@attrs.frozen(eq=False)
class Subtree(Node):
    """Another tree embedded at this point (its root is compiled in place)."""

    tree: Tree

    @property
    def kind(self) -> str:
        return "subtree"


def check_callable(fn: Any, subject: str, role: str) -> tuple[tuple[str, ...], list[Problem]]:
    """Parameter names of a leaf/halt hook, and the problems with them (unknown names, *args...)."""
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
    allowed = ", ".join(LEAF_PARAMETERS)
    for p in signature.parameters.values():
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            problems.append(
                Problem(subject, f"the {role} takes *{p.name}", f"name each parameter it needs ({allowed})")
            )
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            problems.append(
                Problem(
                    subject,
                    f"the {role} has keyword-only parameter {p.name!r}",
                    "make it a normal parameter (leaves are called positionally)",
                )
            )
        elif p.name not in LEAF_PARAMETERS:
            problems.append(
                Problem(
                    subject,
                    f"the {role} asks for parameter {p.name!r}, which a behaviour tree cannot supply",
                    f"use only these parameter names: {allowed}",
                )
            )
        else:
            names.append(p.name)
    return tuple(names), problems


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
    params, problems = check_callable(fn, subject, kind)
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        problems.append(
            Problem(
                subject,
                "is a generator function, but a leaf returns its status",
                "return a Status (or a bool for a condition); only composites yield (their children)",
            )
        )
    halt_params: tuple[str, ...] = ()
    if on_halt is not None:
        halt_params, more = check_callable(on_halt, subject, "halt hook")
        problems += more
        if not more and is_async_callable(on_halt):
            problems.append(
                Problem(
                    subject,
                    "the halt hook is async, but halting happens synchronously",
                    "make it a plain function; cleanup that must await belongs in the leaf's "
                    "`except asyncio.CancelledError` / `finally` block",
                )
            )
    policy: ErrorPolicy | None = None
    if on_error is not None:
        try:
            policy = ErrorPolicy(on_error)
        except ValueError:
            problems.append(
                Problem(
                    subject,
                    f"on_error={on_error!r} is not an error policy",
                    "use ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE or ErrorPolicy.ERROR",
                )
            )
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
