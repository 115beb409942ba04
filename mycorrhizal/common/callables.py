"""Calling user handlers that may be plain functions or ``async def``.

Engines decide once, when a spec is compiled, whether a handler is async, so a handler that does
not await costs a plain call and no task switch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["is_async_callable", "resolve"]


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for ``async def`` functions (and callables whose ``__call__`` is one)."""
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - we want the attribute, not callable()
    return call is not None and inspect.iscoroutinefunction(call)


async def resolve(value: Any) -> Any:
    """Await ``value`` if it is awaitable, else return it as is."""
    if inspect.isawaitable(value):
        return await value
    return value
