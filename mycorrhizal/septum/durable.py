"""A machine's position written down and reproduced: snapshot documents, restores and copies.

``fsm.snapshot()`` writes where a machine is as a plain, versioned, JSON-compatible document;
``StateMachine.restore(initial_state, document)`` builds a machine that continues from there, and
``copy.copy(fsm)`` / ``copy.deepcopy(fsm)`` do the same in memory.  The document::

    {"engine": "septum", "version": 1, "machine": "Door", "state": "Door.Shut",
     "phase": "wait", "retry": 0, "unhandled": 0, "stack": ["Door.Open"],
     "queue": [[0, "open"], "timeout", [5, {"$t": "tuple", "v": [1, 2]}]],
     "timer": {"deadline": 17.5}, "blackboard": {"codec": 1, "value": {...}}}

States are written by qualified name (with the module when two states of the machine share
one).  ``queue`` lists the queued messages, encoded by a
:class:`~mycorrhizal.common.CodecRegistry`, as ``[priority, data]`` in the order each priority is
taken, with ``"timeout"`` where a fired timeout waits.  ``timer`` is the pending timeout's deadline
on the machine's timebase (``{"fired": true}`` once it fired and waits in the queue; None for no
timer).  ``blackboard`` (the machine's ``common``) is left out when the blackboard belongs to an
embedder that writes it down itself.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from ..common.codecs import JSON, CodecRegistry
from ..common.documents import check_header
from ..common.errors import CodecError, ExecutionError, problem
from . import chartdurable
from .chart import ChartClock, ChartEngine
from .clock import BACKGROUND, Clock
from .engine import Engine
from .mailbox import TIMEOUT, Mailbox
from .moves import DONE, ENTRY, NEW, TIMED_OUT, WAIT
from .plan import MachineSpec, Node

__all__ = [
    "FORMAT", "background", "busy", "check", "copy_machine", "discard", "header", "kick", "next_change",
    "raised_in_background", "read", "restart", "resting", "restore", "resume", "snapshot", "twin", "unseen",
    "write",
]  # fmt: skip

FORMAT = 1
"""Version of the snapshot document; a newer one is refused."""
ENGINE = "septum"
_PHASES = {NEW: "new", ENTRY: "entry", WAIT: "wait", DONE: "done", TIMED_OUT: "timed_out"}
_PHASE_OF = {name: phase for phase, name in _PHASES.items()}


def _keys(spec: MachineSpec) -> tuple[dict[Node, str], dict[str, Node]]:
    """Each node's key in documents, and the node of each key (kept on the compiled spec)."""
    keys = spec.keys
    if keys is None:
        nodes = list(spec.nodes.values())
        shared = {n.state.qualname for n in nodes}
        plain = len(shared) == len(nodes)
        by_node = {n: n.state.qualname if plain else f"{n.state.module}:{n.state.qualname}" for n in nodes}
        keys = spec.keys = (by_node, {key: node for node, key in by_node.items()})
    return keys


_refuse = chartdurable.refuse


_SNAPSHOT_PASS = (
    "fsm.snapshot(codecs=registry), and StateMachine.restore(..., codecs=registry) to read it back"
)
_RESTORE_PASS = "StateMachine.restore(..., codecs=registry), the registry the snapshot was taken with"


def _said(call: Callable[[Any], Any], where: str, pass_as: str | None) -> Callable[[Any], Any]:
    """``call`` (a registry's encode, decode...), its codec errors said of ``where`` with one fix
    (see :meth:`CodecError.at <mycorrhizal.common.errors.CodecError.at>`)."""

    def said(value: Any) -> Any:
        try:
            return call(value)
        except CodecError as exc:
            raise exc.at(where, pass_as=pass_as) from exc

    return said


# ------------------------------------------------------------------------------------------ writing
def snapshot(engine: Engine, codecs: CodecRegistry | None, blackboard: Any) -> dict[str, JSON]:
    """What ``fsm.snapshot()`` returns (see :func:`write`): what the codecs cannot encode is an error
    naming the machine, whose fix says to pass a registry when the caller passed no ``codecs``.

    Refused (an ExecutionError, the failure still kept) while a failure of the machine's background
    run waits for its next caller: the document cannot hold it, and the restored machine would not
    raise it.
    """
    failure = unseen(engine)
    if failure is not None:
        raise ExecutionError(
            f"machine {engine.spec.shown}: the run its timeout started in the background failed "
            f"({type(failure).__name__}: {problem(failure)}), and no run() or tick() has raised that error "
            "yet: a snapshot would lose it. Fix: run() or tick() the machine first, which raises that "
            "error; then take the snapshot",
            state=engine.node.name,
        ) from failure
    registry = codecs or CodecRegistry()
    pass_as = None if codecs is not None else _SNAPSHOT_PASS
    name = f"machine {engine.spec.shown}"
    document = _write(
        engine, _said(registry.encode, f"{name}: a queued message cannot be written down", pass_as)
    )
    if blackboard is not None:
        where = f"{name}: its blackboard cannot be written down"
        document["blackboard"] = _said(registry.document, where, pass_as)(blackboard)
    return document


def write(engine: Engine, codecs: CodecRegistry, blackboard: Any) -> dict[str, JSON]:
    """The snapshot document of ``engine``; ``blackboard`` is written unless it is :data:`None`.

    For an embedder: a codec error is the registry's, for it to say of its own element (its
    transition and key), which names the machine better than the machine's name would.  A failure of
    the machine's background run stays kept for its next caller, and is not in the document: a
    journal writes where the machine is all the same; a snapshot checks :func:`unseen` first.
    """
    document = _write(engine, codecs.encode)
    if blackboard is not None:
        document["blackboard"] = codecs.document(blackboard)
    return document


def _write(engine: Engine, encode: Callable[[Any], JSON]) -> dict[str, JSON]:
    """The snapshot document of ``engine`` without its blackboard; ``encode`` writes its messages."""
    spec = engine.spec
    if engine.running:
        raise ExecutionError(
            f"machine {spec.shown} is running a step. Fix: take its snapshot between steps (not from its "
            f"own handlers)",
            state=engine.node.name,
        )
    by_node = _keys(spec)[0]
    document: dict[str, JSON] = {
        "engine": ENGINE,
        "version": FORMAT,
        "machine": spec.name,
        "state": by_node[engine.node],
        "phase": _PHASES[engine.phase],
        "retry": engine.retry,
        "unhandled": engine.unhandled,
        "stack": [by_node[n] for n in engine.stack or ()],
        "queue": []
        if engine.mailbox is None or isinstance(engine, ChartEngine)
        else _queue(engine.mailbox, encode),
        "timer": _timer(engine.clock),
    }
    if isinstance(engine, ChartEngine):  # a statechart: its configuration, timers and history
        document["timer"] = None
        document["chart"] = chartdurable.write(engine, by_node)
        if engine.mailbox is not None:
            document["queue"] = chartdurable.queue(engine.mailbox, by_node, encode)  # type: ignore[arg-type]
    return document


def _queue(mailbox: Mailbox, encode: Callable[[Any], JSON]) -> list[JSON]:
    entries: list[JSON] = ["timeout" if m is TIMEOUT else [0, encode(m)] for m in mailbox.plain]
    for priority, bucket in sorted((mailbox.others or {}).items(), reverse=True):
        entries.extend([priority, encode(m)] for m in bucket)
    return entries


def _timer(clock: Clock | None) -> JSON:
    if clock is None:
        return None
    if clock.fired:
        return {"fired": True}
    return None if clock.handle is None else {"deadline": clock.deadline}


# ------------------------------------------------------------------------------------------ reading
def check(document: Any, spec: MachineSpec) -> dict[str, Any]:
    """``document`` if it is a snapshot of this machine in a format this version reads; else CodecError."""
    checked = check_header(
        document, engine=ENGINE, reads=FORMAT, what="state-machine snapshot", made_by="fsm.snapshot()"
    )
    if checked.get("machine") != spec.name:
        raise _refuse(
            f"it was taken of machine {checked.get('machine')!r}, not {spec.name!r}",
            "restore it with the initial state (or group) of the machine it was taken of",
        )
    return checked


def restore(engine: Engine, document: Any, codecs: CodecRegistry | None, own_blackboard: bool) -> None:
    """What ``StateMachine.restore()`` does (see :func:`resume`): what the codecs cannot decode is an
    error naming the machine, whose fix says to pass a registry when the caller passed no ``codecs``."""
    registry = codecs or CodecRegistry()
    pass_as = None if codecs is not None else _RESTORE_PASS
    name = f"machine {engine.spec.shown}"
    blackboard = _said(
        registry.from_document, f"{name}: the blackboard in the document cannot be read", pass_as
    )
    decode = _said(registry.decode, f"{name}: a queued message in the document cannot be read", pass_as)
    _resume(engine, document, blackboard if own_blackboard else None, decode)


def resume(engine: Engine, document: Any, codecs: CodecRegistry, own_blackboard: bool) -> None:
    """Put a new machine (its ``engine``: the machine itself) where ``document`` says; with
    ``own_blackboard`` its blackboard is the document's.  A codec error is the registry's, as in
    :func:`write`."""
    _resume(engine, document, codecs.from_document if own_blackboard else None, codecs.decode)


def _resume(
    engine: Engine, document: Any, blackboard: Callable[[Any], Any] | None, decode: Callable[[Any], Any]
) -> None:
    """:func:`resume`, the blackboard (if the machine's is the document's) read by ``blackboard``,
    the queued messages by ``decode``; a refused document leaves the machine discarded."""
    checked = check(document, engine.spec)
    if blackboard is not None and "blackboard" in checked:
        engine.common_data = blackboard(checked["blackboard"])
    try:
        read(engine, checked, decode)
    except BaseException:
        # A statechart arms its timers before it reads its queue: refused after that, they must not
        # fire later on the caller's timebase for a machine nobody got.
        discard(engine)
        raise
    if engine.clock is not None:
        engine.handler_context()  # its timer runs it in the background: the ctx knows the machine


def _node(spec: MachineSpec, key: Any) -> Node:
    node = _keys(spec)[1].get(key) if isinstance(key, str) else None
    if node is None:
        known = sorted(_keys(spec)[1])
        raise _refuse(f"machine {spec.shown} has no state {key!r} (its states: {known})", chartdurable.REFIT)
    return node


def _count(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if type(value) is not int or value < 0:
        raise _refuse(f"{key!r} must be a whole number >= 0, got {value!r}")
    return value


def read(engine: Engine, document: dict[str, Any], decode: Callable[[Any], Any]) -> None:
    """Put the position of ``document`` (already :func:`check`-ed) into a new ``engine``; ``decode``
    reads its queued messages.

    A pending timer is set again for its original deadline on the engine's timebase (at once if
    that has passed).
    """
    spec = engine.spec
    phase = _PHASE_OF.get(document.get("phase"))  # type: ignore[arg-type]  # checked just below
    if phase is None:
        raise _refuse(f"unknown phase {document.get('phase')!r}")
    stack = document.get("stack")
    if type(stack) is not list:
        raise _refuse(f"'stack' is not a list: {stack!r}")
    engine.node = _node(spec, document.get("state"))
    engine.phase = phase
    engine.retry = _count(document, "retry")
    engine.unhandled = _count(document, "unhandled")
    engine.stack = [_node(spec, key) for key in stack] or None
    if isinstance(engine, ChartEngine):
        chartdurable.read(engine, document, lambda key: _node(spec, key), decode)
        return
    _read_queue(engine, document.get("queue"), decode)
    _read_timer(engine, document.get("timer"))


def _read_queue(engine: Engine, queue: Any, decode: Callable[[Any], Any]) -> None:
    if type(queue) is not list:
        raise _refuse(f"'queue' is not a list: {str(queue)[:80]!r}")
    if not queue:
        return
    mailbox = engine.open_mailbox()
    for entry in queue:
        if entry == "timeout":
            mailbox.add_timeout()
        elif type(entry) is list and len(entry) == 2 and type(entry[0]) is int:
            mailbox.put(decode(entry[1]), entry[0])
        else:
            raise _refuse(f"queue entry {str(entry)[:80]!r} is neither [priority, message] nor 'timeout'")


def _read_timer(engine: Engine, timer: Any) -> None:
    if timer is None:
        return
    if type(timer) is not dict:
        raise _refuse(f"'timer' is not an object: {timer!r}")
    if engine.node.timeout is None:
        raise _refuse(
            f"state {engine.node.name} has no timeout, but the snapshot has a timer", chartdurable.REFIT
        )
    if timer.get("fired") is True:
        engine.clock = Clock(engine.timebase)
        engine.clock.fired = True
        return
    deadline = timer.get("deadline")
    if isinstance(deadline, bool) or not isinstance(deadline, int | float):
        raise _refuse(f"timer deadline {deadline!r} is not a number")
    clock = engine.clock = Clock(engine.timebase)
    clock.arm(max(0.0, deadline - engine.timebase.now()), engine.fire)


# ------------------------------------------------------------------------------------------ many machines
def header(machine: Any) -> dict[str, JSON]:
    """The fields every snapshot of ``machine``'s kind of machine starts with."""
    return {"engine": ENGINE, "version": FORMAT, "machine": machine.spec.name}


def resting(machine: Any) -> str | None:
    """The key of the state ``machine`` waits in, if that is all its snapshot would hold beyond
    :func:`header` (phase wait; no timer, stack, queue, retries or unhandled messages; no failure
    kept for its next caller; not a statechart), else None: what a pool of many machines writes for
    most of them, at a fraction of a snapshot's cost."""
    engine: Engine = machine
    if isinstance(engine, ChartEngine) or engine.phase != WAIT or engine.running:
        return None
    if engine.retry or engine.unhandled or engine.stack:
        return None
    mailbox, clock = engine.mailbox, engine.clock
    if mailbox is not None and (mailbox.plain or mailbox.others):
        return None
    if clock is not None and (clock.fired or clock.handle is not None or clock.failure is not None):
        return None
    return _keys(engine.spec)[0][engine.node]


def unseen(machine: Any) -> Exception | None:
    """What a timeout's background run of ``machine`` raised that no run()/tick() has raised yet (kept
    for its next caller, it is not taken); None if nothing, or once the machine is closed (no run()
    can raise it any more)."""
    engine: Engine = machine
    clock = engine.clock
    return None if clock is None or engine.closed else clock.failure


def raised_in_background(exc: BaseException) -> bool:
    """Whether ``exc``, which a machine's run() or tick() raised, is what a timeout's background run
    of that machine hit earlier (with nobody driving the machine) rather than the caller's own step:
    true even when the caller's run() was already waiting for its turn as it happened."""
    return getattr(exc, BACKGROUND, False) is True


def twin(machine: Any) -> Any:
    """A new machine where ``machine`` is, for one restored from a resting document (no timer, no
    mailbox: :func:`copy.copy` when it has either); several times cheaper than a restore."""
    if machine.clock is not None or machine.mailbox is not None or isinstance(machine, ChartEngine):
        return copy.copy(machine)
    made = machine.blank(machine.common_data)
    made.node, made.phase = machine.node, machine.phase
    return made


# ------------------------------------------------------------------------------------------ owners
def background(machine: Any) -> asyncio.Task[None] | None:
    """The run a fired timeout of ``machine`` (a StateMachine) started on its own, while it runs.

    An owner that writes the machine down after its timeouts (a journaled net) waits for it: the
    machine is between steps once it is done.
    """
    clock: Clock | None = machine.clock
    return None if clock is None else clock.task


def busy(machine: Any) -> bool:
    """True while a step of ``machine`` runs (it cannot be written down until it ends)."""
    return machine.running  # type: ignore[no-any-return]


def next_change(machine: Any) -> float | None:
    """When ``machine`` changes on its own next, on its timebase: its earliest pending timer's
    deadline (None if it has none: a timeout that fired is handled by its background run)."""
    clock: Clock | None = machine.clock
    if clock is None:
        return None
    if isinstance(clock, ChartClock):  # a statechart's: a timer per timed state
        return min(clock.deadlines.values()) if clock.deadlines else None
    return None if clock.handle is None else clock.deadline


def kick(machine: Any) -> None:
    """Handle a restored machine's fired timeout (queued in its snapshot) in the background now, as
    the machine that was written down was about to."""
    engine: Engine = machine
    if engine.clock is not None and engine.clock.fired and not engine.running:
        engine.run_in_background()


def discard(machine: Any) -> None:
    """Close a restored machine its owner throws away before using it (a restore refused halfway):
    its timers are cancelled, so none of its timeouts runs later."""
    engine: Engine = machine
    engine.closed = True
    restart(engine)


# ------------------------------------------------------------------------------------------ restarting
def restart(engine: Engine) -> None:
    """Put ``engine`` back where a new machine starts: timers cancelled, its stack, retry counts
    and queue emptied, not yet initialized."""
    if isinstance(engine, ChartEngine):
        for node in list(engine.active):
            engine.disarm_node(node)
        engine.clear_chart()
        engine.clock = None
    else:
        engine.disarm()
    engine.node, engine.phase, engine.retry, engine.stack = engine.spec.initial, NEW, 0, None
    engine.mailbox = None
    if engine.ctx is not None:
        engine.ctx.error = None


# ------------------------------------------------------------------------------------------ copying
def copy_machine(machine: Any, memo: dict[int, Any] | None) -> Any:
    """A new, idle machine at the same point as ``machine`` (its blackboard and messages deep-copied
    when ``memo`` is given); a pending timer starts again with the state's whole timeout."""
    if machine.closed:
        machine._refuse_closed("copies")
    if machine.running:
        raise ExecutionError(
            f"machine {machine.spec.shown} is running a step. Fix: copy it between steps",
            state=machine.node.name,
        )
    twin = machine.blank(None)
    if memo is not None:
        memo[id(machine)] = twin
    twin.common_data = machine.common if memo is None else copy.deepcopy(machine.common, memo)
    _copy_engine(machine, twin, memo)
    return twin


def _copy_engine(engine: Engine, new: Engine, memo: dict[int, Any] | None) -> None:
    new.node, new.phase, new.retry, new.unhandled = engine.node, engine.phase, engine.retry, engine.unhandled
    new.stack = None if engine.stack is None else list(engine.stack)
    new.mailbox = None if engine.mailbox is None else engine.mailbox.copy(memo)
    clock = engine.clock
    if clock is not None:
        new.handler_context()  # its timer runs it in the background: the ctx knows the machine
    if isinstance(new, ChartEngine):
        new.adopt(engine)  # type: ignore[arg-type]  # a ChartEngine's copy
    elif clock is not None and clock.handle is not None:
        new.arm(new.node)  # its own timer, started now
    elif clock is not None and clock.fired:
        new.clock = Clock(new.timebase)
        new.clock.fired = True  # its timeout is in the copied queue
