"""The state machines of one ``fsm=`` transition in one runner: made on demand, evicted, closed.

A machine is made when the first token for its key arrives and then keeps its state across
firings. With ``fsm_idle_ttl`` or ``fsm_max_machines`` the pool also lets machines go:

- *at rest* means: in one of the idle states (the initial state unless ``fsm_idle_states`` says
  otherwise, and never a state with a timeout), nothing on its stack, nothing queued, no firing
  handing it a token, and no firing of several tokens holding it (:attr:`MachinePool.held`: what
  that firing did to it has not committed). A machine at rest has no timer and no task: dropping it
  loses only its position, which a fresh machine from the initial state would take again.
- ``fsm_idle_ttl``: a machine at rest whose last token came ``fsm_idle_ttl`` seconds ago (on the
  net's timebase) is evicted; one not at rest then is looked at again ``fsm_idle_ttl`` later.
- ``fsm_max_machines``: a token for a new key when the pool is full evicts the least recently
  used machine (the one whose last token is oldest) that is neither handling a token nor held,
  whatever its state: like any bounded cache, it forgets what that machine knew.  While too many
  are taken the pool holds more; the next new key evicts as many as it takes to come back.

An evicted machine is forgotten entirely; the next token for its key starts a fresh machine.
Stopping the runner closes every machine of the pool (``aclose()``: its timer and any background
work are cancelled), and a restarted runner starts fresh machines.  Removing the transition from the
running net (``runner.remove``) closes them the same way, through hypha's ``transition_removed()``
hook on the values of a removed transition's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from typing import Any

from ..common.codec_types import preview
from ..common.codecs import JSON, CodecRegistry
from ..common.errors import HandlerError, problem, split_fix
from ..common.observers import Dropped, Observers, maker
from ..common.timebase import Timebase, TimerHandle
from ..hypha import FiringContext, Runner
from ..hypha.memory_journal import RecordChange
from ..septum import StateMachine, durable
from .forwarding import Forward, forwarder
from .machine_journal import PoolJournal
from .spec import EmbeddedMachine

__all__ = ["POOL", "MachinePool"]

log = logging.getLogger("mycorrhizal.mycelium")

POOL = "machine pool"
"""Where an fsm= transition keeps its pool in its runner memory."""

_dropped = maker(Dropped)

_WENT = {
    "lru": "evicted by fsm_max_machines",
    "stopped": "closed as the runner stopped",
    "removed": "closed as its transition was removed from the net",
    "moved": "let go, its key moved to another runner",
    "replaced": "replaced by a machine brought in from outside",
}
"""How a machine let go for each reason went, as its kept failure's report says."""


class MachinePool:
    """The live machines of one ``fsm=`` transition in one runner, by key."""

    __slots__ = (
        "spec",
        "transition",
        "bb",
        "timebase",
        "living",
        "_seen",
        "_users",
        "held",
        "freed",
        "_turns",
        "_sweep",
        "evicted_idle",
        "evicted_lru",
        "evicted_lru_active",
        "observers",
        "net",
        "_forwards",
        "journal",
        "for_journal",
        "errors",
    )

    def __init__(
        self,
        spec: EmbeddedMachine,
        transition: str,
        bb: Any,
        timebase: Timebase,
        observers: Observers | None = None,
        net: str = "",
    ) -> None:
        self.spec = spec
        self.transition = transition
        self.bb = bb
        self.timebase = timebase
        # Machines by key; in order of their last token when the pool evicts (LRU first).
        self.living: dict[Any, StateMachine] = OrderedDict() if spec.evicts else {}
        self._seen: OrderedDict[Any, float] = OrderedDict()  # with fsm_idle_ttl: key -> last token time
        self._users: dict[Any, int] = {}  # firings handing a token to the machine of a key
        self.held: dict[Any, int] = {}
        """Keys a firing of several tokens still running holds (from before it hands its first token):
        their machines may be ahead of what committed, so a journal does not write them yet."""
        self.freed: asyncio.Event | None = None
        """Set when a key stops being held, for firings of several tokens waiting to hold it."""
        self._turns: dict[Any, asyncio.Lock] = {}  # concurrent firings take turns per machine
        self._sweep: TimerHandle | None = None
        self.evicted_idle = 0
        self.evicted_lru = 0
        self.evicted_lru_active = 0
        self.observers = observers
        """The net's observers, which the machines' records are forwarded to while it has some."""
        self.net = net
        self._forwards: dict[Any, Forward] = {}  # key -> the forwarder attached to its machine
        self.journal: PoolJournal | None = None
        """In a journaled net: what journals the machines' changes (see :mod:`.machine_journal`)."""
        self.for_journal = False
        """True while the journal's own snapshot writes the pool: as its records do, it writes a
        machine keeping a failure for its next firing without it (a user's snapshot is refused)."""
        self.errors: deque[HandlerError] | None = None
        """The runner's ``errors``, where a failure no firing will receive any more is kept."""

    @classmethod
    def of(cls, spec: EmbeddedMachine, ctx: FiringContext) -> MachinePool:
        """The pool of the firing's transition in its runner (made at its first firing)."""
        pool: MachinePool | None = ctx.memory.get(POOL)
        if pool is None:
            pool = cls._made(spec, ctx.runner, ctx.transition, ctx.memory, ctx.bb, ctx.timebase)
        return pool

    @classmethod
    def in_runner(cls, spec: EmbeddedMachine, runner: Runner, transition: str) -> MachinePool:
        """The pool of ``transition`` in ``runner``, made now if no firing made it yet (for machines
        brought in from outside a firing: see :meth:`adopt`)."""
        memory = runner.memory(transition)
        pool: MachinePool | None = memory.get(POOL)
        if pool is None:
            pool = cls._made(spec, runner, transition, memory, runner.blackboard, runner.timebase)
        return pool

    @classmethod
    def _made(
        cls,
        spec: EmbeddedMachine,
        runner: Runner,
        transition: str,
        memory: dict[str, Any],
        bb: Any,
        timebase: Timebase,
    ) -> MachinePool:
        observers = runner.observers
        pool = memory[POOL] = cls(spec, transition, bb, timebase, observers, runner.net.name)
        pool.errors = runner.errors
        runner.add_stop_callback(pool.close)
        observers.watch(pool.forwarding)
        return pool

    def adopt(self, which: Any, fsm: StateMachine) -> StateMachine | None:
        """Make ``fsm`` (e.g. restored from a snapshot) the machine of key ``which``; returns the one
        it replaces, which the caller closes.  Eviction counts it as used now."""
        self._forwards.pop(which, None)  # (what the replaced one does while it closes is still forwarded)
        replaced = self.living.pop(which, None)
        if replaced is not None:
            self._unreceived(which, replaced, "replaced")
            self._tell_dropped(which, "replaced")
        self.living[which] = fsm
        if self.observers:
            self._forward(which)
        if self.spec.idle_ttl is not None:
            self._seen[which] = self.timebase.now()
            self._seen.move_to_end(which)
            self._arm()
        return replaced

    def forget(self, which: Any) -> StateMachine | None:
        """Drop the machine of key ``which`` (its keys moved to another runner); the caller closes it."""
        self._seen.pop(which, None)
        self._forwards.pop(which, None)
        fsm = self.living.pop(which, None)
        if fsm is not None:
            self._unreceived(which, fsm, "moved")
            self._tell_dropped(which, "moved")
        return fsm

    # -- forwarding the machines' records to the net's observers ------------------------------------

    def forwarding(self, observed: bool) -> None:
        """The net's first observer came (forward every machine's records) or its last one went."""
        for which in list(self.living):
            self._unforward(which)
            if observed:
                self._forward(which)

    def _forward(self, which: Any) -> None:
        assert self.observers is not None
        fsm = self.living[which]
        forward = self._forwards[which] = forwarder(self.observers, self.net, self.transition, which, fsm)
        fsm.add_observer(forward)

    def _tell_dropped(self, which: Any, reason: str) -> None:
        """Tell the net's observers that the machine of ``which`` is gone (a :class:`Dropped`)."""
        if self.observers:
            self.observers.emit(_dropped((self.net, self.timebase.now(), self.transition, which, reason)))

    def _unreceived(self, which: Any, fsm: StateMachine, reason: str) -> None:
        """Keep in the runner's errors, and log, what the timeout handler of ``fsm`` raised on its own
        if no firing has received it: kept for the next firing handing it a token, which none will
        now (the pool lets it go for ``reason``)."""
        failure = durable.unseen(fsm)
        if failure is None:
            return
        state = fsm.current_state.name
        fix = split_fix(str(failure))[1]
        if fix is None or isinstance(failure, HandlerError):  # (an undeclared label says its own fix)
            fix = (
                "handle that error in the state's handler, or give fsm_options an error_state or on_error "
                "so that the machine recovers on its own"
            )
        message = (
            f"transition {self.transition!r}: the machine of key {which!r}, in state {state}, was "
            f"{_WENT[reason]} keeping an error its timeout handler raised on its own, which no firing "
            f"received ({type(failure).__name__}: {problem(failure)}). Fix: {fix}"
        )
        error = HandlerError(message, transition=self.transition, state=state)
        error.__cause__ = failure
        if self.errors is not None:
            self.errors.append(error)
        log.warning("%s", message)  # (its traceback was logged when it was raised)

    def _unforward(self, which: Any) -> None:
        forward = self._forwards.pop(which, None)
        if forward is not None:
            self.living[which].remove_observer(forward)

    # -- keys ---------------------------------------------------------------------------------------

    def key_of(self, token: Any) -> Any:
        """The key of the machine ``token`` goes to: ``fsm_key(token)``, checked to be hashable."""
        key = self.spec.key
        if key is None:
            return None
        try:
            which = key(token)
        except Exception as exc:
            raise HandlerError(
                f"transition {self.transition!r}: fsm_key raised {type(exc).__name__}: {exc} "
                f"on token {preview(token)}. Fix: make fsm_key return a key for every token, or keep "
                f"such tokens out of {self.transition!r}",
                transition=self.transition,
            ) from exc
        try:
            hash(which)
        except TypeError as exc:
            raise HandlerError(
                f"transition {self.transition!r}: fsm_key returned {preview(which)} for token "
                f"{preview(token)}, which is unhashable, so it cannot name a machine. Fix: make fsm_key "
                "return a str, a number or a tuple",
                transition=self.transition,
            ) from exc
        return which

    # -- use ----------------------------------------------------------------------------------------

    def enter(self, which: Any) -> None:
        """A firing is about to hand a token to the machine of ``which``: it is in use, and used now."""
        self._users[which] = self._users.get(which, 0) + 1
        if which in self.living and self.spec.evicts:
            self.living.move_to_end(which)  # type: ignore[attr-defined]
            if self.spec.idle_ttl is not None:
                self._seen[which] = self.timebase.now()
                self._seen.move_to_end(which)

    def leave(self, which: Any) -> None:
        """The firing is done with the machine of ``which``."""
        users = self._users[which] - 1
        if users:
            self._users[which] = users
        else:
            del self._users[which]
            self._turns.pop(which, None)

    def hold(self, which: Any) -> None:
        """A firing of several tokens takes the machine of ``which``: held until it ends."""
        self.held[which] = self.held.get(which, 0) + 1

    def release(self, which: Any) -> None:
        """The firing that held ``which`` ended (its commit, if any, is next, in the same step)."""
        held = self.held[which] - 1
        if held:
            self.held[which] = held
        else:
            del self.held[which]
            if self.freed is not None:
                self.freed.set()
                self.freed = None
            if self.journal is not None:
                self.journal.released(which)

    def turn(self, which: Any) -> asyncio.Lock:
        """The lock concurrent firings take to hand the machine of ``which`` one token at a time."""
        lock = self._turns.get(which)
        if lock is None:
            lock = self._turns[which] = asyncio.Lock()
        return lock

    async def open(self, which: Any) -> StateMachine:
        """Make the machine for a new key (evicting one if the pool is full) and enter its initial state."""
        spec = self.spec
        bound = spec.max_machines
        evicted = self._make_room(bound) if bound is not None and len(self.living) >= bound else ()
        fsm = StateMachine(spec.initial, common_data=self.bb, timebase=self.timebase, **spec.options)
        self.living[which] = fsm
        if self.observers is not None and self.observers.active:
            # observed: the machine's first records (entering its initial state) are forwarded too
            self._forward(which)
        if spec.idle_ttl is not None:
            self._seen[which] = self.timebase.now()
            self._arm()
        for key, old in evicted:
            await old.aclose()  # its timer, if it had one, and any work it does in the background
            self._tell_dropped(key, "lru")  # after what it told while it closed
        await fsm.run()  # enter the initial state and do its entry run before the first token
        return fsm

    # -- restoring ----------------------------------------------------------------------------------

    @property
    def seen(self) -> Mapping[Any, float]:
        """With ``fsm_idle_ttl``: when each machine's last token came (on the timebase), oldest first."""
        return self._seen

    def resume(self, seen: list[tuple[Any, float]]) -> None:
        """Take the last-token times of restored machines and look for idle ones again from there."""
        self._seen.update(seen)
        self._arm()

    # -- eviction -----------------------------------------------------------------------------------

    def at_rest(self, which: Any, fsm: StateMachine) -> bool:
        """True if the machine has nothing to remember but being in one of the idle states."""
        return (
            which not in self._users
            and which not in self.held
            and fsm.is_idle
            and not fsm.state_stack
            and fsm.current_state in self.spec.idle_states
        )

    def _drop(self, which: Any) -> StateMachine:
        self._seen.pop(which, None)
        self._forwards.pop(which, None)  # (what it does while it is closed is still forwarded)
        fsm = self.living.pop(which)
        if self.journal is not None:
            self.journal.dropped_key(which)
        return fsm

    def _make_room(self, bound: int) -> list[tuple[Any, StateMachine]]:
        """Evict the least recently used machines that are neither handling a token nor held by a
        firing of several tokens until fewer than ``bound`` live: their keys and themselves (fewer, or
        none, if too many are taken: the pool holds more until they are free)."""
        excess = len(self.living) - bound + 1
        picked = []
        for which in self.living:
            if which in self._users or which in self.held:
                continue  # handling a token right now, or changed by a firing that has not committed
            picked.append(which)
            if len(picked) == excess:
                break
        return [(which, self._evict_lru(which)) for which in picked]

    def _evict_lru(self, which: Any) -> StateMachine:
        fsm = self.living[which]
        resting = self.at_rest(which, fsm)
        self._unreceived(which, fsm, "lru")
        self._drop(which)
        self.evicted_lru += 1
        if not resting:
            self.evicted_lru_active += 1
            log.info(
                "transition %s: fsm_max_machines=%d reached; evicted the machine of key %r in state %s "
                "(least recently used)",
                self.transition,
                self.spec.max_machines,
                which,
                fsm.current_state.name,
            )
        return fsm

    def _arm(self) -> None:
        ttl = self.spec.idle_ttl
        if self._sweep is not None or not self._seen or ttl is None:
            return
        last = next(iter(self._seen.values()))
        self._sweep = self.timebase.call_later(max(0.0, last + ttl - self.timebase.now()), self._expire)

    def _expire(self) -> None:
        """Evict machines at rest whose last token is ``fsm_idle_ttl`` old; look again later at the others."""
        self._sweep = None
        ttl = self.spec.idle_ttl
        assert ttl is not None
        now = self.timebase.now()
        seen = self._seen
        again: list[Any] = []
        for _ in range(len(seen)):  # each at most once, even if now + ttl rounds to now
            which, last = next(iter(seen.items()))
            if last + ttl > now:
                break
            if self.at_rest(which, self.living[which]):
                self._drop(which)
                self.evicted_idle += 1
                self._tell_dropped(which, "idle")
                log.debug("transition %s: evicted the machine of key %r, at rest", self.transition, which)
            else:
                seen[which] = now
                seen.move_to_end(which)
                again.append(which)
        if again and self.journal is not None:  # recovery looks at them again when this run would
            self.journal.seen_again(again)
        self._arm()

    def discard(self) -> None:
        """Throw the pool away before its runner is used (hypha's hook for a restore refused halfway):
        every machine's timers are cancelled and it is closed, so none of its timeouts runs later."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        for fsm in self.living.values():
            durable.discard(fsm)
        self.living.clear()
        self._seen.clear()
        self._forwards.clear()

    async def close(self) -> None:
        """Close every machine (no timer or background work of theirs is left) and forget them."""
        if await self._close_all("stopped") and self.observers is not None:
            await self.observers.drain()  # what they forwarded while closing (the runner drained before)

    async def transition_removed(self) -> None:
        """The transition was removed from the running net (hypha's hook): close every machine as
        :meth:`close` does, each told let go with reason ``"removed"``."""
        await self._close_all("removed")

    async def _close_all(self, reason: str) -> bool:
        """Close and forget every machine, then tell each :class:`Dropped` with ``reason``; whether
        there was any."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self.journal is not None:  # (a restarted runner writes a snapshot of the emptied pool)
            self.journal.close()
            self.journal = None
        closing = list(self.living.items())
        self._forwards.clear()  # (what they do while they are closed is still forwarded)
        self.living.clear()
        self._seen.clear()
        if closing:
            log.debug("transition %s: closing %d machine(s) (%s)", self.transition, len(closing), reason)
            for which, fsm in closing:
                self._unreceived(which, fsm, reason)
            await asyncio.gather(*(fsm.aclose() for _, fsm in closing))
            for which, _ in closing:
                self._tell_dropped(which, reason)
        return bool(closing)

    # -- journaling (hypha's JournaledMemory: a journaled net records every machine's changes) ------

    def journal_attach(self, record: RecordChange, codecs: CodecRegistry) -> bool:
        """Journal the machines' changes outside firings with ``record``; False if already so."""
        if self.journal is not None:
            return False
        self.journal = PoolJournal(self, record, codecs)
        return True

    def journal_changes(self, consumed: Sequence[Any], record: RecordChange, codecs: CodecRegistry) -> JSON:
        """What the firing that consumed ``consumed`` changed: the rows of the machines it used."""
        if self.journal is None:  # made by this firing: the whole pool
            journal = self.journal = PoolJournal(self, record, codecs)
            journal.first = True  # (without machines in a step of other firings, still running)
            try:
                return {"value": codecs.encode(self)}
            finally:
                journal.first = False
        return self.journal.changes(consumed)

    def journal_ready(self) -> bool:
        """True if no machine is in a step, so the pool can be written down."""
        return PoolJournal.ready(self)

    def journal_writing(self, writing: bool) -> None:
        """The journal's own snapshot starts or ends writing the pool (see :attr:`for_journal`)."""
        self.for_journal = writing
