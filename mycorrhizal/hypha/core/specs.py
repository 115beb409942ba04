"""The frozen values a net is made of (``from mycorrhizal.hypha.core.specs import PlaceType``)."""

from ..places import PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from ..spec import ArcSpec, NetSpec, SubnetSpec
from ..transitions import HandlerKind, OnError, TransitionSpec

__all__ = [
    "ArcSpec",
    "HandlerKind",
    "NetSpec",
    "OnError",
    "PlaceKind",
    "PlaceRef",
    "PlaceSpec",
    "PlaceType",
    "SubnetSpec",
    "TransitionRef",
    "TransitionSpec",
]
