"""Handlers whose ``ctx`` is annotated with a blackboard interface see ``ctx.common`` through a view.

``async def on_state(ctx: Context[Ops])`` (0.x: ``ctx: SharedContext[Ops]``), where ``Ops`` is an
interface (e.g. made by ``@blackboard_interface``), gets for each call a ctx whose ``common`` is a
:class:`~mycorrhizal.common.wrappers.ConstrainedView` of the blackboard through ``Ops``: reading a
field the interface does not declare fails, writing a read-only one raises ``AccessControlError``,
writes to read-write fields go to the blackboard itself.  The view is that call's only: other
handlers, annotated or not, see what they asked for (0.x kept the first view for good).
Everything else of the ctx (``msg``, ``send_message``, ``state`` ...) is the machine's ctx.
"""

from __future__ import annotations

import functools
from typing import Any

from ..common.callables import is_async_callable
from ..common.interface_views import interface_of
from ..common.wrappers import create_view_from_protocol
from .plan import Handler

__all__ = ["ViewedContext", "viewed"]


class ViewedContext:
    """The machine's ctx with ``common`` seen through an interface, for one handler call."""

    __slots__ = ("_ctx", "common")

    def __init__(self, ctx: Any, common: Any) -> None:
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "common", common)

    def __getattr__(self, key: str) -> Any:
        return getattr(self._ctx, key)

    def __setattr__(self, key: str, value: Any) -> None:
        setattr(self._ctx, key, value)  # (``common`` stays the view: it is a slot of this object)

    def __repr__(self) -> str:
        return f"<septum ctx through {type(self.common).__name__} {self._ctx!r}>"


def viewed(fn: Handler) -> Handler:
    """``fn`` itself, or, if its ``ctx`` is annotated with an interface, ``fn`` given a viewed ctx.

    Raises :class:`~mycorrhizal.common.DefinitionError` if that annotation names nothing that exists.
    """
    interface = interface_of(fn, 0)
    if interface is None:
        return fn
    make = create_view_from_protocol
    call: Handler
    if is_async_callable(fn):

        async def call(ctx: Any) -> Any:
            return await fn(ViewedContext(ctx, make(ctx.common, interface)))

    else:

        def call(ctx: Any) -> Any:
            return fn(ViewedContext(ctx, make(ctx.common, interface)))

    functools.update_wrapper(call, fn)
    return call
