"""Composed trees in 0.x's form (FSM-in-BT): ``@tree``, ``@Action(fsm=...)``, ``@root``, ``@Sequence``.

::

    @tree
    def Controller():
        @Action(fsm=Idle)
        async def drive(bb, tb, fsm_runner):
            if fsm_runner.current_state is Idle:
                fsm_runner.send_message("start")
            return Status.RUNNING

        @root
        @Sequence
        def main():
            yield drive

``tree`` is ``bt.tree`` (the result is an ordinary :class:`~mycorrhizal.rhizomorph.Tree`) whose body
may use the names below; ``Action``, ``Condition`` and ``root`` only there.  An ``Action(fsm=S)``
drives a machine that lives as long as the :class:`~.instance.TreeRunner` running the tree (see
:mod:`.instance`).  Plain actions and conditions are called positionally, ``fn(bb, tb)`` and
``fn(bb)``, as 0.x did, whatever their parameters are named.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..common.callables import def_name, is_async_callable, shown_name
from ..common.errors import DefinitionError, Problem, TreeDefinitionError
from ..rhizomorph import Leaf, Node, Tree, bt
from ..septum import State
from .checks import describe, trial_machine
from .instance import DrivenMachine

__all__ = ["Action", "Condition", "Parallel", "Selector", "Sequence", "root", "tree"]

N = TypeVar("N", bound=Node)


class _Scope:
    __slots__ = ("name", "actions", "conditions", "problems")

    def __init__(self, name: str) -> None:
        self.name = name
        self.actions: set[str] = set()
        self.conditions: set[str] = set()
        self.problems: list[Problem] = []


# The bodies of the @tree functions running now (innermost last).
_scopes: list[_Scope] = []


def _inside(what: str) -> _Scope:
    """The ``@tree`` body running now; ``what`` used anywhere else is a TreeDefinitionError."""
    if not _scopes:
        problem = Problem(what, "is used outside a @tree function", "declare it inside a @tree function")
        raise TreeDefinitionError([problem], what=what)
    return _scopes[-1]


def tree(func: Callable[[], Any]) -> Tree:
    """``@tree``: ``bt.tree`` whose body may declare ``Action``/``Condition``/``root``; the result is a Tree.

    Every problem (no root, an action and a condition of the same name, a bad ``Action(fsm=...)``)
    is one :class:`~mycorrhizal.common.TreeDefinitionError`.
    """
    name = getattr(func, "__name__", "tree")
    scope = _Scope(name)
    _scopes.append(scope)
    try:
        built = bt.tree(func)
    except TreeDefinitionError:
        raise
    except DefinitionError as exc:
        raise TreeDefinitionError([*exc.problems, *scope.problems], what=exc.what) from None
    finally:
        _scopes.pop()
    problems = scope.problems + [
        Problem(
            f"tree {name!r}",
            f"declares an action and a condition both named {clash!r}",
            "give each leaf its own name",
        )
        for clash in sorted(scope.actions & scope.conditions)
    ]
    TreeDefinitionError.raise_if_any(problems, what=f"tree {name!r}")
    return built


def _positional_names(fn: Callable[..., Any]) -> tuple[str, ...] | None:
    """Names of ``fn``'s positional parameters (None: it takes ``*args`` or cannot be read)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _called_positionally(fn: Callable[..., Any], wanted: tuple[str, ...]) -> Callable[..., Any]:
    """``fn`` as a leaf function called with the first of ``wanted`` (``bb``, ``tb``) positionally.

    ``fn`` itself when its parameters already have those names (so an interface annotation on
    ``bb`` still gives it a view); else a function taking them and passing them on by position.
    """
    names = _positional_names(fn)
    if names is not None and names == wanted[: len(names)]:
        return fn
    count = len(wanted) if names is None else min(len(names), len(wanted))
    if is_async_callable(fn):

        async def call_async(bb: Any, tb: Any) -> Any:
            return await fn(*(bb, tb)[:count])

        return call_async

    def call(bb: Any, tb: Any) -> Any:
        return fn(*(bb, tb)[:count])

    return call


def _driven(scope: _Scope, fn: Callable[..., Any], fsm: Any) -> DrivenMachine:
    """The leaf function of ``Action(fsm=...)``; its problems go to ``scope``."""
    name = getattr(fn, "__name__", repr(fn))
    called = def_name(fn)
    # A partial's repr ("functools.partial(<function f at 0x...>)") names nothing a user wrote.
    subject = f"Action {called!r}" if called is not None else f"Action ({shown_name(fn)})"
    names = _positional_names(fn)
    if names is not None and len(names) < 3:
        how = f"as {called}" if called is not None else "with "
        scope.problems.append(
            Problem(
                subject,
                f"with fsm= it is called {how}(bb, tb, fsm_runner), but takes {len(names)} argument(s)",
                _define(fn, called),
            )
        )
    if not isinstance(fsm, State):
        scope.problems.append(
            Problem(subject, f"fsm={describe(fsm)} is not a state", "pass the initial @septum.state")
        )
        return DrivenMachine(name, fsm, fn, is_async_callable(fn))
    _, found = trial_machine(subject, fsm, {}, what="machine options", owner="the tree")
    scope.problems.extend(found)
    return DrivenMachine(name, fsm, fn, is_async_callable(fn))


def _define(fn: Callable[..., Any], called: str | None) -> str:
    """The fix for an ``Action(fsm=...)`` function that does not take ``(bb, tb, fsm_runner)``."""
    if called is not None:
        return f"define it as `async def {called}(bb, tb, fsm_runner)`"
    if getattr(fn, "__name__", None) == "<lambda>":
        return "write the lambda as `lambda bb, tb, fsm_runner: ...`"
    return (
        "define a function in its place, e.g. `async def step(bb, tb, fsm_runner)` "
        "(the action is named after it)"
    )


def Action(func: Callable[..., Any] | None = None, *, fsm: State | None = None) -> Any:  # noqa: N802 - 0.x name
    """``@Action``: an action ``fn(bb, tb)``; ``@Action(fsm=S)``: ``fn(bb, tb, fsm_runner)`` drives a machine.

    With ``fsm=``, each tick of the action first lets its machine handle what is pending, then
    ``fn``'s result is the action's status.  Only inside ``@tree``.
    """
    scope = _inside("Action")

    def make(fn: Callable[..., Any]) -> Leaf:
        name = getattr(fn, "__name__", None)
        scope.actions.add(str(name))
        if fsm is None:
            return bt.action(name=name)(_called_positionally(fn, ("bb", "tb")))
        return bt.action(name=name)(_driven(scope, fn, fsm))

    return make if func is None else make(func)


def Condition(func: Callable[..., Any]) -> Leaf:  # noqa: N802 - 0.x name
    """``@Condition``: a condition ``fn(bb)`` (sync, or async: it is awaited).  Only inside ``@tree``."""
    scope = _inside("Condition")
    name = getattr(func, "__name__", None)
    scope.conditions.add(str(name))
    return bt.condition(name=name)(_called_positionally(func, ("bb",)))


def root(node: N) -> N:
    """``@root``: mark the tree's root (above ``@Sequence``, ``@Action`` ...).  Only inside ``@tree``."""
    _inside("root")
    return bt.root(node)


def Sequence(func: Callable[[], Any]) -> Any:  # noqa: N802 - 0.x name
    """``@Sequence``: ``bt.sequence`` on a generator function yielding the children."""
    return bt.sequence(func)


def Selector(func: Callable[[], Any]) -> Any:  # noqa: N802 - 0.x name
    """``@Selector``: ``bt.selector`` on a generator function yielding the children."""
    return bt.selector(func)


def Parallel(func: Callable[[], Any] | None = None, *, success_threshold: int = 1) -> Any:  # noqa: N802
    """``@Parallel`` / ``@Parallel(success_threshold=k)``: ``bt.parallel``, SUCCESS once ``k`` children
    succeeded (default 1, as in 0.x)."""
    make = bt.parallel(success_threshold=success_threshold)
    return make if func is None else make(func)
