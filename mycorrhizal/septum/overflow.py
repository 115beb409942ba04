"""What a full message queue does with one more message: the machine's overflow policy, applied.

Each overflow is counted on the mailbox and logged; ``"raise"`` refuses the message with a
:class:`~mycorrhizal.common.QueueOverflowError`, ``"drop_newest"`` refuses it quietly (the caller
gets False), ``"drop_oldest"`` evicts the longest-waiting message of the lowest priority (or the
newcomer, if its priority is lower still).
"""

from __future__ import annotations

from typing import Any

from ..common.errors import QueueOverflowError
from . import report
from .engine import Engine
from .mailbox import NEWCOMER

__all__ = ["overflow"]


def overflow(engine: Engine, msg: Any, priority: int) -> bool:
    """The machine's queue is full: apply its overflow policy; True if ``msg`` may be queued."""
    mailbox = engine.mailbox
    assert mailbox is not None
    name, state, policy = engine.spec.shown, engine.node.name, engine.options.queue_overflow
    mailbox.overflows += 1
    if policy == "raise":
        report.queue_full(name, state, mailbox.limit, "refused", msg, mailbox.overflows)
        raise QueueOverflowError(
            f"machine {name} (state {state}): message queue is full ({mailbox.limit} messages). "
            f"Fix: run() the machine to drain it, raise max_queue_size, or choose "
            f"queue_overflow='drop_newest'/'drop_oldest'",
            state=state,
            event=msg,
        )
    if policy == "drop_newest":
        report.queue_full(name, state, mailbox.limit, "dropped new message", msg, mailbox.overflows)
        return False
    evicted = mailbox.evict_for(priority)
    if evicted is NEWCOMER:  # every queued message has a higher priority than the new one
        report.queue_full(
            name, state, mailbox.limit, "dropped new lower-priority message", msg, mailbox.overflows
        )
        return False
    report.queue_full(name, state, mailbox.limit, "evicted oldest message", evicted, mailbox.overflows)
    return True
