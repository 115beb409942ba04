"""Helpers for the behaviour-tree tests: a recorder of leaf calls and a tree factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mycorrhizal.rhizomorph import Status, TreeBuilder


class Script:
    """Leaves whose results come from a dict the test edits, recording every call in order."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.calls: list[str] = []
        self.halted: list[str] = []

    def leaf(self, name: str, default: Any = Status.SUCCESS) -> Callable[[Any], Any]:
        self.results.setdefault(name, default)

        def fn(bb: Any) -> Any:
            self.calls.append(name)
            return self.results[name]

        fn.__name__ = name
        return fn

    def hook(self, name: str) -> Callable[[], None]:
        def halt() -> None:
            self.halted.append(name)

        halt.__name__ = f"halt_{name}"
        return halt

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def script() -> Script:
    """A fresh :class:`Script`."""
    return Script()


@pytest.fixture
def builder() -> TreeBuilder:
    """A programmatic builder for a tree called T."""
    return TreeBuilder("T")
