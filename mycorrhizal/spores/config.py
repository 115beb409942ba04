"""spores' one process-wide configuration: whether logging is on, the transport, encoder and cache.

``configure(transport=AsyncFileTransport("logs/run.jsonl"))`` once at start-up is all most
programs need.  Loggers and adapters read the configuration when they log, not when they are
created, so decorators applied at import time follow a later ``configure``.
"""

from __future__ import annotations

import logging
import threading
import time

import attrs

from ..common.numbers import is_count
from .cache import CacheMetrics, EvictionPolicy, ObjectLRUCache
from .dispatch import Dispatcher
from .encoder import Encoder, JSONEncoder
from .transport import RecordSink

__all__ = [
    "SporesConfig",
    "State",
    "aclose",
    "close",
    "configure",
    "current",
    "flush_object_cache",
    "get_cache_metrics",
    "get_config",
    "get_dispatcher",
    "get_object_cache",
]

log = logging.getLogger("mycorrhizal.spores")


@attrs.frozen
class SporesConfig:
    """The settings given to :func:`configure`."""

    enabled: bool = True
    object_cache_size: int = 128
    encoder: Encoder = attrs.field(factory=JSONEncoder)
    transport: object | None = None
    eviction_policy: EvictionPolicy = EvictionPolicy.EVICT_AND_LOG
    touch_resend_n: int = 100


class State:
    """The configuration in force, with the dispatcher and object cache made for it."""

    __slots__ = ("config", "dispatcher", "cache", "configured")

    def __init__(self, config: SporesConfig, configured: bool) -> None:
        self.config = config
        self.dispatcher = Dispatcher(config.transport, config.encoder)
        self.cache = ObjectLRUCache(
            self.dispatcher.object,
            config.object_cache_size,
            config.eviction_policy,
            config.touch_resend_n,
            write_parts=self.dispatcher.object_writer(),
        )
        self.configured = configured


_lock = threading.Lock()
_state = State(SporesConfig(), configured=False)


def configure(
    enabled: bool = True,
    object_cache_size: int = 128,
    encoder: Encoder | None = None,
    transport: object | None = None,
    eviction_policy: EvictionPolicy | str = "evict_and_log",
    touch_resend_n: int = 100,
) -> None:
    """Replace the configuration (and start a new object cache).

    ``transport`` is where records go (a :class:`~mycorrhizal.spores.transport.SyncTransport`, an
    :class:`~mycorrhizal.spores.transport.AsyncTransport` or an OCEL 2.0 writer); without one
    nothing is written.  ``encoder`` defaults to :class:`JSONEncoder`.  Records already queued for
    the previous transport are still delivered to it.
    """
    global _state
    if encoder is not None and isinstance(transport, RecordSink):
        raise ValueError(
            f"configure(): {type(transport).__name__} writes records itself and uses no encoder. "
            "Fix: drop encoder= or use a transport that takes bytes"
        )
    policy = _checked(object_cache_size, eviction_policy, touch_resend_n)
    config = SporesConfig(
        enabled=enabled,
        object_cache_size=object_cache_size,
        encoder=encoder if encoder is not None else JSONEncoder(),
        transport=transport,
        eviction_policy=policy,
        touch_resend_n=touch_resend_n,
    )
    new = State(config, configured=True)
    with _lock:
        old, _state = _state, new
    if old.configured:
        log.info("spores: configure() called again; the new configuration replaces the old one")


def _checked(size: int, policy: EvictionPolicy | str, resend: int) -> EvictionPolicy:
    """``policy`` as an :class:`EvictionPolicy`, once the object cache's settings are checked:
    every bad one named with its keyword and a fix, in one ``ValueError``."""
    problems: list[tuple[str, str]] = []  # (what is wrong, what to do)
    if not is_count(size):
        problems.append(
            (
                f"object_cache_size={size!r}: the cache holds 1 object or more (an int, 128 by default)",
                "pass object_cache_size= an int of 1 or more",
            )
        )
    if not is_count(resend, least=0):
        problems.append(
            (
                f"touch_resend_n={resend!r} is not a count of 0 or more",
                "pass touch_resend_n= 0 (never resend unchanged objects) or more (an int)",
            )
        )
    try:
        chosen = EvictionPolicy(policy)
    except ValueError:
        known = ", ".join(repr(p.value) for p in EvictionPolicy)
        problems.append((f"eviction_policy={policy!r} is not a policy", f"use one of {known}"))
    if problems:
        # Every problem, then every fix: one message that ends with what to do.
        said = "; ".join(wrong for wrong, _ in problems)
        raise ValueError(f"configure(): {said}. Fix: {'; '.join(fix for _, fix in problems)}")
    return chosen


def current() -> State:
    """The configuration in force with its dispatcher and cache, in one call (for the hot paths of
    observers: read it once per event, since ``configure`` may replace it at any time)."""
    return _state


def get_config() -> SporesConfig:
    """The current configuration (an enabled one without a transport if never configured)."""
    return _state.config


def get_dispatcher() -> Dispatcher:
    """The dispatcher records go through (for writers of new loggers and observers)."""
    return _state.dispatcher


def get_object_cache() -> ObjectLRUCache:
    """The current object cache."""
    return _state.cache


def flush_object_cache() -> None:
    """Write every cached object once more with its last-seen attributes."""
    _state.cache.flush(time.time())


def get_cache_metrics() -> CacheMetrics:
    """The object cache's counters (evictions, eviction failures, first sightings)."""
    return _state.cache.metrics


def close() -> None:
    """Deliver every record and close the configured transport (synchronous code)."""
    _state.dispatcher.close()


async def aclose() -> None:
    """Deliver every record and close the configured transport (async code)."""
    await _state.dispatcher.aclose()
