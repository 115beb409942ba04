"""A running net seen place by place: ``runner.runtime.places[("Net", "inbox")].add_token(job)``.

:class:`NetRuntime` is a view of one runner's own records (nothing is copied, nothing is kept twice):
places and transitions keyed by the tuple of the parts of their qualified name, each with what a
program reads (``tokens``, ``fqn``, ``spec``) and the few things it may do (add, remove, peek).  Every
change goes through the runner, so transitions wake and capacities hold exactly as with
``runner.add_token``.
"""

from __future__ import annotations

from typing import Any

from ..common.errors import RoutingError
from ..common.numbers import is_count
from .compile import FlatNet
from .ioplaces import IOPlaces
from .places import PlaceSpec
from .spec import NetSpec
from .state import PlaceState, TransitionState
from .transitions import TransitionSpec

__all__ = ["NetRuntime", "PlaceRuntime", "TransitionRuntime"]


class PlaceRuntime:
    """One place of a running net."""

    __slots__ = ("_runner", "_state", "_io", "spec")

    def __init__(self, runner: Any, state: PlaceState, spec: PlaceSpec, io: IOPlaces) -> None:
        self._runner = runner
        self._state = state
        self._io = io
        self.spec = spec
        """The place's spec."""

    @property
    def fqn(self) -> str:
        """Qualified name (``"Net.worker1.inbox"``)."""
        return self._state.qname

    @property
    def parts(self) -> tuple[str, ...]:
        """:attr:`fqn` split at the dots (this place's key in ``runtime.places``)."""
        return tuple(self._state.qname.split("."))

    @property
    def tokens(self) -> tuple[Any, ...]:
        """The tokens now in the place, in the order they would be taken (a snapshot)."""
        return tuple(self._state.in_take_order())

    def add_token(self, token: Any) -> None:
        """Put ``token`` into the place and wake its transitions (``CapacityError`` if it is full)."""
        self._runner.add_token(self._state.qname, token)

    def add_tokens(self, tokens: Any) -> None:
        """Put several tokens into the place, in order (all or none)."""
        self._runner.add_tokens(self._state.qname, tokens)

    def peek_tokens(self, n: int = 1) -> list[Any]:
        """The first ``n`` tokens, in take order, without taking them."""
        if not is_count(n, least=0):
            raise ValueError(
                f"place {self._state.qname!r}: peek_tokens({n!r}) takes how many tokens to look at, an int "
                ">= 0. Fix: pass e.g. peek_tokens(3)"
            )
        return self._state.in_take_order()[:n]

    def remove_tokens(self, tokens: Any) -> list[Any]:
        """Take the given tokens out of the place (each the first equal one in take order, one token per
        entry; journaled like ``add_token``); raises :class:`RoutingError`, removing nothing, if one of
        them is not there."""
        p = self._state
        held = p.in_take_order()
        chosen: list[int] = []
        for wanted in tokens:
            found = next((i for i, tok in enumerate(held) if i not in chosen and tok == wanted), None)
            if found is None:
                raise RoutingError(
                    f"place {p.qname!r} holds no (more) token equal to {wanted!r}; nothing was removed. Fix: "
                    "remove only tokens the place holds (see its .tokens, or runner.marking())",
                    place=p.qname,
                )
            chosen.append(found)
        return self._io.remove(p, chosen)

    def __repr__(self) -> str:
        return f"<PlaceRuntime {self.fqn!r}: {len(self._state.tokens)} tokens>"


class TransitionRuntime:
    """One transition of a running net."""

    __slots__ = ("_state", "spec")

    def __init__(self, state: TransitionState, spec: TransitionSpec) -> None:
        self._state = state
        self.spec = spec
        """The transition's spec."""

    @property
    def fqn(self) -> str:
        """Qualified name (``"Net.worker1.work"``)."""
        return self._state.qname

    @property
    def parts(self) -> tuple[str, ...]:
        """:attr:`fqn` split at the dots (this transition's key in ``runtime.transitions``)."""
        return tuple(self._state.qname.split("."))

    @property
    def fired(self) -> int:
        """Committed firings."""
        return self._state.fired

    @property
    def in_flight(self) -> int:
        """Firings suspended in the handler now."""
        return self._state.inflight

    def __repr__(self) -> str:
        return f"<TransitionRuntime {self.fqn!r}: {self.fired} firings>"


class NetRuntime:
    """``runner.runtime``: the places and transitions of a running net, by name parts."""

    __slots__ = ("spec", "places", "transitions")

    def __init__(
        self,
        runner: Any,
        flat: FlatNet,
        places: list[PlaceState],
        transitions: list[TransitionState],
        io: IOPlaces,
    ) -> None:
        self.places: dict[tuple[str, ...], PlaceRuntime] = {}
        """Every place, keyed by the parts of its qualified name: ``("Net", "worker1", "inbox")``."""
        self.transitions: dict[tuple[str, ...], TransitionRuntime] = {}
        """Every transition, keyed the same way."""
        self.refresh(runner, flat, places, transitions, io)

    def refresh(
        self,
        runner: Any,
        flat: FlatNet,
        places: list[PlaceState],
        transitions: list[TransitionState],
        io: IOPlaces,
    ) -> None:
        """Read the runner's places and transitions again (after its net changed while running); the
        ``places`` and ``transitions`` dicts stay the same objects, so a program holding one sees it."""
        self.spec: NetSpec = runner.net
        """The net being run."""
        self.places.clear()
        for p, fp in zip(places, flat.places, strict=True):
            self.places[tuple(p.qname.split("."))] = PlaceRuntime(runner, p, fp.spec, io)
        self.transitions.clear()
        for t in transitions:
            self.transitions[tuple(t.qname.split("."))] = TransitionRuntime(t, t.flat.spec)

    def __repr__(self) -> str:
        return (
            f"<NetRuntime {self.spec.name!r}: {len(self.places)} places, {len(self.transitions)} transitions>"
        )
