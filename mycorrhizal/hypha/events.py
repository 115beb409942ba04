"""What a net's runner tells its observers: one frozen record per thing that happened.

Every firing emits exactly one of :class:`FiringCommitted`, :class:`FiringFailed` or
:class:`FiringCancelled`, preceded, for observers that ask for it (told on request, see
:mod:`mycorrhizal.common.observers`), by :class:`FiringStarted` when it has taken its tokens.
Failures that are not firings (a sink, a source or a guard that raised) have records of their
own.  Token collections are keyed by qualified place name, in take order.  Attach observers with
``runner.add_observer(fn)``; with none attached no record is built.

A :class:`FiringCommitted` holds its tokens as the runner had them (the firing's list of consumed
tokens, read as what it took whatever its handler did to the list; what the commit put where) and
groups them by place when ``consumed`` or ``produced`` is read: an observer that does not look pays
nothing for the grouping.  Each read makes a new dict.  The other records hold the dicts
themselves (:class:`FiringStarted` a copy taken before the handler runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..common.frozen import field
from ..common.observers import Event
from .context import Consumed
from .state import PlaceState

__all__ = [
    "DeliveryFailed",
    "FiringCancelled",
    "FiringCommitted",
    "FiringEvent",
    "FiringFailed",
    "FiringStarted",
    "GuardFailed",
    "NetChanged",
    "SourceFailed",
]

Tokens = Mapping[str, tuple[Any, ...]]
"""Qualified place name -> tokens."""


def by_place(consumed: Consumed, took: tuple[Any, ...] | None = None) -> dict[str, tuple[Any, ...]]:
    """The tokens of ``consumed`` keyed by the qualified name of their place, in take order: what
    the firing took (``took``, default the list's ``_took``), whatever the handler did since."""
    places, flat = consumed._places, consumed._took if took is None else took
    if len(places) == 1:
        return {places[0][0]: flat}
    return {place: flat[start:stop] for place, start, stop in places}


def one_produced(stored: Any) -> bool:
    """Whether a :class:`FiringCommitted`'s stored ``produced`` is one token, ``(place, token)``
    (the commit's (place, tokens) pairs are pairs of pairs; see :func:`stored_groups`)."""
    return type(stored) is tuple and len(stored) == 2 and type(stored[0]) is PlaceState


def stored_groups(stored: Any) -> Iterable[tuple[str, Sequence[Any]]]:
    """A firing record's ``consumed`` or ``produced`` as the record stores it, as (qualified place
    name, tokens) pairs: what an observer on a hot path iterates instead of the dict a read makes
    (read the record at once, e.g. ``source, time, transition, consumed, produced = record``)."""
    if isinstance(stored, Consumed):
        places, took = stored._places, stored._took
        if len(places) == 1:
            return ((places[0][0], took),)
        return [(place, took[start:stop]) for place, start, stop in places]
    if one_produced(stored):
        return ((stored[0].qname, (stored[1],)),)
    if type(stored) is list or type(stored) is tuple:  # the commit's (place, tokens) pairs
        return [(place.qname, tokens) for place, tokens in stored] if stored else ()
    return stored.items()  # type: ignore[no-any-return]


def _consumed(stored: Any) -> Tokens:
    """A firing record's ``consumed``: stored as the firing's own list, or as given."""
    return by_place(stored) if isinstance(stored, Consumed) else stored


def _produced(stored: Any) -> Tokens:
    """A firing record's ``produced``: stored as the commit's (place, tokens) pairs, as
    (place, token) for one token, or as given."""
    if one_produced(stored):
        return {stored[0].qname: (stored[1],)}
    if type(stored) is list or type(stored) is tuple:
        return {place.qname: tuple(tokens) for place, tokens in stored}
    return stored  # type: ignore[no-any-return]


class FiringEvent(Event):
    """Something that happened to one firing of a transition."""

    kind: ClassVar[str] = "firing"
    """``"started"``, ``"committed"``, ``"failed"`` or ``"cancelled"``: the record's class, as a word."""
    transition: str
    """Qualified name of the transition."""
    consumed: Tokens = field(eq=False, read=_consumed)
    """The tokens the firing took, by the place they came from."""


class FiringStarted(FiringEvent):
    """A firing took its tokens; its handler runs next.  Told on request: only observers whose
    ``wants(FiringStarted)`` is true get it (the record ending the firing repeats its tokens)."""

    kind: ClassVar[str] = "started"
    on_request: ClassVar[bool] = True


class FiringCommitted(FiringEvent):
    """A firing finished: its consumed tokens are gone and its outputs are in their places."""

    kind: ClassVar[str] = "committed"
    produced: Tokens = field(eq=False, read=_produced)
    """The tokens it produced, by the place they went to."""


class FiringFailed(FiringEvent):
    """A firing's handler raised (or returned outputs it may not produce): nothing was produced."""

    kind: ClassVar[str] = "failed"
    error: BaseException = field(eq=False)
    error_place: str | None
    """Where the consumed tokens went: the qualified name of the error place (as ``FailedToken``s),
    or None when they went back to their input places."""


class FiringCancelled(FiringEvent):
    """A firing was cancelled while its handler was suspended, or its handler raised a
    ``KeyboardInterrupt``, ``SystemExit`` or the like (which goes on propagating): its tokens went
    back to their places."""

    kind: ClassVar[str] = "cancelled"


class DeliveryFailed(Event):
    """A sink raised on a token."""

    kind: ClassVar[str] = "delivery failed"
    place: str
    """Qualified name of the sink's place."""
    token: Any = field(eq=False)
    error: BaseException = field(eq=False)
    error_place: str | None
    """Where the token went: the sink's error place, or None when it stayed at the head of its place."""


class SourceFailed(Event):
    """A source raised; it produces no more tokens until the runner is started again."""

    kind: ClassVar[str] = "source failed"
    place: str
    error: BaseException = field(eq=False)


class GuardFailed(Event):
    """A guard raised on a candidate binding, which then counts as not accepted."""

    kind: ClassVar[str] = "guard failed"
    transition: str
    consumed: Tokens = field(eq=False)
    error: BaseException = field(eq=False)


class NetChanged(Event):
    """The running net was changed (``runner.add_place``, ``add_transition``, ``add_arc``,
    ``remove_arc`` or ``remove``); later records are about the changed net."""

    kind: ClassVar[str] = "net changed"
    change: str
    """What changed, as the call that changed it: ``"add_place('Net.extra')"``."""
    net: Any = field(eq=False)
    """The changed net's spec (what ``runner.spec`` is from now on)."""
