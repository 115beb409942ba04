"""What a labelled transition can lead to: a state, or one of the special targets.

The special targets come in class form (``Retry``) and instance form (``Retry()``); both mean the
same.  ``Push(A, B, ...)`` is the only one that takes arguments.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

__all__ = [
    "Again",
    "LabeledTransition",
    "Pop",
    "Push",
    "Repeat",
    "Restart",
    "Retry",
    "SpecialTarget",
    "Unhandled",
    "special",
]

# Operation codes used by compiled transition tables (small ints: cheap to compare on the hot path).
GOTO = 0
AGAIN = 1
UNHANDLED = 2
RETRY = 3
REPEAT = 4
RESTART = 5
PUSH = 6
POP = 7
MOVES = frozenset((GOTO, REPEAT, RESTART, PUSH, POP))
"""The kinds whose transition enters a state (its StateEntered follows) without a guard or a retry budget."""

KIND_NAMES = {
    GOTO: "goto",
    AGAIN: "again",
    UNHANDLED: "unhandled",
    RETRY: "retry",
    REPEAT: "repeat",
    RESTART: "restart",
    PUSH: "push",
    POP: "pop",
}


@attrs.frozen
class LabeledTransition:
    """``label`` returned by a handler leads to ``target`` (a state or a special target).

    ``guard(ctx) -> bool`` (a plain function) decides whether this transition is the one taken:
    several transitions may share a label, and the first whose guard passes wins.  ``action(ctx)``
    runs while the transition is taken, after the state is left and before the target is entered
    (see docs/statecharts.md, Guards and actions).
    """

    label: Any
    target: Any
    guard: Any = None
    action: Any = None

    @property
    def transition(self) -> Any:
        """The target, under 0.x's name for it (``LabeledTransition(label, transition)``)."""
        return self.target


class SpecialTarget:
    """Base of the special targets; ``kind`` is the operation they stand for."""

    __slots__ = ()
    kind: ClassVar[int]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) or other is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


def special(target: Any) -> bool:
    """Whether ``target`` is a special target, in class (``Retry``) or instance (``Retry()``) form."""
    if isinstance(target, type):
        return issubclass(target, SpecialTarget)
    return isinstance(target, SpecialTarget)


class Again(SpecialTarget):
    """Stay in the state and run ``on_state`` again at once (``ctx.msg`` is None); no re-entry."""

    __slots__ = ()
    kind = AGAIN


class Unhandled(SpecialTarget):
    """The state does not handle this message: stay, count it, log it, wait for the next one."""

    __slots__ = ()
    kind = UNHANDLED


class Retry(SpecialTarget):
    """Re-enter the state and count a retry; past ``retries`` the state's ``on_fail`` runs instead."""

    __slots__ = ()
    kind = RETRY


class Repeat(SpecialTarget):
    """Re-enter the state (``on_leave``, ``on_enter``, fresh timeout), keeping ``retry_count``."""

    __slots__ = ()
    kind = REPEAT


class Restart(SpecialTarget):
    """Re-enter the state from scratch: like ``Repeat`` but ``retry_count`` goes back to 0."""

    __slots__ = ()
    kind = RESTART


class Pop(SpecialTarget):
    """Leave the state and return to the state on top of the pushdown stack."""

    __slots__ = ()
    kind = POP


class Push(SpecialTarget):
    """``Push(A, B, C)``: go to ``A``; later ``Pop`` returns to ``B``, then ``C`` (call/return)."""

    __slots__ = ("states",)
    kind = PUSH

    def __init__(self, *states: Any) -> None:
        self.states: tuple[Any, ...] = states

    @property
    def push_states(self) -> tuple[Any, ...]:
        """The states, under 0.x's name for them."""
        return self.states

    def __repr__(self) -> str:
        return f"Push({', '.join(getattr(s, 'name', repr(s)) for s in self.states)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Push) and other.states == self.states

    def __hash__(self) -> int:
        return hash(("Push", self.states))
