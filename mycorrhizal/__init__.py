"""mycorrhizal: state machines (septum), Petri nets (hypha) and behaviour trees (rhizomorph) for
asyncio, composed by mycelium over one shared blackboard."""

__all__ = ["__version__"]

#: The installed version of mycorrhizal.
__version__ = "0.1.0"
