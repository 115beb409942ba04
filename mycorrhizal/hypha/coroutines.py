"""Driving handler coroutines by hand, so that a handler that does not suspend costs no task.

A coroutine handler is first driven by hand (``coro.send(None)``).  If it finishes in that step
(no real I/O), the firing completes inline: no task, no loop iteration.  If it suspends, the
half-run coroutine is handed to an asyncio task through :class:`Continue`, which resumes it
exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from typing import Any

__all__ = ["Continue", "Produced", "collect", "collect_async", "merge_outputs"]


class Continue:
    """Awaitable that resumes a coroutine already advanced by hand to its first suspension."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.coro
        value = self.first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and errors go to the handler where it waits
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class Produced(list[Any]):
    """Everything a generator handler yielded, when that is more than one item: each item is read
    as if it had been returned on its own (a dict, or a ``(place, token)`` pair)."""

    __slots__ = ()


def merge_outputs(chunks: list[Any]) -> Any:
    """What a generator handler's yields amount to: None, the one item it yielded, or :class:`Produced`."""
    items = [chunk for chunk in chunks if chunk is not None]
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return Produced(items)


async def collect_async(agen: AsyncIterator[Any]) -> Any:
    """Everything an async generator handler yields, merged (outputs commit together at the end)."""
    return merge_outputs([chunk async for chunk in agen])


def collect(gen: Iterator[Any]) -> Any:
    """Everything a plain generator handler yields, merged."""
    return merge_outputs(list(gen))
