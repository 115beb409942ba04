"""Guards and actions on transitions: declaring *which* transition a label takes.

``LabeledTransition(label, target, guard=fn, action=fn)``.  Several transitions of one state may
share a label; when a handler returns it, their guards are asked in the order the transitions are
listed and the first that passes wins (a transition without a guard always passes, so only the last
of a label may go without one).  When none passes, the label leads nowhere here: the machine stays,
or, inside a compound state, the label is offered to the enclosing state (see :mod:`.compound`).

A guard is a plain function ``guard(ctx) -> bool``: synchronous, so that choosing a transition never
suspends, and pure (it reads ``ctx.msg``/``ctx.common``; it changes nothing), since it may be asked
and the transition still not taken.  An action ``action(ctx)`` (plain or ``async``) runs while the
transition is taken: after the source's ``on_leave``, before the target's ``on_enter`` (UML's and
SCXML's order).

Compiled, a label whose transitions carry guards maps to a :class:`Choice`: the ops of its
transitions, each behind its guard.  A label with one unguarded transition compiles as before, so a
machine without guards pays nothing for them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from ..common.callables import def_name, is_async_callable, shown_name
from ..common.errors import ExecutionError
from .checks import define_fix
from .plan import Node, Op, label_text
from .targets import LabeledTransition

__all__ = [
    "CHOOSE",
    "Choice",
    "GuardRaised",
    "act",
    "called",
    "check",
    "choose",
    "describe",
    "guard_name",
    "link",
    "ops",
]

#: The op kind of a label whose transitions carry guards (after the kinds of :mod:`.targets`).
CHOOSE = 8

Finding = tuple[str, str]
Guard = Callable[[Any], bool]


class Choice(Op):
    """A label with guarded transitions: ``options`` are (guard or None, op), in declared order."""

    __slots__ = ("options",)

    def __init__(self, label: Any, options: tuple[tuple[Guard | None, Op], ...]) -> None:
        super().__init__(CHOOSE, None, (), label)
        self.options = options


class GuardRaised(Exception):
    """A guard raised ``exc``; ``what`` names it and the label it guards (the engine routes ``exc``)."""

    def __init__(self, guard: Any, label: Any, exc: Exception) -> None:
        super().__init__(exc)
        self.what = f"{called(guard, 'guard')} of label {label_text(label)}"
        self.exc = exc


def guard_name(fn: Any, role: str = "guard") -> str:
    """How a picture names a guard or action: its ``__name__``, else (a lambda...) its role."""
    return def_name(fn) or role


def called(fn: Any, role: str) -> str:
    """How a message names a guard or action: ``guard big``, ``the action (a lambda)``."""
    name = def_name(fn)
    if name is not None:
        return f"{role} {name}"
    shown = shown_name(fn)  # "guard guard" or "action <lambda>" would name nothing
    return f"the {role} (a lambda)" if shown == "<lambda>" else f"the {role} ({shown})"


def _takes_ctx(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True  # builtins and the like: trust them
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    return len(required) <= 1 and (len(positional) >= 1 or variadic)


def check(item: LabeledTransition) -> Iterator[Finding]:
    """Problems with a transition's guard and action (both optional)."""
    text = label_text(item.label)
    guard, action = item.guard, item.action
    if guard is not None:
        if not callable(guard):
            yield (
                f"label {text}: guard={guard!r} is not callable",
                "pass a plain function guard(ctx) returning True or False",
            )
        elif is_async_callable(guard) or inspect.isgeneratorfunction(guard):
            yield (
                f"label {text}: {called(guard, 'guard')} is async (or a generator); a guard is asked "
                f"while a transition is chosen, which never suspends",
                "make it a plain def that only reads ctx and returns True or False",
            )
        elif not _takes_ctx(guard):
            yield (
                f"label {text}: {called(guard, 'guard')} must take one argument, ctx",
                define_fix(guard, "guard", "ctx"),
            )
    if action is not None:
        if not callable(action):
            yield f"label {text}: action={action!r} is not callable", "pass a function action(ctx)"
        elif inspect.isgeneratorfunction(action) or inspect.isasyncgenfunction(action):
            yield (
                f"label {text}: {called(action, 'action')} is a generator function",
                "make it a plain or async def",
            )
        elif not _takes_ctx(action):
            yield (
                f"label {text}: {called(action, 'action')} must take one argument, ctx",
                define_fix(action, "action", "ctx"),
            )


def link(items: list[LabeledTransition], make: Callable[[LabeledTransition], Op]) -> dict[Any, Op]:
    """The transition table of one state: label -> op, or a :class:`Choice` for guarded labels."""
    by_label: dict[Any, list[LabeledTransition]] = {}
    for item in items:
        by_label.setdefault(item.label, []).append(item)
    table: dict[Any, Op] = {}
    for label, group in by_label.items():
        ops = []
        for item in group:
            op = make(item)
            if item.action is not None:
                op.action = item.action
                op.fast = False
            ops.append((item.guard, op))
        table[label] = ops[0][1] if len(ops) == 1 and ops[0][0] is None else Choice(label, tuple(ops))
    return table


def choose(node: Node, choice: Choice, ctx: Any) -> Op | None:
    """The op of the first transition whose guard passes (None: none does).

    A guard that returns anything but True or False is a bug in the machine: an
    :class:`ExecutionError` naming the state, the label and the guard.  What a guard raises comes
    out as :class:`GuardRaised` (an ExecutionError of ours as it is), for the caller to route like
    any handler's failure.
    """
    for guard, op in choice.options:
        if guard is None:
            return op
        try:
            passed = guard(ctx)
        except ExecutionError:
            raise  # (an error of ours, say a nested machine's: never routed, as the one below)
        except Exception as exc:
            raise GuardRaised(guard, choice.label, exc) from exc
        if passed is True:
            return op
        if passed is not False:
            raise ExecutionError(
                f"state {node.name}: {called(guard, 'guard')} of label {label_text(choice.label)} returned "
                f"{passed!r}, but a guard returns True or False. Fix: write `return bool(...)`",
                state=node.name,
                event=choice.label,
            )
    return None


async def act(op: Op, ctx: Any) -> None:
    """Run the transition's action (awaited when it is async or returns an awaitable)."""
    result = op.action(ctx)  # type: ignore[misc]  # only called when the op has an action
    if inspect.isawaitable(result):
        await result


def ops(node: Node) -> list[Op]:
    """Every transition ``node`` may take: each option of a guarded label counts."""
    found: list[Op] = []
    for op in node.table.values():
        if isinstance(op, Choice):
            found.extend(option for _, option in op.options)
        else:
            found.append(op)
    return found


def describe(guard: Any, op: Op) -> str:
    """The UML suffix of an edge: `` [guard]`` and `` / action`` when the transition has them."""
    text = f" [{guard_name(guard)}]" if guard is not None else ""
    return text + (f" / {guard_name(op.action, 'action')}" if op.action is not None else "")
