"""State specs: :class:`State` and :class:`StateGroup`, the immutable values the decorators produce.

A spec records what was declared and nothing else: its handlers as written, its configuration, the
names of its class body.  Nothing here resolves names, validates or compiles (that is
:mod:`.compile`), and no compiled artefact is ever stored on a spec: a machine's compiled plan is
cached by the compile layer, keyed by the spec.

A state draws and analyses the machine that starts at it (``to_diagram()``,
``analysis_report()``), which needs the layers above this one.  Specs import nothing above them,
so the package hands those layers down once, at import, through :func:`install_tools`.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..common.callables import local_name
from ..common.diagram import Diagram
from ..common.errors import did_you_mean
from .config import StateConfiguration

__all__ = ["REGISTRY", "ROLES", "State", "StateGroup", "Tools", "install_tools", "registered_names"]

#: Handler roles in the order they are documented.
ROLES = ("on_state", "on_enter", "on_leave", "on_timeout", "on_fail", "transitions")

Handler = Callable[..., Any]


@attrs.frozen
class Tools:
    """What specs need from the layers above them: compile a machine, draw and analyse the result.

    Compiled specs are typed ``Any`` here: their type lives in a layer above this one.
    """

    compile: Callable[[State | StateGroup, State | None], Any]
    """``compile(root, error_state)``: the machine's compiled (cached) spec."""
    diagram: Callable[[Any, Any], Diagram]
    """``diagram(compiled, current)``: its picture, with ``current`` (a state or states) highlighted."""
    analyse: Callable[[Any], list[tuple[bool, str]]]
    """``analyse(compiled)``: structural findings as (fine, text)."""
    resolve: Callable[[State, Handler], Handler]
    """``resolve(state, handler)``: the handler with its bare names fixed, as a machine built from
    ``state`` runs it (a class body's names are out of its handlers' reach otherwise)."""


_tools: list[Tools] = []


def install_tools(tools: Tools) -> None:
    """Hand the compile, render and analysis layers down to the specs (done once, by the package)."""
    _tools[:] = [tools]


def tools() -> Tools:
    """The installed :class:`Tools` (``mycorrhizal.septum`` installs them when it is imported)."""
    return _tools[0]


class _MachineRoot:
    """What a machine can be built from (a state, or a group): its spec, picture and analysis."""

    __slots__ = ()

    def machine_spec(self, error_state: State | None = None) -> Any:
        """The validated, compiled spec of the machine starting here (a shared, cached plan)."""
        return tools().compile(self, error_state)  # type: ignore[arg-type]  # State or StateGroup

    def to_diagram(self, error_state: State | None = None) -> Diagram:
        """Picture of the machine starting here: every state reachable from its initial (and error) state."""
        return tools().diagram(self.machine_spec(error_state), None)

    def analysis_report(self) -> list[tuple[bool, str]]:
        """Structural findings about the machine starting here, as (fine, text) pairs."""
        return tools().analyse(self.machine_spec())

    def __copy__(self) -> Any:
        # A spec is an immutable value that stands for what was declared, like a class or a
        # function: copying it gives the same object.
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


def _immutable(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    raise AttributeError(f"{instance.kind} {instance.name!r} is immutable. Fix: declare a new one instead")


#: Every declared state by ``module.qualname`` (0.x's global registry; see :mod:`.registry`).
REGISTRY: weakref.WeakValueDictionary[str, State] = weakref.WeakValueDictionary()


def registered_names(module: str, qualname: str, name: str | None = None) -> tuple[str, ...]:
    """The names a state is registered under: ``module.qualname`` and, for a script's states, also
    ``<script file stem>.qualname`` (the name 0.x gave them); a ``name`` other than the qualname's
    last part (``@septum.state(name=...)``, which replaced 0.x's generated name) too."""
    names: tuple[str, ...] = (f"{module}.{qualname}",)
    if module == "__main__":
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        if script:
            names += (f"{Path(script).stem}.{qualname}",)
    if name is not None and name != qualname.rpartition(".")[2]:
        names += (name,)
    return names


@attrs.define(eq=False, repr=False, on_setattr=_immutable)
class State(_MachineRoot):
    """An immutable state spec produced by ``@septum.state``; machines are built from it.

    States compare by identity, like the classes they are declared on.
    """

    name: str
    """The state's name (its class or function name)."""
    qualname: str
    """Its qualified name, e.g. ``Door.Shut``."""
    module: str
    """The module it was declared in."""
    config: StateConfiguration
    """Its timeout, retries, and whether it is terminal or may dwell."""
    form: str
    """``"class"`` or ``"function"``: how it was declared."""
    handlers: dict[str, tuple[Handler, ...]]
    """Handlers by role, as written (unbound)."""
    namespace: dict[str, Any]
    """The names of its class body (or, for the function form, of its handlers' closures)."""
    definition: Any
    """The decorated class or function."""
    group_name: str | None = None
    """``@septum.state(group=...)``: a label for people (0.x's ``group_name``); it changes nothing."""

    kind = "state"

    def __attrs_post_init__(self) -> None:
        for name in registered_names(self.module, self.qualname, self.name):
            REGISTRY[name] = self  # 0.x's registry: the latest of a name wins

    def __getattr__(self, key: str) -> Any:
        # ``MyState.__name__`` and ``MyState.Events`` read as they would on the decorated class.
        if key == "__name__":
            return self.name
        if key == "__qualname__":
            return self.qualname
        if key.startswith("__") or key in _STATE_FIELDS:
            # Dunders, and fields not set yet (an object being built): never the namespace.
            raise AttributeError(key)
        if key in ROLES:  # 0.x's spec attributes: ``MyState.on_state`` is the handler, or None
            found = self.handler(key)
            if found is not None:
                return self.resolved(found)
        try:
            return self.namespace[key]
        except KeyError:
            if key in ROLES:
                return None
            fix = did_you_mean(key, _public(self.namespace, ROLES), "define it in the state's body")
            raise AttributeError(f"state {self.name!r} has no attribute {key!r}. Fix: {fix}") from None

    def __repr__(self) -> str:
        return f"<septum state {self.qualname}>"

    @property
    def CONFIG(self) -> StateConfiguration:  # noqa: N802 - 0.x's name
        """``config`` under 0.x's name."""
        return self.config

    @property
    def base_name(self) -> str:
        """The last part of the name (0.x's names were dotted; this one is already short)."""
        return self.name.rsplit(".", 1)[-1]

    def get_transitions(self) -> list[Any]:
        """What ``transitions()`` returns, as a list (empty when the state declares none)."""
        fn = self.handler("transitions")
        found = self.resolved(fn)() if fn is not None else []
        return list(found) if isinstance(found, list | tuple) else [found]

    def resolved(self, handler: Handler) -> Handler:
        """``handler`` as a machine built from this state runs it, so that it can be called alone."""
        # A function-form handler is a closure: Python already resolved its names.
        return tools().resolve(self, handler) if self.form == "class" else handler

    def handler(self, role: str) -> Handler | None:
        """The handler declared for ``role`` (e.g. ``"on_enter"``), or None; as written, unbound."""
        found = self.handlers.get(role, ())
        return found[0] if found else None


@attrs.define(eq=False, repr=False, on_setattr=_immutable)
class StateGroup(_MachineRoot):
    """States declared together as one machine; the first one listed is the initial state.

    Building a machine from a group also checks that every member is reachable from the initial
    state, which a lone state cannot know, and lets the members name each other by the names the
    group gives them.
    """

    name: str
    """The group's name (its class's qualified name, or the ``name=`` given)."""
    states: tuple[State, ...]
    """Its member states; the first is the initial state."""
    namespace: dict[str, Any]
    """The names of its class body (or the members by name)."""

    kind = "state group"

    @property
    def initial(self) -> State:
        """The state a machine built from the group starts in."""
        return self.states[0]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key in _GROUP_FIELDS:
            raise AttributeError(key)
        try:
            return self.namespace[key]
        except KeyError:
            fix = did_you_mean(key, _public(self.namespace), "declare it in the group's body")
            shown = local_name(self.name)
            raise AttributeError(f"state group {shown!r} has no attribute {key!r}. Fix: {fix}") from None

    def __repr__(self) -> str:
        return f"<septum group {self.name}: {', '.join(s.name for s in self.states)}>"


def _public(namespace: dict[str, Any], also: tuple[str, ...] = ()) -> list[str]:
    """The names of a class body (and ``also``) that an attribute may name: not its private ones."""
    return [name for name in (*namespace, *also) if not name.startswith("_")]


_STATE_FIELDS = frozenset(field.name for field in attrs.fields(State))
_GROUP_FIELDS = frozenset(field.name for field in attrs.fields(StateGroup))
