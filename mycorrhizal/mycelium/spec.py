"""What a composed transition embeds, as frozen values built once when the net is defined.

The builder checks the user's keywords (see :mod:`.checks`) and turns them into one of these; the
handler factories (:mod:`.tree_handler`, :mod:`.machine_handler`) read them and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..rhizomorph import Tree
from ..septum import State

__all__ = ["EmbeddedMachine", "EmbeddedTree", "Routes"]


@attrs.frozen(eq=False)
class Routes:
    """Where an embedded tree or machine may send a token."""

    outputs: Mapping[str, str]
    """Every accepted spelling of an output place -> the key hypha's firing expects."""
    rejected: str | None
    """The place that receives :class:`~mycorrhizal.mycelium.Rejection` records, if any."""


@attrs.frozen(eq=False)
class EmbeddedTree:
    """A behaviour tree that decides about the tokens of each firing."""

    tree: Tree
    mode: str
    """``"token"``: one run of the tree per consumed token; ``"batch"``: one run per firing."""
    routes: Routes
    parks: bool = False
    """The transition has an error place (``on_error=place``): a failing firing's tokens go there."""


@attrs.frozen(eq=False)
class EmbeddedMachine:
    """The state machines that live with a transition, one per ``key(token)``, and when they go."""

    initial: State
    key: Callable[[Any], Any] | None
    options: Mapping[str, Any]
    """Keyword arguments for each :class:`~mycorrhizal.septum.StateMachine` (checked already)."""
    routes: Routes
    serial: bool
    """True when the transition fires one at a time (``concurrency=1``)."""
    idle_ttl: float | None = None
    """Evict a machine at rest once this long (timebase seconds) has passed since its last token."""
    max_machines: int | None = None
    """Keep at most this many machines: a new key evicts the least recently used one."""
    idle_states: frozenset[State] = frozenset()
    """The states in which a machine counts as at rest (its initial state unless declared)."""

    @property
    def evicts(self) -> bool:
        """True if machines are ever evicted (then the pool keeps their order of use)."""
        return self.idle_ttl is not None or self.max_machines is not None
