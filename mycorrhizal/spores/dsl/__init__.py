"""DSL adapters: spores decorators that go between an engine's decorator and the user's handler.

The wrapped handler is of the same kind (plain, ``async def``, generator) and reports the same
signature, so the engines accept it exactly as they accepted the handler.
"""

from .base import Adapter
from .hypha import HyphaAdapter
from .rhizomorph import RhizomorphAdapter, log_tree_event
from .septum import SeptumAdapter, log_message

__all__ = ["Adapter", "HyphaAdapter", "RhizomorphAdapter", "SeptumAdapter", "log_message", "log_tree_event"]
