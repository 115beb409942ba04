"""History: targets that re-enter a compound state where it was left.

``History(Player)`` (shallow) re-enters the child of ``Player`` that was active when ``Player`` was
last left (that child starts afresh: its own initial child, if it is compound); ``DeepHistory(Player)``
re-enters exactly the states below ``Player`` that were active then, at every level.  Before
``Player`` has ever been left, both enter ``default`` (``History(Player, default=Paused)``), or the
initial child.  They are SCXML's ``<history type="shallow|deep">`` pseudo-states, drawn H and H*.
"""

from __future__ import annotations

from typing import Any

from .plan import Node, Op
from .targets import SpecialTarget

__all__ = ["DEEP_HISTORY", "HISTORY", "DeepHistory", "History", "HistoryOp", "op"]

#: Op kinds of the history targets (after those of :mod:`.targets` and :mod:`.guards`).
HISTORY = 9
DEEP_HISTORY = 10


class History(SpecialTarget):
    """Re-enter the child of compound ``state`` that was active when it was last left (shallow)."""

    __slots__ = ("state", "default")
    kind = HISTORY

    def __init__(self, state: Any = None, default: Any = None) -> None:
        #: The compound state whose history this is.
        self.state = state
        #: Where to go before ``state`` was ever left (None: its initial child).
        self.default = default

    def __repr__(self) -> str:
        default = (
            f", default={getattr(self.default, 'name', self.default)}" if self.default is not None else ""
        )
        return f"{type(self).__name__}({getattr(self.state, 'name', self.state)}{default})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.state is self.state and other.default is self.default

    def __hash__(self) -> int:
        return hash((type(self).__name__, id(self.state), id(self.default)))


class DeepHistory(History):
    """Re-enter every state below compound ``state`` that was active when it was last left (deep)."""

    __slots__ = ()
    kind = DEEP_HISTORY


class HistoryOp(Op):
    """A compiled history transition: ``target`` is the compound state's node, ``default`` where to
    go when it has no history yet (None: its initial child)."""

    __slots__ = ("default",)

    def __init__(self, kind: int, target: Node, default: Node | None, label: Any) -> None:
        super().__init__(kind, target, (), label)
        self.default = default


def op(target: History, label: Any, nodes: dict[Any, Node]) -> HistoryOp:
    """The compiled op of a history target."""
    default = nodes[target.default] if target.default is not None else None
    return HistoryOp(target.kind, nodes[target.state], default, label)
