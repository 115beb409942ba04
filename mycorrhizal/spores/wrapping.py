"""Wrapping user handlers so that the engines still accept them.

The engines inspect what they are given: its signature (which parameters to pass), whether it is
``async def``, a generator or an async generator.  :func:`wrap` returns a wrapper of the same
kind, made with ``functools.wraps`` (so ``inspect.signature`` sees the handler's own parameters
through ``__wrapped__``), that writes an event before and/or after each call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from . import config
from .records import RawEvent

__all__ = ["After", "ArgumentFinder", "Before", "Each", "adispatch", "wrap"]

Before = Callable[[tuple[Any, ...], dict[str, Any]], "RawEvent | None"]
"""Called with (args, kwargs) before the handler; returns the event to write, or None."""
After = Callable[[tuple[Any, ...], dict[str, Any], Any], "RawEvent | None"]
"""Called with (args, kwargs, result) after the handler returned; returns the event, or None.
For generators ``result`` is the list of what the handler yielded."""


class ArgumentFinder:
    """Finds a named parameter's argument in a call, by the handler's own signature."""

    __slots__ = ("_index",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        try:
            names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            names = []
        self._index = {name: i for i, name in enumerate(names)}

    def __contains__(self, name: str) -> bool:
        return name in self._index

    @property
    def first(self) -> str | None:
        """The name of the handler's first parameter (None: it has none, or no signature)."""
        return next(iter(self._index), None)

    def get(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], default: Any = None) -> Any:
        """The argument passed for ``name`` (positionally or by keyword), else ``default``."""
        i = self._index.get(name)
        if i is not None and i < len(args):
            return args[i]
        return kwargs.get(name, default)


def _dispatch(raw: RawEvent | None) -> None:
    if raw is not None:
        config.get_dispatcher().event(raw)


async def adispatch(raw: RawEvent | None) -> None:
    """Deliver ``raw`` (if not None) from async code, awaiting an async transport."""
    if raw is not None:
        dispatcher = config.get_dispatcher()
        if dispatcher.awaits:
            await dispatcher.aevent(raw)
        else:
            dispatcher.event(raw)


def _off() -> bool:
    return not config.get_config().enabled


Each = Callable[[tuple[Any, ...], dict[str, Any], Any], "RawEvent | None"]
"""Called with (args, kwargs, item) for each item a generator handler yields."""


def wrap(
    fn: Callable[..., Any], before: Before | None = None, after: After | None = None, each: Each | None = None
) -> Callable[..., Any]:
    """A wrapper of ``fn``'s kind that writes the events ``before``, ``each`` and ``after`` return.

    ``each`` applies to generator handlers only.  Nothing is written after ``fn`` raises, nor
    while spores is disabled.
    """
    if inspect.isasyncgenfunction(fn):
        wrapper = _wrap_async_generator(fn, before, after, each)
    elif inspect.iscoroutinefunction(fn):
        wrapper = _wrap_coroutine(fn, before, after)
    elif inspect.isgeneratorfunction(fn):
        wrapper = _wrap_generator(fn, before, after, each)
    else:
        wrapper = _wrap_function(fn, before, after)
    # The same wrapper around another function: septum re-makes it around the copy of a class-form
    # handler that sees the state's names (``Events``, sibling states).
    wrapper.__rewrap__ = lambda other: wrap(other, before, after, each)  # type: ignore[attr-defined]
    return wrapper


def _wrap_function(fn: Callable[..., Any], before: Before | None, after: After | None) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _off():
            return fn(*args, **kwargs)
        if before is not None:
            _dispatch(before(args, kwargs))
        result = fn(*args, **kwargs)
        if after is not None:
            _dispatch(after(args, kwargs, result))
        return result

    return wrapper


def _wrap_coroutine(fn: Callable[..., Any], before: Before | None, after: After | None) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not config._state.config.enabled:  # config.current(), read without a call
            return await fn(*args, **kwargs)
        if before is not None:
            await adispatch(before(args, kwargs))
        # Without keywords (the engines pass none), no merge of ``kwargs`` into a new dict.
        result = await (fn(*args, **kwargs) if kwargs else fn(*args))
        if after is not None:
            raw = after(args, kwargs, result)
            if raw is not None:
                dispatcher = config._state.dispatcher
                if dispatcher.awaits:  # an async transport: wait for it (back-pressure)
                    await dispatcher.aevent(raw)
                else:
                    dispatcher.event(raw)
        return result

    return wrapper


def _wrap_generator(
    fn: Callable[..., Any], before: Before | None, after: After | None, each: Each | None
) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        if _off():
            return (yield from fn(*args, **kwargs))
        if before is not None:
            _dispatch(before(args, kwargs))
        produced: list[Any] | None = [] if after is not None else None
        gen = fn(*args, **kwargs)
        try:
            for item in gen:
                if each is not None:
                    _dispatch(each(args, kwargs, item))
                if produced is not None:
                    produced.append(item)
                yield item
        finally:
            gen.close()
        if after is not None:
            _dispatch(after(args, kwargs, produced))

    return wrapper


def _wrap_async_generator(
    fn: Callable[..., Any], before: Before | None, after: After | None, each: Each | None
) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if before is not None and not _off():
            await adispatch(before(args, kwargs))
        produced: list[Any] | None = [] if after is not None else None
        gen = fn(*args, **kwargs)
        try:
            async for item in gen:
                if each is not None and not _off():
                    await adispatch(each(args, kwargs, item))
                if produced is not None:
                    produced.append(item)
                yield item
        finally:
            await gen.aclose()
        if after is not None and not _off():
            await adispatch(after(args, kwargs, produced))

    return wrapper
