"""0.x's global state registry: ``register_state``, ``get_state``, ``get_all_states``, ``StateRef``.

Every declared state is registered under ``"<module>.<qualname>"`` - a script's states also under
``"<file stem>.<qualname>"``, as 0.x named them, and a state given ``name=`` under that name -
(held weakly: a state nobody uses any more leaves it); a later state of the same name replaces
the earlier one, as in 0.x.
``StateRef("module.Name")`` names a state through it wherever a machine takes one - a transition
target, one of ``Push(...)``'s states, a machine's ``initial_state=`` or ``error_state=`` - and is
resolved when the machine is built (0.x's way of breaking import cycles; bare names in
``transitions()`` are resolved lazily anyway).
"""

from __future__ import annotations

from typing import Any

import attrs

from ..common.errors import DefinitionError, Problem, did_you_mean
from .states import REGISTRY, State, registered_names
from .targets import Push

__all__ = [
    "FIX",
    "StateRef",
    "fix_for",
    "get_all_states",
    "get_state",
    "missing",
    "register_state",
    "resolved",
]

#: What to do about a ``StateRef`` naming no registered state.
FIX = "write the state's full 'module.QualName' (see get_all_states()), or name the state itself"


def fix_for(name: object) -> str:
    """What to do about ``name``, which no state is registered under: the nearest names, or :data:`FIX`."""
    return did_you_mean(name, list(REGISTRY), FIX)


def register_state(state: State) -> State:
    """Register ``state`` under its ``module.qualname`` (and a ``name=`` it was given; done for every
    declared state); returns it."""
    if not isinstance(state, State):
        raise TypeError(
            f"register_state() takes a septum state, got {state!r}. Fix: decorate it with @septum.state"
        )
    for name in registered_names(state.module, state.qualname, state.name):
        REGISTRY[name] = state
    return state


def get_state(name: str) -> State | None:
    """The state registered as ``name`` (``"module.Name"``), or None."""
    return REGISTRY.get(name)


def get_all_states() -> dict[str, State]:
    """Every registered state by name (a copy)."""
    return dict(REGISTRY)


@attrs.frozen
class StateRef:
    """A transition target naming a registered state: ``LabeledTransition(E.GO, StateRef("m.Busy"))``."""

    state: str

    def resolve(self) -> State:
        """The state registered under this name, or a :class:`DefinitionError` saying how to fix it."""
        found = REGISTRY.get(self.state)
        if found is None:
            raise DefinitionError(
                [
                    Problem(
                        f"StateRef({self.state!r})",
                        "no state is registered under that name",
                        fix_for(self.state),
                    )
                ],
                what="septum states",
            )
        return found


def missing(target: Any) -> list[StateRef]:
    """The ``StateRef``s in ``target`` (itself, or one of a ``Push``'s states) naming no registered state."""
    refs = target.states if isinstance(target, Push) else (target,)
    return [ref for ref in refs if isinstance(ref, StateRef) and ref.state not in REGISTRY]


def resolved(target: Any) -> Any:
    """``target`` with each ``StateRef`` in it (itself, or one of a ``Push``'s states) replaced by its
    state; anything else is returned as it is.  A ``StateRef`` naming no state: :class:`DefinitionError`."""
    if isinstance(target, StateRef):
        return target.resolve()
    if isinstance(target, Push) and any(isinstance(s, StateRef) for s in target.states):
        return Push(*(s.resolve() if isinstance(s, StateRef) else s for s in target.states))
    return target
