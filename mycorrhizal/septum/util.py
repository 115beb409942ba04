"""``to_mermaid(fsm)``: the Mermaid text of a machine, under the import path 0.x programs use."""

from __future__ import annotations

from typing import Any

from ..common.diagram import to_mermaid_text
from .machine import StateMachine
from .states import State, StateGroup

__all__ = ["to_mermaid"]


def to_mermaid(fsm: Any) -> str:
    """The Mermaid flowchart of a :class:`StateMachine` (or a state or group); ValueError otherwise.

    It is the picture ``mycorrhizal.render.to_mermaid`` draws: every state reachable from the
    initial (and error) state, the machine's current state filled.
    """
    if not isinstance(fsm, StateMachine | State | StateGroup):
        raise ValueError(
            f"{fsm!r} is not a state machine. Fix: pass a StateMachine, or a state made with @septum.state"
        )
    return to_mermaid_text(fsm.to_diagram())
