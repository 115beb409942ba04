"""Turning state specs into a validated, compiled :class:`~.plan.MachineSpec`.

Compiling a machine reads every state reachable from its initial state (and its error state): its
handlers are bound to the names they use (:mod:`.names`), its ``transitions()`` is called, and each
validation rule (:mod:`.checks`, and those about the whole machine below) looks at it.  Every
problem found is collected and raised at once as one :class:`DefinitionError`.  Nothing here looks
at a state the machine cannot reach.

Compiled specs are cached here, keyed by the initial state (or group) and the error state; the
specs themselves never hold a compiled artefact.  A spec stays cached while any machine uses it, and
the most recently used ones stay cached even when no machine is alive.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from enum import EnumType
from typing import Any

import attrs

from ..common.callables import is_async_callable, local_name
from ..common.errors import DefinitionError, DefinitionTypeError, ExecutionError, Problem, did_you_mean
from . import checks, compound, guards, hierarchy, history, registry
from .checks import Finding
from .names import bind, scope, unresolved
from .plan import MachineSpec, Node, Op
from .states import State, StateGroup
from .targets import GOTO, POP, PUSH, RETRY, LabeledTransition, SpecialTarget
from .views import viewed

__all__ = ["SPECS", "STUCK", "MachineSpec", "MissingOnTimeout", "compile_machine", "machine_spec"]

log = logging.getLogger("mycorrhizal.septum")

Handler = Callable[..., Any]

#: What is wrong with a state of a flat machine that has no transitions and is not terminal
#: (the SCXML import says it again in the document's terms).
STUCK = "has no transitions and is not terminal, so the machine could never leave it"


class _Reading:
    """One state as a machine sees it: bound handlers, declared (label, target) pairs, problems,
    and warnings (what 0.x accepted and this library accepts too, saying so; strict machines refuse
    them)."""

    __slots__ = ("state", "handlers", "transitions", "problems", "warnings")

    def __init__(self, state: State) -> None:
        self.state = state
        self.handlers: dict[str, Handler] = {}
        #: Declared transitions, targets in instance form (``Retry`` -> ``Retry()``).
        self.transitions: list[LabeledTransition] = []
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, findings: Iterator[Finding]) -> None:
        self.problems.extend(Problem(f"state {self.state.name}", m, fix) for m, fix in findings)

    def warn(self, findings: Iterator[Finding]) -> None:
        self.warnings.extend(Problem(f"state {self.state.name}", m, fix) for m, fix in findings)

    def note(self, message: str, fix: str) -> None:
        self.problems.append(Problem(f"state {self.state.name}", message, fix))


# --- reading one state -------------------------------------------------------------------------


def _read_handlers(reading: _Reading, group: StateGroup | None) -> None:
    names = scope(reading.state, group)
    for role, fns in reading.state.handlers.items():
        before = len(reading.problems)
        reading.add(checks.one_per_role(role, fns))
        fn = bind(fns[0], names)
        reading.handlers[role] = fn
        reading.add(checks.arity(role, fn))
        reading.add(checks.not_a_generator(role, fn))
        reading.add(checks.plain_transitions(role, fn))
        reading.add(checks.known_names(role, fn, unresolved(fns[0], names), names))
        if role == "transitions" and len(reading.problems) > before:
            del reading.handlers[role]  # calling it would only fail for the reason already given
        elif role != "transitions" and len(reading.problems) == before:
            try:
                reading.handlers[role] = viewed(fn)  # ctx: Context[Interface] sees common through it
            except DefinitionError as err:
                reading.problems.extend(err.problems)


# --- rules about declared transitions -------------------------------------------------------------


def _declared(declare: Handler, reading: _Reading) -> list[Any] | tuple[Any, ...]:
    """What ``transitions()`` returns, or nothing if it cannot be called or returns no list."""
    try:
        declared = declare()
    except NameError as exc:
        reading.note(
            f"transitions() refers to an undefined name ({exc})",
            "define or import it where the state is declared",
        )
        return []
    except Exception as exc:  # report, with the others, rather than stop at the first
        reading.note(f"transitions() raised {type(exc).__name__}: {exc}", _raised_fix(exc))
        return []
    if isinstance(declared, LabeledTransition):  # one transition, not in a list (0.x accepted it)
        return [declared]
    if not isinstance(declared, list | tuple):
        reading.note(
            f"transitions() returned {type(declared).__name__}, not a list",
            "return a list of LabeledTransition(label, target)",
        )
        return []
    return declared


def _raised_fix(exc: Exception) -> str:
    """What to do about ``exc``, raised by ``transitions()``: often a misspelt label (``Events.DONEE``)."""
    owner, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if not isinstance(exc, AttributeError) or not isinstance(owner, EnumType) or name is None:
        return "make transitions() return a list"
    members = list(owner.__members__)
    return did_you_mean(name, members, f"use one of {owner.__name__}'s members: {', '.join(members)}")


def _read_transitions(reading: _Reading) -> None:
    declare = reading.handlers.get("transitions")
    if declare is None or is_async_callable(declare):
        return
    declared = _declared(declare, reading)
    if reading.state.config.terminal:
        reading.warn(checks.terminal_transitions(declared))  # 0.x ignored them: they are not followed
        return
    seen: dict[Any, bool] = {}  # label -> every transition of it so far has a guard
    for item in declared:
        if isinstance(item, LabeledTransition):  # 0.x's StateRef targets, by registered name
            unknown = registry.missing(item.target)
            for ref in unknown:
                reading.note(
                    f"StateRef({ref.state!r}) names no registered state", registry.fix_for(ref.state)
                )
            if unknown:
                continue
            item = attrs.evolve(item, target=registry.resolved(item.target))
        before = len(reading.problems)
        reading.add(checks.label(item, seen))
        if len(reading.problems) == before:
            reading.add(checks.target(item))
            reading.add(guards.check(item))
        if len(reading.problems) != before:
            continue
        seen[item.label] = item.guard is not None
        target = item.target() if isinstance(item.target, type) else item.target  # Retry -> Retry()
        if (
            isinstance(target, SpecialTarget)
            and target.kind == RETRY
            and reading.state.config.retries is None
        ):
            log.debug("state %s retries without a budget (no StateConfiguration.retries)", reading.state.name)
        reading.transitions.append(attrs.evolve(item, target=target))


def _can_leave(reading: _Reading) -> Iterator[Finding]:
    cfg = reading.state.config
    if compound.is_chart((reading.state,)):
        return  # left by the transitions of the states around it, or when its composite state completes
    stuck = not cfg.terminal and not cfg.can_dwell and not reading.transitions and not reading.problems
    if stuck and "transitions" not in reading.handlers:
        yield (
            STUCK,
            "add @septum.transitions, mark it terminal=True, or can_dwell=True if it should wait for ever",
        )


def _empty_transitions(reading: _Reading) -> Iterator[Finding]:
    """A warning (0.x accepted ``transitions()`` returning ``[]``): the state waits for ever."""
    cfg = reading.state.config
    stuck = not cfg.terminal and not cfg.can_dwell and not reading.transitions and not reading.problems
    if stuck and "transitions" in reading.handlers and not compound.is_chart((reading.state,)):
        yield (
            "declares no transitions and is not terminal, so the machine can never leave it: it waits "
            "for ever",
            "add a LabeledTransition, or say so with StateConfiguration(can_dwell=True)",
        )


def read_state(state: State, group: StateGroup | None) -> _Reading:
    """Resolve one state's handlers and transitions, checking every rule about the state alone."""
    reading = _Reading(state)
    _read_handlers(reading, group)
    roles = set(state.handlers)  # as declared (a broken transitions() is dropped from the handlers)
    for rule in checks.STATE_RULES:
        reading.add(rule(state, roles))
    for rule in checks.STATE_WARNINGS:
        reading.warn(rule(state, roles))
    _read_transitions(reading)
    reading.add(_can_leave(reading))
    reading.warn(_empty_transitions(reading))
    return reading


# --- rules about the whole machine ----------------------------------------------------------------


def _pop_has_push(readings: dict[State, _Reading]) -> Iterator[Problem]:
    kinds = {
        t.target.kind for r in readings.values() for t in r.transitions if isinstance(t.target, SpecialTarget)
    }
    if POP in kinds and PUSH not in kinds:
        popper = next(
            s
            for s, r in readings.items()
            if any(isinstance(t.target, SpecialTarget) and t.target.kind == POP for t in r.transitions)
        )
        yield Problem(
            f"state {popper.name}",
            "can Pop, but no reachable state ever Pushes",
            "Push(...) into it from a caller, or target a state instead of Pop",
        )


def _members_reachable(group: StateGroup | None, readings: dict[State, _Reading]) -> Iterator[Problem]:
    if group is None:
        return
    for member in group.states:
        if member not in readings:
            yield Problem(
                f"state {member.name}",
                f"is declared in group {local_name(group.name)} but unreachable from its initial state "
                f"{group.initial.name}",
                "add a transition to it, or remove it from the group",
            )


# --- building ------------------------------------------------------------------------------------


def _read_reachable(starts: list[State], group: StateGroup | None) -> dict[State, _Reading]:
    readings: dict[State, _Reading] = {}
    pending = list(starts)
    while pending:
        state = pending.pop(0)
        if state in readings:
            continue
        reading = readings[state] = read_state(state, group)
        pending.extend(compound.related(state, reading.transitions))  # parent, children, history
        for item in reading.transitions:
            target = item.target
            if isinstance(target, State):
                pending.append(target)
            elif target.kind == PUSH:
                pending.extend(target.states)
    return readings


def _op(node: Node, label: Any, target: Any, nodes: dict[State, Node]) -> Op:
    if isinstance(target, State):
        dest = nodes[target]
        op = Op(GOTO, dest, (), label)
        op.fast = (
            node.on_leave is None
            and node.timeout is None
            and dest.on_enter is None
            and dest.timeout is None
            and not dest.terminal
        )
        return op
    if target.kind == PUSH:
        first, *rest = (nodes[s] for s in target.states)
        return Op(PUSH, first, tuple(rest), label)
    if isinstance(target, history.History):
        return history.op(target, label, nodes)
    return Op(target.kind, None, (), label)


def _maker(node: Node, nodes: dict[State, Node]) -> Callable[[LabeledTransition], Op]:
    """What builds the op of each of ``node``'s declared transitions."""
    return lambda item: _op(node, item.label, item.target, nodes)


def _check_root(root: Any, error_state: Any) -> None:
    if not isinstance(root, State | StateGroup):
        raise DefinitionTypeError(
            [
                Problem(
                    "StateMachine",
                    f"a machine starts from a @septum.state or a septum.group, got {root!r}",
                    "pass the initial state (or the group) of the machine",
                )
            ],
            what="StateMachine",
        )
    if error_state is not None and not isinstance(error_state, State):
        raise DefinitionTypeError(
            [
                Problem(
                    "StateMachine",
                    f"error_state must be a @septum.state, got {error_state!r}",
                    "pass a state decorated with @septum.state, or None",
                )
            ],
            what="StateMachine",
        )


class MissingOnTimeout(ExecutionError):
    """Raised by the stand-in ``on_timeout`` of a timed state that declares none; its message says
    what happened and what to do (no handler of the user's raised, so none is blamed)."""


def _missing_on_timeout(state: State) -> Handler:
    """What runs when the timer of a state without ``on_timeout`` fires: a handler error, as 0.x's
    ``ValueError("State X has no on_timeout handler")`` was.  Checked here, where the timer fires, so
    that no step pays for it."""
    message = (
        f"timed out (timeout={state.config.timeout}) but declares no @septum.on_timeout handler. Fix: add an "
        f"@septum.on_timeout handler returning a label, or drop timeout= from its StateConfiguration"
    )

    def on_timeout(ctx: Any) -> None:
        raise MissingOnTimeout(message, state=state.name)

    return on_timeout


def _handlers(reading: _Reading) -> dict[str, Handler]:
    """The handlers a node runs: the state's own, and a stand-in on_timeout for a timed state without one."""
    handlers, config = reading.handlers, reading.state.config
    if config.timeout is not None and not config.terminal and "on_timeout" not in handlers:
        handlers = {**handlers, "on_timeout": _missing_on_timeout(reading.state)}
    return handlers


def _named(state: Any, role: str) -> Any:
    """``state``, or the registered state it names (0.x's ``StateRef("module.Name")``, or that name
    as the initial state)."""
    ref = registry.StateRef(state) if isinstance(state, str) and role == "initial_state" else state
    if not isinstance(ref, registry.StateRef):
        return state
    found = registry.get_state(ref.state)
    if found is None:
        raise DefinitionError(
            [Problem("StateMachine", f"{role}={state!r} names no registered state", registry.fix_for(state))],
            what="StateMachine",
        )
    return found


def compile_machine(
    root: State | StateGroup, error_state: State | None = None, *, strict: bool = False
) -> MachineSpec:
    """Validate and compile the machine starting at ``root`` (no cache: see :func:`machine_spec`).

    What 0.x accepted (see :data:`STATE_WARNINGS`) is logged as a WARNING and kept in
    ``spec.warnings``; with ``strict`` it is refused like any other problem.
    """
    _check_root(root, error_state)
    group = root if isinstance(root, StateGroup) else None
    initial = root.initial if isinstance(root, StateGroup) else root
    name = f"state machine {local_name(group.name) if group else initial.name}"
    starts = [initial] + ([error_state] if error_state is not None else [])
    readings = _read_reachable(starts, group)
    problems = [p for r in readings.values() for p in r.problems]
    problems.extend(_pop_has_push(readings))
    problems.extend(_members_reachable(group, readings))
    problems.extend(compound.chart_problems(starts, {s: r.transitions for s, r in readings.items()}))
    warnings = [p for r in readings.values() for p in r.warnings]
    DefinitionError.raise_if_any(problems + warnings if strict else problems, what=name)
    chart = compound.is_chart(readings)
    kind = hierarchy.ChartNode if chart else Node
    nodes = {state: kind(state, _handlers(reading)) for state, reading in readings.items()}
    for state, reading in readings.items():
        node = nodes[state]
        node.link(guards.link(reading.transitions, _maker(node, nodes)))
    if chart:
        spec: MachineSpec = hierarchy.chart_spec(root, initial, error_state, nodes, group)
    else:
        spec = MachineSpec(
            root, nodes[initial], nodes[error_state] if error_state is not None else None, nodes, group
        )
    spec.warnings = tuple(warnings)
    for warning in warnings:
        log.warning("%s: %s (accepted; StateMachine(..., strict=True) refuses it)", name, warning)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("compiled machine %s: %d states", spec.shown, len(nodes))
    return spec


# --- the cache -----------------------------------------------------------------------------------

#: How many recently used specs stay cached when no machine holds them.
RECENT = 256
#: The recently used specs, by initial state or group (with an error state: by both, as a pair).
SPECS: dict[Any, MachineSpec] = {}
_live: weakref.WeakValueDictionary[Any, MachineSpec] = weakref.WeakValueDictionary()


def machine_spec(
    root: State | StateGroup | registry.StateRef | str,
    error_state: State | registry.StateRef | None = None,
    *,
    strict: bool = False,
) -> MachineSpec:
    """The compiled spec of the machine starting at ``root``: built once, then shared.

    ``strict``: what 0.x accepted (``spec.warnings``) is a :class:`DefinitionError` too.  Either
    state may be given as 0.x's ``StateRef("module.Name")``, the initial one also by that name alone.
    """
    start: State | StateGroup = (
        _named(root, "initial_state") if isinstance(root, registry.StateRef | str) else root
    )
    error: State | None = (
        _named(error_state, "error_state") if isinstance(error_state, registry.StateRef) else error_state
    )
    key = start if error is None else (start, error)
    try:
        spec = SPECS.get(key)
    except TypeError:  # not hashable, so certainly not a state: compile_machine says so
        spec = None
    if spec is not None:
        if strict:
            DefinitionError.raise_if_any(spec.warnings, what=f"state machine {spec.shown}")
        return spec
    spec = _live.get(key)
    if spec is None:
        # A failed build raises here, and is not cached.
        spec = compile_machine(start, error, strict=strict)
        _live[key] = spec
    elif strict:
        DefinitionError.raise_if_any(spec.warnings, what=f"state machine {spec.shown}")
    if len(SPECS) >= RECENT:
        del SPECS[next(iter(SPECS))]  # the oldest: it is still shared while a machine holds it
    SPECS[key] = spec
    return spec
