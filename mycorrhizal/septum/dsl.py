"""Declaring states: the ``septum`` decorators.

A state is declared on a class (its body holds ``class Events(Enum)`` and the handlers) or on a
function (its body defines them; the function runs once, when decorated).  Either way the decorator
returns a :class:`~.states.State` spec.  Nothing is resolved or validated here beyond the shape of
what the decorators are given: handlers may name states declared later, and everything is checked
when a machine is first built from them (:mod:`.compile`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, overload

from ..common.errors import DefinitionError, DefinitionTypeError, Problem
from .config import StateConfiguration
from .states import State, StateGroup

__all__ = ["septum"]

F = TypeVar("F", bound=Callable[..., Any])

_ROLE_ATTR = "__septum_role__"

# Function-form states run their body while one of these lists is on top, so the handler
# decorators inside it can be collected.
_collectors: list[list[Callable[..., Any]]] = []


def _refuse(
    subject: str,
    message: str,
    fix: str,
    *,
    error: type[DefinitionError] = DefinitionTypeError,
    cause: BaseException | None = None,
) -> NoReturn:
    raise error([Problem(subject, message, fix)], what=subject) from cause


def _mark(role: str, fn: F) -> F:
    target = fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn
    if not callable(target):
        _refuse(f"@septum.{role}", f"decorates a function, got {fn!r}", f"put @septum.{role} on a def")
    setattr(target, _ROLE_ATTR, role)
    if _collectors:
        _collectors[-1].append(target)
    return fn


def _role_of(value: Any) -> tuple[str, Callable[..., Any]] | None:
    fn = value.__func__ if isinstance(value, staticmethod | classmethod) else value
    role = getattr(fn, _ROLE_ATTR, None) if callable(fn) else None
    return (role, fn) if isinstance(role, str) else None


def _from_class(cls: type, config: StateConfiguration) -> State:
    handlers: dict[str, list[Callable[..., Any]]] = {}
    namespace: dict[str, Any] = {}
    for key, value in vars(cls).items():
        if key.startswith("__") and key.endswith("__"):
            continue
        found = _role_of(value)
        if found is not None:
            handlers.setdefault(found[0], []).append(found[1])
            namespace[key] = found[1]
        else:
            namespace[key] = value
    return State(
        name=cls.__name__,
        qualname=cls.__qualname__,
        module=cls.__module__,
        config=config,
        form="class",
        handlers={k: tuple(v) for k, v in handlers.items()},
        namespace=namespace,
        definition=cls,
    )


def _collect(fn: Callable[..., Any], qualname: str) -> list[Callable[..., Any]]:
    """Run a state function's body once; the handlers it declares."""
    required = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        _refuse(
            f"state {qualname}",
            f"a state function takes no arguments, this one needs {len(required)}",
            "declare the handlers inside a function without parameters",
            error=DefinitionError,
        )
    collected: list[Callable[..., Any]] = []
    _collectors.append(collected)
    try:
        fn()
    except DefinitionError:
        raise  # a decorator inside said what is wrong, naming it
    except Exception as exc:
        _refuse(
            f"state {qualname}",
            f"its body raised {type(exc).__name__}: {exc}",
            "a state function only declares its handlers (and Events); move other work into them",
            error=DefinitionError,
            cause=exc,
        )
    finally:
        _collectors.pop()
    return collected


def _from_function(fn: Callable[..., Any], config: StateConfiguration) -> State:
    qualname = getattr(fn, "__qualname__", repr(fn))
    handlers: dict[str, list[Callable[..., Any]]] = {}
    namespace: dict[str, Any] = {}
    for handler in _collect(fn, qualname):
        role = getattr(handler, _ROLE_ATTR)
        handlers.setdefault(role, []).append(handler)
        namespace[handler.__name__] = handler
        # The body's other names (``Events``, helpers) are visible through the handlers' closures.
        code = handler.__code__
        for var, cell in zip(code.co_freevars, handler.__closure__ or (), strict=True):
            try:
                namespace.setdefault(var, cell.cell_contents)
            except ValueError:  # an empty cell: the name is bound later in an enclosing scope
                continue
    return State(
        name=fn.__name__,
        qualname=qualname,
        module=getattr(fn, "__module__", "") or "",
        config=config,
        form="function",
        handlers={k: tuple(v) for k, v in handlers.items()},
        namespace=namespace,
        definition=fn,
    )


def _make_state(obj: Any, config: StateConfiguration | None) -> State:
    if config is None:
        config = StateConfiguration()  # every state gets its own configuration object
    elif not isinstance(config, StateConfiguration):
        _refuse(
            "@septum.state(config=...)",
            f"takes a StateConfiguration, got {config!r}",
            "pass config=StateConfiguration(...)",
        )
    if isinstance(obj, State):
        _refuse(f"state {obj.qualname}", "is already a state", "apply @septum.state once")
    if isinstance(obj, type):
        return _from_class(obj, config)
    if inspect.isfunction(obj):
        return _from_function(obj, config)
    _refuse("@septum.state", f"decorates a class or a function, got {obj!r}", "put it on a class or a def")


def _group(name: str, states: tuple[State, ...], namespace: dict[str, Any]) -> StateGroup:
    if not states:
        _refuse(
            f"state group {name!r}",
            "the group declares no states",
            "decorate its states with @septum.state",
            error=DefinitionError,
        )
    return StateGroup(name=name, states=states, namespace=namespace)


class _Septum:
    """The ``septum`` decorator namespace."""

    __slots__ = ()

    @overload
    def state(self, obj: type | Callable[..., Any], /) -> State: ...

    @overload
    def state(
        self, obj: None = None, /, *, config: StateConfiguration | None = None
    ) -> Callable[[Any], State]: ...

    def state(
        self, obj: Any = None, /, *, config: StateConfiguration | None = None
    ) -> State | Callable[[Any], State]:
        """Declare a state on a class or function: ``@septum.state`` or ``@septum.state(config=...)``."""
        if obj is not None:
            return _make_state(obj, config)
        return lambda target: _make_state(target, config)

    def on_state(self, fn: F) -> F:
        """The state's main handler: runs on entry and for each message; returns a label or None."""
        return _mark("on_state", fn)

    def on_enter(self, fn: F) -> F:
        """Runs each time the state is entered (its return value is ignored)."""
        return _mark("on_enter", fn)

    def on_leave(self, fn: F) -> F:
        """Runs each time the state is left (its return value is ignored)."""
        return _mark("on_leave", fn)

    def on_timeout(self, fn: F) -> F:
        """Runs when the state's configured timeout expires; returns a label or None."""
        return _mark("on_timeout", fn)

    def on_fail(self, fn: F) -> F:
        """Runs when ``Retry`` is asked for after the retry budget is spent; returns a label or None."""
        return _mark("on_fail", fn)

    def transitions(self, fn: F) -> F:
        """Returns the state's list of ``LabeledTransition``; called when a machine is compiled."""
        return _mark("transitions", fn)

    @overload
    def group(self, cls: type, /) -> StateGroup: ...

    @overload
    def group(self, *states: State, name: str = "machine") -> StateGroup: ...

    def group(self, *items: Any, name: str = "machine") -> StateGroup:
        """Declare states together (``@septum.group`` on a class, or ``septum.group(A, B, ...)``)."""
        if len(items) == 1 and isinstance(items[0], type):
            cls = items[0]
            namespace = {k: v for k, v in vars(cls).items() if not k.startswith("__")}
            states = tuple(v for v in namespace.values() if isinstance(v, State))
            return _group(cls.__qualname__, states, namespace)
        bad = [repr(s) for s in items if not isinstance(s, State)]
        if bad:
            _refuse(
                f"septum.group(name={name!r})",
                f"takes states declared with @septum.state, got {', '.join(bad)}",
                "decorate each with @septum.state, or use @septum.group on a class",
            )
        return _group(name, tuple(items), {s.name: s for s in items})


#: The decorator namespace: ``@septum.state``, ``@septum.on_state``, ``@septum.transitions``, ...
septum = _Septum()
