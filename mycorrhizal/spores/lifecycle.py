"""Closing what is still open when the interpreter exits, so that no record is lost.

Writers that hold records in memory (batching file transports, OCEL sinks, the dispatcher's queue
for async transports) register a synchronous ``close`` here when they open and unregister when
they are closed.  One ``atexit`` hook closes whatever is left, newest first, so a dispatcher
delivers its backlog before the transports under it are closed.  The registry holds strong
references on purpose: a writer dropped without ``close()`` still has its records written at exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

__all__ = ["close_all", "register", "unregister"]

log = logging.getLogger("mycorrhizal.spores")

_open: dict[int, Callable[[], None]] = {}
_lock = threading.Lock()


def register(owner: object, close: Callable[[], None]) -> None:
    """Call ``close()`` at exit unless :func:`unregister` is called for ``owner`` first."""
    with _lock:
        _open[id(owner)] = close


def unregister(owner: object) -> None:
    """``owner`` closed itself: nothing to do for it at exit."""
    with _lock:
        _open.pop(id(owner), None)


def close_all() -> None:
    """Close every registered writer, newest first; a failure is logged and the rest still close."""
    with _lock:
        pending = list(_open.items())
        _open.clear()
    for _, close in reversed(pending):
        try:
            close()
        except Exception:  # one broken writer must not keep the others' records from disk
            log.exception("spores: closing %r at exit failed", close)


atexit.register(close_all)
