"""Connecting to Redis: a client from a URL (or the caller's own client), and reading its replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from ..common.errors import DefinitionError, Problem, StoreError, reason
from ..common.numbers import is_seconds

__all__ = [
    "Outage", "check_options", "check_worker_options", "client_for", "decoded", "raise_if_cancelled",
    "redis_failure",
]  # fmt: skip

log = logging.getLogger("mycorrhizal.distribution")

SCHEMES = ("redis://", "rediss://", "unix://")
SOCKET_TIMEOUT = 10.0
"""Seconds a call to Redis may take before it fails (clients made from a URL)."""
OUTAGE_REPEAT = 60.0
"""Seconds between the warnings that a call retried while Redis is down still fails."""


def client_for(url: str | Redis) -> tuple[Redis, bool]:
    """(client, whether we made it and so close it) for a ``redis://`` URL or a client."""
    if isinstance(url, Redis):
        return url, False
    if type(url) is not str or not url.startswith(SCHEMES):
        raise StoreError(
            f"{url!r} is not a Redis URL. Fix: pass e.g. 'redis://127.0.0.1:6379/0' (or rediss://, unix://)"
        )
    try:
        # Timeouts so that a Redis behind a broken network fails calls instead of hanging them
        # (reads block for at most a fraction of a second, far below the socket timeout).
        client = Redis.from_url(
            url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=5
        )
        return client, True
    except ValueError as exc:
        raise StoreError(
            f"{url!r} is not a usable Redis URL: {reason(exc)}. Fix: 'redis://HOST:PORT/DB'"
        ) from exc


def decoded(value: Any) -> Any:
    """``value`` as ``str`` if Redis gave bytes (a client made without ``decode_responses``)."""
    return value.decode() if isinstance(value, bytes) else value


def raise_if_cancelled() -> None:
    """Raise CancelledError if the running task was cancelled, even if a Redis call lost the cancel.

    redis-py awaits each socket write in ``asyncio.wait_for``, which on Python 3.11 returns the
    result instead of raising when a cancel comes as the write completes: the call returns as if
    the task had not been cancelled.  A loop that calls Redis checks this on every turn, or it goes
    on after its cancel (a stop, or the event loop's teardown, waits for it forever)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def check_options(owner: str, checks: list[tuple[str, object, bool, str, str]]) -> None:
    """Raise one DefinitionError listing every option that fails its check.

    ``checks``: (option name, value, whether it is fine, what it must be, an example to pass).
    """
    DefinitionError.raise_if_any(
        [
            Problem(f"{owner}({name}=...)", f"must be {expected}, got {value!r}", f"pass {name}={example}")
            for name, value, fine, expected, example in checks
            if not fine
        ],
        what=f"{owner} options",
    )


def check_stop_timeout(worker: str, timeout: object) -> None:
    """Refuse a ``stop(timeout=...)``/``run(..., timeout=...)`` that means nothing, before anything stops."""
    if timeout is not None and not is_seconds(timeout):
        raise ValueError(
            f"worker {worker!r}: timeout={timeout!r} means nothing: it is the seconds firings in flight "
            "get to finish when the worker stops. Fix: pass a number >= 0 (0 cancels them at once), or "
            "None to let them finish"
        )


def redis_failure(what: str, url: str, exc: BaseException) -> StoreError:
    """The StoreError for a call to the Redis at ``url`` that failed: ``what`` failed, why, the fix."""
    why = reason(exc)
    return StoreError(
        f"{what}: {type(exc).__name__}: {why}. Fix: check that the Redis server at {url} runs and this "
        "machine can reach it (its log says why it refused a command)"
    )


def check_worker_options(lease: float, concurrency: int | None, prefetch: int | None) -> None:
    """Raise one DefinitionError for the options of a Worker out of range."""

    def count_or_none(value: object) -> bool:
        return value is None or (type(value) is int and value >= 1)

    lease_ok = is_seconds(lease) and 0.05 <= lease <= 86400
    check_options(
        "Worker",
        [
            ("lease", lease, lease_ok, "seconds between 0.05 and 86400", "30.0"),
            ("concurrency", concurrency, count_or_none(concurrency), "an int >= 1 or None", "16"),
            ("prefetch", prefetch, count_or_none(prefetch), "an int >= 1 or None", "64"),
        ],
    )


class Outage:
    """Logs that a call retried in a loop fails (Redis is down): one WARNING when it starts, then at
    most one every ``OUTAGE_REPEAT`` seconds of ``now`` while it lasts, and one INFO when it works
    again, rather than a line at every retry."""

    __slots__ = ("_what", "_now", "failures", "_since", "_said")

    def __init__(self, what: str, now: Callable[[], float]) -> None:
        """``what`` names the call ("worker w1: reading tokens from Redis"); ``now`` is the clock."""
        self._what = what
        self._now = now
        self.failures = 0
        """Failed attempts in a row."""
        self._since = self._said = 0.0

    def failed(self, exc: BaseException, retry: float) -> None:
        """An attempt failed with ``exc``; the next comes in ``retry`` seconds."""
        now = self._now()
        self.failures += 1
        if self.failures == 1:
            self._since = self._said = now
            msg = "%s failed (%s: %s); retrying every %.2g s (said again every %g s while it fails)"
            log.warning(msg, self._what, type(exc).__name__, exc, retry, OUTAGE_REPEAT)
        elif now - self._said >= OUTAGE_REPEAT:
            self._said = now
            msg = "%s still fails after %.0f s (%d failed attempts; the last: %s: %s); retrying"
            log.warning(msg, self._what, now - self._since, self.failures, type(exc).__name__, exc)

    def worked(self) -> None:
        """An attempt worked: if it ends failures, say so."""
        if self.failures:
            msg = "%s works again after %.0f s (%d failed attempts)"
            log.info(msg, self._what, self._now() - self._since, self.failures)
            self.failures = 0
