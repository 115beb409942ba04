"""Transitions: the frozen transition spec, what a handler receives, and the error policies."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, SupportsIndex, overload

import attrs

from ..common.diagram import Diagram
from ..common.errors import Problem, RoutingError

if TYPE_CHECKING:
    from .runner import Runner

__all__ = [
    "Consumed",
    "FiringContext",
    "HandlerKind",
    "OnError",
    "TransitionSpec",
    "consumed_class",
    "inspect_handler",
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


def _kind_of(fn: Callable[..., Any]) -> HandlerKind:
    if inspect.isasyncgenfunction(fn):
        return HandlerKind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004
        return HandlerKind.COROUTINE
    if inspect.isgeneratorfunction(fn):
        return HandlerKind.GENERATOR
    return HandlerKind.FUNCTION


def inspect_handler(name: str, fn: Any) -> tuple[HandlerKind, bool, list[Problem]]:
    """Classify a transition handler and check its signature; returns (kind, wants_ctx, problems)."""
    problems: list[Problem] = []
    if not callable(fn):
        problems.append(
            Problem(name, f"handler {fn!r} is not callable", "decorate a function (consumed, bb, timebase)")
        )
        return HandlerKind.FUNCTION, False, problems
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: trust the caller
        return _kind_of(fn), False, problems
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    wants_ctx = len(positional) >= 4 and positional[3].name == "ctx"
    required_extra = [p for p in positional[4 if wants_ctx else 3 :] if p.default is inspect.Parameter.empty]
    if len(positional) < 3 and not varargs:
        problems.append(
            Problem(
                name,
                f"handler takes {len(positional)} positional parameter(s), but a transition handler is "
                "called with (consumed, bb, timebase)",
                "declare it as 'async def handler(consumed, bb, timebase)' (optionally a 4th parameter "
                "named 'ctx')",
            )
        )
    elif required_extra:
        extra = ", ".join(p.name for p in required_extra)
        problems.append(
            Problem(
                name,
                f"handler has extra required parameter(s) {extra}; only (consumed, bb, timebase) and an "
                "optional 4th named 'ctx' are passed",
                "remove them, give them defaults, or name the 4th parameter 'ctx'",
            )
        )
    return _kind_of(fn), wants_ctx, problems


def guard_arity(name: str, guard: Any) -> tuple[int, list[Problem]]:
    """How many of (consumed, bb, timebase) a guard takes; guards must be plain functions."""
    if not callable(guard):
        return 0, [Problem(name, f"guard {guard!r} is not callable", "pass a function (consumed, bb)")]
    if inspect.iscoroutinefunction(guard) or inspect.isasyncgenfunction(guard):
        return 0, [
            Problem(
                name,
                "guard is async; guards are evaluated by the scheduler while it chooses what to fire and "
                "cannot await",
                "make the guard a plain 'def guard(consumed, bb)' and do I/O in the handler",
            )
        ]
    try:
        params = list(inspect.signature(guard).parameters.values())
    except (TypeError, ValueError):
        return 2, []
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 3, []
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p.default is inspect.Parameter.empty
    ]
    if not 1 <= len(positional) <= 3:
        return 0, [
            Problem(
                name,
                f"guard takes {len(positional)} required parameter(s)",
                "declare it as 'def guard(consumed)', '(consumed, bb)' or '(consumed, bb, timebase)'",
            )
        ]
    return len(positional), []


@attrs.frozen
class TransitionSpec:
    """A declared transition: handler, guard, priority, concurrency bound and error policy."""

    name: str
    handler: Callable[..., Any] = attrs.field(eq=False, repr=False)
    guard: Callable[..., Any] | None = attrs.field(default=None, eq=False, repr=False)
    priority: int = 0
    concurrency: int = DEFAULT_CONCURRENCY
    on_error: OnError | str = OnError.RETURN
    """``OnError.RETURN`` or the name (in this net) of the error place."""
    retry_delay: float | None = None
    eager: bool = True
    attachment: Diagram | None = attrs.field(default=None, eq=False, repr=False)
    kind: HandlerKind = HandlerKind.COROUTINE
    wants_ctx: bool = False
    guard_arity: int = 0


class Consumed(list[Any]):
    """The tokens one firing consumed: a flat list, and per input place with ``consumed[place]``.

    ``consumed[0]`` / iteration / ``len`` see every token (input arcs in declaration order, tokens
    in the order taken); ``consumed[inbox]`` or ``consumed["inbox"]`` is the list taken from that
    place.  ``consumed.by_place()`` gives them all as a dict keyed by qualified place name.
    Each transition has its own subclass (see :func:`consumed_class`) that knows its input places.
    """

    __slots__ = ()

    _index: ClassVar[Mapping[str, tuple[str, int, int]]] = {}

    @overload
    def __getitem__(self, key: SupportsIndex) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> list[Any]: ...

    @overload
    def __getitem__(self, key: str) -> list[Any]: ...

    def __getitem__(self, key: Any, _item: Any = list.__getitem__) -> Any:
        if key.__class__ is int:  # the common case first: consumed[0]
            return _item(self, key)
        if isinstance(key, str):
            try:
                _, start, stop = self._index[key]
            except KeyError:
                known = sorted({q for q, _, _ in self._index.values()})
                raise KeyError(
                    f"{key!r} is not an input place of this transition (inputs: {known})"
                ) from None
            return _item(self, slice(start, stop))
        return _item(self, key)

    def by_place(self) -> dict[str, list[Any]]:
        """Consumed tokens grouped by the qualified name of the place they came from."""
        out: dict[str, list[Any]] = {}
        for qualified, start, stop in self._index.values():
            out[qualified] = list.__getitem__(self, slice(start, stop))
        return out

    @property
    def token(self) -> Any:
        """The single consumed token (for transitions with one input arc of weight 1)."""
        if len(self) != 1:
            raise ValueError(f"consumed.token needs exactly one token, this firing consumed {len(self)}")
        return list.__getitem__(self, 0)


def consumed_class(index: Mapping[str, tuple[str, int, int]]) -> type[Consumed]:
    """A :class:`Consumed` subclass for one transition: ``index`` maps each name of an input place to
    (qualified name, start, stop) of its tokens in the flat list."""
    return type("Consumed", (Consumed,), {"__slots__": (), "_index": index})


class FiringContext:
    """The optional 4th handler argument ``ctx``: who is firing, private memory, and output routing."""

    __slots__ = (
        "transition",
        "memory",
        "runner",
        "outputs",
        "consumed",
        "bb",
        "timebase",
        "_emitted",
        "_keys",
    )

    def __init__(
        self,
        transition: str,
        memory: dict[str, Any],
        runner: Runner,
        outputs: tuple[str, ...],
        consumed: Consumed,
        bb: Any,
        timebase: Any,
        keys: Mapping[str, Any],
    ) -> None:
        self.transition = transition
        """Qualified name of the transition."""
        self.memory = memory
        """A dict private to this transition in this runner, kept across firings."""
        self.runner = runner
        self.outputs = outputs
        """The transition's output places (refs as written in the net; valid output keys)."""
        self.consumed = consumed
        self.bb = bb
        self.timebase = timebase
        self._emitted: list[tuple[str, Any]] = []
        self._keys = keys

    def emit(self, place: str, token: Any) -> None:
        """Produce ``token`` into output ``place`` when this firing commits (same as returning it)."""
        if place not in self._keys:
            raise RoutingError(
                f"transition {self.transition!r} may not produce into {place!r}: it has no output arc to "
                f"it (outputs: {list(self.outputs)}); add an arc or an 'outputs=' entry",
                transition=self.transition,
                place=str(place),
            )
        self._emitted.append((place, token))

    def emitted(self) -> Iterator[tuple[str, Any]]:
        """What :meth:`emit` collected so far in this firing."""
        return iter(self._emitted)
