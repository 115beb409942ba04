"""The runtime: :class:`StateMachine`, a small instance over a shared compiled spec.

A machine is what its callers use: they build it, send it messages, run it, watch it.  What it is
doing (its state, its queue, its timers) is its :class:`~.engine.Engine`; callers that want to run
it while it is already running wait their turn (:class:`~.turns.Turns`).  ``run()`` returns when
the machine is idle, terminal or out of steps; a timeout that fires while nobody is running the
machine runs it in the background.
"""

from __future__ import annotations

import copy
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
from .options import DEFAULT_MAX_QUEUE_SIZE, DEFAULT_MAX_STACK_DEPTH, DEFAULTS
from .overflow import overflow
from .plan import MachineSpec
from .registry import StateRef
from .states import State, StateGroup, tools
from .turns import Turns
from .waiting import check_timeout, run_waiting, take_turn, tick_within

__all__ = ["StateMachine"]

_INFO = logging.INFO
# Bound by assignment, not ``from .report import LEVELS``: on 3.11 the compiler calls a method of an
# imported name through a bound method object made per call (it takes such names for modules).
_LEVELS = report.LEVELS
_NOW = 0  # tick()'s default timeout (a test of identity: False == 0 too)


class StateMachine(legacy.Compat0x):
    """One running state machine built from an initial state (or a ``septum.group``)."""

    __slots__ = ("_engine",)

    def __init__(
        self,
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
        queue_overflow: OverflowPolicy = "raise",
        on_error: Any = None,
        max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH,
        strict: bool = False,
    ) -> None:
        spec = None
        if (  # the common case, in tests of identity: every option left at its default
            max_queue_size is DEFAULT_MAX_QUEUE_SIZE
            and error_state is on_error is None
            and queue_overflow_policy is None  # and no other 0.x keyword:
            and filter_fn is None
            and trap_fn is None
            and on_error_fn is None
            and queue_overflow == "raise"
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
        self._engine: Engine = spec.engine(  # Engine.create, or ChartEngine.create for a statechart
            spec,
            common_data,
            DEFAULT_TIMEBASE if timebase is None else checked_timebase(timebase, "StateMachine", spec.name),
            chosen,
        )
        if trap_fn is not None:
            self.add_observer(legacy.trap(self, self._engine, trap_fn))

    # ----------------------------------------------------------------- inspection
    @property
    def current_state(self) -> State:
        """The state the machine is in (the initial state before ``initialize()``)."""
        return self._engine.node.state

    @property
    def configuration(self) -> tuple[State, ...]:
        """Every active state, outermost first: the current state and the compound states around it
        (with parallel states, every active state of every region), in document order."""
        engine = self._engine
        return engine.configuration() if isinstance(engine, ChartEngine) else (engine.node.state,)

    def in_state(self, state: State) -> bool:
        """True if ``state`` is active: the current state, or a compound or parallel state around it."""
        return state in self.configuration

    @property
    def state_stack(self) -> tuple[State, ...]:
        """The pushdown stack, bottom first; the last item is where the next ``Pop`` returns."""
        stack = self._engine.stack
        return () if not stack else tuple(n.state for n in stack)

    @property
    def retry_count(self) -> int:
        """Retries of the current state since it was entered from another state."""
        return self._engine.retry

    @property
    def common(self) -> Any:
        """The blackboard shared with the handlers (``ctx.common``)."""
        engine = self._engine
        if engine.ctx is not None:
            return engine.ctx.common
        if engine.common is None:
            engine.common = {}
        return engine.common

    @property
    def timebase(self) -> Timebase:
        """The clock timeouts are measured on."""
        return self._engine.timebase

    @property
    def spec(self) -> MachineSpec:
        """The compiled spec this machine runs (shared with every machine of the same states)."""
        return self._engine.spec

    @property
    def is_complete(self) -> bool:
        """True once a terminal state has been entered."""
        return self._engine.phase == DONE

    @property
    def is_idle(self) -> bool:
        """True when there is nothing to do until a message or timeout arrives (or complete)."""
        engine = self._engine
        pending = engine.mailbox is not None and engine.mailbox.pending
        return (engine.phase == WAIT or engine.phase == DONE) and not pending

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called: the machine takes no more messages and no more steps."""
        return self._engine.closed

    @property
    def queue_size(self) -> int:
        """Messages waiting (a pending timeout is not a message and is not counted)."""
        mailbox = self._engine.mailbox
        return 0 if mailbox is None else mailbox.size

    @property
    def overflow_count(self) -> int:
        """Messages refused or evicted because the queue was full."""
        mailbox = self._engine.mailbox
        return 0 if mailbox is None else mailbox.overflows

    @property
    def unhandled_count(self) -> int:
        """Messages a state answered with ``Unhandled``."""
        return self._engine.unhandled

    @property
    def initial_state(self) -> State:
        """The state the machine starts (and ``reset()`` returns) in."""
        return self._engine.spec.initial.state

    @property
    def error_state(self) -> State | None:
        """Where a handler's error sends the machine (``error_state=``), or None."""
        error = self._engine.spec.error
        return None if error is None else error.state

    @property
    def context(self) -> Context:
        """The ``ctx`` every handler of this machine receives (0.x's ``fsm.context``)."""
        return self._engine.context(self)

    def to_diagram(self) -> Diagram:
        """Picture of this machine's states with the current one highlighted."""
        return tools().diagram(self._engine.spec, self.configuration)

    def __repr__(self) -> str:
        return f"<StateMachine {self._engine.spec.name} in {self._engine.node.name}>"

    # ----------------------------------------------------------------- messages
    def send_message(self, msg: Any, *, priority: int = 0) -> bool:
        """Queue ``msg``; higher ``priority`` is handled first, equal priorities in sending order.

        Returns True when queued.  On a full queue the overflow policy applies: ``"raise"``
        (QueueOverflowError), ``"drop_newest"`` (returns False) or ``"drop_oldest"`` (evicts the
        longest-waiting message of the lowest priority); each overflow is counted and logged.
        """
        engine = self._engine
        if engine.phase == DONE:
            raise StateMachineComplete(
                f"machine {engine.spec.name} is complete (terminal state {engine.node.name}); "
                f"it takes no more messages",
                state=engine.node.name,
                event=msg,
            )
        if engine.closed:
            self._refuse_closed("messages", msg)
        if type(priority) is not int:  # 0.x's MessagePriorities, or not a priority at all
            # Checked first: a full queue must not evict or count for a message it then refuses.
            priority = legacy.priority(priority)
        if engine.options.filter_fn is not None and legacy.dropped(
            self, engine.spec.name, engine.options.filter_fn, msg
        ):
            return False
        mailbox = engine.mailbox or engine.open_mailbox()
        limit = mailbox.limit
        # With priority-0 messages only, fewer than the bound queued means room, without counting.
        if limit is not None and (mailbox.others is not None or len(mailbox.plain) >= limit):
            if mailbox.size >= limit and not overflow(engine, msg, priority):
                return False
        if priority == 0:
            mailbox.plain.append(msg)  # the common case, without a call
        else:
            mailbox.put(msg, priority)
        if engine.waiter is not None:
            engine.wake()
        return True

    def withdraw(self, msg: Any) -> bool:
        """Take back ``msg`` (that very object) if it is still queued, unhandled; True if it was.

        For an embedder whose step failed after it sent ``msg``: the machine must not handle it later.
        """
        box = self._engine.mailbox
        if box is None or not (box.plain or box.others):  # nothing queued (the common case): no search
            return False
        return msg is not TIMEOUT and box.withdraw(msg)

    # ----------------------------------------------------------------- observers
    def add_observer(self, callback: Observer) -> None:
        """Call ``callback`` with each :mod:`~mycorrhizal.septum.events` record from now on."""
        engine = self._engine
        if engine.observers is None:
            engine.observers = Observers(report.log, f"machine {engine.spec.name}")
        engine.observers.add(callback)

    def remove_observer(self, callback: Observer) -> None:
        """Stop calling ``callback`` (the same object given to :meth:`add_observer`)."""
        engine = self._engine
        observers = engine.observers or Observers(report.log, f"machine {engine.spec.name}")
        observers.remove(callback)  # says clearly when it was never attached
        if not observers:
            engine.observers = None  # nothing attached: a step is back to one test for observers

    # ----------------------------------------------------------------- driving
    async def initialize(self) -> None:
        """Enter the initial state (``on_enter``, timeout armed).  A second call does nothing."""
        engine = self._engine
        if engine.closed:
            self._refuse_closed("steps")
        if engine.phase != NEW:
            return
        if engine.node.plain_entry and engine.observers is None and _LEVELS.get(_INFO) is False:
            engine.phase = ENTRY  # nothing to run, arm or report: entering is a change of phase
            return
        if engine.start_quietly():
            return
        await take_turn(self._engine, skip=1)
        if engine.phase != NEW:
            engine.release()
            return
        engine.running = True
        try:
            await engine.initialize(self)
        finally:
            engine.release()
        engine.run_in_background()  # a timeout that fired during on_enter: nobody else runs it

    async def reset(self) -> None:
        """Back to the initial state as a new machine: the timer is cancelled, the stack, retry
        count and queue are cleared (a WARNING says how many messages were dropped), then
        :meth:`initialize` runs.  Not from one of its own handlers."""
        engine = self._engine
        if engine.closed:
            self._refuse_closed("steps")
        await take_turn(engine, skip=1)
        report.reset(engine.spec.name, engine.node.name, self.queue_size)
        durable.restart(engine)
        engine.release()
        await self.initialize()

    def tick(self, timeout: float | None = 0) -> Coroutine[Any, Any, bool]:
        """Do one step (one handler run and the transition it asks for); False if there was none.

        Raises :class:`StateMachineComplete` once the machine is in a terminal state.  An idle
        machine waits for work up to ``timeout`` seconds on its timebase (None: until it comes).
        (Like ``run()``, a plain method returning what to await: no frame of its own between the
        caller and the step.)
        """
        engine = self._engine
        node = engine.node
        if node.quick and engine.phase == ENTRY and timeout is _NOW and not (engine.running or engine.closed):
            if engine.clock is None:  # the commonest step, in one frame
                return engine.entry_step(self, node)
        if engine.phase == DONE:
            raise StateMachineComplete(
                f"machine {engine.spec.name} is complete (terminal state {engine.node.name})",
                state=engine.node.name,
            )
        if engine.closed:
            self._refuse_closed("steps")
        if timeout == 0 and not isinstance(timeout, bool):
            return engine.drive(self, 1, False, bool)
        check_timeout(timeout)
        return tick_within(engine, self, timeout)

    async def drive_in_turn(self, limit: int, wait: bool, answer: Callable[[int], Any]) -> Any:
        """Drive the machine once it is this caller's turn: the engine's way in when it is busy, new
        or timed (see :meth:`Engine.drive <mycorrhizal.septum.engine.Engine.drive>`)."""
        engine = self._engine
        await take_turn(self._engine, skip=2)
        if engine.closed:  # closed while this caller waited for its turn: it ends, like the one running
            engine.release()
            return answer(0)
        if engine.clock is not None:
            engine.clock.passive = False  # someone runs the machine again: its timeouts may drive it
        engine.running = True
        if engine.phase == NEW:
            try:
                await engine.initialize(self)
            except BaseException:
                engine.release()
                raise
        return await engine.drive(self, limit, wait, answer, held=True)

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
        engine = self._engine
        if max_steps is None and max_iterations is timeout is None and not wait and not engine.closed:
            return engine.drive(self, -1, False, index)  # the common call, checked in one line
        if max_iterations is not None or timeout is not None:
            max_steps, wait = max_iterations, True
        if max_steps is not None and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0
        ):
            raise ValueError(f"run(max_steps=...) takes an int >= 0 or None, got {max_steps!r}")
        if engine.closed:
            self._refuse_closed("steps")
        limit = -1 if max_steps is None else max_steps
        return run_waiting(engine, self, limit) if wait else engine.drive(self, limit, False, index)

    # ----------------------------------------------------------------- the synchronous door
    def send(self, msg: Any, *, priority: int = 0) -> int:
        """Queue ``msg`` and handle it now, with no event loop (all handlers sync); the steps taken.

        ``send_message(msg)`` followed by ``run()``, driven synchronously (see :mod:`.sync`).
        """
        sync.ensure(self._engine)
        self.send_message(msg, priority=priority)
        steps: int = sync.finish(self._engine, self.run())
        return steps

    def step(self) -> bool:
        """Do one step now, with no event loop (all handlers sync); False if there was none."""
        sync.ensure(self._engine)
        did: bool = sync.finish(self._engine, self.tick())
        return did

    def run_sync(self, max_steps: int | None = None) -> int:
        """``run(max_steps)`` with no event loop (all handlers sync): until idle or terminal; the steps."""
        sync.ensure(self._engine)
        steps: int = sync.finish(self._engine, self.run(max_steps))
        return steps

    # ----------------------------------------------------------------- closing and copying
    async def aclose(self) -> None:
        """Stop the machine for good: it takes no more messages and no more steps.

        Its timer is cancelled and its background run (if any) is cancelled and awaited; a
        ``run(wait=True)`` waiting for work returns; a run() in the middle of a step ends after
        that step, and aclose() waits for it.  Messages still queued stay queued, unhandled (a
        WARNING says how many).  Closing twice is harmless.
        """
        engine = self._engine
        if engine.closed:
            return
        engine.closed = True
        if engine.clock is not None:
            await engine.clock.aclose()
        engine.wake()
        if engine.running and not called_within(engine, DRIVING):  # not from one of its own handlers
            turns = engine.turns = engine.turns or Turns()
            while engine.running:
                await turns.wait()
            turns.pass_on()  # a caller waiting for its turn learns that the machine is closed
        if engine.observers is not None:
            await engine.observers.drain()
        report.closed(engine.spec.name, engine.node.name, self.queue_size)

    async def __aenter__(self) -> StateMachine:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        await self.aclose()

    def _refuse_closed(self, what: str, msg: Any = None) -> NoReturn:
        engine = self._engine
        raise ExecutionError(
            f"machine {engine.spec.name} is closed; it takes no more {what}; build a new StateMachine "
            f"to run the states again",
            state=engine.node.name,
            event=msg,
        )

    def __copy__(self) -> StateMachine:
        return self._copy(None)

    def __deepcopy__(self, memo: dict[int, Any]) -> StateMachine:
        return self._copy(memo)

    def _copy(self, memo: dict[int, Any] | None) -> StateMachine:
        """A new, idle machine at the same point (see docs/septum.md, Copying a machine)."""
        engine = self._engine
        if engine.closed:
            self._refuse_closed("copies")
        if engine.running:
            raise ExecutionError(
                f"machine {engine.spec.name} is running a step; copy it between steps",
                state=engine.node.name,
            )
        twin = StateMachine.__new__(StateMachine)
        if memo is not None:
            memo[id(self)] = twin
        common = self.common if memo is None else copy.deepcopy(self.common, memo)
        twin._engine = durable.copy_engine(engine, twin, common, memo)
        return twin

    # ----------------------------------------------------------------- durability
    def snapshot(self, codecs: CodecRegistry | None = None, *, blackboard: bool = True) -> dict[str, JSON]:
        """Where the machine is, as a plain, versioned, JSON-compatible document (docs/durability.md).

        State, stack, retry count, queued messages and the blackboard (encoded by ``codecs``), the
        pending timeout as a deadline on the timebase.  ``blackboard=False`` leaves the blackboard
        out (an embedder writes it down itself).  Take it between steps.
        """
        return durable.write(self._engine, codecs or CodecRegistry(), self.common if blackboard else None)

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
        durable.resume(fsm, fsm._engine, document, codecs or CodecRegistry(), common_data is None)
        return fsm
