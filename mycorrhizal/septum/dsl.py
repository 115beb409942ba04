"""Declaring states: the ``septum`` decorators.

A state is declared on a class (its body holds ``class Events(Enum)`` and the handlers) or on a
function (its body defines them; the function runs once, when decorated).  Either way the decorator
returns a :class:`~.states.State` spec.  Nothing is resolved or validated here beyond the shape of
what the decorators are given: handlers may name states declared later, and everything is checked
when a machine is first built from them (:mod:`.compile`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, overload

from ..common.errors import DefinitionError, DefinitionTypeError, Problem
from . import compound
from .config import StateConfiguration
from .states import ROLES, State, StateGroup

__all__ = [
    "events",
    "on_enter",
    "on_fail",
    "on_leave",
    "on_state",
    "on_timeout",
    "root",
    "septum",
    "state",
    "transitions",
]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

_ROLE_ATTR = "__septum_role__"
#: The role ``@septum.events`` gives an enum: a name of the state's body, not a handler.
EVENTS = "events"

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


def collect_instead(handler: Callable[..., Any], wrapper: Callable[..., Any]) -> None:
    """Have the function-form state whose body runs now take ``wrapper`` for ``handler``, a handler
    its decorator collected already (a decorator written above ``@septum.on_state`` wraps it after)."""
    if _collectors:
        found = _collectors[-1]
        for index, collected in enumerate(found):
            if collected is handler:
                found[index] = wrapper


def _role_of(value: Any) -> tuple[str, Callable[..., Any]] | None:
    fn = value.__func__ if isinstance(value, staticmethod | classmethod) else value
    role = getattr(fn, _ROLE_ATTR, None) if callable(fn) else None
    return (role, fn) if isinstance(role, str) else None


def _from_class(cls: type, config: StateConfiguration, name: str | None, group: str | None) -> State:
    handlers: dict[str, list[Callable[..., Any]]] = {}
    namespace: dict[str, Any] = {}
    for key, value in vars(cls).items():
        if key.startswith("__") and key.endswith("__"):
            continue
        found = _role_of(value)
        if found is not None and found[0] != EVENTS:
            handlers.setdefault(found[0], []).append(found[1])
            namespace[key] = found[1]
        else:
            namespace[key] = value
    return State(
        name=name or cls.__name__,
        qualname=cls.__qualname__,
        module=cls.__module__,
        config=config,
        form="class",
        handlers={k: tuple(v) for k, v in handlers.items()},
        namespace=namespace,
        definition=cls,
        group_name=group,
    )


def _collect(fn: Callable[..., Any], name: str) -> list[Callable[..., Any]]:
    """Run the body of the state function named ``name`` once; the handlers it declares."""
    required = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        _refuse(
            f"state {name}",
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
            f"state {name}",
            f"its body raised {type(exc).__name__}: {exc}",
            _body_fix(exc),
            error=DefinitionError,
            cause=exc,
        )
    finally:
        _collectors.pop()
    return collected


def _body_fix(exc: Exception) -> str:
    """How to fix a state function whose body raised ``exc``."""
    found = re.search(r"'(\w+)'", str(exc)) if isinstance(exc, UnboundLocalError) else None
    shadowed = found.group(1) if found else None
    if shadowed in ROLES:
        # ``from ...core import on_state`` then ``@on_state async def on_state(ctx)`` in the body:
        # the handler's own name hides the decorator inside the function.
        return (
            f"the handler named {shadowed} hides the decorator {shadowed} inside the state function: "
            f"write @septum.{shadowed}, or import it under another name"
        )
    return "a state function only declares its handlers (and Events); move other work into them"


def _from_function(
    fn: Callable[..., Any], config: StateConfiguration, name: str | None, group: str | None
) -> State:
    qualname = getattr(fn, "__qualname__", repr(fn))
    handlers: dict[str, list[Callable[..., Any]]] = {}
    namespace: dict[str, Any] = {}
    name = name or fn.__name__  # what problems call it: its qualname may read ``build.<locals>.Name``
    for handler in _collect(fn, name):
        role = getattr(handler, _ROLE_ATTR)
        if role == EVENTS:  # an enum marked with @septum.events: visible as State.Events
            namespace[handler.__name__] = handler
            continue
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
        name=name,
        qualname=qualname,
        module=getattr(fn, "__module__", "") or "",
        config=config,
        form="function",
        handlers={k: tuple(v) for k, v in handlers.items()},
        namespace=namespace,
        definition=fn,
        group_name=group,
    )


def _check_names(name: Any, group: Any) -> None:
    for keyword, value in (("name", name), ("group", group)):
        if value is not None and (not isinstance(value, str) or not value):
            _refuse(
                f"@septum.state({keyword}=...)",
                f"takes a non-empty str or None, got {value!r}",
                f"write {keyword}='...' or leave it out",
            )


def _make_state(obj: Any, config: StateConfiguration | None, name: str | None, group: str | None) -> State:
    if config is None:
        config = StateConfiguration()  # every state gets its own configuration object
    elif not isinstance(config, StateConfiguration):
        _refuse(
            "@septum.state(config=...)",
            f"takes a StateConfiguration, got {config!r}",
            "pass config=StateConfiguration(...)",
        )
    if isinstance(obj, State):
        _refuse(f"state {obj.name}", "is already a state", "apply @septum.state once")
    _check_names(name, group)
    if isinstance(obj, type):
        return _from_class(obj, config, name, group)
    if inspect.isfunction(obj):
        return _from_function(obj, config, name, group)
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


def _composite(obj: Any, initial: str | None, config: StateConfiguration | None, parallel: bool) -> Any:
    def make(target: Any) -> State:
        if not isinstance(target, type):
            what = "parallel" if parallel else "compound"
            _refuse(
                f"@septum.{what}",
                f"decorates a class, got {target!r}",
                "put it on a class nesting its states",
            )
        base = _make_state(target, config, None, None)
        return compound.build(target, base, initial=initial, parallel=parallel)

    return make if obj is None else make(obj)


class _Septum:
    """The ``septum`` decorator namespace."""

    __slots__ = ()

    @overload
    def state(self, obj: type | Callable[..., Any], /) -> State: ...

    @overload
    def state(
        self,
        obj: StateConfiguration | None = None,
        /,
        *,
        config: StateConfiguration | None = None,
        name: str | None = None,
        group: str | None = None,
    ) -> Callable[[Any], State]: ...

    def state(
        self,
        obj: Any = None,
        /,
        *,
        config: StateConfiguration | None = None,
        name: str | None = None,
        group: str | None = None,
    ) -> State | Callable[[Any], State]:
        """Declare a state on a class or function: ``@septum.state`` or ``@septum.state(config=...)``.

        ``name`` replaces the state's name (its class or function name); ``group`` is recorded as
        ``State.group_name`` and changes nothing else.  ``@septum.state(StateConfiguration(...))``
        (the configuration given by position) means ``config=``.
        """
        if isinstance(obj, StateConfiguration) and config is None:
            obj, config = None, obj
        if obj is not None:
            return _make_state(obj, config, name, group)
        return lambda target: _make_state(target, config, name, group)

    def compound(
        self,
        cls: type | None = None,
        /,
        *,
        initial: str | None = None,
        config: StateConfiguration | None = None,
    ) -> Any:
        """Declare a compound state on a class whose nested states are its children (see docs/septum.md).

        ``@septum.compound`` or ``@septum.compound(initial="Child", config=...)``: the first nested
        state is the initial child unless ``initial`` names another.
        """
        return _composite(cls, initial, config, parallel=False)

    def parallel(
        self,
        cls: type | None = None,
        /,
        *,
        config: StateConfiguration | None = None,
        initial: str | None = None,
    ) -> Any:
        """Declare a parallel state on a class whose nested states are its regions, all active at once.

        ``initial`` is accepted only to be refused with a ``DefinitionError`` naming the state (every
        region is entered), as for a compound state's mistakes, rather than Python's ``TypeError``.
        """
        return _composite(cls, initial, config, parallel=True)

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

    def events(self, cls: C) -> C:
        """Marks the state's ``Events`` enum (optional: ``State.Events`` works without it).

        In a function-form state it makes the enum visible as ``State.Events`` even when no
        handler refers to it.
        """
        if not isinstance(cls, type):
            _refuse(
                "@septum.events", f"decorates a class, got {cls!r}", "put @septum.events on the Events enum"
            )
        setattr(cls, _ROLE_ATTR, EVENTS)
        if _collectors:
            _collectors[-1].append(cls)
        return cls

    def root(self, fn: F) -> F:
        """Marks a function as a machine's root (``fn._septum_is_root``), as 0.x did; nothing reads it."""
        target = fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn
        target._septum_is_root = True  # type: ignore[attr-defined]
        return fn

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

# Module-level aliases of the decorators, as 0.x offered them (``from mycorrhizal.septum.core import
# state, on_state``): the very bound methods of ``septum``.
#: ``septum.state``.
state = septum.state
#: ``septum.on_state``.
on_state = septum.on_state
#: ``septum.on_enter``.
on_enter = septum.on_enter
#: ``septum.on_leave``.
on_leave = septum.on_leave
#: ``septum.on_timeout``.
on_timeout = septum.on_timeout
#: ``septum.on_fail``.
on_fail = septum.on_fail
#: ``septum.transitions``.
transitions = septum.transitions
#: ``septum.events``.
events = septum.events
#: ``septum.root``.
root = septum.root
