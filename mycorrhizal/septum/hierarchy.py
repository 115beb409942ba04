"""The compiled plan of a statechart: states in a tree, and which states a transition leaves and enters.

A machine with compound or parallel states compiles to a :class:`ChartSpec` of :class:`ChartNode`
(a :class:`~.plan.Node` that knows its parent, children and place in document order).  The
functions here are SCXML's algorithm, on a *configuration* (the set of active states):

- a transition's **domain** is the innermost compound state that is a proper ancestor of its source
  and contains its target (None: the whole machine).  Every transition is *external*: a
  transition from a state to itself, or from a compound state to one of its children, leaves and
  re-enters that state;
- it **exits** every active state inside its domain, innermost first (reverse document order);
- it **enters** the target, the states between the domain and the target (outermost first), and
  what entering them brings: a compound state's initial child, every region of a parallel state,
  the states a history target remembers (document order).

Document order is the order states are declared in, a parent before its children: the order in
which SCXML enters states, and the reverse of the order in which it exits them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .compound import CompositeState, parent_of
from .history import DEEP_HISTORY, HISTORY, HistoryOp
from .mailbox import Marker
from .plan import MachineSpec, Node, Op
from .states import State, StateGroup
from .targets import GOTO

__all__ = [
    "ChartNode",
    "ChartSpec",
    "TimerMarker",
    "chart_spec",
    "domain",
    "entry_set",
    "exit_set",
    "in_final",
    "targets",
]

Handler = Any


class TimerMarker(Marker):
    """Queued among a machine's messages when the timer of ``node`` fires."""

    __slots__ = ("node",)

    def __init__(self, node: ChartNode) -> None:
        super().__init__(f"<timeout of {node.name}>")
        self.node = node


class ChartNode(Node):
    """A compiled state of a statechart: a :class:`~.plan.Node` placed in the tree of states."""

    __slots__ = (
        "parent",
        "children",
        "initial",
        "parallel",
        "composite",
        "order",
        "ancestors",
        "remembers",
        "timed",
        "marker",
    )

    def __init__(self, state: State, handlers: dict[str, Handler]) -> None:
        super().__init__(state, handlers)
        self.quick = False  # steps are the chart engine's
        self.parent: ChartNode | None = None
        self.children: tuple[ChartNode, ...] = ()
        self.initial: ChartNode | None = None
        self.parallel = isinstance(state, CompositeState) and state.parallel
        self.composite = isinstance(state, CompositeState)
        #: Place in document order (a parent before its children, siblings in declared order).
        self.order = 0
        #: Proper ancestors, innermost first.
        self.ancestors: tuple[ChartNode, ...] = ()
        #: Some history target returns into this (compound) state: remember it when it is left.
        self.remembers = False
        #: This state or one around it has a timeout (its on_state may be interrupted by one).
        self.timed = False
        # Entering a state of a chart is never just a change of phase: the states around it enter too.
        self.plain_entry = False
        #: Queued among the messages when this state's timer fires.
        self.marker = TimerMarker(self)

    def within(self, other: ChartNode) -> bool:
        """True if this state is ``other`` or inside it."""
        return self is other or other in self.ancestors


class ChartSpec(MachineSpec):
    """A compiled statechart: a :class:`~.plan.MachineSpec` whose nodes form a tree."""

    __slots__ = ("top", "ordered", "has_parallel")

    def __init__(
        self,
        root: State | StateGroup,
        initial: Node,
        error: Node | None,
        nodes: dict[State, Node],
        group: StateGroup | None,
    ) -> None:
        super().__init__(root, initial, error, nodes, group)
        charted: list[ChartNode] = list(nodes.values())  # type: ignore[arg-type]
        #: The states with no parent, in the order the machine reads them.
        self.top = tuple(n for n in charted if n.parent is None)
        #: Every state in document order.
        self.ordered = tuple(sorted(charted, key=lambda n: n.order))
        self.has_parallel = any(n.parallel for n in charted)


def _place(nodes: dict[State, ChartNode]) -> None:
    """Link parents and children, number the states in document order, find the timed ones."""
    for state, node in nodes.items():
        parent = parent_of(state)
        node.parent = nodes[parent] if parent is not None else None
        if isinstance(state, CompositeState):
            node.children = tuple(nodes[c] for c in state.children)
            node.initial = nodes[state.initial] if state.initial is not None else None
    order = 0

    def number(node: ChartNode, ancestors: tuple[ChartNode, ...]) -> None:
        nonlocal order
        node.order, order = order, order + 1
        node.ancestors = ancestors
        node.timed = node.timeout is not None or any(a.timeout is not None for a in ancestors)
        for child in node.children:
            number(child, (node, *ancestors))

    for node in nodes.values():
        if node.parent is None:
            number(node, ())


def chart_spec(
    root: State | StateGroup,
    initial: State,
    error_state: State | None,
    nodes: dict[State, Node],
    group: StateGroup | None,
) -> ChartSpec:
    """The :class:`ChartSpec` of compiled ``nodes`` (all :class:`ChartNode`, transitions linked)."""
    charted: dict[State, ChartNode] = nodes  # type: ignore[assignment]
    _place(charted)
    for node in charted.values():
        for op in _every_op(node):
            if isinstance(op, HistoryOp):
                op.target.remembers = True  # type: ignore[union-attr]
            op.fast = _between_siblings(node, op)
    error = nodes[error_state] if error_state is not None else None
    return ChartSpec(root, nodes[initial], error, nodes, group)


def _between_siblings(node: ChartNode, op: Op) -> bool:
    """In a statechart, ``op.fast`` means: a plain transition between two atomic children of one
    compound state (it leaves ``node`` and enters its target, and nothing else; see chartsteps)."""
    target = op.target
    parent = node.parent
    return (
        op.kind == GOTO
        and isinstance(target, ChartNode)
        and parent is not None
        and not parent.parallel
        and target.parent is parent
        and target is not node
        and not node.composite
        and not target.composite
    )


def _every_op(node: Node) -> Iterable[Op]:
    for op in node.table.values():
        yield from (option for _, option in getattr(op, "options", ((None, op),)))


# --- SCXML's algorithm ---------------------------------------------------------------------------


def targets(op: Op, remembered: dict[ChartNode, tuple[ChartNode, ...]]) -> list[ChartNode]:
    """The states a transition enters first: its target, or what a history target stands for."""
    target: ChartNode = op.target  # type: ignore[assignment]
    if op.kind == HISTORY or op.kind == DEEP_HISTORY:
        kept = remembered.get(target)
        if kept is None:
            return [op.default or target.initial]  # type: ignore[attr-defined,list-item]
        if op.kind == DEEP_HISTORY:
            return [n for n in kept if not n.composite]  # the leaves: entering them enters the rest
        return [n for n in kept if n.parent is target]
    return [target]


def domain(source: ChartNode, target: ChartNode, history: bool) -> ChartNode | None:
    """The innermost compound state that is a proper ancestor of ``source`` and holds ``target``.

    A history target sits inside its compound state, so that state itself may be the domain.
    """
    for ancestor in source.ancestors:
        if ancestor.composite and not ancestor.parallel:
            if (history and target is ancestor) or ancestor in target.ancestors:
                return ancestor
    return None


def exit_set(active: Iterable[ChartNode], where: ChartNode | None) -> list[ChartNode]:
    """The active states inside ``where`` (all of them for None), innermost first."""
    inside = [n for n in active if where is None or where in n.ancestors]
    inside.sort(key=lambda n: -n.order)
    return inside


class _Entering:
    """SCXML's entry set, built up: states to enter, in the order they were added."""

    __slots__ = ("states",)

    def __init__(self) -> None:
        self.states: dict[ChartNode, None] = {}

    def descend(self, state: ChartNode) -> None:
        """Add ``state`` and what entering it by default brings (initial child, every region)."""
        self.states[state] = None
        if state.parallel:
            for region in state.children:
                if not any(region in s.ancestors for s in self.states):
                    self.descend(region)
        elif state.composite:
            self.descend(state.initial)  # type: ignore[arg-type]

    def ascend(self, state: ChartNode, where: ChartNode | None) -> None:
        """Add the states between ``where`` and ``state`` (the other regions of parallel ones too)."""
        for ancestor in state.ancestors:
            if ancestor is where:
                return
            self.states[ancestor] = None
            if ancestor.parallel:
                for region in ancestor.children:
                    if not any(region in s.ancestors or s is region for s in self.states):
                        self.descend(region)


def entry_set(moves: Iterable[tuple[list[ChartNode], ChartNode | None]]) -> list[ChartNode]:
    """The states to enter for transitions given as (first states to enter, domain), in document order."""
    entering = _Entering()
    for first, where in moves:
        for state in first:
            entering.descend(state)
        for state in first:
            entering.ascend(state, where)
    return sorted(entering.states, key=lambda n: n.order)


def in_final(state: ChartNode, active: set[ChartNode] | dict[ChartNode, Any]) -> bool:
    """True if ``state`` has completed: a compound state is in a terminal child, a parallel state has
    every region completed."""
    if state.parallel:
        return all(in_final(region, active) for region in state.children)
    if state.composite:
        return any(child.terminal and child in active for child in state.children)
    return False
