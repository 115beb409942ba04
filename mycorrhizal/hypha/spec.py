"""The frozen net spec a builder produces and a runner accepts.

A spec is a value: it knows its elements and how to find them by name, nothing more.  Validating
and flattening it is :mod:`.compile`'s job (with a cache of its own), drawing it :mod:`.render`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import attrs

from ..common.diagram import Diagram, to_mermaid_text
from .places import PlaceSpec
from .transitions import TransitionSpec

__all__ = ["ArcSpec", "NetDrawer", "NetSpec", "SubnetSpec", "draw", "net_of", "set_drawer"]


@attrs.frozen
class ArcSpec:
    """An arc between a place and a transition, by names relative to the net that declared it."""

    src: str
    dst: str
    weight: int = 1
    direction: Literal["in", "out"] = "in"
    """``"in"``: place -> transition (consumes); ``"out"``: transition -> place (produces)."""
    origin: str = attrs.field(default="arc", eq=False, repr=False)
    """How the arc was declared (``arc``, or a transition's ``inputs=``/``outputs=``), for messages."""
    name: str | None = attrs.field(default=None, eq=False)
    """An optional label (``builder.arc(src, dst, name)``); it changes nothing in how the net runs."""
    shape: str | None = attrs.field(default=None, eq=False, repr=False)
    """The builder shape that declared the arc (``"fork"``: ``builder.fork()``), else None; for messages."""

    @property
    def source(self) -> str:
        """:attr:`src` (0.x's field name)."""
        return self.src

    @property
    def target(self) -> str:
        """:attr:`dst` (0.x's field name)."""
        return self.dst


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
    builder_class: type[Any] | None = attrs.field(default=None, repr=False)
    """The builder class that declared this net, if any: a running net's ``add_transition`` declares
    with it, so it takes the options that builder's ``transition()`` takes."""

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

    def element_paths(self, prefix: str = "") -> Iterator[str]:
        """The dotted path of every place and transition, in this net and its subnets (for messages)."""
        yield from (prefix + p.name for p in self.places)
        yield from (prefix + t.name for t in self.transitions)
        for s in self.subnets:
            yield from s.net.element_paths(f"{prefix}{s.name}.")

    def walk(self, prefix: str | None = None) -> Iterator[tuple[str, NetSpec]]:
        """Every net in this tree with its qualified name (this one first)."""
        here = self.name if prefix is None else prefix
        yield here, self
        for s in self.subnets:
            yield from s.net.walk(f"{here}.{s.name}")

    def __repr__(self) -> str:
        return (
            f"<NetSpec {self.name!r}: {len(self.places)} places, {len(self.transitions)} transitions, "
            f"{len(self.arcs)} arcs, {len(self.subnets)} subnets>"
        )

    @property
    def fqn(self) -> str:
        """The net's qualified name: its name (a net embedded in another is qualified by the runner
        that runs it, ``Top.sub``)."""
        return self.name

    @property
    def parts(self) -> tuple[str, ...]:
        """:attr:`fqn` split at the dots."""
        return tuple(self.name.split("."))

    def get_fqn(self) -> str:
        """:attr:`fqn` (the 0.x spelling)."""
        return self.fqn

    def get_parts(self) -> tuple[str, ...]:
        """:attr:`parts` (the 0.x spelling)."""
        return self.parts

    def to_diagram(self) -> Diagram:
        """Places as circles (initial token counts), transitions as boxes, subnets as clusters."""
        return draw(self, None, None)

    def to_mermaid(self) -> str:
        """The picture of :meth:`to_diagram` as Mermaid flowchart text."""
        return to_mermaid_text(self.to_diagram())

    @property
    def _spec(self) -> NetSpec:
        """The spec itself: 0.x programs reach a net's spec as ``MyNet._spec``, and whatever has a
        ``_spec`` is accepted where a net is (``Runner``, ``builder.subnet``)."""
        return self


def net_of(net: Any) -> Any:
    """The :class:`NetSpec` ``net`` stands for: itself, or what it holds as ``_spec`` (0.x programs'
    net functions); anything else is returned as is, for the caller to report."""
    if isinstance(net, NetSpec):
        return net
    held = getattr(net, "_spec", None)
    return held if isinstance(held, NetSpec) else net


NetDrawer = Callable[[NetSpec, Mapping[str, int] | None, Mapping[str, int] | None], Diagram]
"""``draw(net, counts, busy)``: the picture of ``net``, with token counts and firings in flight (from a
runner) or without (from a spec)."""

_drawer: list[NetDrawer] = []


def set_drawer(drawer: NetDrawer) -> None:
    """Install how nets are drawn.

    Drawing sits above the specs and the runtime (:mod:`.render`), which must not import it; render
    installs itself here when :mod:`mycorrhizal.hypha` is imported, so ``to_diagram()`` works on a
    spec and a runner all the same.
    """
    _drawer[:] = [drawer]


def draw(net: NetSpec, counts: Mapping[str, int] | None, busy: Mapping[str, int] | None) -> Diagram:
    """The picture of ``net`` by the installed drawer (see :func:`set_drawer`)."""
    return _drawer[0](net, counts, busy)
