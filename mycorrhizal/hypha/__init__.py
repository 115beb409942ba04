"""hypha: coloured Petri nets for asyncio, run by an incremental scheduler that never loses a token.

Declare a net with ``@pn.net def Net(builder)`` (or ``NetBuilder("Name")``), run it with
``Runner(net, blackboard)``; see docs/hypha.md.
"""

from . import render  # noqa: F401 - installs how nets and runners are drawn (see spec.set_drawer)
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
from .context import Consumed, FiringContext
from .dsl import PN, pn
from .events import (
    DeliveryFailed,
    FiringCancelled,
    FiringCommitted,
    FiringEvent,
    FiringFailed,
    FiringStarted,
    GuardFailed,
    SourceFailed,
)
from .marking import Marking
from .places import FailedToken, PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from .reporting import RunnerStats, Stuck
from .runner import Runner
from .spec import ArcSpec, NetSpec, SubnetSpec
from .subnets import SubnetHandle
from .transitions import Backoff, HandlerKind, OnError, TransitionSpec

__all__ = [
    "ArcSpec",
    "Backoff",
    "Consumed",
    "DeliveryFailed",
    "FailedToken",
    "FiringCancelled",
    "FiringCommitted",
    "FiringContext",
    "FiringEvent",
    "FiringFailed",
    "FiringStarted",
    "GuardFailed",
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
    "SourceFailed",
    "Stuck",
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
