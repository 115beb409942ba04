"""What user functions are called with, fixed once per runner.

The scheduler calls every handler as ``handler(consumed, bb, timebase[, ctx])``, every sink as
``sink(token, bb, timebase)`` and every source as ``source(bb, timebase)``.  A function that wants
something else gets a small adapter here, when the runner is made, so the firing paths never test for
it:

* a ``bb`` parameter annotated with an interface (``bb: Orders``) gets a view of the blackboard
  (:mod:`mycorrhizal.common.interface_views`), the same view on every call;
* a transition declared with ``state_factory`` gets the state it made, once per runner, as its 4th
  argument;
* a sink or a source that takes fewer parameters gets only the first ones (``sink(token)``,
  ``source()``);
* the scheduler loop awaits a hot handler (``TransitionState.hot``) as
  ``hot_call(consumed, bb, timebase)``: the handler itself, or for one taking ``ctx`` an adapter that
  makes its ``ctx`` (:func:`.context.with_context`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..common.errors import HandlerError, fix_last
from ..common.interface_views import InterfaceViews
from .compile import FlatNet, IOCall
from .context import with_context
from .places import PlaceKind, SourceFactory
from .state import PlaceState, TransitionState

__all__ = ["bind_arguments", "bind_handlers"]


def bind_arguments(
    flat: FlatNet, places: list[PlaceState], transitions: list[TransitionState], bb: Any, runner: Any
) -> list[tuple[PlaceState, SourceFactory]]:
    """Adapt the handlers and sinks of ``runner`` in place; return its sources, adapted likewise."""
    views = bind_handlers(transitions, bb, runner)
    sources = []
    for p, fp in zip(places, flat.places, strict=True):
        if fp.io is None:
            continue
        if p.kind is PlaceKind.IO_OUTPUT and p.sink is not None:
            p.sink = _bind_sink(p.sink, fp.io, bb, views)
        elif p.kind is PlaceKind.IO_INPUT and fp.spec.source is not None:
            sources.append((p, _bind_source(fp.spec.source, fp.io, bb, views)))
    return sources


def bind_handlers(
    transitions: list[TransitionState], bb: Any, runner: Any, views: InterfaceViews | None = None
) -> InterfaceViews:
    """Adapt the handlers of ``transitions`` of ``runner`` in place (also those a running net gains);
    returns the views made."""
    views = InterfaceViews() if views is None else views
    for t in transitions:
        _bind_handler(t, bb, views)
        t.hot_call = with_context(t.handler, t, runner) if t.wants_ctx else t.handler
    return views


def _board(bb: Any, interface: type | None, views: InterfaceViews) -> Any:
    return bb if interface is None else views.view(bb, interface)


def _bind_handler(t: TransitionState, bb: Any, views: InterfaceViews) -> None:
    spec, interface = t.flat.spec, t.flat.interface
    if spec.state_factory is None and interface is None:
        return
    handler, board = spec.handler, _board(bb, interface, views)
    if spec.state_factory is not None:
        try:
            state = spec.state_factory()
        except Exception as exc:
            said = f"the state_factory of transition {t.qname!r} raised {type(exc).__name__}: {exc}"
            fix = f"make the state_factory of {t.qname!r} return the handler's state without raising"
            raise HandlerError(fix_last(said, "", otherwise=fix), transition=t.qname) from exc
        t.handler = lambda consumed, _bb, timebase: handler(consumed, board, timebase, state)
    elif t.wants_ctx:
        t.handler = lambda consumed, _bb, timebase, ctx: handler(consumed, board, timebase, ctx)
    else:
        t.handler = lambda consumed, _bb, timebase: handler(consumed, board, timebase)


def _bind_sink(sink: Callable[..., Any], io: IOCall, bb: Any, views: InterfaceViews) -> Callable[..., Any]:
    if io.arity >= 3 and io.interface is None:
        return sink
    board = _board(bb, io.interface, views)
    if io.arity == 1:
        return lambda token, _bb, _timebase: sink(token)
    if io.arity == 2:
        return lambda token, _bb, _timebase: sink(token, board)
    return lambda token, _bb, timebase: sink(token, board, timebase)


def _bind_source(source: SourceFactory, io: IOCall, bb: Any, views: InterfaceViews) -> SourceFactory:
    if io.arity >= 2 and io.interface is None:
        return source
    board = _board(bb, io.interface, views)
    call: Callable[..., Any] = source
    if io.arity == 0:
        return lambda _bb, _timebase: call()
    if io.arity == 1:
        return lambda _bb, _timebase: call(board)
    return lambda _bb, timebase: call(board, timebase)
