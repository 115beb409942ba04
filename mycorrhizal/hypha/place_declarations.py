"""Declaring places: plain places, IO sources and IO sinks, each as a call or as a decorator.

:class:`PlaceDeclarations` is part of :class:`~mycorrhizal.hypha.builder.NetBuilder`; it turns each
form into a :class:`PlaceSpec` and hands it to the builder's ``_add_place``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from ..common.errors import Problem
from .places import PlaceKind, PlaceRef, PlaceSpec, PlaceType, SinkHandler, SourceFactory

__all__ = ["PlaceDeclarations"]

_F = TypeVar("_F")
_R = TypeVar("_R")


class PlaceDeclarations:
    """``place``, ``io_input_place`` and ``io_output_place`` of a net builder."""

    _problems: list[Problem]
    _unapplied: dict[object, tuple[str, str, str]]

    def _add_place(self, spec: PlaceSpec) -> PlaceRef:
        raise NotImplementedError  # the builder records the place

    def _expect_function(
        self, decorate: Callable[[_F], _R], what: str, call: str, fix: str = ""
    ) -> Callable[[_F], _R]:
        """``decorate`` as the call form ``call`` returns it, remembered until it is applied to a
        function: one never applied declared nothing, and build() reports it (``what`` names it)."""
        key = object()
        fix = fix or f"put @{call} above the function, or call it with the function: {call}(fn)"
        self._unapplied[key] = (what, call, fix)

        def apply(fn: _F) -> _R:
            self._unapplied.pop(key, None)
            return decorate(fn)

        return apply

    def _unapplied_problems(self) -> list[Problem]:
        return [
            Problem(what, f"{call} was called but never applied to a function, so nothing was declared", fix)
            for what, call, fix in self._unapplied.values()
        ]

    @overload
    def place(
        self,
        name: str,
        type: PlaceType = ...,
        capacity: int | None = ...,
        initial: Iterable[Any] = ...,
        state_factory: Callable[[], Any] | None = ...,
    ) -> PlaceRef: ...

    @overload
    def place(self, name: Callable[..., Any], /) -> PlaceRef: ...

    @overload
    def place(
        self,
        name: None = ...,
        type: PlaceType = ...,
        capacity: int | None = ...,
        initial: Iterable[Any] = ...,
        state_factory: Callable[[], Any] | None = ...,
    ) -> Callable[[Callable[..., Any]], PlaceRef]: ...

    def place(
        self,
        name: str | Callable[..., Any] | None = None,
        type: PlaceType = PlaceType.QUEUE,
        capacity: int | None = None,
        initial: Iterable[Any] = (),
        state_factory: Callable[[], Any] | None = None,
    ) -> PlaceRef | Callable[[Callable[..., Any]], PlaceRef]:
        """Declare a place; ``initial`` tokens are there when a runner is created.

        Also a decorator: ``@builder.place`` or ``@builder.place(type=...)`` on a function declares a
        place named after it.  The function is kept as the place's ``handler`` and ``state_factory``
        with it (0.x's forms, see docs/compat.md); neither is ever called.
        """
        if callable(name) and not isinstance(name, str):
            return self._plain_place(name.__name__, type, capacity, initial, name, state_factory)
        if name is None:

            def decorate(fn: Callable[..., Any]) -> PlaceRef:
                return self._plain_place(fn.__name__, type, capacity, initial, fn, state_factory)

            fix = "name the place, builder.place('name', ...), or put @builder.place(...) above a function"
            return self._expect_function(decorate, "a place", "builder.place(...)", fix)
        return self._plain_place(name, type, capacity, initial, None, state_factory)

    def _plain_place(
        self,
        name: str,
        type: PlaceType,
        capacity: int | None,
        initial: Iterable[Any],
        handler: Callable[..., Any] | None,
        state_factory: Callable[[], Any] | None,
    ) -> PlaceRef:
        if isinstance(initial, (str, bytes)):
            self._problems.append(
                Problem(
                    f"place {name!r}",
                    "initial is a string, which would make one token per character",
                    "pass a list of tokens, e.g. initial=['job']",
                )
            )
            initial = ()
        elif not isinstance(initial, Iterable):
            self._problems.append(
                Problem(
                    f"place {name!r}",
                    f"initial={initial!r} is not a collection of tokens",
                    f"pass a list of tokens, e.g. initial=[{initial!r}] for one token",
                )
            )
            initial = ()
        spec = PlaceSpec(name, type, capacity, tuple(initial), handler=handler, state_factory=state_factory)
        return self._add_place(spec)

    @overload
    def io_input_place(
        self, name: str, source: SourceFactory, *, type: PlaceType = ..., capacity: int | None = ...
    ) -> PlaceRef: ...

    @overload
    def io_input_place(
        self, name: str | None = ..., source: None = ..., *, type: PlaceType = ..., capacity: int | None = ...
    ) -> Callable[[SourceFactory], PlaceRef]: ...

    def io_input_place(
        self,
        name: str | Callable[..., Any] | None = None,
        source: SourceFactory | None = None,
        *,
        type: PlaceType = PlaceType.QUEUE,
        capacity: int | None = None,
    ) -> PlaceRef | Callable[[SourceFactory], PlaceRef]:
        """A place fed by ``async def source(bb, timebase)`` yielding tokens (also usable as a decorator).

        The runner starts the source on ``start()``; a full place makes the source wait (back-pressure).
        """
        if callable(name) and not isinstance(name, str) and source is None:
            fn = name
            return self._add_io_input(fn.__name__, fn, type, capacity)
        if source is not None:
            return self._add_io_input(str(name), source, type, capacity)

        def decorate(fn: SourceFactory) -> PlaceRef:
            return self._add_io_input(fn.__name__ if name is None else str(name), fn, type, capacity)

        what = "an io_input_place" if name is None else f"io_input_place {name!r}"
        return self._expect_function(decorate, what, "builder.io_input_place(...)")

    def _add_io_input(self, name: str, source: Any, type: PlaceType, capacity: int | None) -> PlaceRef:
        return self._add_place(PlaceSpec(name, type, capacity, (), PlaceKind.IO_INPUT, source=source))

    @overload
    def io_output_place(
        self,
        name: str,
        sink: SinkHandler,
        *,
        type: PlaceType = ...,
        capacity: int | None = ...,
        on_error: str | None = ...,
    ) -> PlaceRef: ...

    @overload
    def io_output_place(
        self,
        name: str | None = ...,
        sink: None = ...,
        *,
        type: PlaceType = ...,
        capacity: int | None = ...,
        on_error: str | None = ...,
    ) -> Callable[[SinkHandler], PlaceRef]: ...

    def io_output_place(
        self,
        name: str | Callable[..., Any] | None = None,
        sink: SinkHandler | None = None,
        *,
        type: PlaceType = PlaceType.QUEUE,
        capacity: int | None = None,
        on_error: str | None = None,
    ) -> PlaceRef | Callable[[SinkHandler], PlaceRef]:
        """A place drained by ``async def sink(token, bb, timebase)``, one token at a time, in order.

        ``capacity`` bounds how many tokens may wait for the sink (back-pressure on producers).
        ``on_error`` names a place (in this net) where a token goes, as a ``FailedToken``, if the sink raises.
        """
        if callable(name) and not isinstance(name, str) and sink is None:
            fn = name
            return self._add_io_output(fn.__name__, fn, type, capacity, on_error)
        if sink is not None:
            return self._add_io_output(str(name), sink, type, capacity, on_error)

        def decorate(fn: SinkHandler) -> PlaceRef:
            return self._add_io_output(
                fn.__name__ if name is None else str(name), fn, type, capacity, on_error
            )

        what = "an io_output_place" if name is None else f"io_output_place {name!r}"
        return self._expect_function(decorate, what, "builder.io_output_place(...)")

    def _add_io_output(
        self, name: str, sink: Any, type: PlaceType, capacity: int | None, on_error: str | None
    ) -> PlaceRef:
        err = None if on_error is None else str(on_error)
        return self._add_place(
            PlaceSpec(name, type, capacity, (), PlaceKind.IO_OUTPUT, sink=sink, on_error=err)
        )
