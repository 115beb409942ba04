"""How one machine is configured beyond its states: queue bound, overflow policy, error hook.

Machines built with the defaults share one :class:`Options` value, so a machine pays one field for
all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import attrs

from ..common.errors import DefinitionError, DefinitionTypeError, Problem
from .mailbox import POLICIES, OverflowPolicy

__all__ = [
    "DEFAULT_MAX_QUEUE_SIZE",
    "DEFAULT_MAX_STACK_DEPTH",
    "DEFAULTS",
    "RAISE_BY_DEFAULT",
    "WHAT",
    "Options",
    "options",
]

#: Default bound on queued messages; pass ``max_queue_size=None`` for an unbounded queue.
DEFAULT_MAX_QUEUE_SIZE = 10_000
#: Default bound on the pushdown stack: a ``Push`` that would pass it is refused.
DEFAULT_MAX_STACK_DEPTH = 1000


class _Unsaid(str):
    """A default that equals the value it stands for but that no caller can pass (see below)."""

    __slots__ = ()


#: ``StateMachine``'s default ``queue_overflow``: ``"raise"``, as an object of its own, so that a
#: machine given ``queue_overflow="raise"`` outright is told from one given nothing (0.x's
#: ``queue_overflow_policy=`` may stand in only for the latter).
RAISE_BY_DEFAULT = cast(OverflowPolicy, _Unsaid("raise"))


@attrs.frozen
class Options:
    """A machine's options, checked when it is built."""

    max_queue_size: int | None = DEFAULT_MAX_QUEUE_SIZE
    queue_overflow: OverflowPolicy = "raise"
    on_error: Callable[..., Any] | None = None
    max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH
    #: 0.x's ``filter_fn(ctx, msg)``: a truthy result drops the message in ``send_message``.
    filter_fn: Callable[[Any, Any], Any] | None = None


DEFAULTS = Options()

#: What a :class:`DefinitionError` about these options says it is about.
WHAT = "StateMachine options"


def _problems(max_queue_size: object, queue_overflow: object, max_stack_depth: object) -> list[Problem]:
    problems = []
    if isinstance(max_stack_depth, bool) or not isinstance(max_stack_depth, int) or max_stack_depth < 1:
        problems.append(
            Problem(
                "StateMachine",
                f"max_stack_depth must be an int >= 1, got {max_stack_depth!r}",
                "pass how many states Push may leave on the stack at most",
            )
        )
    if max_queue_size is not None and (
        isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) or max_queue_size < 1
    ):
        problems.append(
            Problem(
                "StateMachine",
                f"max_queue_size must be an int >= 1 or None, got {max_queue_size!r}",
                "pass a positive bound, or None for an unbounded queue",
            )
        )
    if queue_overflow not in POLICIES:
        problems.append(
            Problem(
                "StateMachine",
                f"queue_overflow must be one of {POLICIES}, got {queue_overflow!r}",
                "pick one of those policies",
            )
        )
    return problems


def options(
    max_queue_size: Any, queue_overflow: Any, on_error: Any, max_stack_depth: Any, filter_fn: Any = None
) -> Options:
    """The :class:`Options` for these arguments, or a :class:`DefinitionError` saying what is wrong."""
    if (
        max_queue_size == DEFAULT_MAX_QUEUE_SIZE
        and queue_overflow == "raise"
        and on_error is None
        and max_stack_depth == DEFAULT_MAX_STACK_DEPTH
        and filter_fn is None
    ):
        return DEFAULTS  # shared by every machine built with the defaults
    if on_error is not None and not callable(on_error):
        # Refused now: otherwise the mistake shows only when a handler first fails.
        raise DefinitionTypeError(
            [
                Problem(
                    "StateMachine",
                    f"on_error must be a function hook(ctx, error), got {on_error!r}",
                    "pass a function taking (ctx, error) and returning a state or None",
                )
            ],
            what=WHAT,
        )
    DefinitionError.raise_if_any(_problems(max_queue_size, queue_overflow, max_stack_depth), what=WHAT)
    return Options(max_queue_size, queue_overflow, on_error, max_stack_depth, filter_fn)
