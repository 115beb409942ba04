"""The ``ctx`` object every handler receives."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import GenericAlias
from typing import Any, Protocol, cast

from ..common.errors import HandlerError
from ..common.timebase import MonotonicClock, Timebase
from .states import State

__all__ = ["BlankContext", "Context", "Machine", "SharedContext"]

log = logging.getLogger("mycorrhizal.septum")


class Machine(Protocol):
    """What a handler's ``ctx`` reads from the machine running it."""

    # The engine's own slots, read without the machine's properties (ctx.state is read by every
    # logged transition): the node it is at (whose ``state`` is the current state) and its retries.
    node: Any
    retry: int

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

    # No __getattr__ (it would keep the interpreter from specialising every ``ctx.msg`` and
    # ``ctx.common`` read in every handler); what few contexts hold lives in ``_rare``.
    __slots__ = ("_fsm", "common", "msg", "_rare")

    common: Any
    msg: Any

    __class_getitem__: classmethod[Any, Any, GenericAlias] = classmethod(GenericAlias)

    def __init__(self, fsm: Machine, common: Any) -> None:
        self._fsm = fsm
        if common is not None:
            self.common = common
        self.msg = None
        self._rare: _Rare | None = None

    def _rarely(self) -> _Rare:
        rare = self._rare
        if rare is None:
            rare = self._rare = _Rare()
        return rare

    @property
    def error(self) -> HandlerError | None:
        """The failure that sent the machine to its error state, else None."""
        return None if self._rare is None else self._rare.error

    @error.setter
    def error(self, error: HandlerError | None) -> None:
        if error is not None or self._rare is not None:
            self._rarely().error = error

    @property
    def log_to(self) -> Callable[[str], Any] | None:
        """What :meth:`log` calls instead of logging (``fsm.log = ...``), or None."""
        return None if self._rare is None else self._rare.log_to

    @log_to.setter
    def log_to(self, fn: Callable[[str], Any] | None) -> None:
        self._rarely().log_to = fn

    @property
    def _mycelium_bt_runner(self) -> Any:
        """0.x's attachment point for a behaviour-tree runner (``fsm.context._mycelium_bt_runner = r``):
        a ``@state(bt=...)`` handler of :mod:`mycorrhizal.mycelium` ticks it instead of its tree."""
        return None if self._rare is None else self._rare.bt_runner

    @_mycelium_bt_runner.setter
    def _mycelium_bt_runner(self, runner: Any) -> None:
        self._rarely().bt_runner = runner

    @property
    def machine(self) -> Any:
        """The machine running this handler (a :class:`~mycorrhizal.septum.StateMachine`)."""
        return self._fsm

    @property
    def state(self) -> State:
        """The current state."""
        return self._fsm.node.state  # type: ignore[no-any-return]  # machine.current_state, one call fewer

    @property
    def retry_count(self) -> int:
        """How many times ``Retry`` re-entered the current state since it was entered from another."""
        return self._fsm.retry  # machine.retry_count, one call fewer

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


class _Rare:
    """What few contexts hold: kept out of :class:`Context` so that a machine stays small."""

    __slots__ = ("error", "log_to", "bt_runner")

    def __init__(self) -> None:
        self.error: HandlerError | None = None
        self.log_to: Callable[[str], Any] | None = None
        self.bt_runner: Any = None


_COMMON = Context.__dict__["common"]  # the slot's own descriptor


class _Blackboard:
    """``ctx.common`` of a :class:`BlankContext`: the first read or write fills the slot
    and turns the context into a plain :class:`Context` (reads from then on are the slot's)."""

    def __get__(self, ctx: Context | None, owner: type | None = None) -> Any:
        if ctx is None:
            return self
        common: dict[str, Any] = {}
        self.__set__(ctx, common)
        return common

    def __set__(self, ctx: Context, common: Any) -> None:
        _COMMON.__set__(ctx, common)
        ctx.__class__ = Context


class BlankContext(Context):
    """The context of a machine made without a blackboard (most never use one): no dict until needed."""

    __slots__ = ()
    common = _Blackboard()


class _Unattached:
    """The machine behind a :class:`SharedContext` made by hand: no state, no stack, no retries;
    ``send_message`` calls the function given for it."""

    __slots__ = ("_send", "node", "retry", "state_stack", "timebase")

    current_state = None
    retry_count = 0

    def __init__(self, send: Callable[[Any], Any]) -> None:
        self._send = send
        self.node = self  # ctx.state reads node.state: None
        self.retry = 0
        self.state_stack: tuple[State, ...] = ()
        self.timebase: Timebase = MonotonicClock()

    @property
    def state(self) -> None:
        """No state: the context is not a machine's."""
        return None

    def send_message(self, msg: Any, *, priority: int = 0) -> bool:
        """Hand ``msg`` to the function given as ``send_message``."""
        self._send(msg)
        return True


class _Shared(type):
    """Makes every machine's context an instance of :class:`SharedContext`, as in 0.x."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Context)


class SharedContext(Context, metaclass=_Shared):
    """0.x's name of the context: ``SharedContext[T]`` annotates a ``ctx``, and
    ``SharedContext(send_message, log, common, msg=None)`` makes one by hand (to call a handler
    alone, as 0.x programs test theirs).  A machine's context is an instance of it too."""

    __slots__ = ()

    def __init__(
        self, send_message: Callable[[Any], Any], log: Callable[[str], Any], common: Any, msg: Any = None
    ) -> None:
        # A Machine but for having no state: ctx.state reads None, as nothing runs this context.
        super().__init__(cast(Machine, _Unattached(send_message)), None)
        self.common = common
        self.msg = msg
        self.log_to = log

    def __repr__(self) -> str:
        return f"<septum ctx made by hand msg={self.msg!r}>"
