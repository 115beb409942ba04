"""Runner: one execution of a tree over a blackboard.

A runner holds only what changes - per-node status, tick stamp, cursor and data lists, and the
tasks of async leaves still at work - so building one for an existing tree costs a few list
allocations; the tree's program (:mod:`.program`) is shared.  Ticks are synchronous inside: sync
leaves are plain calls and async leaves start eagerly, so a tick never yields to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, NoReturn

from ..common.codecs import JSON, CodecRegistry
from ..common.diagram import Diagram
from ..common.eager import EagerStarter
from ..common.errors import AccessControlError, ExecutionError, HandlerError, MycorrhizalError
from ..common.interface_views import InterfaceViews
from ..common.interpreter import level_cache
from ..common.observers import Event, Observer, Observers
from ..common.timebase import Timebase, checked_timebase
from . import drive, options, snapshot, views
from .behaviours.host import Call
from .catchup import catch_up
from .events import make_cleanup_failed, make_leaf_failed, make_timed_out
from .program import PROGRAMS, observed_program_of, program_of
from .status import ErrorPolicy, Status
from .tasks import LeafTasks
from .tree import Tree

__all__ = ["Runner"]

log = logging.getLogger("mycorrhizal.rhizomorph")
_DEBUG, _INFO = logging.DEBUG, logging.INFO
_LEVELS = level_cache(log)  # the logger's own isEnabledFor() answers: one lookup per tick
RUNNING = Status.RUNNING
_PROPAGATE = ErrorPolicy.PROPAGATE
_programs_get, _DEFAULT_TIMEBASE = PROGRAMS.get, checked_timebase(None, "Runner")


class Runner:
    """Ticks one tree over one blackboard; ``ctx`` is handed untouched to leaves that ask for it.

    ``on_error`` is the error policy for leaves that do not set their own; ``on_tick(runner,
    status)`` is called after every tick (costs nothing when None).  ``await runner.aclose()`` (or
    ``async with Runner(...) as runner:``) halts whatever is running and waits for it to unwind.
    0.x's keywords ``tb``, ``exception_policy``, ``trace`` work too (:mod:`~mycorrhizal.rhizomorph.options`).
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
        "eager",
        "_program",
        "_tasks",
        "_observers",
        "_woken",
        "_waiter",
        "_last",
        "_driven",
        "_closed",
        "_on_tick",
        "_views",
        "__weakref__",
    )

    def __init__(
        self,
        tree: Tree,
        bb: Any = None,
        timebase: Timebase | None = None,
        ctx: Any = None,
        on_error: ErrorPolicy = ErrorPolicy.PROPAGATE,
        on_tick: Callable[[Runner, Status], object] | None = None,
        tb: Timebase | None = None,
        exception_policy: ErrorPolicy | None = None,
        trace: logging.Logger | None = None,
    ) -> None:
        # Every parameter takes a position: cheaper than keyword-only ones or **kwargs (docs/rhizomorph.md).
        if tb is not None or exception_policy is not None or trace is not None:
            legacy = options.resolve(tree, timebase, on_error, on_tick, tb, exception_policy, trace)
            timebase, on_error, on_tick = legacy
        if on_error is not _PROPAGATE and on_error.__class__ is not ErrorPolicy:
            options.refuse_arguments(tree, on_error)
        program = _programs_get(id(tree))  # only trees are in there: a hit is a tree
        if program is None:
            if not isinstance(tree, Tree):
                options.refuse_arguments(tree, on_error)
            program = program_of(tree)
        plan = program.plan
        size = plan.size
        self.tree = tree
        self.bb = bb
        self.timebase = _DEFAULT_TIMEBASE
        if timebase is not None:
            self.timebase = checked_timebase(timebase, "Runner of tree", tree.name)
            on_tick = options.with_clock_step(timebase, on_tick)  # a CycleClock: one step per tick
        self.ctx = ctx
        self.on_error = on_error
        #: Each node's last status (None: never ticked); RUNNING means the node is active.
        self.status: list[Status | None] = [None] * size
        #: The tick number at which each node last reported (or was halted).
        self.seen: list[int] = [0] * size
        self.cur: list[int] = plan.cursors.copy()
        self.data: list[Any] = [None] * size
        #: Number of ticks so far.
        self.ticks = 0
        #: True when a sync leaf reported RUNNING in the last tick (it wants to be ticked again).
        self.polling = False
        self.eager: EagerStarter | None = None  # see Host.eager
        self._program = program
        self._tasks: LeafTasks | None = None  # made when the first async leaf suspends
        self._observers: Observers | None = None  # made when the first observer is attached
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._last: Status | None = None
        self._driven = 0  # 1 while tick_until_complete() runs, _EXPIRED once its timeout passed
        self._closed = False
        self._on_tick = on_tick
        self._views: InterfaceViews | None = None  # made by the first leaf that asks for a view

    @property
    def tb(self) -> Timebase:
        """The timebase (its 0.x name)."""
        return self.timebase

    @property
    def exception_policy(self) -> ErrorPolicy:
        """The error policy (its 0.x name; the same as ``on_error``)."""
        return self.on_error

    # ------------------------------------------------------------------------------------- ticking
    async def tick(self) -> Status:
        """Tick the tree once and return the root's status."""
        if self._driven:
            raise drive.refused(self.tree.name, self._program.plan.ids[0], drive.TICK_MEANWHILE)
        return self._tick()

    def _tick(self) -> Status:
        if self._closed:
            self._refuse_closed("tick()")
        self.ticks += 1
        self.polling = self._woken = False
        root_tick = self._program.root_tick  # a slot's function: called from a local (docs/architecture.md)
        try:
            result = root_tick(self)
        except BaseException:
            self.reset()
            raise
        self._last = result
        if _LEVELS.get(_DEBUG) is not False and log.isEnabledFor(_DEBUG):
            log.debug("%s", self.trace())
        if self._on_tick is not None:
            self._on_tick(self, result)
        return result

    async def tick_until_complete(
        self, timeout: float | None = None, *, period: float | None = None, max_ticks: int | None = None
    ) -> Status:
        """Tick until the root reports something other than RUNNING; return that status.

        ``timeout`` (seconds on the timebase): if the tree is still RUNNING then, it is reset
        (everything running halted) and the result is CANCELLED.

        Between ticks it waits, without polling, until an async leaf finishes or a timer (timeout)
        fires.  Only when a plain-function leaf reported RUNNING - it can only be polled - does it
        tick again after ``period`` seconds on the timebase (``None``: as soon as the event loop
        has run other ready work).  ``max_ticks`` bounds the ticks; reaching it returns RUNNING.
        Before returning, it waits for the coroutines it cancelled to finish cancelling.  If the
        caller is cancelled, the tree is reset (everything running is halted) first; if the runner
        is closed meanwhile, it returns CANCELLED.
        """
        options.check_drive(self.tree.name, timeout, period, max_ticks)
        self._claim()
        deadline = None if timeout is None else self.timebase.call_later(timeout, self._expire)
        return await self._complete(None, period, max_ticks, deadline)

    def _claim(self) -> None:
        if self._waiter is not None or self._driven:
            raise drive.refused(self.tree.name, self._program.plan.ids[0], drive.RUN_AGAIN)
        self._driven = 1

    async def _complete(
        self, first: Status | None, period: float | None, max_ticks: int | None, deadline: Any
    ) -> Status:
        """The run of tick_until_complete() (claimed), from its first tick on (None: take it now)."""
        try:
            first = self._tick() if first is None else first
            result, count = await drive.ticks(self, first, period, max_ticks)
            if self._tasks is not None and self._tasks.abandoned:
                await self.settle()
            if log.isEnabledFor(logging.INFO):
                log.info("%s finished %s after %d ticks", self.tree.name, result.name, count)
            return result
        except asyncio.CancelledError:
            self.reset()
            raise
        finally:
            self._driven = 0
            if deadline is not None:
                deadline.cancel()

    def _run_at_once(self) -> Status | None:
        """``tick_until_complete()`` (no timeout, period or bound) without a coroutine, for a tree
        decided by its first tick (a tree run per token): its status; None if the run has to go on,
        with ``await runner._run_on()``."""
        self._claim()
        try:
            result = self._tick()
        except BaseException:
            self._driven = 0
            raise
        if result is RUNNING or (self._tasks is not None and self._tasks.abandoned):
            return None
        self._driven = 0
        if _LEVELS.get(_INFO) is not False and log.isEnabledFor(_INFO):
            log.info("%s finished %s after %d ticks", self.tree.name, result.name, 1)
        return result

    async def _run_on(self) -> Status:
        """The rest of a run :meth:`_run_at_once` began."""
        return await self._complete(self._last, None, None, None)

    def _expire(self) -> None:
        self._driven = drive.EXPIRED
        self._wake()

    async def settle(self) -> None:
        """Wait until every coroutine this runner cancelled has finished (run its cleanup)."""
        tasks = self._tasks
        while tasks is not None and tasks.abandoned:
            await asyncio.wait(tuple(tasks.abandoned))

    def reset(self) -> None:
        """Halt everything running (cancelling async leaves, running halt hooks) and start afresh;
        between ticks (during one, by a leaf or a halt hook: :class:`~mycorrhizal.common.ExecutionError`)."""
        if drive.during_tick(self):
            raise drive.refused_during_tick(self.tree.name, self._program.plan.ids[0], "reset()")
        program = self._program
        halts = program.halts
        if self.status[0] is RUNNING:
            halts[0](self)
        # Anything still marked running was left behind by an exception mid-tick: halt it too.
        for i, status in enumerate(self.status):
            if status is RUNNING:
                halts[i](self)
        if self._tasks is not None:
            self._tasks.drop()
        for data in self.data:
            cancel = getattr(data, "cancel", None)
            if cancel is not None:  # a timeout's timer (or a task)
                cancel()
        self.cur[:] = program.plan.cursors
        self.data[:] = [None] * program.plan.size
        self.polling = False
        self._halted()

    # ------------------------------------------------------------------------------------ durability

    def snapshot(self, codecs: CodecRegistry | None = None) -> dict[str, JSON]:
        """The runner's state as a plain, versioned JSON document (blackboard through ``codecs``);
        between ticks (during one, by a leaf or a halt hook: :class:`~mycorrhizal.common.ExecutionError`).
        See :mod:`~mycorrhizal.rhizomorph.snapshot` for what restarts."""
        if drive.during_tick(self):
            root = self._program.plan.ids[0]
            raise drive.refused_during_tick(self.tree.name, root, "snapshot()", drive.HALF_DONE)
        return snapshot.write(self, self._program, self.tree.name, self._last, codecs)

    @classmethod
    def restore(
        cls, tree: Tree, document: Any, *, codecs: CodecRegistry | None = None, **options: Any
    ) -> Runner:
        """A new runner of ``tree`` continuing from ``document`` (made by :meth:`snapshot`).

        ``options`` are the constructor's (``timebase`` - continuing from the snapshot's time -,
        ``ctx``, ``on_error`` ...); with ``bb`` (a blackboard an embedder owns and restores itself),
        the document's is not read.  Another tree's, a newer or a malformed document: CodecError.
        """
        runner = cls(tree, **options)
        checked = snapshot.check(document, runner._program, tree.name)
        if "bb" not in options:
            runner.bb = snapshot.blackboard(checked, tree.name, codecs)
        runner._last = snapshot.read(runner, runner._program, checked)
        return runner

    def _renew(self, bb: Any, ctx: Any) -> bool:
        """Become a new run of the tree over ``bb`` and ``ctx``, as ``Runner(tree, bb, timebase, ctx)``
        would be, if this one is at rest (its last run completed, nothing of it left, nobody
        watching); else False, changing nothing.  Cheaper than a new runner (a tree per token)."""
        tasks = self._tasks
        busy = tasks is not None and (tasks.live or tasks.abandoned)
        if busy or self._closed or self._observers or self.status[0] is RUNNING:
            return False
        plan = self._program.plan
        self._views = None  # (views of the old blackboard would keep it alive)
        self.bb, self.ctx, self.ticks, self._last = bb, ctx, 0, None
        self.status, self.seen, self.cur = [None] * plan.size, [0] * plan.size, plan.cursors.copy()
        self.data = [None] * plan.size
        return True

    # ----------------------------------------------------------------------------------- lifecycle
    async def aclose(self) -> None:
        """Halt everything running, wait for it to unwind and for async observers to catch up.

        The runner takes no more ticks afterwards (:class:`~mycorrhizal.common.ExecutionError`);
        a ``tick_until_complete()`` running meanwhile returns CANCELLED.  Closing twice is harmless.
        """
        if not self._closed:
            if drive.during_tick(self):
                raise drive.refused_during_tick(self.tree.name, self._program.plan.ids[0], "aclose()")
            self._closed = True
            self.reset()
            self._wake()
        await self.settle()
        if self._observers is not None:
            await self._observers.drain()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    def _refuse_closed(self, what: str) -> NoReturn:
        fix = "make a new Runner to run the tree again"
        raise ExecutionError(
            f"tree {self.tree.name!r}: {what} on a closed runner. Fix: {fix}", node=self._program.plan.ids[0]
        )

    # ----------------------------------------------------------------------------------- observers
    def add_observer(self, callback: Observer) -> None:
        """Call ``callback(event)`` with every :mod:`~mycorrhizal.rhizomorph.events` record from now on
        (attached during a tick, by a leaf or a halt hook: from that moment of the tick on)."""
        watchers = self._watchers()
        watchers.add(callback)  # the first one: the runner runs its observed program
        if self.ticks and len(watchers) == 1:
            catch_up(self)  # (a tick or halt under way goes on in the plain one: told as it writes)

    def remove_observer(self, callback: Observer) -> None:
        """Stop calling ``callback``; with no observer left the runner runs its plain program again."""
        self._watchers().remove(callback)  # raises ValueError, naming the tree, if it is not attached

    def _watchers(self) -> Observers:
        if self._observers is None:
            self._observers = Observers(log, f"tree {self.tree.name!r}")
            self._observers.watch(self._watched)
        return self._observers

    def _watched(self, active: bool) -> None:  # the first came; the last went (or was detached)
        self._program = (observed_program_of if active else program_of)(self.tree)

    def _emit(self, event: Event) -> None:
        if self._observers:
            self._observers.emit(event)

    def _halted(self, i: int = -1) -> None:
        """Halts over before node ``i`` does anything else (-1: all) are told now (see :mod:`.catchup`)."""
        if self.status.__class__ is not list:
            self.status.settle(i)  # type: ignore[attr-defined]  # a CatchUp

    def _tell(self, make: Callable[[tuple[Any, ...]], Event], i: int, *rest: Any) -> None:
        """Tell the observers (there are some) a record about node ``i``: ``make((..., *rest))``."""
        self._halted(i)
        plan = self._program.plan
        self._emit(make((self.tree.name, self.timebase.now(), plan.ids[i], plan.paths[i], *rest)))

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
        return dict(zip(self._program.plan.ids, self.status, strict=True))

    def last_tick(self) -> dict[str, Status]:
        """Status of every node that reported (or was halted) during the last tick, by node id."""
        ticks = self.ticks
        return {
            node_id: status
            for node_id, status, seen in zip(self._program.plan.ids, self.status, self.seen, strict=True)
            if seen == ticks and status is not None
        }

    def trace(self) -> str:
        """One line describing the last tick: each node that reported and its status, in preorder."""
        shown = " ".join(f"{node}={status.name}" for node, status in self.last_tick().items())
        return f"{self.tree.name} tick {self.ticks}: {shown}"

    def to_diagram(self) -> Diagram:
        """The tree's picture coloured by the last tick's statuses (grey: not ticked then)."""
        return views.picture(self)

    def __repr__(self) -> str:
        return f"Runner({self.tree.name!r}, ticks={self.ticks}, last={self._last!r})"

    # ------------------------------------------------------------------- hooks for tick functions

    def _wake(self) -> None:
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _view(self, interface: type) -> Any:
        views = self._views
        if views is None:
            views = self._views = InterfaceViews()
        return views.view(self.bb, interface)

    def _track(self, i: int, task: asyncio.Task[Any]) -> None:
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = LeafTasks(self.tree.name, self, self._program.plan.specs)
        tasks.live[task] = i  # (LeafTasks.track, written out: this is once per async leaf run)
        task.add_done_callback(tasks.done)

    def _abandon(self, i: int, task: asyncio.Task[Any]) -> None:
        if self._tasks is not None:  # (None: a restored runner's finished leaf, never a task of ours)
            self._tasks.abandon(i, task)

    def _leaf_raised(self, i: int, exc: Exception) -> Status:
        plan = self._program.plan
        policy = plan.policies[i] or self.on_error
        spec = plan.specs[i]
        if policy is ErrorPolicy.PROPAGATE:
            # The leaf's call is over: it is not RUNNING any more, so the reset that follows does
            # not halt it (its coroutine finished; there is nothing for its halt hook to stop).
            self.status[i] = Status.ERROR
            self.seen[i] = self.ticks
            self._report_failure(i, exc, None)
            where = f"{spec.kind} {spec.name!r} in tree {self.tree.name!r}"
            if isinstance(exc, MycorrhizalError):  # ours keep their type; a view's says whose code it refused
                raise exc.at(where, plan.ids[i]) if isinstance(exc, AccessControlError) else exc
            raise HandlerError(f"{where} raised {exc!r}. Fix: {options.RAISED}", node=plan.ids[i]) from exc
        outcome = Status.FAILURE if policy is ErrorPolicy.FAILURE else Status.ERROR
        # A failure the policy handles is expected: one line; the traceback only for debugging.
        log.warning(
            "%s: %s %r raised %r; reporting %s", self.tree.name, spec.kind, spec.name, exc, outcome.name
        )
        if log.isEnabledFor(_DEBUG):
            log.debug("%s: traceback of %r's failure", self.tree.name, spec.name, exc_info=exc)
        self._report_failure(i, exc, outcome)
        return outcome

    def _report_failure(self, i: int, exc: Exception, outcome: Status | None) -> None:
        if self._observers:
            self._tell(make_leaf_failed, i, exc, outcome)

    def _refuse(self, i: int, error: ExecutionError) -> NoReturn:
        self.status[i] = Status.ERROR  # its call is over: nothing for a halt to stop
        self.seen[i] = self.ticks
        raise error

    def _run_halt_hook(self, i: int, hook: Call) -> None:
        try:
            hook(self)
        except Exception as exc:
            self._cleanup_failed(i, exc, "halt hook")

    def _cleanup_failed(self, i: int, error: BaseException, during: str) -> None:
        plan = self._program.plan
        name = plan.specs[i].name if i >= 0 else "?"
        log.error("%s: the %s of %r raised", self.tree.name, during, name, exc_info=error)
        if self._observers and i >= 0:
            self._tell(make_cleanup_failed, i, error, during)

    def _timed_out(self, i: int, seconds: float) -> None:
        plan = self._program.plan
        log.info("%s: %r timed out after %gs; halting its child", self.tree.name, plan.specs[i].name, seconds)
        if self._observers:
            self._tell(make_timed_out, i, seconds)
