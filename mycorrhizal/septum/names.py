"""Bare names in handlers: what they mean, resolved once when a machine is compiled.

A handler written in a class body cannot see the class's own names (Python skips class scopes), yet
users write ``return Events.DONE`` and name sibling states by bare name.  When a machine is
compiled, each handler that uses such a name gets a copy in which the name is fixed to its value
(:func:`~mycorrhizal.common.interpreter.with_constants`); the copy then runs as fast as any
function.  Its other globals are still looked up in its module, live, so monkeypatching a module
helper still works.

What a state sees, innermost first: its class body, its own name, the names of the group the
machine is built from (when the state is one of its members), the classes it is nested in, its
module, and last septum's own vocabulary (``Retry``, ``Push``, ...) where the module does not
define the name itself.  Only what the state and the machine's root declare counts, so the meaning
of a name never depends on what else was built before.
"""

from __future__ import annotations

import builtins
import inspect
import sys
import types
from collections.abc import Callable
from typing import Any

from ..common.interpreter import global_names, with_constants
from .compound import Completed, ancestors
from .history import DeepHistory, History
from .states import State, StateGroup
from .targets import Again, LabeledTransition, Pop, Push, Repeat, Restart, Retry, Unhandled

__all__ = ["bind", "module_globals", "resolved", "scope", "unresolved"]

#: septum's own names, visible by bare name unless the module defines them itself.
VOCABULARY: dict[str, Any] = {
    cls.__name__: cls
    for cls in (Again, Unhandled, Retry, Repeat, Restart, Push, Pop, LabeledTransition, History, DeepHistory)
}
VOCABULARY["Completed"] = Completed


def module_globals(state: State) -> dict[str, Any]:
    """The global namespace the state was declared in (empty if its module is gone)."""
    definition = state.definition
    if inspect.isfunction(definition):
        return definition.__globals__
    # A class's handlers carry the globals it was declared in, even when that namespace is not an
    # importable module (code run by exec, doc tests).
    for group in state.handlers.values():
        for fn in group:
            found = getattr(fn, "__globals__", None)
            if isinstance(found, dict):
                return found
    module = sys.modules.get(state.module)
    return vars(module) if module is not None else {}


def _enclosing(state: State, module: dict[str, Any]) -> dict[str, Any]:
    """Names of the classes (or groups) the state is nested in, outermost first, innermost winning."""
    names: dict[str, Any] = {}
    parts = state.qualname.split(".")[:-1]
    if "<locals>" in parts:
        return names  # nested in a function: its names reach the handlers as closures
    where: Any = module
    for part in parts:
        owner = where.get(part)
        # An enclosing class may already have been turned into a group or a state.
        where = owner.namespace if isinstance(owner, State | StateGroup) else getattr(owner, "__dict__", None)
        if not hasattr(where, "items"):
            break
        names.update({k: v for k, v in where.items() if not k.startswith("__")})
    return names


def scope(state: State, group: StateGroup | None) -> dict[str, Any]:
    """Names the state's handlers see besides their module's globals, in a machine built from ``group``."""
    module = module_globals(state)
    names: dict[str, Any] = {k: v for k, v in VOCABULARY.items() if k not in module}
    names.update(_enclosing(state, module))
    for composite in reversed(ancestors(state)):  # the composite states around it, innermost winning
        names.update({k: v for k, v in composite.namespace.items() if not k.startswith("__")})
    if group is not None and any(member is state for member in group.states):
        names.update(group.namespace)
    names[state.name] = state
    if state.form == "class":
        names.update(state.namespace)
    return names


def resolved(state: State, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, a handler of ``state``, with its names fixed as in a machine built from ``state``."""
    return bind(fn, scope(state, None))


def _rewrappable(fn: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """(the wrapped function, ``__rewrap__``) of a decorator's wrapper that can be re-made around
    another function (spores' adapters are); such a wrapper's own code never needs the state's names."""
    inner = getattr(fn, "__wrapped__", None)
    rewrap = getattr(fn, "__rewrap__", None)
    return (inner, rewrap) if inner is not None and callable(rewrap) else None


def bind(fn: Callable[..., Any], names: dict[str, Any]) -> Callable[..., Any]:
    """``fn`` with the names it uses from ``names`` fixed (``fn`` itself if it needs none).

    A wrapper with ``__wrapped__`` and ``__rewrap__(fn)`` is re-made around the bound copy of the
    function it wraps.
    """
    wrapped = _rewrappable(fn)
    if wrapped is not None:
        inner, rewrap = wrapped
        bound = bind(inner, names)
        return fn if bound is inner else rewrap(bound)
    if not isinstance(fn, types.FunctionType):
        return fn
    module = fn.__globals__
    # A name that means the same object in the module is left to the module: it stays live there.
    fixed = {k: v for k, v in names.items() if k not in module or module[k] is not v}
    return with_constants(fn, fixed)


def unresolved(fn: Callable[..., Any], names: dict[str, Any]) -> list[str]:
    """Global names ``fn`` uses that neither ``names``, its module nor builtins define."""
    wrapped = _rewrappable(fn)
    if wrapped is not None:
        return unresolved(wrapped[0], names)
    module = getattr(fn, "__globals__", {})
    builtin_names = vars(builtins)
    return sorted(
        n for n in global_names(fn) if n not in names and n not in module and n not in builtin_names
    )
