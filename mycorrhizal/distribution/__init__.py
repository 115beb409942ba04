"""Distribution over Redis: a durability store, and one net run by many worker processes.

``RedisStore`` implements the durability store interface (journal, snapshots, fencing) on Redis.
``Worker`` runs a net whose shared places live in Redis Streams, alongside other workers;
``Client`` submits tokens and reports the state of the shared places and the workers.
See docs/distribution.md.  Needs the ``redis`` extra: ``pip install 'mycorrhizal[redis]'``.
"""

from .client import Client, KeyedStatus, PlaceStatus, Status, WorkerStatus
from .shared import SharedNet
from .store import RedisJournal, RedisStore
from .worker import Worker

__all__ = [
    "Client",
    "KeyedStatus",
    "PlaceStatus",
    "RedisJournal",
    "RedisStore",
    "SharedNet",
    "Status",
    "Worker",
    "WorkerStatus",
]
