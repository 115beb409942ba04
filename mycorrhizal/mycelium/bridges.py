"""State machines inside behaviour trees, and behaviour trees inside state machines.

- :func:`machine_action` makes a tree action that runs a fresh state machine until it reaches a
  terminal state (RUNNING meanwhile). Halting the action cancels the machine and all its timers.
- :func:`tree_state` makes a state whose entry runs a tree to completion and then leaves for the
  ``success`` or ``failure`` target.

Both share the caller's blackboard and timebase: no copies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from enum import Enum, auto
from typing import Any

from ..common.callables import resolve
from ..common.errors import DefinitionError
from ..common.timebase import Timebase
from ..common.timer_scope import TimerScope
from ..rhizomorph import Leaf, Status, Tree, bt
from ..rhizomorph import Runner as TreeRunner
from ..septum import LabeledTransition, State, StateConfiguration, StateMachine, septum
from .checks import action_problems, describe, tree_state_problems

__all__ = ["machine_action", "run_tree", "tree_state"]


def machine_action(
    initial: State,
    *,
    name: str | None = None,
    succeed_in: Collection[State] | None = None,
    **machine_options: Any,
) -> Leaf:
    """A tree action that runs a state machine from ``initial`` until it reaches a terminal state.

    The action is RUNNING while the machine runs and SUCCESS when it ends in a terminal state (one
    of ``succeed_in`` when given; FAILURE in any other). The machine's ``ctx.common`` is the tree's
    blackboard and its timers run on the tree's timebase. Each start of the action runs a new
    machine; halting the action cancels the machine and every timer it set.
    """
    name = name or f"run_{describe(initial)}"
    # Building one now checks the states and options when the tree is defined, not at the first tick.
    wanted, problems = action_problems(f"machine_action {name!r}", initial, succeed_in, machine_options)
    DefinitionError.raise_if_any(problems, what=f"machine_action {name!r}")

    async def drive(bb: Any, timebase: Timebase) -> Status:
        scope = TimerScope(timebase, owner=asyncio.current_task())
        machine = StateMachine(initial, common_data=bb, timebase=scope, **machine_options)
        try:
            await machine.run(wait=True)
        finally:
            scope.close()
        ended = machine.current_state
        return Status.SUCCESS if wanted is None or ended in wanted else Status.FAILURE

    return bt.action(name=name)(drive)


async def run_tree(tree: Tree, ctx: Any) -> Status:
    """Run ``tree`` to completion for a state handler: over the machine's blackboard and timebase, its
    leaves that ask for ``ctx`` getting the handler's context.  Cancelling the handler halts the tree."""
    return await TreeRunner(tree, ctx.common, ctx.timebase, ctx).tick_until_complete()


def _hook(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def hook(ctx: Any) -> None:
        await resolve(fn(ctx))

    return hook


def tree_state(
    tree: Tree,
    *,
    success: Any,
    failure: Any,
    name: str | None = None,
    config: StateConfiguration | None = None,
    on_enter: Callable[[Any], Any] | None = None,
    on_leave: Callable[[Any], Any] | None = None,
) -> State:
    """A state that, on entry, runs ``tree`` to completion and goes to ``success`` or ``failure``.

    The tree's blackboard is the machine's ``ctx.common``, its timebase the machine's, and its leaves
    that ask for ``ctx`` get the machine's handler context. With ``config.timeout``, a tree still
    running at the timeout is halted and the machine goes to ``failure``. ``on_enter``/``on_leave``
    are the state's own enter and leave handlers (``fn(ctx)``, sync or async).
    """
    subject = f"tree_state {name!r}" if isinstance(name, str) else f"tree_state of {describe(tree)}"
    problems = tree_state_problems(subject, tree, name, config, {"on_enter": on_enter, "on_leave": on_leave})
    DefinitionError.raise_if_any(problems, what=subject)
    timed = config is not None and config.timeout is not None

    def body() -> None:
        class Events(Enum):
            SUCCEEDED = auto()
            FAILED = auto()

        @septum.on_state
        async def on_state(ctx: Any) -> Events | None:
            if ctx.msg is not None:
                return None  # the tree reads the blackboard; messages wait for the next state
            status = await run_tree(tree, ctx)
            return Events.SUCCEEDED if status is Status.SUCCESS else Events.FAILED

        # Wrapped so the user's own function is not marked as a handler of this state; bound to
        # locals because a function-form state collects its handlers from the body's local names.
        entering = None if on_enter is None else septum.on_enter(_hook(on_enter))  # noqa: F841
        leaving = None if on_leave is None else septum.on_leave(_hook(on_leave))  # noqa: F841

        if timed:

            @septum.on_timeout
            def on_timeout(ctx: Any) -> Events:
                return Events.FAILED

        @septum.transitions
        def transitions() -> list[LabeledTransition]:
            return [LabeledTransition(Events.SUCCEEDED, success), LabeledTransition(Events.FAILED, failure)]

    body.__name__ = body.__qualname__ = name or f"Run{tree.name}"
    return septum.state(config=config)(body) if config is not None else septum.state(body)
