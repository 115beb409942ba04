"""The message queue of a state machine: FIFO within a priority, bounded, explicit overflow policy.

Kept apart from the driving loop in :mod:`.machine`; :class:`StateMachine` inherits it.  Priority 0
(the common case) is one deque; other priorities get a deque each, created only when used.  A
fired timeout is queued in the priority-0 deque as a marker so it keeps its place in arrival order,
but it is never counted as a message and never refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Literal

from ..common.errors import QueueOverflowError, StateMachineComplete

if TYPE_CHECKING:
    from .compile import MachineSpec, Node

__all__ = [
    "DEFAULT_MAX_QUEUE_SIZE",
    "POLICIES",
    "TIMEOUT",
    "FIRED",
    "DONE",
    "Mailbox",
    "Marker",
    "OverflowPolicy",
    "check_queue_options",
]

log = logging.getLogger("mycorrhizal.septum")

#: What a full message queue does with one more message: raise, refuse it, or evict the oldest.
OverflowPolicy = Literal["raise", "drop_newest", "drop_oldest"]
POLICIES = ("raise", "drop_newest", "drop_oldest")
#: Default bound on queued messages; pass ``max_queue_size=None`` for an unbounded queue.
DEFAULT_MAX_QUEUE_SIZE = 10_000
#: The machine phase meaning "terminal" (see :mod:`.machine`).
DONE = 3


class Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


TIMEOUT: Any = Marker("<timeout>")  # queued when the state's timer fires: FIFO with messages
FIRED: Any = Marker("<fired>")  # the _timer slot once the timer fired and its marker is queued


def check_queue_options(max_queue_size: object, queue_overflow: object) -> None:
    """Refuse a queue bound or overflow policy that makes no sense."""
    if max_queue_size is not None and (
        isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) or max_queue_size < 1
    ):
        raise ValueError(f"max_queue_size must be an int >= 1 or None, got {max_queue_size!r}")
    if queue_overflow not in POLICIES:
        raise ValueError(f"queue_overflow must be one of {POLICIES}, got {queue_overflow!r}")


class Mailbox:
    """Queue state and ``send_message`` for :class:`~mycorrhizal.septum.StateMachine`."""

    __slots__ = ("_queue", "_others", "_max_queue", "_policy", "overflow_count", "unhandled_count")

    # Provided by StateMachine.
    _spec: MachineSpec
    _node: Node
    _phase: int
    _timer: Any
    _waiter: asyncio.Future[None] | None

    _queue: deque[Any] | None
    _others: dict[int, deque[Any]] | None
    _max_queue: int | None
    _policy: OverflowPolicy
    #: Messages refused or evicted because the queue was full.
    overflow_count: int
    #: Messages a state answered with ``Unhandled``.
    unhandled_count: int

    def _wake(self) -> None:
        raise NotImplementedError

    @property
    def queue_size(self) -> int:
        """Messages waiting (a pending timeout is not a message and is not counted)."""
        size = len(self._queue) - (self._timer is FIRED) if self._queue else 0
        if self._others:
            size += sum(len(q) for q in self._others.values())
        return size

    def send_message(self, msg: Any, *, priority: int = 0) -> bool:
        """Queue ``msg``; higher ``priority`` is handled first, equal priorities in sending order.

        Returns True when queued.  On a full queue the overflow policy applies: ``"raise"``
        (QueueOverflowError), ``"drop_newest"`` (returns False) or ``"drop_oldest"`` (evicts the
        longest-waiting message of the lowest priority); each overflow is counted and logged.
        """
        if self._phase == DONE:
            raise StateMachineComplete(
                f"machine {self._spec.name} is complete (terminal state {self._node.name}); "
                f"it takes no more messages",
                state=self._node.name,
                event=msg,
            )
        if priority != 0 and (isinstance(priority, bool) or not isinstance(priority, int)):
            # Checked first: a full queue must not evict or count for a message it then refuses.
            raise TypeError(f"send_message(priority=...) takes an int, got {priority!r}")
        limit = self._max_queue
        if limit is not None and self.queue_size >= limit and not self._overflow(msg, priority):
            return False
        if priority == 0:
            queue = self._queue
            if queue is None:
                queue = self._queue = deque()
            queue.append(msg)
        else:
            others = self._others
            if others is None:
                others = self._others = {}
            bucket = others.get(priority)
            if bucket is None:
                bucket = others[priority] = deque()
            bucket.append(msg)
        if self._waiter is not None:
            self._wake()
        return True

    def withdraw(self, msg: Any) -> bool:
        """Take back ``msg`` (that very object) if it is still queued, unhandled; True if it was.

        For an embedder whose own step failed after it sent a message: the machine must not
        handle later a message whose sender has given up on it.
        """
        queue = self._queue
        if queue:
            for i, queued in enumerate(queue):
                if queued is msg:
                    del queue[i]
                    return True
        for priority, bucket in (self._others or {}).items():
            for i, queued in enumerate(bucket):
                if queued is msg:
                    del bucket[i]
                    self._prune(priority)
                    return True
        return False

    def _overflow(self, msg: Any, priority: int) -> bool:
        self.overflow_count += 1
        name, policy = self._node.name, self._policy
        if policy == "raise":
            log.warning(
                "machine %s in %s: queue full (%d), refused %r", self._spec.name, name, self._max_queue, msg
            )
            raise QueueOverflowError(
                f"machine {self._spec.name} (state {name}): message queue is full "
                f"({self._max_queue} messages); run() the machine to drain it, raise max_queue_size, "
                f"or choose queue_overflow='drop_newest'/'drop_oldest'",
                state=name,
                event=msg,
            )
        if policy == "drop_newest":
            log.warning(
                "machine %s in %s: queue full (%d), dropped new message %r (overflow #%d)",
                self._spec.name,
                name,
                self._max_queue,
                msg,
                self.overflow_count,
            )
            return False
        evicted = self._evict_oldest(priority)
        log.warning(
            "machine %s in %s: queue full (%d), evicted oldest message %r (overflow #%d)",
            self._spec.name,
            name,
            self._max_queue,
            evicted,
            self.overflow_count,
        )
        return True

    def _evict_oldest(self, incoming_priority: int) -> Any:
        others, queue = self._others or {}, self._queue
        has_plain = bool(queue) and any(m is not TIMEOUT for m in queue)  # type: ignore[union-attr]
        candidates = sorted(others) + ([0] if has_plain else [])
        lowest = min(candidates)
        if lowest == 0:
            assert queue is not None
            for i, m in enumerate(queue):
                if m is not TIMEOUT:
                    del queue[i]
                    return m
        return self._take(lowest)

    def _pop_other(self) -> Any:
        """Next message when some have a non-zero priority (the slow path)."""
        others = self._others
        assert others
        top = max(others)
        queue = self._queue
        if top < 0 and queue:
            return queue.popleft()
        return self._take(top)

    def _take(self, priority: int) -> Any:
        """The longest-waiting message of a non-zero ``priority``; an emptied priority goes away."""
        assert self._others
        msg = self._others[priority].popleft()
        self._prune(priority)
        return msg

    def _prune(self, priority: int) -> None:
        """Forget a non-zero ``priority`` once nothing waits at it."""
        others = self._others
        assert others
        if not others[priority]:
            del others[priority]
            if not others:
                self._others = None
