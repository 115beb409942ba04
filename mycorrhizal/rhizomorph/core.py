"""The public names of :mod:`mycorrhizal.rhizomorph`, also importable from ``mycorrhizal.rhizomorph.core``."""

from . import *  # noqa: F403 - the same public surface under the name the seeds import from
from . import __all__ as __all__
