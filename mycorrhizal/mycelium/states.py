"""States whose handler gets a behaviour tree's result (0.x's BT-in-FSM form).

::

    @state(bt=BuildTree, config=StateConfiguration(timeout=30))
    def Building():
        @on_state
        async def on_state(ctx, bt_result):   # the tree ran first, over ctx.common
            return Events.DONE if bt_result is Status.SUCCESS else Events.BROKEN

Each time septum calls the state's ``on_state`` (on entry, and for each message), the tree runs to
completion over the machine's blackboard and timebase (see :func:`~.bridges.run_tree`, which
:func:`~.bridges.tree_state` uses too), then the handler gets ``(ctx, status)``.  A runner a 0.x
program hangs on the context (``fsm.context._mycelium_bt_runner = runner``) is ticked instead of a
state's tree, as 0.x did: until it is not RUNNING, at most ten times (a state without a tree never
ticks it, as in 0.x).  Everything else is
septum's: ``state`` applies ``septum.state``, ``transitions`` is ``septum.transitions``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from ..common.callables import is_async_callable
from ..common.errors import DefinitionError, Problem
from ..rhizomorph import Runner, Status, Tree
from ..septum import State, septum
from .bridges import run_tree
from .checks import describe

__all__ = ["events", "on_state", "state", "transitions"]

F = TypeVar("F", bound=Callable[..., Any])

_ONE_ARGUMENT = inspect.Signature([inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)])

_SLOT = "__mycelium_tree__"
"""The attribute of an ``on_state(ctx, bt_result)`` wrapper holding its tree, in a one-item list that
``@state(bt=...)`` fills once the state is declared (a class body runs before its decorator)."""


def state(bt: Any = None, **septum_options: Any) -> Any:
    """``@state(bt=Tree, config=...)``: a state whose ``@on_state(ctx, bt_result)`` gets the tree's result.

    The other keywords go to ``septum.state``.  Without ``bt=`` it is ``septum.state`` itself.
    """
    if bt is not None and not isinstance(bt, Tree):
        if callable(bt) and not septum_options:  # used bare, @state, on the state's function
            return septum.state(bt)
        subject = f"@state(bt={describe(bt)})"
        DefinitionError.raise_if_any(
            [Problem(subject, f"bt={bt!r} is not a behaviour tree", "pass a @bt.tree tree")], what=subject
        )

    def decorate(definition: Any) -> State:
        made: State = septum.state(**septum_options)(definition)
        for handler in made.handlers.get("on_state", ()):
            slot = getattr(handler, _SLOT, None)
            if slot is not None and bt is not None:
                slot[0] = bt
        return made

    return decorate


#: Names of a handler's second parameter that ask for the blackboard rather than the tree's result
#: (0.x's documents wrote ``on_state(ctx, common)`` and ``on_state(ctx, bb)``).
BOARD_NAMES = frozenset({"common", "bb", "blackboard"})


def _positional(fn: Callable[..., Any]) -> tuple[int, str | None]:
    """How many positional arguments ``fn`` takes (a large number for ``*args``), and the name of
    the second one (None if it has none)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1, None
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    second = positional[1] if len(positional) > 1 else None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 99, second
    return len(positional), second


#: How many times a runner attached to the context is ticked while it reports RUNNING (0.x's bound).
ATTACHED_TICKS = 10


async def ticked(runner: Any) -> Any:
    """The status of a runner attached as ``ctx._mycelium_bt_runner``: ticked until it is not
    RUNNING, at most :data:`ATTACHED_TICKS` times (then RUNNING), as 0.x did.  A rhizomorph
    :class:`~mycorrhizal.rhizomorph.Runner` waits between its ticks for its async leaves."""
    if isinstance(runner, Runner):
        return await runner.tick_until_complete(max_ticks=ATTACHED_TICKS)
    status = await runner.tick()
    for _ in range(ATTACHED_TICKS - 1):
        if status is not Status.RUNNING:
            break
        status = await runner.tick()
    return status


def _with_result(handler: Callable[..., Any], slot: list[Tree | None], board: bool) -> Callable[[Any], Any]:
    """An ``on_state(ctx)`` that runs the tree in ``slot`` (if any) and calls ``handler(ctx, status)``
    - or, with ``board`` in a state without a tree, ``handler(ctx, ctx.common)``.

    It carries ``__wrapped__`` and ``__rewrap__``, so septum binds the names of the user's handler
    (``Events``...) and re-makes this wrapper around the bound copy.
    """
    is_async = is_async_callable(handler)

    async def on_state(ctx: Any) -> Any:
        tree = slot[0]
        if tree is not None:
            # 0.x's runner hung on the context replaces the tree of a state that has one; a state
            # without a tree never ticks it (0.x's did not: it was left hung by an earlier state).
            attached = getattr(ctx, "_mycelium_bt_runner", None)
            result: Any = await (run_tree(tree, ctx) if attached is None else ticked(attached))
        else:  # no tree: None, or the blackboard for a parameter named for it
            result = ctx.common if board else None
        label = handler(ctx, result)
        return (await label) if is_async else label

    on_state.__name__ = getattr(handler, "__name__", "on_state")
    on_state.__qualname__ = getattr(handler, "__qualname__", "on_state")
    on_state.__doc__ = handler.__doc__
    on_state.__wrapped__ = handler  # type: ignore[attr-defined]
    on_state.__signature__ = _ONE_ARGUMENT  # type: ignore[attr-defined]  # (else inspect reads handler's)
    on_state.__rewrap__ = lambda bound: _with_result(bound, slot, board)  # type: ignore[attr-defined]
    setattr(on_state, _SLOT, slot)
    return on_state


def on_state(func: F | None = None, *, bt_tree: Tree | None = None) -> Any:
    """The state's main handler; ``async def on_state(ctx, bt_result)`` gets the state's tree result.

    ``bt_result`` is the status the ``@state(bt=...)`` tree ended with, or None in a state without
    one - where a second parameter named ``common``, ``bb`` or ``blackboard`` gets the blackboard
    (``ctx.common``, as 0.x's documents wrote it).  A handler taking only ``ctx`` is septum's
    ``on_state`` unchanged.  ``bt_tree=`` is 0.x's
    older spelling of ``@state(bt=...)`` (a DeprecationWarning; used when the state has no ``bt=``).
    """
    if bt_tree is not None:
        warnings.warn(
            "on_state(bt_tree=...) is deprecated; declare the tree on the state: @state(bt=Tree)",
            DeprecationWarning,
            stacklevel=2,
        )

    def decorate(handler: F) -> F:
        count, second = _positional(handler)
        if count < 2:
            return septum.on_state(handler)
        made = _with_result(handler, [bt_tree], second in BOARD_NAMES)
        wrapper: F = septum.on_state(made)  # type: ignore[assignment]
        return wrapper

    return decorate if func is None else decorate(func)


def events(cls: type) -> type:
    """Mark a state's ``Events`` enum (0.x); a state here always shows its ``Events`` (``State.Events``)."""
    return cls


transitions = septum.transitions
"""``@transitions``: septum's, the state's list of ``LabeledTransition``."""
