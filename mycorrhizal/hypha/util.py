"""``to_mermaid(spec)``: the Mermaid text of a net, under the import path 0.x programs use."""

from __future__ import annotations

from typing import Any

from .spec import NetSpec, net_of

__all__ = ["to_mermaid"]


def to_mermaid(spec: Any) -> str:
    """``spec.to_mermaid()`` for a net (or anything holding one as ``_spec``); ValueError otherwise."""
    net = net_of(spec)
    if not isinstance(net, NetSpec):
        raise ValueError(
            f"{spec!r} is not a net. Fix: pass a net made with @pn.net or NetBuilder(...).build()"
        )
    return net.to_mermaid()
