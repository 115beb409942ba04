"""Where a machine is and how it moves: the :class:`Engine` every :class:`~.machine.StateMachine` is.

The engine holds what changes as a machine runs (its compiled state, phase, retry count, stack) and
the collaborators it makes when first needed: a :class:`~.mailbox.Mailbox` for messages, a
:class:`~.clock.Clock` for timeouts, :class:`~mycorrhizal.common.observers.Observers`.

:meth:`Engine.drive` is the one loop behind ``run()`` and ``tick()`` (whose commonest step,
an async state's entry run, :meth:`Engine.entry_step` takes in one frame).  A **step** is one run of
``on_state`` or ``on_timeout`` and the transition its label asks for (:meth:`Engine._apply`).
Handlers are awaited directly: one that does not suspend costs one coroutine, never a task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Self

from ..common.observers import Observers
from ..common.timebase import Timebase
from . import mishaps, moves, report
from .clock import Clock
from .context import BlankContext, Context, Machine
from .events import (
    StateLeft,
    TimeoutFired,
    make_entered,
    make_left,
)
from .failures import HookFailed, raised_itself
from .guards import CHOOSE
from .mailbox import EMPTY, TIMEOUT, Mailbox, Marker
from .mishaps import ENTRY_RUN, RESUMED
from .moves import DONE, ENTRY, NEW, TIMED_OUT, WAIT
from .options import Options
from .plan import MachineSpec, Node, Op
from .targets import MOVES
from .telling import Telling
from .turns import Turns

__all__ = ["DONE", "DRIVING", "ENTRY", "NEW", "WAIT", "Engine"]

log = report.log
_INFO = logging.INFO
_LEVELS = report.LEVELS

#: What :meth:`Engine._take` returns when a wait for a message or timeout ended.
WOKEN: Any = Marker("<woken>")

#: A long run() yields to the event loop after this many steps so it cannot starve other tasks.
YIELD_EVERY = 1024


class Engine(Telling):
    """A running machine's position in its compiled spec, and the steps that move it."""

    __slots__ = (  # and Telling's: spec, node, phase, retry, observers, _kept_observers
        "stack",
        "ctx",
        "common_data",
        "timebase",
        "options",
        "mailbox",
        "clock",
        "waiter",
        "running",
        "turns",
        "unhandled",
        "closed",
        "_entered",
    )
    #: The compiled spec this machine runs (shared with every machine of the same states).
    spec: MachineSpec
    node: Node
    phase: int
    retry: int
    stack: list[Node] | None
    #: Made when a handler first needs one: a machine that has not run yet holds no reference cycle
    #: (machine <-> ctx) and is freed as soon as it is dropped.
    ctx: Context | None
    #: The blackboard given to the machine (None until one is asked for: see ``StateMachine.common``).
    common_data: Any
    #: The clock timeouts are measured on.
    timebase: Timebase
    options: Options
    mailbox: Mailbox | None
    observers: Observers | None
    clock: Clock | None
    waiter: asyncio.Future[None] | None
    #: A run() (or initialize()) is driving the machine.
    running: bool
    #: Calls waiting for the one driving the machine to finish (made when one first waits).
    turns: Turns | None
    #: Messages a state answered with ``Unhandled``.
    unhandled: int
    #: True once the machine was closed (``aclose()``): it takes no more messages and no more steps.
    closed: bool
    #: When each state was last entered: 0.x's ``state_enter_times``, unset until first read (see
    #: :class:`~.legacy.Compat0x`; a slot here, since the machine is this object).
    _entered: dict[str, float]

    # Every engine is a machine: StateMachine.__new__ fills these slots (written out there, one frame:
    # a call from it costs ~8 % of building a machine), and a copy is built as any machine is.
    def blank(self, common: Any) -> Self:
        """A new machine of this one's class, spec, timebase and options, before its entry."""
        kind: Any = type(self)
        new: Self = kind(self.spec.root, common_data=common, timebase=self.timebase)
        new.spec, new.node, new.options = self.spec, self.spec.initial, self.options
        return new

    # ----------------------------------------------------------------- collaborators
    def handler_context(self) -> Context:
        """The ``ctx`` handlers get, made on first use (the machine they see is this engine)."""
        ctx = self.ctx
        if ctx is None:
            machine: Machine = self  # type: ignore[assignment]  # every engine is a StateMachine
            common = self.common_data
            ctx = self.ctx = Context(machine, common) if common is not None else BlankContext(machine, None)
        return ctx

    def open_mailbox(self) -> Mailbox:
        mailbox = self.mailbox = Mailbox(self.options.max_queue_size)
        return mailbox

    def wake(self) -> None:
        """Wake a run(wait=True) that waits for work."""
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ----------------------------------------------------------------- timers
    def arm(self, node: Node) -> None:
        clock = self.clock
        if clock is None:
            clock = self.clock = Clock(self.timebase)
        clock.arm(node.timeout, self.fire)  # type: ignore[arg-type]  # a timed node
        if self.closed:  # entered by the step aclose() waited for: the timer is stopped as aclose() stops it
            clock.handle.cancel()  # type: ignore[union-attr]  # just armed

    def disarm(self) -> None:
        clock = self.clock
        if clock is not None and clock.disarm() and self.mailbox is not None:
            self.mailbox.drop_timeout()

    def fire(self) -> None:
        """The state's timer fired: queue its timeout, and see that something handles it."""
        clock = self.clock
        if clock is None or clock.handle is None or self.phase == DONE:
            return
        clock.fire()
        (self.mailbox or self.open_mailbox()).add_timeout()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("machine %s: timeout of %s fired", self.spec.shown, self.node.name)
        if clock.interrupt(f"septum: state {self.node.name} timed out"):
            return  # on_state of this state was suspended: on_timeout runs next
        if self.waiter is not None:
            self.wake()
        elif not self.running and not clock.passive:
            self.run_in_background()

    def run_in_background(self) -> None:
        """Nobody is running the machine: handle the fired timeout on the loop ourselves."""
        clock, ctx = self.clock, self.ctx
        if clock is not None and ctx is not None and clock.fired:
            name = self.spec.shown
            clock.start(
                ctx.machine.run, f"septum {name} timeout", lambda exc: report.background_failed(name, exc)
            )

    # ----------------------------------------------------------------- entering the initial state
    def start_quietly(self) -> bool:
        """Enter the initial state if that runs nothing (no on_enter, timer or end); True if done."""
        node = self.node
        if not node.plain_entry or self.running:
            return False
        info = _LEVELS.get(_INFO)
        if info or (info is None and log.isEnabledFor(_INFO)):
            report.started(self.spec.shown, node.name)
        if self.observers is not None:
            self.emit_entered(node, None, None)
        self.phase = ENTRY
        return True

    async def start(self) -> None:
        """Enter the initial state: ``on_enter`` runs and its timer is armed."""
        self.handler_context()
        self._started()
        try:
            await moves.enter(self, self.node, None, None)
        except HookFailed as failed:
            await self._route(failed.node, failed.role, failed.exc, failed.what)

    def _started(self) -> None:
        if log.isEnabledFor(_INFO):
            report.started(self.spec.shown, self.node.name)

    # ----------------------------------------------------------------- turns
    def release(self) -> None:
        """The caller driving the machine is done: hand the turn to the one waiting longest."""
        self.running = False
        if self.ctx is not None:
            self.ctx.msg = None  # nothing of this run stays behind
        if self.turns:
            self.turns.pass_on()

    # ----------------------------------------------------------------- steps
    async def drive(  # noqa: C901, PLR0912, PLR0915 - the hot loop: each call it saves is ~2 % of a message
        self, limit: int, wait: bool, answer: Callable[[int], Any], held: bool = False
    ) -> Any:
        """Do up to ``limit`` steps (-1: no limit); ``answer(steps)``: the loop behind run() and tick().

        ``held``: the caller has the turn; else a busy, new or timed machine goes through
        the machine's ``drive_in_turn`` (waits for the turn, starts the machine, calls back with ``held``).
        """
        if not held and (self.running or self.phase == NEW or self.clock is not None):
            return await self.drive_in_turn(limit, wait, answer)  # type: ignore[attr-defined]  # a StateMachine's
        self.running = True
        ctx = self.ctx or self.handler_context()
        # quiet: INFO logging known to be off (from the logger's cache): plain transitions go inline
        steps, budget, quiet = 0, YIELD_EVERY, _LEVELS.get(_INFO) is False
        try:
            while True:  # (tests with short jumps here and below: see docs/architecture.md, "hot paths")
                if steps == limit or self.closed:
                    break
                node, mailbox = self.node, self.mailbox
                plain = mailbox.plain if mailbox is not None and mailbox.others is None else None
                if self.phase == ENTRY:
                    took = ENTRY_RUN
                    ctx.msg = None
                elif plain and self.phase == WAIT and plain[0] is not TIMEOUT:  # _take()'s common case
                    mailbox.taken_priority = 0  # type: ignore[union-attr]
                    took = ctx.msg = plain.popleft()
                elif plain is not None and steps and not wait and not plain and self.phase == WAIT:
                    break  # idle after doing something: a run() without wait= ends here
                else:
                    took = await self._take(ctx, wait, steps)
                    if took is EMPTY:
                        break
                    quiet = _LEVELS.get(_INFO) is False
                    if took is WOKEN:
                        continue
                steps += 1
                budget -= 1
                timeout = took is TIMEOUT or took is RESUMED
                try:
                    label = (node.on_timeout if timeout else node.on_state)(ctx)  # type: ignore[misc]
                    if node.on_timeout_async if timeout else node.on_state_async:
                        label = await (label if timeout or node.timeout is None else self._timed(label))
                except (Exception, asyncio.CancelledError) as exc:
                    await self._failed(node, took, timeout, exc)
                    continue
                self.phase, op = WAIT, None if label is None else node.by_id.get(id(label))  # step done
                if op is None or not op.fast or not quiet or budget <= 0:  # (a message is told in _settle)
                    if (
                        label is not None
                        or budget <= 0
                        or (ctx.msg is not None and self.observers is not None)
                    ):
                        budget = await self._settle(node, timeout, label, op, budget)
                # A plain transition with no hooks and no timers on either side.
                elif (observers := self.observers) is not None:  # self.tell(...), written out
                    read = observers.now  # a slot's function: called from a local
                    now = read()
                    if (send := observers.direct) is None:  # an observer asks for records told on request
                        self.tell_asked(observers, node, op, ctx.msg, now)
                        send = observers.send  # (read after them: an observer that raised is detached)
                    self.retry, self.node, self.phase = 0, op.target, ENTRY  # type: ignore[assignment]
                    entered = make_entered((self.spec.name, now, op.target.name, node.name, label, ctx.msg))  # type: ignore[union-attr]
                    try:
                        if (now := send(entered)) is not None:  # type: ignore[assignment]  # a local less
                            observers.returned(send, now)
                    except Exception as exc:
                        observers.failed(send, exc, entered)
                else:
                    self.retry, self.node, self.phase = 0, op.target, ENTRY  # type: ignore[assignment]
        finally:
            self.running = False  # self.release(), written out: it ends every run() and tick()
            ctx.msg = None
            if self.turns:
                self.turns.pass_on()
        return answer(steps)

    async def entry_step(self, node: Node) -> bool:  # noqa: C901, PLR0912 - the hot path, in one frame
        """The entry run of an async untimed state that nobody observes, the step most ``tick()``
        calls take, in one frame: drive() takes it too, but its loop's set-up costs this path half
        again (0.50 -> 0.75 us per tick).  Anything but a plain transition (a guarded one once its
        guard chose it) goes to :meth:`_settle`."""
        self.running = True
        ctx = self.ctx or self.handler_context()
        ctx.msg = None
        run = node.on_state  # a slot's function: called from a local (see docs/architecture.md)
        try:
            try:
                label = await run(ctx)  # type: ignore[misc]
            except (Exception, asyncio.CancelledError) as exc:
                await self._failed(node, ENTRY_RUN, False, exc)
                return True
            self.phase = WAIT
            if label is not None:
                op = node.by_id.get(id(label))
                if op is not None and op.kind == CHOOSE:  # guarded: the transition whose guard passes
                    try:
                        op = moves.choose(self, node, op)
                    except HookFailed as failed:
                        await self._route(failed.node, failed.role, failed.exc, failed.what)
                        return True
                    if op is None:
                        return True  # no guard passed: the machine stays
                if op is not None and op.fast and _LEVELS.get(_INFO) is False:
                    observers = self.observers
                    if observers is not None:  # self.tell(observers, node, op, None), written out
                        read = observers.now  # a slot's function: called from a local
                        now = read()
                        if (send := observers.direct) is None:  # an observer asks for records told on request
                            if StateLeft in observers.requested:
                                left = make_left((self.spec.name, now, node.name, label, op.target.name))  # type: ignore[union-attr]
                                observers.emit_requested(left, StateLeft)
                            send = observers.send  # (read after it: an observer that raised is detached)
                        self.retry = 0
                        self.node = op.target  # type: ignore[assignment]
                        self.phase = ENTRY
                        entered = make_entered((self.spec.name, now, op.target.name, node.name, label, None))  # type: ignore[union-attr]
                        try:
                            if (now := send(entered)) is not None:  # type: ignore[assignment]  # a local less
                                observers.returned(send, now)
                        except Exception as exc:
                            observers.failed(send, exc, entered)
                    else:
                        self.retry = 0
                        self.node = op.target  # type: ignore[assignment]
                        self.phase = ENTRY
                else:
                    await self._settle(node, False, label, op, 1)
            return True
        finally:
            self.running = False  # self.release(), written out as in drive()
            ctx.msg = None
            if self.turns:
                self.turns.pass_on()

    async def _settle(self, node: Node, timeout: bool, label: Any, op: Op | None, budget: int) -> int:
        """What a handler's label leads to, when that is more than a plain unreported transition.

        Returns the loop's step budget: once it is spent, the loop yields to the event loop here,
        after the step and before taking anything more off the queue (a cancellation here loses
        nothing), so that a long run() cannot starve other tasks.
        """
        ctx = self.ctx
        msg = None if ctx is None else ctx.msg
        if self.observers is not None and msg is not None:
            if op is None and label is not None:
                op = node.lookup(label)  # as mishaps.resolve() would: is a transition's StateEntered next?
            # On request only when no code runs before the target's StateEntered names the message (an
            # on_leave or an action may be cancelled in an await) and no Pop or Push is refused.
            moving = (
                op is not None
                and op.kind in MOVES
                and node.on_leave is None
                and op.action is None
                and moves.refused(self, node, op) is None
            )
            self.emit_handled(node, msg, label, moving)
        if label is not None:
            op = op or await mishaps.resolve(self, node, timeout, label)
            if op is not None and op.kind == CHOOSE:
                try:
                    op = moves.choose(self, node, op)  # the transition whose guard passes
                except HookFailed as failed:
                    await self._route(failed.node, failed.role, failed.exc, failed.what)
                    op = None
            if op is not None:
                if op.fast and not report.info_enabled():
                    # The guarded transition is a plain one: taken as the loop takes those.
                    if self.observers is not None:
                        self.tell(self.observers, node, op, msg)  # (its message was told above)
                    else:
                        self.retry = 0
                        self.node = op.target  # type: ignore[assignment]
                        self.phase = ENTRY
                else:
                    await self._move(node, op, report.info_enabled())
        if budget > 0:
            return budget
        await asyncio.sleep(0)
        return YIELD_EVERY

    async def _take(self, ctx: Context, wait: bool, steps: int) -> Any:
        """What the next step handles (see :meth:`_next`), waiting for it with ``wait``; :data:`EMPTY`
        if the run ends here, :data:`WOKEN` if a wait ended (the loop looks again)."""
        ctx.msg = None
        took = self._next(ctx)
        if took is not EMPTY:
            return took
        if (steps and not wait) or not await self._idle(wait, steps):
            return EMPTY  # idle after doing something: a run() without wait= ends here
        return WOKEN

    def _next(self, ctx: Context) -> Any:
        """Take what the next step handles: a message (``ctx.msg``), :data:`TIMEOUT`,
        :data:`RESUMED` (on_timeout after it interrupted on_state), or :data:`EMPTY` if idle."""
        mailbox = self.mailbox
        if mailbox is None or self.phase != WAIT:
            return self._resumed() if self.phase == TIMED_OUT else EMPTY
        plain = mailbox.plain
        if mailbox.others is not None:
            msg = mailbox.take()
        elif plain:
            mailbox.taken_priority = 0
            msg = plain.popleft()  # the common case, without a call
        else:
            return EMPTY
        if msg is EMPTY:
            return EMPTY
        if msg is TIMEOUT:
            mailbox.timeout_queued = False
            self.disarm()
            if report.info_enabled():
                report.timed_out(self.spec.shown, self.node.name, False)
            if self.observers is not None:  # told as on_timeout runs: a timeout dropped is never told
                self.emit(TimeoutFired, state=self.node.name)
            return TIMEOUT
        ctx.msg = msg
        return msg

    def _resumed(self) -> Any:
        """The timeout interrupted on_state: on_timeout runs next (:data:`RESUMED`)."""
        self.phase = WAIT
        self.disarm()  # takes the queued timeout back off the queue
        if report.info_enabled():
            report.timed_out(self.spec.shown, self.node.name, True)
        if self.observers is not None:
            self.emit(TimeoutFired, state=self.node.name)
        return RESUMED

    async def _failed(self, node: Node, took: Any, timeout: bool, exc: BaseException) -> None:
        """A step's handler raised ``exc``: routed, or (cancelled from outside) the step is owed again."""
        if isinstance(exc, asyncio.CancelledError) and not raised_itself(exc):
            mishaps.put_back(self, node, took, timeout)  # cancelled: the step is owed again
            raise exc
        self.phase = WAIT  # failed (a CancelledError nobody asked for included): routed
        await self._route(node, "on_timeout" if timeout else "on_state", exc)

    async def _idle(self, wait: bool, steps: int) -> bool:
        """Nothing to do: with ``wait``, wait for a message or timeout (True); else stop (False).

        A call that did no step yields to the event loop once before it stops, so that
        ``while True: await fsm.run()`` cannot starve the loop.
        """
        if not wait or self.phase != WAIT or self.closed:  # not waiting, complete or closed
            if not steps:
                await asyncio.sleep(0)
            return False
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None
        return True

    async def _timed(self, call: Any) -> Any:
        """Await a timed state's on_state so that its timeout can interrupt it."""
        clock = self.clock
        assert clock is not None  # entering a timed state armed it
        return await clock.guard(call)

    # ----------------------------------------------------------------- moves
    async def _move(self, node: Node, op: Op, info: bool) -> None:
        """Apply ``op``, sending a hook that fails on the way to the error route."""
        try:
            await moves.apply(self, node, op, info)
        except HookFailed as failed:
            await self._route(failed.node, failed.role, failed.exc, failed.what)

    def entered(self, node: Node) -> None:
        """The state is entered (even if its on_enter failed): complete, or owe the entry run."""
        if not node.terminal:
            self.phase = ENTRY
            return
        self.disarm()
        self.phase = DONE
        if self.waiter is not None:
            self.wake()
        report.completed(self.spec.shown, node.name, 0 if self.mailbox is None else self.mailbox.size)

    # ----------------------------------------------------------------- errors
    async def _route(self, node: Node, role: str, exc: BaseException, what: str | None = None) -> None:
        """A handler raised: send the machine to its error hook/state, or raise HandlerError."""
        await mishaps.route(self, node, role, exc, what)


#: A run() that has to wait for its turn looks down its caller chain for these: finding one of them
#: driving this machine means a handler is waiting for itself.
DRIVING = frozenset(method.__code__ for method in (Engine.drive, Engine.entry_step, Engine.start))
