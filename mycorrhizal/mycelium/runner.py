"""The runner of composed nets: hypha's :class:`~mycorrhizal.hypha.Runner`, plus 0.x's ``to_mermaid()``."""

from __future__ import annotations

from ..common.diagram import to_mermaid_text
from ..hypha import Runner

__all__ = ["PNRunner"]


class PNRunner(Runner):
    """Runs a (composed) net: hypha's :class:`~mycorrhizal.hypha.Runner`, and :meth:`to_mermaid`."""

    def to_mermaid(self) -> str:
        """The net's picture now (embedded trees and machines drawn beside their transitions) as Mermaid."""
        return to_mermaid_text(self.to_diagram())
