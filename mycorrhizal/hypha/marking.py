"""Runtime state of places, and the read-only :class:`Marking` snapshot a runner hands out."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .compiled import FlatPlace
from .places import PlaceKind, PlaceType

if TYPE_CHECKING:
    from .runner import _Transition

__all__ = ["Marking"]


class _Place:
    """A place at run time: its tokens and who to wake when they change."""

    __slots__ = (
        "index",
        "qname",
        "tokens",
        "take",
        "queue",
        "capacity",
        "reserved",
        "consumers",
        "producers",
        "gen",
        "kind",
        "sink",
        "sink_busy",
        "sink_blocked_gen",
        "error_place",
        "room_waiters",
    )

    def __init__(self, flat: FlatPlace) -> None:
        spec = flat.spec
        self.index = flat.index
        self.qname = flat.qname
        self.queue = spec.type is PlaceType.QUEUE
        # QUEUE: a deque (O(1) at both ends).  BAG: a list; any token leaves in O(1) by swapping
        # it with the last one, since a multiset promises no order.
        if self.queue:
            queue: deque[Any] = deque(spec.initial)
            self.tokens: Any = queue
            self.take: Any = queue.popleft
        else:
            bag: list[Any] = list(spec.initial)
            self.tokens = bag
            self.take = bag.pop
        self.capacity = spec.capacity
        self.reserved = 0  # room held for firings in flight (bounded places only)
        self.consumers: tuple[_Transition, ...] = ()
        self.producers: tuple[_Transition, ...] = ()
        self.gen = 0  # bumped whenever a new token arrives (not when a failed firing returns one)
        self.kind = spec.kind
        self.sink = spec.sink if spec.kind is PlaceKind.IO_OUTPUT else None
        self.sink_busy = False
        self.sink_blocked_gen: int | None = None
        self.error_place: _Place | None = None
        self.room_waiters: list[asyncio.Future[None]] = []

    def room(self) -> int | None:
        """Free room, or None when unbounded."""
        if self.capacity is None:
            return None
        return self.capacity - len(self.tokens) - self.reserved

    def remove_at(self, indices: list[int]) -> list[Any]:
        """Remove the tokens at ``indices`` (positions in take order); return them in that order."""
        out = []
        tokens = self.tokens
        if self.queue:
            for i in sorted(indices, reverse=True):
                out.append(tokens[i])
                del tokens[i]
            out.reverse()
        else:
            n = len(tokens)
            # BAG positions count from the end (pop() takes the last); swap-remove is O(1).
            for pos in sorted((n - 1 - i for i in indices), reverse=True):
                out.append(tokens[pos])
                last = tokens.pop()
                if pos < len(tokens):
                    tokens[pos] = last
        return out

    def restore(self, tokens: list[Any]) -> None:
        """Put tokens back as if they had never left (front of a QUEUE, in their order)."""
        if self.queue:
            self.tokens.extendleft(reversed(tokens))
        else:
            self.tokens.extend(reversed(tokens))

    def in_take_order(self) -> list[Any]:
        """Snapshot of the tokens in the order they would be taken."""
        if self.queue:
            return list(self.tokens)
        return list(reversed(self.tokens))


class Marking(Mapping[str, tuple[Any, ...]]):
    """Tokens per place, keyed by qualified name; any name a runner accepts also works as a key."""

    __slots__ = ("_data", "_aliases", "_names")

    def __init__(
        self, data: dict[str, tuple[Any, ...]], aliases: Mapping[str, int], names: list[str]
    ) -> None:
        self._data = data
        self._aliases = aliases
        self._names = names

    def __getitem__(self, key: str) -> tuple[Any, ...]:
        found = self._data.get(key)
        if found is not None:
            return found
        index = self._aliases.get(key)
        if index is None:
            raise KeyError(f"no place {key!r} in this net (places: {self._names})")
        return self._data[self._names[index]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data or key in self._aliases

    def counts(self) -> dict[str, int]:
        """Number of tokens per place."""
        return {name: len(tokens) for name, tokens in self._data.items()}

    def total(self) -> int:
        """Number of tokens in the whole net."""
        return sum(len(tokens) for tokens in self._data.values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: {len(v)}" for k, v in self._data.items() if v)
        return f"Marking({shown})"
