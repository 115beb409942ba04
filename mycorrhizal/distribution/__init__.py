"""Distribution over Redis: a durability store, and one net run by many worker processes.

``RedisStore`` implements the durability store interface (journal, snapshots, fencing) on Redis.
See docs/distribution.md.  Needs the ``redis`` extra: ``pip install 'mycorrhizal[redis]'``.
"""

from .store import RedisJournal, RedisStore

__all__ = ["RedisJournal", "RedisStore"]
