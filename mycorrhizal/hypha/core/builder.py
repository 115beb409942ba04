"""Declaring nets the way mycorrhizal 0.x programs do (``from mycorrhizal.hypha.core.builder import pn``).

The names are :mod:`mycorrhizal.hypha`'s, with the one difference those programs rely on: a net
declared through this module's :data:`pn` or :class:`NetBuilder` reads a ``list`` output value as
**one** token, the list (:attr:`ListValue.ONE`), where :mod:`mycorrhizal.hypha` reads it as several
tokens.  Everything else (places, arcs, runners, checks) is the same.  See docs/compat.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .. import builder as native
from ..builder import ArcChain
from ..dsl import PN
from ..spec import NetSpec
from ..subnets import SubnetHandle
from ..transitions import ListValue

__all__ = ["PN", "ArcChain", "NetBuilder", "build_net", "pn"]


class NetBuilder(native.NetBuilder):
    """hypha's :class:`~mycorrhizal.hypha.NetBuilder` reading a list output value as one token, as 0.x did."""

    list_value: ClassVar[ListValue] = ListValue.ONE

    # 0.x's parameter names, so its keyword calls (arc(source=p, target=t)) run unchanged.
    def arc(self, source: str, target: str, name: str | None = None, weight: int = 1) -> ArcChain:
        """Join ``source`` to ``target`` (see :meth:`mycorrhizal.hypha.NetBuilder.arc`)."""
        return super().arc(source, target, name, weight)

    def subnet(self, net_func: NetSpec | Callable[..., Any], instance_name: str) -> SubnetHandle:
        """Embed ``net_func`` as ``instance_name`` (see :meth:`mycorrhizal.hypha.NetBuilder.subnet`)."""
        return super().subnet(net_func, instance_name)


def build_net(
    body: Callable[..., Any], *, builder_class: type[native.NetBuilder] = NetBuilder, name: str | None = None
) -> NetSpec:
    """:func:`mycorrhizal.hypha.build_net` with this module's :class:`NetBuilder` by default."""
    return native.build_net(body, builder_class=builder_class, name=name)


class _PN(PN):
    """``pn`` of 0.x programs: ``@pn.net`` builds with this module's :class:`NetBuilder`."""

    NetBuilder = NetBuilder

    def net(
        self,
        body: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        builder_class: type[native.NetBuilder] = NetBuilder,
    ) -> Any:
        """Decorate ``def Net(builder)``: the built net, which also has ``_spec`` and ``to_mermaid()``."""
        if body is not None:
            return build_net(body, builder_class=builder_class, name=name)
        return super().net(name=name, builder_class=builder_class)


pn = _PN()
"""``@pn.net`` as 0.x programs use it (a list output value is one token)."""
