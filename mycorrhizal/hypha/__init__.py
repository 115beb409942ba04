"""hypha: coloured Petri nets for asyncio, run by an incremental scheduler that never loses a token.

Declare a net with ``@pn.net def Net(builder)`` (or ``NetBuilder("Name")``), run it with
``Runner(net, blackboard)``; see docs/hypha.md.
"""

from .analysis import (
    NetAnalysis,
    ReachabilityGraph,
    Unreachable,
    analyze,
    net_graph,
    reachability_graph,
    unreachable,
)
from .builder import NetBuilder, build_net
from .decorator import PN, pn
from .marking import Marking
from .places import FailedToken, PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from .runner import FiringEvent, Runner, RunnerStats
from .spec import ArcSpec, NetSpec, SubnetSpec
from .subnets import SubnetHandle
from .transitions import Consumed, FiringContext, HandlerKind, OnError, TransitionSpec

__all__ = [
    "ArcSpec",
    "Consumed",
    "FailedToken",
    "FiringContext",
    "FiringEvent",
    "HandlerKind",
    "Marking",
    "NetAnalysis",
    "NetBuilder",
    "NetSpec",
    "OnError",
    "PN",
    "PlaceKind",
    "PlaceRef",
    "PlaceSpec",
    "PlaceType",
    "ReachabilityGraph",
    "Runner",
    "RunnerStats",
    "SubnetHandle",
    "SubnetSpec",
    "TransitionRef",
    "TransitionSpec",
    "Unreachable",
    "analyze",
    "build_net",
    "net_graph",
    "pn",
    "reachability_graph",
    "unreachable",
]
