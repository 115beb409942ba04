"""Fixtures of the spores tests: an in-memory record sink and a clean configuration per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mycorrhizal import spores


class MemorySink:
    """A record sink keeping what it gets, to assert on (a real RecordSink: the dispatcher's fast path)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, Any]] = []
        self.closed = False

    def write_event(self, raw: Any) -> None:
        self.records.append(("event", raw))

    def write_object(self, raw: Any) -> None:
        self.records.append(("object", raw))

    def close(self) -> None:
        self.closed = True

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The events as dicts: id, type, time, attributes (dict), relationships (list of pairs)."""
        out = []
        for kind, raw in self.records:
            if kind == "event" and (event_type is None or raw[1] == event_type):
                out.append(
                    {
                        "id": raw[0],
                        "type": raw[1],
                        "time": raw[2],
                        "attributes": dict(raw[3]),
                        "relationships": raw[4],
                    }
                )
        return out

    def objects(self, object_id: str | None = None) -> list[dict[str, Any]]:
        """The object records as dicts: id, type, attributes (dict), relationships."""
        return [
            {"id": raw[0], "type": raw[1], "attributes": dict(raw[3]), "relationships": raw[4]}
            for kind, raw in self.records
            if kind == "object" and (object_id is None or raw[0] == object_id)
        ]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.records]


@pytest.fixture(autouse=True)
def fresh_spores() -> Iterator[None]:
    """Every test starts unconfigured and leaves no configuration behind."""
    spores.configure()
    yield
    spores.configure()


@pytest.fixture
def sink() -> MemorySink:
    """spores configured to write into a MemorySink."""
    memory = MemorySink()
    spores.configure(transport=memory)
    return memory
