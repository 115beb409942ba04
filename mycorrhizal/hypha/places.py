"""Places: where tokens live.  Kinds, references and the frozen place spec.

A *reference* (:class:`PlaceRef`, :class:`TransitionRef`) is what the builder hands back when a
place or transition is declared.  It is a ``str`` (the element's name relative to the net that
declared it, e.g. ``"inbox"`` or ``"worker1.inbox"``), so it can be used wherever a name can: as a
key of a handler's output dict, in ``runner.add_token`` and ``runner.marking()[...]``.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self

import attrs

__all__ = [
    "FailedToken",
    "PlaceKind",
    "PlaceRef",
    "PlaceSpec",
    "PlaceType",
    "SinkHandler",
    "SourceFactory",
    "TransitionRef",
]

SourceFactory = Callable[[Any, Any], AsyncIterator[Any]]
"""An IO source: ``async def source(bb, timebase)`` that yields tokens."""

SinkHandler = Callable[[Any, Any, Any], Awaitable[Any] | Any]
"""An IO sink: ``async def sink(token, bb, timebase)`` called once per token that reaches it."""


class PlaceType(enum.Enum):
    """How a place orders its tokens."""

    QUEUE = "queue"
    """FIFO: tokens are taken (and shown to guards) in arrival order."""
    BAG = "bag"
    """Multiset: no order promised; taking or removing any token is O(1)."""


class PlaceKind(enum.Enum):
    """What a place is connected to besides transitions."""

    PLAIN = "place"
    """An ordinary place."""
    IO_INPUT = "io_input"
    """Fed by an async source started with the runner; transitions only consume from it."""
    IO_OUTPUT = "io_output"
    """Drained by a sink handler; transitions only produce into it."""


class _Ref(str):
    """A name relative to the declaring net that also knows that net's name (for ``fqn``/``parts``)."""

    _net: str | None

    def __new__(cls, name: str, net: Any = None) -> Self:
        ref = super().__new__(cls, name)
        # 0.x made refs as PlaceRef(local_name, parent_spec): a net spec stands for its name
        ref._net = net if net is None or isinstance(net, str) else str(getattr(net, "name", net))
        return ref

    @property
    def local_name(self) -> str:
        """The element's own name, without the subnet path (``"inbox"`` for ``"worker1.inbox"``)."""
        return self.rpartition(".")[2]

    @property
    def fqn(self) -> str:
        """Dotted name from the declaring net down (``"Top.worker1.inbox"``); the relative name when that
        net is not known (a ref made by hand)."""
        net = getattr(self, "_net", None)
        return str(self) if net is None else f"{net}.{self}"

    @property
    def parts(self) -> tuple[str, ...]:
        """:attr:`fqn` split at the dots: the key of this element in ``runner.runtime.places``."""
        return tuple(self.fqn.split("."))

    def get_fqn(self) -> str:
        """:attr:`fqn` (the 0.x spelling)."""
        return self.fqn

    def get_parts(self) -> tuple[str, ...]:
        """:attr:`parts` (the 0.x spelling)."""
        return self.parts


class PlaceRef(_Ref):
    """A reference to a place: its name relative to the net that declared it.

    Calling it with a function, ``ref(fn)``, attaches ``fn`` to the place as its ``handler`` (0.x's
    form; the function is kept on the :class:`PlaceSpec`, never called) and returns the ref.
    """

    _owner: Any = None

    def __call__(self, fn: Callable[..., Any]) -> PlaceRef:
        """Attach ``fn`` to the place as its handler (kept, never called) and return this ref."""
        owner = None if self._owner is None else self._owner()
        if owner is None:
            raise TypeError(
                f"place {str(self)!r}: this ref was not handed out by a net builder still declaring its "
                "net, so it has no place to attach a function to. Fix: call the ref returned by "
                "builder.place(...) before the net is built"
            )
        owner._attach_handler(self, fn)
        return self

    def __repr__(self) -> str:
        return f"PlaceRef({str.__repr__(self)})"


class TransitionRef(_Ref):
    """A reference to a transition: its name relative to the net that declared it."""

    def __repr__(self) -> str:
        return f"TransitionRef({str.__repr__(self)})"


@attrs.frozen
class PlaceSpec:
    """A declared place: name, ordering, capacity, initial tokens and IO role."""

    name: str
    type: PlaceType = PlaceType.QUEUE
    capacity: int | None = None
    initial: tuple[Any, ...] = ()
    kind: PlaceKind = PlaceKind.PLAIN
    source: SourceFactory | None = attrs.field(default=None, eq=False, repr=False)
    sink: SinkHandler | None = attrs.field(default=None, eq=False, repr=False)
    on_error: str | None = None
    """IO output places only: the place (name in the same net) a token goes to when the sink raises."""
    handler: Callable[..., Any] | None = attrs.field(default=None, eq=False, repr=False)
    """A function attached to a plain place (``@builder.place`` or ``ref(fn)``, 0.x's forms): kept with
    the place for programs that read it back, never called (0.x never called it either)."""
    state_factory: Callable[[], Any] | None = attrs.field(default=None, eq=False, repr=False)
    """0.x's ``place(..., state_factory=...)``: kept with the place, never called (a transition's
    ``state_factory`` is the one that makes state for a handler)."""

    @property
    def place_type(self) -> PlaceType:
        """:attr:`type` (0.x's field name)."""
        return self.type

    @property
    def is_io_input(self) -> bool:
        """Whether an IO source feeds the place (0.x's field; here :attr:`kind`)."""
        return self.kind is PlaceKind.IO_INPUT

    @property
    def is_io_output(self) -> bool:
        """Whether an IO sink drains the place (0.x's field; here :attr:`kind`)."""
        return self.kind is PlaceKind.IO_OUTPUT


@attrs.frozen
class FailedToken:
    """A consumed token sent to an error place because a handler raised; the exception is attached."""

    token: Any
    error: BaseException = attrs.field(eq=False)
    transition: str
    place: str
    """Qualified name of the place the token was consumed from."""
