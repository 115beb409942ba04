"""The read-only :class:`Marking` snapshot a runner hands out: tokens per place."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..common.errors import did_you_mean

__all__ = ["Marking"]


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
            fix = did_you_mean(key, self._aliases, "name one of those places")
            raise KeyError(f"no place {key!r} in this net (places: {self._names}). Fix: {fix}")
        return self._data[self._names[index]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data or key in self._aliases

    def get(self, key: str, default: Any = None) -> Any:
        """The tokens of place ``key`` (any name a runner accepts), else ``default``."""
        # Mapping.get would go through __getitem__'s KeyError, whose message looks for the
        # nearest place name: work for nobody, since get() answers a miss with the default.
        index = self._aliases.get(key)
        return self._data.get(key, default) if index is None else self._data[self._names[index]]

    def counts(self) -> dict[str, int]:
        """Number of tokens per place."""
        return {name: len(tokens) for name, tokens in self._data.items()}

    def total(self) -> int:
        """Number of tokens in the whole net."""
        return sum(len(tokens) for tokens in self._data.values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: {len(v)}" for k, v in self._data.items() if v)
        return f"Marking({shown})"
