"""The runtime of a statechart: :class:`ChartEngine`, the engine of machines with composite states.

A machine whose states are all plain runs on :class:`~.engine.Engine` and pays nothing for what is
here.  A machine with a compound or parallel state (:mod:`.compound`) runs on a ChartEngine: the
same machine object, queue, turns, background runs and observers, with a *configuration* (every
active state, at every level) in place of one current state, a timer per active timed state, a
retry count per state, and what each compound state with history remembers.  What a step does
(offering a message to the active states, choosing transitions, leaving and entering states) is
:mod:`.chartsteps`; the sets of states a transition leaves and enters are :mod:`.hierarchy`.

Between steps ``engine.node`` is the innermost state holding every active state (the active leaf,
unless a parallel state is active); while a handler runs, it is that handler's state, so that
``ctx.state`` and ``ctx.retry_count`` are about the state whose handler runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from ..common.timebase import Timebase, TimerHandle
from . import chartsteps, report
from .clock import Clock
from .engine import DRIVING as FLAT_DRIVING
from .engine import YIELD_EVERY, Engine
from .events import TimeoutFired
from .hierarchy import ChartNode, TimerMarker
from .mailbox import EMPTY, NEWCOMER, Mailbox, Marker
from .mishaps import ENTRY_RUN
from .moves import DONE, ENTRY, NEW, WAIT
from .plan import Node

__all__ = ["DRIVING", "ChartClock", "ChartEngine", "ChartMailbox"]

log = report.log


class ChartMailbox(Mailbox):
    """A mailbox in which several fired timeouts (one marker per timed state) may wait at once."""

    __slots__ = ("markers",)

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit)
        #: Timeout markers queued among the priority-0 messages.
        self.markers = 0

    @property
    def size(self) -> int:
        """Messages waiting (fired timeouts are not messages and are not counted)."""
        size = len(self.plain) - self.markers
        if self.others:
            size += sum(len(q) for q in self.others.values())
        return size

    def evict_for(self, priority: int) -> Any:
        """As :meth:`Mailbox.evict_for`, never evicting a fired timeout."""
        others = self.others or {}
        has_plain = any(not isinstance(m, Marker) for m in self.plain)
        lowest = min([*others, *([0] if has_plain else [])])
        if priority < lowest:
            return NEWCOMER  # (not Mailbox.evict_for: it would take a timeout marker for a message)
        if lowest == 0:
            for i, msg in enumerate(self.plain):
                if not isinstance(msg, Marker):
                    del self.plain[i]
                    return msg
        return self._take(lowest)


class ChartClock(Clock):
    """A :class:`~.clock.Clock` with a timer per active timed state instead of one."""

    __slots__ = ("timers", "deadlines")

    def __init__(self, timebase: Timebase) -> None:
        super().__init__(timebase)
        self.timers: dict[ChartNode, TimerHandle] = {}
        #: When each running timer fires, on the timebase (what a snapshot writes down).
        self.deadlines: dict[ChartNode, float] = {}

    def cancel(self, node: ChartNode) -> None:
        """Stop ``node``'s timer, if it runs."""
        self.deadlines.pop(node, None)
        handle = self.timers.pop(node, None)
        if handle is not None:
            handle.cancel()

    async def aclose(self) -> None:
        """Stop every timer and the background run.

        The deadlines are kept, as :meth:`Clock.aclose` keeps its timer's: a snapshot of the closed
        machine still writes them down (and a cancelled timer never fires).
        """
        for handle in self.timers.values():
            handle.cancel()
        await super().aclose()


class ChartEngine(Engine):
    """The engine of a machine with compound or parallel states (see the module's docstring)."""

    __slots__ = ("active", "child", "top", "owing", "counts", "remembered", "acting", "cut")
    #: The active states, in the order they were entered.
    active: dict[ChartNode, None]
    #: The active child of each active compound state.
    child: dict[ChartNode, ChartNode]
    #: The active state that has no parent.
    top: ChartNode | None
    #: Active states that owe their entry run.
    owing: set[ChartNode]
    #: Retry counts, by state (absent: 0).
    counts: dict[ChartNode, int]
    #: For compound states with history: the states below them when they were last left.
    remembered: dict[ChartNode, tuple[ChartNode, ...]]
    #: The state whose on_state is being awaited (a timeout around it may interrupt it).
    acting: ChartNode | None
    #: The state whose timeout interrupted ``acting``.
    cut: ChartNode | None

    def clear_chart(self) -> None:
        """No state active, none owing its entry, nothing remembered: a new machine's configuration."""
        self.active = {}
        self.child = {}
        self.top = None
        self.owing = set()
        self.counts = {}
        self.remembered = {}
        self.acting = None
        self.cut = None

    # ----------------------------------------------------------------- what the machine reads
    def active_states(self) -> tuple[Any, ...]:
        """The active states (as specs), in document order."""
        return tuple(n.state for n in sorted(self.active, key=lambda n: n.order))

    def open_mailbox(self) -> Mailbox:
        mailbox = self.mailbox = ChartMailbox(self.options.max_queue_size)
        return mailbox

    def focus(self, node: ChartNode) -> None:
        """``ctx.state``/``ctx.retry_count`` are about ``node`` (whose handler runs next)."""
        self.node = node
        self.retry = self.counts.get(node, 0)

    def settle(self) -> None:
        """Between steps: focus on the innermost state holding every active state; set the phase."""
        node, child = self.top, self.child
        while node is not None and node.composite and not node.parallel:
            inner = child.get(node)
            if inner is None:
                break
            node = inner
        if node is not None:
            self.node = node
            self.retry = self.counts.get(node, 0)
        if self.phase != DONE:
            self.phase = ENTRY if self.owing else WAIT

    # ----------------------------------------------------------------- timers
    def timers(self) -> ChartClock | None:
        """The clock holding this machine's timers (None until a timed state was entered)."""
        return cast(ChartClock | None, self.clock)

    def arm(self, node: Node, delay: float | None = None) -> None:
        """Start ``node``'s timer: its whole timeout, or ``delay`` (a restored timer's remainder)."""
        if self.closed:  # entered by the step aclose() waited for: no timer runs any more
            return
        timed = cast(ChartNode, node)
        clock = self.timers()
        if clock is None:
            clock = ChartClock(self.timebase)
            self.clock = clock
        clock.cancel(timed)
        if delay is None:
            delay = node.timeout
        assert delay is not None  # only timed states are armed
        clock.deadlines[timed] = self.timebase.now() + delay
        clock.timers[timed] = self.timebase.call_later(delay, lambda: self.fire_node(timed))

    def disarm_node(self, node: ChartNode) -> None:
        """Stop ``node``'s timer, and drop its timeout if it fired and waits in the queue."""
        clock, mailbox = self.timers(), cast(ChartMailbox | None, self.mailbox)
        if clock is not None:
            clock.cancel(node)
        if mailbox is not None and mailbox.markers and mailbox.withdraw(node.marker):
            self.took_marker()

    def took_marker(self) -> None:
        """One fired timeout fewer waits in the queue."""
        mailbox = cast(ChartMailbox, self.mailbox)
        assert self.clock is not None
        mailbox.markers -= 1
        self.clock.fired = mailbox.markers > 0

    def fire_node(self, node: ChartNode) -> None:
        """``node``'s timer fired: queue its timeout, and see that something handles it."""
        clock = self.timers()
        if clock is None or clock.timers.pop(node, None) is None or self.phase == DONE:
            return
        clock.deadlines.pop(node, None)
        mailbox = self.mailbox or self.open_mailbox()
        assert isinstance(mailbox, ChartMailbox)
        mailbox.plain.append(node.marker)
        mailbox.markers += 1
        clock.fired = True
        if log.isEnabledFor(logging.DEBUG):
            log.debug("machine %s: timeout of %s fired", self.spec.shown, node.name)
        acting = self.acting
        if (
            acting is not None
            and acting.within(node)
            and clock.interrupt(f"septum: state {node.name} timed out")
        ):
            self.cut = node  # its on_state (or one inside it) was suspended: the timeout goes first
            return
        if self.waiter is not None:
            self.wake()
        elif not self.running and not clock.passive:
            self.run_in_background()

    # ----------------------------------------------------------------- starting
    def start_quietly(self) -> bool:
        return False  # entering a configuration runs hooks at several levels: always a real start

    async def start(self) -> None:
        """Enter the initial state, the states around it and its default children."""
        self.handler_context()
        self._started()
        try:
            await chartsteps.start(self)
        finally:  # also after a failure raised: what was entered is where the machine is
            self.settle()

    def finish(self, node: ChartNode) -> None:
        """The machine is complete (``node``: the top-level state that ended it)."""
        self.phase = DONE
        clock = self.timers()
        if clock is not None:
            for timed in list(clock.timers):
                self.disarm_node(timed)
        self.owing.clear()
        if self.waiter is not None:
            self.wake()
        report.completed(self.spec.shown, node.name, 0 if self.mailbox is None else self.mailbox.size)

    # ----------------------------------------------------------------- steps
    async def drive(self, limit: int, wait: bool, answer: Callable[[int], Any], held: bool = False) -> Any:
        """Do up to ``limit`` steps (-1: no limit): the loop behind run() and tick() for statecharts."""
        if not held and (self.running or self.phase == NEW or self.clock is not None):
            return await self.drive_in_turn(limit, wait, answer)  # type: ignore[attr-defined]  # a StateMachine's
        self.running = True
        ctx = self.ctx or self.handler_context()
        steps, budget = 0, YIELD_EVERY
        try:
            while steps != limit and not self.closed:
                if not budget:
                    budget = YIELD_EVERY
                    await asyncio.sleep(0)
                ctx.msg = None
                took = ENTRY_RUN if self.phase == ENTRY else self._next(ctx)
                if took is EMPTY:
                    if not await self._idle(wait, steps):
                        break
                    continue
                steps += 1
                budget -= 1
                settled = False
                try:
                    settled = await chartsteps.step(self, took)
                finally:
                    if not settled:  # also after a failure raised or a cancellation: between steps
                        self.settle()
        finally:
            self.release()
        return answer(steps)

    def _next(self, ctx: Any) -> Any:
        """Take the next message (``ctx.msg``) or fired timeout (a state's marker); EMPTY if idle."""
        mailbox = self.mailbox
        if self.phase != WAIT or mailbox is None:
            return EMPTY
        msg = mailbox.take()
        if msg is EMPTY:
            return EMPTY
        if isinstance(msg, TimerMarker):
            self.took_marker()
            if self.observers is not None:  # told as on_timeout runs: a timeout dropped is never told
                self.emit(TimeoutFired, state=msg.node.name)
            return msg
        ctx.msg = msg
        return msg

    # ----------------------------------------------------------------- errors
    async def _route(self, node: Any, role: str, exc: BaseException, what: str | None = None) -> None:
        await chartsteps.route(self, node, role, exc, what)
        self.settle()

    # ----------------------------------------------------------------- copies
    def adopt(self, other: ChartEngine) -> None:
        """Take ``other``'s configuration (a copy of its machine): timers start afresh, from now."""
        self.active = dict(other.active)
        self.child = dict(other.child)
        self.top = other.top
        self.owing = set(other.owing)
        self.counts = dict(other.counts)
        self.remembered = dict(other.remembered)
        theirs = other.timers()
        self.clock = None
        for node in self.active:
            if theirs is not None and node in theirs.timers:
                self.arm(node)
        if theirs is not None and theirs.fired:
            clock = self.timers() or ChartClock(self.timebase)
            self.clock = clock
            clock.fired = True


#: A run() that has to wait for its turn looks down its caller chain for these (see engine.DRIVING).
DRIVING = FLAT_DRIVING | frozenset(m.__code__ for m in (ChartEngine.drive, ChartEngine.start))
