"""The ``ctx`` object every handler receives."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import GenericAlias
from typing import Any, Protocol

from ..common.errors import HandlerError
from ..common.timebase import Timebase
from .states import State

__all__ = ["Context", "Machine"]

log = logging.getLogger("mycorrhizal.septum")


class Machine(Protocol):
    """What a handler's ``ctx`` reads from the machine running it."""

    @property
    def current_state(self) -> State: ...
    @property
    def retry_count(self) -> int: ...
    @property
    def state_stack(self) -> tuple[State, ...]: ...
    @property
    def timebase(self) -> Timebase: ...
    def send_message(self, msg: Any, *, priority: int = 0) -> bool: ...


class Context:
    """What a handler sees: the blackboard, the message, the machine's state, stack and clock.

    ``common`` is the blackboard given to the machine (the very object, never a copy); ``msg`` is
    exactly the object passed to ``send_message`` (None on entry, on ``Again`` and on timeouts);
    ``error`` is the :class:`HandlerError` that sent the machine to its error state, else None.
    ``Context[Blackboard]`` may annotate a handler's ``ctx`` (0.x's ``SharedContext[T]``).
    """

    __slots__ = ("_fsm", "common", "msg", "error", "log_to", "_mycelium_bt_runner")

    common: Any
    msg: Any
    error: HandlerError | None
    #: What :meth:`log` calls instead of logging (``fsm.log = ...``), or None.
    log_to: Callable[[str], Any] | None
    #: 0.x's attachment point for a behaviour-tree runner (``fsm.context._mycelium_bt_runner = r``):
    #: a ``@state(bt=...)`` handler of :mod:`mycorrhizal.mycelium` ticks it instead of running its
    #: tree.  None until assigned (never set here, so building a context costs nothing for it).
    _mycelium_bt_runner: Any

    __class_getitem__: classmethod[Any, Any, GenericAlias] = classmethod(GenericAlias)

    def __init__(self, fsm: Machine, common: Any) -> None:
        self._fsm = fsm
        if common is not None:
            self.common = common
        # else: left unset, and a dict is made on first use (most machines never need one)
        self.msg = None
        self.error = None
        self.log_to = None

    def __getattr__(self, key: str) -> Any:
        if key == "common":
            common: dict[str, Any] = {}
            self.common = common
            return common
        if key == "_mycelium_bt_runner":
            return None
        raise AttributeError(f"ctx has no attribute {key!r}")

    @property
    def machine(self) -> Any:
        """The machine running this handler (a :class:`~mycorrhizal.septum.StateMachine`)."""
        return self._fsm

    @property
    def state(self) -> State:
        """The current state."""
        return self._fsm.current_state

    @property
    def retry_count(self) -> int:
        """How many times ``Retry`` re-entered the current state since it was entered from another."""
        return self._fsm.retry_count

    @property
    def stack(self) -> tuple[State, ...]:
        """The pushdown stack, bottom first (a read-only copy)."""
        return self._fsm.state_stack

    @property
    def timebase(self) -> Timebase:
        """The machine's timebase."""
        return self._fsm.timebase

    def send_message(self, msg: Any, *, priority: int = 0) -> bool:
        """Queue ``msg`` for this machine (see :meth:`StateMachine.send_message`)."""
        return self._fsm.send_message(msg, priority=priority)

    def log(self, message: str) -> None:
        """Log ``message`` at INFO on ``mycorrhizal.septum``, naming the state (0.x's ``ctx.log``).

        If the machine's ``log`` was replaced (``fsm.log = fn``), ``fn(message)`` is called instead.
        """
        if self.log_to is not None:
            self.log_to(message)
        elif log.isEnabledFor(logging.INFO):
            log.info("state %s: %s", self._fsm.current_state.name, message)

    def __repr__(self) -> str:
        return f"<septum ctx {self._fsm.current_state.name} msg={self.msg!r}>"
