"""Pictures of state machines as the engine-neutral :class:`~mycorrhizal.common.Diagram`.

Initial state: an arrow from a start dot.  Terminal states: double circles.  The error state: red.
Labelled transitions: solid edges.  Again/Retry/Repeat/Restart: dashed self-loops.  Push: a bold
edge to the pushed state plus dotted "then" edges to the states it will return to.  Pop: a dashed
edge to a "return" node.  A running machine's current state is filled.
"""

from __future__ import annotations

import re

from ..common.diagram import Diagram, Edge, Node
from . import guards
from .plan import MachineSpec, Op, label_text
from .plan import Node as PlanNode
from .states import State
from .targets import AGAIN, GOTO, KIND_NAMES, POP, PUSH, UNHANDLED

__all__ = ["spec_diagram"]

_NOT_IDENT = re.compile(r"\W")
START = "_start"
RETURN = "_return"


def _ident(name: str) -> str:
    text = _NOT_IDENT.sub("_", name) or "state"
    return f"s_{text}" if text[0].isdigit() else text


def _ids(spec: MachineSpec) -> dict[State, str]:
    """A plain identifier per state: its name, with a suffix when two states share a name."""
    ids: dict[State, str] = {}
    used: set[str] = {START, RETURN}
    for state in spec.nodes:
        base = _ident(state.name)
        ident, n = base, 2
        while ident in used:  # two states with one name (different scopes) stay distinct
            ident, n = f"{base}_{n}", n + 1
        used.add(ident)
        ids[state] = ident
    return ids


def _state_node(spec: MachineSpec, node: PlanNode, ident: str, current: tuple[State, ...] | None) -> Node:
    cfg = node.state.config
    notes = [
        f"timeout={cfg.timeout:g}s" if cfg.timeout is not None else "",
        f"retries={cfg.retries}" if cfg.retries is not None else "",
    ]
    fill = None
    if spec.error is not None and node is spec.error:
        fill = "#f8d0d0"
    if current is not None and node.state in current:
        fill = "#fff2a8"
    return Node(
        ident,
        node.name + "".join(f"\n{n}" for n in notes if n),
        shape="doublecircle" if cfg.terminal else "rounded",
        fill=fill,
        tooltip=node.state.qualname,
    )


def _op_edges(me: str, op: Op, ids: dict[State, str], guard: object = None) -> list[Edge]:
    if isinstance(op, guards.Choice):
        return [edge for when, option in op.options for edge in _op_edges(me, option, ids, when)]
    text = label_text(op.label) + guards.describe(guard, op)
    if op.kind == GOTO:
        assert op.target is not None
        return [Edge(me, ids[op.target.state], text)]
    if op.kind == PUSH:
        assert op.target is not None
        pushed = Edge(me, ids[op.target.state], f"{text} (push)", style="bold")
        return [pushed, *(Edge(me, ids[then.state], f"{text} (then)", style="dotted") for then in op.stack)]
    if op.kind == POP:
        return [Edge(me, RETURN, f"{text} (pop)", style="dashed")]
    if op.kind == UNHANDLED:
        return []  # staying put without handling is not a transition
    return [Edge(me, me, f"{text} ({KIND_NAMES[op.kind]})", style="dotted" if op.kind == AGAIN else "dashed")]


def spec_diagram(spec: MachineSpec, current: State | tuple[State, ...] | None) -> Diagram:
    """The picture of ``spec``; ``current`` (a running machine's state or states), when given, is filled."""
    if isinstance(current, State):
        current = (current,)
    ids = _ids(spec)
    nodes = [Node(START, "start", shape="point")]
    edges = [Edge(START, ids[spec.initial.state])]
    for state, node in spec.nodes.items():
        nodes.append(_state_node(spec, node, ids[state], current))
        for op in node.table.values():
            edges.extend(_op_edges(ids[state], op, ids))
    if any(op.kind == POP for node in spec.nodes.values() for op in guards.ops(node)):
        nodes.append(Node(RETURN, "return\n(pop)", shape="circle"))
    return Diagram(name=spec.shown, nodes=tuple(nodes), edges=tuple(edges))
