"""Node specs: the immutable description of every kind of behaviour-tree node.

Specs are frozen attrs classes compared by identity (the same spec yielded from two composites is one
object that appears twice in the compiled tree).  They hold only what the user declared; checking
them and turning them into flat tables is the compiler's work (:mod:`.compile`), and the tree that
embeds another tree (:class:`~.tree.Subtree`) lives with :class:`~.tree.Tree`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs

from .status import ErrorPolicy

__all__ = ["LEAF_PARAMETERS", "Composite", "Decorator", "Leaf", "Node"]

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
