"""The durable side of a runner with a ``store=``: opening its journal, recovering, periodic snapshots.

A runner given a store opens its run's journal when it starts, is recovered or is first flushed,
whichever comes first: opening fences any older writer of the run and writes a snapshot of where it
starts from (tokens added before included), and from then on its :class:`~.journal.Recorder`
appends a record for every committed step.  Before that, tokens added are only checked: one the
journal could not write down is refused as it arrives, as it is later.  Firings
then commit through the firing's general commit (the scheduler's inline one does not journal).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..common.codecs import CodecRegistry
from ..common.errors import (
    CodecError,
    DefinitionError,
    HandlerError,
    Problem,
    StoreBusyError,
    StoreClosedError,
    StoreError,
    fix_last,
)
from ..common.store import Journal, Store
from .ioplaces import IOPlaces
from .journal import Recorder, encode_arriving
from .replay import replay
from .reporting import Reporter, log
from .snapshot import JOURNALING, RECOVERING, Parts, discard_memory, read, token_order, write
from .spec import NetSpec
from .state import PlaceState

__all__ = ["Durable", "check_options"]


class Durable:
    """The store, run name and (once started) the recorder of one runner."""

    __slots__ = ("store", "run", "every", "_parts", "_io", "_report")

    def __init__(
        self, store: Store, run: str, every: int, parts: Parts, io: IOPlaces, report: Reporter
    ) -> None:
        self.store = store
        self.run = run
        self.every = every
        self._parts = parts
        self._io = io
        self._report = report

    @property
    def recorder(self) -> Recorder | None:
        """The recorder, once the journal is open."""
        return self._io.recorder

    async def open_fresh(self) -> None:
        """Start journaling a new run from the runner's current state (refusing a run that has one)."""
        try:
            found = await self.store.load(self.run)
        except StoreClosedError as exc:
            raise self.runner_facing(exc) from exc
        if found is not None and (found.snapshot is not None or found.records):
            raise StoreError(
                f"run {self.run!r} already has a journal in {self.store!r} (up to record {found.last_seq}). "
                f"Fix: continue it with Runner.recover(net, store, run={self.run!r}), or give this runner "
                "another run= name"
            )
        journal = await self.store.open_journal(self.run)
        self._attach(journal, token_order(self._parts), None, 1)

    async def recover(self) -> None:
        """Rebuild the run's last committed state into the (fresh) runner, then journal on from there."""
        try:
            journal = await self.store.open_journal(self.run)  # first: no older writer adds records now
        except StoreClosedError as exc:
            raise self.runner_facing(exc) from exc
        recovery = await self.store.load(self.run)
        if recovery is None or (recovery.snapshot is None and not recovery.records):
            log.info("net %s: run %r has nothing to recover; it starts fresh", self._parts.name, self.run)
            self._attach(journal, token_order(self._parts), None, 1)
            return
        if recovery.snapshot is None:
            raise StoreError(
                f"run {self.run!r} has journal records but no snapshot: it was not written by a hypha "
                "runner. Fix: recover it with what wrote it, or use another run= name"
            )
        if recovery.last_seq != journal.last_seq:
            raise StoreError(
                f"run {self.run!r} changed while it was being recovered (record {journal.last_seq} "
                "appeared). Fix: stop the other writer of the run, then recover again"
            )
        try:
            document = replay(recovery.snapshot.document, recovery.records)
        except StoreError as exc:  # (replay knows the documents only: the run is said here)
            raise StoreError(f"run {self.run!r}: {exc}") from exc
        order = read(self._parts, document, RECOVERING)
        try:
            ids: Any = document["ids"]
            known = [ids.get(p.qname, []) for p in self._parts.places]
            self._attach(journal, order, known, document["next_id"])
        except BaseException:
            discard_memory(self._parts.transitions)  # refused after all: nothing restored may run on
            raise
        log.info(
            "net %s: run %r recovered from snapshot %d and %d journal records",
            self._parts.name,
            self.run,
            recovery.snapshot.seq,
            len(recovery.records),
        )

    def _attach(self, journal: Journal, order: list[list[Any]], ids: Any, next_id: Any) -> None:
        if type(next_id) is not int:
            raise StoreError(
                f"run {self.run!r}: malformed next_id {next_id!r} in its snapshot. Fix: restore the store "
                "from a backup"
            )
        recorder = Recorder(
            journal,
            self._parts.codecs,
            self._parts.pass_as(JOURNALING),
            len(self._parts.places),
            self.every,
            self.request_snapshot,
            self.failed,
            self._now,
        )
        recorder.number(order, ids, next_id)
        self._io.recorder = recorder
        recorder.attach_memory(self._parts.transitions)
        self.write_snapshot(wait=False)  # where the journal starts (after a recovery: pruning old records)

    def _now(self) -> float:
        return self._parts.timebase.now()  # the runner's timebase may change while it is stopped

    def request_snapshot(self) -> None:
        """The recorder wants a snapshot: take it once the current step has finished."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # taken at the next start() (snapshot_requested stays set)
        loop.call_soon(self._snapshot_if_running)

    def _snapshot_if_running(self) -> None:
        # A runner stopped meanwhile has closed its fsm= machines: what it holds now is not the run's
        # state (recovery restores them), so the snapshot waits for the next start().
        if self._parts.ready.running:
            self.write_snapshot()

    def write_snapshot(self, *, wait: bool = True) -> None:
        """Write a snapshot (with token ids) of the runner as it is now to the journal; with ``wait``,
        not while an ``fsm=`` machine is in a step (a later record asks again)."""
        recorder = self._io.recorder
        if recorder is None or recorder.failure is not None:
            return
        if wait and not recorder.memory_ready(self._parts.transitions):
            recorder.snapshot_requested = False  # a machine is in a step: the next record asks again
            return
        order = token_order(self._parts)
        try:
            with recorder.writing_memory(self._parts.transitions):  # written as the records write it
                document = write(self._parts, order, pass_as=self._parts.pass_as(JOURNALING))
        except CodecError as exc:
            recorder.fail(StoreError(f"run {self.run!r}: cannot write a snapshot: {exc}"))
            return
        ids = recorder.ids_in_order(self._parts.ready, self._parts.places)
        document["ids"] = {p.qname: ids[p.index] for p in self._parts.places}  # type: ignore[misc]
        document["next_id"] = recorder.next_id
        recorder.snapshot(document, sum(map(len, order)))

    def runner_facing(self, error: StoreError) -> StoreError:
        """``error`` as a runner's user needs it: a closed store (or its journal, closed with it) is
        the runner's store, to be replaced, not a journal to open again."""
        if not isinstance(error, StoreClosedError):
            return error
        closed = StoreClosedError(
            f"run {self.run!r} cannot be journaled: its store {self.store!r} is closed. Fix: open a new "
            f"store (a closed one stays closed) and continue the run from it: Runner.recover(net, store, "
            f"run={self.run!r})"
        )
        closed.__cause__ = error
        return closed

    def _failure(self, error: StoreError, when: str = "", *, more: str = "") -> str:
        """What to say of the journal's ``error``: its own fix if it says one (a fenced run, a full
        disk...), else to recover the run once the store works again."""
        said = f"the journal of run {self.run!r} failed{' ' if when else ''}{when}: {error}"
        fix = f"recover the run with Runner.recover(net, store, run={self.run!r}) once the store works again"
        return fix_last(said, more, otherwise=fix)

    def failed(self, error: StoreError) -> None:
        """The journal failed: stop firing (what runs on is not durable) and tell whoever waits."""
        ready = self._parts.ready
        ready.running = False
        if isinstance(error, StoreClosedError):
            error = self.runner_facing(error)
            said = f"the runner stopped firing: {error}"
        else:
            said = self._failure(error, more="; the runner stopped firing")
        self._report.record(said, error, handled=False)
        ready.fail_waiters(error)

    def started(self) -> None:
        """The runner starts: refuse if the journal failed; take a snapshot still owed."""
        recorder = self._io.recorder
        if recorder is None:
            return
        if isinstance(recorder.failure, StoreClosedError):
            raise self.runner_facing(recorder.failure)
        if recorder.failure is not None:
            raise StoreError(self._failure(recorder.failure, "earlier"))
        if recorder.attach_memory(self._parts.transitions) or recorder.snapshot_requested:
            self.write_snapshot()  # (stopping closed the fsm= machines: the journal learns it here)

    def added(self, p: PlaceState, tokens: list[Any]) -> None:
        """Tokens added from outside: journaled, or, before the journal opens, checked that it can
        write them down (the snapshot it opens with holds them)."""
        recorder = self._io.recorder
        if recorder is not None:
            recorder.added(p, tokens)
        else:
            encode_arriving(self._parts.codecs, p, tokens, self._parts.pass_as(JOURNALING))

    async def flush(self) -> None:
        """Return once every record so far is durable (opening the journal first, if the runner has
        not started: what it holds is then durable too); raise the journal's failure, if any."""
        recorder = self._io.recorder
        if recorder is None:
            await self.open_fresh()
            recorder = self._io.recorder
            assert recorder is not None
        if recorder.failure is None:
            try:
                await recorder.journal.flush()
            except StoreBusyError:  # the store keeps the records and commits them later: nothing failed
                raise
            except StoreError as exc:  # a commit failed after its appends (fenced, disk full): stop too
                recorder.fail(exc)
        if isinstance(recorder.failure, StoreClosedError):
            raise self.runner_facing(recorder.failure)
        if recorder.failure is not None:
            raise StoreError(self._failure(recorder.failure))

    def key(self, transition: str, consumed: list[Any]) -> str:
        """The idempotency key of a firing in flight."""
        recorder = self._io.recorder
        if recorder is None:
            raise HandlerError(
                f"transition {transition!r} asked for ctx.idempotency_key before the runner's journal was "
                "open (it opens when the runner starts). Fix: read it in a firing of a started runner",
                transition=transition,
            )
        return recorder.key(self.run, transition, consumed)


def check_options(net: Any, codecs: Any, store: Any, run: Any, snapshot_every: Any) -> None:
    """Every problem with what a Runner was given, raised at once."""
    problems = []
    if not isinstance(net, NetSpec):
        problems.append(
            Problem(
                "Runner", f"{net!r} is not a net", "pass a net built with @pn.net or NetBuilder(...).build()"
            )
        )
    if codecs is not None and not isinstance(codecs, CodecRegistry):
        problems.append(
            Problem("Runner", f"codecs={codecs!r} is not a CodecRegistry", "pass CodecRegistry()")
        )
    if store is not None and not isinstance(store, Store):
        problems.append(
            Problem(
                "Runner",
                f"store={store!r} is not a store",
                "pass e.g. SQLiteStore('run.db') or MemoryStore()",
            )
        )
    if run is not None and (type(run) is not str or not run):
        problems.append(Problem("Runner", f"run={run!r} is not a non-empty str", "pass a name like 'orders'"))
    if type(snapshot_every) is not int or snapshot_every < 1:
        problems.append(
            Problem("Runner", f"snapshot_every={snapshot_every!r} is not a positive int", "pass e.g. 10_000")
        )
    DefinitionError.raise_if_any(problems, what="Runner(net)")
