"""``fsm=`` machines written down: a transition's pool in a runner snapshot, and rebuilt on restore.

Each ``fsm=`` transition teaches the runner's codecs its :class:`~.machine_pool.MachinePool` and
the :class:`~.routing.Rejection` tokens it puts in its ``rejected=`` place (through hypha's
``memory_codecs`` hook, once per runner; and a registry given to ``runner.snapshot()``).  The pool
is then written in the transition's ``ctx.memory`` like any value::

    {"$t": "mycelium.MachinePool", "v": {"transition": "Net.t", "header": {...},
        "machines": [[key, state], [key, state, {...}], ...], "seen": [[key, time], ...],
        "evicted": [idle, lru, lru_active]}}

Each machine is its own snapshot (:meth:`~mycorrhizal.septum.StateMachine.snapshot`, without the
blackboard, which is the net's), written compactly: the fields all machines share once in
``header``, then per machine its key, its state and only the fields that are not those of a
machine waiting with nothing else to remember (``[key, state]`` for most; never a statechart,
whose active states and timers are in its ``chart``).  Keys are encoded by
the same codecs.  Reading it back
rebuilds the pool in the restored runner at once: every machine in its state, with its stack,
retry count, queue and pending timer (for its original deadline on the runner's timebase), so its
timeouts fire even if no token comes; its order of use and idle times are kept for eviction.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError, ExecutionError, problem
from ..hypha import Runner
from ..septum import StateMachine, durable
from ..septum.durable import background, kick, resting, unseen
from .machine_journal import AT_REST, entry
from .machine_pool import MachinePool
from .routing import Rejection
from .spec import EmbeddedMachine

__all__ = ["NAME", "teacher"]

NAME = "mycelium.MachinePool"
"""The type name of a pool in documents."""


class _Where:
    """What a registry needs to rebuild pools: the runner being restored and each transition's spec.

    One per registry, kept alive by the codec functions registered in it; a registry shared by
    several runners rebuilds pools in the runner made last, which is the one
    :meth:`Runner.restore` reads the document into.  A registry only given to ``runner.snapshot()``
    has no runner until one is made with it.
    """

    __slots__ = ("codecs", "runner", "specs", "__weakref__")

    def __init__(self, codecs: CodecRegistry) -> None:
        self.codecs = codecs
        self.runner: Callable[[], Runner | None] = _nobody
        self.specs: dict[str, EmbeddedMachine] = {}


def _nobody() -> None:
    """The runner of a registry no runner was made with yet."""
    return None


_WHERE: weakref.WeakValueDictionary[int, _Where] = weakref.WeakValueDictionary()


def teacher(spec: EmbeddedMachine) -> Callable[[Runner, str, CodecRegistry], None]:
    """The ``memory_codecs`` hook of an ``fsm=`` transition with machines ``spec``."""

    def teach(runner: Runner, qname: str, codecs: CodecRegistry) -> None:
        where = _WHERE.get(id(codecs))
        if where is None or where.codecs is not codecs:
            where = _WHERE[id(codecs)] = _taught(codecs, codecs is runner.codecs)
        if codecs is not runner.codecs:
            return  # given to runner.snapshot(): it only writes pools down (see memory_codecs)
        if where.runner() is not runner:
            where.runner, where.specs = weakref.ref(runner), {}
        where.specs[qname] = spec

    return teach


def _taught(codecs: CodecRegistry, own: bool) -> _Where:
    """``codecs``, taught pools and Rejection tokens; ``own``: the codecs of the runner being made (else
    given to its snapshot())."""
    if MachinePool in codecs:
        given, fix = (
            ("this runner", "give each runner its own CodecRegistry")
            if own
            else ("snapshot()", "pass snapshot() a CodecRegistry that does not know MachinePool")
        )
        raise CodecError(
            f"{NAME}: the codecs given to {given} already know MachinePool from elsewhere. Fix: {fix}"
        )
    where = _Where(codecs)
    if Rejection not in codecs:  # what lands in a rejected= place
        codecs.register(Rejection, name="mycelium.Rejection")
    codecs.register(
        MachinePool,
        name=NAME,
        encode=lambda pool: document(pool, codecs),
        decode=lambda data: rebuilt(data, where, codecs),
    )
    return where


def document(pool: MachinePool, codecs: CodecRegistry) -> dict[str, Any]:
    """What a pool writes down (its keys and messages still to be encoded by ``codecs``)."""
    machines = []
    header = None
    left_out: set[Any] = set()
    first = pool.journal is not None and pool.journal.first
    for which, fsm in pool.living.items():
        if first and which in pool.held:  # ahead of this record, by a firing still running
            pool.journal.owed[which] = None  # type: ignore[union-attr]
            left_out.add(which)
            continue
        state = resting(fsm)
        if state is not None:  # most machines: [key, state], without a whole snapshot
            machines.append([which, state])
            continue
        # A journal writes where the machine is all the same (its records do not hold the failure)
        failure = None if first or pool.for_journal else unseen(fsm)
        if failure is not None:
            raise _unseen(which, failure) from failure
        try:
            saved = durable.write(fsm, codecs, None)  # the blackboard is the net's, and so is naming errors
        except ExecutionError as exc:
            if first:
                left_out.add(which)  # in a step of a firing still running: that firing's record writes it
                continue
            raise _unwritable(which, fsm, exc) from exc
        machines.append(entry(which, saved))
    if machines:
        header = durable.header(next(iter(pool.living.values())))
    elif pool.journal is not None:
        pool.journal.header = False  # written without one: the next machine's row brings it
    return {
        "transition": pool.transition,
        "header": header,
        "machines": machines,
        "seen": [[which, time] for which, time in pool.seen.items() if which not in left_out],
        "evicted": [pool.evicted_idle, pool.evicted_lru, pool.evicted_lru_active],
    }


def _unseen(which: Any, failure: Exception) -> CodecError:
    """The snapshot refused while the machine of ``which`` keeps ``failure`` for its next firing (the
    document cannot hold it: the restored machine would not raise it)."""
    return CodecError(
        f"the machine of key {which!r} failed handling its timeout on its own ({type(failure).__name__}: "
        f"{problem(failure)}), and no firing has received that error yet: a snapshot would lose it. Fix: "
        "hand the machine its next token first (that firing fails with the error); then take the snapshot"
    )


def _unwritable(which: Any, fsm: StateMachine, exc: ExecutionError) -> CodecError:
    """Why the machine of ``which`` cannot be written down now (``exc``: what septum said: it is in
    a step), and when to take the snapshot instead; the runner says of which transition's ctx.memory."""
    if background(fsm) is not None:  # its own run, handling a timeout that fired: no firing waits for it
        what = (
            "handling its timeout (its handler awaits), which it does on its own: run_until_idle() does not "
            "wait for it"
        )
        fix = "take the snapshot once that handler has returned, e.g. after the time it waits has passed"
    else:
        what = "handling a firing's token (its handler awaits)"
        fix = "take the snapshot when no firing is in flight, e.g. after await runner.run_until_idle()"
    return CodecError(f"the machine of key {which!r} is in the middle of a step, {what}. Fix: {fix}")


_CHANGED = "recover (or restore) with the net the run was written by, or give a changed net another run="
"""The fix for a written machine that does not fit the net (the document's own would say less)."""


_MALFORMED = "restore what runner.snapshot() wrote"
"""The fix for a pool whose document is not one a pool writes."""


def _refuse(message: str, fix: str = _MALFORMED) -> CodecError:
    # Raised inside the pool's decoder: the registry says "cannot decode a mycelium.MachinePool: "
    # before it, and the runner names the transition whose ctx.memory holds it.
    return CodecError(f"{message}. Fix: {fix}")


def rebuilt(data: Any, where: _Where, codecs: CodecRegistry) -> MachinePool:
    """The pool ``data`` describes, with its machines restored, in the runner being restored."""
    if type(data) is not dict or type(data.get("machines")) is not list or type(data.get("seen")) is not list:
        raise _refuse(f"malformed pool {str(data)[:80]!r}")
    runner = where.runner()
    if runner is None:
        raise _refuse(
            "no runner is being restored with this registry",
            "read the document back with Runner.restore(net, document, codecs=registry)",
        )
    qname = data.get("transition")
    spec = where.specs.get(qname) if isinstance(qname, str) else None
    if spec is None:
        raise _refuse(
            f"the net has no fsm= transition {qname!r} (fsm= transitions: {sorted(where.specs)})",
            "restore the snapshot with the net it was taken of",
        )
    pool = MachinePool.in_runner(spec, runner, str(qname))
    header = data.get("header")
    if data["machines"] and type(header) is not dict:
        raise _refuse(f"'header' is not an object: {str(header)[:80]!r}")
    evicted = data.get("evicted")
    if type(evicted) is not list or len(evicted) != 3 or not all(type(n) is int for n in evicted):
        raise _refuse(f"'evicted' is not three counts: {evicted!r}")
    options = {"common_data": runner.bb, "timebase": runner.timebase, **spec.options}
    try:
        fired = _restored(data["machines"], header, spec, codecs, options, pool)
    except BaseException:
        # Refused halfway: the machines restored so far must not time out later on the caller's
        # timebase and blackboard, for a runner it never gets.
        for fsm in pool.living.values():
            durable.discard(fsm)
        pool.living.clear()
        raise
    for fsm in fired:
        kick(fsm)  # a timeout that had fired is handled now, as the machine written down was about to
    pool.evicted_idle, pool.evicted_lru, pool.evicted_lru_active = evicted
    pool.resume([(which, time) for which, time in data["seen"]])
    if pool.observers:  # the restored runner is observed already: its machines forward from now
        pool.forwarding(True)
    return pool


def _restored(
    items: list[Any],
    header: Any,
    spec: EmbeddedMachine,
    codecs: CodecRegistry,
    options: Any,
    pool: MachinePool,
) -> list[StateMachine]:
    """Put the machines ``items`` describe into ``pool``; returns those with more than a state to
    go on from (a fired timeout among them is handled once every machine is back)."""
    living = pool.living
    at_rest: dict[Any, StateMachine] = {}  # by state: a machine at rest there, copied for the others
    others: list[StateMachine] = []
    for item in items:
        size = len(item) if type(item) is list else 0
        if size not in (2, 3) or size == 3 and type(item[2]) is not dict:
            raise _refuse(f"machine entry {str(item)[:80]!r} is not [key, state] or [key, state, {{...}}]")
        which = _key(item[0])
        if size == 2:
            model = at_rest.get(item[1]) if isinstance(item[1], str) else None
            if model is not None:
                living[which] = durable.twin(model)  # the same position, several times cheaper
                continue
            saved = {**header, **AT_REST, "state": item[1]}
        else:
            saved = {**header, **AT_REST, "state": item[1], **item[2]}
        fsm = StateMachine(spec.initial, **options)
        try:
            durable.resume(fsm, saved, codecs, False)  # its error is said of its transition and key below
            living[which] = fsm
        except CodecError as exc:
            error = exc.at(f"transition {pool.transition!r}, the machine of key {item[0]!r}", fix=_CHANGED)
            error.type_name = exc.type_name or NAME  # it names its place: the registry passes it on as it is
            raise error from exc
        if size == 2 and isinstance(item[1], str):
            at_rest[item[1]] = fsm
        else:
            others.append(fsm)
    return others


def _key(which: Any) -> Any:
    """``which``, a machine's key read back, if it can be one (a dict key)."""
    try:
        hash(which)
    except TypeError:
        raise _refuse(f"machine key {repr(which)[:80]} is unhashable, so it cannot name a machine") from None
    return which
