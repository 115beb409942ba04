"""Compound and parallel states: a state that contains states of its own (the spec layer).

``@septum.compound`` on a class makes a state whose nested ``@septum.state`` classes are its
children: entering it enters its initial child (the first declared, or ``initial="Name"``), and it
is active while one of its children is.  ``@septum.parallel`` makes a state whose nested states are
its *regions*, all active at once.  Both are :class:`CompositeState` specs (a :class:`State`
with children), so everything that takes a state takes them: a transition target, ``Push``, the
root of a machine.  Children name each other by bare name, as the members of a group do.

A child knows its parent through :func:`parent_of` (a child is declared before its parent, and
specs are immutable, so the link is kept here).  A state belongs to at most one composite state.

How a machine with composite states runs (entry and exit order across levels, labels that bubble
to enclosing states, completion, history) is :mod:`.hierarchy` and :mod:`.chart`; the rules that
check them when a machine is built are at the end of this module.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import attrs

from ..common.errors import DefinitionError, DefinitionTypeError, Problem
from .history import History
from .states import State
from .targets import POP, PUSH, LabeledTransition, SpecialTarget

__all__ = [
    "CompositeState",
    "Completed",
    "ancestors",
    "build",
    "chart_problems",
    "is_chart",
    "parent_of",
    "related",
]

_parents: weakref.WeakKeyDictionary[State, CompositeState] = weakref.WeakKeyDictionary()


class _Completed:
    """The label a composite state's own transitions map when it completes (see :data:`Completed`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Completed"

    @property
    def name(self) -> str:
        """``COMPLETED``: how pictures and logs show the label."""
        return "COMPLETED"

    def __copy__(self) -> _Completed:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Completed:
        return self


#: The label of completion: ``LabeledTransition(Completed, Next)`` in a compound state's
#: ``transitions()`` is taken when the compound state enters one of its terminal children (a
#: parallel state's: when every region is in a terminal state).  SCXML calls it ``done.state.ID``.
Completed: Any = _Completed()


def _immutable(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    raise AttributeError(f"{instance.kind} {instance.name!r} is immutable. Fix: declare a new one instead")


@attrs.define(eq=False, repr=False, on_setattr=_immutable)
class CompositeState(State):
    """A state with states of its own: compound (one child active at a time) or parallel (all)."""

    children: tuple[State, ...] = attrs.field(kw_only=True)
    """Its children (a parallel state's regions), in the order they were declared."""
    initial: State | None = attrs.field(kw_only=True)
    """The child a compound state enters by default (None for a parallel state)."""
    parallel: bool = attrs.field(kw_only=True)
    """True for a parallel state, whose children are regions active at once."""

    @property
    def kind(self) -> str:  # type: ignore[override]  # a class attribute on State
        """``"parallel state"`` or ``"compound state"``: how errors name it."""
        return "parallel state" if self.parallel else "compound state"

    def __repr__(self) -> str:
        return f"<septum {self.kind} {self.qualname}: {', '.join(c.name for c in self.children)}>"


def parent_of(state: State) -> CompositeState | None:
    """The composite state ``state`` is a child of, or None for a top-level state."""
    return _parents.get(state)


def ancestors(state: State) -> list[CompositeState]:
    """The composite states around ``state``, innermost first."""
    found = []
    parent = _parents.get(state)
    while parent is not None:
        found.append(parent)
        parent = _parents.get(parent)
    return found


def _refuse(subject: str, message: str, fix: str) -> None:
    raise DefinitionError([Problem(subject, message, fix)], what=subject)


def _check(state: State, children: tuple[State, ...], initial: str | None, parallel: bool) -> State | None:
    """The initial child, after checking what a composite state may contain (raises at once)."""
    subject = f"{'parallel' if parallel else 'compound'} state {state.name}"
    if state.form != "class":
        raise DefinitionTypeError(
            [Problem(subject, "is declared on a function", "declare it on a class that nests its states")],
            what=subject,
        )
    if not children:
        _refuse(subject, "declares no states of its own", "nest its states in its class body (@septum.state)")
    if state.config.terminal:
        _refuse(
            subject, "is terminal, but a state with children is never final", "mark a child terminal=True"
        )
    if parallel and initial is not None:
        _refuse(subject, "takes no initial= (every region is entered)", "drop initial=")
    owned = [c for c in children if c in _parents]
    if owned:
        _refuse(
            subject,
            f"nests {', '.join(c.name for c in owned)}, already a child of {_parents[owned[0]].name}",
            "declare a state in one composite state only",
        )
    if parallel:
        finals = [c.name for c in children if c.config.terminal]
        if finals:
            _refuse(
                subject,
                f"has the terminal state {', '.join(finals)} as a region",
                "put a region's final state inside a compound region",
            )
        return None
    if initial is None:
        return children[0]
    chosen = [c for c in children if c.name == initial]
    if not chosen:
        _refuse(
            subject, f"has no child named {initial!r}", f"name one of: {', '.join(c.name for c in children)}"
        )
    return chosen[0]


def build(cls: type, base: State, *, initial: str | None, parallel: bool) -> CompositeState:
    """The composite state declared on ``cls`` (``base`` is the state the class reads as)."""
    children = tuple(v for v in vars(cls).values() if isinstance(v, State))
    first = _check(base, children, initial, parallel)
    fields = {f.name: getattr(base, f.name) for f in attrs.fields(State)}
    composite = CompositeState(**fields, children=children, initial=first, parallel=parallel)
    for child in children:
        _parents[child] = composite
    return composite


# --- what a machine reads, and the rules about composite states ----------------------------------


def is_chart(states: Any) -> bool:
    """True if any of ``states`` is composite or has a parent (the machine runs as a statechart)."""
    return any(isinstance(s, CompositeState) or s in _parents for s in states)


def related(state: State, transitions: list[LabeledTransition]) -> list[State]:
    """States a machine that reaches ``state`` also holds: its parent, its children, history targets."""
    found: list[State] = []
    parent = _parents.get(state)
    if parent is not None:
        found.append(parent)
    if isinstance(state, CompositeState):
        found.extend(state.children)
    for item in transitions:
        if isinstance(item.target, History):
            found.extend(s for s in (item.target.state, item.target.default) if isinstance(s, State))
    return found


def _in_region(state: State) -> CompositeState | None:
    """The nearest parallel state around ``state`` (None if it is in no region)."""
    return next((a for a in ancestors(state) if a.parallel), None)


def _descends(state: State, ancestor: State) -> bool:
    return ancestor in ancestors(state)


def _history_problems(state: State, item: LabeledTransition) -> Iterator[tuple[str, str]]:
    target = item.target
    if not isinstance(target, History):
        return
    what = type(target).__name__
    if target.state is None:
        yield f"targets {what} without naming its compound state", f"write {what}(SomeCompoundState)"
    elif not isinstance(target.state, CompositeState) or target.state.parallel:
        shown = target.state.name if isinstance(target.state, State) else repr(target.state)
        yield (
            f"targets {what}({shown}), but history belongs to a compound state",
            f"write {what}(SomeCompoundState); a plain or parallel state has no history",
        )
    elif target.default is not None and not _descends(target.default, target.state):
        default = getattr(target.default, "name", target.default)
        yield (
            f"targets {what}({target.state.name}, default={default}), "
            f"but the default is not inside {target.state.name}",
            f"name a state nested in {target.state.name} as the default, or leave it out",
        )


def _stack_problems(state: State, item: LabeledTransition) -> Iterator[tuple[str, str]]:
    target = item.target
    if isinstance(target, SpecialTarget) and target.kind in (PUSH, POP):
        parallel = _in_region(state)
        if parallel is not None:
            yield (
                f"uses {'Push' if target.kind == PUSH else 'Pop'} inside a region of parallel state "
                f"{parallel.name}, but the stack belongs to the whole machine and regions run at once",
                "use a compound state with History(...) to come back, or Push/Pop outside the parallel state",
            )


def chart_problems(starts: list[State], transitions: dict[State, list[LabeledTransition]]) -> list[Problem]:
    """Problems with the composite states of one machine: targets, regions, reachability.

    ``starts``: the machine's initial (and error) state; ``transitions``: every state it holds.
    """
    problems: list[Problem] = []
    for state, items in transitions.items():
        for item in items:
            for message, fix in (*_history_problems(state, item), *_stack_problems(state, item)):
                problems.append(Problem(f"state {state.name}", message, fix))
        if isinstance(state, CompositeState) and state.parallel:
            problems.extend(_regions_can_finish(state, transitions))
    problems.extend(_unreachable(starts, transitions))
    return problems


def _can_finish(region: State) -> bool:
    if not isinstance(region, CompositeState):
        return False
    if region.parallel:
        return all(_can_finish(r) for r in region.children)
    return any(c.config.terminal for c in region.children)


def _regions_can_finish(parallel: CompositeState, transitions: dict[State, list[Any]]) -> Iterator[Problem]:
    """A parallel state that waits for completion needs a terminal state in every region."""
    if not any(item.label is Completed for item in transitions.get(parallel, ())):
        return
    for region in parallel.children:
        if not _can_finish(region):
            yield Problem(
                f"state {region.name}",
                f"is a region of parallel state {parallel.name}, which waits for Completed, but it has no "
                f"terminal state, so {parallel.name} could never complete",
                "add a terminal=True child to the region, or drop the Completed transition",
            )


def _targets(item: LabeledTransition) -> list[State]:
    target = item.target
    if isinstance(target, State):
        return [target]
    if isinstance(target, History) and isinstance(target.state, CompositeState):
        return list(target.state.children)  # history may come back to any of them
    if isinstance(target, SpecialTarget) and target.kind == PUSH:
        return list(target.states)  # type: ignore[attr-defined]  # pushed, and returned to by Pop
    return []


def _unreachable(starts: list[State], transitions: dict[State, list[LabeledTransition]]) -> Iterator[Problem]:
    """Children that no run can enter: not entered by default, by a transition or by history."""
    seen: set[State] = set()
    pending = list(starts)
    while pending:
        state = pending.pop()
        if state in seen:
            continue
        seen.add(state)
        pending.extend(ancestors(state))  # entering a state enters the states around it
        if isinstance(state, CompositeState):
            pending.extend(state.children if state.parallel else (state.initial,))  # type: ignore[arg-type]
        for item in transitions.get(state, ()):
            pending.extend(_targets(item))
    for state in transitions:
        parent = _parents.get(state)
        if state not in seen and parent is not None:
            yield Problem(
                f"state {state.name}",
                f"is a child of {parent.name} that no run can enter: it is not the initial child and no "
                f"reachable transition targets it",
                "add a transition to it, make it the initial child, or remove it",
            )
