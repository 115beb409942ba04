"""``mycorrhizal serve``: run a net, machine or tree with its live view open until interrupted.

The target is a runtime the user built (a net's ``Runner``, a ``StateMachine``, a tree's
``Runner``) or a spec to run as is (a net, an initial state or group, a tree), with no blackboard.
How each runs: a net is started (its sources and timers drive it); a machine runs, waiting for
timeouts, until it reaches a terminal state; a tree is ticked until its root completes.  The view
stays open afterwards, showing the end state, until the caller is cancelled (Ctrl-C).

Pacing: a spec runs on real time unless ``speed`` (or ``paused``) is given, which runs it on a fresh
:class:`~mycorrhizal.common.ManualClock` paced by the view (pause and step then work).  A runtime
built on a virtual clock is always paced (at ``speed``, default 1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..common.timebase import ManualClock
from ..hypha import NetSpec
from ..hypha import Runner as NetRunner
from ..rhizomorph import Runner as TreeRunner
from ..rhizomorph import Tree
from ..septum import State, StateGroup, StateMachine
from .pacer import is_virtual
from .view import LiveView

__all__ = ["runtime_of", "serve"]

log = logging.getLogger("mycorrhizal.live")

RUNTIMES = (NetRunner, StateMachine, TreeRunner)


def runtime_of(target: Any, clock: Any = None) -> Any:
    """``target`` if it is a runtime, else a new runtime of the spec ``target`` (on ``clock``)."""
    if isinstance(target, RUNTIMES):
        return target
    if isinstance(target, NetSpec):
        return NetRunner(target, None, clock)
    if isinstance(target, State | StateGroup):
        return StateMachine(target, timebase=clock)
    if isinstance(target, Tree):
        return TreeRunner(target, None, clock)
    shown = repr(target)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise TypeError(
        f"cannot serve {shown} (of type {type(target).__name__}). Fix: name a hypha/mycelium net or its "
        "Runner, a septum state, group or StateMachine, or a rhizomorph tree or its Runner"
    )


async def _drive(runtime: Any) -> str:
    """Run ``runtime`` the way its kind runs by itself; a sentence saying how it ended."""
    if isinstance(runtime, NetRunner):
        await runtime.start()
        return "the net is running (its sources and timers drive it)"
    if isinstance(runtime, StateMachine):
        await runtime.run(wait=True)
        return f"the machine finished in {runtime.current_state.name}"
    status = await runtime.tick_until_complete()
    return f"the tree finished {status.name} after {runtime.ticks} ticks"


async def _stop(runtime: Any) -> None:
    if isinstance(runtime, NetRunner):
        await runtime.stop(cancel=True)
    elif isinstance(runtime, TreeRunner):
        await runtime.aclose()


async def serve(
    target: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    speed: float | None = None,
    paused: bool = False,
    say: Callable[[str], None] = lambda text: None,
) -> None:
    """Run ``target`` with a live view at ``host:port`` until cancelled; ``say`` gets progress lines."""
    fresh = not isinstance(target, RUNTIMES)
    clock = ManualClock() if fresh and (speed is not None or paused) else None
    runtime = runtime_of(target, clock)
    if clock is None and is_virtual(runtime.timebase):
        clock = runtime.timebase
    elif clock is None and (speed is not None or paused):
        raise ValueError(
            f"--speed and --paused pace a virtual clock, but this {type(runtime).__name__} runs on "
            f"{type(runtime.timebase).__name__}. Fix: build it with timebase=ManualClock(), or drop them"
        )
    view = LiveView(runtime, host=host, port=port, clock=clock, speed=speed or 1.0, paused=paused)
    async with view:
        say(f"live view of {view.watched.kind} {view.watched.name!r}: {view.url}  (Ctrl-C to stop)")
        try:
            say(await _drive(runtime) + "; the view stays open")
        except Exception as exc:  # the user's handlers: shown, and the view stays open on the failure
            log.info("live view: the run failed: %s: %s", type(exc).__name__, exc)
            say(f"the run failed: {type(exc).__name__}: {exc}; the view stays open")
        try:
            await view.wait_closed()
        finally:
            await asyncio.shield(_stop(runtime))
