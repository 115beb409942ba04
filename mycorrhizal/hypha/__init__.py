"""hypha: coloured Petri nets for asyncio, run by an incremental scheduler that never loses a token.

Declare a net with ``@pn.net def Net(builder)`` (or ``NetBuilder("Name")``), run it with
``Runner(net, blackboard)``; see docs/hypha.md.
"""

from .builder import PN, NetBuilder, SubnetHandle, build_net, pn
from .marking import Marking
from .places import FailedToken, PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from .runner import Runner, RunnerStats
from .spec import ArcSpec, NetSpec, SubnetSpec
from .transitions import Consumed, FiringContext, HandlerKind, OnError, TransitionSpec

__all__ = [
    "PN",
    "ArcSpec",
    "Consumed",
    "FailedToken",
    "FiringContext",
    "HandlerKind",
    "Marking",
    "NetBuilder",
    "NetSpec",
    "OnError",
    "PlaceKind",
    "PlaceRef",
    "PlaceSpec",
    "PlaceType",
    "Runner",
    "RunnerStats",
    "SubnetHandle",
    "SubnetSpec",
    "TransitionRef",
    "TransitionSpec",
    "build_net",
    "pn",
]
