"""The runtime: :class:`StateMachine`, a small instance over a shared compiled spec.

A machine is what its callers use: they build it, send it messages, run it, watch it.  What it is
doing (its state, its queue, its timers) and the steps that move it are the
:class:`~.engine.Engine` it extends (one object per machine); callers that want to run
it while it is already running wait their turn (:class:`~.turns.Turns`).  ``run()`` returns when
the machine is idle, terminal or out of steps; a timeout that fires while nobody is running the
machine runs it in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from operator import index  # answers a run() with its steps, as int() would, without a type call
from typing import Any, NoReturn

from ..common.codecs import JSON, CodecRegistry
from ..common.diagram import Diagram
from ..common.errors import ExecutionError, StateMachineComplete
from ..common.interpreter import called_within
from ..common.observers import Observer, Observers
from ..common.timebase import DEFAULT_TIMEBASE, Timebase, checked_timebase
from . import durable, legacy, report, sync
from .chart import DRIVING, ChartEngine
from .compile import SPECS, machine_spec
from .context import Context
from .engine import DONE, ENTRY, NEW, WAIT, Engine
from .mailbox import TIMEOUT, OverflowPolicy
from .options import DEFAULT_MAX_QUEUE_SIZE, DEFAULT_MAX_STACK_DEPTH, DEFAULTS, RAISE_BY_DEFAULT
from .overflow import overflow
from .plan import MachineSpec
from .registry import StateRef
from .states import State, StateGroup, tools
from .turns import Turns
from .waiting import check_steps, check_timeout, run_waiting, take_turn, tick_within

__all__ = ["ChartMachine", "StateMachine"]

_INFO = logging.INFO
# Bound by assignment, not ``from .report import LEVELS``: on 3.11 the compiler calls a method of an
# imported name through a bound method object made per call (it takes such names for modules).
_LEVELS = report.LEVELS
_NOW = 0  # tick()'s default timeout (a test of identity: False == 0 too)


class StateMachine(Engine, legacy.Compat0x):
    """One running state machine built from an initial state (or a ``septum.group``)."""

    # One object per machine (an engine of its own was +7-14 % on building one): the engine's slots.
    __slots__ = ()

    # Built by __new__ alone: it picks the class (ChartMachine for a statechart) and fills the slots.
    def __new__(
        cls,
        initial_state: State | StateGroup | StateRef | str,
        # 0.x's parameters, in 0.x's order: its programs may pass them by position.  (Defaults
        # filled by position also cost a call less than keyword-only ones.)
        max_queue_size: int | None = DEFAULT_MAX_QUEUE_SIZE,
        queue_overflow_policy: str | None = None,
        error_state: State | StateRef | None = None,
        filter_fn: Callable[[Any, Any], Any] | None = None,
        trap_fn: Callable[[Any], Any] | None = None,
        on_error_fn: Any = None,
        common_data: Any = None,
        *,
        timebase: Timebase | None = None,
        queue_overflow: OverflowPolicy = RAISE_BY_DEFAULT,
        on_error: Any = None,
        max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH,
        strict: bool = False,
    ) -> StateMachine:
        spec = None
        if (  # the common case, in tests of identity: every option left at its default
            max_queue_size is DEFAULT_MAX_QUEUE_SIZE
            and error_state is on_error is None
            and queue_overflow_policy is None  # and no other 0.x keyword:
            and filter_fn is None
            and trap_fn is None
            and on_error_fn is None
            and queue_overflow is RAISE_BY_DEFAULT
            and max_stack_depth is DEFAULT_MAX_STACK_DEPTH
            and not strict  # strict asks machine_spec() to refuse what 0.x accepted: never cached
        ):
            chosen = DEFAULTS
            try:
                spec = SPECS[initial_state]
            except (KeyError, TypeError):  # TypeError: unhashable, not a state (machine_spec() says so)
                pass
        else:  # options() shares DEFAULTS when they are equal to them; 0.x's keywords folded in
            chosen = legacy.options_of(
                (max_queue_size, queue_overflow, on_error, max_stack_depth),
                (filter_fn, trap_fn, on_error_fn, queue_overflow_policy),
            )
        if spec is None:
            spec = machine_spec(initial_state, error_state, strict=strict)
        # The engine's slots, one statement each (chained assignments measured slower on 3.11).
        plain = type(spec) is MachineSpec
        self: StateMachine = _new(cls if plain else _chart_kind(cls))
        self.spec = spec
        self.node = spec.initial
        self.phase = NEW
        self.retry = 0
        self.stack = None
        self.ctx = None
        self.common_data = common_data
        self.timebase = (
            DEFAULT_TIMEBASE if timebase is None else checked_timebase(timebase, "StateMachine", spec.shown)
        )
        self.options = chosen
        self.mailbox = None
        self.observers = None
        self.clock = None
        self.waiter = None
        self.running = False
        self.turns = None
        self.unhandled = 0
        self.closed = False
        if not plain:
            self.clear_chart()  # type: ignore[attr-defined]
        if trap_fn is not None:
            self.add_observer(legacy.trap(self, trap_fn))
        return self

    # ----------------------------------------------------------------- inspection
    @property
    def current_state(self) -> State:
        """The state the machine is in (the initial state before ``initialize()``)."""
        return self.node.state

    @property
    def configuration(self) -> tuple[State, ...]:
        """Every active state, outermost first: the current state and the compound states around it
        (with parallel states, every active state of every region), in document order."""
        return self.active_states() if isinstance(self, ChartEngine) else (self.node.state,)

    def in_state(self, state: State) -> bool:
        """True if ``state`` is active: the current state, or a compound or parallel state around it."""
        return state in self.configuration

    @property
    def state_stack(self) -> tuple[State, ...]:
        """The pushdown stack, bottom first; the last item is where the next ``Pop`` returns."""
        stack = self.stack
        return () if not stack else tuple(n.state for n in stack)

    @property
    def retry_count(self) -> int:
        """Retries of the current state since it was entered from another state."""
        return self.retry

    @property
    def common(self) -> Any:
        """The blackboard shared with the handlers (``ctx.common``)."""
        if self.ctx is not None:
            return self.ctx.common
        if self.common_data is None:
            self.common_data = {}
        return self.common_data

    @property
    def is_complete(self) -> bool:
        """True once a terminal state has been entered."""
        return self.phase == DONE

    @property
    def is_idle(self) -> bool:
        """True when there is nothing to do until a message or timeout arrives (or complete)."""
        pending = self.mailbox is not None and self.mailbox.pending
        return (self.phase == WAIT or self.phase == DONE) and not pending

    @property
    def queue_size(self) -> int:
        """Messages waiting (a pending timeout is not a message and is not counted)."""
        mailbox = self.mailbox
        return 0 if mailbox is None else mailbox.size

    @property
    def overflow_count(self) -> int:
        """Messages refused or evicted because the queue was full."""
        mailbox = self.mailbox
        return 0 if mailbox is None else mailbox.overflows

    @property
    def unhandled_count(self) -> int:
        """Messages a state answered with ``Unhandled``."""
        return self.unhandled

    @property
    def initial_state(self) -> State:
        """The state the machine starts (and ``reset()`` returns) in."""
        return self.spec.initial.state

    @property
    def error_state(self) -> State | None:
        """Where a handler's error sends the machine (``error_state=``), or None."""
        error = self.spec.error
        return None if error is None else error.state

    @property
    def context(self) -> Context:
        """The ``ctx`` every handler of this machine receives (0.x's ``fsm.context``)."""
        return self.handler_context()

    def to_diagram(self) -> Diagram:
        """Picture of this machine's states with the current one highlighted."""
        return tools().diagram(self.spec, self.configuration)

    def __repr__(self) -> str:
        return f"<StateMachine {self.spec.shown} in {self.node.name}>"

    # ----------------------------------------------------------------- messages
    def send_message(self, msg: Any, *, priority: int = 0) -> bool:
        """Queue ``msg``; higher ``priority`` is handled first, equal priorities in sending order.

        Returns True when queued.  On a full queue the overflow policy applies: ``"raise"``
        (QueueOverflowError), ``"drop_newest"`` (returns False) or ``"drop_oldest"`` (evicts the
        longest-waiting message of the lowest priority); each overflow is counted and logged.
        """
        if self.phase == DONE:
            raise StateMachineComplete(
                f"machine {self.spec.shown} is complete (terminal state {self.node.name}); "
                f"it takes no more messages. Fix: build a new StateMachine to run the states again",
                state=self.node.name,
                event=msg,
            )
        if self.closed:
            self._refuse_closed("messages", msg)
        if type(priority) is not int:  # 0.x's MessagePriorities, or not a priority at all
            # Checked first: a full queue must not evict or count for a message it then refuses.
            priority = legacy.priority(priority, self.spec.shown)
        if self.options.filter_fn is not None and legacy.dropped(
            self, self.spec.shown, self.options.filter_fn, msg
        ):
            return False
        mailbox = self.mailbox or self.open_mailbox()
        limit = mailbox.limit
        # With priority-0 messages only, fewer than the bound queued means room, without counting.
        if limit is not None and (mailbox.others is not None or len(mailbox.plain) >= limit):
            if mailbox.size >= limit and not overflow(self, msg, priority):
                return False
        if priority == 0:
            mailbox.plain.append(msg)  # the common case, without a call
        else:
            mailbox.put(msg, priority)
        if self.waiter is not None:
            self.wake()
        return True

    def withdraw(self, msg: Any) -> bool:
        """Take back ``msg`` (that very object) if it is still queued, unhandled; True if it was.

        For an embedder whose step failed after it sent ``msg``: the machine must not handle it later.
        """
        box = self.mailbox
        if box is None or not (box.plain or box.others):  # nothing queued (the common case): no search
            return False
        return msg is not TIMEOUT and box.withdraw(msg)

    # ----------------------------------------------------------------- observers
    def add_observer(self, callback: Observer) -> None:
        """Call ``callback`` with each :mod:`~mycorrhizal.septum.events` record from now on."""
        self._own_observers().add(callback)

    def remove_observer(self, callback: Observer) -> None:
        """Stop calling ``callback`` (the same object given to :meth:`add_observer`)."""
        observers = self.observers or Observers(report.log, f"machine {self.spec.shown}")
        observers.remove(callback)  # says clearly when it was never attached
        # (the last one gone, its watcher sets observers to None: a step is back to one test for them)

    # ----------------------------------------------------------------- driving
    async def initialize(self) -> None:
        """Enter the initial state (``on_enter``, timeout armed).  A second call does nothing."""
        if self.closed:
            self._refuse_closed("steps")
        if self.phase != NEW:
            return
        if self.node.plain_entry and self.observers is None and _LEVELS.get(_INFO) is False:
            self.phase = ENTRY  # nothing to run, arm or report: entering is a change of phase
            return
        if self.start_quietly():
            return
        await take_turn(self, 1, "initialize()")
        if self.phase != NEW:
            self.release()
            return
        self.running = True
        try:
            await self.start()
        finally:
            self.release()
        self.run_in_background()  # a timeout that fired during on_enter: nobody else runs it

    async def reset(self) -> None:
        """Back to the initial state as a new machine: the timer is cancelled, the stack, retry
        count and queue are cleared (a WARNING says how many messages were dropped), then
        :meth:`initialize` runs.  Not from one of its own handlers."""
        if self.closed:
            self._refuse_closed("steps")
        await take_turn(self, 1, "reset()")
        report.reset(self.spec.shown, self.node.name, self.queue_size)
        durable.restart(self)
        self.release()
        await self.initialize()

    def tick(self, timeout: float | None = 0) -> Coroutine[Any, Any, bool]:
        """Do one step (one handler run and the transition it asks for); False if there was none.

        Raises :class:`StateMachineComplete` once the machine is in a terminal state.  An idle
        machine waits for work up to ``timeout`` seconds on its timebase (None: until it comes).
        (Like ``run()``, a plain method returning what to await: no frame of its own between the
        caller and the step.)
        """
        node = self.node
        if node.quick and self.phase == ENTRY and timeout is _NOW and not (self.running or self.closed):
            if self.clock is None:  # the commonest step, in one frame
                return self.entry_step(node)
        if self.phase == DONE:
            raise StateMachineComplete(
                f"machine {self.spec.shown} is complete (terminal state {self.node.name}); "
                f"it has no more steps. Fix: build a new StateMachine to run the states again",
                state=self.node.name,
            )
        if self.closed:
            self._refuse_closed("steps")
        if timeout == 0 and not isinstance(timeout, bool):
            return self.drive(1, False, bool)
        check_timeout(timeout, self.spec.shown)
        return tick_within(self, timeout)

    async def drive_in_turn(self, limit: int, wait: bool, answer: Callable[[int], Any]) -> Any:
        """Drive the machine once it is this caller's turn: the engine's way in when it is busy, new
        or timed (see :meth:`Engine.drive <mycorrhizal.septum.engine.Engine.drive>`)."""
        call = "tick()" if answer is bool else "run()"  # (tick() answers with bool, run() with a count)
        if await take_turn(self, 2, call):  # closed meanwhile (it ends, like the one running), or outrun
            self.release()
            return answer(0)
        if self.clock is not None:
            self.clock.passive = False  # someone runs the machine again: its timeouts may drive it
        self.running = True
        if self.phase == NEW:
            try:
                await self.start()
            except BaseException:
                self.release()
                raise
        return await self.drive(limit, wait, answer, held=True)

    def run(
        self,
        max_steps: int | None = None,
        *,
        wait: bool = False,
        max_iterations: int | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, int]:
        """Process until terminal, idle, or ``max_steps`` handler runs; return the steps taken.

        Idle means: no entry run pending and no message or fired timeout queued.  With
        ``wait=True`` an idle machine waits for the next message or timeout instead of returning,
        so only a terminal state or ``max_steps`` ends the call.  A call that finds nothing to do
        yields to the event loop once, so ``while True: await fsm.run()`` cannot starve it.
        0.x's ``run(max_iterations=n, timeout=t)`` (either keyword) is ``run(n, wait=True)``.
        """
        if max_steps is None and max_iterations is timeout is None and not wait and not self.closed:
            return self.drive(-1, False, index)  # the common call, checked in one line
        if max_iterations is not None or timeout is not None:
            check_timeout(timeout, self.spec.shown, "run")
            max_steps, wait = max_iterations, True
        if max_steps is not None:
            check_steps(max_steps, self.spec.shown)
        if self.closed:
            self._refuse_closed("steps")
        limit = -1 if max_steps is None else max_steps
        return run_waiting(self, limit) if wait else self.drive(limit, False, index)

    # ----------------------------------------------------------------- the synchronous door
    def send(self, msg: Any, *, priority: int = 0) -> int:
        """Queue ``msg`` and handle it now, with no event loop (all handlers sync); the steps taken.

        ``send_message(msg)`` followed by ``run()``, driven synchronously (see :mod:`.sync`).
        """
        sync.ensure(self)
        self.send_message(msg, priority=priority)
        steps: int = sync.finish(self, self.run())
        return steps

    def step(self) -> bool:
        """Do one step now, with no event loop (all handlers sync); False if there was none."""
        sync.ensure(self)
        did: bool = sync.finish(self, self.tick())
        return did

    def run_sync(self, max_steps: int | None = None) -> int:
        """``run(max_steps)`` with no event loop (all handlers sync): until idle or terminal; the steps."""
        sync.ensure(self)
        steps: int = sync.finish(self, self.run(max_steps))
        return steps

    # ----------------------------------------------------------------- closing and copying
    async def aclose(self) -> None:
        """Stop the machine for good: it takes no more messages and no more steps.

        Its timer is cancelled and its background run (if any) is cancelled and awaited; a
        ``run(wait=True)`` waiting for work returns; a run() in the middle of a step ends after
        that step, and aclose() waits for it.  Messages still queued stay queued, unhandled (a
        WARNING says how many).  Closing twice is harmless.
        """
        if self.closed:
            return
        self.closed = True
        if self.clock is not None:
            await self.clock.aclose()
        self.wake()
        if self.running and not called_within(self, DRIVING):  # not from one of its own handlers
            turns = self.turns = self.turns or Turns()
            while self.running:
                await turns.wait()
            turns.pass_on()  # a caller waiting for its turn learns that the machine is closed
        observers = getattr(self, "_kept_observers", None)  # (kept when the last one went)
        if observers is not None:
            await observers.drain()
        report.closed(self.spec.shown, self.node.name, self.queue_size)

    async def __aenter__(self) -> StateMachine:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        await self.aclose()

    def _refuse_closed(self, what: str, msg: Any = None) -> NoReturn:
        raise ExecutionError(
            f"machine {self.spec.shown} is closed; it takes no more {what}. Fix: build a new StateMachine "
            f"to run the states again",
            state=self.node.name,
            event=msg,
        )

    def __copy__(self) -> StateMachine:
        """A new, idle machine at the same point (see docs/septum.md, Copying a machine)."""
        return durable.copy_machine(self, None)  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: dict[int, Any]) -> StateMachine:
        """A new, idle machine at the same point, its blackboard and queued messages deep-copied."""
        return durable.copy_machine(self, memo)  # type: ignore[no-any-return]

    # ----------------------------------------------------------------- durability
    def snapshot(self, codecs: CodecRegistry | None = None, *, blackboard: bool = True) -> dict[str, JSON]:
        """Where the machine is, as a plain, versioned, JSON-compatible document (docs/durability.md).

        State, stack, retry count, queued messages and the blackboard (encoded by ``codecs``), the
        pending timeout as a deadline on the timebase.  ``blackboard=False`` leaves the blackboard
        out (an embedder writes it down itself).  Take it between steps, and not while a failure of a
        timeout's background run waits for the next run()/tick() (refused, the failure still kept).
        """
        return durable.snapshot(self, codecs, self.common if blackboard else None)

    @classmethod
    def restore(
        cls,
        initial_state: State | StateGroup,
        document: Any,
        *,
        codecs: CodecRegistry | None = None,
        common_data: Any = None,
        **options: Any,
    ) -> StateMachine:
        """A new machine of ``initial_state``'s states continuing where :meth:`snapshot` wrote down.

        ``common_data`` (else the document's blackboard) is its blackboard; ``options`` are the
        constructor's (give ``timebase=`` a clock that continues from the snapshot's time).  A
        document of another machine, of a newer format or malformed is a CodecError.
        """
        fsm = cls(initial_state, common_data=common_data, **options)
        durable.restore(fsm, document, codecs, common_data is None)
        return fsm


class ChartMachine(StateMachine, ChartEngine):
    """A :class:`StateMachine` with compound or parallel states: what ``StateMachine(...)`` makes
    for a statechart (it runs on :class:`~.chart.ChartEngine`)."""

    __slots__ = ()


_new = object.__new__
_KINDS: dict[type[StateMachine], type[StateMachine]] = {
    ChartMachine: ChartMachine,
    StateMachine: ChartMachine,
}


def _chart_kind(cls: type[StateMachine]) -> type[StateMachine]:
    """The class a ``cls`` (StateMachine or a subclass) of a statechart is: also a ChartMachine."""
    made = _KINDS.get(cls)
    if made is None:
        chart = issubclass(cls, ChartMachine)
        made = _KINDS[cls] = cls if chart else type(cls.__name__, (cls, ChartMachine), {"__slots__": ()})
    return made
