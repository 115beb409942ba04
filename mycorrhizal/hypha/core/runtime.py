"""Running nets: ``Runner`` and what it hands out (``from mycorrhizal.hypha.core.runtime import Runner``)."""

from ..context import Consumed, FiringContext
from ..marking import Marking
from ..netruntime import NetRuntime, PlaceRuntime, TransitionRuntime
from ..places import FailedToken
from ..reporting import RunnerStats
from ..runner import Runner

__all__ = [
    "Consumed",
    "FailedToken",
    "FiringContext",
    "Marking",
    "NetRuntime",
    "PlaceRuntime",
    "Runner",
    "RunnerStats",
    "TransitionRuntime",
]
