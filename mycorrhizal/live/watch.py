"""What the live view watches: one adapter per kind of runtime, all answering the same questions.

A :class:`Watched` knows the runtime's picture (a :class:`~mycorrhizal.common.Diagram` drawn from
its spec; a net changed while running, told by ``NetChanged``, is read again), attaches the view's
observer to the runtime (every runtime has ``add_observer``), and reads a *snapshot*: plain
JSON-ready data saying, in terms of the picture's node ids, how many tokens sit in each place, which
state each machine is in, which transitions are firing and which tree nodes are running, succeeded
or failed. Snapshots are read from the runtime itself, not rebuilt from events, so a view that
skipped events (a slow browser) is still exactly right.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..common.diagram import Cluster, Diagram
from ..common.observers import Dropped, Forwarded
from ..common.timebase import Timebase
from ..hypha import Runner as NetRunner
from ..hypha.events import (
    FiringCancelled,
    FiringCommitted,
    FiringEvent,
    FiringFailed,
    FiringStarted,
    NetChanged,
)
from ..mycelium import machines
from ..render import diagram_of
from ..rhizomorph import Runner as TreeRunner
from ..septum import StateMachine
from ..septum.events import MachineEvent, StateEntered, StateLeft

__all__ = ["MachineWatch", "NetWatch", "TreeWatch", "Watched", "watch"]

Snapshot = dict[str, Any]
Sink = Callable[[Any], None]


class Watched(ABC):
    """One runtime seen by the live view: its picture, its observers, and snapshots of its state."""

    kind: str = ""
    """``"net"``, ``"machine"`` or ``"tree"``."""

    def __init__(self, target: Any, diagram: Diagram, timebase: Timebase) -> None:
        self.target = target
        self.diagram = diagram
        self.timebase = timebase
        self.node_ids = {node.id for node in diagram.all_nodes()}
        self.picture = 0
        """The picture's revision: one more each time it is drawn again (a net changed while running)."""
        self._sink: Sink | None = None

    @property
    def name(self) -> str:
        """The picture's name (the net's, machine's or tree's)."""
        return self.diagram.name

    def attach(self, sink: Sink) -> None:
        """Start calling ``sink(event)`` with every event the runtime emits."""
        self.target.add_observer(sink)
        self._sink = sink

    def detach(self) -> None:
        """Stop calling the sink given to :meth:`attach`."""
        if self._sink is not None:
            self.target.remove_observer(self._sink)
            self._sink = None

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The runtime's state now, keyed by the picture's node ids."""

    def note(self, event: Any) -> list[str] | None:
        """Learn from ``event`` what a snapshot cannot read from the runtime (called for every event,
        as it happens); the picture's nodes it is about when only this moment tells them, else None."""
        return None

    def nodes_of(self, event: Any) -> list[str]:
        """The picture's node ids ``event`` is about (for the page to point at them)."""
        found = []
        for field in ("transition", "place", "node", "state"):
            value = getattr(event, field, None)
            if isinstance(value, str) and value in self.node_ids:
                found.append(value)
        return found

    def _base(self) -> Snapshot:
        return {
            "name": self.name,
            "kind": self.kind,
            "picture": self.picture,
            "time": self.timebase.now(),
            "places": {},
            "busy": {},
            "outcomes": {},
            "machines": [],
            "statuses": {},
        }


def _states_by_qualname(nodes: Iterable[Any], prefix: str = "") -> dict[str, str]:
    """Picture node id of each state, found by its tooltip (septum draws a state's qualname there)."""
    return {node.tooltip: node.id for node in nodes if node.tooltip and node.id.startswith(prefix)}


class _SharedNames:
    """Tells apart the states of one short name (in two regions of a statechart, or nested) that a
    machine's records name alike: by what the machine's configuration gained or lost as it emitted."""

    __slots__ = ("_ids", "_shared", "_before")

    def __init__(self, ids: Mapping[str, str]) -> None:
        by_name: dict[str, list[str]] = {}
        for qualname in ids:
            by_name.setdefault(qualname.rpartition(".")[2], []).append(qualname)
        self._ids = ids
        self._shared = {name: found for name, found in by_name.items() if len(found) > 1}
        self._before: dict[Any, frozenset[str]] = {}  # each machine's configuration at its last record

    def __bool__(self) -> bool:
        return bool(self._shared)

    def forget(self, key: Any) -> None:
        """The machine of ``key`` is gone (a later one of that key starts afresh)."""
        self._before.pop(key, None)

    def nodes(self, event: Any, machine: StateMachine | None, key: Any = None) -> list[str] | None:
        """The node of the state ``event`` names, when its name is shared (else None): [] when even the
        moment does not tell which one (both are active and handle a message, say)."""
        if machine is None or not isinstance(event, MachineEvent):
            return None
        now = frozenset(state.qualname for state in machine.configuration)
        before = self._before.get(key, frozenset())
        self._before[key] = now
        shared = self._shared.get(event.state)
        if shared is None:
            return None
        if isinstance(event, StateEntered):
            pool = now - before
        elif isinstance(event, StateLeft):
            pool = before - now
        else:
            pool = now
        found = [qualname for qualname in shared if qualname in pool]
        return [self._ids[found[0]]] if len(found) == 1 else []


def _machine_entry(name: str, living: Mapping[Any, StateMachine], ids: Mapping[str, str]) -> dict[str, Any]:
    keys = []
    for key, fsm in living.items():
        state = fsm.current_state
        # A statechart is in several states at once: the compound and parallel states around it and,
        # with parallel states, one leaf per region; its current_state alone is only one of them.
        active = fsm.configuration
        names = {s.qualname for s in active}
        leaves = [s for s in active if not any(other.startswith(s.qualname + ".") for other in names)]
        keys.append(
            {
                "key": "" if key is None else str(key),
                "state": ", ".join(s.name for s in leaves),
                "node": ids.get(state.qualname),
                "nodes": [ids[s.qualname] for s in active if s.qualname in ids],
                "complete": fsm.is_complete,
            }
        )
    return {"name": name, "keys": keys}


class NetWatch(Watched):
    """A hypha (or mycelium) net's runner, with the state machines living in its ``fsm=`` transitions."""

    kind = "net"

    def __init__(self, runner: NetRunner) -> None:
        super().__init__(runner, diagram_of(runner.net), runner.timebase)
        self.runner = runner
        self._busy: dict[str, int] = {}
        self._outcomes: dict[str, str] = {}
        self._statuses: dict[str, str] = {}  # picture id of a bt= tree's node -> its last status
        self._embedded: dict[str, dict[str, str]] = {}
        self._shared: dict[str, _SharedNames] = {}  # transition -> its machine's states of shared names
        self._read_net()

    def _read_net(self) -> None:
        """Learn the picture and the transitions with machines or trees inside from the runner's net."""
        transitions = set(self.runner.fired())
        # A transition with an embedded picture is drawn as the cluster "<transition>.root".
        self._embedded = {}
        for cluster in _clusters(self.diagram.clusters):
            owner = cluster.id.removesuffix(".root")
            if cluster.id.endswith(".root") and owner in transitions:
                self._embedded[owner] = _states_by_qualname(cluster.all_nodes(), f"{owner}.")
        shared = {owner: _SharedNames(ids) for owner, ids in self._embedded.items()}
        self._shared = {owner: names for owner, names in shared.items() if names}
        # What is known of a transition removed since is of nothing on the picture any more.
        for known in (self._busy, self._outcomes):
            for name in [name for name in known if name not in transitions]:
                del known[name]
        self._statuses = {node: status for node, status in self._statuses.items() if node in self.node_ids}

    def _changed(self) -> None:
        """The running net was changed: its picture and its transitions are the changed net's now."""
        self.diagram = diagram_of(self.runner.net)
        self.node_ids = {node.id for node in self.diagram.all_nodes()}
        self.picture += 1
        self._read_net()

    def note(self, event: Any) -> list[str] | None:
        if isinstance(event, NetChanged):
            self._changed()
            return None
        if isinstance(event, Forwarded):
            return self._note_forwarded(event)
        if isinstance(event, Dropped) and event.transition in self._shared:
            self._shared[event.transition].forget(event.key)
        if not isinstance(event, FiringEvent):
            return None
        name = event.transition
        if isinstance(event, FiringStarted):
            self._busy[name] = self._busy.get(name, 0) + 1
            return None
        if name in self._busy:
            self._busy[name] -= 1
            if not self._busy[name]:
                del self._busy[name]
        if isinstance(event, FiringCommitted):
            self._outcomes[name] = "committed"
        elif isinstance(event, FiringFailed):
            self._outcomes[name] = "failed"
        elif isinstance(event, FiringCancelled):
            self._outcomes[name] = "cancelled"
        return None

    def _note_forwarded(self, forwarded: Forwarded) -> list[str] | None:
        """The last status of each node of a ``bt=`` tree (the latest run's, when runs overlap); the
        node of an embedded machine's state whose short name another of its states shares."""
        inner = forwarded.event
        shared = self._shared.get(forwarded.transition)
        if shared is not None:
            runtime = forwarded.runtime
            return shared.nodes(inner, runtime if isinstance(runtime, StateMachine) else None, forwarded.key)
        new = getattr(inner, "new", None)
        node = getattr(inner, "node", None)
        if new is not None and isinstance(node, str):
            self._statuses[f"{forwarded.transition}.{node}"] = new.name
        return None

    def snapshot(self) -> Snapshot:
        snap = self._base()
        snap["statuses"] = dict(self._statuses)
        snap["places"] = self.runner.marking().counts()
        snap["busy"] = dict(self._busy)
        snap["outcomes"] = dict(self._outcomes)
        snap["machines"] = [
            _machine_entry(transition, machines(self.runner, transition), ids)
            for transition, ids in self._embedded.items()
            if ids  # a tree's cluster has no states
        ]
        return snap

    def state_node(self, transition: str, state: Any) -> str | None:
        """The picture's node of state ``state`` (its name) of the machine in ``transition``."""
        for qualname, node in self._embedded.get(transition, {}).items():
            if isinstance(state, str) and (qualname == state or qualname.endswith("." + state)):
                return node
        return None

    def embedded_nodes(self, transition: str, event: Any) -> list[str]:
        """The picture's nodes a record of the machine or tree living in ``transition`` is about."""
        node = getattr(event, "node", None)
        if isinstance(node, str):
            found = f"{transition}.{node}"
            return [found] if found in self.node_ids else []
        state = self.state_node(transition, getattr(event, "state", None))
        return [] if state is None else [state]


def _clusters(clusters: Iterable[Cluster]) -> Iterable[Cluster]:
    for cluster in clusters:
        yield cluster
        yield from _clusters(cluster.clusters)


class MachineWatch(Watched):
    """A septum state machine."""

    kind = "machine"

    def __init__(self, machine: StateMachine) -> None:
        spec = machine.spec
        error = spec.error.state if spec.error is not None else None
        super().__init__(machine, spec.root.to_diagram(error), machine.timebase)
        self.machine = machine
        self._ids = _states_by_qualname(self.diagram.all_nodes())
        # Machine events name their state by its short name: a name two states share (in two regions,
        # or nested) is told apart as the record is emitted, by the machine's configuration then.
        self._by_name = {s.name: self._ids[s.qualname] for s in spec.nodes if s.qualname in self._ids}
        self._shared = _SharedNames(self._ids)

    def note(self, event: Any) -> list[str] | None:
        return self._shared.nodes(event, self.machine) if self._shared else None

    def nodes_of(self, event: Any) -> list[str]:
        node = self._by_name.get(getattr(event, "state", None))  # type: ignore[arg-type]
        return [] if node is None else [node]

    def snapshot(self) -> Snapshot:
        snap = self._base()
        snap["machines"] = [_machine_entry(self.name, {None: self.machine}, self._ids)]
        return snap


class TreeWatch(Watched):
    """A rhizomorph tree's runner: every node's last status."""

    kind = "tree"

    def __init__(self, runner: TreeRunner) -> None:
        super().__init__(runner, diagram_of(runner.tree), runner.timebase)
        self.runner = runner

    def snapshot(self) -> Snapshot:
        snap = self._base()
        snap["statuses"] = {
            node: status.name for node, status in self.runner.statuses().items() if status is not None
        }
        snap["ticks"] = self.runner.ticks
        return snap


def watch(target: Any) -> Watched:
    """The adapter for ``target``: a hypha/mycelium runner, a septum machine or a rhizomorph runner."""
    if isinstance(target, Watched):
        return target
    if isinstance(target, NetRunner):
        return NetWatch(target)
    if isinstance(target, StateMachine):
        return MachineWatch(target)
    if isinstance(target, TreeRunner):
        return TreeWatch(target)
    shown = repr(target)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise TypeError(
        f"the live view watches running things, not {shown} (of type {type(target).__name__}). Fix: pass a "
        "hypha/mycelium Runner (PNRunner), a septum StateMachine or a rhizomorph Runner"
    )
