"""The object cache: adapters write an object when it is new or changed, not with every event.

Objects that adapters find on blackboards and tokens pass through an LRU cache keyed by object id.
An object record is written when the object is first seen, whenever its attribute values changed,
every ``touch_resend_n``-th sighting, and (policy ``evict_and_log``) when it is evicted with values
its last record does not hold (a mutable value changed in place since).  Objects logged by
``log_event`` do not pass through the cache: they are written every time.
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

import attrs

from ..common.numbers import is_count
from .records import Attributes, RawObject

__all__ = ["CacheMetrics", "EvictionPolicy", "ObjectLRUCache"]

log = logging.getLogger("mycorrhizal.spores")


class EvictionPolicy(enum.StrEnum):
    """What happens to an object pushed out of a full cache."""

    EVICT_AND_LOG = "evict_and_log"
    """Write it once more with its last-seen attributes, unless its last record already holds
    them (upstream wrote it again always: the same record twice)."""
    EVICT_AND_BUFFER = "evict_and_buffer"
    """Drop it from the cache without writing: its last state was written when it was seen."""
    NO_EVICT = "no_evict"
    """Never evict: the cache grows past its size (memory grows with the number of objects)."""


# Members read from module constants: on 3.11 reading one from its class (EvictionPolicy.NO_EVICT)
# costs ~7 times a global's read (the enum's class-attribute machinery).
_NO_EVICT = EvictionPolicy.NO_EVICT
_EVICT_AND_LOG = EvictionPolicy.EVICT_AND_LOG


@attrs.define
class CacheMetrics:
    """Counters of the object cache."""

    evictions: int = 0
    eviction_failures: int = 0
    first_sights: int = 0


_PLAIN = (str, int, float, bool, type(None), datetime)
_PLAIN_TYPES = frozenset(_PLAIN)


def _freeze(value: Any) -> Any:
    """A value to compare later sightings with: immutable values as they are, others as text."""
    if isinstance(value, _PLAIN) or isinstance(value, Enum):
        return value
    return str(value)


def snapshot_of(attributes: Attributes) -> list[tuple[str, Any]]:
    """What later sightings are compared with: the attributes themselves when their values are
    plain (a fresh list for each sighting), else a copy with other values as text."""
    for _, value in attributes:
        if type(value) not in _PLAIN_TYPES:
            return [(n, _freeze(v)) for n, v in attributes]
    return attributes


# A cache entry is a list, [object type, snapshot, attributes, sightings]: made per first sighting,
# and a list is made without the nested interpreter loop a class's Python __init__ runs in.
_TYPE, _SNAPSHOT, _ATTRIBUTES, _SIGHTINGS = range(4)
_Entry = list[Any]


class ObjectLRUCache:
    """An LRU cache of the objects adapters have written (see the module documentation)."""

    def __init__(
        self,
        write: Callable[[RawObject], None],
        size: int = 128,
        policy: EvictionPolicy | str = EvictionPolicy.EVICT_AND_LOG,
        touch_resend_n: int = 100,
        *,
        write_parts: Callable[[str, str, float, Attributes], None] | None = None,
    ) -> None:
        if not (is_count(size) and is_count(touch_resend_n, least=0)):
            raise ValueError(
                f"object cache: size={size!r}, touch_resend_n={touch_resend_n!r}; "
                "use ints, size >= 1 and touch_resend_n >= 0 (0 = never resend unchanged objects)"
            )
        self._write = write
        # what every write goes through: ``write_parts(object_id, object_type, time, attributes)``
        # when given (the dispatcher's, which formats a line directly: no record), else a record
        # made for ``write``
        self._line = write_parts if write_parts is not None else self._record
        self.size = size
        self.policy = EvictionPolicy(policy)
        self.touch_resend_n = touch_resend_n
        self.metrics = CacheMetrics()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # see _Entry

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._entries

    def see(self, object_id: str, object_type: str, attributes: Attributes, time: float) -> None:
        """An adapter saw this object now: write it if it is new, changed or due a resend."""
        entry = self._entries.get(object_id)
        if entry is not None and entry[_SNAPSHOT] == attributes and entry[_TYPE] == object_type:
            # Unchanged (the usual sighting): equal to a snapshot of plain values, or of texts of
            # mutable ones, which a list or dict value never equals.  No copy, no write.
            self._entries.move_to_end(object_id)
            entry[_SIGHTINGS] += 1
            n = self.touch_resend_n
            if n and entry[_SIGHTINGS] % n == 0:
                self._line(object_id, object_type, time, attributes)
            return
        snapshot = attributes
        for _, value in attributes:  # snapshot_of(attributes), without a call for plain values
            if type(value) not in _PLAIN_TYPES:
                snapshot = snapshot_of(attributes)
                break
        if entry is None:
            entries, metrics = self._entries, self.metrics
            self._line(object_id, object_type, time, attributes)  # first: a failed write is not cached
            metrics.first_sights += 1
            entries[object_id] = [object_type, snapshot, attributes, 1]
            if len(entries) > self.size and self.policy is not _NO_EVICT:
                # Push out the least recently seen; one of plain values (its snapshot is its
                # attributes themselves) is in the log as it is (see _log_evicted): no call.
                object_id, (kind, snapshot, attributes, _) = entries.popitem(False)
                metrics.evictions += 1
                if snapshot is not attributes and self.policy is _EVICT_AND_LOG:
                    self._log_evicted(object_id, kind, snapshot, attributes, time)
            return
        self._entries.move_to_end(object_id)
        entry[_SIGHTINGS] += 1
        n = self.touch_resend_n
        if entry[_SNAPSHOT] != snapshot or entry[_TYPE] != object_type or (n and entry[_SIGHTINGS] % n == 0):
            self._line(object_id, object_type, time, attributes)  # first: a failed write is not cached
            entry[_TYPE], entry[_SNAPSHOT] = object_type, snapshot
        # The values last seen (what eviction and flush() write): equal to those of the last record,
        # but maybe other mutable objects, which may change in place before the next sighting.
        entry[_ATTRIBUTES] = attributes

    def _record(self, object_id: str, object_type: str, time: float, attributes: Attributes) -> None:
        self._write((object_id, object_type, time, attributes, []))

    def _log_evicted(
        self, object_id: str, kind: str, snapshot: list[tuple[str, Any]], attributes: Attributes, time: float
    ) -> None:
        """With ``evict_and_log``, an evicted object of mutable values is written once more if
        they changed since its last record (in place, after it was last seen).

        Every change an adapter saw was written when it was seen, so an object of plain values
        (its snapshot is its attributes themselves) is in the log as it is, and is not written
        again: the record would repeat its last one (the same values; OCEL keeps no value twice).
        """
        if snapshot_of(attributes) == snapshot:
            return
        try:
            self._line(object_id, kind, time, attributes)
        except Exception:
            self.metrics.eviction_failures += 1
            log.exception("spores: writing evicted object %r failed", object_id)

    def flush(self, time: float) -> None:
        """Write every cached object once more with its last-seen attributes (the cache is kept)."""
        for object_id, entry in self._entries.items():
            self._line(object_id, entry[_TYPE], time, entry[_ATTRIBUTES])

    def clear(self) -> None:
        """Forget every object (the next sighting of each is a first sighting)."""
        self._entries.clear()
