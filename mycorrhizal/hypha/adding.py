"""Tokens put into a place from outside the net: the checks ``add_token`` and ``add_tokens`` make.

Each refuses before anything moves, naming the place and saying what to do: a full place (all or
nothing for a batch), a batch that is a single string or bytes value, which would otherwise be
split silently into one token per character, and a batch that is a single value of another kind.
Also the error for a place (or a transition) that a runner call names and the net lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..common.errors import CapacityError, ExecutionError, RoutingError, did_you_mean
from .state import PlaceState

__all__ = ["batch", "check_room", "unknown"]


def unknown(net: str, kind: str, name: Any, known: list[str], accepted: Iterable[str]) -> RoutingError:
    """The error for ``name``, which names no ``kind`` ("place" or "transition") of ``net``.

    ``known`` are the qualified names the message lists; ``accepted`` every name a runner takes
    for one (bare and qualified), among which the nearest is suggested.
    """
    fix = did_you_mean(name, accepted, f"name one of those {kind}s")
    return RoutingError(
        f"net {net!r} has no {kind} {name!r}; {kind}s: {known}. Fix: {fix}", **{kind: str(name)}
    )


def check_room(p: PlaceState) -> None:
    """Refuse (``CapacityError``) one more token in a full place ``p``."""
    if p.capacity is not None and len(p.tokens) + p.reserved >= p.capacity:
        raise CapacityError(
            f"place {p.qname!r} is full (capacity {p.capacity}). Fix: wait for room (run_until_idle) or "
            "raise its capacity",
            place=p.qname,
        )


def batch(p: PlaceState, tokens: Iterable[Any]) -> list[Any]:
    """``tokens`` as a list to put into ``p``, if it is a collection of tokens and they all fit."""
    if isinstance(tokens, str | bytes | bytearray):
        raise ExecutionError(
            f"place {p.qname!r}: add_tokens was given the {type(tokens).__name__} {tokens[:40]!r}, which "
            f"would become one token per character. Fix: pass a list of tokens, "
            f"add_tokens({p.qname!r}, [token]), or use add_token({p.qname!r}, token)",
            place=p.qname,
        )
    if not isinstance(tokens, Iterable):  # one token given where a batch was meant
        raise ExecutionError(
            f"place {p.qname!r}: add_tokens was given the {type(tokens).__name__} {tokens!r:.40}, which is "
            f"not a collection of tokens. Fix: pass a list of tokens, add_tokens({p.qname!r}, [token]), "
            f"or use add_token({p.qname!r}, token)",
            place=p.qname,
        )
    listed = list(tokens)
    if p.capacity is not None and len(p.tokens) + p.reserved + len(listed) > p.capacity:
        raise CapacityError(
            f"place {p.qname!r} has room for {p.room()} more token(s), not {len(listed)}. Fix: add fewer or "
            "raise its capacity",
            place=p.qname,
        )
    return listed
