"""Subnet handles: how a net refers to the places and transitions of a net embedded in it."""

from __future__ import annotations

from ..common.errors import DefinitionAttributeError, DefinitionError, Problem, did_you_mean
from .places import PlaceRef, PlaceSpec, TransitionRef
from .spec import NetSpec
from .transitions import TransitionSpec

__all__ = ["SubnetHandle", "SubnetRef"]


class SubnetHandle:
    """What ``builder.subnet(...)`` returns: ``handle.inbox`` / ``handle["inbox"]`` refer to its elements."""

    __slots__ = ("_path", "_net", "_scope")

    def __init__(self, path: str, net: NetSpec, scope: str | None = None) -> None:
        self._path = path
        self._net = net
        self._scope = scope  # the embedding net's name, for the refs' fqn

    @property
    def net(self) -> NetSpec | PlaceRef | TransitionRef | SubnetHandle:
        """The embedded net's spec; its element named ``net``, if it has one (see docs/hypha.md)."""
        # 0.x reached every element by attribute and had no ``net``: a 0.x program naming an element
        # ``net`` must get that element here, not the spec (refusing the name would break it).
        if self._net.lookup("net") is not None:
            return self._element("net", DefinitionAttributeError)
        return self._net

    def __getitem__(self, name: str) -> PlaceRef | TransitionRef | SubnetHandle:
        return self._element(name, DefinitionError)

    def _element(self, name: str, error: type[DefinitionError]) -> PlaceRef | TransitionRef | SubnetHandle:
        found = self._net.lookup(name)
        path = f"{self._path}.{name}"
        if isinstance(found, PlaceSpec):
            return PlaceRef(path, self._scope)
        if isinstance(found, TransitionSpec):
            return TransitionRef(path, self._scope)
        if isinstance(found, NetSpec):
            return SubnetHandle(path, found, self._scope)
        known = sorted([p.name for p in self._net.places] + [t.name for t in self._net.transitions])
        inner = [s.name for s in self._net.subnets]  # reachable by name too, so suggested as well
        raise error(
            [
                Problem(
                    f"subnet {self._path!r}",
                    f"net {self._net.name!r} has no element {name!r} (it has {known})",
                    did_you_mean(
                        name,
                        [*known, *inner],
                        "check the spelling or add that place/transition to the subnet",
                    ),
                )
            ],
            what=f"subnet {self._path!r}",
        )

    def __getattr__(self, name: str) -> PlaceRef | TransitionRef | SubnetHandle:
        if name.startswith("_"):  # Python's own probes (and private names) are not elements
            raise AttributeError(name)
        return self._element(name, DefinitionAttributeError)  # hasattr() and getattr(h, n, d) still work

    def __str__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"SubnetHandle({self._path!r}, net={self._net.name!r})"


SubnetRef = SubnetHandle
"""The 0.x name of :class:`SubnetHandle`."""
