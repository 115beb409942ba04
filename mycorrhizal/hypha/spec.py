"""The frozen net spec a builder produces and a runner accepts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .places import PlaceSpec
from .transitions import TransitionSpec

if TYPE_CHECKING:
    from ..common.diagram import Diagram
    from .compiled import FlatNet

__all__ = ["ArcSpec", "NetSpec", "SubnetSpec"]


@attrs.frozen
class ArcSpec:
    """An arc between a place and a transition, by names relative to the net that declared it."""

    src: str
    dst: str
    weight: int = 1
    direction: Literal["in", "out"] = "in"
    """``"in"``: place -> transition (consumes); ``"out"``: transition -> place (produces)."""


@attrs.frozen
class SubnetSpec:
    """A net embedded in another under an instance name."""

    name: str
    net: NetSpec


@attrs.frozen(eq=False, repr=False)
class NetSpec:
    """An immutable Petri net: places, transitions, arcs and embedded subnets (compared by identity)."""

    name: str
    places: tuple[PlaceSpec, ...] = ()
    transitions: tuple[TransitionSpec, ...] = ()
    arcs: tuple[ArcSpec, ...] = ()
    subnets: tuple[SubnetSpec, ...] = ()
    definition: Callable[..., Any] | None = attrs.field(default=None, repr=False)
    """The ``def Net(builder)`` body this spec was built from, if any (to re-run it on another builder)."""
    _cache: dict[str, Any] = attrs.field(factory=dict, repr=False, alias="_cache")

    def lookup(self, path: str) -> PlaceSpec | TransitionSpec | NetSpec | None:
        """The place, transition or subnet at a dotted ``path`` relative to this net, or None."""
        head, _, rest = path.partition(".")
        if not rest:
            for p in self.places:
                if p.name == head:
                    return p
            for t in self.transitions:
                if t.name == head:
                    return t
        for s in self.subnets:
            if s.name == head:
                return s.net if not rest else s.net.lookup(rest)
        return None

    def walk(self, prefix: str | None = None) -> Iterator[tuple[str, NetSpec]]:
        """Every net in this tree with its qualified name (this one first)."""
        here = self.name if prefix is None else prefix
        yield here, self
        for s in self.subnets:
            yield from s.net.walk(f"{here}.{s.name}")

    def flat(self) -> FlatNet:
        """This net flattened into one level with qualified names (computed once, then cached)."""
        flat = self._cache.get("flat")
        if flat is None:
            from .compiled import flatten

            flat = self._cache["flat"] = flatten(self)
        return flat

    def __repr__(self) -> str:
        return (
            f"<NetSpec {self.name!r}: {len(self.places)} places, {len(self.transitions)} transitions, "
            f"{len(self.arcs)} arcs, {len(self.subnets)} subnets>"
        )

    def to_diagram(self) -> Diagram:
        """Places as circles (initial token counts), transitions as boxes, subnets as clusters."""
        from .render import net_diagram

        return net_diagram(self, None)
