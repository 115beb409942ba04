"""The public names of :mod:`mycorrhizal.septum`, also importable from ``mycorrhizal.septum.core``."""

from . import *  # noqa: F403 - the same public surface under the name the seeds import from
from . import __all__ as __all__
