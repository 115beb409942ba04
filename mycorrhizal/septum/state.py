"""Declaring states: the ``septum`` decorators, :class:`State` and :class:`StateGroup`.

A state is declared on a class (its body holds ``class Events(Enum)`` and the handlers) or on a
function (its body defines them; the function runs once, when decorated).  Either way the decorator
returns a :class:`State` spec.  Nothing is resolved or validated at declaration time: handlers may
name states declared later, and everything is checked when a machine is first built from them.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..common.diagram import Diagram
from ..common.errors import DefinitionError, Problem
from .config import StateConfiguration

if TYPE_CHECKING:
    from .compile import MachineSpec

__all__ = ["ROLES", "State", "StateGroup", "septum"]

F = TypeVar("F", bound=Callable[..., Any])

#: Handler roles in the order they are documented.
ROLES = ("on_state", "on_enter", "on_leave", "on_timeout", "on_fail", "transitions")
_ROLE_ATTR = "__septum_role__"

# Function-form states run their body while one of these lists is on top, so the handler
# decorators inside it can be collected.
_collectors: list[list[Callable[..., Any]]] = []


class _MachineRoot:
    """What a machine can be built from (a state, or a group): its spec, picture and analysis."""

    __slots__ = ()

    def machine_spec(self, error_state: State | None = None) -> MachineSpec:
        """The validated, compiled spec of the machine starting here (built once, then cached)."""
        from .compile import machine_spec

        return machine_spec(self, error_state)  # type: ignore[arg-type]  # State or StateGroup

    def to_diagram(self, error_state: State | None = None) -> Diagram:
        """Picture of the machine starting here: every state reachable from its initial (and error) state."""
        from .diagram import spec_diagram

        return spec_diagram(self.machine_spec(error_state), None)

    def analysis_report(self) -> list[tuple[bool, str]]:
        """Structural findings about the machine starting here, as (fine, text) pairs."""
        from .analysis import analysis_report

        return analysis_report(self.machine_spec())


class State(_MachineRoot):
    """An immutable state spec produced by ``@septum.state``; machines are built from it."""

    __slots__ = (
        "name",
        "qualname",
        "module",
        "config",
        "form",
        "handlers",
        "namespace",
        "scopes",
        "definition",
        "_cache",
    )

    name: str
    qualname: str
    module: str
    config: StateConfiguration
    form: str
    handlers: dict[str, tuple[Callable[..., Any], ...]]
    namespace: dict[str, Any]
    scopes: tuple[dict[str, Any], ...]
    definition: Any

    def __init__(
        self,
        *,
        name: str,
        qualname: str,
        module: str,
        config: StateConfiguration,
        form: str,
        handlers: dict[str, tuple[Callable[..., Any], ...]],
        namespace: dict[str, Any],
        definition: Any,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "qualname", qualname)
        setattr_(self, "module", module)
        setattr_(self, "config", config)
        setattr_(self, "form", form)
        setattr_(self, "handlers", handlers)
        setattr_(self, "namespace", namespace)
        setattr_(self, "scopes", ())
        setattr_(self, "definition", definition)
        # Compiled artefacts (transition table, machine specs built from here); never part of
        # the state's identity.
        setattr_(self, "_cache", {})

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"state {self.name!r} is immutable; declare a new state instead")

    def __getattr__(self, key: str) -> Any:
        # ``MyState.__name__`` and ``MyState.Events`` read as they would on the decorated class.
        if key in ("__name__", "__qualname__"):
            return self.name if key == "__name__" else self.qualname
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self.namespace[key]
        except KeyError:
            raise AttributeError(f"state {self.name!r} has no attribute {key!r}") from None

    def __repr__(self) -> str:
        return f"<septum state {self.qualname}>"

    def handler(self, role: str) -> Callable[..., Any] | None:
        """The handler declared for ``role`` (e.g. ``"on_enter"``), or None; as written, unbound."""
        found = self.handlers.get(role, ())
        return found[0] if found else None

    def _add_scope(self, scope: dict[str, Any]) -> None:
        object.__setattr__(self, "scopes", (*self.scopes, scope))


class StateGroup(_MachineRoot):
    """States declared together as one machine; the first one listed is the initial state.

    Building a machine from a group also checks that every member is reachable from the initial
    state, which a lone state cannot know.
    """

    __slots__ = ("name", "states", "initial", "namespace", "_cache")

    def __init__(self, name: str, states: tuple[State, ...], namespace: dict[str, Any]) -> None:
        if not states:
            raise DefinitionError(
                [Problem(name, "the group declares no states", "decorate its states with @septum.state")],
                what=f"state group {name!r}",
            )
        self.name = name
        self.states = states
        self.initial = states[0]
        self.namespace = namespace
        self._cache: dict[Any, Any] = {}
        for state in states:
            state._add_scope(namespace)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self.namespace[key]
        except KeyError:
            raise AttributeError(f"state group {self.name!r} has no attribute {key!r}") from None

    def __repr__(self) -> str:
        return f"<septum group {self.name}: {', '.join(s.name for s in self.states)}>"


def _mark(role: str, fn: F) -> F:
    target = fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn
    if not callable(target):
        raise TypeError(f"@septum.{role} decorates a function, got {fn!r}")
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


def _from_function(fn: Callable[..., Any], config: StateConfiguration) -> State:
    qualname = getattr(fn, "__qualname__", repr(fn))
    required = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise DefinitionError(
            [
                Problem(
                    qualname,
                    f"a state function takes no arguments, this one needs {len(required)}",
                    "declare the handlers inside a function without parameters",
                )
            ],
            what=f"state {qualname!r}",
        )
    collected: list[Callable[..., Any]] = []
    _collectors.append(collected)
    try:
        fn()
    finally:
        _collectors.pop()
    handlers: dict[str, list[Callable[..., Any]]] = {}
    namespace: dict[str, Any] = {}
    for handler in collected:
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
        raise TypeError(f"@septum.state(config=...) takes a StateConfiguration, got {config!r}")
    if isinstance(obj, State):
        raise TypeError(f"{obj!r} is already a state; apply @septum.state once")
    if isinstance(obj, type):
        return _from_class(obj, config)
    if inspect.isfunction(obj):
        return _from_function(obj, config)
    raise TypeError(f"@septum.state decorates a class or a function, got {obj!r}")


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
        """Returns the state's list of ``LabeledTransition``; called once, when a machine is built."""
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
            return StateGroup(cls.__qualname__, states, namespace)
        bad = [repr(s) for s in items if not isinstance(s, State)]
        if bad:
            raise TypeError(f"septum.group() takes states declared with @septum.state, got {', '.join(bad)}")
        return StateGroup(name, tuple(items), {s.name: s for s in items})


#: The decorator namespace: ``@septum.state``, ``@septum.on_state``, ``@septum.transitions``, ...
septum = _Septum()


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
