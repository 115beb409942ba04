"""What a label does: entering and leaving states, the special targets, retries, the error route.

:class:`Moves` is the part of :class:`~mycorrhizal.septum.StateMachine` that applies a compiled
transition once a handler has returned its label (arming and cancelling the state's timer on the
way), and that routes a handler's exception to the error hook or state.  The driving loop that
calls handlers and picks the next message lives in :mod:`.machine`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any, cast

from ..common.errors import ExecutionError, HandlerError, UndeclaredLabelError
from ..common.timebase import Timebase
from .compile import Node, Op, label_text, machine_spec
from .context import Context
from .mailbox import DONE, FIRED, TIMEOUT, Mailbox
from .state import State
from .targets import AGAIN, GOTO, POP, PUSH, REPEAT, RESTART, RETRY, UNHANDLED

if TYPE_CHECKING:
    from .machine import StateMachine

__all__ = ["Moves"]

log = logging.getLogger("mycorrhizal.septum")
_INFO = logging.INFO

# Phases.  ENTRY: on_state must run once with msg=None (after entry or Again).  WAIT: waiting for a
# message or timeout.  DONE: terminal.
# TIMED_OUT: the timeout interrupted on_state; on_timeout runs next, before any queued message.
_NEW, _ENTRY, _WAIT, _DONE, _TIMED_OUT = 0, 1, 2, DONE, 4

_TIMEOUT: Any = TIMEOUT
_FIRED: Any = FIRED


class _HookFailed(Exception):
    """Internal: a handler raised while a transition was being applied."""

    def __init__(self, node: Node, role: str, exc: Exception) -> None:
        self.node, self.role, self.exc = node, role, exc


class Moves(Mailbox):
    """Transitions and error routing for :class:`~mycorrhizal.septum.StateMachine`."""

    # What a move changes; StateMachine sets them up.
    __slots__ = (
        "_spec",
        "_node",
        "_phase",
        "_retry",
        "_stack",
        "_timer",
        "_ctx",
        "_common",
        "_timebase",
        "_on_error",
    )

    _retry: int
    _stack: list[Node] | None
    _ctx: Context | None
    _common: Any
    _timebase: Timebase
    _on_error: Any

    def _fire(self) -> None:
        raise NotImplementedError

    def _context(self) -> Context:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = Context(cast("StateMachine", self), self._common)  # its only subclass
        return ctx

    def _arm(self, node: Node) -> None:
        self._timer = self._timebase.call_later(node.timeout, self._fire)  # type: ignore[arg-type]

    def _disarm(self) -> None:
        timer = self._timer
        if timer is None:
            return
        self._timer = None
        if timer is _FIRED:
            queue = self._queue
            if queue is not None:
                try:
                    queue.remove(_TIMEOUT)
                except ValueError:  # already taken off the queue
                    pass
        else:
            timer.cancel()

    @staticmethod
    def _undeclared(node: Node, role: str, label: Any) -> UndeclaredLabelError:
        return UndeclaredLabelError(
            f"state {node.name}: {role} returned {label!r}, which its transitions() does not "
            f"declare; add LabeledTransition({label_text(label)}, ...) or return a declared label",
            state=node.name,
            event=label,
        )

    @staticmethod
    def _lookup(node: Node, label: Any) -> Op | None:
        """A label that is equal to, but not the same object as, a declared one (or not declared)."""
        try:
            return node.table.get(label)
        except TypeError:  # unhashable: certainly not declared
            return None

    async def _call(self, node: Node, role: str) -> Any:
        fn = getattr(node, role)
        try:
            if getattr(node, f"{role}_async"):
                return await fn(self._ctx or self._context())
            result = fn(self._ctx or self._context())
            return (await result) if inspect.isawaitable(result) else result
        except Exception as exc:
            raise _HookFailed(node, role, exc) from exc

    async def _enter(self, node: Node) -> None:
        self._node = node
        if node.timeout is not None:
            self._arm(node)  # measured from entry, so on_enter's own time counts
        if node.on_enter is not None:
            await self._call(node, "on_enter")
        self._entered(node)

    def _entered(self, node: Node) -> None:
        """The state is entered (even if its on_enter failed): complete, or owe the entry run."""
        if node.terminal:
            self._disarm()
            self._phase = _DONE
            if self._waiter is not None:
                self._wake()
            if log.isEnabledFor(_INFO):
                log.info("machine %s: complete in terminal state %s", self._spec.name, node.name)
            left = self.queue_size
            if left:  # they can never be handled now: say so rather than drop them silently
                log.warning(
                    "machine %s: complete in terminal state %s with %d queued message%s never handled",
                    self._spec.name,
                    node.name,
                    left,
                    "" if left == 1 else "s",
                )
        else:
            self._phase = _ENTRY

    async def _leave(self, node: Node) -> None:
        # The timer is cancelled once on_leave has succeeded: if it raises, the state is not left.
        # A timeout that fires during on_leave is queued, and dropped here.
        if node.on_leave is not None:
            await self._call(node, "on_leave")
        self._disarm()

    async def _goto(self, node: Node, target: Node, label: Any, info: bool, how: str = "") -> None:
        await self._leave(node)
        await self._arrive(node, target, label, info, how)

    async def _arrive(self, node: Node, target: Node, label: Any, info: bool, how: str = "") -> None:
        self._retry = 0
        if info:
            log.info(
                "machine %s: %s -[%s%s]-> %s", self._spec.name, node.name, label_text(label), how, target.name
            )
        await self._enter(target)

    async def _reenter(self, node: Node, label: Any, info: bool, how: str, retries: int) -> None:
        await self._leave(node)
        self._retry = retries  # counted once the state is left: a failing on_leave changes nothing
        if info:
            log.info(
                "machine %s: %s -[%s %s]-> %s", self._spec.name, node.name, label_text(label), how, node.name
            )
        await self._enter(node)

    async def _apply(self, node: Node, op: Op, info: bool) -> None:
        kind = op.kind
        if kind == GOTO:
            await self._goto(node, op.target, op.label, info)  # type: ignore[arg-type]
        elif kind == AGAIN:
            self._phase = _ENTRY
        elif kind == UNHANDLED:
            msg = self._context().msg
            if msg is not None:
                self.unhandled_count += 1
                if info:
                    log.info(
                        "machine %s: %s left message %r unhandled (unhandled #%d)",
                        self._spec.name,
                        node.name,
                        msg,
                        self.unhandled_count,
                    )
        elif kind == RETRY:
            if node.retries is None or self._retry < node.retries:
                await self._reenter(node, op.label, info, f"retry {self._retry + 1}", self._retry + 1)
            else:
                await self._fail(node, info)
        elif kind == REPEAT:
            await self._reenter(node, op.label, info, "repeat", self._retry)
        elif kind == RESTART:
            await self._reenter(node, op.label, info, "restart", 0)
        elif kind == PUSH:
            stack = self._stack
            if stack is None:
                stack = self._stack = []
            # The stack changes only once the state is left: a failing on_leave leaves it intact.
            await self._leave(node)
            stack.extend(reversed(op.stack))
            await self._arrive(node, op.target, op.label, info, " push")  # type: ignore[arg-type]
        elif kind == POP:
            if not self._stack:
                raise ExecutionError(
                    f"state {node.name}: Pop (label {label_text(op.label)}) with an empty stack; Push(...) "
                    f"into this state before popping, or target a state",
                    state=node.name,
                    event=op.label,
                )
            await self._leave(node)
            await self._arrive(node, self._stack.pop(), op.label, info, " pop")

    async def _fail(self, node: Node, info: bool) -> None:
        if info:
            log.info(
                "machine %s: %s out of retries (%d), calling on_fail", self._spec.name, node.name, self._retry
            )
        label = await self._call(node, "on_fail")
        if label is None:
            return
        op = self._lookup(node, label)
        if op is None:
            raise self._undeclared(node, "on_fail", label)
        if op.kind == RETRY:
            raise ExecutionError(
                f"state {node.name}: on_fail returned {label_text(label)}, a Retry, after the retries "
                f"ran out; return a label leading elsewhere",
                state=node.name,
                event=label,
            )
        if op.fast:
            self._retry = 0
            self._node = op.target  # type: ignore[assignment]
            self._phase = _ENTRY
            return
        await self._apply(node, op, info)

    def _error(self, node: Node, role: str, exc: Exception) -> HandlerError:
        error = HandlerError(
            f"state {node.name}: {role} raised {type(exc).__name__}: {exc}",
            state=node.name,
            event=self._context().msg,
        )
        error.__cause__ = exc
        return error

    def _unrouted(self, node: Node, role: str, error: HandlerError) -> HandlerError:
        """``error``, about to be raised rather than routed; the machine stays where it is."""
        if role == "on_enter":
            self._entered(node)  # only the hook failed: the machine is in that state all the same
        return error

    async def _route(self, node: Node, role: str, exc: Exception) -> None:
        """A handler raised: send the machine to its error hook/state, or raise HandlerError."""
        error = self._error(node, role, exc)
        spec = self._spec
        dest: Node | None = None
        if self._on_error is not None:
            chosen = self._on_error(self._context(), error)
            if asyncio.iscoroutine(chosen):
                chosen = await chosen
            if chosen is not None:
                if not isinstance(chosen, State):
                    raise TypeError(f"on_error must return a septum state or None, got {chosen!r}") from exc
                dest = spec.nodes.get(chosen) or machine_spec(chosen, None).initial
        if dest is None:
            dest = spec.error
        if dest is None or node is spec.error:
            raise self._unrouted(node, role, error)
        log.error("machine %s: %s; going to %s", spec.name, error, dest.name)
        self._disarm()  # the failed state is abandoned: no on_leave
        self._retry = 0
        self._context().error = error
        try:
            await self._enter(dest)
        except _HookFailed as failed:
            # Entering the state chosen for an error failed: raised, never routed again (the hook
            # would likely choose the same state, for ever).
            error = self._error(failed.node, failed.role, failed.exc)
            raise self._unrouted(failed.node, failed.role, error) from failed.exc
