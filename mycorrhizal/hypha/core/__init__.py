"""``mycorrhizal.hypha.core``: hypha under the path programs written for mycorrhizal 0.x import from.

The public names are those of :mod:`mycorrhizal.hypha`, and the submodules :mod:`.builder`,
:mod:`.specs` and :mod:`.runtime` group them the way those programs import them.  One difference:
nets declared through this package's ``pn`` / ``NetBuilder`` (:mod:`.builder`) read a ``list`` output
value as one token, as 0.x did (see docs/compat.md); :mod:`mycorrhizal.hypha` reads it as several.
"""

from .. import *  # noqa: F403 - the same public surface under the name the seeds import from
from .. import __all__ as __all__
from .builder import NetBuilder as NetBuilder
from .builder import build_net as build_net
from .builder import pn as pn
