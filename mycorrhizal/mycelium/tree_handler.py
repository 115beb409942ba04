"""The Petri-net handler of a ``bt=`` transition: a behaviour tree decides about each token.

The handler is an ordinary hypha handler ``async def fire(consumed, bb, timebase, ctx)``, so the
net's scheduler, atomic firing and error policy apply unchanged: if the tree raises, or leaves a
token unplaced with nowhere to reject it, the firing fails and hypha puts the consumed tokens back
(or into the transition's error place). Nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..common.blackboard import BlackboardView
from ..hypha import Consumed, FiringContext
from ..rhizomorph import Runner as TreeRunner
from ..rhizomorph import Tree
from .body import BodyHook, Handler, body_runner
from .forwarding import forwarder
from .routing import TokenContext, commit
from .spec import EmbeddedTree

__all__ = ["PNBlackboard", "asks_for_ctx", "tree_handler"]


class PNBlackboard(BlackboardView):
    """The blackboard as a 0.x tree's leaves see it in a transition: itself, plus ``bb.pn_ctx``.

    0.x trees have no ``ctx`` parameter; they route through ``bb.pn_ctx``.  Rather than writing that
    attribute on the user's blackboard (which concurrent firings would overwrite), each run gets
    this view: reads and writes go to the blackboard itself, ``pn_ctx`` is the run's own context.
    """

    __slots__ = ("pn_ctx",)

    def __init__(self, bb: Any, routing: TokenContext) -> None:
        super().__init__(bb, name="blackboard")
        object.__setattr__(self, "pn_ctx", routing)


def _unrouted(tree: Tree, status: Any) -> str:
    return f"tree {tree.name!r} ended {status.name} without routing it"


def asks_for_ctx(tree: Tree) -> bool:
    """True if a leaf of ``tree`` takes ``ctx`` (this library's form); else it is a 0.x tree."""
    return any("ctx" in leaf.params for leaf in tree.leaves())


def tree_handler(spec: EmbeddedTree, body: BodyHook) -> Handler:
    """A handler that runs the tree per consumed token (``mode="token"``) or once per firing ("batch")."""
    run_body = body_runner(body)
    tree, batch, routes = spec.tree, spec.mode == "batch", spec.routes
    old_style = not asks_for_ctx(tree)

    async def fire(consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> None:
        if run_body is not None:
            await run_body(consumed, bb, timebase, ctx.transition)
        observers = ctx.runner.observers
        # One run of the tree per token (zip gives each as a 1-tuple), or one over them all.
        for tokens in (tuple(consumed),) if batch else zip(consumed):
            routing = TokenContext(
                ctx.transition, routes.outputs, tokens, bb, timebase, batch=batch, consumed=ctx.consumed
            )
            board = PNBlackboard(bb, routing) if old_style and not isinstance(bb, Mapping) else bb
            runner = TreeRunner(tree, board, timebase, routing)
            if observers.active:  # the net is observed: so is this run of the tree
                runner.add_observer(forwarder(observers, ctx.runner.net.name, ctx.transition, routing.token))
            try:
                status = await runner.tick_until_complete()
            finally:
                routing.close()  # a leaf that kept ctx cannot route these tokens after the firing
            commit(routing, ctx.emit, routes.rejected, partial(_unrouted, tree, status))

    return fire
