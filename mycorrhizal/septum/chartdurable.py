"""Snapshots of statecharts: what a :class:`~.chart.ChartEngine` adds to a machine's snapshot document.

A statechart's document is a flat machine's (see :mod:`.durable`: ``state`` is the innermost state
holding every active one, ``phase``, ``stack``, ``unhandled``, the blackboard) with ``timer`` left
None and one more entry, ``chart``::

    "chart": {"active": ["Light", "Light.Day", "Light.Day.Cycle", "Light.Day.Cycle.Green"],
              "owing": [], "counts": {"Light.Day.Cycle.Green": 1},
              "history": {"Light.Day": ["Light.Day.Cycle", "Light.Day.Cycle.Green"]},
              "timers": {"Light.Day.Cycle.Green": 130.0}}

``active`` lists the active states in the order they were entered, ``owing`` those that owe their
entry run, ``counts`` the retry counts, ``history`` what each compound state with history
remembers, and ``timers`` the deadline of each pending timeout on the machine's timebase.  A fired
timeout waiting in the queue is the entry ``["timeout", "Light.Day.Cycle.Green"]`` of ``queue``.
Restored, every timer is set again for its original deadline (at once if it has passed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..common.codecs import JSON
from ..common.documents import refusal
from ..common.errors import CodecError
from .chart import ChartClock, ChartEngine, ChartMailbox
from .hierarchy import ChartNode, TimerMarker
from .moves import NEW
from .plan import Node

__all__ = ["DAMAGED", "REFIT", "queue", "read", "refuse", "write"]

Keys = dict[Node, str]
Find = Callable[[Any], Node]


def write(engine: ChartEngine, key: Keys) -> dict[str, JSON]:
    """The ``chart`` entry of ``engine``'s snapshot (``key``: each state's key in documents)."""
    clock = engine.timers()
    timers = {} if clock is None else {key[n]: when for n, when in clock.deadlines.items()}
    return {
        "active": [key[n] for n in engine.active],
        "owing": [key[n] for n in sorted(engine.owing, key=lambda n: n.order)],
        "counts": {key[n]: count for n, count in engine.counts.items()},
        "history": {key[n]: [key[m] for m in kept] for n, kept in engine.remembered.items()},
        "timers": timers,  # type: ignore[dict-item]  # floats
    }


def queue(mailbox: ChartMailbox, key: Keys, encode: Callable[[Any], JSON]) -> list[JSON]:
    """The ``queue`` entry: messages as ``[priority, encode(message)]``, fired timeouts as
    ``["timeout", state]``."""
    entries: list[JSON] = [
        ["timeout", key[m.node]] if isinstance(m, TimerMarker) else [0, encode(m)] for m in mailbox.plain
    ]
    for priority, bucket in sorted((mailbox.others or {}).items(), reverse=True):
        entries.extend([priority, encode(m)] for m in bucket)
    return entries


DAMAGED = (
    "pass StateMachine.restore() the document fsm.snapshot() wrote, unchanged (this one was damaged or "
    "edited)"
)
"""The fix for a document whose parts are of the wrong shape or contradict each other."""
REFIT = "restore it with the states the snapshot was taken of"
"""The fix for a document that does not fit the machine's states as they are now."""


def refuse(message: str, fix: str | None = DAMAGED) -> CodecError:
    """The error for a septum snapshot that cannot be read (``fix``: see :func:`refusal`)."""
    return refusal("septum", message, fix)


def _keys_of(chart: dict[str, Any], name: str, find: Find) -> list[ChartNode]:
    keys = chart.get(name)
    if type(keys) is not list:
        raise refuse(f"'chart.{name}' is not a list: {str(keys)[:80]!r}")
    return [find(k) for k in keys]  # type: ignore[misc]  # a statechart's nodes


def _mapping(chart: dict[str, Any], name: str) -> dict[str, Any]:
    value = chart.get(name)
    if type(value) is not dict:
        raise refuse(f"'chart.{name}' is not an object: {str(value)[:80]!r}")
    return value


def read(engine: ChartEngine, document: dict[str, Any], find: Find, decode: Callable[[Any], Any]) -> None:
    """Put the configuration, counts, history, timers and queue of ``document`` into a new ``engine``
    (its messages read by ``decode``)."""
    chart = document.get("chart")
    if type(chart) is not dict:
        raise refuse("a machine with compound or parallel states needs its 'chart' entry", REFIT)
    _read_active(engine, _keys_of(chart, "active", find))
    engine.owing = set(_keys_of(chart, "owing", find))
    for node in engine.owing:
        if node not in engine.active:
            raise refuse(f"state {node.name} is not active, but the snapshot says it owes its entry run")
    for key, count in _mapping(chart, "counts").items():
        if type(count) is not int or count < 0:
            raise refuse(f"retry count {count!r} of {key!r} is not a whole number >= 0")
        engine.counts[find(key)] = count  # type: ignore[index]
    for key, kept in _mapping(chart, "history").items():
        if type(kept) is not list:
            raise refuse(f"history of {key!r} is not a list")
        engine.remembered[find(key)] = tuple(find(k) for k in kept)  # type: ignore[index,misc]
    for key, deadline in _mapping(chart, "timers").items():
        if isinstance(deadline, bool) or not isinstance(deadline, int | float):
            raise refuse(f"timer deadline {deadline!r} of {key!r} is not a number")
        engine.arm(_timed(engine, find(key), "a timer for it"), max(0.0, deadline - engine.timebase.now()))
    _read_queue(engine, document.get("queue"), find, decode)
    if engine.phase != NEW:  # a machine written down before it started starts when it is first run
        engine.settle()


def _timed(engine: ChartEngine, node: Node, what: str) -> ChartNode:
    """``node``, if a snapshot may hold a timer of it (an active state with a timeout)."""
    if node.timeout is None:
        raise refuse(f"state {node.name} has no timeout, but the snapshot has {what}", REFIT)
    if node not in engine.active:
        raise refuse(f"state {node.name} is not active, but the snapshot has {what}")
    return node  # an active state of a statechart: a ChartNode


def _read_active(engine: ChartEngine, active: list[ChartNode]) -> None:
    for node in active:
        if node.parent is not None and node.parent not in active:
            raise refuse(f"state {node.name} is active but {node.parent.name}, which holds it, is not")
        engine.active[node] = None
        if node.parent is None:
            engine.top = node
        elif not node.parent.parallel:
            engine.child[node.parent] = node


def _read_queue(engine: ChartEngine, entries: Any, find: Find, decode: Callable[[Any], Any]) -> None:
    if type(entries) is not list:
        raise refuse(f"'queue' is not a list: {str(entries)[:80]!r}")
    if not entries:
        return
    mailbox = engine.open_mailbox()
    assert isinstance(mailbox, ChartMailbox)
    for entry in entries:
        if type(entry) is not list or len(entry) != 2:
            raise refuse(f"queue entry {str(entry)[:80]!r} is neither [priority, message] nor a timeout")
        if entry[0] == "timeout":
            node = _timed(engine, find(entry[1]), "a timeout of it queued")
            clock = engine.timers() or ChartClock(engine.timebase)
            engine.clock = clock
            mailbox.plain.append(node.marker)
            mailbox.markers += 1
            clock.fired = True
        elif type(entry[0]) is int:
            mailbox.put(decode(entry[1]), entry[0])
        else:
            raise refuse(f"queue entry {str(entry)[:80]!r} is neither [priority, message] nor a timeout")
