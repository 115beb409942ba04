"""The values a net is made of (``from mycorrhizal.hypha.core.specs import PlaceType``)."""

from ..places import PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from ..spec import ArcSpec, NetSpec, SubnetSpec
from ..subnets import SubnetRef
from ..transitions import GuardSpec, HandlerKind, ListValue, OnError, TransitionSpec

__all__ = [
    "ArcSpec",
    "GuardSpec",
    "HandlerKind",
    "ListValue",
    "NetSpec",
    "OnError",
    "PlaceKind",
    "PlaceRef",
    "PlaceSpec",
    "PlaceType",
    "SubnetRef",
    "SubnetSpec",
    "TransitionRef",
    "TransitionSpec",
]
