"""Calling user handlers that may be plain functions or ``async def``.

Engines decide once, when a spec is compiled, whether a handler is async, so a handler that does
not await costs a plain call and no task switch.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable
from typing import Any

__all__ = ["def_name", "is_async_callable", "local_name", "resolve", "shown_name", "written_name"]


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


def def_name(fn: object) -> str | None:
    """``fn``'s ``__name__`` if a ``def`` could have it, else None (a lambda, a partial, an object)."""
    # A fix that says "define it as `def <lambda>(ctx)`" means nothing: callers say something else.
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name):
        return name
    return None


def shown_name(fn: object) -> str:
    """How a message names the callable ``fn``: its ``__name__`` (even ``<lambda>``), else "<type> object"."""
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else f"{type(fn).__name__} object"


def local_name(qualname: str) -> str:
    """``qualname`` as written where it was declared: what follows its last ``<locals>.``."""
    return qualname.rpartition("<locals>.")[2]


def written_name(obj: object) -> str:
    """How a message names a function or class: as written where it was declared (a method after its
    class, ``Hub.handler``), never with the ``<locals>`` of a function around it; else :func:`shown_name`."""
    qualname = getattr(obj, "__qualname__", None)
    return local_name(qualname) if isinstance(qualname, str) else shown_name(obj)
