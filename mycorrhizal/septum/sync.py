"""The synchronous door: stepping a machine from plain code, with no event loop.

``machine.send(msg)``, ``machine.step()`` and ``machine.run_sync()`` do exactly what
``send_message(msg)`` + ``await run()``, ``await tick()`` and ``await run()`` do: the same engine,
the same step loop, the same semantics.  They drive the engine's coroutine by hand.  That works
because a machine whose handlers, actions and error hook are all plain functions never waits for
anything: the only suspension left in the loop is its courtesy yield to other tasks, which needs
no loop to pass.  A machine with an ``async`` handler is refused before anything moves, and a
plain handler that returns something really waiting (a future) ends the call with an error, the
step unwound as a cancelled step is.

Timers work on a virtual clock: ``clock.advance(5)`` fires what is due (the timeout is queued,
since no loop can run the machine in the background) and the next ``run_sync()`` or ``step()``
handles it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any

from ..common.callables import is_async_callable
from ..common.errors import ExecutionError
from ..common.timebase import MonotonicClock, UTCClock, WallClock
from .failures import Unwind
from .guards import ops
from .plan import MachineSpec

__all__ = ["ensure", "finish"]

_ROLES = ("on_state", "on_enter", "on_leave", "on_timeout", "on_fail")
_verdicts: weakref.WeakKeyDictionary[MachineSpec, str] = weakref.WeakKeyDictionary()


def _async_parts(spec: MachineSpec) -> str:
    """What in ``spec`` is async ("" when nothing is): the first few, by state and role."""
    found: list[str] = []
    for node in spec.nodes.values():
        found.extend(f"{node.name}.{role}" for role in _ROLES if getattr(node, f"{role}_async"))
        found.extend(
            f"{node.name} action {getattr(op.action, '__name__', 'action')}"
            for op in ops(node)
            if op.action is not None and is_async_callable(op.action)
        )
    return ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")


def _timed(spec: MachineSpec) -> bool:
    return any(node.timeout is not None for node in spec.nodes.values())


def ensure(engine: Any) -> None:
    """Refuse (``ExecutionError``) a machine that cannot be driven synchronously, before anything moves."""
    spec: MachineSpec = engine.spec
    verdict = _verdicts.get(spec)
    if verdict is None:
        verdict = _verdicts[spec] = _async_parts(spec)
    hook = engine.options.on_error
    if hook is not None and is_async_callable(hook):
        verdict = ", ".join(filter(None, (verdict, "the on_error hook")))
    if verdict:
        raise ExecutionError(
            f"machine {spec.shown} cannot be driven synchronously: {verdict} "
            f"{'is' if ',' not in verdict else 'are'} async. Fix: use `await run()`/`await tick()`, or make "
            f"{'it a plain def' if ',' not in verdict else 'them plain defs'}",
            state=engine.node.name,
        )
    if isinstance(engine.timebase, MonotonicClock | WallClock | UTCClock) and _timed(spec):
        raise ExecutionError(
            f"machine {spec.shown} has states with a timeout, and its timebase "
            f"{type(engine.timebase).__name__} keeps its timers on an event loop. Fix: for the synchronous "
            f"door build it with timebase=ManualClock() (and move time with clock.advance())",
            state=engine.node.name,
        )
    if engine.running:
        raise ExecutionError(
            f"machine {spec.shown} is being run (by a handler or another task), and the synchronous door "
            f"only steps a machine nobody else is running. Fix: await that run, or call the synchronous "
            f"door from outside the machine's handlers",
            state=engine.node.name,
        )


def finish(engine: Any, step: Coroutine[Any, Any, Any]) -> Any:
    """Drive ``step`` (the engine's run or tick) to its end without an event loop; its result."""
    try:
        while True:
            waits = step.send(None)
            if waits is not None:  # a future: something really waits, which no loop will resolve
                break
    except StopIteration as done:
        return done.value
    try:
        step.throw(Unwind())  # unwinds as a cancelled step: what it took is put back
    except (asyncio.CancelledError, StopIteration):
        pass
    raise ExecutionError(
        f"machine {engine.spec.shown}: a handler in state {engine.node.name} waited for {waits!r}, which "
        f"needs an event loop. Fix: drive this machine with `await run()`",
        state=engine.node.name,
    )
