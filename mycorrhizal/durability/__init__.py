"""Durability stores: where runs' journals and snapshots are kept (the interface is in common.store)."""

from .memory import MemoryStore
from .sqlite import SQLiteJournal, SQLiteStore

__all__ = ["MemoryStore", "SQLiteJournal", "SQLiteStore"]
