"""The machines of an ``fsm=`` transition in a journaled net: every change journaled, by key.

A :class:`~.machine_pool.MachinePool` journals itself through hypha's
:class:`~mycorrhizal.hypha.memory_journal.JournaledMemory` hook, as changes to its document (see
:mod:`.machine_snapshot` for the document, and :mod:`mycorrhizal.hypha.memory_journal` for how
changes are applied on recovery):

- **a firing**: the machines it handed tokens to, each written as its row of the pool's document
  (``[key, state]`` or ``[key, state, {...}]``), in the firing's own record: the machine's new state
  and the tokens it consumed and produced commit together, or not at all.
- **a timeout**: a machine with a pending timer is watched on the timebase; when its timer has
  fired and the machine has handled it (its background run is over), its row goes into a
  ``memory`` record of its own.  If that run failed, the row says where the machine is, and the
  error stays kept for the machine's next firing: no document can hold it, so the journal's own
  snapshots write the machine as its rows do, without it (a crash loses it either way; a user's
  ``runner.snapshot()`` is refused until that firing has received it).
- **an eviction**: the evicted key's row is removed, with the eviction counts (a ``memory`` record;
  if a firing evicted it to make room for its machine, in that firing's record).
- **an idle sweep** (``fsm_idle_ttl``) that finds a machine not at rest looks at it again
  ``fsm_idle_ttl`` later: its new time goes into a ``memory`` record (its ``seen`` row), so a
  recovered pool sweeps, and evicts, at the moments this one would.

Recovery restores each machine in the state of its last row, its pending timer set again for its
original deadline.  A machine in a step of another firing when one commits (``concurrency`` above
1) is written when that firing commits, or by its next change; one a firing of several tokens still
running holds (:attr:`MachinePool.held`) is left out, by other firings' records and by its own
timeout's, until that firing ends, so a record never writes a machine ahead of the tokens that led
it there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from ..common.codecs import JSON, CodecRegistry
from ..common.errors import ExecutionError
from ..common.timebase import TimerHandle
from ..hypha.memory_journal import RecordChange
from ..septum import StateMachine
from ..septum.durable import background, busy, header, next_change, resting, write

__all__ = ["AT_REST", "HEADER", "PoolJournal", "entry"]

log = logging.getLogger("mycorrhizal.mycelium")

#: What every machine of a pool has in common in its document: written once, in the pool's.
HEADER = ("engine", "version", "machine")
#: A machine waiting in its state with nothing else to remember: written as [key, state].
AT_REST = {"phase": "wait", "retry": 0, "unhandled": 0, "stack": [], "queue": [], "timer": None}
_SKIPPED = frozenset({*HEADER, "state"})
_SAFE = 2**53  # ints within it are JSON as they are (see the codecs)


def entry(which: Any, saved: dict[str, Any]) -> list[Any]:
    """A machine's entry in the pool: ``[key, state]``, or ``[key, state, what else it holds]``."""
    if (
        "chart" not in saved  # a statechart's active states and timers are in it: never left out
        and saved["phase"] == "wait"
        and saved["timer"] is None
        and not (saved["retry"] or saved["unhandled"] or saved["stack"] or saved["queue"])
    ):
        return [which, saved["state"]]  # the common case, without a dict
    rest = {k: v for k, v in saved.items() if k not in _SKIPPED and (k not in AT_REST or AT_REST[k] != v)}
    return [which, saved["state"], rest]


class PoolJournal:
    """Journals the changes of one pool's machines (made when the pool's journal is attached)."""

    __slots__ = (
        "pool", "record", "codecs", "header", "evicted", "dropped", "watches", "tasks", "first", "owed",
    )  # fmt: skip

    def __init__(self, pool: Any, record: RecordChange, codecs: CodecRegistry) -> None:
        self.pool = pool
        self.record = record
        self.codecs = codecs
        self.header = bool(pool.living)
        """True once the journal holds the pool's header (a snapshot with machines in it does)."""
        self.evicted = _evicted(pool)
        self.dropped: dict[Any, None] = {}
        """Keys evicted since the last eviction record."""
        self.watches: dict[Any, tuple[float, TimerHandle]] = {}
        """Per machine with a pending timer: when it changes next, and the timer that looks then."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.owed: dict[Any, None] = {}
        """Keys whose rows a record left out while a firing still running held them."""
        self.first = False
        """True while a firing writes the whole pool into its record: machines in a step of other
        firings are left out of it (their own firings' records write them)."""
        for which, fsm in pool.living.items():  # restored machines: their timers fire on their own
            self._watch(which, fsm)
            if background(fsm) is not None:  # handling a timeout that fired before it was written
                self._settle_later(which)

    # -- firings ------------------------------------------------------------------------------------

    def changes(self, consumed: Sequence[Any]) -> JSON:
        """The rows of the machines the firing that consumed ``consumed`` handed tokens to."""
        pool = self.pool
        if len(consumed) == 1:
            keys: Any = (pool.key_of(consumed[0]),)
        else:
            keys = dict.fromkeys(map(pool.key_of, consumed))
        rows: list[JSON] = []
        sets: dict[str, JSON] = {}
        if self.dropped:  # evicted to make room for this firing's machine: commits with it
            self._drops(rows, sets)
        move = 1 if pool.spec.evicts else 0
        for which in keys:
            if which in pool.held:  # ahead of this record, by a firing still running: written after it
                self.owed[which] = None
                continue
            if not self._rows(which, rows, sets, move):
                self._settle_later(which)  # in a step of another firing: written when it settles
        return _change(rows, sets)

    def _rows(self, which: Any, rows: list[JSON], sets: dict[str, JSON], move: int) -> bool:
        """Add the rows of the machine of ``which``; False if it is in a step."""
        pool = self.pool
        fsm: StateMachine | None = pool.living.get(which)
        if fsm is None:  # evicted meanwhile: its eviction record says so
            return True
        if not self.header:
            sets["header"] = header(fsm)
            self.header = True
        state = resting(fsm)
        if state is not None:  # most machines: [key, state], without a whole snapshot
            plain = type(which) is str or type(which) is int and -_SAFE <= which <= _SAFE
            row: Any = [which, state] if plain else self.codecs.encode([which, state])
        else:
            try:
                saved = write(fsm, self.codecs, None)
            except ExecutionError:
                return False
            row = self.codecs.encode(entry(which, saved))
        rows.append(["machines", row[0], row, move])
        if pool.spec.idle_ttl is not None:
            rows.append(["seen", row[0], self.codecs.encode([which, pool.seen.get(which)]), move])
        self._watch(which, fsm)
        return True

    # -- evictions ----------------------------------------------------------------------------------

    def dropped_key(self, which: Any) -> None:
        """The pool evicted the machine of ``which``: journal it (soon, once per batch of evictions)."""
        watch = self.watches.pop(which, None)
        if watch is not None:
            watch[1].cancel()
        if not self.dropped:
            try:
                asyncio.get_running_loop().call_soon(self._write_drops)
            except RuntimeError:  # no loop running: a synchronous clock.advance()
                self.dropped[which] = None
                self._write_drops()
                return
        self.dropped[which] = None

    def _write_drops(self) -> None:
        if self.pool.journal is not self or not self.dropped:
            return  # (or a firing's record took them)
        rows: list[JSON] = []
        sets: dict[str, JSON] = {}
        self._drops(rows, sets)
        change = _change(rows, sets)
        if change is not None:
            self.record(change)

    def _drops(self, rows: list[JSON], sets: dict[str, JSON]) -> None:
        """Add the rows removing the keys evicted since the last such change, and the new counts."""
        gone = [which for which in self.dropped if which not in self.pool.living]
        self.dropped.clear()
        ttl = self.pool.spec.idle_ttl is not None
        for which in gone:
            key = self.codecs.encode(which)
            rows.append(["machines", key, None, 0])
            if ttl:
                rows.append(["seen", key, None, 0])
        evicted = _evicted(self.pool)
        if evicted != self.evicted:
            self.evicted = evicted
            sets["evicted"] = list(evicted)

    def seen_again(self, keys: list[Any]) -> None:
        """The idle sweep found the machines of ``keys`` not at rest and looks again ``fsm_idle_ttl``
        later: journal their new times, so a recovered pool sweeps (and evicts) when this one would."""
        seen = self.pool.seen
        rows: list[JSON] = []
        for which in keys:
            row = self.codecs.encode([which, seen[which]])
            rows.append(["seen", row[0], row, 1])  # type: ignore[index]
        self.record({"rows": rows})

    def released(self, which: Any) -> None:
        """The last firing holding ``which`` ended: write its row if a record left it out meanwhile
        (after that firing's commit, which writes it too, or instead of it if it failed)."""
        if self.owed.pop(which, 0) is None:
            self._settle_later(which)

    # -- timeouts -----------------------------------------------------------------------------------

    def _watch(self, which: Any, fsm: StateMachine) -> None:
        """Look at the machine again when its next timer fires (if it has one)."""
        due = next_change(fsm)
        watch = self.watches.get(which)
        if watch is not None:
            if watch[0] == due:
                return
            watch[1].cancel()
            del self.watches[which]
        if due is None:
            return
        timebase = self.pool.timebase
        # Set after the machine's own timer for the same deadline, so it fires after it.
        handle = timebase.call_later(max(0.0, due - timebase.now()), lambda: self._due(which, due))
        self.watches[which] = (due, handle)

    def _due(self, which: Any, deadline: float | None) -> None:
        self.watches.pop(which, None)
        self._settle_later(which, deadline)

    def _settle_later(self, which: Any, deadline: float | None = None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the machine's timeout is handled, and journaled, by its next run()
        task = loop.create_task(self._settle(which, deadline))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _settle(self, which: Any, deadline: float | None) -> None:
        """Once the machine of ``which`` has handled its timeout (due at ``deadline``), journal where
        it is."""
        while True:
            fsm = self.pool.living.get(which)
            if fsm is None or fsm.closed or self.pool.journal is not self:
                return
            running = background(fsm)
            if running is None:
                break
            await asyncio.wait([running])
        if which in self.pool.held:  # changed by a firing still running: written when it ends
            self.owed[which] = None
            return
        if (
            deadline is not None and next_change(fsm) == deadline
        ):  # its timer has not fired yet (our clock ran a little ahead)
            self._watch(which, fsm)
            return
        rows: list[JSON] = []
        sets: dict[str, JSON] = {}
        if self._rows(which, rows, sets, 0):
            change = _change(rows, sets)
            if change is not None:
                self.record(change)
        # else: a firing is handing it a token: that firing's record writes it

    # -- the pool -----------------------------------------------------------------------------------

    @staticmethod
    def ready(pool: Any) -> bool:
        """True if no machine of ``pool`` is in a step, nor held by a firing still running (the
        journal's snapshot can write it down; a failure kept for a machine's next firing is left out
        of it, as of the records)."""
        return not pool.held and not any(busy(fsm) for fsm in pool.living.values())

    def close(self) -> None:
        """The pool closes (its runner stops): stop watching."""
        for _, handle in self.watches.values():
            handle.cancel()
        self.watches.clear()
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()


def _evicted(pool: Any) -> list[int]:
    return [pool.evicted_idle, pool.evicted_lru, pool.evicted_lru_active]


def _change(rows: list[JSON], sets: dict[str, JSON]) -> JSON:
    if not rows and not sets:
        return None
    change: dict[str, JSON] = {"rows": rows}
    if sets:
        change["set"] = sets
    return change
