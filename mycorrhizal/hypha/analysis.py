"""Structural and state-space analysis of nets with networkx.

The analysis works on the *place/transition* abstraction of a net: a firing consumes the weight of
each input arc and produces the weight of each output arc; capacities and priorities are
respected; guards, handlers and token values are ignored (a handler that routes a token to one of
several outputs is analysed as if it produced into all of them).  IO input places are unlimited
supplies (their sources are outside the net) and IO output places absorb what reaches them (their
sinks drain them), unless ``initial`` gives them a count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..common.errors import AnalysisError
from ..common.numbers import is_count
from .compile import FlatNet, compile_net
from .places import PlaceKind
from .spec import NetSpec

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "NetAnalysis",
    "ReachabilityGraph",
    "Unreachable",
    "analyze",
    "net_graph",
    "reachability_graph",
    "unreachable",
]

Marking = tuple[int, ...]


def net_graph(net: NetSpec) -> nx.DiGraph:
    """The net as a bipartite directed graph on qualified names.

    Nodes carry ``kind`` (``"place"`` or ``"transition"``) and, for places, ``capacity``,
    ``initial`` (token count) and ``io``; edges carry ``weight`` and ``kind``: ``"arc"``, or
    ``"error"`` for the edge from a transition to its error place (weight 0: only failures use it).
    """
    import networkx as nx  # imported when analysing, so importing hypha stays fast

    flat = compile_net(net)
    graph = nx.DiGraph(name=net.name)
    for fp in flat.places:
        graph.add_node(
            fp.qname,
            kind="place",
            capacity=fp.spec.capacity,
            initial=len(fp.spec.initial),
            io=fp.spec.kind.value,
        )
    for ft in flat.transitions:
        graph.add_node(ft.qname, kind="transition", priority=ft.spec.priority)
        for pi, w in ft.inputs:
            graph.add_edge(flat.places[pi].qname, ft.qname, weight=w, kind="arc")
        for pi, w in ft.outputs:
            graph.add_edge(ft.qname, flat.places[pi].qname, weight=w, kind="arc")
        if ft.error_place is not None and not graph.has_edge(ft.qname, flat.places[ft.error_place].qname):
            graph.add_edge(ft.qname, flat.places[ft.error_place].qname, weight=0, kind="error")
    return graph


@attrs.frozen
class Unreachable:
    """Places that can never hold a token and transitions that can never fire, whatever the handlers do."""

    places: frozenset[str]
    transitions: frozenset[str]


def unreachable(net: NetSpec, entry_places: Iterable[str] = ()) -> Unreachable:
    """Structural check: which places can never be marked and which transitions never enabled.

    Tokens enter through initial tokens, IO input places and ``entry_places`` (names of places that
    ``runner.add_token`` feeds).  A transition can fire only once all its input places can be marked;
    then its output places, and its error place (a firing may fail), can be marked too, and so can
    the error place of a sink that can receive tokens.
    """
    flat = compile_net(net)
    marked = {fp.index for fp in flat.places if fp.spec.initial or fp.spec.kind is PlaceKind.IO_INPUT}
    for name in entry_places:
        index = flat.place_index(name)
        if index is None:
            raise _unknown_place(flat, f"entry place {name!r} is not")
        marked.add(index)
    fired: set[int] = set()
    changed = True
    while changed:
        changed = False
        for ft in flat.transitions:
            if ft.index not in fired and all(pi in marked for pi, _ in ft.inputs):
                fired.add(ft.index)
                changed = True
                marked.update(pi for pi, _ in ft.outputs)
                if ft.error_place is not None:
                    marked.add(ft.error_place)
        for fp in flat.places:
            if fp.error_place is not None and fp.index in marked and fp.error_place not in marked:
                marked.add(fp.error_place)
                changed = True
    return Unreachable(
        places=frozenset(fp.qname for fp in flat.places if fp.index not in marked),
        transitions=frozenset(ft.qname for ft in flat.transitions if ft.index not in fired),
    )


@attrs.frozen
class ReachabilityGraph:
    """Every marking reachable from the initial one, and the firings between them."""

    graph: nx.MultiDiGraph = attrs.field(eq=False, repr=False)
    """Nodes are markings (tuples of counts in ``places`` order); edges are keyed by transition name."""
    places: tuple[str, ...]
    initial: Marking

    def as_dict(self, marking: Marking) -> dict[str, int]:
        """A marking as ``{place: count}`` for the places that hold tokens."""
        return {p: n for p, n in zip(self.places, marking, strict=True) if n}

    @property
    def deadlocks(self) -> list[dict[str, int]]:
        """Reachable markings in which no transition is enabled."""
        return [self.as_dict(m) for m in self.graph.nodes if self.graph.out_degree(m) == 0]

    @property
    def deadlock_free(self) -> bool:
        """True when every reachable marking enables some transition."""
        return all(self.graph.out_degree(m) > 0 for m in self.graph.nodes)

    def dead_transitions(self, transitions: Iterable[str]) -> frozenset[str]:
        """Of ``transitions``, those that fire in no reachable marking."""
        fired = {key for _, _, key in self.graph.edges(keys=True)}
        return frozenset(t for t in transitions if t not in fired)

    @property
    def bounds(self) -> dict[str, int]:
        """The most tokens each place ever holds."""
        return {p: max(m[i] for m in self.graph.nodes) for i, p in enumerate(self.places)}

    def path_to(self, marking: Mapping[str, int]) -> list[str]:
        """Transitions that lead from the initial marking to ``marking`` (shortest such sequence)."""
        unknown = [name for name in marking if name not in self.places]
        if unknown:
            raise AnalysisError(
                f"path_to(): {unknown[0]!r} is not a place of net {self.graph.name!r}; places: "
                f"{list(self.places)}. Fix: name places by qualified name, as the markings do"
            )
        wrong = next(((name, n) for name, n in marking.items() if not is_count(n, least=0)), None)
        if wrong is not None:
            raise AnalysisError(
                f"path_to(): marking gives place {wrong[0]!r} {wrong[1]!r} tokens, which is not an int "
                ">= 0. Fix: give each place it names a whole number of tokens"
            )
        target = tuple(marking.get(p, 0) for p in self.places)
        if target not in self.graph:
            raise AnalysisError(
                f"marking {dict(marking)} is not reachable in net {self.graph.name!r}. Fix: ask for one of "
                "the markings in .graph (the places not named hold no token)"
            )
        import networkx as nx

        nodes = nx.shortest_path(self.graph, self.initial, target)
        return [next(iter(self.graph.get_edge_data(a, b))) for a, b in zip(nodes, nodes[1:], strict=False)]


def reachability_graph(
    net: NetSpec,
    initial: Mapping[str, int] | None = None,
    *,
    sources: Iterable[str] = (),
    max_states: int = 100_000,
) -> ReachabilityGraph:
    """Explore every reachable marking (breadth first).

    ``initial`` overrides the initial token counts (place name -> an int >= 0 within the place's
    capacity, each place named once; anything else is an :class:`AnalysisError`).  IO input places, and the
    places named in ``sources``, are unlimited supplies (never empty, never counted) unless
    ``initial`` gives them a count.  Raises :class:`AnalysisError` if the net is unbounded (a
    reachable marking strictly covers one of its ancestors, so tokens can pile up forever) or has
    more than ``max_states`` markings (an int >= 1; ``ValueError`` otherwise).
    """
    flat = compile_net(net)
    if not is_count(max_states):
        raise ValueError(
            f"net {flat.name!r}: max_states={max_states!r} is not an int >= 1 (the most markings to "
            "explore). Fix: pass e.g. max_states=100_000"
        )
    root, unlimited = _start(flat, initial, sources)
    absorbing = {fp.index for fp in flat.places if fp.spec.kind is PlaceKind.IO_OUTPUT}
    graph = _Explorer(flat, _moves(flat, absorbing, unlimited), max_states).explore(root)
    return ReachabilityGraph(graph, tuple(fp.qname for fp in flat.places), root)


def _start(
    flat: FlatNet, initial: Mapping[str, int] | None, sources: Iterable[str]
) -> tuple[Marking, set[int]]:
    """The initial marking, and the places that are unlimited supplies."""
    start = [len(fp.spec.initial) for fp in flat.places]
    unlimited = {fp.index for fp in flat.places if fp.spec.kind is PlaceKind.IO_INPUT}
    for name in sources:
        index = flat.place_index(name)
        if index is None:
            raise _unknown_place(flat, f"source {name!r} is not")
        unlimited.add(index)
    named: dict[int, str] = {}
    for name, count in (initial or {}).items():
        index = flat.place_index(name)
        if index is None:
            raise _unknown_place(flat, f"initial marking names {name!r}, which is not")
        if index in named:
            # Two names of one place (short and qualified) would otherwise let the last count win.
            raise AnalysisError(
                f"initial marking names place {flat.places[index].qname!r} twice, as {named[index]!r} "
                f"and {name!r}. Fix: give each place one count, under one name"
            )
        named[index] = name
        start[index] = _initial_count(flat, index, count)
        unlimited.discard(index)
    return tuple(start), unlimited


def _initial_count(flat: FlatNet, index: int, count: Any) -> int:
    """``count``, given as the initial tokens of place ``index``, if that place can hold that many."""
    fp = flat.places[index]
    if not is_count(count, least=0):
        raise AnalysisError(
            f"initial marking gives place {fp.qname!r} {count!r} tokens, which is not an int >= 0. Fix: "
            f"give it a whole number of tokens, e.g. {{{fp.qname!r}: 1}}"
        )
    capacity = fp.spec.capacity
    if capacity is not None and count > capacity:
        raise AnalysisError(
            f"initial marking gives place {fp.qname!r} {count} tokens, more than its capacity "
            f"{capacity}. Fix: give it at most {capacity}, or raise its capacity"
        )
    return int(count)


def _unknown_place(flat: FlatNet, what: str) -> AnalysisError:
    """The error for a name given to the analysis that names no place of the net."""
    places = [fp.qname for fp in flat.places]
    return AnalysisError(
        f"{what} a place of net {flat.name!r}; places: {places}. Fix: name one of those places"
    )


_Move = tuple[str, int, list[tuple[int, int]], list[tuple[int, int]]]
"""(transition, priority, tokens needed per place, change per place)."""


class _Explorer:
    """Breadth-first search of the markings a net can reach."""

    def __init__(self, flat: FlatNet, moves: list[_Move], max_states: int) -> None:
        self.flat = flat
        self.moves = moves
        self.max_states = max_states
        self.caps = [fp.spec.capacity for fp in flat.places]
        # If a marking covers one of its ancestors, the firings between them can repeat forever, so
        # the net is unbounded, provided adding tokens never disables a transition: without
        # priorities, and with the bounded places holding exactly as many tokens in both markings
        # (capacity is the only thing extra tokens can block).  Otherwise we rely on max_states.
        self.monotonic = len({prio for _, prio, _, _ in moves}) <= 1
        self.bounded = [i for i, c in enumerate(self.caps) if c is not None]

    def explore(self, root: Marking) -> nx.MultiDiGraph:
        import networkx as nx  # imported when analysing, so importing hypha stays fast

        graph = nx.MultiDiGraph(name=self.flat.name)
        graph.add_node(root)
        parent: dict[Marking, Marking | None] = {root: None}
        todo: deque[Marking] = deque([root])
        while todo:
            m = todo.popleft()
            for name, new in self.successors(m):
                graph.add_edge(m, new, key=name)
                if new in parent:
                    continue
                if self.monotonic:
                    _check_bounded(new, m, parent, self.flat, self.bounded)
                parent[new] = m
                if len(parent) > self.max_states:
                    raise AnalysisError(
                        f"net {self.flat.name!r} has more than {self.max_states} reachable markings. Fix: "
                        "raise max_states, or bound the places (capacity) to analyse it"
                    )
                todo.append(new)
        return graph

    def successors(self, m: Marking) -> list[tuple[str, Marking]]:
        """(transition, next marking) for every transition of the highest enabled priority."""
        enabled = [
            (name, prio, delta) for name, prio, need, delta in self.moves if self.fires(m, need, delta)
        ]
        if not enabled:
            return []
        top = max(prio for _, prio, _ in enabled)
        out = []
        for name, prio, delta in enabled:
            if prio == top:
                nxt = list(m)
                for i, d in delta:
                    nxt[i] += d
                out.append((name, tuple(nxt)))
        return out

    def fires(self, m: Marking, need: list[tuple[int, int]], delta: list[tuple[int, int]]) -> bool:
        """Whether a move is enabled in ``m``: enough tokens, and room in bounded places."""
        caps = self.caps
        return all(m[i] >= w for i, w in need) and all(
            caps[i] is None or m[i] + d <= caps[i]  # type: ignore[operator]
            for i, d in delta
            if d > 0
        )


def _moves(flat: FlatNet, absorbing: set[int], unlimited: set[int]) -> list[_Move]:
    moves = []
    for ft in flat.transitions:
        need: dict[int, int] = {}
        delta: dict[int, int] = {}
        for pi, w in ft.inputs:
            if pi in unlimited:
                continue  # an unlimited supply is never short and never counted
            need[pi] = need.get(pi, 0) + w
            delta[pi] = delta.get(pi, 0) - w
        for pi, w in ft.outputs:
            if pi not in absorbing and pi not in unlimited:  # a supply is never counted, fed back or not
                delta[pi] = delta.get(pi, 0) + w
        moves.append((ft.qname, ft.spec.priority, sorted(need.items()), sorted(delta.items())))
    return moves


def _check_bounded(
    new: Marking, via: Marking, parent: dict[Marking, Marking | None], flat: FlatNet, bounded: list[int]
) -> None:
    ancestor: Marking | None = via
    while ancestor is not None:
        if (
            ancestor != new
            and all(a <= b for a, b in zip(ancestor, new, strict=True))
            and all(ancestor[i] == new[i] for i in bounded)
        ):
            grow = [flat.places[i].qname for i, (a, b) in enumerate(zip(ancestor, new, strict=True)) if b > a]
            raise AnalysisError(
                f"net {flat.name!r} is unbounded: tokens can pile up without limit in {grow}. Fix: give "
                "those places a capacity to analyse its reachable markings"
            )
        ancestor = parent[ancestor]


@attrs.frozen
class NetAnalysis:
    """Everything :func:`analyze` found."""

    graph: nx.DiGraph = attrs.field(eq=False, repr=False)
    unreachable: Unreachable
    reachability: ReachabilityGraph | None
    """None when the net is unbounded (see ``unbounded``)."""
    unbounded: str | None
    """Why the reachability graph could not be built, or None."""
    deadlocks: list[dict[str, int]]
    dead_transitions: frozenset[str]


def analyze(net: NetSpec, *, entry_places: Iterable[str] = (), max_states: int = 100_000) -> NetAnalysis:
    """The graph, structurally unreachable parts and, for bounded nets, reachability, deadlocks and
    dead transitions; ``entry_places`` (fed by ``add_token``) count as unlimited supplies."""
    flat = compile_net(net)
    names = [ft.qname for ft in flat.transitions]
    entries = list(entry_places)
    try:
        reach: ReachabilityGraph | None = reachability_graph(net, sources=entries, max_states=max_states)
        why = None
    except AnalysisError as exc:
        reach, why = None, str(exc)
    return NetAnalysis(
        graph=net_graph(net),
        unreachable=unreachable(net, entries),
        reachability=reach,
        unbounded=why,
        deadlocks=[] if reach is None else reach.deadlocks,
        dead_transitions=frozenset() if reach is None else reach.dead_transitions(names),
    )
