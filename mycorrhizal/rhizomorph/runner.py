"""Runner: one execution of a compiled tree over a blackboard.

A runner holds only what changes - per-node status, tick stamp, cursor and data lists, and the
tasks of async leaves still at work - so building one for an existing tree costs a few list
allocations.  Ticks are synchronous inside: sync leaves are plain calls and async leaves start
eagerly, so a tick never yields to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..common.diagram import Diagram
from ..common.errors import ExecutionError, HandlerError, MycorrhizalError
from ..common.timebase import Timebase, default_timebase
from .status import ErrorPolicy, Status
from .tree import Tree

__all__ = ["Runner"]

log = logging.getLogger("mycorrhizal.rhizomorph")
_DEBUG = logging.DEBUG
RUNNING = Status.RUNNING


class Runner:
    """Ticks one tree over one blackboard; ``ctx`` is handed untouched to leaves that ask for it.

    ``on_error`` is the error policy for leaves that do not set their own; ``on_tick(runner,
    status)`` is called after every tick (for metrics or recording; costs nothing when None).
    """

    __slots__ = (
        "tree",
        "bb",
        "timebase",
        "ctx",
        "on_error",
        "status",
        "seen",
        "cur",
        "data",
        "ticks",
        "polling",
        "_compiled",
        "_live",
        "_abandoned",
        "_woken",
        "_waiter",
        "_last",
        "_driven",
        "_on_tick",
    )

    def __init__(
        self,
        tree: Tree,
        bb: Any = None,
        timebase: Timebase | None = None,
        ctx: Any = None,
        *,
        on_error: ErrorPolicy = ErrorPolicy.PROPAGATE,
        on_tick: Callable[[Runner, Status], object] | None = None,
    ) -> None:
        if not isinstance(tree, Tree):
            raise TypeError(
                f"Runner needs a behaviour tree (made with @bt.tree, TreeBuilder or load_tree), got {tree!r}"
            )
        compiled = tree.compiled
        size = compiled.size
        self.tree = tree
        self.bb = bb
        self.timebase = default_timebase() if timebase is None else timebase
        self.ctx = ctx
        self.on_error = on_error
        #: Each node's last status (None: never ticked); RUNNING means the node is active.
        self.status: list[Status | None] = [None] * size
        #: The tick number at which each node last reported (or was halted).
        self.seen: list[int] = [0] * size
        self.cur: list[int] = compiled.cur_template.copy()
        self.data: list[Any] = [None] * size
        #: Number of ticks so far.
        self.ticks = 0
        #: True when a sync leaf reported RUNNING in the last tick (it wants to be ticked again).
        self.polling = False
        self._compiled = compiled
        self._live: set[asyncio.Task[Any]] = set()
        self._abandoned: set[asyncio.Task[Any]] = set()
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._last: Status | None = None
        self._driven = False
        #: Called after every tick with the runner and the root status (metrics, tracing, recording).
        self._on_tick = on_tick

    # ------------------------------------------------------------------------------------- ticking

    async def tick(self) -> Status:
        """Tick the tree once and return the root's status."""
        return self._tick()

    def _tick(self) -> Status:
        self.ticks += 1
        self.polling = False
        self._woken = False
        try:
            result = self._compiled.root_tick(self)
        except BaseException:
            self.reset()
            raise
        self._last = result
        if log.isEnabledFor(_DEBUG):
            log.debug("%s", self.trace())
        if self._on_tick is not None:
            self._on_tick(self, result)
        return result

    async def tick_until_complete(
        self, *, period: float | None = None, max_ticks: int | None = None
    ) -> Status:
        """Tick until the root reports something other than RUNNING; return that status.

        Between ticks it waits, without polling, until an async leaf finishes or a timer (timeout)
        fires.  Only when a plain-function leaf reported RUNNING - it can only be polled - does it
        tick again after ``period`` seconds on the timebase (``None``: as soon as the event loop
        has run other ready work).  ``max_ticks`` bounds the ticks; reaching it returns RUNNING.
        Before returning, it waits for the coroutines it cancelled to finish cancelling.  If the
        caller is cancelled, the tree is reset (everything running is halted) first.
        """
        if max_ticks is not None and max_ticks < 1:
            raise ValueError(f"max_ticks must be >= 1, got {max_ticks}")
        if self._waiter is not None or self._driven:
            raise ExecutionError(
                f"tree {self.tree.name!r}: tick_until_complete() is already running for this runner; "
                "await that call, or make another Runner for a separate run",
                node=self._compiled.ids[0],
            )
        loop = asyncio.get_running_loop()
        count = 0
        self._driven = True
        try:
            while True:
                result = self._tick()
                count += 1
                if result is not RUNNING or (max_ticks is not None and count >= max_ticks):
                    break
                if self.polling:
                    if period is None:
                        await asyncio.sleep(0)
                    else:
                        await self._wait(loop, period)
                elif not self._woken:
                    await self._wait(loop, None)
            await self.settle()
            log.info("%s finished %s after %d ticks", self.tree.name, result.name, count)
            return result
        except asyncio.CancelledError:
            self.reset()
            raise
        finally:
            self._driven = False

    async def _wait(self, loop: asyncio.AbstractEventLoop, period: float | None) -> None:
        waiter = self._waiter = loop.create_future()
        timer = None if period is None else self.timebase.call_later(period, self._wake)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def settle(self) -> None:
        """Wait until every coroutine this runner cancelled has finished (run its cleanup)."""
        while self._abandoned:
            await asyncio.wait(tuple(self._abandoned))

    def reset(self) -> None:
        """Halt everything running (cancelling async leaves, running halt hooks) and start afresh."""
        compiled = self._compiled
        if self.status[0] is RUNNING:
            compiled.halts[0](self)
        # Anything still marked running was left behind by an exception mid-tick: halt it too.
        for i, status in enumerate(self.status):
            if status is RUNNING:
                compiled.halts[i](self)
        for task in tuple(self._live):
            self._abandon(task)
        for data in self.data:
            cancel = getattr(data, "cancel", None)
            if cancel is not None:  # a timeout's timer (or a task)
                cancel()
        self.cur[:] = compiled.cur_template
        self.data[:] = [None] * compiled.size
        self.polling = False

    # ------------------------------------------------------------------------------ introspection

    @property
    def last_status(self) -> Status | None:
        """The root status of the last tick (None before the first)."""
        return self._last

    @property
    def running(self) -> bool:
        """True while the root's last status is RUNNING."""
        return self.status[0] is RUNNING

    def statuses(self) -> dict[str, Status | None]:
        """Last status of every node by node id (None: never ticked)."""
        return dict(zip(self._compiled.ids, self.status, strict=True))

    def last_tick(self) -> dict[str, Status]:
        """Status of every node that reported (or was halted) during the last tick, by node id."""
        ticks = self.ticks
        return {
            node_id: status
            for node_id, status, seen in zip(self._compiled.ids, self.status, self.seen, strict=True)
            if seen == ticks and status is not None
        }

    def trace(self) -> str:
        """One line describing the last tick: each node that reported and its status, in preorder."""
        shown = " ".join(f"{node}={status.name}" for node, status in self.last_tick().items())
        return f"{self.tree.name} tick {self.ticks}: {shown}"

    def to_diagram(self) -> Diagram:
        """The tree's picture coloured by the last tick's statuses (grey: not ticked then)."""
        from .render import tree_diagram

        return tree_diagram(self._compiled, self)

    def __repr__(self) -> str:
        return f"Runner({self.tree.name!r}, ticks={self.ticks}, last={self._last!r})"

    # ------------------------------------------------------------------- hooks for tick functions

    def _wake(self) -> None:
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task in self._live:
            self._wake()
        elif task in self._abandoned:
            self._abandoned.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error(
                    "%s: a halted leaf raised while being cancelled",
                    self.tree.name,
                    exc_info=task.exception(),
                )

    def _abandon(self, task: asyncio.Task[Any]) -> None:
        self._live.discard(task)
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: its result no longer matters
            return
        task.cancel()
        self._abandoned.add(task)

    def _leaf_raised(self, i: int, exc: Exception) -> Status:
        compiled = self._compiled
        policy = compiled.policies[i] or self.on_error
        spec = compiled.specs[i]
        if policy is ErrorPolicy.PROPAGATE:
            if isinstance(exc, MycorrhizalError):
                raise exc  # our own errors (a blackboard view's, a nested runner's) keep their type
            raise HandlerError(
                f"{spec.kind} {spec.name!r} in tree {self.tree.name!r} raised {exc!r}",
                node=compiled.ids[i],
            ) from exc
        log.error(
            "%s: %s %r raised %r; reporting %s",
            self.tree.name,
            spec.kind,
            spec.name,
            exc,
            policy.name,
            exc_info=exc,
        )
        return Status.FAILURE if policy is ErrorPolicy.FAILURE else Status.ERROR

    def _run_halt_hook(self, i: int, hook: Callable[[Runner], Any]) -> None:
        try:
            hook(self)
        except Exception:
            log.exception("%s: halt hook of %r raised", self.tree.name, self._compiled.specs[i].name)

    def _timed_out(self, i: int, label: str, seconds: float) -> None:
        log.info("%s: %r timed out after %gs; halting its child", self.tree.name, label, seconds)
