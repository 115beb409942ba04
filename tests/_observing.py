"""An observer for tests that assert whole event sequences (told every record, on-request ones too),
and a clock counting the records a runtime builds."""

from __future__ import annotations

from typing import Any

from mycorrhizal.common import ManualClock


class Recorder(list[Any]):
    """A list of every record its runtime emitted (``runtime.add_observer(recorder)``), including
    those told on request (``StateLeft``, ``FiringStarted``, ``TickStarted``)."""

    def __call__(self, event: Any) -> None:
        self.append(event)

    def wants(self, kind: type) -> bool:
        return True

    # A recorder is only itself (a list's == would make two empty recorders equal): observers are
    # matched by identity when removed, and tests compare recorders by identity too.
    __eq__ = object.__eq__  # type: ignore[assignment]
    __hash__ = object.__hash__  # type: ignore[assignment]


class CountingClock(ManualClock):
    """A ManualClock counting its readings: a runner reads its clock once for each record it builds."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def now(self) -> float:
        self.reads += 1
        return super().now()
