"""What a running machine writes to the ``mycorrhizal.septum`` log, one function per message.

Callers check the level first where a message is frequent (``if info:``), so nothing is formatted
while the level is off; every message is %-style, formatted by logging only when it is emitted.
"""

from __future__ import annotations

import logging
from typing import Any

from ..common.errors import HandlerError, fix_last
from ..common.interpreter import level_cache
from .plan import label_text

__all__ = ["LEVELS", "log"]

log = logging.getLogger("mycorrhizal.septum")

#: The logger's own answers to ``isEnabledFor(level)``, read without a method call on the step path
#: (see :func:`~mycorrhizal.common.interpreter.level_cache`).
LEVELS = level_cache(log)


def info_enabled() -> bool:
    """``log.isEnabledFor(INFO)``, from the logger's cache when it has the answer."""
    enabled = LEVELS.get(logging.INFO)
    return log.isEnabledFor(logging.INFO) if enabled is None else enabled


def started(machine: str, state: str) -> None:
    log.info("machine %s: start in %s", machine, state)


def moved(machine: str, source: str, label: Any, how: str, target: str) -> None:
    log.info("machine %s: %s -[%s%s]-> %s", machine, source, label_text(label), how, target)


def timed_out(machine: str, state: str, interrupted: bool) -> None:
    log.info("machine %s: %s timed out%s", machine, state, " during on_state" if interrupted else "")


def unhandled(machine: str, state: str, msg: Any, count: int) -> None:
    log.info("machine %s: %s left message %r unhandled (unhandled #%d)", machine, state, msg, count)


def out_of_retries(machine: str, state: str, retries: int) -> None:
    log.info("machine %s: %s out of retries (%d), calling on_fail", machine, state, retries)


def completed(machine: str, state: str, left: int) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info("machine %s: complete in terminal state %s", machine, state)
    if left:  # they can never be handled now: say so rather than drop them silently
        log.warning(
            "machine %s: complete in terminal state %s with %d queued message%s never handled",
            machine,
            state,
            left,
            "" if left == 1 else "s",
        )


def queue_full(machine: str, state: str, limit: int | None, outcome: str, msg: Any, count: int) -> None:
    log.warning(
        "machine %s in %s: queue full (%d), %s %r (overflow #%d)", machine, state, limit, outcome, msg, count
    )


def routed(machine: str, error: HandlerError, target: str) -> None:
    # Handled (the machine goes on from the error state): one line; the traceback only at DEBUG.  The
    # error says no fix of its own (it was handled), but the user's exception may: kept last.
    if log.isEnabledFor(logging.WARNING):
        log.warning("machine %s: %s", machine, fix_last(str(error), f"; going to {target}"))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("machine %s: the traceback of %s", machine, error, exc_info=error.__cause__)


def unrouted(machine: str, error: HandlerError, why: str, fix: str) -> None:
    # Not handled and not raised (the step's cancellation, or its first failure, is): the log is the
    # only trace of it, so it ends with what to do (the exception's own fix, if it says one).
    if log.isEnabledFor(logging.ERROR):
        said = fix_last(str(error), f"; not routed, since {why}", otherwise=fix)
        log.error("machine %s: %s", machine, said, exc_info=error.__cause__)


def cancelled(machine: str, state: str, role: str, message: Any) -> None:
    if log.isEnabledFor(logging.INFO):
        what = "the entry run is owed again" if message is None else f"message {message!r} is queued again"
        log.info("machine %s: %s cancelled in %s; %s", machine, role, state, what)


def reset(machine: str, state: str, left: int) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info("machine %s: reset in %s", machine, state)
    if left:
        log.warning(
            "machine %s: reset in %s dropped %d queued message%s never handled",
            machine,
            state,
            left,
            "" if left == 1 else "s",
        )


def closed(machine: str, state: str, left: int) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info("machine %s: closed in %s", machine, state)
    if left:
        log.warning(
            "machine %s: closed in %s with %d queued message%s never handled",
            machine,
            state,
            left,
            "" if left == 1 else "s",
        )


def background_failed(machine: str, exc: Exception) -> None:
    log.error("machine %s: error while handling a timeout in the background: %s", machine, exc, exc_info=exc)
