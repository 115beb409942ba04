"""The Petri-net handler of a ``bt=`` transition: a behaviour tree decides about each token.

The handler is an ordinary hypha handler ``async def fire(consumed, bb, timebase, ctx)``, so the
net's scheduler, atomic firing and error policy apply unchanged: if the tree raises, or leaves a
token unplaced with nowhere to reject it, the firing fails and hypha puts the consumed tokens back
(or into the transition's error place). Nothing is lost.
"""

from __future__ import annotations

from typing import Any

from ..hypha import Consumed, FiringContext
from ..rhizomorph import Runner as TreeRunner
from .body import BodyHook, Handler, body_runner
from .routing import TokenContext, commit
from .spec import EmbeddedTree

__all__ = ["tree_handler"]


def tree_handler(spec: EmbeddedTree, body: BodyHook) -> Handler:
    """A handler that runs the tree per consumed token (``mode="token"``) or once per firing ("batch")."""
    run_body = body_runner(body)
    tree, batch, routes = spec.tree, spec.mode == "batch", spec.routes

    async def decide(tokens: tuple[Any, ...], bb: Any, timebase: Any, ctx: FiringContext) -> None:
        routing = TokenContext(ctx.transition, routes.outputs, tokens, bb, timebase, batch=batch)
        try:
            status = await TreeRunner(tree, bb, timebase, routing).tick_until_complete()
        finally:
            routing.close()  # a leaf that kept ctx cannot route these tokens after the firing
        unrouted = f"tree {tree.name!r} ended {status.name} without routing it"
        commit(routing, ctx.emit, routes.rejected, unrouted)

    async def fire(consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> None:
        if run_body is not None:
            await run_body(consumed, bb, timebase, ctx.transition)
        if batch:
            await decide(tuple(consumed), bb, timebase, ctx)
        else:
            for token in consumed:
                await decide((token,), bb, timebase, ctx)

    return fire
