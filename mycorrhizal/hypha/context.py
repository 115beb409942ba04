"""What a handler receives: the tokens a firing consumed, and the optional firing context ``ctx``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, ClassVar, SupportsIndex, overload

from ..common.errors import HandlerError, RoutingError, did_you_mean
from .coroutines import Produced

__all__ = ["Consumed", "FiringContext", "consumed_class", "named", "taking", "with_context"]


def named(key: Any) -> Any:
    """An output key as the user wrote it, for messages: a ref is its plain name, not ``PlaceRef('x')``."""
    return str(key) if isinstance(key, str) else key


class Consumed(list[Any]):
    """The tokens one firing consumed: a flat list, and per input place with ``consumed[place]``.

    ``consumed[0]`` / iteration / ``len`` see every token (input arcs in declaration order, tokens
    in the order taken); ``consumed[inbox]`` or ``consumed["inbox"]`` is the list taken from that
    place.  ``consumed.by_place()`` gives them all as a dict keyed by qualified place name.
    Each transition has its own subclass (see :func:`consumed_class`) that knows its input places.

    The list is the handler's own to change: the runner goes by the tokens the firing took, which it
    keeps apart (what it gives back, parks, journals and reports).
    """

    __slots__ = ("_took",)

    _took: tuple[Any, ...]
    # The tokens the firing took, as the runner reads them whatever the handler did to the list: set
    # with an attribute store (cheaper than any __init__) once the firing goes further than the
    # scheduler's hot paths (see Scheduler._put_hot), and by taking() everywhere else.

    _index: ClassVar[Mapping[str, tuple[str, int, int]]] = {}
    # (qualified name, start, stop) of each input place once (``_index`` also lists their other
    # names): how observers' records group the tokens by place, read without a lookup of its own.
    _places: ClassVar[tuple[tuple[str, int, int], ...]] = ()

    @overload
    def __getitem__(self, key: SupportsIndex) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> list[Any]: ...

    @overload
    def __getitem__(self, key: str) -> list[Any]: ...

    def __getitem__(self, key: Any, _item: Any = list.__getitem__) -> Any:
        if type(key) is int:  # the common case first: consumed[0]
            return _item(self, key)
        if isinstance(key, str):
            try:
                _, start, stop = self._index[key]
            except KeyError:
                known = sorted({q for q, _, _ in self._index.values()})
                fix = did_you_mean(key, self._index, "name one of those inputs")
                raise KeyError(
                    f"{key!r} is not an input place of this transition (inputs: {known}). Fix: {fix}"
                ) from None
            return _item(self, slice(start, stop))
        return _item(self, key)

    def by_place(self) -> dict[str, list[Any]]:
        """Consumed tokens grouped by the qualified name of the place they came from."""
        out: dict[str, list[Any]] = {}
        for qualified, start, stop in self._index.values():
            out[qualified] = list.__getitem__(self, slice(start, stop))
        return out

    def fresh(self) -> Consumed:
        """A copy of this list (of its class, so with its per-place view), for code that may change it."""
        return taking(type(self), tuple(self))

    @property
    def token(self) -> Any:
        """The single consumed token (for transitions with one input arc of weight 1)."""
        if len(self) != 1:
            inputs = [qualified for qualified, _, _ in self._places]
            raise ValueError(
                f"consumed.token needs exactly one token, this firing (inputs {inputs}) consumed "
                f"{len(self)}. Fix: read consumed[0], consumed['<input place>'] or iterate over consumed"
            )
        return list.__getitem__(self, 0)


def taking(ccls: type[Consumed], took: tuple[Any, ...]) -> Consumed:
    """A firing's list of ``took`` (of the transition's class ``ccls``), knowing what it took."""
    consumed = ccls(took)
    consumed._took = took
    return consumed


def consumed_class(index: Mapping[str, tuple[str, int, int]]) -> type[Consumed]:
    """A :class:`Consumed` subclass for one transition: ``index`` maps each name of an input place to
    (qualified name, start, stop) of its tokens in the flat list."""
    places = tuple(dict.fromkeys(index.values()))
    return type("Consumed", (Consumed,), {"__slots__": (), "_index": index, "_places": places})


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
        "_key_of",
    )

    def __init__(
        self,
        transition: str,
        memory: dict[str, Any],
        runner: Any,
        outputs: tuple[str, ...],
        consumed: Consumed,
        bb: Any,
        timebase: Any,
        keys: Mapping[str, Any],
        key_of: Callable[[str, Consumed], str] | None = None,
    ) -> None:
        self.transition = transition
        """Qualified name of the transition."""
        self.memory = memory
        """A dict private to this transition in this runner, kept across firings."""
        self.runner = runner
        """The :class:`~mycorrhizal.hypha.Runner` running this firing."""
        self.outputs = outputs
        """The transition's output places (refs as written in the net; valid output keys)."""
        self.consumed = consumed
        self.bb = bb
        self.timebase = timebase
        self._emitted: list[tuple[str, Any]] | None = None  # made by the first emit
        self._keys = keys
        self._key_of = key_of

    @property
    def idempotency_key(self) -> str:
        """A key naming this firing's work, the same when it runs again (after a failure, or after a
        crash and ``Runner.recover``): ``"<run>/<transition>/<ids of the consumed tokens>"``.

        Pass it to whatever the handler changes outside the net, so that a repeated attempt is
        recognised there (exactly-once effects).  Only a runner with a ``store=`` has durable token
        ids: elsewhere this raises :class:`~mycorrhizal.common.errors.HandlerError`.
        """
        if self._key_of is None:
            raise HandlerError(
                f"transition {self.transition!r} asked for ctx.idempotency_key, which only a runner with "
                "a store has. Fix: pass store=... to the Runner",
                transition=self.transition,
            )
        return self._key_of(self.transition, self.consumed)

    def emit(self, place: str, token: Any) -> None:
        """Produce ``token`` into output ``place`` when this firing commits (same as returning it)."""
        if place not in self._keys:
            fix = did_you_mean(place, self._keys, "add an arc or an 'outputs=' entry")
            raise RoutingError(
                f"transition {self.transition!r} may not produce into {named(place)!r}: it has no output "
                f"arc to it (outputs: {list(self.outputs)}). Fix: {fix}",
                transition=self.transition,
                place=str(place),
            )
        if self._emitted is None:
            self._emitted = [(place, token)]
        else:
            self._emitted.append((place, token))

    def emitted(self) -> Iterator[tuple[str, Any]]:
        """What :meth:`emit` collected so far in this firing."""
        return iter(self._emitted or ())


class _Made(FiringContext):
    """A :class:`FiringContext` as :func:`with_context` makes one: the same slots and behaviour, made by
    a C call (``_Made()``) and filled in by its caller.  :class:`FiringContext`'s Python ``__init__``
    runs in a nested interpreter loop on 3.11 and 3.12, with its nine arguments packed into a tuple:
    ~3,000 instructions per firing against ~1,000 this way (callgrind)."""

    __slots__ = ()
    __init__ = object.__init__


def with_context(
    handler: Callable[..., Coroutine[Any, Any, Any]], t: Any, runner: Any
) -> Callable[[Consumed, Any, Any], Coroutine[Any, Any, Any]]:
    """``handler(consumed, bb, timebase, ctx)`` as a coroutine function of ``(consumed, bb, timebase)``,
    for the scheduler loop, which awaits every hot handler that way (see ``TransitionState.hot``).

    ``t`` is the transition (a ``TransitionState``), read on every call: a net changed while it runs
    gives it new output places.  What the handler emitted comes back in the result, read as
    :func:`~mycorrhizal.hypha.outputs.output_items` reads a result and emits (a single emit alone as a
    one-item dict, which takes the one-output fast commit), so the firing commits with no ``ctx``.
    """
    make, key_of = _Made, runner.firing_key

    async def call_with_context(consumed: Consumed, bb: Any, timebase: Any) -> Any:
        ctx = make()
        ctx.transition = t.qname
        ctx.memory = t.memory
        ctx.runner = runner
        ctx.outputs = t.flat.output_refs
        ctx.consumed = consumed
        ctx.bb = bb
        ctx.timebase = timebase
        ctx._emitted = None
        ctx._keys = t.out_places
        ctx._key_of = key_of
        result = await handler(consumed, bb, timebase, ctx)
        emitted = ctx._emitted
        if emitted is None:
            return result
        if result is None:
            return dict(emitted) if len(emitted) == 1 else Produced(emitted)
        return Produced([*(result if type(result) is Produced else (result,)), *emitted])

    return call_with_context
