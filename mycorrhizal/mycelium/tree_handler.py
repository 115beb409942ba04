"""The Petri-net handler of a ``bt=`` transition: a behaviour tree decides about each token.

The handler is an ordinary hypha handler ``fire(consumed, bb, timebase, ctx)`` (a plain function
when it can be, see :func:`tree_handler`), so the net's scheduler, atomic firing and error policy
apply unchanged: if the tree raises, or leaves a token unplaced with nowhere to reject it, the
firing fails and hypha puts the consumed tokens back (or into the transition's error place).
Nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..common.blackboard import BlackboardView, read
from ..common.codec_types import preview
from ..common.errors import AccessControlError, HandlerError, InvalidStatusError, split_fix
from ..hypha import Consumed, FiringContext
from ..rhizomorph import Runner as TreeRunner
from ..rhizomorph import Status, Tree
from ..rhizomorph.options import RAISED
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

    # A leaf whose ``bb`` is annotated with an interface naming ``pn_ctx`` (0.x's bridge set it on
    # the board itself) reads it through a view of this one, by item: answer it here, not from the
    # user's blackboard, which has none.  (This view allows every key: no access check to make.)
    def __getitem__(self, key: str) -> Any:
        return self.pn_ctx if key == "pn_ctx" else read(self._bb, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Read ``key`` (``pn_ctx``: the run's context), or ``default`` when the blackboard has none."""
        return self.pn_ctx if key == "pn_ctx" else read(self._bb, key, default)


def _unrouted(tree: Tree, status: Any) -> str:
    return f"tree {tree.name!r} ended {status.name} without routing it"


_SAID = (HandlerError, AccessControlError, InvalidStatusError)
"""What a leaf's failure in a run is: its own exception (as a HandlerError), a view's refusal of its
blackboard access, or a return value that is not a status; each names its node (``.node``)."""


def name_tokens(exc: BaseException, routing: TokenContext, parks: bool) -> None:
    """Have ``exc``, a run's error, say the transition and the token(s) the tree ran for, if it is a
    leaf's (:data:`_SAID`); a leaf's :class:`HandlerError` then ends with a fix that applies to a
    tree inside a transition (whose ``Runner`` nobody but the transition makes).  Called only on
    failure.

    ``parks``: the transition has an error place already, so the fix does not suggest giving it one.

    Said in place, not wrapped: its node, cause (the user's exception) and traceback stay as they were.
    """
    kind = type(exc)
    if kind not in _SAID:
        return
    leaf: HandlerError | AccessControlError | InvalidStatusError = exc  # type: ignore[assignment]
    if leaf.node is None or leaf.transition is not None:
        return
    said, fix = split_fix(str(exc))
    # The Runner's on_error= is out of the user's reach here: say what is not.
    if kind is HandlerError and fix == RAISED:
        fix = (
            "catch the exception in the leaf (and ctx.reject(reason) the token), or give the leaf "
            "on_error=ErrorPolicy.FAILURE (an unrouted token goes to the transition's rejected= place)"
            if parks
            else "catch the exception in the leaf (and ctx.reject(reason) the token), give the leaf "
            "on_error=ErrorPolicy.FAILURE (an unrouted token goes to the transition's rejected= place), "
            f"or give transition {routing.transition!r} on_error='<a place>' to park a failing firing's "
            "tokens as FailedTokens"
        )
    # A short repr: a token can be huge, and a batch's run cannot tell which of its tokens it was.
    who = f"tokens {preview(routing.tokens)}" if routing._batch else f"token {preview(routing.token)}"
    exc.args = (f"{who}: {said}" if fix is None else f"{who}: {said}. Fix: {fix}",)
    leaf.transition = routing.transition


def asks_for_ctx(tree: Tree) -> bool:
    """True if a leaf of ``tree`` takes ``ctx`` (this library's form); else it is a 0.x tree."""
    return any("ctx" in leaf.params for leaf in tree.leaves())


def tree_handler(spec: EmbeddedTree, body: BodyHook, inline: bool = True) -> Handler:
    """A handler that runs the tree per consumed token (``mode="token"``) or once per firing ("batch").

    ``inline``: the transition's firings start inline (hypha's ``eager=True``).  Then, in token
    mode with an empty body, the handler is a plain function: a token whose tree completes on its
    first tick (the common case) is decided without a coroutine, and only one that needs more
    ticks makes the rest of the firing a coroutine (which hypha drives as it would the handler's).
    """
    firings = _TreeFirings(spec, body)
    if firings.run_body is not None or firings.batch or not inline:
        return firings.fire
    return firings.fire_inline


class _TreeFirings:
    """The firings of one ``bt=`` transition: a run of its tree per token (or per batch).

    A finished run's runner is kept and renewed for the next token (``Runner._renew``): each token
    still gets a run of its own, with nothing of the previous one left.
    """

    __slots__ = ("tree", "batch", "outputs", "rejected", "parks", "run_body", "old_style", "spare")

    def __init__(self, spec: EmbeddedTree, body: BodyHook) -> None:
        self.tree, self.batch = spec.tree, spec.mode == "batch"
        self.outputs, self.rejected = spec.routes.outputs, spec.routes.rejected
        self.parks = spec.parks
        self.run_body = body_runner(body)
        self.old_style = not asks_for_ctx(spec.tree)
        self.spare: list[TreeRunner] = []  # runners at rest, for the next tokens (of any net runner)

    def begin(self, tokens: tuple[Any, ...], bb: Any, timebase: Any, ctx: FiringContext) -> TreeRunner:
        """A run of the tree over ``tokens``, with its routing context as the runner's ``ctx``."""
        routing = TokenContext(
            ctx.transition, self.outputs, tokens, bb, timebase, batch=self.batch, consumed=ctx.consumed
        )
        board = PNBlackboard(bb, routing) if self.old_style and not isinstance(bb, Mapping) else bb
        observers = ctx.runner.observers
        if observers.active:  # the net is observed: so is this run of the tree
            runner = TreeRunner(self.tree, board, timebase, routing)
            net = ctx.runner.net.name
            runner.add_observer(forwarder(observers, net, ctx.transition, routing.token, runner))
            return runner
        spare = self.spare
        if spare:
            runner = spare.pop()
            if runner.timebase is timebase and runner._renew(board, routing):
                return runner
        return TreeRunner(self.tree, board, timebase, routing)

    def end(self, runner: TreeRunner, status: Status, ctx: FiringContext, alone: bool = False) -> Any:
        """The run is over: no more decisions; keep the runner for later, hand the decisions to the
        firing.  ``alone``: the firing's only token; if routed, it is returned as the handler's
        result (one output, hypha's quickest commit) rather than emitted."""
        routing: TokenContext = runner.ctx
        routing.close()  # a leaf that kept ctx cannot route these tokens after the firing
        if not runner._observers:
            runner.bb = runner.ctx = None  # (kept, it holds on to nothing of this run)
            self.spare.append(runner)
        if alone:
            decision = routing._decisions[0]
            if decision is not None and decision[0] is not None:
                return {decision[0]: decision[2]}
        commit(routing, ctx.emit, self.rejected, partial(_unrouted, self.tree, status))
        return None

    async def fire(self, consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> None:
        """The handler (as a coroutine): the body, then a run of the tree per token or per batch."""
        if self.run_body is not None:
            await self.run_body(consumed, bb, timebase, ctx.transition)
        await self._runs(consumed, bb, timebase, ctx, 0)

    async def _runs(self, consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext, start: int) -> None:
        for tokens in (tuple(consumed),) if self.batch else [(token,) for token in consumed[start:]]:
            runner = self.begin(tokens, bb, timebase, ctx)
            try:
                status = await runner.tick_until_complete()
            except BaseException as exc:
                runner.ctx.close()
                name_tokens(exc, runner.ctx, self.parks)
                raise
            self.end(runner, status, ctx)

    def fire_inline(self, consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> Any:
        """The handler as a plain function: when every token was decided at once, its outputs (or
        None, having emitted them); else the rest of the firing as a coroutine."""
        alone = len(consumed) == 1
        for position, token in enumerate(consumed):
            runner = self.begin((token,), bb, timebase, ctx)
            try:
                status = runner._run_at_once()
            except BaseException as exc:
                runner.ctx.close()
                name_tokens(exc, runner.ctx, self.parks)
                raise
            if status is None:  # the tree needs more ticks
                return self._going_on(runner, consumed, bb, timebase, ctx, position)
            produced = self.end(runner, status, ctx, alone)
            if alone:
                return produced
        return None

    async def _going_on(
        self, runner: TreeRunner, consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext, at: int
    ) -> None:
        try:
            status = await runner._run_on()
        except BaseException as exc:
            runner.ctx.close()
            name_tokens(exc, runner.ctx, self.parks)
            raise
        self.end(runner, status, ctx)
        await self._runs(consumed, bb, timebase, ctx, at + 1)
