"""Transitions: the frozen transition spec, the error policies, and what a handler's signature says.

The signature helpers only *describe* a user function (its kind, its positional parameters); the
rules about what a valid handler or guard looks like are checks in :mod:`.checks`.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any

import attrs

from ..common.codecs import CodecRegistry
from ..common.diagram import Diagram

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RETRY",
    "Backoff",
    "GuardSpec",
    "HandlerKind",
    "ListValue",
    "OnError",
    "Signature",
    "TransitionSpec",
    "guard_arity",
    "handler_kind",
    "signature_of",
]

DEFAULT_CONCURRENCY = 16


class OnError(enum.Enum):
    """Error policies that are not a place (a place given as ``on_error`` is an error place)."""

    RETURN = "return"
    """Put the consumed tokens back into their input places (the default)."""


class HandlerKind(enum.Enum):
    """How a handler delivers its outputs; decided once when the net is built."""

    COROUTINE = "async def returning outputs"
    ASYNC_GENERATOR = "async def yielding outputs"
    FUNCTION = "def returning outputs"
    GENERATOR = "def yielding outputs"


class ListValue(enum.Enum):
    """How a handler's output value that is a ``list`` is read (decided per net, by its builder)."""

    SEVERAL = "several tokens"
    """``{out: [a, b]}`` puts two tokens, ``a`` and ``b`` (``[[a, b]]`` is one list token)."""
    ONE = "one token"
    """``{out: [a, b]}`` puts one token, the list (how mycorrhizal 0.x read it)."""


@attrs.frozen
class GuardSpec:
    """A guard that sees every candidate binding at once: ``func(bindings, bb, timebase)`` is a
    generator (plain or async) yielding the binding to fire (from ``builder.guard(func)``).

    ``bindings`` is a list of candidates, each a tuple holding, per input arc in declaration order,
    the tuple of tokens it would take; the first candidate yielded that is not None fires.
    """

    func: Callable[..., Any] = attrs.field(eq=False)


@attrs.frozen
class Backoff:
    """Retry delays after failures in a row: ``first``, then ``factor`` times longer each time, never
    more than ``limit`` (seconds on the runner's timebase)."""

    first: float = 0.1
    factor: float = 2.0
    limit: float = 30.0

    def delay(self, failures: int) -> float:
        """The delay before the retry that follows the ``failures``-th failure in a row (1 for the first)."""
        try:
            return float(min(self.limit, self.first * self.factor ** (failures - 1)))
        except OverflowError:
            return float(self.limit)


DEFAULT_RETRY = Backoff()
"""What a transition does after a failure unless told otherwise: retry after 0.1 s, 0.2 s, 0.4 s...
up to 30 s between tries (and at once when a new token reaches one of its inputs)."""


@attrs.frozen
class TransitionSpec:
    """A declared transition: handler, guard, priority, concurrency bound and error policy."""

    name: str
    handler: Callable[..., Any] = attrs.field(eq=False, repr=False)
    guard: Callable[..., Any] | GuardSpec | None = attrs.field(default=None, eq=False, repr=False)
    """A predicate ``guard(consumed[, bb[, timebase]])`` tried on each binding, or a :class:`GuardSpec`."""
    priority: int = 0
    concurrency: int = DEFAULT_CONCURRENCY
    on_error: OnError | str = OnError.RETURN
    """``OnError.RETURN`` or the name (in this net) of the error place."""
    retry_delay: float | Backoff | None = DEFAULT_RETRY
    """After a failure: retry after this many seconds, or after a :class:`Backoff`, or (None) only
    when a new token reaches one of its inputs."""
    eager: bool = True
    attachment: Diagram | None = attrs.field(default=None, eq=False, repr=False)
    kind: HandlerKind = HandlerKind.COROUTINE
    wants_ctx: bool = False
    guard_arity: int = 0
    state_factory: Callable[[], Any] | None = attrs.field(default=None, eq=False, repr=False)
    """Called once per runner; its result is the handler's 4th argument (instead of ``ctx``)."""
    list_value: ListValue = ListValue.SEVERAL
    """How a ``list`` value in the handler's outputs is read."""
    memory_codecs: Callable[[Any, str, CodecRegistry], object] | None = attrs.field(
        default=None, eq=False, repr=False
    )
    """``memory_codecs(runner, qname, codecs)`` teaches ``codecs`` the live objects this transition
    keeps in ``ctx.memory`` (an embedder's, e.g. mycelium's ``fsm=`` machines) so that snapshots
    write them down and restores rebuild them in that runner.  Called once per runner as it is made,
    with ``runner.codecs``, and by ``runner.snapshot(codecs=registry)`` with that registry (which
    only writes them down: a runner restored with it is made with it, and teaches it then).  In a
    journaled net such objects journal their own changes (see
    :mod:`~mycorrhizal.hypha.memory_journal`)."""


@attrs.frozen
class Signature:
    """The positional parameters of a user function, as far as :mod:`inspect` can tell."""

    known: bool
    """False for callables without a signature (some builtins): trust the caller then."""
    positional: tuple[str, ...] = ()
    """Names of the positional parameters, in order."""
    required: tuple[str, ...] = ()
    """Names of the positional parameters without a default."""
    varargs: bool = False

    @property
    def wants_ctx(self) -> bool:
        """A transition handler whose 4th positional parameter is named ``ctx`` gets a FiringContext."""
        return len(self.positional) >= 4 and self.positional[3] == "ctx"


def signature_of(fn: Any) -> Signature:
    """Describe ``fn``'s positional parameters."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature
        return Signature(known=False)
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return Signature(
        known=True,
        positional=tuple(p.name for p in positional),
        required=tuple(p.name for p in positional if p.default is inspect.Parameter.empty),
        varargs=any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params),
    )


def handler_kind(fn: Any) -> HandlerKind:
    """How ``fn`` delivers outputs: returning or yielding, sync or async."""
    if inspect.isasyncgenfunction(fn):
        return HandlerKind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004
        return HandlerKind.COROUTINE
    if inspect.isgeneratorfunction(fn):
        return HandlerKind.GENERATOR
    return HandlerKind.FUNCTION


def guard_arity(guard: Any) -> int:
    """How many of (consumed, bb, timebase) ``guard`` takes (0 when it fits none of the forms)."""
    if not callable(guard) or inspect.iscoroutinefunction(guard) or inspect.isasyncgenfunction(guard):
        return 0
    sig = signature_of(guard)
    if not sig.known:
        return 2
    if sig.varargs:
        return 3
    count = len(sig.required)
    return count if 1 <= count <= 3 else 0


def transition_options(builder_class: type) -> frozenset[str]:
    """The keywords ``builder_class().transition()`` takes, those its subclasses add included, less
    ``name`` (a transition added to a running net is named by where it goes)."""
    options: set[str] = set()
    for cls in builder_class.__mro__:
        declare = cls.__dict__.get("transition")
        if declare is not None:
            kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            params = inspect.signature(declare).parameters.values()
            options.update(p.name for p in params if p.kind in kinds)
    return frozenset(options - {"self", "name"})
