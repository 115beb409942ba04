"""DSL adapters: spores decorators that go between an engine's decorator and the user's handler.

The wrapped handler is of the same kind (plain, ``async def``, generator) and reports the same
signature, so the engines accept it exactly as they accepted the handler.
"""

from .base import Adapter
from .hypha import HyphaAdapter
from .rhizomorph import RhizomorphAdapter, log_tree_event
from .septum import SeptumAdapter, log_message
from .trees import TreeSporesAdapter, log_state_snapshot, state_snapshot

__all__ = [
    "Adapter",
    "HyphaAdapter",
    "RhizomorphAdapter",
    "SeptumAdapter",
    "TreeSporesAdapter",
    "log_message",
    "log_state_snapshot",
    "log_tree_event",
    "state_snapshot",
]
