"""Turning state specs into validated, compiled machine specs.

Each state is analysed once (handlers bound to their scope, ``transitions()`` called, every problem
collected) and compiled into a :class:`Node` whose transition table is a dict from label to an
operation.  A :class:`MachineSpec` is the set of nodes reachable from an initial state (and the error
state), validated together; it is cached on the initial state, so every machine built from the same
initial state shares it.  Nothing here looks at any state the machine cannot reach.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

from ..common.callables import is_async_callable
from ..common.errors import DefinitionError, Problem
from .scope import bind, injected_names, unresolved
from .state import ROLES, State, StateGroup
from .targets import (
    GOTO,
    POP,
    PUSH,
    RETRY,
    LabeledTransition,
    SpecialTarget,
)

__all__ = ["MachineSpec", "Node", "Op", "label_text", "machine_spec"]

log = logging.getLogger("mycorrhizal.septum")

Handler = Callable[..., Any]


def label_text(label: Any) -> str:
    """A label as people read it: ``DONE`` for ``Events.DONE``, else ``str(label)``."""
    return label.name if isinstance(label, Enum) else str(label)


class Op:
    """One compiled transition: what a label does, where it goes, and whether it can take the
    fast path (no enter/leave hooks, no timer, not terminal)."""

    __slots__ = ("kind", "target", "stack", "label", "fast")

    def __init__(self, kind: int, target: Node | None, stack: tuple[Node, ...], label: Any) -> None:
        self.kind = kind
        self.target = target
        self.stack = stack  # states Push leaves on the stack, top first
        self.label = label
        self.fast = False


class Node:
    """A compiled state: its handlers (bound, with async flags), config and transition table."""

    __slots__ = (
        "state",
        "name",
        "on_state",
        "on_state_async",
        "on_enter",
        "on_enter_async",
        "on_leave",
        "on_leave_async",
        "on_timeout",
        "on_timeout_async",
        "on_fail",
        "on_fail_async",
        "table",
        "by_id",
        "timeout",
        "retries",
        "terminal",
        "quick",
    )

    on_state: Handler | None
    on_state_async: bool
    on_enter: Handler | None
    on_enter_async: bool
    on_leave: Handler | None
    on_leave_async: bool
    on_timeout: Handler | None
    on_timeout_async: bool
    on_fail: Handler | None
    on_fail_async: bool

    def __init__(self, state: State, handlers: dict[str, Handler]) -> None:
        self.state = state
        self.name = state.name
        cfg = state.config
        self.timeout = cfg.timeout
        self.retries = cfg.retries
        self.terminal = cfg.terminal
        for role in ("on_state", "on_enter", "on_leave", "on_timeout", "on_fail"):
            fn = handlers.get(role)
            setattr(self, role, fn)
            setattr(self, f"{role}_async", fn is not None and is_async_callable(fn))
        # tick() may take its one-frame path: an async on_state that no timer can interrupt.
        self.quick = bool(self.on_state_async) and self.timeout is None
        self.table: dict[Any, Op] = {}
        # The same table keyed by id(label): Enum members hash in Python code, ids hash in C.  The
        # table keeps every label alive, so an id here cannot be reused by another object.
        self.by_id: dict[int, Op] = {}

    def __repr__(self) -> str:
        return f"<septum node {self.name}>"


class _Analysis:
    """What one state declares, resolved: bound handlers and raw (label, target) pairs."""

    __slots__ = ("handlers", "transitions", "problems")

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.transitions: list[tuple[Any, Any]] = []
        self.problems: list[Problem] = []


def _analyse(state: State) -> _Analysis:
    cached: _Analysis | None = state._cache.get("analysis")
    if cached is not None:
        return cached
    out = _Analysis()
    subject = f"state {state.qualname}"

    def problem(message: str, fix: str) -> None:
        out.problems.append(Problem(subject, message, fix))

    names = injected_names(state)
    for role, fns in state.handlers.items():
        if len(fns) > 1:
            problem(f"declares {len(fns)} @septum.{role} handlers", f"keep exactly one @septum.{role}")
        fn = bind(fns[0], state, names)
        out.handlers[role] = fn
        want = 0 if role == "transitions" else 1
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            params = None  # builtins and the like: trust them
        if params is not None:
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            required = [p for p in positional if p.default is p.empty]
            variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
            if len(required) > want or (len(positional) < want and not variadic):
                shape = "no arguments" if want == 0 else "one argument, ctx"
                problem(
                    f"handler {role} ({fn.__name__}) must take {shape}",
                    f"define it as `def {fn.__name__}({'' if want == 0 else 'ctx'})`",
                )
        if role == "transitions" and is_async_callable(fn):
            problem(
                "@septum.transitions must be a plain function, not async",
                "drop `async` from transitions(); it only returns a list",
            )
        missing = unresolved(fn, names)
        if missing and role == "transitions":
            out.handlers.pop(role)  # calling it would only fail on the same names
        for name in missing:
            hint = (
                "define `class Events(Enum)` inside the state (or import the Enum it means)"
                if name == "Events"
                else f"define or import {name!r} where the state is declared"
            )
            problem(
                f"handler {role} refers to {name!r}, which is not defined in the state, its "
                f"enclosing classes or its module",
                hint,
            )

    cfg = state.config
    has = out.handlers.__contains__
    if cfg.terminal:
        for role in ("on_state", "transitions", "on_timeout", "on_fail"):
            if has(role):
                problem(
                    f"is terminal but declares {role}, which would never run",
                    "move final work to on_enter, or drop terminal=True",
                )
        if cfg.timeout is not None or cfg.retries is not None:
            problem(
                "is terminal but has a timeout or retries", "drop them: a terminal state never runs again"
            )
    else:
        if not has("on_state"):
            problem(
                "has no @septum.on_state handler",
                "add `@septum.on_state async def on_state(ctx): ...`, or mark the state "
                "StateConfiguration(terminal=True) if the machine ends here",
            )
        if cfg.timeout is not None and not has("on_timeout"):
            problem(
                f"has timeout={cfg.timeout} but no @septum.on_timeout handler",
                "add an on_timeout handler returning a label, or drop the timeout",
            )
        if cfg.timeout is None and has("on_timeout"):
            problem(
                "declares on_timeout but no timeout, so it would never run",
                "set StateConfiguration(timeout=...) or remove on_timeout",
            )
        if cfg.retries is not None and not has("on_fail"):
            problem(
                f"has retries={cfg.retries} but no @septum.on_fail handler",
                "add an on_fail handler saying where to go when retries run out",
            )
        if cfg.retries is None and has("on_fail"):
            problem(
                "declares on_fail but no retries, so it would never run",
                "set StateConfiguration(retries=...) or remove on_fail",
            )

    declare = out.handlers.get("transitions")
    if declare is not None and not is_async_callable(declare):
        try:
            declared = declare()
        except NameError as exc:
            problem(
                f"transitions() refers to an undefined name ({exc})",
                "define or import it where the state is declared",
            )
            declared = []
        except Exception as exc:  # report, with the others, rather than stop at the first
            problem(f"transitions() raised {type(exc).__name__}: {exc}", "make transitions() return a list")
            declared = []
        if not isinstance(declared, list | tuple):
            problem(
                f"transitions() returned {type(declared).__name__}, not a list",
                "return a list of LabeledTransition(label, target)",
            )
            declared = []
        seen: set[Any] = set()
        for item in declared:
            if not isinstance(item, LabeledTransition):
                problem(
                    f"transitions() lists {item!r}, which is not a LabeledTransition",
                    "wrap it: LabeledTransition(label, target)",
                )
                continue
            try:
                duplicate = item.label in seen
            except TypeError:
                problem(f"label {item.label!r} is not hashable", "use Enum members (or strings) as labels")
                continue
            if duplicate:
                problem(
                    f"uses label {label_text(item.label)} twice",
                    "give each transition its own label (one label, one target)",
                )
                continue
            if item.label is None:
                problem("uses None as a label, but None means 'no transition'", "use an Enum member")
                continue
            seen.add(item.label)
            target = item.target
            if isinstance(target, type) and issubclass(target, SpecialTarget):
                if target.kind == PUSH:
                    problem(
                        f"label {label_text(item.label)} targets Push without states",
                        "write Push(FirstState, ReturnState, ...)",
                    )
                    continue
                target = target()
            if isinstance(target, SpecialTarget):
                if target.kind == PUSH:
                    pushed = target.states  # type: ignore[attr-defined]
                    bad = [s for s in pushed if not isinstance(s, State)]
                    if not pushed or bad:
                        problem(
                            f"label {label_text(item.label)}: Push needs septum states, got {pushed!r}",
                            "decorate each with @septum.state",
                        )
                        continue
                if target.kind == RETRY and cfg.retries is None:
                    log.debug("state %s retries without a budget (no StateConfiguration.retries)", state.name)
            elif not isinstance(target, State):
                what = (
                    "a class not decorated with @septum.state" if isinstance(target, type) else repr(target)
                )
                problem(
                    f"label {label_text(item.label)} targets {what}",
                    "target a @septum.state, or Again/Unhandled/Retry/Repeat/Restart/Push(...)/Pop",
                )
                continue
            out.transitions.append((item.label, target))
    if not cfg.terminal and not cfg.can_dwell and not out.transitions and not out.problems:
        problem(
            "has no transitions and is not terminal, so the machine could never leave it",
            "add @septum.transitions, mark it terminal=True, or can_dwell=True if it should wait for ever",
        )
    if not out.problems:
        state._cache["analysis"] = out  # failures are not cached: a later build re-resolves names
    return out


class MachineSpec:
    """The validated, compiled states of one machine: shared by every instance built from it."""

    __slots__ = ("initial", "error", "nodes", "group", "root")

    def __init__(
        self,
        root: State | StateGroup,
        initial: Node,
        error: Node | None,
        nodes: dict[State, Node],
        group: StateGroup | None,
    ) -> None:
        self.root = root
        self.initial = initial
        self.error = error
        self.nodes = nodes
        self.group = group

    @property
    def name(self) -> str:
        """The machine's name: its group's, else its initial state's."""
        return self.group.name if self.group is not None else self.initial.name


def _node(state: State, analysis: _Analysis) -> Node:
    node: Node | None = state._cache.get("node")
    if node is None:
        node = Node(state, analysis.handlers)
        state._cache["node"] = node
    return node


def _link(node: Node, analysis: _Analysis) -> None:
    if node.table or not analysis.transitions:
        return
    table: dict[Any, Op] = {}
    for label, target in analysis.transitions:
        if isinstance(target, State):
            dest = target._cache["node"]
            op = Op(GOTO, dest, (), label)
            op.fast = (
                node.on_leave is None
                and node.timeout is None
                and dest.on_enter is None
                and dest.timeout is None
                and not dest.terminal
            )
        elif target.kind == PUSH:
            first, *rest = (s._cache["node"] for s in target.states)
            op = Op(PUSH, first, tuple(rest), label)
        else:
            op = Op(target.kind, None, (), label)
        table[label] = op
    node.table = table
    node.by_id = {id(label): op for label, op in table.items()}


def machine_spec(root: State | StateGroup, error_state: State | None) -> MachineSpec:
    """Build (once) and return the validated spec of the machine starting at ``root``."""
    if not isinstance(root, State | StateGroup):
        raise TypeError(f"a machine starts from a @septum.state or a septum.group, got {root!r}")
    if error_state is not None and not isinstance(error_state, State):
        raise TypeError(f"error_state must be a @septum.state, got {error_state!r}")
    cache = root._cache
    key = ("spec", error_state)
    spec: MachineSpec | None = cache.get(key)
    if spec is not None:
        return spec
    group = root if isinstance(root, StateGroup) else None
    initial = root.initial if isinstance(root, StateGroup) else root
    problems: list[Problem] = []
    analyses: dict[State, _Analysis] = {}
    order: list[State] = []
    pending = [initial] + ([error_state] if error_state is not None else [])
    uses_push = uses_pop = False
    while pending:
        state = pending.pop(0)
        if state in analyses:
            continue
        analysis = _analyse(state)
        analyses[state] = analysis
        order.append(state)
        problems.extend(analysis.problems)
        for _label, target in analysis.transitions:
            if isinstance(target, State):
                pending.append(target)
            elif target.kind == PUSH:
                uses_push = True
                pending.extend(target.states)
            elif target.kind == POP:
                uses_pop = True
    if uses_pop and not uses_push:
        popper = next(
            s
            for s in order
            if any(isinstance(t, SpecialTarget) and t.kind == POP for _l, t in analyses[s].transitions)
        )
        problems.append(
            Problem(
                f"state {popper.qualname}",
                "can Pop, but no reachable state ever Pushes",
                "Push(...) into it from a caller, or target a state instead of Pop",
            )
        )
    if group is not None:
        for member in group.states:
            if member not in analyses:
                problems.append(
                    Problem(
                        f"state {member.qualname}",
                        f"is declared in group {group.name} but unreachable from its initial state "
                        f"{initial.name}",
                        "add a transition to it, or remove it from the group",
                    )
                )
    DefinitionError.raise_if_any(problems, what=f"state machine {group.name if group else initial.name}")
    nodes = {state: _node(state, analyses[state]) for state in order}
    for state in order:
        _link(nodes[state], analyses[state])
    spec = MachineSpec(
        root, nodes[initial], nodes[error_state] if error_state is not None else None, nodes, group
    )
    cache[key] = spec
    if log.isEnabledFor(logging.DEBUG):
        log.debug("compiled machine %s: %d states", spec.name, len(nodes))
    return spec


def roles() -> tuple[str, ...]:
    """Handler roles, for documentation and tests."""
    return ROLES
