"""Turning state specs into a validated, compiled :class:`~.plan.MachineSpec`.

Compiling a machine reads every state reachable from its initial state (and its error state): its
handlers are bound to the names they use (:mod:`.names`), its ``transitions()`` is called, and each
validation rule below looks at it.  Every problem found is collected and raised at once as one
:class:`DefinitionError`.  Nothing here looks at a state the machine cannot reach.

Compiled specs are cached here, keyed by the initial state (or group) and the error state; the
specs themselves never hold a compiled artefact.  A spec stays cached while any machine uses it, and
the most recently used ones stay cached even when no machine is alive.
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ..common.callables import is_async_callable
from ..common.errors import DefinitionError, DefinitionTypeError, Problem
from . import guards
from .names import bind, scope, unresolved
from .plan import MachineSpec, Node, Op, label_text
from .states import State, StateGroup
from .targets import GOTO, POP, PUSH, RETRY, LabeledTransition, SpecialTarget

__all__ = ["SPECS", "MachineSpec", "compile_machine", "machine_spec"]

log = logging.getLogger("mycorrhizal.septum")

Handler = Callable[..., Any]
Finding = tuple[str, str]  # (what is wrong, how to fix it), about the state being checked


class _Reading:
    """One state as a machine sees it: bound handlers, declared (label, target) pairs, problems."""

    __slots__ = ("state", "handlers", "transitions", "problems")

    def __init__(self, state: State) -> None:
        self.state = state
        self.handlers: dict[str, Handler] = {}
        #: Declared transitions, targets in instance form (``Retry`` -> ``Retry()``).
        self.transitions: list[LabeledTransition] = []
        self.problems: list[Problem] = []

    def add(self, findings: Iterator[Finding]) -> None:
        self.problems.extend(Problem(f"state {self.state.qualname}", m, fix) for m, fix in findings)

    def note(self, message: str, fix: str) -> None:
        self.problems.append(Problem(f"state {self.state.qualname}", message, fix))


# --- rules about one handler ---------------------------------------------------------------------


def _one_per_role(role: str, fns: tuple[Handler, ...]) -> Iterator[Finding]:
    if len(fns) > 1:
        yield f"declares {len(fns)} @septum.{role} handlers", f"keep exactly one @septum.{role}"


def _arity(role: str, fn: Handler) -> Iterator[Finding]:
    want = 0 if role == "transitions" else 1
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return  # builtins and the like: trust them
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    if len(required) > want or (len(positional) < want and not variadic):
        shape = "no arguments" if want == 0 else "one argument, ctx"
        yield (
            f"handler {role} ({fn.__name__}) must take {shape}",
            f"define it as `def {fn.__name__}({'' if want == 0 else 'ctx'})`",
        )


def _plain_transitions(role: str, fn: Handler) -> Iterator[Finding]:
    if role == "transitions" and is_async_callable(fn) and not inspect.isasyncgenfunction(fn):
        yield (
            "@septum.transitions must be a plain function, not async",
            "drop `async` from transitions(); it only returns a list",
        )


def _not_a_generator(role: str, fn: Handler) -> Iterator[Finding]:
    kind = "an async generator" if inspect.isasyncgenfunction(fn) else "a generator"
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        yield (
            f"handler {role} ({fn.__name__}) is {kind} function (it uses yield), so calling it "
            f"runs nothing and returns {kind}",
            "return the label instead of yielding it"
            if role != "transitions"
            else "return the list of LabeledTransition instead of yielding them",
        )


def _known_names(role: str, fn: Handler, missing: list[str]) -> Iterator[Finding]:
    for name in missing:
        hint = (
            "define `class Events(Enum)` inside the state (or import the Enum it means)"
            if name == "Events"
            else f"define or import {name!r} where the state is declared"
        )
        yield (
            f"handler {role} refers to {name!r}, which is not defined in the state, its "
            f"enclosing classes or its module",
            hint,
        )


def _read_handlers(reading: _Reading, group: StateGroup | None) -> None:
    names = scope(reading.state, group)
    for role, fns in reading.state.handlers.items():
        before = len(reading.problems)
        reading.add(_one_per_role(role, fns))
        fn = bind(fns[0], names)
        reading.handlers[role] = fn
        reading.add(_arity(role, fn))
        reading.add(_not_a_generator(role, fn))
        reading.add(_plain_transitions(role, fn))
        reading.add(_known_names(role, fn, unresolved(fns[0], names)))
        if role == "transitions" and len(reading.problems) > before:
            del reading.handlers[role]  # calling it would only fail for the reason already given


# --- rules about a state's configuration ----------------------------------------------------------


def _terminal_runs_nothing(state: State, roles: set[str]) -> Iterator[Finding]:
    if not state.config.terminal:
        return
    for role in ("on_state", "transitions", "on_timeout", "on_fail"):
        if role in roles:
            yield (
                f"is terminal but declares {role}, which would never run",
                "move final work to on_enter, or drop terminal=True",
            )
    if state.config.timeout is not None or state.config.retries is not None:
        yield "is terminal but has a timeout or retries", "drop them: a terminal state never runs again"


def _has_on_state(state: State, roles: set[str]) -> Iterator[Finding]:
    if not state.config.terminal and "on_state" not in roles:
        yield (
            "has no @septum.on_state handler",
            "add `@septum.on_state async def on_state(ctx): ...`, or mark the state "
            "StateConfiguration(terminal=True) if the machine ends here",
        )


def _timeout_has_handler(state: State, roles: set[str]) -> Iterator[Finding]:
    timeout = state.config.timeout
    if state.config.terminal:
        return
    if timeout is not None and "on_timeout" not in roles:
        yield (
            f"has timeout={timeout} but no @septum.on_timeout handler",
            "add an on_timeout handler returning a label, or drop the timeout",
        )
    if timeout is None and "on_timeout" in roles:
        yield (
            "declares on_timeout but no timeout, so it would never run",
            "set StateConfiguration(timeout=...) or remove on_timeout",
        )


def _retries_have_handler(state: State, roles: set[str]) -> Iterator[Finding]:
    retries = state.config.retries
    if state.config.terminal:
        return
    if retries is not None and "on_fail" not in roles:
        yield (
            f"has retries={retries} but no @septum.on_fail handler",
            "add an on_fail handler saying where to go when retries run out",
        )
    if retries is None and "on_fail" in roles:
        yield (
            "declares on_fail but no retries, so it would never run",
            "set StateConfiguration(retries=...) or remove on_fail",
        )


STATE_RULES = (_terminal_runs_nothing, _has_on_state, _timeout_has_handler, _retries_have_handler)


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
        reading.note(f"transitions() raised {type(exc).__name__}: {exc}", "make transitions() return a list")
        return []
    if not isinstance(declared, list | tuple):
        reading.note(
            f"transitions() returned {type(declared).__name__}, not a list",
            "return a list of LabeledTransition(label, target)",
        )
        return []
    return declared


def _label(item: Any, seen: dict[Any, bool]) -> Iterator[Finding]:
    if not isinstance(item, LabeledTransition):
        yield (
            f"transitions() lists {item!r}, which is not a LabeledTransition",
            "wrap it: LabeledTransition(label, target)",
        )
        return
    try:
        # A label may come back only after guarded transitions: an unguarded one always wins.
        duplicate = seen.get(item.label) is False
    except TypeError:
        yield f"label {item.label!r} is not hashable", "use Enum members (or strings) as labels"
        return
    if duplicate:
        yield (
            f"uses label {label_text(item.label)} twice, and the earlier transition has no guard, so "
            f"the later one could never be taken",
            "give each transition its own label, or a guard= to every transition of the label but the last",
        )
    elif item.label is None:
        yield "uses None as a label, but None means 'no transition'", "use an Enum member"


def _target(item: LabeledTransition) -> Iterator[Finding]:
    target, text = item.target, label_text(item.label)
    if isinstance(target, type) and issubclass(target, SpecialTarget) and target.kind == PUSH:
        yield f"label {text} targets Push without states", "write Push(FirstState, ReturnState, ...)"
    elif isinstance(target, SpecialTarget) and target.kind == PUSH:
        pushed = target.states  # type: ignore[attr-defined]
        if not pushed or any(not isinstance(s, State) for s in pushed):
            yield (
                f"label {text}: Push needs septum states, got {pushed!r}",
                "decorate each with @septum.state",
            )
    elif not isinstance(target, State | SpecialTarget) and not (
        isinstance(target, type) and issubclass(target, SpecialTarget)
    ):
        what = (
            f"class {target.__qualname__}, which is not decorated with @septum.state"
            if isinstance(target, type)
            else repr(target)
        )
        yield (
            f"label {text} targets {what}",
            "target a @septum.state, or Again/Unhandled/Retry/Repeat/Restart/Push(...)/Pop",
        )


def _read_transitions(reading: _Reading) -> None:
    declare = reading.handlers.get("transitions")
    if declare is None or is_async_callable(declare):
        return
    seen: dict[Any, bool] = {}  # label -> every transition of it so far has a guard
    for item in _declared(declare, reading):
        before = len(reading.problems)
        reading.add(_label(item, seen))
        if len(reading.problems) == before:
            reading.add(_target(item))
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
    if not cfg.terminal and not cfg.can_dwell and not reading.transitions and not reading.problems:
        yield (
            "has no transitions and is not terminal, so the machine could never leave it",
            "add @septum.transitions, mark it terminal=True, or can_dwell=True if it should wait for ever",
        )


def read_state(state: State, group: StateGroup | None) -> _Reading:
    """Resolve one state's handlers and transitions, checking every rule about the state alone."""
    reading = _Reading(state)
    _read_handlers(reading, group)
    roles = set(state.handlers)  # as declared (a broken transitions() is dropped from the handlers)
    for rule in STATE_RULES:
        reading.add(rule(state, roles))
    _read_transitions(reading)
    reading.add(_can_leave(reading))
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
            f"state {popper.qualname}",
            "can Pop, but no reachable state ever Pushes",
            "Push(...) into it from a caller, or target a state instead of Pop",
        )


def _members_reachable(group: StateGroup | None, readings: dict[State, _Reading]) -> Iterator[Problem]:
    if group is None:
        return
    for member in group.states:
        if member not in readings:
            yield Problem(
                f"state {member.qualname}",
                f"is declared in group {group.name} but unreachable from its initial state "
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


def compile_machine(root: State | StateGroup, error_state: State | None = None) -> MachineSpec:
    """Validate and compile the machine starting at ``root`` (no cache: see :func:`machine_spec`)."""
    _check_root(root, error_state)
    group = root if isinstance(root, StateGroup) else None
    initial = root.initial if isinstance(root, StateGroup) else root
    readings = _read_reachable([initial] + ([error_state] if error_state is not None else []), group)
    problems = [p for r in readings.values() for p in r.problems]
    problems.extend(_pop_has_push(readings))
    problems.extend(_members_reachable(group, readings))
    DefinitionError.raise_if_any(problems, what=f"state machine {group.name if group else initial.name}")
    nodes = {state: Node(state, reading.handlers) for state, reading in readings.items()}
    for state, reading in readings.items():
        node = nodes[state]
        node.link(guards.link(reading.transitions, _maker(node, nodes)))
    spec = MachineSpec(
        root, nodes[initial], nodes[error_state] if error_state is not None else None, nodes, group
    )
    if log.isEnabledFor(logging.DEBUG):
        log.debug("compiled machine %s: %d states", spec.name, len(nodes))
    return spec


# --- the cache -----------------------------------------------------------------------------------

#: How many recently used specs stay cached when no machine holds them.
RECENT = 256
#: The recently used specs, by initial state or group (with an error state: by both, as a pair).
SPECS: dict[Any, MachineSpec] = {}
_live: weakref.WeakValueDictionary[Any, MachineSpec] = weakref.WeakValueDictionary()


def machine_spec(root: State | StateGroup, error_state: State | None = None) -> MachineSpec:
    """The compiled spec of the machine starting at ``root``: built once, then shared."""
    key = root if error_state is None else (root, error_state)
    try:
        spec = SPECS.get(key)
    except TypeError:  # not hashable, so certainly not a state: compile_machine says so
        spec = None
    if spec is not None:
        return spec
    spec = _live.get(key)
    if spec is None:
        spec = compile_machine(root, error_state)  # a failed build raises here, and is not cached
        _live[key] = spec
    if len(SPECS) >= RECENT:
        del SPECS[next(iter(SPECS))]  # the oldest: it is still shared while a machine holds it
    SPECS[key] = spec
    return spec
