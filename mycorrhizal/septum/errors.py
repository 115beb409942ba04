"""Errors specific to state machines (the shared hierarchy is in :mod:`mycorrhizal.common.errors`)."""

from __future__ import annotations

from ..common.errors import ExecutionError

__all__ = ["StateMachineComplete"]


class StateMachineComplete(ExecutionError):
    """The machine is in a terminal state: it takes no more messages and has no more steps."""
