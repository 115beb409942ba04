"""0.x's ``StateMachine`` keywords mapped onto this library's options (see docs/compat.md).

``queue_overflow_policy=`` is ``queue_overflow=`` (``"block"`` and ``"fail"`` refuse, as 0.x's
raised), ``on_error_fn=`` is ``on_error=``, ``filter_fn(ctx, msg)`` drops a message in
``send_message`` (logged at DEBUG) and ``trap_fn(ctx)`` is called when a handler answered a message
with ``None`` or ``Unhandled``.  Nothing here costs a machine built without them anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import IntEnum
from types import MappingProxyType
from typing import Any, NoReturn, Protocol

from ..common.errors import DefinitionTypeError, ExecutionError, Problem
from .events import MessageHandled, StateEntered
from .mailbox import OverflowPolicy
from .options import RAISE_BY_DEFAULT, WHAT, Options, options
from .states import registered_names
from .targets import UNHANDLED

__all__ = [
    "POLICIES_0X",
    "BlockedInUntimedState",
    "Compat0x",
    "MessagePriorities",
    "NoStateToTick",
    "dropped",
    "options_of",
    "priority",
    "translate",
    "trap",
]

log = logging.getLogger("mycorrhizal.septum")

#: 0.x's ``queue_overflow_policy`` values and the ``queue_overflow`` each one is here.
POLICIES_0X: dict[str, OverflowPolicy] = {
    "block": "raise",
    "fail": "raise",
    "drop_newest": "drop_newest",
    "drop_oldest": "drop_oldest",
}


class _Host(Protocol):
    @property
    def context(self) -> Any: ...
    @property
    def node(self) -> Any: ...


def _one(ours: str, ours_value: Any, default: Any, theirs: str, theirs_value: Any) -> list[Problem]:
    # ``is``: our option given outright, even at its default's value, is given (the default is
    # an object of its own, see RAISE_BY_DEFAULT).
    if theirs_value is None or ours_value is default:
        return []
    return [
        Problem(
            "StateMachine",
            f"both {ours}= and {theirs}= given",
            f"pass only {ours}= ({theirs}= is 0.x's name)",
        )
    ]


def translate(
    queue_overflow: OverflowPolicy,
    queue_overflow_policy: str | None,
    on_error: Any,
    on_error_fn: Any,
    filter_fn: Any,
    trap_fn: Any,
) -> tuple[OverflowPolicy, Any]:
    """``(queue_overflow, on_error)`` with 0.x's keywords folded in; refuses what cannot be meant."""
    problems = _one(
        "queue_overflow", queue_overflow, RAISE_BY_DEFAULT, "queue_overflow_policy", queue_overflow_policy
    )
    problems += _one("on_error", on_error, None, "on_error_fn", on_error_fn)
    if queue_overflow_policy is not None and queue_overflow_policy not in POLICIES_0X:
        problems.append(
            Problem(
                "StateMachine",
                f"queue_overflow_policy must be one of {tuple(POLICIES_0X)}, got {queue_overflow_policy!r}",
                "pick one of those policies (or pass queue_overflow=)",
            )
        )
    for name, fn in (("filter_fn", filter_fn), ("trap_fn", trap_fn)):
        if fn is not None and not callable(fn):
            problems.append(
                Problem(
                    "StateMachine", f"{name} must be a function, got {fn!r}", f"pass a function as {name}="
                )
            )
    if problems:
        raise DefinitionTypeError(problems, what=WHAT)
    if queue_overflow_policy is not None:
        queue_overflow = POLICIES_0X[queue_overflow_policy]
    return queue_overflow, on_error if on_error_fn is None else on_error_fn


def options_of(ours: tuple[Any, Any, Any, Any], theirs: tuple[Any, Any, Any, Any]) -> Options:
    """The machine's :class:`Options` from ``(max_queue_size, queue_overflow, on_error,
    max_stack_depth)`` and 0.x's ``(filter_fn, trap_fn, on_error_fn, queue_overflow_policy)``."""
    max_queue_size, queue_overflow, on_error, max_stack_depth = ours
    filter_fn, trap_fn, on_error_fn, queue_overflow_policy = theirs
    if theirs != (None, None, None, None):
        queue_overflow, on_error = translate(
            queue_overflow, queue_overflow_policy, on_error, on_error_fn, filter_fn, trap_fn
        )
    return options(max_queue_size, queue_overflow, on_error, max_stack_depth, filter_fn)


def dropped(host: _Host, name: str, filter_fn: Callable[[Any, Any], Any], msg: Any) -> bool:
    """True if ``filter_fn(ctx, msg)`` drops ``msg`` (a falsy message is never filtered, as in 0.x)."""
    if not msg or not filter_fn(host.context, msg):
        return False
    log.debug("machine %s: filter_fn dropped message %r", name, msg)
    return True


def trap(host: _Host, trap_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An observer calling ``trap_fn(ctx)`` after a handler answered a message with None or a label
    whose target is ``Unhandled`` (emitted before the machine moves, so ``ctx.msg`` is the message)."""

    def observe(event: Any) -> Any:
        if isinstance(event, MessageHandled):
            label = event.label
            op = None if label is None else host.node.lookup(label)
            if label is None or (op is not None and op.kind == UNHANDLED):
                return trap_fn(host.context)
        return None

    return observe


class BlockedInUntimedState(ExecutionError):
    """0.x's error for ``None``/``Unhandled`` in a state with neither ``can_dwell`` nor a timeout.

    Never raised here: a state returning None waits for the next message in any state.
    """


class NoStateToTick(ExecutionError):
    """0.x's error for ``tick()`` with no current state.

    Never raised here: a machine is in its initial state from the moment it is built.
    """


class MessagePriorities(IntEnum):
    """0.x's queue priorities (lower first), accepted as ``send_message(..., priority=...)``."""

    ERROR = 0
    INTERNAL_MESSAGE = 1
    MESSAGE = 2


#: 0.x's priorities as ours (higher first): MESSAGE is a plain message, ERROR the most urgent.
_OURS = {MessagePriorities.ERROR: 2, MessagePriorities.INTERNAL_MESSAGE: 1, MessagePriorities.MESSAGE: 0}


def priority(value: object, shown: str) -> int:
    """Our priority for a ``send_message(priority=value)`` to machine ``shown`` that is not a plain int."""
    if isinstance(value, MessagePriorities):
        return _OURS[value]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"machine {shown}: send_message(priority=...) takes an int, got {value!r}. "
            "Fix: pass an int (higher is handled first, 0 by default) or a MessagePriorities member"
        )
    return int(value)


def _doc_only(machine: object, name: str, instead: str) -> AttributeError:
    """The error for a machine attribute only 0.x's documents named (0.x itself never had it)."""
    # Python's own wording first, so code matching it (and hasattr, which sees an AttributeError) is
    # unaffected; then what this machine offers instead.
    python = f"{type(machine).__name__!r} object has no attribute {name!r}"
    return AttributeError(f"{python}: only 0.x's documents named it. Fix: {instead}", name=name, obj=machine)


class Compat0x:
    """0.x's read-only views of a machine (a base of :class:`~.machine.StateMachine`)."""

    __slots__ = ()  # state_enter_times' record is the machine's ``_entered`` slot (see Engine)
    _entered: dict[str, float]

    #: 0.x's priorities (``ERROR``, ``INTERNAL_MESSAGE``, ``MESSAGE``), accepted by ``send_message``.
    MessagePriorities = MessagePriorities

    @property
    def blackboard(self) -> NoReturn:
        """Not a name of this machine (only 0.x's prose used it); reading it points to ``fsm.common``."""
        raise _doc_only(self, "blackboard", "use fsm.common (ctx.common in handlers)")

    @property
    def message_queue(self) -> NoReturn:
        """Not a name of this machine (only 0.x's prose used it); reading it points to ``fsm.queue_size``."""
        raise _doc_only(
            self,
            "message_queue",
            "use fsm.queue_size (0.x's fsm.queue_depth) for the number of messages waiting, "
            "and fsm.send_message(m) to add one",
        )

    @property
    def queue_depth(self) -> int:
        """``queue_size`` under 0.x's name."""
        size: int = self.queue_size  # type: ignore[attr-defined]
        return size

    @property
    def log(self) -> Callable[[str], Any]:
        """``fsm.log(text)`` logs ``text`` as ``ctx.log`` does (INFO, ``mycorrhizal.septum``).

        Assign a function (``fsm.log = print``, or ``lambda text: None`` to silence it, as 0.x
        programs do) and ``ctx.log`` calls it instead.
        """
        ctx = self.context  # type: ignore[attr-defined]
        fn: Callable[[str], Any] = ctx.log_to or ctx.log
        return fn

    @log.setter
    def log(self, fn: Callable[[str], Any]) -> None:
        if not callable(fn):
            raise TypeError(
                f"fsm.log takes a function of one text, got {fn!r}. Fix: assign a function, such as "
                "print, or `lambda text: None` to silence it"
            )
        self.context.log_to = fn  # type: ignore[attr-defined]

    @property
    def retry_counters(self) -> MappingProxyType[str, int]:
        """Retries by state name: only the current state's count is kept (it resets when left)."""
        machine: Any = self
        return MappingProxyType({machine.node.name: machine.retry} if machine.retry else {})

    @property
    def registry(self) -> MappingProxyType[str, Any]:
        """This machine's states by the names :func:`~.registry.get_state` takes (``module.qualname``;
        a script's states also by ``<file stem>.qualname``, as 0.x named them)."""
        return MappingProxyType(
            {n: s for s in self.spec.nodes for n in registered_names(s.module, s.qualname, s.name)}  # type: ignore[attr-defined]
        )

    @property
    def state_enter_times(self) -> MappingProxyType[str, float]:
        """When each state was last entered, on the machine's timebase, from the first read on.

        The first read starts recording (an observer: machines that never read it pay nothing);
        read it before ``initialize()`` to record the initial state's entry too.
        """
        try:
            return MappingProxyType(self._entered)
        except AttributeError:
            pass
        times: dict[str, float] = {}
        machine: Any = self
        machine._entered = times
        timebase = machine.timebase

        def observe(event: Any) -> None:
            if isinstance(event, StateEntered):
                times[event.state] = timebase.now()

        self.add_observer(observe)  # type: ignore[attr-defined]
        return MappingProxyType(times)
