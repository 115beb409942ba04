"""What a handler's outputs mean: every form a handler may return, yield or emit, read into
(place key, value) pairs.  One reading for every runner of a net (the local runner and the
distributed worker alike).

* a dict ``{place: value}``; the key ``"*"`` stands for every output place not named in the same
  dict;
* a pair ``(place, value)``;
* ``None`` (nothing), or, from a generator handler, several of these (:class:`Produced`);
* what ``ctx.emit(place, value)`` collected.

Whether a ``list`` value is several tokens or one is the transition's :class:`ListValue`: see
:func:`tokens_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..common.errors import HandlerError
from .coroutines import Produced

__all__ = ["output_items", "tokens_of"]


def output_items(
    transition: str,
    result: Any,
    emitted: Iterable[tuple[Any, Any]],
    output_refs: Sequence[str],
    resolve: Callable[[Any], object],
) -> list[tuple[Any, Any]]:
    """The (key, value) pairs of one firing, in order; raises :class:`HandlerError` for a result that
    is none of the forms.  ``resolve(key)`` tells which output place a key names (None: none), so that
    ``"*"`` goes to each of ``output_refs`` not already named."""
    items: list[tuple[Any, Any]] = []
    for chunk in result if type(result) is Produced else (result,):
        if chunk is None:
            continue
        if type(chunk) is tuple and len(chunk) == 2:
            items.append(chunk)  # (place, token)
        elif not isinstance(chunk, dict):
            raise HandlerError(
                f"transition {transition!r} returned {type(chunk).__name__} {chunk!r}, which is not an "
                "output. Fix: return (or yield) a dict {place: token}, a pair (place, token), or None",
                transition=transition,
            )
        elif "*" in chunk:
            items.extend(_everywhere(chunk, output_refs, resolve))
        else:
            items.extend(chunk.items())
    items.extend(emitted)
    return items


def _everywhere(
    chunk: dict[Any, Any], output_refs: Sequence[str], resolve: Callable[[Any], object]
) -> list[tuple[Any, Any]]:
    """A dict with the key ``"*"``: its value goes to every output place not named in the same dict."""
    named = {resolve(key) for key in chunk if key != "*" and isinstance(key, str)}
    items = [(key, value) for key, value in chunk.items() if key != "*"]
    value = chunk["*"]
    seen = set(named)
    for ref in output_refs:
        place = resolve(ref)
        if place not in seen:
            seen.add(place)
            items.append((ref, value))
    return items


def tokens_of(value: Any, split: bool) -> list[Any]:
    """The tokens one output value stands for: a list is several when ``split`` (the native reading),
    else (0.x's reading) one token, like any other value."""
    return value if type(value) is list and split else [value]
