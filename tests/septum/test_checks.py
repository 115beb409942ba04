"""The rules about one handler (septum/checks.py): a fix names a function only by a name a ``def``
could have, so a lambda, a ``functools.partial`` or a callable object gets a fix that means something."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.septum import StateConfiguration, StateMachine, septum


def two_arguments(ctx: Any, extra: Any) -> None:
    return None


def generator(prefix: Any, ctx: Any) -> Any:
    yield prefix


class NoCtx:
    """A callable object whose ``__call__`` takes no ctx."""

    def __call__(self) -> None:
        return None


def named_without_ctx() -> None:
    return None


def dwelling(name: str, **handlers: Any) -> Any:
    """A state that may wait, with ``handlers`` by role (given as any callables)."""
    body = {role: getattr(septum, role)(fn) for role, fn in handlers.items()}
    return septum.state(config=StateConfiguration(can_dwell=True))(type(name, (), body))


CASES = [
    (
        "a named function",
        {"on_state": named_without_ctx},
        "handler on_state (named_without_ctx) must take one argument, ctx. "
        "Fix: define it as `def named_without_ctx(ctx)`",
    ),
    (
        "a lambda on_state",
        {"on_state": lambda: None},
        "handler on_state (<lambda>) must take one argument, ctx. Fix: write the lambda as `lambda ctx: ...`",
    ),
    (
        "a lambda transitions",
        {"on_state": lambda ctx: None, "transitions": lambda ctx: []},
        "handler transitions (<lambda>) must take no arguments. Fix: write the lambda as `lambda: ...`",
    ),
    (
        "a partial",
        {"on_state": functools.partial(two_arguments)},
        "handler on_state (partial object) must take one argument, ctx. "
        "Fix: define a function `def on_state(ctx)` in its place",
    ),
    (
        "a callable object",
        {"on_state": NoCtx()},
        "handler on_state (NoCtx object) must take one argument, ctx. "
        "Fix: define a function `def on_state(ctx)` in its place",
    ),
    (
        "a partial of a generator",
        {"on_state": functools.partial(generator, "x")},
        "handler on_state (partial object) is a generator function (it uses yield), so calling "
        "it runs nothing and returns a generator. Fix: return the label instead of yielding it",
    ),
]


@pytest.mark.parametrize(("handlers", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_handler_problem_has_a_fix_a_user_can_write(handlers: dict[str, Any], problem: str) -> None:
    state = dwelling("Odd", **handlers)
    with pytest.raises(DefinitionError, match=re.escape(f"  - state Odd: {problem}")) as info:
        StateMachine(state)
    assert len(info.value.problems) == 1
