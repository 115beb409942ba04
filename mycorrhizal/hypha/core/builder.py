"""Declaring nets: ``NetBuilder`` and ``pn`` (``from mycorrhizal.hypha.core.builder import NetBuilder``)."""

from ..builder import NetBuilder, build_net
from ..dsl import PN, pn

__all__ = ["PN", "NetBuilder", "build_net", "pn"]
