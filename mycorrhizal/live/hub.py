"""The hub between one watched runtime and the browsers looking at it.

The hub is the runtime's observer.  Receiving an event costs the engine a list append: describing
events, reading snapshots and encoding JSON happen later, at most once per ``min_interval`` (real
seconds), in one *flush* that sends every connected client one update (the new events and a fresh
snapshot).

Slow clients never slow the run.  Each client has a bounded buffer of ``client_buffer`` updates;
when a client falls that far behind (its connection drains slower than updates come), its backlog
is thrown away and replaced by one fresh snapshot: the client's picture is right again at once,
and its event list shows how many events it skipped.  Each such *coalescing* is counted per client
and in :attr:`Hub.coalesced`; the events it skipped are counted in :attr:`Hub.dropped`.  Only the
view's copy is dropped: the engine's own events were all delivered to the hub (``seen``), and the
most recent ``history`` of them stay available at ``/api/events``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

from ..common.numbers import is_count, is_seconds
from ..common.observers import Forwarded, wants_all
from ..rhizomorph.events import NodeEvent, TickFinished, TickStarted
from .records import describe, show
from .watch import NetWatch, Snapshot, Watched

__all__ = ["Client", "Hub", "check_options"]

log = logging.getLogger("mycorrhizal.live")

BURST = 1000
"""Events held between two flushes when the view keeps no history (``history=0``): as many as a page
lists.  With a history, as many as it keeps."""


class Client:
    """One browser's stream: a bounded buffer of encoded updates, coalesced when it overflows."""

    __slots__ = ("queue", "limit", "wake", "resync", "dropped", "coalesced", "closed", "after")

    def __init__(self, limit: int) -> None:
        self.queue: deque[tuple[str, int]] = deque()
        self.limit = limit
        self.wake = asyncio.Event()
        self.resync = False
        """True when the backlog was dropped: the client gets a fresh snapshot next."""
        self.dropped = 0
        """Events this client's view skipped because it fell behind."""
        self.coalesced = 0
        """Times this client's backlog was replaced by a snapshot."""
        self.closed = False
        self.after = 0
        """Sequence number of the newest event this client got in a snapshot's history."""

    def offer(self, message: str, events: int) -> bool:
        """Queue an update carrying ``events`` events; False when it coalesced the backlog instead."""
        if self.resync:  # the snapshot it gets next already covers this update
            self.dropped += events
            return False
        if len(self.queue) >= self.limit:
            self.dropped += events + sum(count for _, count in self.queue)
            self.queue.clear()
            self.resync = True
            self.coalesced += 1
            self.wake.set()
            return False
        self.queue.append((message, events))
        self.wake.set()
        return True

    def close(self) -> None:
        """End this client's stream."""
        self.closed = True
        self.wake.set()


def check_options(history: Any, client_buffer: Any, min_interval: Any) -> None:
    """Refuse (one ``ValueError`` naming each) the hub options that mean nothing."""
    wrong = []
    if history is not None and not is_count(history, least=0):
        wrong.append(f"history={history!r} (events kept for pages that open later: an int >= 0, e.g. 500)")
    if not is_count(client_buffer, least=0):
        wrong.append(
            f"client_buffer={client_buffer!r} (updates a page may fall behind before it gets a snapshot "
            "instead: an int >= 0, e.g. 64)"
        )
    if not is_seconds(min_interval, forever=False):  # (infinity: the pages would never be updated)
        wrong.append(
            f"min_interval={min_interval!r} (real seconds between two updates of the pages: a finite "
            "number >= 0, e.g. 0.05)"
        )
    if wrong:
        raise ValueError(f"live view: {'; '.join(wrong)}. Fix: pass the values in brackets")


class Hub:
    """Receives a runtime's events, keeps recent history, and feeds every connected client."""

    def __init__(
        self,
        watched: Watched,
        *,
        history: int = 500,
        client_buffer: int = 64,
        min_interval: float = 0.05,
        control: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        check_options(history, client_buffer, min_interval)
        self.watched = watched
        self.instance = secrets.token_hex(8)
        """This hub's id, in every stream's snapshot: a page that finds another one after reconnecting
        talks to a new server (restarted: its events numbered afresh) and starts its list anew."""
        self.history: deque[dict[str, Any]] = deque(maxlen=history)
        self.client_buffer = client_buffer
        self.min_interval = min_interval
        self.control = control or (lambda: {"pausable": False})
        self.clients: set[Client] = set()
        self.seen = 0
        """Events the runtime delivered to the view (every one of them)."""
        self.skipped = 0
        """Events counted but not described, because more than ``history`` came between two flushes."""
        # Received, not yet described: the newest only (a runtime that emits without yielding holds
        # off the flush; a bounded deque drops the oldest at the cost of a list append).
        # With each: its nodes when only the moment it was emitted tells them (see Watched.note).
        self._pending: deque[tuple[Any, dict[str, str] | None, list[str] | None]] = deque(
            maxlen=history or BURST
        )
        self._described = 0  # self.seen at the last _describe: what came since, kept or not
        # Described (for a page that connected, or /api/events) but not yet sent to the open pages.
        self._unsent: list[dict[str, Any]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        self._last_core = ""
        self._gone = [0, 0]  # dropped, coalesced: of clients that disconnected
        self._closed = False

    # ------------------------------------------------------------------ receiving (the engine's side)

    @wants_all  # firing and tick starts show what is in progress
    def observe(self, event: Any) -> None:
        """The observer attached to the runtime: note ``event`` and schedule a flush.

        A machine's or tree's record forwarded by a net is listed as its own, tagged with the
        transition and the machine's key (a tree's token).
        """
        known = self.watched.note(event)
        if isinstance(event, Forwarded):
            self._pending.append((event.event, _tag(event), known))
        else:
            self._pending.append((event, None, known))
        self.seen += 1
        if self._handle is None:
            self._schedule()

    def poke(self) -> None:
        """Something changed without an event (the clock moved): flush soon."""
        if self._handle is None:
            self._schedule()

    def _schedule(self) -> None:
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # emitted outside a loop: the view's periodic poll flushes it
            return
        delay = max(0.0, self._last_flush + self.min_interval - loop.time())
        self._handle = loop.call_later(delay, self.flush)

    # ------------------------------------------------------------------ sending (the clients' side)

    def flush(self) -> None:
        """Describe what came in, and send every client an update if anything changed."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._last_flush = asyncio.get_running_loop().time()
        self._describe()
        records, self._unsent = self._unsent, []
        if not self.clients:
            return
        core = self._core()
        encoded = json.dumps(core, sort_keys=True)
        if not records and encoded == self._last_core:
            return
        self._last_core = encoded
        snap = self._with_stats(core)
        message = json.dumps({"events": records, "snapshot": snap})
        for client in list(self.clients):
            if records and client.after >= records[0]["seq"]:  # connected since: it has some of them
                mine = [record for record in records if record["seq"] > client.after]
                client.offer(json.dumps({"events": mine, "snapshot": snap}), len(mine))
            else:
                client.offer(message, len(records))

    @property
    def dropped(self) -> int:
        """Events some client's view skipped (a client that fell behind got a snapshot instead)."""
        return self._gone[0] + sum(client.dropped for client in self.clients)

    @property
    def coalesced(self) -> int:
        """Times a client's backlog was replaced by a fresh snapshot."""
        return self._gone[1] + sum(client.coalesced for client in self.clients)

    def _describe(self) -> None:
        """Describe the events received since, into the history and the records the pages get next."""
        kept = list(self._pending)  # (at most what the history holds: the deque's bound)
        self._pending.clear()
        self.skipped += self.seen - self._described - len(kept)
        self._described = self.seen
        first = self.seen - len(kept) + 1
        records = []
        for offset, (event, tag, known) in enumerate(kept):
            nodes = self._nodes(event, tag) if known is None else known
            records.append(describe(event, first + offset, nodes, tag))
        self.history.extend(records)
        self._unsent.extend(records)
        cap = self._pending.maxlen or BURST
        if len(self._unsent) > cap:  # described in several looks between two flushes
            self.skipped += len(self._unsent) - cap
            del self._unsent[:-cap]

    def _nodes(self, event: Any, tag: dict[str, str] | None) -> list[str]:
        watched = self.watched
        if tag is not None and isinstance(watched, NetWatch):
            return watched.embedded_nodes(tag["transition"], event)
        return watched.nodes_of(event)

    def _core(self) -> Snapshot:
        snap = self.watched.snapshot()
        snap["control"] = self.control()
        return snap

    def _with_stats(self, snap: Snapshot) -> Snapshot:
        snap["stats"] = {
            "seen": self.seen,
            "skipped": self.skipped,
            "dropped": self.dropped,
            "coalesced": self.coalesced,
            "clients": len(self.clients),
        }
        return snap

    def snapshot(self) -> Snapshot:
        """The runtime's state now, with the view's controls and counters."""
        return self._with_stats(self._core())

    def snapshot_message(self, client: Client | None, history: int) -> str:
        """What a client gets first, and again after its backlog was coalesced: state and recent events."""
        self.flush_pending_only()
        recent = list(self.history)[-history:] if history else []
        if client is not None and recent:
            client.after = recent[-1]["seq"]  # the next update leaves out what it has now
        body = {
            "server": self.instance,
            "snapshot": self.snapshot(),
            "history": recent,
            "dropped": 0 if client is None else client.dropped,
            "coalesced": 0 if client is None else client.coalesced,
        }
        return json.dumps(body)

    def flush_pending_only(self) -> None:
        """Describe events received so far, so history is current; the open pages get them next flush."""
        self._describe()

    def connect(self) -> Client:
        """A new client stream."""
        client = Client(self.client_buffer)
        self.clients.add(client)
        log.debug("live view: client connected (%d now)", len(self.clients))
        return client

    def disconnect(self, client: Client) -> None:
        """Forget ``client`` (its connection closed)."""
        if client in self.clients:
            self.clients.discard(client)
            self._gone[0] += client.dropped
            self._gone[1] += client.coalesced
            log.debug("live view: client disconnected (%d left)", len(self.clients))

    def close(self) -> None:
        """End every client's stream and stop flushing."""
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for client in list(self.clients):
            client.close()


def _tag(event: Forwarded) -> dict[str, str]:
    """What the page shows of where a forwarded record comes from: transition, and key or token."""
    key = "" if event.key is None else str(show(event.key))
    of_tree = isinstance(event.event, NodeEvent | TickStarted | TickFinished)
    return {"transition": event.transition, "token" if of_tree else "key": key}
