"""The Petri-net handler of an ``fsm=`` transition: each token is a message to a living machine.

The handler is an ordinary hypha handler ``async def fire(consumed, bb, timebase, ctx)``, so the
net's scheduler, atomic firing and error policy apply unchanged: if the machine raises, or leaves a
token unplaced with nowhere to reject it, the firing fails and hypha puts the consumed tokens back
(or into the transition's error place). Nothing is lost. The machines themselves live in the
transition's :class:`~.machine_pool.MachinePool`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..common.codec_types import preview
from ..common.errors import ExecutionError, RecordedError, StateMachineComplete
from ..hypha import Consumed, FiringContext
from ..septum import durable
from ..septum.failures import DECLINED, UNROUTED, routed_elsewhere
from .body import BodyHook, Handler, body_runner
from .machine_pool import POOL, MachinePool
from .routing import Delivery, commit
from .spec import EmbeddedMachine

__all__ = ["EMBEDDED", "embedded_machine", "machine_handler"]

_IN_A_NET = {
    UNROUTED: ", or give fsm_options an error_state (or on_error) to route failures to",
    DECLINED: ", or have on_error return a state for it (or give fsm_options an error_state)",
}
"""septum's ways to route a failure, said where a net's machine is given them: its fsm_options."""

EMBEDDED = "embedded_machine"
"""The attribute of an ``fsm=`` transition's handler holding its :class:`EmbeddedMachine`."""


Produced = dict[str, Any] | None
"""What handing one token over produced: ``{output: token}`` if the machine routed it, else None
(a rejected token was emitted into the ``rejected`` place)."""

HandOver = Callable[[MachinePool, Any, Any, FiringContext], Coroutine[Any, Any, Produced]]
"""Hands one token to the machine of a key: ``await hand_over(pool, token, key, ctx)``."""


def machine_handler(spec: EmbeddedMachine, body: BodyHook) -> Handler:
    """A handler that delivers each consumed token to the state machine of its key.

    The machine is made on the first token for its key in a runner, shares the net's blackboard and
    timebase, and keeps its state across firings; its timeouts run on the net's timebase whether or
    not tokens arrive. When the transition fires concurrently, firings take turns per machine.
    """
    run_body = body_runner(body)
    key = spec.key
    hand_over = _hand_over(spec)
    deliver = hand_over if spec.serial and not spec.evicts else _taking_turns(hand_over, spec.serial)

    async def fire(consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> Produced:
        if run_body is not None:
            await run_body(consumed, bb, timebase, ctx.transition)
        pool = ctx.memory.get(POOL) or MachinePool.of(spec, ctx)
        if len(consumed) == 1:
            (token,) = consumed
            # One token: what its machine routed is the firing's result (hypha's one-output commit).
            return await deliver(pool, token, None if key is None else pool.key_of(token), ctx)
        # Every key first: a key that fails fails the firing before any machine saw a token.
        keys = [pool.key_of(token) for token in consumed]
        await _hold_all(pool, keys)  # until the firing ends: what it did to them is not committed yet
        try:
            for token, which in zip(consumed, keys, strict=True):
                produced = await deliver(pool, token, which, ctx)
                if produced is not None:
                    ctx.emit(*next(iter(produced.items())))
        finally:
            for which in keys:
                pool.release(which)
        return None

    setattr(fire, EMBEDDED, spec)  # for those that run the net elsewhere (distribution's workers)
    return fire


async def _hold_all(pool: MachinePool, keys: list[Any]) -> None:
    """Hold the machines of ``keys`` for a firing of several tokens, once no other firing holds one.

    A machine's change commits with the firing that made it: had another firing handed a held machine
    a token and committed first, a crash would recover the machine without what that firing's token
    did to it (or, written with it, ahead of the holder's tokens). Taking every key at once, with no
    await between the check and the taking, means no firing waits while it holds one: no deadlock.
    """
    held = pool.held
    while any(which in held for which in keys):
        if pool.freed is None:
            pool.freed = asyncio.Event()
        await pool.freed.wait()
    for which in keys:
        pool.hold(which)


def embedded_machine(handler: Any) -> EmbeddedMachine | None:
    """The machines an ``fsm=`` transition's handler delivers to (None for any other handler)."""
    spec = getattr(handler, EMBEDDED, None)
    return spec if isinstance(spec, EmbeddedMachine) else None


def _hand_over(spec: EmbeddedMachine) -> HandOver:
    outputs, rejected = spec.routes.outputs, spec.routes.rejected

    async def hand_over(pool: MachinePool, token: Any, which: Any, ctx: FiringContext) -> Produced:
        # One flat coroutine per token: this is the hot path of every fsm= transition.
        fsm = pool.living.get(which)
        if fsm is None:
            fsm = await pool.open(which)
        delivery = Delivery(ctx.transition, outputs, token)
        try:
            fsm.send_message(delivery)
        except StateMachineComplete:
            commit(
                delivery,
                ctx.emit,
                rejected,
                lambda: f"its machine has finished (terminal state {fsm.current_state.name})",
            )
            return None
        try:
            await fsm.run()
        except ExecutionError as exc:  # a handler's HandlerError, an undeclared label, an empty stack...
            # What its timer's handler raised with nobody running it (before this firing, or while it
            # waited for its turn): run() raises it first, and it is the machine's, not the token's.
            background = durable.raised_in_background(exc)
            where = fsm.current_state.name
            name_machine(exc, token, which, ctx.transition, spec.key is not None, background, where)
            raise
        finally:
            # If run() failed before the machine took the token (an error its timer hit earlier),
            # the firing fails and the token goes back: the machine must not handle it later too.
            fsm.withdraw(delivery)
            produced = delivery._finish()  # closed: a decision after this firing is refused
        if produced is None:
            commit(
                delivery,
                ctx.emit,
                rejected,
                lambda: f"its machine, in state {fsm.current_state.name}, did not route it",
            )
        return produced

    return hand_over


def name_machine(
    exc: ExecutionError,
    token: Any,
    which: Any,
    transition: str,
    keyed: bool,
    background: bool = False,
    where: str | None = None,
) -> None:
    """Have ``exc``, a machine's error, say the transition, the machine's key and the token it was
    handed (short reprs: either can be huge).  Called only on failure.

    ``background``: ``exc`` is what the machine's timer handler raised earlier with nobody running
    it, which this firing's run() raised first: said as the machine's, the token only receiving it.
    ``where``: the machine's state, for an error that names none (``exc.state`` is None).
    A fix that says to give the machine an ``error_state`` says where: ``fsm_options``.

    Said in place, not wrapped: the machine's ``HandlerFailed`` record and the firing's failure are
    one error, and its cause (the user's exception), state and traceback stay as they were.
    """
    if isinstance(exc, RecordedError) or exc.transition is not None:  # read back, or said already
        return
    if exc.state is None:
        exc.state = where
    if background:
        machine = f"machine of key {preview(which)}" if keyed else "the machine"
        who = (
            f"{machine}, in state {exc.state}, failed earlier in the background (its timeout handler ran "
            f"with nobody running the machine); received by the firing of token {preview(token)}, "
            "which did not cause it"
        )
    elif keyed:
        who = f"machine of key {preview(which)}, token {preview(token)}"
    else:
        who = f"token {preview(token)}"
    exc.args = (f"{who}: {routed_elsewhere(str(exc), _IN_A_NET)}",)  # error_state: given in fsm_options
    exc.transition = transition


def _taking_turns(hand_over: HandOver, serial: bool) -> HandOver:
    """``hand_over`` with the machine marked in use, and for concurrent firings one token at a time."""

    async def take_turn(pool: MachinePool, token: Any, which: Any, ctx: FiringContext) -> Produced:
        # Marked in use while waiting too: a machine a firing waits for is neither evicted nor
        # without its lock, or one firing's run() could handle (and answer for) another's token.
        pool.enter(which)
        try:
            if serial:
                return await hand_over(pool, token, which, ctx)
            async with pool.turn(which):
                return await hand_over(pool, token, which, ctx)
        finally:
            pool.leave(which)

    return take_turn
