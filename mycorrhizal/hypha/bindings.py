"""Choosing what a guarded transition takes: candidate bindings, in take order, and the two kinds of
guard that pick one (a predicate tried on each, or a :class:`GuardSpec` generator shown them all)."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Generator, Iterator
from typing import Any

from ..common.errors import HandlerError
from .state import PlaceState

__all__ = ["Binding", "bindings", "pick"]

Binding = tuple[tuple[tuple[int, Any], ...], ...]
"""Per input arc, the (position in take order, token) pairs a candidate takes."""


def bindings(snapshots: list[tuple[PlaceState, list[Any], int]], i: int = 0) -> Iterator[Binding]:
    """Candidate bindings, lazily, in take order: for each input arc, ``weight`` distinct tokens."""
    if i == len(snapshots):
        yield ()
        return
    _, tokens, weight = snapshots[i]
    for picks in itertools.combinations(enumerate(tokens), weight):
        for rest in bindings(snapshots, i + 1):
            yield (picks, *rest)


def pick(
    transition: str, func: Any, shown: list[tuple[tuple[Any, ...], ...]], bb: Any, timebase: Any
) -> int | None:
    """Index in ``shown`` of the binding a :class:`GuardSpec` generator yields first (not None).

    ``shown`` holds the candidates as the guard sees them (per input arc, a tuple of tokens). The
    generator runs inside the scheduler, so an async one must not really wait: if it suspends, that is
    an error. A yielded value that is not one of the candidates is an error too.
    """
    if inspect.isasyncgenfunction(func):
        chosen = _first_async(transition, func(shown, bb, timebase))
    else:
        chosen = _first(func(shown, bb, timebase))
    if chosen is None:
        return None
    for i, candidate in enumerate(shown):
        if candidate is chosen:
            return i
    for i, candidate in enumerate(shown):
        if candidate == chosen:
            return i
    raise HandlerError(
        f"the guard of transition {transition!r} yielded {chosen!r}, which is not one of the candidate "
        "bindings it was given. Fix: yield one of them as it is",
        transition=transition,
    )


def _first(gen: Generator[Any, None, None]) -> Any:
    try:
        for item in gen:
            if item is not None:
                return item
        return None
    finally:
        gen.close()


def _first_async(transition: str, agen: Any) -> Any:
    """The first non-None item of an async generator driven by hand (it must never really wait)."""
    try:
        while True:
            step = agen.__anext__()
            try:
                step.send(None)
            except StopIteration as done:
                if done.value is not None:
                    return done.value
                continue
            except StopAsyncIteration:
                return None
            _abandon(step)
            raise HandlerError(
                f"the guard of transition {transition!r} awaited something that was not ready: guards run "
                "while the scheduler chooses what to fire and cannot wait. Fix: make the guard decide "
                "from its bindings alone, and await in the handler instead",
                transition=transition,
            )
    finally:
        _close(agen)


def _abandon(step: Any) -> None:
    """End an async generator suspended inside ``step`` (its ``__anext__``) at its ``await``.

    ``step.close()`` alone would leave the generator marked as running (Python 3.11): its ``finally``
    blocks would never run and asyncio would log an error closing it at the loop's shutdown.
    """
    try:
        step.throw(GeneratorExit)
    except (GeneratorExit, StopIteration, StopAsyncIteration, RuntimeError):
        pass
    else:  # it caught GeneratorExit and yielded or awaited again
        step.close()


def _close(agen: Any) -> None:
    """Run an async generator's cleanup (``finally`` blocks) by hand."""
    closing = agen.aclose()
    try:
        closing.send(None)
    except (StopIteration, StopAsyncIteration, RuntimeError):
        pass
    else:
        closing.close()
