"""Pictures of state machines as the engine-neutral :class:`~mycorrhizal.common.Diagram`.

Initial state: an arrow from a start dot.  Terminal states: double circles.  The error state: red.
Labelled transitions: solid edges.  Again/Retry/Repeat/Restart: dashed self-loops.  Push: a bold
edge to the pushed state plus dotted "then" edges to the states it will return to.  Pop: a dashed
edge to a "return" node.  A running machine's current state is filled.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..common.diagram import Diagram, Edge, Node
from .compile import MachineSpec, label_text
from .targets import AGAIN, GOTO, KIND_NAMES, POP, PUSH, UNHANDLED

if TYPE_CHECKING:
    from .machine import StateMachine

__all__ = ["spec_diagram"]

_NOT_IDENT = re.compile(r"\W")
START = "_start"
RETURN = "_return"


def _ident(name: str) -> str:
    text = _NOT_IDENT.sub("_", name) or "state"
    return f"s_{text}" if text[0].isdigit() else text


def spec_diagram(spec: MachineSpec, machine: StateMachine | None) -> Diagram:
    """The picture of ``spec``; with ``machine``, its current state is highlighted."""
    ids: dict[object, str] = {}
    used: set[str] = {START, RETURN}
    for state in spec.nodes:
        base = _ident(state.name)
        ident, n = base, 2
        while ident in used:  # two states with one name (different scopes) stay distinct
            ident, n = f"{base}_{n}", n + 1
        used.add(ident)
        ids[state] = ident
    current = machine.current_state if machine is not None else None
    nodes = [Node(START, "start", shape="point")]
    edges = [Edge(START, ids[spec.initial.state])]
    has_pop = False
    for state, node in spec.nodes.items():
        cfg = state.config
        notes = [
            f"timeout={cfg.timeout:g}s" if cfg.timeout is not None else "",
            f"retries={cfg.retries}" if cfg.retries is not None else "",
        ]
        label = state.name + "".join(f"\n{n}" for n in notes if n)
        fill = None
        if spec.error is not None and node is spec.error:
            fill = "#f8d0d0"
        if state is current:
            fill = "#fff2a8"
        nodes.append(
            Node(
                ids[state],
                label,
                shape="doublecircle" if cfg.terminal else "rounded",
                fill=fill,
                tooltip=state.qualname,
            )
        )
        me = ids[state]
        for op in node.table.values():
            text = label_text(op.label)
            if op.kind == GOTO:
                assert op.target is not None
                edges.append(Edge(me, ids[op.target.state], text))
            elif op.kind == PUSH:
                assert op.target is not None
                edges.append(Edge(me, ids[op.target.state], f"{text} (push)", style="bold"))
                for then in op.stack:
                    edges.append(Edge(me, ids[then.state], f"{text} (then)", style="dotted"))
            elif op.kind == POP:
                has_pop = True
                edges.append(Edge(me, RETURN, f"{text} (pop)", style="dashed"))
            elif op.kind == UNHANDLED:
                continue  # staying put without handling is not a transition
            else:
                edges.append(
                    Edge(
                        me,
                        me,
                        f"{text} ({KIND_NAMES[op.kind]})",
                        style="dotted" if op.kind == AGAIN else "dashed",
                    )
                )
    if has_pop:
        nodes.append(Node(RETURN, "return\n(pop)", shape="circle"))
    return Diagram(name=spec.name, nodes=tuple(nodes), edges=tuple(edges))
