"""What a label does to a machine: entering and leaving states, the special targets, retries.

Once a handler has returned a label, :func:`apply` carries out the compiled :class:`~.plan.Op` it
maps to: the leave hook, the timer, the retry count and the stack, the enter hook.  These functions
work on the engine through :class:`Moving`, the part of it a move reads and changes; the engine
(:mod:`.engine`) passes itself.  A handler that raises on the way becomes
:class:`~.failures.HookFailed`, which the engine routes.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Protocol

from ..common.errors import ExecutionError
from ..common.observers import Observers
from . import guards, report
from .context import Context
from .events import StateLeft, StateRetried
from .failures import HookFailed, empty_stack, raised_itself, retry_after_fail, stack_too_deep, undeclared
from .options import Options
from .plan import MachineSpec, Node, Op
from .targets import AGAIN, GOTO, POP, PUSH, REPEAT, RESTART, RETRY, UNHANDLED

__all__ = [
    "DONE",
    "ENTRY",
    "NEW",
    "TIMED_OUT",
    "WAIT",
    "Moving",
    "apply",
    "choose",
    "enter",
    "hook",
    "refused",
]

# The phases of a machine.  NEW: not initialized.  ENTRY: on_state owes its entry run (after entry
# or Again).  WAIT: waiting for a message or timeout.  DONE: terminal.  TIMED_OUT: the timeout
# interrupted on_state; on_timeout runs next, before any queued message.
NEW, ENTRY, WAIT, DONE, TIMED_OUT = range(5)

_HOW = {GOTO: "", REPEAT: " repeat", RESTART: " restart", PUSH: " push", POP: " pop"}  # in the INFO log


class Moving(Protocol):
    """The part of a machine's engine that a move reads and changes."""

    spec: MachineSpec
    node: Node
    phase: int
    retry: int
    stack: list[Node] | None
    ctx: Context | None
    observers: Observers | None
    unhandled: int
    options: Options

    def emit(self, kind: type[Any], **fields: Any) -> None: ...
    def emit_entered(self, node: Any, previous: Any, label: Any, msg: Any = None) -> None: ...
    def emit_left(self, node: Any, label: Any, target: Any, every_observer: bool = False) -> None: ...
    def emit_handled(self, node: Any, msg: Any, label: Any, moving: bool = False) -> None: ...
    def arm(self, node: Node) -> None: ...
    def disarm(self) -> None: ...
    def entered(self, node: Node) -> None: ...


async def apply(m: Moving, node: Node, op: Op, info: bool) -> None:
    """Do what ``op`` (the transition of a label ``node``'s handler returned) asks for."""
    kind = op.kind
    if kind == guards.CHOOSE:
        chosen = choose(m, node, op)
        if chosen is not None:
            await apply(m, node, chosen, info)
        return
    if op.action is not None and (kind == AGAIN or kind == UNHANDLED):
        await _act(m, node, op)
    if kind == AGAIN:
        m.phase = ENTRY
    elif kind == UNHANDLED:
        msg = m.ctx.msg if m.ctx is not None else None
        if msg is not None:
            m.unhandled += 1
            if info:
                report.unhandled(m.spec.shown, node.name, msg, m.unhandled)
    elif kind == RETRY and node.retries is not None and m.retry >= node.retries:
        await _fail(m, node, info)
    else:
        await _transfer(m, node, op, info)


def refused(m: Moving, node: Node, op: Op) -> ExecutionError | None:
    """The error a ``Pop`` with an empty stack or a ``Push`` past ``max_stack_depth`` raises before
    anything moves; None for any other transition."""
    if op.kind == POP and not m.stack:
        return empty_stack(node, op.label)
    depth = len(m.stack or ()) + len(op.stack)
    if op.kind == PUSH and depth > m.options.max_stack_depth:
        return stack_too_deep(node, op.label, depth, m.options.max_stack_depth)
    return None


async def _transfer(m: Moving, node: Node, op: Op, info: bool) -> None:
    """Leave ``node`` for where ``op`` leads: a state, the same one again, a pushed or popped one."""
    kind = op.kind
    if (kind == POP or kind == PUSH) and (refusal := refused(m, node, op)) is not None:
        raise refusal
    if kind == GOTO or kind == PUSH:
        target: Node = op.target  # type: ignore[assignment]
    elif kind == POP:
        target = m.stack[-1]  # type: ignore[index]
    else:
        target = node  # Retry, Repeat, Restart: the same state again
    retry = m.retry + 1 if kind == RETRY else m.retry if kind == REPEAT else 0
    await _leave(m, node, op.label, target, retry if kind == RETRY else 0)
    # As in SCXML, a failing action does not stop the transition: the target is entered, then it is reported.
    failed = await _act_safely(m, node, op) if op.action is not None else None
    # The count and the stack change once the state is left: a failing on_leave changes nothing.
    m.retry = retry
    if kind == PUSH:
        if m.stack is None:
            m.stack = []
        m.stack.extend(reversed(op.stack))
    elif kind == POP:
        m.stack.pop()  # type: ignore[union-attr]
    if info:
        how = f" retry {retry}" if kind == RETRY else _HOW[kind]
        report.moved(m.spec.shown, node.name, op.label, how, target.name)
    await enter(m, target, node, op.label)
    if failed is not None:
        raise failed


async def _fail(m: Moving, node: Node, info: bool) -> None:
    """``Retry`` with the budget spent: ``on_fail`` says where to go."""
    if info:
        report.out_of_retries(m.spec.shown, node.name, m.retry)
    label = await hook(m, node, "on_fail")
    if label is None:
        return
    op = node.lookup(label)
    if op is None:
        raise undeclared(node, "on_fail", label)
    if op.kind == guards.CHOOSE:
        op = choose(m, node, op)
        if op is None:
            return
    if op.kind == RETRY:
        raise retry_after_fail(node, label)
    await apply(m, node, op, info)


def choose(m: Moving, node: Node, choice: Op) -> Op | None:
    """The transition a guarded label takes (None: no guard passes); a guard that raises fails like a hook."""
    try:
        return guards.choose(node, choice, m.ctx)  # type: ignore[arg-type]  # a Choice
    except guards.GuardRaised as raised:
        raise HookFailed(node, "guard", raised.exc, raised.what) from raised.exc


async def _act(m: Moving, node: Node, op: Op) -> None:
    """Run the transition's action; a failure becomes :class:`~.failures.HookFailed` of ``node``."""
    try:
        await guards.act(op, m.ctx)
    except Exception as exc:
        raise HookFailed(node, "action", exc) from exc
    except asyncio.CancelledError as exc:
        if raised_itself(exc):  # nobody cancelled the run: the action failed
            raise HookFailed(node, "action", exc) from exc
        raise


async def _act_safely(m: Moving, node: Node, op: Op) -> HookFailed | None:
    try:
        await _act(m, node, op)
    except HookFailed as failed:
        return failed
    return None


async def hook(m: Moving, node: Node, role: str) -> Any:
    """Run hook ``role`` of ``node``; a failure becomes :class:`~.failures.HookFailed`."""
    fn = getattr(node, role)
    try:
        if getattr(node, f"{role}_async"):
            return await fn(m.ctx)
        result = fn(m.ctx)
        return (await result) if inspect.isawaitable(result) else result
    except Exception as exc:
        raise HookFailed(node, role, exc) from exc
    except asyncio.CancelledError as exc:
        if raised_itself(exc):  # nobody cancelled the run: the hook failed
            raise HookFailed(node, role, exc) from exc
        raise


async def enter(m: Moving, node: Node, previous: Node | None, label: Any) -> None:
    """Enter ``node``: its timer starts, its ``on_enter`` runs, then it owes its entry run (or ends)."""
    m.node = node
    if node.timeout is not None:
        m.arm(node)  # measured from entry, so on_enter's own time counts
    if m.observers is not None:
        m.emit_entered(node, previous, label, None if m.ctx is None else m.ctx.msg)
    arrival = node.on_state if node.terminal else None
    if node.on_enter is not None or arrival is not None:
        try:
            if node.on_enter is not None:
                await hook(m, node, "on_enter")
            if arrival is not None:
                await _arrive(m, node)
        except asyncio.CancelledError:
            # Cancelled in on_enter (or a terminal state's on_state): the state is entered all the
            # same, its entry run owed (a terminal state completes).
            m.entered(node)
            raise
    m.entered(node)


async def _arrive(m: Moving, node: Node) -> None:
    """A terminal state's ``on_state`` runs once, on arrival, with no message; its label is ignored."""
    if m.ctx is not None:
        m.ctx.msg = None
    await hook(m, node, "on_state")


async def _leave(m: Moving, node: Node, label: Any, target: Node, retry: int = 0) -> None:
    # The timer is cancelled once on_leave has succeeded: if it raises, the state is not left (and
    # a ``Retry``, number ``retry`` if not 0, is not told: it does not happen).
    # A timeout that fires during on_leave is queued, and dropped here.
    if node.on_leave is not None:
        await hook(m, node, "on_leave")
    m.disarm()
    observers = m.observers
    if retry and observers is not None:
        m.emit(StateRetried, state=node.name, retry=retry, label=label)
    if observers is not None and observers.requested and StateLeft in observers.requested:  # on request
        m.emit_left(node, label, target)
