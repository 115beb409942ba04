"""Petri-net transition handlers that run a behaviour tree or a state machine.

Each factory returns an ordinary hypha handler ``async def fire(consumed, bb, timebase, ctx)``, so
the net's scheduler, atomic firing and error policy apply unchanged: if the tree or machine raises,
or leaves a token unplaced with nowhere to reject it, the firing fails and hypha puts the consumed
tokens back (or into the transition's error place). Nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..common.callables import is_async_callable
from ..common.errors import RoutingError
from ..hypha import Consumed, FiringContext, Runner
from ..rhizomorph import Runner as TreeRunner
from ..rhizomorph import Tree
from ..septum import State, StateMachine
from .routing import Delivery, TokenContext, commit

__all__ = ["BodyHook", "machine_handler", "machines", "tree_handler"]

BodyHook = Callable[[Consumed, Any, Any], Any]
"""The decorated function of an embedded transition: runs first on each firing, returns None."""

Handler = Callable[[Consumed, Any, Any, FiringContext], Any]


async def _empty_async(consumed: Any, bb: Any, timebase: Any) -> None:
    pass


def _empty_sync(consumed: Any, bb: Any, timebase: Any) -> None:
    pass


# A body that is only ``pass``/``...``/a docstring compiles to exactly these instructions.
_EMPTY_BODIES = {_empty_async.__code__.co_code, _empty_sync.__code__.co_code}


def _body_runner(body: BodyHook) -> Callable[[Consumed, Any, Any, str], Any] | None:
    """A coroutine function running the transition's own body, or None when the body is empty."""
    code = getattr(body, "__code__", None)
    if code is not None and code.co_code in _EMPTY_BODIES:
        return None  # the usual ``pass`` body: not calling it saves a coroutine per firing
    is_async = is_async_callable(body)

    async def run_body(consumed: Consumed, bb: Any, timebase: Any, transition: str) -> None:
        result = body(consumed, bb, timebase)
        if is_async:
            result = await result
        if result is not None:
            raise RoutingError(
                f"transition {transition!r} returned {result!r} from its own body; with bt= or fsm= "
                "the tree or machine routes the tokens, so the body must return None",
                transition=transition,
            )

    return run_body


_MACHINES = "machines"  # where an fsm= transition keeps its machines in its runner memory
_LOCKS = "machine locks"  # and, when it fires concurrently, one lock per machine


def machines(runner: Runner, transition: str) -> Mapping[Any, StateMachine]:
    """The live state machines of an ``fsm=`` transition in ``runner``, by key (``None`` without ``fsm_key``).

    A read-only, live view: a machine appears when its first token arrives.
    """
    return MappingProxyType(runner.memory(transition).setdefault(_MACHINES, {}))


def tree_handler(
    tree: Tree, mode: str, body: BodyHook, outputs: Mapping[str, str], rejected: str | None
) -> Handler:
    """A handler that runs ``tree`` per consumed token (``mode="token"``) or once per firing ("batch")."""
    run_body = _body_runner(body)

    async def decide(tokens: tuple[Any, ...], bb: Any, timebase: Any, ctx: FiringContext) -> None:
        routing = TokenContext(ctx.transition, outputs, tokens, bb, timebase, batch=mode == "batch")
        try:
            status = await TreeRunner(tree, bb, timebase, routing).tick_until_complete()
        finally:
            routing.close()  # a leaf that kept ctx cannot route these tokens after the firing
        commit(routing, ctx.emit, rejected, f"tree {tree.name!r} ended {status.name} without routing it")

    async def fire(consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> None:
        if run_body is not None:
            await run_body(consumed, bb, timebase, ctx.transition)
        if mode == "batch":
            await decide(tuple(consumed), bb, timebase, ctx)
        else:
            for token in consumed:
                await decide((token,), bb, timebase, ctx)

    return fire


def machine_handler(
    initial: State,
    key: Callable[[Any], Any] | None,
    body: BodyHook,
    outputs: Mapping[str, str],
    rejected: str | None,
    options: Mapping[str, Any],
    *,
    serial: bool = True,
) -> Handler:
    """A handler that delivers each consumed token to a state machine living with the transition.

    The machine is created on the first firing of the transition in a runner (one per ``key(token)``
    when ``key`` is given), shares the net's blackboard and timebase, and keeps its state across
    firings; its timeouts run on the net's timebase whether or not tokens arrive.  ``serial`` says
    the transition fires one at a time; otherwise concurrent firings take turns per machine.
    """
    run_body = _body_runner(body)

    async def hand_over(token: Any, which: Any, bb: Any, timebase: Any, ctx: FiringContext) -> None:
        # One flat coroutine per token: this is the hot path of every fsm= transition.
        living: dict[Any, StateMachine] = ctx.memory.get(_MACHINES) or ctx.memory.setdefault(_MACHINES, {})
        fsm = living.get(which)
        if fsm is None:
            fsm = StateMachine(initial, common_data=bb, timebase=timebase, **options)
            living[which] = fsm
            await fsm.run()  # enter the initial state and do its entry run before the first token
        delivery = Delivery(ctx.transition, outputs, token)
        if fsm.is_complete:
            unrouted = f"its machine has finished (terminal state {fsm.current_state.name})"
            commit(delivery, ctx.emit, rejected, unrouted)
            return
        fsm.send_message(delivery)
        try:
            await fsm.run()
        finally:
            # If run() failed before the machine took the token (an error its timer hit earlier),
            # the firing fails and the token goes back: the machine must not handle it later too.
            fsm.withdraw(delivery)
            delivery.close()
        routed = delivery.routed_to()
        if routed is not None:
            ctx.emit(*routed)
        else:
            unrouted = f"its machine, in state {fsm.current_state.name}, did not route it"
            commit(delivery, ctx.emit, rejected, unrouted)

    async def fire(consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> None:
        if run_body is not None:
            await run_body(consumed, bb, timebase, ctx.transition)
        if len(consumed) == 1 and serial:
            token = consumed[0]
            await hand_over(token, None if key is None else key(token), bb, timebase, ctx)
            return
        # Every key first: a key that raises fails the firing before any machine saw a token.
        keys = [None] * len(consumed) if key is None else [key(token) for token in consumed]
        for token, which in zip(consumed, keys, strict=True):
            if serial:
                await hand_over(token, which, bb, timebase, ctx)
                continue
            # Concurrent firings: one token at a time per machine, or one firing's run() would
            # handle (and answer for) another firing's token.
            locks: dict[Any, asyncio.Lock] = ctx.memory.setdefault(_LOCKS, {})
            lock = locks.get(which)
            if lock is None:
                lock = locks[which] = asyncio.Lock()
            async with lock:
                await hand_over(token, which, bb, timebase, ctx)

    return fire
