"""Interface views for handlers: what engines call to honour ``bb: SomeInterface`` annotations.

A handler whose blackboard parameter is annotated with an interface (any class carrying
``_readonly_fields``, e.g. one made by :func:`~mycorrhizal.common.interface_builder.blackboard_interface`)
is given a :class:`~mycorrhizal.common.wrappers.ConstrainedView` of the blackboard instead of the
blackboard itself. An engine does two things:

* when it builds the handler, ``interface = interface_of(handler, "bb")`` (or the parameter's
  position); None means the handler gets the blackboard as it is;
* when it calls it, ``views.view(bb, interface)`` from an :class:`InterfaceViews` it owns, which
  makes one view per (blackboard, interface) and hands out the same one afterwards.

The view is passed to that call only. It never replaces the blackboard (or a context's
``common``) for anyone else: other handlers, unannotated or annotated with another interface,
keep seeing what they asked for.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from .callables import written_name
from .errors import DefinitionError, Problem
from .wrappers import ConstrainedView, create_view_from_protocol

__all__ = ["InterfaceViews", "interface_of", "is_interface"]


def is_interface(obj: object) -> bool:
    """True for a class that declares blackboard fields (it has ``_readonly_fields``)."""
    return isinstance(obj, type) and hasattr(obj, "_readonly_fields")


def _find_interface(annotation: Any) -> type | None:
    """``annotation`` itself if it is an interface, else the first one among its type arguments.

    So ``Iface``, ``SharedContext[Iface]``, ``Iface | None`` and ``Annotated[Iface, ...]`` all count.
    """
    if is_interface(annotation):
        found: type = annotation
        return found
    for argument in typing.get_args(annotation):
        inner = _find_interface(argument)
        if inner is not None:
            return inner
    return None


def _resolve(text: str, handler: Callable[..., Any], parameter: str) -> Any:
    namespace = getattr(inspect.unwrap(handler), "__globals__", {})
    try:
        return eval(text, dict(namespace))  # what typing.get_type_hints does for one annotation
    except Exception as exc:
        name = written_name(handler)
        raise DefinitionError(
            [
                Problem(
                    name,
                    f"the annotation {text!r} of its parameter {parameter!r} cannot be resolved "
                    f"({type(exc).__name__}: {exc})",
                    "import or define that type at module level before the handler is built",
                )
            ],
            what=f"handler {name!r}",
        ) from exc


def interface_of(handler: Callable[..., Any], parameter: str | int) -> type | None:
    """The interface ``handler``'s ``parameter`` (a name or a position) is annotated with, or None.

    Raises :class:`DefinitionError` if that one annotation is a string naming nothing that exists.
    """
    try:
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):  # builtins and other callables without a signature
        return None
    if isinstance(parameter, int):
        chosen = parameters[parameter] if -len(parameters) <= parameter < len(parameters) else None
    else:
        chosen = next((p for p in parameters if p.name == parameter), None)
    if chosen is None or chosen.annotation is inspect.Parameter.empty:
        return None
    annotation = chosen.annotation
    for _ in range(3):  # 'from __future__ import annotations' turns "Iface" into "'Iface'"
        if not isinstance(annotation, str):
            break
        annotation = _resolve(annotation, handler, chosen.name)
    return _find_interface(annotation)


class InterfaceViews:
    """The views an engine hands to annotated handlers: one per (blackboard identity, interface)."""

    __slots__ = ("_views",)

    def __init__(self) -> None:
        self._views: dict[tuple[int, type], ConstrainedView] = {}

    def view(self, bb: Any, interface: type) -> ConstrainedView:
        """The view of ``bb`` through ``interface``, made on first use and reused afterwards."""
        key = (id(bb), interface)
        cached = self._views.get(key)
        if cached is not None and cached.target is bb:  # the id may belong to a new object
            return cached
        made = create_view_from_protocol(bb, interface)
        self._views[key] = made
        return made

    def __len__(self) -> int:
        return len(self._views)
