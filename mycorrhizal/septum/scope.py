"""Name resolution for class-form handlers.

A handler written in a class body cannot see the class's own names (Python skips class scopes), yet
users write ``return Events.DONE`` and name sibling states by bare name.  When a machine is built,
each handler that uses such a name is re-created over a scope that layers the state's class body,
its enclosing classes/groups and its own name over the module's globals.  Module globals stay live:
the scope falls back to them on every miss, so monkeypatching a module helper still works.
"""

from __future__ import annotations

import builtins
import dis
import types
from collections.abc import Callable, Iterator
from typing import Any

from .state import State, StateGroup, module_globals

__all__ = ["bind", "global_names", "unresolved", "injected_names"]


class _Scope(dict[str, Any]):
    """A handler's globals: the state's names first, then the module's live globals."""

    __slots__ = ("_module",)

    def __init__(self, names: dict[str, Any], module: dict[str, Any]) -> None:
        super().__init__(names)
        self._module = module
        self["__builtins__"] = module.get("__builtins__", builtins)
        if "__name__" in module:
            self["__name__"] = module["__name__"]

    def __missing__(self, key: str) -> Any:
        return self._module[key]


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def global_names(fn: Callable[..., Any]) -> set[str]:
    """Names ``fn`` (and functions nested in it) look up as globals."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return set()
    return {
        ins.argval
        for c in _codes(code)
        for ins in dis.get_instructions(c)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str)
    }


def _vocabulary() -> dict[str, Any]:
    from . import targets

    return {
        name: getattr(targets, name)
        for name in ("Again", "Unhandled", "Retry", "Repeat", "Restart", "Push", "Pop", "LabeledTransition")
    }


def injected_names(state: State) -> dict[str, Any]:
    """Names a state's handlers see besides module globals, innermost first.

    septum's own vocabulary (``Retry``, ``Push``, ``LabeledTransition``, ...) is the last resort:
    it is visible by bare name unless the module defines the name itself.
    """
    module = module_globals(state)
    names: dict[str, Any] = {k: v for k, v in _vocabulary().items() if k not in module}
    # Enclosing classes named in the qualname (``Outer.Inner.MyState``), outermost first.
    parts = state.qualname.split(".")[:-1]
    if "<locals>" not in parts:
        where: Any = module
        for part in parts:
            owner = where.get(part)
            # An enclosing class may already have been turned into a group or a state.
            if isinstance(owner, State | StateGroup):
                where = owner.namespace
            else:
                where = getattr(owner, "__dict__", None)
            if not hasattr(where, "items"):
                break
            names.update({k: v for k, v in where.items() if not k.startswith("__")})
    for scope in state.scopes:  # groups this state was declared in
        names.update(scope)
    names[state.name] = state
    if state.form == "class":
        names.update(state.namespace)
    return names


def _rewrappable(fn: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """(the wrapped function, ``__rewrap__``) of a decorator's wrapper that can be re-made around
    another function (spores' adapters are); such a wrapper's own code never needs the state's names."""
    inner = getattr(fn, "__wrapped__", None)
    rewrap = getattr(fn, "__rewrap__", None)
    return (inner, rewrap) if inner is not None and callable(rewrap) else None


def bind(fn: Callable[..., Any], state: State, names: dict[str, Any]) -> Callable[..., Any]:
    """``fn`` itself if it needs none of ``names``, else a copy of it that sees them.

    A wrapper with ``__wrapped__`` and ``__rewrap__(fn)`` is re-made around the bound copy of the
    function it wraps.
    """
    wrapped = _rewrappable(fn)
    if wrapped is not None:
        inner, rewrap = wrapped
        bound = bind(inner, state, names)
        return fn if bound is inner else rewrap(bound)
    if not isinstance(fn, types.FunctionType) or not (global_names(fn) & names.keys()):
        return fn
    scope = _Scope(names, fn.__globals__)
    bound = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    bound.__kwdefaults__ = fn.__kwdefaults__
    bound.__qualname__ = fn.__qualname__
    bound.__doc__ = fn.__doc__
    bound.__module__ = fn.__module__
    bound.__dict__.update(fn.__dict__)
    return bound


def unresolved(fn: Callable[..., Any], names: dict[str, Any]) -> list[str]:
    """Global names ``fn`` uses that neither ``names``, its module nor builtins define."""
    wrapped = _rewrappable(fn)
    if wrapped is not None:
        return unresolved(wrapped[0], names)
    globals_ = getattr(fn, "__globals__", {})
    module = globals_._module if isinstance(globals_, _Scope) else globals_
    builtin_names = vars(builtins)
    return sorted(
        n for n in global_names(fn) if n not in names and n not in module and n not in builtin_names
    )
