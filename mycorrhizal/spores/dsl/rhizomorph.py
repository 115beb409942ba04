"""Behaviour-tree adapters: ``RhizomorphAdapter.log_node`` on leaves, ``log_tree_event`` on functions.

::

    adapter = RhizomorphAdapter()

    @bt.action
    @adapter.log_node(event_type="classify")
    async def classify(bb: Mission) -> Status: ...

After the leaf returns, an event is written with ``node_name``, ``status`` (the leaf's Status; a
condition's True/False as SUCCESS/FAILURE), the blackboard's ``EventAttr`` fields and relationships
to its ``ObjectRef`` objects.  A leaf that raises, or is halted while running, writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from ...common.callables import written_name
from ...rhizomorph import Status
from ..emit import adapter_event
from ..records import Attributes, RawEvent
from ..wrapping import ArgumentFinder, wrap
from .base import Adapter, UserAttributes, blackboard_argument, check_target

__all__ = ["RhizomorphAdapter", "log_tree_event"]

F = TypeVar("F", bound=Callable[..., Any])
_SUCCESS, _FAILURE = Status.SUCCESS, Status.FAILURE  # globals: reading an enum member costs more


def _status(result: Any) -> Status | None:
    if isinstance(result, Status):
        return result
    if isinstance(result, bool):
        return _SUCCESS if result else _FAILURE
    return None


class RhizomorphAdapter(Adapter):
    """Spores decorators for behaviour-tree leaves."""

    __slots__ = ()

    def log_node(
        self, event_type: str, attributes: dict[str, Any] | None = None, log_status: bool = True
    ) -> Callable[[F], F]:
        """Write ``event_type`` each time the decorated leaf returns (goes below ``@bt.action``)."""

        def decorate(fn: F) -> F:
            check_target(fn, "@adapter.log_node(...)", "@bt.action / @bt.condition")
            finder = ArgumentFinder(fn)
            extra = UserAttributes(attributes, fn, f"log_node({event_type!r}) on {written_name(fn)}")
            name = fn.__name__

            def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> RawEvent | None:
                if not self.enabled:
                    return None
                attrs: Attributes = [("node_name", name)]
                status = _status(result) if log_status else None
                if status is not None:
                    attrs.append(("status", status))
                extra.evaluate(args, kwargs, result, attrs)
                return adapter_event(event_type, attrs, finder.get("bb", args, kwargs), [], time.time())

            return wrap(fn, after=after)  # type: ignore[return-value]

        return decorate


def log_tree_event(
    event_type: str, tree_name: str, attributes: dict[str, Any] | None = None
) -> Callable[[F], F]:
    """Write ``event_type`` (with ``tree_name``) each time the decorated function returns.

    For any plain or ``async def`` function, typically the one that runs a tree; its first
    argument is taken as the blackboard (``EventAttr`` fields, ``ObjectRef`` objects), and callable
    attribute values receive it.
    """

    def decorate(fn: F) -> F:
        check_target(fn, "@log_tree_event(...)", "any engine decorator")
        extra = UserAttributes(attributes, fn, f"log_tree_event({event_type!r}) on {written_name(fn)}")
        blackboard = blackboard_argument(ArgumentFinder(fn))

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> RawEvent:
            attrs: Attributes = [("tree_name", tree_name)]
            status = _status(result)
            if status is not None:
                attrs.append(("status", status))
            extra.evaluate(args, kwargs, result, attrs)
            return adapter_event(event_type, attrs, blackboard(args, kwargs), [], time.time())

        return wrap(fn, after=after)  # type: ignore[return-value]

    return decorate
