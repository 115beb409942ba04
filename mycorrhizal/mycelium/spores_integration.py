"""The 0.x import path of spores' helpers for composed trees: ``from mycorrhizal.mycelium.spores_integration
import TreeSporesAdapter``.  Everything here is built in :mod:`mycorrhizal.spores.dsl.trees`."""

from __future__ import annotations

from ..spores.dsl.trees import (
    TreeSporesAdapter,
    _log_state_snapshot,
    log_state_snapshot,
    log_tree_event,
    state_snapshot,
)

__all__ = [
    "TreeSporesAdapter",
    "_log_state_snapshot",
    "log_state_snapshot",
    "log_tree_event",
    "state_snapshot",
]
