"""Object-centric event logs (OCEL) of what programs, machines, nets and trees did.

Configure once, then log with decorators on ordinary functions (``get_spore_sync`` /
``get_spore_async(...).log_event``) or with the engine adapters (:mod:`mycorrhizal.spores.dsl`).
Records go to a transport: JSON-lines files (:class:`SyncFileTransport`,
:class:`AsyncFileTransport`) or OCEL 2.0 documents (:class:`Ocel2JsonTransport`,
:class:`Ocel2SqliteTransport`).  :func:`observe` logs everything a net, tree or state machine does
from the events it emits, with no handler decorated.  See docs/observing.md.
"""

from .cache import CacheMetrics, EvictionPolicy, ObjectLRUCache
from .config import (
    SporesConfig,
    aclose,
    close,
    configure,
    flush_object_cache,
    get_cache_metrics,
    get_config,
    get_dispatcher,
    get_object_cache,
)
from .convert import convert_jsonl
from .dispatch import Dispatcher
from .dsl import HyphaAdapter, RhizomorphAdapter, SeptumAdapter, TreeSporesAdapter
from .emit import emit_event, emit_object, relate
from .encoder import Encoder, JSONEncoder
from .logfile import LOG_SUFFIXES, transport_for
from .logger import AsyncEventLogger, EventLogger, SyncEventLogger, get_spore_async, get_spore_sync
from .models import (
    Event,
    EventAttr,
    EventAttributeValue,
    LogRecord,
    Object,
    ObjectAttributeValue,
    ObjectRef,
    ObjectScope,
    Relationship,
    SporesAttr,
    attribute_value_from_python,
    generate_event_id,
    generate_object_id,
    object_attribute_from_python,
)
from .observing import Observation, observe
from .ocel_json import Ocel2JsonTransport
from .ocel_sqlite import Ocel2SqliteTransport
from .spore import SporeDecorator, spore
from .transport import (
    AsyncFileTransport,
    AsyncTransport,
    LineQueue,
    RecordSink,
    SyncFileTransport,
    SyncTransport,
    Transport,
)

__all__ = [
    "AsyncEventLogger",
    "AsyncFileTransport",
    "AsyncTransport",
    "CacheMetrics",
    "Dispatcher",
    "Encoder",
    "Event",
    "EventAttr",
    "EventAttributeValue",
    "EventLogger",
    "EvictionPolicy",
    "HyphaAdapter",
    "JSONEncoder",
    "LOG_SUFFIXES",
    "LineQueue",
    "LogRecord",
    "Object",
    "ObjectAttributeValue",
    "ObjectLRUCache",
    "ObjectRef",
    "ObjectScope",
    "Observation",
    "Ocel2JsonTransport",
    "Ocel2SqliteTransport",
    "RecordSink",
    "Relationship",
    "RhizomorphAdapter",
    "SeptumAdapter",
    "SporeDecorator",
    "SporesAttr",
    "SporesConfig",
    "SyncEventLogger",
    "SyncFileTransport",
    "SyncTransport",
    "Transport",
    "TreeSporesAdapter",
    "aclose",
    "attribute_value_from_python",
    "close",
    "configure",
    "convert_jsonl",
    "emit_event",
    "emit_object",
    "flush_object_cache",
    "generate_event_id",
    "generate_object_id",
    "get_cache_metrics",
    "get_config",
    "get_dispatcher",
    "get_object_cache",
    "get_spore_async",
    "get_spore_sync",
    "object_attribute_from_python",
    "observe",
    "relate",
    "spore",
    "transport_for",
]
