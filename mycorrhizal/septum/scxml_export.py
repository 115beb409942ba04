"""Writing a machine as SCXML: the structure of its states and its transitions, nothing that is code.

:func:`to_scxml` writes the machine that starts at a state as a W3C SCXML document: ``<state>`` for
a plain or compound state (``initial`` naming its initial child), ``<parallel>``, ``<final>`` for a
terminal state, ``<history type="shallow|deep">`` (with its default as a ``<transition>``) inside
each compound state a history target returns to (one for each default), and ``<transition event cond
target>`` for each declared transition, in declared order. An event is the label's name (``NEXT``
for ``Events.NEXT``); a ``Completed`` transition of state X is ``done.state.X``. A guard is written
as ``cond="name"`` and an action as ``septum:action="name"`` (an attribute in septum's namespace),
each named after its function or by the ``names`` the caller passes (any key of the registry
:func:`~.scxml_import.from_scxml` was given, an expression written as a ``cond`` too).  A
transition to ``Unhandled`` is a targetless transition: the machine stays, its action runs.

What is code stays out: handlers (``on_state``, ``on_enter``...), timeouts and retries.  What
SCXML cannot say is refused with a :class:`DefinitionError` naming the state and the label:
``Again``, ``Retry``, ``Repeat``, ``Restart``, ``Push`` and ``Pop`` targets, labels
whose names are not SCXML event names, guards and actions without a name.  :mod:`.scxml_import`
reads such documents back.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..common.errors import DefinitionError, Problem
from . import guards
from .compound import Completed
from .hierarchy import ChartNode, ChartSpec
from .history import DEEP_HISTORY, HistoryOp
from .plan import Node, Op, label_text
from .states import State
from .targets import GOTO, KIND_NAMES, UNHANDLED

__all__ = ["NS", "SEPTUM_NS", "history_id", "to_scxml"]

#: The SCXML namespace.
NS = "http://www.w3.org/2005/07/scxml"
#: septum's own namespace, for what SCXML has no attribute for (a transition's action).
SEPTUM_NS = "https://mycorrhizal.dev/septum"

#: An SCXML event name: tokens of letters, digits, ``_``, ``-`` and ``:``, separated by dots.
EVENT = re.compile(r"[A-Za-z_:][\w:-]*(\.[\w:-]+)*")
#: A name a guard or an action may have in a document (a plain identifier).
NAME = re.compile(r"[A-Za-z_]\w*")


def history_id(compound: str, deep: bool) -> str:
    """The id of the history pseudo-state of compound state ``compound``: ``X.H`` or ``X.Hdeep``."""
    return f"{compound}.{'Hdeep' if deep else 'H'}"


class _Writer:
    """One export: the problems found so far and how callables are named."""

    def __init__(self, spec: Any, names: Mapping[str, Callable[..., Any]]) -> None:
        self.spec = spec
        self.named = {id(fn): name for name, fn in names.items()}
        self.problems: list[Problem] = []
        self.histories = _histories(spec)

    def name_of(self, node: Node, label: Any, fn: Any, what: str) -> str:
        given = self.named.get(id(fn))
        if isinstance(given, str) and given.strip():  # a registry key, as from_scxml looks it up: "x > 1" too
            return given
        name = getattr(fn, "__name__", "")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            self.problems.append(
                Problem(
                    f"state {node.name}",
                    f"has a transition on {label_text(label)} whose {what} has no name SCXML can hold "
                    f"({getattr(fn, '__name__', type(fn).__name__)})",
                    f"make the {what} a def, or pass to_scxml(..., names={{'some_name': {what}}})",
                )
            )
            return what
        return name

    def event(self, node: Node, label: Any) -> str:
        if label is Completed:
            return f"done.state.{node.name}"
        text = label_text(label)
        if not EVENT.fullmatch(text):
            self.problems.append(
                Problem(
                    f"state {node.name}",
                    f"has a transition on {text!r}, which is not an SCXML event name",
                    "use labels whose names are words joined by dots (an Enum member, or a string like "
                    "'door.open')",
                )
            )
        return text

    def transition(self, parent: ET.Element, node: Node, guard: Any, op: Op) -> None:
        attrs = {"event": self.event(node, op.label)}
        if guard is not None:
            attrs["cond"] = self.name_of(node, op.label, guard, "guard")
        if isinstance(op, HistoryOp):
            target: ChartNode = op.target  # type: ignore[assignment]
            attrs["target"] = self.histories[target][_history_key(op)]
        elif op.kind == GOTO and op.target is not None:
            attrs["target"] = op.target.name
        elif op.kind != UNHANDLED:  # Unhandled: a targetless transition (it stays; its action runs)
            self.problems.append(
                Problem(
                    f"state {node.name}",
                    f"has a transition on {label_text(op.label)} to {KIND_NAMES[op.kind]}, which SCXML "
                    f"cannot express",
                    "export machines whose transitions go to states, History/DeepHistory or Unhandled only",
                )
            )
            return
        if op.action is not None:
            attrs[f"{{{SEPTUM_NS}}}action"] = self.name_of(node, op.label, op.action, "action")
        ET.SubElement(parent, f"{{{NS}}}transition", attrs)

    def state(self, parent: ET.Element, node: Node) -> None:
        kind = "final" if node.terminal else "parallel" if getattr(node, "parallel", False) else "state"
        element = ET.SubElement(parent, f"{{{NS}}}{kind}", {"id": node.name})
        if isinstance(node, ChartNode) and node.composite and not node.parallel:
            assert node.initial is not None
            element.set("initial", node.initial.name)
        for op in node.table.values():
            options = op.options if isinstance(op, guards.Choice) else ((None, op),)
            for guard, option in options:
                self.transition(element, node, guard, option)
        for (deep, default), ident in self.histories.get(node, {}).items():
            history = ET.SubElement(
                element, f"{{{NS}}}history", {"id": ident, "type": "deep" if deep else "shallow"}
            )
            ET.SubElement(history, f"{{{NS}}}transition", {"target": default.name})
        for child in node.children if isinstance(node, ChartNode) else ():
            self.state(element, child)


def _history_key(op: HistoryOp) -> tuple[bool, Node]:
    """(deep, default) of a history transition: one ``<history>`` element stands for each."""
    compound: ChartNode = op.target  # type: ignore[assignment]
    default = op.default or compound.initial
    assert default is not None
    return op.kind == DEEP_HISTORY, default


def _histories(spec: Any) -> dict[Node, dict[tuple[bool, Node], str]]:
    """For each compound state some transition returns to by history: (deep, default) -> the id of
    its ``<history>``.  A ``<history>`` has one default, so each default gets its own: the first
    met (in document order) is ``X.H`` (``X.Hdeep``), any other ``X.H.Default``."""
    found: dict[Node, dict[tuple[bool, Node], str]] = {}
    ordered = spec.ordered if isinstance(spec, ChartSpec) else tuple(spec.nodes.values())
    for node in ordered:
        for op in guards.ops(node):
            if isinstance(op, HistoryOp):
                compound: ChartNode = op.target  # type: ignore[assignment]
                ids = found.setdefault(compound, {})
                deep, default = key = _history_key(op)
                if key not in ids:
                    first = history_id(compound.name, deep)
                    ids[key] = f"{first}.{default.name}" if first in ids.values() else first
    return found


def _duplicates(spec: Any) -> Iterator[Problem]:
    seen: dict[str, State] = {}
    for state in spec.nodes:
        other = seen.setdefault(state.name, state)
        if other is not state:
            yield Problem(
                f"state {state.qualname}",
                f"has the name {state.name}, as {other.qualname} has, but SCXML ids are unique",
                "give one of them another name (@septum.state(name=...))",
            )


def to_scxml(root: State, *, names: Mapping[str, Callable[..., Any]] | None = None) -> str:
    """The machine that starts at ``root`` as an SCXML document (see the module's docstring).

    ``names`` maps names to guards and actions that should be written under another name than
    their function's (a lambda has none).
    """
    spec = root.machine_spec()
    writer = _Writer(spec, names or {})
    writer.problems.extend(_duplicates(spec))
    ET.register_namespace("", NS)
    ET.register_namespace("septum", SEPTUM_NS)
    document = ET.Element(
        f"{{{NS}}}scxml", {"version": "1.0", "name": spec.shown, "initial": spec.initial.name}
    )
    top = spec.top if isinstance(spec, ChartSpec) else tuple(spec.nodes.values())
    for node in top:
        writer.state(document, node)
    DefinitionError.raise_if_any(writer.problems, what=f"SCXML export of {spec.shown}")
    ET.indent(document)
    text: str = ET.tostring(document, encoding="unicode", xml_declaration=True)
    return text + "\n"
