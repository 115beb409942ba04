"""What changes while a net runs: the tokens of each place and the in-flight count of each transition.

These are the runtime's own records (``__slots__``, built once per runner from the compiled plan);
the collaborators of a runner (:mod:`.ready`, :mod:`.firing`, :mod:`.failures`, :mod:`.ioplaces`,
:mod:`.scheduler`) share them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..common.timebase import Timebase, TimerHandle
from .compile import FlatNet, FlatPlace, FlatTransition
from .context import consumed_class
from .places import PlaceKind, PlaceType
from .transitions import HandlerKind, ListValue

__all__ = ["NO_TOKEN", "PlaceState", "Retry", "TransitionState", "connect", "held", "link"]

NO_TOKEN: Any = object()
"""What ``PlaceState.delivering`` holds while no delivery is under way (a token may be None)."""

_COROUTINE = HandlerKind.COROUTINE
_FUNCTION = HandlerKind.FUNCTION


class Retry:
    """A pending retry after a failure: its timer and when it fires (on the runner's timebase)."""

    __slots__ = ("handle", "at", "due")

    def __init__(self) -> None:
        self.handle: TimerHandle | None = None
        self.at: float | None = None
        self.due: float | None = None
        """A deadline a restored runner arms at its next start (instead of the full delay)."""

    def arm(self, timebase: Timebase, delay: float, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after ``delay`` seconds on ``timebase`` (replacing a pending retry)."""
        self.cancel()
        self.at = timebase.now() + delay
        self.handle = timebase.call_later(delay, self._fire(callback))

    def _fire(self, callback: Callable[[], None]) -> Callable[[], None]:
        def fire() -> None:
            self.handle = None
            self.at = None
            callback()

        return fire

    def cancel(self) -> None:
        """Forget the pending retry, if any."""
        if self.handle is not None:
            self.handle.cancel()
        self.handle = None
        self.at = None


class PlaceState:
    """A place at run time: its tokens and who to wake when they change."""

    __slots__ = (
        "index",
        "qname",
        "tokens",
        "take",
        "queue",
        "capacity",
        "reserved",
        "consumers",
        "producers",
        "gen",
        "kind",
        "sink",
        "sink_busy",
        "sink_blocked_gen",
        "error_place",
        "room_waiters",
        "sink_retry",
        "sink_error",
        "sink_streak",
        "delivering",
    )

    def __init__(self, flat: FlatPlace) -> None:
        spec = flat.spec
        self.index = flat.index
        self.qname = flat.qname
        self.queue = spec.type is PlaceType.QUEUE
        # QUEUE: a deque (O(1) at both ends).  BAG: a list; any token leaves in O(1) by swapping
        # it with the last one, since a multiset promises no order.
        if self.queue:
            queue: deque[Any] = deque(spec.initial)
            self.tokens: Any = queue
            self.take: Any = queue.popleft
        else:
            bag: list[Any] = list(spec.initial)
            self.tokens = bag
            self.take = bag.pop
        self.capacity = spec.capacity
        self.reserved = 0  # room held for firings in flight (bounded places only)
        self.consumers: tuple[TransitionState, ...] = ()
        self.producers: tuple[TransitionState, ...] = ()
        self.gen = 0  # bumped whenever a new token arrives (not when a failed firing returns one)
        self.kind = spec.kind
        self.sink = spec.sink if spec.kind is PlaceKind.IO_OUTPUT else None
        self.sink_busy = False
        self.sink_blocked_gen: int | None = None
        self.error_place: PlaceState | None = None
        self.room_waiters: list[asyncio.Future[None]] = []
        self.sink_retry = Retry()
        """The timer that retries a failed delivery (a sink without an error place)."""
        self.sink_error: BaseException | None = None
        self.sink_streak = 0
        """Deliveries that failed in a row."""
        self.delivering: Any = NO_TOKEN
        """The token a sink is being handed now (taken, not yet delivered), or NO_TOKEN."""

    def room(self) -> int | None:
        """Free room, or None when unbounded."""
        if self.capacity is None:
            return None
        # Never below 0: firings in flight when an arc into this place was added hold room here that
        # was never checked (see mutation._rewire), so the place may be overbooked for a while.
        return max(0, self.capacity - len(self.tokens) - self.reserved)

    def remove_at(self, indices: list[int]) -> list[Any]:
        """Remove the tokens at ``indices`` (positions in take order); return them in that order."""
        out = []
        tokens = self.tokens
        if self.queue:
            for i in sorted(indices, reverse=True):
                out.append(tokens[i])
                del tokens[i]
            out.reverse()
        else:
            n = len(tokens)
            # BAG positions count from the end (pop() takes the last); swap-remove is O(1).
            for pos in sorted((n - 1 - i for i in indices), reverse=True):
                out.append(tokens[pos])
                last = tokens.pop()
                if pos < len(tokens):
                    tokens[pos] = last
        return out

    def restore(self, tokens: Sequence[Any]) -> None:
        """Put tokens back as if they had never left (front of a QUEUE, in their order)."""
        if self.queue:
            self.tokens.extendleft(reversed(tokens))
        else:
            self.tokens.extend(reversed(tokens))

    def in_take_order(self) -> list[Any]:
        """Snapshot of the tokens in the order they would be taken."""
        if self.queue:
            return list(self.tokens)
        return list(reversed(self.tokens))


class TransitionState:
    """A transition at run time: its compiled arcs and what changes (in-flight count, queue flag)."""

    __slots__ = (
        "flat",
        "qname",
        "handler",
        "kind",
        "wants_ctx",
        "eager",
        "inputs",
        "outputs",
        "holds",
        "room_checks",
        "single",
        "guard",
        "guard_arity",
        "guard_raised",
        "guard_error",
        "concurrency",
        "inflight",
        "queued",
        "ready",
        "blocked_gen",
        "in_keys",
        "out_places",
        "error_place",
        "retry_delay",
        "retry",
        "last_error",
        "streak",
        "fired_at_failure",
        "interrupted",
        "halted",
        "memory",
        "fast",
        "hot",
        "hot_call",
        "ccls",
        "fired",
        "takers",
        "stores",
        "unit",
        "split",
    )

    def __init__(self, flat: FlatTransition, places: list[PlaceState], ready: deque[TransitionState]) -> None:
        spec = flat.spec
        self.handler = spec.handler
        self.hot_call: Callable[..., Any] = spec.handler
        """What the scheduler loop awaits for a hot firing, as ``hot_call(consumed, bb, timebase)``: the
        handler, or for one taking ``ctx`` an adapter that makes it (set by :mod:`.arguments`)."""
        self.kind = spec.kind
        self.wants_ctx = spec.wants_ctx
        self.eager = spec.eager
        self.split = spec.list_value is ListValue.SEVERAL
        """A list output value is several tokens (else one token, the list)."""
        self.guard = spec.guard
        self.guard_arity = spec.guard_arity
        self.guard_raised: set[type[BaseException]] = set()
        """The exception types the guard raised in the current streak of evaluations that raised:
        each is logged once per streak (see ``Firing.choose``)."""
        self.guard_error: BaseException | None = None
        """What the guard raised in its last evaluation, if that evaluation fired nothing: the tokens
        it could not judge are held back (``runner.stuck()``) until a new token has it look again."""
        self.inflight = 0
        self.queued = False
        self.ready = ready
        self.blocked_gen: int | None = None
        self.retry_delay = spec.retry_delay
        self.retry = Retry()
        self.last_error: BaseException | None = None
        """Why the last firing failed (or was cancelled from outside)."""
        self.streak = 0
        """Failures in a row: with no firing committed between them."""
        self.fired_at_failure = -1
        self.interrupted = False
        """Blocked because a firing was cancelled from outside the runner (not because one failed)."""
        self.halted = False
        """Held after a firing ended by a ``KeyboardInterrupt`` or the like: no retry timer takes its
        tokens again (that would raise the same exception again), only a new token or a restart."""
        self.memory: dict[str, Any] = {}
        self.fired = 0
        self.wire(flat, places)

    def wire(self, flat: FlatTransition, places: list[PlaceState]) -> None:
        """Take the arcs of ``flat`` (a plan of the same transition): on creation, and when a running
        net changes (:mod:`.mutation`), which keeps the handler, counters, memory and retries."""
        self.flat = flat
        self.qname = flat.qname
        self.inputs = tuple((places[i], w) for i, w in flat.inputs)
        self.outputs = tuple((places[i], w) for i, w in flat.outputs)
        self.holds, self.room_checks = _room(self.inputs, self.outputs)
        # The common case gets a short path: one input arc of weight 1, no guard.
        self.single = self.inputs[0][0] if len(self.inputs) == 1 and self.inputs[0][1] == 1 else None
        # Taking a binding without a guard: the first ``weight`` tokens of each input, in arc order;
        # ``map(operator.call, takers)`` does it without a Python-level loop.
        self.takers = tuple(p.take for p, w in self.inputs for _ in range(w))
        self.stores = tuple(p.tokens for p, _ in self.inputs)
        """The input places' token containers (the same objects for the runner's life)."""
        self.unit = all(w == 1 for _, w in self.inputs)
        """Every input arc has weight 1: enabled when every store is non-empty."""
        # A transition without input arcs exists only in a net changed while it runs (added, its input
        # arcs not yet): concurrency 0 keeps it from ever being enabled until it has one.
        self.concurrency = flat.spec.concurrency if self.inputs else 0
        self.in_keys = flat.in_keys
        # any name of an output place -> the place itself
        self.out_places = {key: places[i] for key, i in flat.out_keys.items()}
        self.error_place = None if flat.error_place is None else places[flat.error_place]
        # Each transition gets its own Consumed subclass carrying its input-name index, so building
        # the consumed list costs one call.
        self.ccls = consumed_class(flat.in_keys)
        # The short path: no guard, no bounded place, and a handler that is a plain function or an
        # eager coroutine.
        self.fast = (
            self.guard is None
            and not self.holds
            and (self.kind is _FUNCTION or (self.kind is _COROUTINE and self.eager))
        )
        # The hottest shape, which the scheduler loop awaits inline (through ``hot_call``): the short
        # path with an eager coroutine handler.
        self.hot = self.fast and self.kind is _COROUTINE


Arcs = tuple[tuple[PlaceState, int], ...]


def _room(inputs: Arcs, outputs: Arcs) -> tuple[Arcs, Arcs]:
    """(room a firing holds in each bounded place, extra room each bounded output must have free).

    A firing holds room in every bounded place it touches from the moment it takes its tokens until
    it commits or fails: the consumed tokens' room (so a failure can always put them back) and the
    output arc weight (so the outputs fit).  In a place that is both input and output the two
    overlap.  It is enabled only if that room is free now.
    """
    w_in = {p: w for p, w in inputs if p.capacity is not None}
    w_out = {p: w for p, w in outputs if p.capacity is not None}
    holds = tuple((p, max(w_in.get(p, 0), w_out.get(p, 0))) for p in {**w_in, **w_out})
    room_checks = tuple((p, w - w_in.get(p, 0)) for p, w in w_out.items() if w - w_in.get(p, 0) > 0)
    return holds, room_checks


def held(t: TransitionState, p: PlaceState) -> int:
    """Room a firing of ``t`` holds in ``p``."""
    for q, hold in t.holds:
        if q is p:
            return hold
    return 0


def link(flat: FlatNet) -> tuple[list[PlaceState], list[TransitionState], list[deque[TransitionState]]]:
    """The runtime records of a compiled net: places, transitions (each knowing its neighbours) and
    the ready queues, one per priority level, highest first."""
    places = [PlaceState(fp) for fp in flat.places]
    for fp in flat.places:
        if fp.error_place is not None:
            places[fp.index].error_place = places[fp.error_place]
    priorities = sorted({ft.spec.priority for ft in flat.transitions}, reverse=True)
    by_priority: dict[int, deque[TransitionState]] = {prio: deque() for prio in priorities}
    transitions = [TransitionState(ft, places, by_priority[ft.spec.priority]) for ft in flat.transitions]
    connect(places, transitions)
    return places, transitions, list(by_priority.values())


def connect(places: list[PlaceState], transitions: list[TransitionState]) -> None:
    """Tell every place which transitions consume from it and which produce into it."""
    consumers: dict[int, list[TransitionState]] = {i: [] for i in range(len(places))}
    producers: dict[int, list[TransitionState]] = {i: [] for i in range(len(places))}
    for t in transitions:
        for p, _ in t.inputs:
            if t not in consumers[p.index]:
                consumers[p.index].append(t)
        for p, _ in t.outputs:
            if t not in producers[p.index]:
                producers[p.index].append(t)
    for p in places:
        p.consumers = tuple(consumers[p.index])
        p.producers = tuple(producers[p.index])
