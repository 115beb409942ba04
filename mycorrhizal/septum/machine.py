"""The runtime: :class:`StateMachine`, a small instance over a shared compiled spec.

An instance holds only what changes (current node, phase, retry count, a lazily created queue and
stack, the timer handle) and drives handlers by awaiting them directly: a handler that does not
suspend costs one coroutine, never a task.  ``run()`` returns when the machine is idle, terminal or
out of steps; a timeout that fires while nobody is running schedules a background ``run()`` itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections import deque
from types import FrameType
from typing import Any

from ..common.diagram import Diagram
from ..common.errors import ExecutionError, StateMachineComplete
from ..common.timebase import Timebase, default_timebase
from .compile import MachineSpec, Node, label_text, machine_spec
from .context import Context
from .mailbox import DEFAULT_MAX_QUEUE_SIZE, Marker, OverflowPolicy, check_queue_options
from .moves import _DONE, _ENTRY, _FIRED, _NEW, _TIMED_OUT, _TIMEOUT, _WAIT, Moves, _HookFailed
from .state import State, StateGroup

__all__ = ["DEFAULT_MAX_QUEUE_SIZE", "OverflowPolicy", "StateMachine"]

log = logging.getLogger("mycorrhizal.septum")
_INFO = logging.INFO
_DEBUG = logging.DEBUG

# Logger.isEnabledFor() answers from a per-level dict that logging clears (never replaces) when
# levels change; reading it inline saves a method call on the per-step path.  If it is missing the
# dict stays empty and isEnabledFor() answers every time.
_found = getattr(log, "_cache", None)
_LEVEL_CACHE: dict[int, bool] = _found if isinstance(_found, dict) else {}

#: A long run() yields to the event loop after this many steps so it cannot starve other tasks.
YIELD_EVERY = 1024

_INTERRUPTED: Any = Marker("<interrupted>")  # on_state was cancelled by the state's timeout


class StateMachine(Moves):
    """One running state machine built from an initial state (or a ``septum.group``)."""

    __slots__ = ("_running", "_waiter", "_turns", "_driver", "_failure", "_owner", "_inflight")

    def __init__(
        self,
        initial_state: State | StateGroup,
        *,
        common_data: Any = None,
        error_state: State | None = None,
        timebase: Timebase | None = None,
        max_queue_size: int | None = DEFAULT_MAX_QUEUE_SIZE,
        queue_overflow: OverflowPolicy = "raise",
        on_error: Any = None,
    ) -> None:
        try:
            spec: MachineSpec = initial_state._cache[("spec", error_state)]
        except (AttributeError, KeyError):
            spec = machine_spec(initial_state, error_state)
        self._spec = spec
        self._node = spec.initial
        self._phase = _NEW
        self._retry = 0
        self._stack: list[Node] | None = None
        self._timer: Any = None
        # The ctx is made when a handler first needs one: a machine that has not run yet holds no
        # reference cycle (machine <-> ctx) and is freed as soon as it is dropped.
        self._ctx: Context | None = None
        self._common = common_data
        self._timebase = default_timebase() if timebase is None else timebase
        self._running = False
        self._waiter: asyncio.Future[None] | None = None
        self._turns: list[asyncio.Future[None]] | None = None
        self._driver: asyncio.Task[None] | None = None
        self._failure: Exception | None = None
        if on_error is not None and not callable(on_error):
            # Refused now: otherwise the mistake shows only when a handler first fails.
            raise TypeError(f"on_error must be a function hook(ctx, error), got {on_error!r}")
        self._on_error = on_error
        # Task running a timed state's on_state, and 0 / 1 (suspended in it) / 2+n (interrupted by
        # its timeout; n = the task's cancel requests before ours).
        self._owner: asyncio.Task[Any] | None = None
        self._inflight = 0
        if max_queue_size != DEFAULT_MAX_QUEUE_SIZE or queue_overflow != "raise":
            check_queue_options(max_queue_size, queue_overflow)
        self._queue = None
        self._others = None
        self._max_queue = max_queue_size
        self._policy = queue_overflow
        self.overflow_count = 0
        self.unhandled_count = 0

    # ----------------------------------------------------------------- inspection
    @property
    def current_state(self) -> State:
        """The state the machine is in (the initial state before ``initialize()``)."""
        return self._node.state

    @property
    def state_stack(self) -> tuple[State, ...]:
        """The pushdown stack, bottom first; the last item is where the next ``Pop`` returns."""
        return () if not self._stack else tuple(n.state for n in self._stack)

    @property
    def retry_count(self) -> int:
        """Retries of the current state since it was entered from another state."""
        return self._retry

    @property
    def common(self) -> Any:
        """The blackboard shared with the handlers (``ctx.common``)."""
        ctx = self._ctx
        if ctx is not None:
            return ctx.common
        if self._common is None:
            self._common = {}
        return self._common

    @property
    def timebase(self) -> Timebase:
        """The clock timeouts are measured on."""
        return self._timebase

    @property
    def spec(self) -> MachineSpec:
        """The compiled spec this machine runs (shared with every machine of the same states)."""
        return self._spec

    @property
    def is_complete(self) -> bool:
        """True once a terminal state has been entered."""
        return self._phase == _DONE

    @property
    def is_idle(self) -> bool:
        """True when there is nothing to do until a message or timeout arrives (or complete)."""
        return (self._phase == _WAIT or self._phase == _DONE) and not self._queue and not self._others

    def to_diagram(self) -> Diagram:
        """Picture of this machine's states with the current one highlighted."""
        from .diagram import spec_diagram

        return spec_diagram(self._spec, self)

    def __repr__(self) -> str:
        return f"<StateMachine {self._spec.name} in {self._node.name}>"

    def _wake(self) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ----------------------------------------------------------------- timers
    def _fire(self) -> None:
        if self._timer is None or self._timer is _FIRED or self._phase == _DONE:
            return
        self._timer = _FIRED
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.append(_TIMEOUT)
        if log.isEnabledFor(_DEBUG):
            log.debug("machine %s: timeout of %s fired", self._spec.name, self._node.name)
        owner = self._owner
        if self._inflight == 1 and owner is not None and not owner.done():
            # on_state of this state is suspended: interrupt it, as asyncio.timeout() would.
            self._inflight = 2 + owner.cancelling()
            owner.cancel(f"septum: state {self._node.name} timed out")
            return
        if self._waiter is not None:
            self._wake()
        elif not self._running:
            self._schedule_driver()

    def _schedule_driver(self) -> None:
        """Nobody is running the machine: process the fired timeout on the loop ourselves."""
        if self._driver is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous clock.advance()): the next run()/tick() handles it
        self._driver = loop.create_task(self._background(), name=f"septum {self._spec.name} timeout")

    async def _background(self) -> None:
        try:
            await self.run()
        except Exception as exc:
            # Kept and re-raised by the next run()/tick(), so nothing is lost.
            self._failure = exc
            log.error(
                "machine %s: error while handling a timeout in the background: %s",
                self._spec.name,
                exc,
                exc_info=exc,
            )
        finally:
            self._driver = None

    # ----------------------------------------------------------------- driving
    async def initialize(self) -> None:
        """Enter the initial state (``on_enter``, timeout armed).  A second call does nothing."""
        if self._phase != _NEW:
            return
        node = self._node
        if node.on_enter is None and node.timeout is None and not node.terminal and not self._running:
            # Nothing to run and no timer to arm: entering is just a change of phase.
            if log.isEnabledFor(_INFO):
                log.info("machine %s: start in %s", self._spec.name, node.name)
            self._phase = _ENTRY
            return
        if self._running:
            await self._wait_turn()
            if self._phase != _NEW:
                return
        self._running = True
        try:
            await self._initialize()
        finally:
            self._running = False
            if self._turns:
                self._pass_turn()
        if self._timer is _FIRED:
            self._schedule_driver()  # the timeout fired during on_enter: nobody else will run it

    async def _initialize(self) -> None:
        if log.isEnabledFor(_INFO):
            log.info("machine %s: start in %s", self._spec.name, self._node.name)
        try:
            await self._enter(self._node)
        except _HookFailed as failed:
            await self._route(failed.node, failed.role, failed.exc)

    async def tick(self) -> bool:
        """Do one step (one handler run and the transition it asks for); False if there was none.

        Raises :class:`StateMachineComplete` once the machine is in a terminal state.
        """
        phase = self._phase
        if phase == _DONE:
            raise StateMachineComplete(
                f"machine {self._spec.name} is complete (terminal state {self._node.name})",
                state=self._node.name,
            )
        node = self._node
        if phase != _ENTRY or not node.quick or self._running or self._failure is not None:
            return bool(await self.run(1))
        # The common case (the entry run of an async state without a timer), in one frame: the same
        # step as _drive() takes, without run()'s and _drive()'s set-up.
        self._running = True
        self._phase = _WAIT
        ctx = self._ctx or self._context()
        ctx.msg = None
        try:
            try:
                label = await node.on_state(ctx)  # type: ignore[misc]
            except Exception as exc:
                await self._route(node, "on_state", exc)
                return True
            if label is None:
                return True
            op = node.by_id.get(id(label))
            if op is None:
                op = self._lookup(node, label)
                if op is None:
                    raise self._undeclared(node, "on_state", label)
            if op.fast:
                self._retry = 0
                self._node = op.target  # type: ignore[assignment]
                self._phase = _ENTRY
                info = _LEVEL_CACHE.get(_INFO)
                if info is None:
                    info = log.isEnabledFor(_INFO)
                if info:
                    log.info(
                        "machine %s: %s -[%s]-> %s",
                        self._spec.name,
                        node.name,
                        label_text(label),
                        op.target.name,  # type: ignore[union-attr]
                    )
                return True
            try:
                await self._apply(node, op, log.isEnabledFor(_INFO))
            except _HookFailed as failed:
                await self._route(failed.node, failed.role, failed.exc)
            return True
        finally:
            self._running = False
            ctx.msg = None
            if self._turns:
                self._pass_turn()

    async def run(self, max_steps: int | None = None, *, wait: bool = False) -> int:
        """Process until terminal, idle, or ``max_steps`` handler runs; return the steps taken.

        Idle means: no entry run pending and no message or fired timeout queued.  With
        ``wait=True`` an idle machine waits for the next message or timeout instead of returning,
        so only a terminal state or ``max_steps`` ends the call.  A call that finds nothing to do
        yields to the event loop once, so ``while True: await fsm.run()`` cannot starve it.
        """
        if max_steps is not None and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0
        ):
            raise ValueError(f"run(max_steps=...) takes an int >= 0 or None, got {max_steps!r}")
        if self._running:
            await self._wait_turn()
        failure = self._failure
        if failure is not None:
            # Raised by the first run() after it, including one that waited while it happened.
            self._failure = None
            if self._turns:
                self._pass_turn()
            raise failure
        self._running = True
        try:
            if self._phase == _NEW:
                await self._initialize()
            steps = await self._drive(-1 if max_steps is None else max_steps, wait)
        finally:
            self._running = False
            self._waiter = None
            self._owner = None
            if self._ctx is not None:
                self._ctx.msg = None
            if self._turns:
                self._pass_turn()
        if steps == 0:
            await asyncio.sleep(0)
        return steps

    async def _wait_turn(self) -> None:
        if self._called_by_own_handler():
            raise ExecutionError(
                f"machine {self._spec.name}: a handler called run() on its own machine; use "
                f"ctx.send_message() instead",
                state=self._node.name,
            )
        while self._running:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._turns is None:
                self._turns = []
            self._turns.append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled() and not self._running and self._turns:
                    self._pass_turn()  # we were handed the turn but will not take it: pass it on
                raise

    def _called_by_own_handler(self) -> bool:
        """True if the caller runs inside one of this machine's handlers (waiting would deadlock).

        Recording which task runs the machine would cost every run() and tick() more than a step;
        instead, only a run() that has to wait looks down its caller chain (a coroutine's frame
        links to the one awaiting it) for this machine's own driving loop.
        """
        frame: FrameType | None = sys._getframe(2)  # past this and _wait_turn: the waiting run()
        while frame is not None:
            code = frame.f_code
            # tick() drives handlers itself on its one-frame path, which is where it binds ``ctx``.
            if (
                code is _DRIVE or code is _INITIALIZE or (code is _TICK and "ctx" in frame.f_locals)
            ) and frame.f_locals.get("self") is self:
                return True
            frame = frame.f_back
        return False

    def _pass_turn(self) -> None:
        """Wake the longest-waiting run() that is still waiting."""
        turns = self._turns
        while turns:
            future = turns.pop(0)
            if not future.done():  # a cancelled waiter is skipped, not handed the turn
                future.set_result(None)
                break
        if not turns:
            self._turns = None

    async def _drive(self, limit: int, wait: bool) -> int:
        ctx = self._ctx or self._context()
        info = log.isEnabledFor(_INFO)
        steps = 0
        budget = YIELD_EVERY
        while steps != limit:
            if not budget:
                # Yield before taking anything off the queue, so a cancellation here loses nothing.
                budget = YIELD_EVERY
                await asyncio.sleep(0)
            phase = self._phase
            node = self._node
            if phase == _ENTRY:
                self._phase = _WAIT
                ctx.msg = None
                fn, is_async, role = node.on_state, node.on_state_async, "on_state"
            elif phase == _TIMED_OUT:
                self._phase = _WAIT
                self._disarm()  # takes the queued timeout marker back off the queue
                ctx.msg = None
                fn, is_async, role = node.on_timeout, node.on_timeout_async, "on_timeout"
                if info:
                    log.info("machine %s: %s timed out during on_state", self._spec.name, node.name)
            elif phase == _WAIT:
                if self._others is not None:
                    msg = self._pop_other()
                elif self._queue:
                    msg = self._queue.popleft()
                elif wait:
                    self._waiter = asyncio.get_running_loop().create_future()
                    await self._waiter
                    info = log.isEnabledFor(_INFO)
                    continue
                else:
                    break
                if msg is _TIMEOUT:
                    self._timer = None
                    ctx.msg = None
                    fn, is_async, role = node.on_timeout, node.on_timeout_async, "on_timeout"
                    if info:
                        log.info("machine %s: %s timed out", self._spec.name, node.name)
                else:
                    ctx.msg = msg
                    fn, is_async, role = node.on_state, node.on_state_async, "on_state"
            else:
                break
            steps += 1
            budget -= 1
            try:
                if not is_async:
                    label = fn(ctx)  # type: ignore[misc]
                elif node.timeout is None or role != "on_state":
                    label = await fn(ctx)  # type: ignore[misc]
                else:
                    label = await self._timed(fn, ctx)
            except Exception as exc:
                await self._route(node, role, exc)
                continue
            if label is None:
                continue
            if label is _INTERRUPTED:
                self._phase = _TIMED_OUT
                continue
            op = node.by_id.get(id(label))
            if op is None:
                if not is_async and inspect.isawaitable(label):
                    # A plain function that returned an awaitable (say, a lambda calling an async
                    # helper): await it, then treat its result as the handler's.
                    try:
                        label = await label
                    except Exception as exc:
                        await self._route(node, role, exc)
                        continue
                    if label is None:
                        continue
                    op = node.by_id.get(id(label))
                if op is None:
                    op = self._lookup(node, label)
                if op is None:
                    raise self._undeclared(node, role, label)
            if op.fast:
                # Plain transition with no hooks and no timers on either side.
                self._retry = 0
                target = op.target
                self._node = target  # type: ignore[assignment]
                self._phase = _ENTRY
                if info:
                    log.info(
                        "machine %s: %s -[%s]-> %s",
                        self._spec.name,
                        node.name,
                        label_text(label),
                        target.name,  # type: ignore[union-attr]
                    )
                continue
            try:
                await self._apply(node, op, info)
            except _HookFailed as failed:
                await self._route(failed.node, failed.role, failed.exc)
        return steps

    async def _timed(self, fn: Any, ctx: Context) -> Any:
        """Await a timed state's on_state so that its timeout can interrupt it."""
        owner = self._owner
        if owner is None:
            owner = self._owner = asyncio.current_task()
        self._inflight = 1
        try:
            return await fn(ctx)
        except asyncio.CancelledError:
            interrupted = self._inflight
            if interrupted < 2 or owner is None:
                raise
            self._inflight = 0
            if owner.uncancel() > interrupted - 2:
                raise  # someone else cancelled the task too: let that win
            return _INTERRUPTED
        finally:
            if self._inflight >= 2 and owner is not None:
                owner.uncancel()  # the handler swallowed our cancellation; take the request back
            self._inflight = 0


_DRIVE = StateMachine._drive.__code__
_INITIALIZE = StateMachine._initialize.__code__
_TICK = StateMachine.tick.__code__
