"""What goes wrong in a step, or needs more than a lookup: a handler's error routed to the error hook or
state, a cancelled step put back, a label that is not one of the declared objects.

Functions of the :class:`~.engine.Engine` (any :class:`Stepping`), kept apart from its loops.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from . import moves, report
from .clock import INTERRUPTED, Clock
from .events import StepCancelled
from .failures import (
    REENTERED,
    HookFailed,
    destination,
    handle_it,
    handler_error,
    unawaited,
    undeclared,
    unrouted_drive,
)
from .mailbox import TIMEOUT, Mailbox, Marker
from .moves import TIMED_OUT
from .plan import Node, Op, label_text

__all__ = ["ENTRY_RUN", "RESUMED", "Stepping", "put_back", "resolve", "route"]

ENTRY_RUN: Any = Marker("<entry run>")  # what a step took: the entry run on_state owed
RESUMED: Any = Marker("<resumed>")  # what a step took: on_timeout after the timeout interrupted on_state


class Stepping(moves.Moving, Protocol):
    """The engine as these functions see it: a :class:`~.moves.Moving` with a queue, a clock and an
    error route (which a statechart's engine overrides)."""

    mailbox: Mailbox | None
    clock: Clock | None

    async def _route(self, node: Node, role: str, exc: BaseException, what: str | None = None) -> None: ...


async def route(e: Stepping, node: Node, role: str, exc: BaseException, what: str | None = None) -> None:
    """A handler raised: send the machine to its error hook/state, or raise HandlerError (``what``:
    how its message names the handler, when ``role`` alone does not say which: a guard)."""
    assert e.ctx is not None
    error_node = e.spec.error
    own = error_node is not None and node.state is error_node.state
    misuse = unrouted_drive(e, node, role, exc, what)
    if misuse is not None:  # a handler driving its own machine: a bug in it, raised, never routed
        _stays(e, node, role)
        raise misuse from None
    error, dest = await destination(e, node, role, exc, own, what=what)
    if dest is None:
        _stays(e, node, role)
        raise error
    e.ctx.error = error
    if isinstance(dest, Op):  # the hook returned a label: taken as if node's handler had
        report.routed(e.spec.shown, error, f"label {label_text(dest.label)}")
        move = moves.apply(e, node, dest, report.info_enabled())
    else:
        report.routed(e.spec.shown, error, dest.name)
        e.disarm()  # the failed state is abandoned: no on_leave
        e.retry = 0
        move = moves.enter(e, dest, node, None)
    try:
        await move
    except HookFailed as failed:
        # Entering the state chosen for an error failed: raised, never routed again (the hook
        # would likely choose the same state, for ever).
        if failed.role == "on_enter" or failed.node.terminal:
            e.entered(failed.node)
        misuse = unrouted_drive(e, failed.node, failed.role, failed.exc, failed.what)
        if misuse is not None:
            raise misuse from None
        fix = handle_it(failed.exc, failed.role, failed.what, REENTERED)
        raise handler_error(failed.node, failed.role, failed.exc, e.ctx.msg, failed.what, fix) from failed.exc


def _stays(e: Stepping, node: Node, role: str) -> None:
    """A failure of ``node``'s ``role`` is raised: the machine stays where the failure left it."""
    if role == "on_enter" or node.terminal:
        # Only a hook (on_enter, or a terminal state's on_state) failed: the machine is in that
        # state all the same.
        e.entered(node)


def put_back(e: Stepping, node: Node, took: Any, timeout: bool) -> None:
    """The handler of a step was cancelled before it returned: what the step took is owed again."""
    if took is RESUMED:
        e.phase = TIMED_OUT
    elif took is not ENTRY_RUN:  # a message, or a fired timeout (an entry run is still owed)
        assert e.mailbox is not None
        e.mailbox.put_back(took)
        if took is TIMEOUT and e.clock is not None:
            e.clock.fired = True  # so that leaving the state drops it
    message = None if timeout or took is ENTRY_RUN else took
    role = "on_timeout" if timeout else "on_state"
    report.cancelled(e.spec.shown, node.name, role, message)
    if e.observers is not None:
        e.emit(StepCancelled, state=node.name, role=role, message=message)


async def resolve(e: Stepping, node: Node, timeout: bool, label: Any) -> Op | None:
    """The transition for a label that is not one of the declared objects; None: nothing to do."""
    role = "on_timeout" if timeout else "on_state"
    if label is INTERRUPTED:
        e.phase = TIMED_OUT
        return None
    if inspect.isawaitable(label) and not (node.on_timeout_async if timeout else node.on_state_async):
        # A plain function that returned an awaitable (say, a lambda calling an async helper):
        # await it, then treat its result as the handler's.
        try:
            label = await label
        except Exception as exc:
            await e._route(node, role, exc)
            return None
        if label is None:
            return None
    op = node.lookup(label)
    if op is None:
        raise (unawaited(node, role, label) if inspect.iscoroutine(label) else undeclared(node, role, label))
    return op
