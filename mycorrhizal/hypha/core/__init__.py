"""``mycorrhizal.hypha.core``: the public names of :mod:`mycorrhizal.hypha`, under the path programs
written for the original library import them from.

The submodules :mod:`.builder`, :mod:`.specs` and :mod:`.runtime` hold the same names grouped the way
those programs import them (``from mycorrhizal.hypha.core.builder import NetBuilder``).
"""

from .. import *  # noqa: F403 - the same public surface under the name the seeds import from
from .. import __all__ as __all__
