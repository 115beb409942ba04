"""Small builders shared by the septum tests."""

from __future__ import annotations

from enum import Enum, auto
from typing import Any

from mycorrhizal.septum import State, StateConfiguration, septum


class E(Enum):
    """Labels the test states use."""

    GO = auto()
    BACK = auto()
    AGAIN = auto()
    RETRY = auto()
    REPEAT = auto()
    RESTART = auto()
    SKIP = auto()
    PUSH = auto()
    POP = auto()
    FAIL = auto()
    DONE = auto()


def make(name: str, *, config: StateConfiguration | None = None, **handlers: Any) -> State:
    """A class-form state whose handlers are given as keyword arguments."""
    body = {role: getattr(septum, role)(fn) for role, fn in handlers.items()}
    return septum.state(config=config)(type(name, (), body))


def terminal(name: str = "End", **handlers: Any) -> State:
    """A terminal state."""
    return make(name, config=StateConfiguration(terminal=True), **handlers)


def log_to(ctx: Any, *what: Any) -> None:
    """Append to ``ctx.common["log"]``."""
    ctx.common.setdefault("log", []).append(what[0] if len(what) == 1 else what)


DAMAGED = (
    r"\. Fix: pass StateMachine\.restore\(\) the document fsm\.snapshot\(\) wrote, unchanged \(this one was "
    r"damaged or edited\)$"
)
"""The fix of a snapshot document refused as damaged or edited (a pattern for ``match=``)."""
REFIT = r"\. Fix: restore it with the states the snapshot was taken of$"
"""The fix of a snapshot document that no longer fits the machine's states (a pattern)."""
