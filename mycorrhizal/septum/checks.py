"""The validation rules about one state, each a small checker yielding ``(what is wrong, fix)``.

:mod:`.compile` reads each state a machine reaches and runs these on it: rules about one handler
(its signature, its shape, the names it uses), about the state's configuration, and about each
transition it declares.  A checker only looks; it never binds, calls a handler or builds anything,
so a new rule is one more function here (and its entry in the catalogue of tests/septum).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from enum import EnumType
from typing import Any

from ..common.callables import def_name, is_async_callable, shown_name
from ..common.errors import did_you_mean
from .compound import CompositeState
from .plan import label_text
from .states import State
from .targets import PUSH, LabeledTransition, SpecialTarget, special

__all__ = [
    "STATE_RULES",
    "STATE_WARNINGS",
    "Finding",
    "arity",
    "define_fix",
    "known_names",
    "label",
    "not_a_generator",
    "one_per_role",
    "plain_transitions",
    "target",
    "terminal_transitions",
]

Handler = Callable[..., Any]
#: (what is wrong, how to fix it), about the state being checked.
Finding = tuple[str, str]


# --- rules about one handler ---------------------------------------------------------------------


def one_per_role(role: str, fns: tuple[Handler, ...]) -> Iterator[Finding]:
    if len(fns) > 1:
        yield f"declares {len(fns)} @septum.{role} handlers", f"keep exactly one @septum.{role}"


def arity(role: str, fn: Handler) -> Iterator[Finding]:
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
        fix = define_fix(fn, role, "" if want == 0 else "ctx")
        yield f"handler {role} ({shown_name(fn)}) must take {shape}", fix


def define_fix(fn: Callable[..., Any], role: str, params: str) -> str:
    """The fix for a handler that must take ``params``, whatever kind of callable it is."""
    name = def_name(fn)
    if name is not None:
        return f"define it as `def {name}({params})`"
    if getattr(fn, "__name__", None) == "<lambda>":
        return f"write the lambda as `lambda{' ' if params else ''}{params}: ...`"
    return f"define a function `def {role}({params})` in its place"


def plain_transitions(role: str, fn: Handler) -> Iterator[Finding]:
    if role == "transitions" and is_async_callable(fn) and not inspect.isasyncgenfunction(fn):
        yield (
            "@septum.transitions must be a plain function, not async",
            "drop `async` from transitions(); it only returns a list",
        )


def not_a_generator(role: str, fn: Handler) -> Iterator[Finding]:
    kind = "an async generator" if inspect.isasyncgenfunction(fn) else "a generator"
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        yield (
            f"handler {role} ({shown_name(fn)}) is {kind} function (it uses yield), so calling it "
            f"runs nothing and returns {kind}",
            "return the label instead of yielding it"
            if role != "transitions"
            else "return the list of LabeledTransition instead of yielding them",
        )


def known_names(
    role: str, fn: Handler, missing: list[str], names: Mapping[str, Any] | None = None
) -> Iterator[Finding]:
    """Each of ``missing`` (global names ``fn`` uses that nothing defines) is a problem; the nearest
    of ``names`` (what its state sees) and of its module's globals is suggested."""
    for name in missing:
        hint = (
            "define `class Events(Enum)` inside the state (or import the Enum it means)"
            if name == "Events"
            else f"define or import {name!r} where the state is declared"
        )
        visible = {**getattr(fn, "__globals__", {}), **(names or {})}
        # ``Events`` stands for the state's Enum: another name merely like it ('NoEvents', the state
        # itself) is no fix, so only an Enum is offered for it.
        close = [
            key
            for key, value in visible.items()
            if not key.startswith("_") and (name != "Events" or isinstance(value, EnumType))
        ]
        yield (
            f"handler {role} refers to {name!r}, which is not defined in the state, its "
            f"enclosing classes or its module",
            did_you_mean(name, close, hint),
        )


# --- rules about a state's configuration ----------------------------------------------------------


def terminal_runs_nothing(state: State, roles: set[str]) -> Iterator[Finding]:
    if not state.config.terminal:
        return
    for role in ("on_timeout", "on_fail"):  # on_state runs once, on arrival; transitions: a warning
        if role in roles:
            yield (
                f"is terminal but declares {role}, which would never run",
                "move final work to on_enter, or drop terminal=True",
            )
    if state.config.timeout is not None or state.config.retries is not None:
        yield "is terminal but has a timeout or retries", "drop them: a terminal state never runs again"


def has_on_state(state: State, roles: set[str]) -> Iterator[Finding]:
    # A composite state's children handle its messages; its own on_state only sees what they decline.
    if not state.config.terminal and "on_state" not in roles and not isinstance(state, CompositeState):
        yield (
            "has no @septum.on_state handler",
            "add `@septum.on_state async def on_state(ctx): ...`, or mark the state "
            "StateConfiguration(terminal=True) if the machine ends here",
        )


def timeout_has_handler(state: State, roles: set[str]) -> Iterator[Finding]:
    """A warning (0.x accepted it): when the timer fires, the machine fails as a handler would."""
    timeout = state.config.timeout
    if not state.config.terminal and timeout is not None and "on_timeout" not in roles:
        yield (
            f"has timeout={timeout} but no @septum.on_timeout handler, so its timeout fails the machine "
            f"as a handler error would",
            "add an @septum.on_timeout handler returning a label, or drop timeout= from its "
            "StateConfiguration",
        )


def on_timeout_has_timeout(state: State, roles: set[str]) -> Iterator[Finding]:
    timeout = state.config.timeout
    if state.config.terminal:
        return
    if timeout is None and "on_timeout" in roles:
        yield (
            "declares on_timeout but no timeout, so it would never run",
            "set StateConfiguration(timeout=...) or remove on_timeout",
        )


def retries_have_handler(state: State, roles: set[str]) -> Iterator[Finding]:
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


#: Rules about a state's configuration and handlers: each finding is a problem.
STATE_RULES = (terminal_runs_nothing, has_on_state, on_timeout_has_timeout, retries_have_handler)
#: Rules about what 0.x accepted: a machine logs their findings as WARNINGs; a strict one refuses them.
STATE_WARNINGS = (timeout_has_handler,)


def label(item: Any, seen: dict[Any, bool]) -> Iterator[Finding]:
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


def target(item: LabeledTransition) -> Iterator[Finding]:
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
    elif not isinstance(target, State) and not special(target):
        what = (
            f"class {target.__name__}, which is not decorated with @septum.state"
            if isinstance(target, type)
            else repr(target)
        )
        yield (
            f"label {text} targets {what}",
            "target a @septum.state, or Again/Unhandled/Retry/Repeat/Restart/Push(...)/Pop",
        )


def terminal_transitions(declared: list[Any] | tuple[Any, ...]) -> Iterator[Finding]:
    if declared:
        yield (
            f"is terminal, so the {len(declared)} transition(s) its transitions() declares are never taken",
            "drop @septum.transitions (a terminal state needs none), or drop terminal=True",
        )
