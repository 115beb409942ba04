"""Reading SCXML: a statechart from a document, its conditions and actions from a registry.

:func:`from_scxml` builds septum states from an SCXML document (the subset :mod:`.scxml_export`
writes) and returns its initial state, ready for ``StateMachine``; a document whose ``name`` is
another than its initial state's id gives a :class:`StateGroup` of that name starting there, so that
the machine is named as the document (in records and messages, and when it is written back).
Nothing in the document is run: a ``cond`` or ``septum:action`` is a *name*, looked up in the
registry the caller passes, and a document with a DTD is refused before it is parsed (so no entity
is ever expanded).

The machine it builds is driven by events: ``fsm.send("NEXT")`` offers the event ``NEXT`` to the
active states, innermost first, and a transition whose ``event`` is exactly ``NEXT`` is taken (its
``cond`` first); a composite state answers the events declared on it and around it when what is
inside declined them (its active child is a ``<final>``).  An event no active state has a transition
for is dropped, as in SCXML.

The subset: ``<scxml version="1.0" initial name>``; ``<state id initial>``, ``<parallel id>``,
``<final id>``, ``<history id type>`` with one ``<transition target>`` (its default), and
``<transition event cond target type="external" septum:action>`` with one target, or none (the
machine stays; its action runs).  ``event`` may list several names; ``done.state.ID`` on state ID
is its completion (:data:`~.compound.Completed`).  Anything else (executable content, data model,
``<initial>``, ``<invoke>``, eventless or internal transitions, event wildcards, several targets,
an ``initial`` deeper than a child) is refused with a :class:`DefinitionError` naming the element
and saying what to write instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..common.errors import DefinitionError, Problem, did_you_mean
from .compile import STUCK
from .compound import Completed
from .config import StateConfiguration
from .dsl import septum
from .history import DeepHistory, History
from .scxml_export import EVENT, NS, SEPTUM_NS
from .states import State, StateGroup
from .targets import LabeledTransition, Unhandled

__all__ = ["from_scxml"]

_STATES = {"state", "parallel", "final"}
_ALLOWED: dict[str, set[str]] = {
    "scxml": {"version", "initial", "name", "datamodel", "binding"},
    "state": {"id", "initial"},
    "parallel": {"id"},
    "final": {"id"},
    "history": {"id", "type"},
    "transition": {"event", "cond", "target", "type", f"{{{SEPTUM_NS}}}action"},
}
_CHILDREN: dict[str, set[str]] = {
    "scxml": _STATES,
    "state": {*_STATES, "history", "transition"},
    "parallel": {*_STATES, "history", "transition"},
    "final": set(),
    "history": {"transition"},
    "transition": set(),
}


class _Refused(Exception):
    """The document leaves the subset (raised at once: what follows cannot be read)."""


def _local(element: ET.Element) -> str:
    tag = element.tag
    if not tag.startswith(f"{{{NS}}}"):
        raise _Refused(f"<{tag}> is not an SCXML element", "write SCXML elements, in the SCXML namespace")
    return tag[len(NS) + 2 :]


def _is(element: ET.Element, name: str) -> bool:
    """True if ``element`` is the SCXML element ``name`` (an element of another namespace is none)."""
    return element.tag == f"{{{NS}}}{name}"


def _where(element: ET.Element) -> str:
    name = _local(element)
    return f"<{name} id={element.get('id')!r}>" if element.get("id") else f"<{name}>"


class _Reader:
    """One import: the document's elements by id, the problems found, the states built."""

    def __init__(self, registry: Mapping[str, Callable[..., Any]]) -> None:
        self.registry = registry
        self.problems: list[Problem] = []
        self.elements: dict[str, ET.Element] = {}
        self.parents: dict[str, str | None] = {}
        self.built: dict[str, State] = {}
        self.histories: dict[str, tuple[str, bool, str | None]] = {}  # id -> (compound, deep, default)

    def problem(self, subject: str, message: str, fix: str) -> None:
        self.problems.append(Problem(subject, message, fix))

    # ---------------------------------------------------------------- checking the shape
    def check(self, element: ET.Element, parent: str | None) -> None:
        """Check ``element`` and everything below it against the subset; index states and histories."""
        name = _local(element)
        for key in element.attrib:
            if key not in _ALLOWED[name]:
                shown = key.replace(f"{{{SEPTUM_NS}}}", "septum:")
                self.problem(
                    _where(element),
                    f"has the attribute {shown}, outside the subset septum reads",
                    "drop it (see docs/statecharts.md, SCXML)",
                )
        if (element.text or "").strip():
            self.problem(_where(element), "holds text", "remove the text")
        ident = element.get("id")
        if name != "scxml" and name != "transition":
            if not ident:
                self.problem(f"<{name}> in {parent or 'the document'}", "has no id", "give it a unique id")
            elif ident in self.elements:
                self.problem(_where(element), "repeats an id used before", "give every element its own id")
            else:
                self.elements[ident] = element
                self.parents[ident] = parent
        for child in element:
            if not child.tag.startswith(f"{{{NS}}}"):
                self.problem(
                    _where(element),
                    f"contains <{child.tag}>, which is not an SCXML element",
                    "remove it (septum reads SCXML elements only, in the SCXML namespace)",
                )
                continue
            kind = _local(child)
            if kind not in _CHILDREN[name]:
                self.problem(
                    _where(element),
                    f"contains <{kind}>, outside the subset septum reads",
                    _INSTEAD.get(kind, "remove it"),
                )
                continue
            self.check(child, ident if name != "scxml" else None)

    # ---------------------------------------------------------------- building states
    def build(self, element: ET.Element) -> State:
        """The septum state of ``element`` (its children built first)."""
        ident = element.get("id", "")
        kind = _local(element)
        if kind == "final":
            made = septum.state(config=StateConfiguration(terminal=True))(type(ident, (), {}))
            self.built[ident] = made
            return made
        children = [c for c in element if _local(c) in _STATES]
        for history in (c for c in element if _is(c, "history")):
            self.history(history, ident, kind)
        body: dict[str, Any] = {}
        transitions = [t for t in element if _is(t, "transition")]
        if transitions:
            body["transitions"] = septum.transitions(self.reader(ident, transitions))
        # Every state answers the events declared on it and around it: an atomic one first, a
        # composite one when what is inside declined (its active child is a <final>, which answers
        # nothing: SCXML still takes the transitions around a final state).
        body["on_state"] = septum.on_state(_handler(self.events(ident)))
        if not children:
            made = septum.state(type(ident, (), body))
        else:
            body.update((child.get("id", ""), self.build(child)) for child in children)
            if kind == "parallel":
                made = septum.parallel(type(ident, (), body))
            else:
                made = septum.compound(initial=self.initial(element, children))(type(ident, (), body))
        self.built[ident] = made
        return made

    def initial(self, element: ET.Element, children: list[ET.Element]) -> str | None:
        wanted = element.get("initial")
        if wanted is None:
            return None
        if wanted not in {c.get("id") for c in children}:
            self.problem(
                _where(element),
                f"has initial={wanted!r}, which is not one of its own children",
                "name a child as initial (septum enters deeper states through their parents)",
            )
            return None
        return wanted

    def history(self, element: ET.Element, compound: str, kind: str) -> None:
        ident = element.get("id", "")
        deep = element.get("type", "shallow")
        if deep not in ("shallow", "deep"):
            self.problem(_where(element), f"has type={deep!r}", 'write type="shallow" or type="deep"')
        if kind != "state":
            self.problem(
                _where(element),
                f"is in <{kind}>, but history belongs to a compound <state>",
                "move it into a <state> that has children",
            )
        defaults = [t.get("target") for t in element]
        if len(defaults) > 1 or any(d is None or " " in d.strip() for d in defaults):
            self.problem(
                _where(element),
                "needs at most one <transition> with one target (its default)",
                'keep one <transition target="Child"/>',
            )
            defaults = []
        self.histories[ident] = (compound, deep == "deep", defaults[0] if defaults else None)

    def events(self, ident: str) -> frozenset[str]:
        """Every event some transition of ``ident`` or of a state around it is declared for."""
        found: set[str] = set()
        current: str | None = ident
        while current is not None:
            for t in self.elements[current]:
                if _is(t, "transition"):
                    found.update((t.get("event") or "").split())
            current = self.parents[current]
        return frozenset(found)

    def reader(self, ident: str, elements: list[ET.Element]) -> Callable[[], list[LabeledTransition]]:
        """The ``transitions()`` of state ``ident`` (read now, so that problems are found now)."""
        declared = [t for element in elements for t in self.transition(ident, element)]
        return lambda: [self.resolve(ident, t) for t in declared]

    def transition(self, ident: str, element: ET.Element) -> Iterator[tuple[Any, str | None, Any, Any]]:
        """(label, target id, guard, action) for each event of one ``<transition>``."""
        subject = f"<transition> of {ident!r}"
        events = (element.get("event") or "").split()
        if not events:
            self.problem(subject, "has no event (an eventless transition)", 'give it an event="..."')
        if element.get("type", "external") != "external":
            self.problem(subject, "is internal", 'drop type="internal": septum\'s transitions are external')
        target = element.get("target")
        if target is not None and len(target.split()) != 1:
            self.problem(subject, f"has target={target!r}", "give it exactly one target")
        guard = self.lookup(subject, "cond", element.get("cond"))
        action = self.lookup(subject, "septum:action", element.get(f"{{{SEPTUM_NS}}}action"))
        for event in events:
            if event == f"done.state.{ident}":
                yield Completed, target, guard, action
            elif event.startswith("done.state.") or not EVENT.fullmatch(event):
                self.problem(
                    subject,
                    f"has the event {event!r}, which septum cannot match",
                    "use plain event names (no wildcards); put done.state.X on state X itself",
                )
            else:
                yield event, target, guard, action

    def lookup(self, subject: str, what: str, name: str | None) -> Any:
        if name is None:
            return None
        found = self.registry.get(name)
        if not callable(found):
            known = ", ".join(sorted(self.registry)) or "none"
            self.problem(
                subject,
                f"has {what}={name!r}, which the registry does not hold (it holds: {known})",
                did_you_mean(
                    name,
                    [key for key, value in self.registry.items() if callable(value)],
                    f"pass from_scxml(..., registry={{{name!r}: function}})",
                ),
            )
        return found

    def resolve(self, ident: str, declared: tuple[Any, str | None, Any, Any]) -> LabeledTransition:
        label, target, guard, action = declared
        return LabeledTransition(label, self.target(target), guard=guard, action=action)

    def target(self, target: str | None) -> Any:
        if target is None:
            return Unhandled
        if target in self.histories:
            compound, deep, default = self.histories[target]
            kind = DeepHistory if deep else History
            return kind(self.built[compound], default=self.built.get(default) if default else None)
        return self.built[target]

    def unknown_targets(self) -> Iterator[Problem]:
        for ident, element in self.elements.items():
            for t in (t for t in element if _is(t, "transition")):
                target = (t.get("target") or "").strip()
                if target and " " not in target and target not in self.elements:
                    yield Problem(
                        f"<transition> of {ident!r}",
                        f"targets {target!r}, which no element has as id",
                        did_you_mean(
                            target,
                            self.elements,
                            "target the id of a <state>, <parallel>, <final> or <history>",
                        ),
                    )


_INSTEAD = {
    "onentry": "septum runs code in on_enter, in Python: remove it, and add the hook to the state",
    "onexit": "septum runs code in on_leave, in Python: remove it, and add the hook to the state",
    "initial": 'write initial="Child" on the parent instead',
    "datamodel": "keep data in the machine's common data, in Python",
    "script": "run code from guards and actions passed by name (septum:action, cond)",
    "invoke": "compose machines in Python (mycelium)",
}


def _handler(events: frozenset[str]) -> Callable[[Any], Any]:
    """An atomic state's on_state: an event some transition around it is declared for, as its label."""

    def on_state(ctx: Any) -> Any:
        msg = ctx.msg
        return msg if isinstance(msg, str) and msg in events else None

    return on_state


def from_scxml(
    document: str | bytes, registry: Mapping[str, Callable[..., Any]] | None = None
) -> State | StateGroup:
    """The statechart ``document`` describes, ready for ``StateMachine`` (see the module's docstring).

    ``registry`` maps the names used in ``cond`` and ``septum:action`` to plain functions of ``ctx``.
    """
    text = document.decode("utf-8") if isinstance(document, bytes) else document
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise DefinitionError(
            [
                Problem(
                    "the SCXML document", "declares a DTD or entities", "remove the <!DOCTYPE> declaration"
                )
            ],
            what="SCXML document",
        )
    try:
        root = ET.fromstring(text)
        reader = _Reader(registry or {})
        if _local(root) != "scxml":
            raise _Refused(f"starts with <{_local(root)}>", "start the document with <scxml>")
    except ET.ParseError as exc:
        raise DefinitionError(
            [Problem("the SCXML document", f"is not well-formed XML: {exc}", "fix the XML")],
            what="SCXML document",
        ) from None
    except _Refused as refused:
        message, fix = refused.args
        raise DefinitionError([Problem("the SCXML document", message, fix)], what="SCXML document") from None
    return _read(reader, root)


def _read(reader: _Reader, root: ET.Element) -> State | StateGroup:
    try:
        reader.check(root, None)
    except _Refused as refused:
        message, fix = refused.args
        reader.problem("the SCXML document", message, fix)
    what = f"SCXML document {root.get('name') or ''}".rstrip()
    if root.get("version", "1.0") != "1.0":
        reader.problem("<scxml>", f"has version={root.get('version')!r}", 'write version="1.0"')
    if root.get("datamodel", "null") != "null":
        reader.problem(
            "<scxml>",
            f"has datamodel={root.get('datamodel')!r}: septum evaluates no expressions",
            "drop the datamodel; name guards in cond and pass them in the registry",
        )
    tops = [c for c in root if c.tag.startswith(f"{{{NS}}}") and _local(c) in _STATES]
    if not tops:
        reader.problem("<scxml>", "holds no states", "add a <state>")
    reader.problems.extend(reader.unknown_targets())
    DefinitionError.raise_if_any(reader.problems, what=what)
    for top in tops:
        reader.build(top)
    DefinitionError.raise_if_any(reader.problems, what=what)
    initial: str = root.get("initial") or tops[0].get("id") or ""
    if initial not in {t.get("id") for t in tops}:
        raise DefinitionError(
            [
                Problem(
                    "<scxml>",
                    f"has initial={initial!r}, which is not a top-level state",
                    "name a top-level state (septum enters deeper states through their parents)",
                )
            ],
            what=what,
        )
    made: State | StateGroup = reader.built[initial]
    name = root.get("name")
    if name and name != initial:  # a lone state names its machine after itself: a group names it
        made = septum.group(reader.built[initial], name=name)
    try:
        made.machine_spec()  # septum's own rules (reachable children, history defaults...), checked now
    except DefinitionError as err:
        raise type(err)([_in_document(p, reader) for p in err.problems], what=err.what) from None
    return made


def _in_document(problem: Problem, reader: _Reader) -> Problem:
    """``problem``, found by septum's own rules, with the fix to write in the document where it has one."""
    ident = problem.subject.removeprefix("state ")
    if problem.message == STUCK and ident in reader.built:  # (a state it built: the document is at fault)
        return Problem(
            f"<state id={ident!r}>",
            "has no transitions and is not <final>, so the machine could never leave it",
            f'make it <final id="{ident}"/> if the machine ends there, or give it a '
            '<transition event="..." target="..."/>',
        )
    return problem
