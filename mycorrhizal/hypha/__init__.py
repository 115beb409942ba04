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
from .builder import ArcChain, NetBuilder, build_net
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
    NetChanged,
    SourceFailed,
)
from .marking import Marking
from .netruntime import NetRuntime, PlaceRuntime, TransitionRuntime
from .places import FailedToken, PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from .reporting import RunnerStats, Stuck
from .runner import Runner
from .spec import ArcSpec, NetSpec, SubnetSpec
from .subnets import SubnetHandle, SubnetRef
from .transitions import Backoff, GuardSpec, HandlerKind, ListValue, OnError, TransitionSpec

__all__ = [
    "ArcChain",
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
    "NetChanged",
    "GuardSpec",
    "HandlerKind",
    "ListValue",
    "Marking",
    "NetAnalysis",
    "NetBuilder",
    "NetRuntime",
    "NetSpec",
    "OnError",
    "PN",
    "PlaceKind",
    "PlaceRef",
    "PlaceRuntime",
    "PlaceSpec",
    "PlaceType",
    "ReachabilityGraph",
    "Runner",
    "RunnerStats",
    "SourceFailed",
    "Stuck",
    "SubnetHandle",
    "SubnetRef",
    "SubnetSpec",
    "TransitionRef",
    "TransitionRuntime",
    "TransitionSpec",
    "Unreachable",
    "analyze",
    "build_net",
    "net_graph",
    "pn",
    "reachability_graph",
    "unreachable",
]
