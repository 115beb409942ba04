"""An observer for tests that assert whole event sequences: told every record, on-request ones too."""

from __future__ import annotations

from typing import Any


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
