"""How trees and runners show themselves: generic functions implemented by the layers above.

:class:`~.tree.Tree` (a spec) and :class:`~.runner.Runner` (the runtime) offer ``nodes()``,
``to_dict()`` and ``to_diagram()``, but the code behind those lives in the layers that read specs:
the compiler (:mod:`.compile`), the JSON form (:mod:`.declarative`) and the pictures
(:mod:`.render`).  Those layers import the spec, never the other way round, so the spec calls these
generic functions (:func:`functools.singledispatch`) and each layer registers its implementation
when it is imported.  The package's ``__init__`` imports every one of them, so they are always
registered before any tree exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import singledispatch
from typing import Any

from ..common.diagram import Diagram

__all__ = ["findings", "picture", "preorder", "to_data"]


@singledispatch
def preorder(tree: Any) -> Sequence[Any]:
    """Every node spec of ``tree`` in preorder (compiling, so validating, it once); see :mod:`.compile`."""
    raise NotImplementedError(f"preorder({tree!r}): mycorrhizal.rhizomorph.compile registers it")


@singledispatch
def picture(subject: Any) -> Diagram:
    """The picture of a tree or a runner; see :mod:`.render`."""
    raise NotImplementedError(f"picture({subject!r}): mycorrhizal.rhizomorph.render registers it")


@singledispatch
def to_data(tree: Any) -> dict[str, Any]:
    """The declarative (JSON-ready) form of a tree; see :mod:`.declarative`."""
    raise NotImplementedError(f"to_data({tree!r}): mycorrhizal.rhizomorph.declarative registers it")


@singledispatch
def findings(tree: Any) -> list[tuple[bool, str]]:
    """What ``mycorrhizal check`` reports about a tree: (fine?, text) pairs; see :mod:`.compile`."""
    raise NotImplementedError(f"findings({tree!r}): mycorrhizal.rhizomorph.compile registers it")
