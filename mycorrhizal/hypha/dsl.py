"""The ``@pn.net`` decorator: a thin wrapper that runs ``def Net(builder)`` on a builder and builds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from .builder import NetBuilder as Builder
from .builder import build_net
from .places import PlaceType
from .spec import NetSpec
from .transitions import OnError

__all__ = ["PN", "pn"]


class PN:
    """The ``pn`` namespace: ``@pn.net`` turns ``def Net(builder)`` into a :class:`NetSpec`."""

    PlaceType = PlaceType
    OnError = OnError
    NetBuilder = Builder
    """The builder ``@pn.net`` hands the body (so ``def Net(builder: pn.NetBuilder)`` annotations work)."""

    @overload
    def net(self, body: Callable[..., Any], /) -> NetSpec: ...

    @overload
    def net(
        self, body: None = ..., /, *, name: str | None = ..., builder_class: type[Builder] = ...
    ) -> Callable[[Callable[..., Any]], NetSpec]: ...

    def net(
        self,
        body: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        builder_class: type[Builder] = Builder,
    ) -> NetSpec | Callable[[Callable[..., Any]], NetSpec]:
        """Decorate ``def Net(builder)``; the result is the built net (named after the function).

        The net also answers what 0.x programs ask of a decorated net: ``Net._spec`` (the net itself)
        and ``Net.to_mermaid()``.
        """
        if body is not None:
            return build_net(body, builder_class=builder_class, name=name)

        def decorate(fn: Callable[..., Any]) -> NetSpec:
            return build_net(fn, builder_class=builder_class, name=name)

        return decorate


pn = PN()
"""``@pn.net`` declares a net from a ``def Net(builder)`` function."""
