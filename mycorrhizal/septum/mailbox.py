"""A machine's message queue: FIFO within a priority, higher priorities first, bounded.

Priority 0 (the common case) is one deque; other priorities get a deque each, created only when
used.  A fired timeout is queued in the priority-0 deque as a marker, so it keeps its place in
arrival order, but it is never counted as a message and never refused.  The mailbox only keeps
messages: what a full queue means (refuse, drop, evict) is decided, counted and reported by the
machine that owns it.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any, Literal

__all__ = ["EMPTY", "NEWCOMER", "POLICIES", "TIMEOUT", "Mailbox", "Marker", "OverflowPolicy"]

#: What a full message queue does with one more message: raise, refuse it, or evict the oldest.
OverflowPolicy = Literal["raise", "drop_newest", "drop_oldest"]
POLICIES: tuple[OverflowPolicy, ...] = ("raise", "drop_newest", "drop_oldest")


class Marker:
    """A stand-in queued or returned among messages; only ever compared by identity."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __copy__(self) -> Marker:
        return self  # a marker is compared by identity: copies of a queue keep the very marker

    def __deepcopy__(self, memo: dict[int, Any]) -> Marker:
        return self


#: Queued when the state's timer fires: handled in arrival order with the messages.
TIMEOUT: Any = Marker("<timeout>")
#: What :meth:`Mailbox.take` returns when nothing is queued.
EMPTY: Any = Marker("<empty>")
#: What :meth:`Mailbox.evict_for` returns when the newcomer is the one to give up.
NEWCOMER: Any = Marker("<newcomer>")


class Mailbox:
    """Queued messages of one machine, and the fired timeout if one is waiting."""

    __slots__ = ("plain", "others", "limit", "overflows", "timeout_queued", "taken_priority")

    def __init__(self, limit: int | None) -> None:
        #: Priority-0 messages (and a fired timeout), oldest first.
        self.plain: deque[Any] = deque()
        #: Messages of other priorities, by priority; None while there are none.
        self.others: dict[int, deque[Any]] | None = None
        self.limit = limit
        #: Messages refused or evicted because the queue was full.
        self.overflows = 0
        #: True while a fired timeout waits in the queue.
        self.timeout_queued = False
        #: The priority of the message taken last (so that it can be put back where it was).
        self.taken_priority = 0

    @property
    def size(self) -> int:
        """Messages waiting (a fired timeout is not a message and is not counted)."""
        size = len(self.plain) - self.timeout_queued
        if self.others:
            size += sum(len(q) for q in self.others.values())
        return size

    @property
    def pending(self) -> bool:
        """True if anything (a message or a fired timeout) waits."""
        return bool(self.plain or self.others)

    def full(self) -> bool:
        """True if one more message would pass the bound."""
        return self.limit is not None and self.size >= self.limit

    def put(self, msg: Any, priority: int) -> None:
        """Queue ``msg`` behind the others of its priority."""
        if priority == 0:
            self.plain.append(msg)
            return
        others = self.others
        if others is None:
            others = self.others = {}
        bucket = others.get(priority)
        if bucket is None:
            bucket = others[priority] = deque()
        bucket.append(msg)

    def take(self) -> Any:
        """The next message (or :data:`TIMEOUT`), highest priority first; :data:`EMPTY` if none."""
        if self.others is not None:
            return self._take_other()
        plain = self.plain
        if not plain:
            return EMPTY
        self.taken_priority = 0
        msg = plain.popleft()
        if msg is TIMEOUT:
            self.timeout_queued = False
        return msg

    def put_back(self, msg: Any) -> None:
        """Return the message taken last to the head of its priority (its handling was cancelled)."""
        if msg is TIMEOUT:
            self.plain.appendleft(msg)
            self.timeout_queued = True
        elif self.taken_priority == 0:
            self.plain.appendleft(msg)
        else:
            self.put(msg, self.taken_priority)
            self.others[self.taken_priority].rotate(1)  # type: ignore[index]  # to the head

    def copy(self, memo: dict[int, Any] | None) -> Mailbox:
        """A mailbox with the same messages (deep copies of them when ``memo`` is given)."""
        twin = copy.copy(self)
        twin.plain = _copy_queue(self.plain, memo)
        twin.others = (
            None if self.others is None else {p: _copy_queue(q, memo) for p, q in self.others.items()}
        )
        return twin

    def add_timeout(self) -> None:
        """Queue the fired timeout behind the priority-0 messages already waiting."""
        self.plain.append(TIMEOUT)
        self.timeout_queued = True

    def drop_timeout(self) -> None:
        """Take a queued timeout back off the queue (its state was left)."""
        if self.timeout_queued:
            self.withdraw(TIMEOUT)  # by identity: messages may define a strange __eq__
            self.timeout_queued = False

    def withdraw(self, msg: Any) -> bool:
        """Take back ``msg`` (that very object) if it is still queued; True if it was."""
        if self.plain:
            for i, queued in enumerate(self.plain):
                if queued is msg:
                    del self.plain[i]
                    return True
        if self.others is None:
            return False  # the common case (an embedder's message, handled): nothing more to search
        for priority, bucket in self.others.items():
            for i, queued in enumerate(bucket):
                if queued is msg:
                    del bucket[i]
                    self._prune(priority)
                    return True
        return False

    def evict_for(self, priority: int) -> Any:
        """Make room for a message of ``priority``: remove and return the longest-waiting message of
        the lowest priority present, or :data:`NEWCOMER` if the newcomer's priority is lower still."""
        others = self.others or {}
        has_plain = any(m is not TIMEOUT for m in self.plain)
        lowest = min([*others, *([0] if has_plain else [])])
        if priority < lowest:
            return NEWCOMER
        if lowest == 0:
            for i, msg in enumerate(self.plain):
                if msg is not TIMEOUT:
                    del self.plain[i]
                    return msg
        return self._take(lowest)

    def _take_other(self) -> Any:
        """Next message when some have a non-zero priority (the slow path)."""
        others = self.others
        assert others
        top = max(others)
        if top < 0 and self.plain:
            self.taken_priority = 0
            msg = self.plain.popleft()
            if msg is TIMEOUT:
                self.timeout_queued = False
            return msg
        self.taken_priority = top
        return self._take(top)

    def _take(self, priority: int) -> Any:
        """The longest-waiting message of a non-zero ``priority``; an emptied priority goes away."""
        assert self.others
        msg = self.others[priority].popleft()
        self._prune(priority)
        return msg

    def _prune(self, priority: int) -> None:
        """Forget a non-zero ``priority`` once nothing waits at it."""
        others = self.others
        assert others
        if not others[priority]:
            del others[priority]
            if not others:
                self.others = None


def _copy_queue(queue: deque[Any], memo: dict[int, Any] | None) -> deque[Any]:
    return deque(queue) if memo is None else deque(copy.deepcopy(list(queue), memo))
