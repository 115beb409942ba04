"""The decorated function of a ``bt=``/``fsm=`` transition: a hook that runs first on every firing.

The tree or machine routes the tokens, so the hook must return None. Most hooks are empty
(``pass``): those are not called at all, which saves a coroutine per firing.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from ..common.callables import is_async_callable
from ..common.errors import RoutingError
from ..common.interpreter import is_empty_function
from ..hypha import Consumed, FiringContext

__all__ = ["BodyHook", "BodyRunner", "Handler", "body_runner"]

BodyHook = Callable[[Consumed, Any, Any], Any]
"""The decorated function of an embedded transition: ``fn(consumed, bb, timebase)``, returns None."""

Handler = Callable[[Consumed, Any, Any, FiringContext], Any]
"""The hypha handler a ``bt=``/``fsm=`` transition gets: ``async def fire(consumed, bb, timebase, ctx)``."""

BodyRunner = Callable[[Consumed, Any, Any, str], Coroutine[Any, Any, None]]
"""Runs the hook for one firing: ``await run(consumed, bb, timebase, transition_name)``."""


def body_runner(body: BodyHook) -> BodyRunner | None:
    """A coroutine function running the transition's own body, or None when the body is empty."""
    if is_empty_function(body):
        return None
    is_async = is_async_callable(body)

    async def run_body(consumed: Consumed, bb: Any, timebase: Any, transition: str) -> None:
        result = body(consumed.fresh(), bb, timebase)  # a list of its own: the tree or machine gets them all
        if is_async:
            result = await result
        if result is not None:
            raise RoutingError(
                f"transition {transition!r} returned {result!r} from its own body, but with bt= or fsm= "
                "the tree or machine routes the tokens, so the body must return None. Fix: end the body "
                "without returning a value, and route each token from the tree or machine",
                transition=transition,
            )

    return run_body
