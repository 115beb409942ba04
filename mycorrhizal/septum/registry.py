"""0.x's global state registry: ``register_state``, ``get_state``, ``get_all_states``, ``StateRef``.

Every declared state is registered under ``"<module>.<qualname>"`` (held weakly: a state nobody
uses any more leaves it); a later state of the same name replaces the earlier one, as in 0.x.
``StateRef("module.Name")`` is a transition target resolved through it when a machine is built
(0.x's way of breaking import cycles; bare names in ``transitions()`` are resolved lazily anyway).
"""

from __future__ import annotations

import attrs

from ..common.errors import DefinitionError, Problem
from .states import REGISTRY, State

__all__ = ["StateRef", "get_all_states", "get_state", "register_state"]


def register_state(state: State) -> State:
    """Register ``state`` under its ``module.qualname`` (done for every declared state); returns it."""
    if not isinstance(state, State):
        raise TypeError(
            f"register_state() takes a septum state, got {state!r}; decorate it with @septum.state"
        )
    REGISTRY[f"{state.module}.{state.qualname}"] = state
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
                        "write the state's full 'module.QualName' (see get_all_states()), "
                        "or name the state itself",
                    )
                ],
                what="septum states",
            )
        return found
