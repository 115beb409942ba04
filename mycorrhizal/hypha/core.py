"""The public names of :mod:`mycorrhizal.hypha`, also importable from ``mycorrhizal.hypha.core``."""

from . import *  # noqa: F403 - the same public surface under the name the seeds import from
from . import __all__ as __all__
