"""The observer that counts a runtime's events into the metric families.

Counters move with each event.  Latencies: a firing's and a tick's are wall time
(``time.perf_counter``) between the start record and the outcome record, which the observer sees
inline; a state's dwell time is the machine's timebase time between entering and leaving it.
Concurrent firings of one transition are matched to their starts by the tokens they consumed.

A machine's transition is counted once, at the first state it enters: a statechart's move tells a
``StateLeft`` for every state it leaves (the source, the states inside it, those around it up to the
transition's domain) and a ``StateEntered`` for every state it enters, each naming the source
(``previous``).  A failure routed to the error state is a transition too (from the failed state);
the states it abandons (told no ``StateLeft``) get their dwell time then.  A net's machine that
is let go (a :class:`~mycorrhizal.common.observers.Dropped` record: evicted, closed at stop or
with its removed transition) is forgotten, its current states untimed: a later machine of its key
starts with none of them.

A step whose handler was cancelled (``StepCancelled``) counts as ``cancelled``; a cancelled
``on_timeout`` is run again and told again (a second ``TimeoutFired``), which is not counted again:
the machine remembers each state it is owed for (a statechart's regions each have their own timed
state) until that re-run, or until the state is left (the timeout put back is then dropped, and the
state's next timeout is a new one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter

from ..common.frozen import evolve
from ..common.observers import Dropped, Forwarded
from ..hypha import NetSpec
from ..hypha import Runner as NetRunner
from ..hypha.events import (
    DeliveryFailed,
    FiringCancelled,
    FiringCommitted,
    FiringEvent,
    FiringFailed,
    FiringStarted,
    GuardFailed,
    NetChanged,
    SourceFailed,
)
from ..rhizomorph.events import (
    CleanupFailed,
    LeafFailed,
    NodeHalted,
    NodeStatusChanged,
    TickFinished,
    TickStarted,
    TimedOut,
)
from ..septum.events import (
    HandlerFailed,
    MachineEvent,
    MessageHandled,
    StateEntered,
    StateLeft,
    StateRetried,
    StepCancelled,
    TimeoutFired,
)
from .families import Families
from .pruning import elements

__all__ = ["MetricsObserver"]

Handler = Callable[["MetricsObserver", Any], None]
Gone = Callable[["MetricsObserver"], None]
"""Told an observer the runtime stopped calling (``Metrics`` forgets it)."""
Changed = Callable[[str, frozenset[str]], None]
"""Told the net's name and the names of the places and transitions a change removed from it."""
Tracked = Callable[["MetricsObserver", Any, Any], None]
"""A handler pairing records (entered/left, tick started/finished) by a tracking key it is given."""


def _short(qualified: str, source: str) -> str:
    prefix = source + "."
    return qualified[len(prefix) :] if qualified.startswith(prefix) else qualified


def _firing_key(event: FiringEvent) -> tuple[Any, ...]:
    return (event.transition, *(id(t) for tokens in event.consumed.values() for t in tokens))


class MetricsObserver:
    """Counts the events of one runtime (a plain observer; see :class:`~mycorrhizal.metrics.Metrics`)."""

    __slots__ = (
        "families",
        "runtime",
        "changed",
        "gone",
        "_children",
        "_net",
        "_firings",
        "_ticks",
        "_machines",
    )

    def __init__(
        self, families: Families, runtime: Any, changed: Changed | None = None, gone: Gone | None = None
    ) -> None:
        self.families = families
        self.runtime = runtime
        """The observed runtime."""
        self.changed = changed
        """Told what a change of the observed net removed (``Metrics`` lets go of its series)."""
        self.gone = gone
        """Told when the runtime stops calling this observer (``Metrics`` forgets it)."""
        # (family, label values) -> the labelled child, shared by the families' observers
        self._children = families.children
        # the observed net as the last change left it: what the next one removes is told from it
        self._net: NetSpec | None = runtime.net if isinstance(runtime, NetRunner) else None
        self._firings: dict[tuple[Any, ...], list[float]] = {}  # firing key -> start times
        # tree (or a net's tree transition) -> start of its tick in progress
        self._ticks: dict[Any, float] = {}
        # machine (or a net's machine, with its key) -> its active states and the move under way
        self._machines: dict[Any, _Machine] = {}

    def __call__(self, event: Any) -> None:
        """Count one event (what the runtime calls)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def on_detached(self) -> None:
        """The runtime stopped calling it (``remove_observer``, or detached because it raised):
        tell :attr:`gone`."""
        if self.gone is not None:
            self.gone(self)

    def wants(self, kind: type) -> bool:
        """Whether records of class ``kind`` count for something: the records told on request
        included (firing and tick starts time the firings and ticks; a state left ends its dwell
        and names the target of the transition under way)."""
        return kind in _HANDLERS

    def child(self, family: Any, *labels: str) -> Any:
        """``family.labels(*labels)``, looked up once."""
        key = (id(family), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = family.labels(*labels)
        return found

    def inc(self, family: Counter, *labels: str, amount: float = 1) -> None:
        """Add ``amount`` to a counter."""
        self.child(family, *labels).inc(amount)

    def forget(self, transitions: frozenset[str]) -> None:
        """Stop following the machines and tree ticks of ``transitions`` (removed from the net): they
        tell nothing more, not even that they went."""
        for tracked in (self._machines, self._ticks):
            for track in [track for track in tracked if type(track) is tuple and track[0] in transitions]:
                del tracked[track]


class _Machine:
    """What the observer follows of one machine (or of one key's machine in a net's transition)."""

    __slots__ = ("entered", "target", "routed", "owed")

    def __init__(self) -> None:
        self.entered: dict[str, float] = {}
        """Each active state (as far as the records told) -> the time it was entered."""
        self.target: str | None = None
        """The target of the move under way (states being left, none entered yet): counted as a
        transition at the first state it enters."""
        self.routed = False
        """Whether that move is a failure's route to the error state (no ``StateLeft``)."""
        self.owed: tuple[str, ...] = ()
        """The states whose ``on_timeout`` was cancelled: each timeout, put back, is told again
        (``TimeoutFired``) when it runs again, and was counted when it first ran.  Several at once in
        a statechart: another region's timeout may run (and be cancelled) before one is run again."""


# -- nets -------------------------------------------------------------------------------------------


def _started(obs: MetricsObserver, event: FiringStarted) -> None:
    obs._firings.setdefault(_firing_key(event), []).append(time.perf_counter())


def _outcome(obs: MetricsObserver, event: FiringEvent, outcome: str) -> None:
    fam, net = obs.families, event.source
    transition = _short(event.transition, net)
    obs.inc(fam.firings, net, transition, outcome)
    key = _firing_key(event)
    starts = obs._firings.get(key)
    if starts:
        obs.child(fam.firing_seconds, net, transition).observe(time.perf_counter() - starts.pop(0))
        if not starts:
            del obs._firings[key]


def _committed(obs: MetricsObserver, event: FiringCommitted) -> None:
    _outcome(obs, event, "committed")
    net = event.source
    for place, tokens in event.consumed.items():  # once: a failed or cancelled firing's go back
        obs.inc(obs.families.consumed, net, _short(place, net), amount=len(tokens))
    for place, tokens in event.produced.items():
        obs.inc(obs.families.produced, net, _short(place, net), amount=len(tokens))


def _failed(obs: MetricsObserver, event: FiringFailed) -> None:
    _outcome(obs, event, "failed")


def _cancelled(obs: MetricsObserver, event: FiringCancelled) -> None:
    _outcome(obs, event, "cancelled")


def _guard(obs: MetricsObserver, event: GuardFailed) -> None:
    obs.inc(obs.families.net_errors, event.source, _short(event.transition, event.source), "guard")


def _delivery(obs: MetricsObserver, event: DeliveryFailed) -> None:
    obs.inc(obs.families.net_errors, event.source, _short(event.place, event.source), "delivery")


def _source(obs: MetricsObserver, event: SourceFailed) -> None:
    obs.inc(obs.families.net_errors, event.source, _short(event.place, event.source), "source")


# -- trees ------------------------------------------------------------------------------------------


def _tick_started(obs: MetricsObserver, event: TickStarted, track: Any = None) -> None:
    obs._ticks[event.source if track is None else track] = time.perf_counter()


def _tick_finished(obs: MetricsObserver, event: TickFinished, track: Any = None) -> None:
    fam = obs.families
    obs.inc(fam.ticks, event.source, event.status.name)
    start = obs._ticks.pop(event.source if track is None else track, None)
    if start is not None:
        obs.child(fam.tick_seconds, event.source).observe(time.perf_counter() - start)


def _status(obs: MetricsObserver, event: NodeStatusChanged) -> None:
    obs.inc(obs.families.node_status, event.source, event.node, event.new.name)


def _node_event(kind: str) -> Handler:
    def count(obs: MetricsObserver, event: Any) -> None:
        obs.inc(obs.families.node_events, event.source, event.node, kind)

    return count


# -- machines ---------------------------------------------------------------------------------------


MACHINES_FOLLOWED = 100_000
"""How many machines one observer follows at most: past this the one followed longest is forgotten
(its current state's dwell is not observed; its counts are unaffected).  A net's machines that go
say so (``Dropped``) and are forgotten then; this bounds what an observer attached to a net after
some of them went, or to many standalone machines of distinct names, may hold."""


def _machine(obs: MetricsObserver, track: Any) -> _Machine:
    machines = obs._machines
    found = machines.get(track)
    if found is None:
        if len(machines) >= MACHINES_FOLLOWED:
            del machines[next(iter(machines))]
        found = machines[track] = _Machine()
    return found


def _entered(obs: MetricsObserver, event: StateEntered, track: Any = None) -> None:
    machine = _machine(obs, event.source if track is None else track)
    previous = event.previous
    if previous is not None and machine.target is not None:  # the first state a move enters
        fam, name = obs.families, event.source
        if machine.routed:  # a failure's route: every state still active was abandoned
            for state, since in machine.entered.items():
                obs.child(fam.state_seconds, name, state).observe(event.time - since)
            machine.entered.clear()
            machine.owed = ()  # the states are abandoned: their timeouts put back are dropped
        obs.inc(fam.transitions, name, previous, machine.target)
        machine.target = None
    machine.entered[event.state] = event.time


def _left(obs: MetricsObserver, event: StateLeft, track: Any = None) -> None:
    machine = _machine(obs, event.source if track is None else track)
    machine.target, machine.routed = event.target, False
    if event.state in machine.owed:  # its put-back timeout is dropped
        machine.owed = _without(machine.owed, event.state)
    since = machine.entered.pop(event.state, None)
    if since is not None:
        obs.child(obs.families.state_seconds, event.source, event.state).observe(event.time - since)


def _handler_failed(obs: MetricsObserver, event: HandlerFailed, track: Any = None) -> None:
    obs.inc(obs.families.machine_events, event.source, event.state, "failure")
    if event.routed_to is not None:  # to a state (its StateEntered follows) or by a label (StateLeft)
        machine = _machine(obs, event.source if track is None else track)
        machine.target, machine.routed = event.routed_to, True


def _handled(obs: MetricsObserver, event: MessageHandled) -> None:
    obs.inc(obs.families.messages, event.source, event.state)


def _timeout(obs: MetricsObserver, event: TimeoutFired, track: Any = None) -> None:
    """Count a timeout once: an ``on_timeout`` that was cancelled is told again when it runs again."""
    machine = obs._machines.get(event.source if track is None else track)
    if machine is not None and event.state in machine.owed:  # a cancelled on_timeout's re-run:
        machine.owed = _without(machine.owed, event.state)  # counted when it first ran
        return
    obs.inc(obs.families.machine_events, event.source, event.state, "timeout")


def _step_cancelled(obs: MetricsObserver, event: StepCancelled, track: Any = None) -> None:
    """A step's handler was cancelled (what it took is owed again): counted as ``cancelled``."""
    obs.inc(obs.families.machine_events, event.source, event.state, "cancelled")
    if event.role == "on_timeout":  # its timeout is put back: told again, not counted again
        machine = _machine(obs, event.source if track is None else track)
        if event.state not in machine.owed:
            machine.owed = (*machine.owed, event.state)


def _without(owed: tuple[str, ...], state: str) -> tuple[str, ...]:
    """``owed`` without ``state`` (a state's timeout is put back once at a time)."""
    return tuple(name for name in owed if name != state)


def _machine_event(kind: str) -> Handler:
    def count(obs: MetricsObserver, event: Any) -> None:
        obs.inc(obs.families.machine_events, event.source, event.state, kind)

    return count


# -- machines and trees living in a net's transitions (mycelium) -----------------------------------


def _forwarded(obs: MetricsObserver, event: Forwarded) -> None:
    """A record of a machine or tree in a net's transition, counted under the transition's name
    (every key's machine together, so a label set per key never grows without bound); entering and
    leaving are paired per machine key, a tick's start and end per transition: a tick is
    synchronous, so no other tick of its tree starts before it ends, and the start of one that
    raised (no ``TickFinished``) is replaced by the next one's instead of kept per tree run."""
    inner = event.event
    handler = _HANDLERS.get(type(inner))
    if handler is None:
        return
    label = _short(event.transition, event.source)
    renamed = evolve(inner, source=label)
    tracked = _TRACKED.get(type(inner))
    if tracked is None:
        handler(obs, renamed)
    elif isinstance(inner, MachineEvent):
        tracked(obs, renamed, (label, event.key))
    else:
        tracked(obs, renamed, (label, None))  # a tree's tick (the pair's None: apart from a tree's name)


def _dropped(obs: MetricsObserver, event: Dropped) -> None:
    """A net's machine is gone: forget its states (they were not left: no dwell is observed), so a
    later machine of its key is not paired with them."""
    obs._machines.pop((_short(event.transition, event.source), event.key), None)


def _net_changed(obs: MetricsObserver, event: NetChanged) -> None:
    """The net was changed while running: what it lost is no longer followed, and its series go."""
    before, obs._net = obs._net, event.net
    gone = frozenset() if before is None else elements(before) - elements(event.net)
    if gone:
        obs.forget(gone)
        if obs.changed is not None:
            obs.changed(event.source, gone)


_TRACKED: dict[type, Tracked] = {
    TickStarted: _tick_started,
    TickFinished: _tick_finished,
    StateEntered: _entered,
    StateLeft: _left,
    HandlerFailed: _handler_failed,
    TimeoutFired: _timeout,
    StepCancelled: _step_cancelled,
}

_HANDLERS: dict[type, Handler] = {
    FiringStarted: _started,
    FiringCommitted: _committed,
    FiringFailed: _failed,
    FiringCancelled: _cancelled,
    GuardFailed: _guard,
    DeliveryFailed: _delivery,
    SourceFailed: _source,
    TickStarted: _tick_started,
    TickFinished: _tick_finished,
    NodeStatusChanged: _status,
    NodeHalted: _node_event("halted"),
    LeafFailed: _node_event("failed"),
    TimedOut: _node_event("timed out"),
    CleanupFailed: _node_event("cleanup failed"),
    StateEntered: _entered,
    StateLeft: _left,
    MessageHandled: _handled,
    TimeoutFired: _timeout,
    StepCancelled: _step_cancelled,
    StateRetried: _machine_event("retry"),
    HandlerFailed: _handler_failed,
    Forwarded: _forwarded,
    Dropped: _dropped,
    NetChanged: _net_changed,
}
