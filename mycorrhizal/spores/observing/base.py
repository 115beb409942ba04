"""The observer that writes a runtime's events into the spores log: times, runtime objects, writing.

:class:`Observation` is a plain (synchronous) observer: attached with ``runtime.add_observer``, it
is called inline with each event record and turns it into OCEL records at once, through the
configured dispatcher (so it follows :func:`~mycorrhizal.spores.configure` like every logger).  What
each engine's records become is decided by the per-engine modules next to this one; this module
holds what they share.
"""

from __future__ import annotations

import ast
import logging
import re
import time as _time
import weakref
from collections.abc import Callable
from enum import Enum
from functools import partial
from types import TracebackType
from typing import Any, Literal

import mycorrhizal.spores.config as config  # config._state: config.current(), read without a call (per event)
import mycorrhizal.spores.encoder as encoder

from ...common import frozen
from ...common.errors import HandlerError
from ..dispatch import Dispatcher
from ..encoder import quote, time_text
from ..extraction import describe
from ..models import generate_event_id
from ..records import Attributes, Relations

__all__ = [
    "Carried",
    "Handler",
    "unpacked_as",
    "Observation",
    "Timeline",
    "Timestamps",
    "error_attributes",
    "key_text",
    "machine_name",
    "label_text",
    "one_per_object",
    "short_name",
]

log = logging.getLogger("mycorrhizal.spores")

Timestamps = Literal["anchored", "timebase", "wall"]
"""How an event's time is written (see :func:`~mycorrhizal.spores.observe`)."""

Handler = Callable[["Observation", Any], None]
"""Writes the records of one engine event: ``handler(observation, event)``."""


class Carried:
    """The token a net's machine handles, standing for its message (a mycelium ``Delivery``) in the
    records of the machine that :func:`~mycorrhizal.spores.observe` writes: the token is related
    as the message, the way the net's firings relate it."""

    __slots__ = ("token",)

    def __init__(self, token: Any) -> None:
        self.token = token


def short_name(qualified: str, source: str) -> str:
    """A place's or transition's name without its net's name in front (``shop.pack`` -> ``pack``)."""
    prefix = source + "."
    return qualified[len(prefix) :] if qualified.startswith(prefix) else qualified


_PLAIN_KEY = re.compile(r"[^\s'\"()\[\]{}<>]+")
"""A key text with no space, quote or bracket: no ``repr`` of a tuple, enum or object has that form."""
_WORDS = frozenset(("None", "True", "False", "Ellipsis", "NotImplemented", "inf", "nan", "infinity"))
"""Words that are the ``repr`` of a key that is no string (``float`` reads the last three in any case)."""


def key_text(key: Any) -> str:
    """How a machine's key is written in its object's id, ``<transition>[<key>]``: a string as it
    is (``gate[north]``), unless it could be read as another key's (a number, ``None``, ``True``;
    it is empty or holds a space, a quote or a bracket): then quoted, as ``repr`` quotes it
    (``gate['1']``); every other key as its ``repr`` (``gate[1]``, ``gate[('a', 1)]``).  So keys
    the net tells apart (1 and "1") are two objects; keys of other types with one ``repr`` are not."""
    if type(key) is not str:
        return repr(key)
    if _PLAIN_KEY.fullmatch(key) is None or key in _WORDS or key.lower() in _WORDS:
        return repr(key)
    if key[0].isalpha() or key[0] == "_":  # (the common case: no number starts so)
        return key
    try:  # a number, in any spelling Python reads (1, -2.5, 1_000, 1e3, 2j)
        ast.literal_eval(key)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        try:
            float(key)
        except ValueError:
            return key
    return repr(key)


def machine_name(transition: str, key: Any) -> str:
    """The name of the machine of ``key`` in a net's ``transition`` (short name): ``gate``, or
    ``gate[<key>]`` with the key written by :func:`key_text`."""
    return transition if key is None else f"{transition}[{key_text(key)}]"


def unpacked_as(cls: type, *names: str) -> None:
    """Check that records of ``cls`` hold the fields ``names``, in this order: the hot handlers
    unpack a record at once (each read of a field by name is a property's call)."""
    found = tuple(f.name for f in frozen.fields(cls))
    if found != names:
        raise TypeError(
            f"spores: {cls.__qualname__} records hold {found}, not {names}; update the unpacking "
            "of its records in mycorrhizal/spores/observing"
        )


def error_attributes(error: BaseException, into: Attributes) -> None:
    """``error_type`` (the exception's class name) and ``error`` (its message) of a failure."""
    # septum hands over a HandlerError naming the state; what the user's code raised is its cause.
    cause = error.__cause__ if isinstance(error, HandlerError) and error.__cause__ is not None else error
    into.append(("error_type", type(cause).__name__))
    into.append(("error", str(cause)))


def one_per_object(relations: Relations) -> Relations:
    """The relationships with each object once: an object in several roles (a token consumed from
    one place and produced into another) gets their qualifiers joined by a space, in order
    (``consumed:validated produced:success``).

    OCEL 2.0 allows several qualifiers per event and object, but readers such as pm4py keep one
    per pair; one relationship carrying every role loses nothing for either.
    """
    if len(relations) < 2 or len({oid for oid, _ in relations}) == len(relations):
        return relations
    merged: dict[str, list[str]] = {}
    for oid, qualifier in relations:
        roles = merged.setdefault(oid, [])
        if qualifier not in roles:
            roles.append(qualifier)
    return [(oid, " ".join(roles)) for oid, roles in merged.items()]


def label_text(label: Any) -> str | None:
    """A septum label or message kind as text: an enum member's name, else ``str``; None stays None."""
    if label is None:
        return None
    if isinstance(label, Enum):
        return label._name_  # the documented sunder name: .name is a descriptor call
    return label if type(label) is str else str(label)


_FINE = 2**33 * 1_000_000
"""2**33 s in microseconds: below, a time's float is within half a microsecond of the microsecond
it was rounded to (its text to the microsecond is that one's); above, floats are ~2 us apart."""


def _unresolved(obs: Observation, event: Any) -> None:
    """Marks an event class whose handler is not looked up yet."""


_UNRESOLVED: Handler = _unresolved


class Timeline:
    """The times of observations that write on one timeline: its offset, and the last time written
    on it.  Shared by the anchored observations of runtimes on one clock and by every wall-time one,
    so that events at one instant keep, across runtimes, the order they happened in."""

    __slots__ = ("offset", "rewinds", "last")

    def __init__(self, offset: float, rewinds: int = 0) -> None:
        self.offset = offset
        """What is added to a timebase time: the epoch time minus the clock's time when anchored."""
        self.rewinds = rewinds
        """The clock's ``rewinds`` when it was anchored (a clock put back starts a new timeline)."""
        self.last = 0
        """The last time written on it, in microseconds (anchored and wall times go forward)."""


_WALL = Timeline(0.0)
"""The timeline of wall times (``timestamps="wall"``, and a runtime without a timebase)."""

_ANCHORS: weakref.WeakKeyDictionary[Any, Timeline] = weakref.WeakKeyDictionary()
"""Timebase -> its anchored timeline: the observations of runtimes on one clock share it."""


def _timeline(timebase: Any, timestamps: Timestamps) -> Timeline:
    """The timeline an observation writes on: for anchored times, the one the first observation on
    ``timebase`` took, until the clock is put back (``reset()``, ``set()`` to an earlier time: its
    ``rewinds`` grow), which starts a new timeline, anchored at the next ``observe()``."""
    if timestamps == "timebase":
        return Timeline(0.0)  # (times written as they are: nothing kept)
    if timestamps == "wall" or timebase is None:  # (no timebase: its records' times are wall times)
        return _WALL
    rewinds = getattr(timebase, "rewinds", 0)
    try:
        kept = _ANCHORS.get(timebase)
    except TypeError:  # a timebase that cannot be weakly referenced: a timeline of its own
        return Timeline(float(_time.time() - timebase.now()))
    if kept is None or kept.rewinds != rewinds:
        kept = _ANCHORS[timebase] = Timeline(_time.time() - timebase.now(), rewinds)
    return kept


_ATTACHED: weakref.WeakSet[Observation] = weakref.WeakSet()
"""The observations attached (an observation the runtime stops calling leaves: see ``on_detached``)."""


class Observation:
    """A runtime observed into the spores log; also the observer itself (``observation(event)``).

    Made by :func:`~mycorrhizal.spores.observe`.  :meth:`detach` (or leaving a ``with`` block)
    stops it; the records already written stay.
    """

    __slots__ = (
        "runtime",
        "run",
        "started",
        "_timestamps",
        "_line",
        "_handlers",
        "_resolve",
        "_written",
        "names",
        "roles",
        "owners",
        "types",
        "states",
        "parts",
        "plans",
        "_second",
        "_second_text",
        "token",
        "inner",
        "_attached",
        "_observer",
        "__weakref__",
    )

    def __init__(
        self,
        runtime: Any,
        handlers: Callable[[type, bool], Handler | None],
        *,
        run: str | None,
        started: bool,
        timestamps: Timestamps,
        front: Handler | None = None,
    ) -> None:
        if timestamps not in ("anchored", "timebase", "wall"):
            raise ValueError(
                f"observe(): timestamps={timestamps!r} is not a way to write times. "
                "Fix: use 'anchored', 'timebase' or 'wall'"
            )
        self.runtime = runtime
        self.run = run
        """The prefix of the ids of net, tree and machine objects (to tell runs apart), or None."""
        self.started = started
        """Whether firing and tick starts are written too."""
        self._timestamps: Timestamps = timestamps
        self._line = _timeline(getattr(runtime, "timebase", None), timestamps)
        self._handlers: dict[type, Handler | None] = {}  # None: a record this observation skips
        self._resolve = handlers
        # object id -> the dispatcher it was written to (a new configure() writes it again)
        self._written: dict[str, Dispatcher] = {}
        self.names: dict[tuple[str, str], str] = {}
        """(prefix, qualified name) -> prefix + short name: qualifiers and event types, made once."""
        self.roles: dict[tuple[str, str], tuple[str, str]] = {}
        """(prefix, place) -> what :meth:`role` makes: a qualifier and its relationships' JSON."""
        self.owners: dict[str, tuple[Dispatcher, str, str]] = {}
        """Runtime name -> what :meth:`owner` makes: its object, written, and its relationship."""
        self.types: dict[str, tuple[str, str]] = {}
        """Qualified name -> what :meth:`event_type` makes: an event type and its JSON."""
        self.states: dict[str, tuple[str, Dispatcher]] = {}
        """Machine object id -> (the state last written as its attribute, the dispatcher it went to)."""
        self.parts: dict[Any, Any] = {}
        """What an engine's handlers make once per key of their own (hypha: the qualifiers of a
        transition's consumed tokens, per class of its ``Consumed`` list)."""
        self.plans: dict[Any, tuple[Any, ...]] = {}
        """What an engine's hot handler writes alike for every event of one kind, made on its
        first event (hypha: per transition, keyed by the class of its ``Consumed`` list)."""
        # the second the last time written is in: its first microsecond and its text ("<seconds>.")
        self._second = 0
        self._second_text = "0."
        self.token: Any = None
        """The token the tree run of a net's transition whose record is being written decides about
        (None outside one, and for a batch): its events relate it as ``token``."""
        self.inner: Any = None
        """The machine of a net's transition whose record is being written (None outside one):
        what its records do not say is read from it (a statechart's innermost state)."""
        self._attached = False
        # What the runtime calls: the observation itself, or its engine's front, ``front(obs,
        # event)``, which writes the engine's most frequent record without the observation's
        # dispatch (a frame less per event) and hands every other record to the observation.
        self._observer: Any = self
        if front is not None:
            self._observer = partial(front, self)  # (C: a subclass would lose its fast call)
            # (stands_for: removed by remove_observer(observation), named so in warnings)
            vars(self._observer).update(wants=self.wants, stands_for=self, on_detached=self.on_detached)

    @property
    def timestamps(self) -> Timestamps:
        """``anchored``, ``timebase`` or ``wall``: how times are written, fixed when the
        observation is made (an anchored one's offset is taken then)."""
        return self._timestamps

    # -- being an observer ----------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        """Write the records of one event (what the runtime calls)."""
        try:  # (a subscript is cheaper than .get, and try costs nothing until it raises)
            handler = self._handlers[type(event)]
        except KeyError:
            handler = self._handlers[type(event)] = self._resolve(type(event), self.started)
        if handler is not None and config._state.config.enabled:
            handler(self, event)

    def wants(self, kind: type) -> bool:
        """Whether records of class ``kind`` become anything in the log (the runtime does not
        build those that do not, e.g. firing starts without ``started=True``)."""
        handler = self._handlers.get(kind, _UNRESOLVED)
        if handler is _UNRESOLVED:
            handler = self._handlers[kind] = self._resolve(kind, self.started)
        return handler is not None

    def attach(self) -> Observation:
        """Start observing (``observe`` does it); returns the observation.  Refused while another
        observation of the runtime is attached (``ValueError``): every event would be written twice."""
        if not self._attached:
            if any(other.runtime is self.runtime and other._attached for other in _ATTACHED):
                raise ValueError(
                    f"observe({self.runtime!r}): the runtime is observed already, and each of its events "
                    "would be written twice. Fix: detach() that observation first (observe() returned it)"
                )
            self.runtime.add_observer(self._observer)
            self._attached = True
            _ATTACHED.add(self)
        return self

    def detach(self) -> None:
        """Stop observing (idempotent; also after the runtime detached the observation because a
        write raised: :meth:`attach` then attaches it again)."""
        if self._attached:
            self._attached = False
            _ATTACHED.discard(self)
            try:
                self.runtime.remove_observer(self._observer)
            except ValueError:  # not attached: the runtime detached it (it raised) already
                pass

    def on_detached(self) -> None:
        """The runtime stopped calling the observation (``runtime.remove_observer(observation)``,
        or a write that raised): it is no longer attached, and may be attached again."""
        self._attached = False
        _ATTACHED.discard(self)

    def __repr__(self) -> str:
        return f"<spores observation of {self.runtime!r}>"

    def __enter__(self) -> Observation:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.detach()

    # -- what handlers use ----------------------------------------------------------------------

    def when(self, timebase_time: float) -> float:
        """The epoch time written for an event that happened at ``timebase_time``.

        ``anchored`` and ``wall`` times only go forward, by at least a microsecond per event on
        their timeline (see :class:`Timeline`): a virtual clock that did not move between two
        events must not let a reader that sorts by time (pm4py does) put them in another order.
        ``timebase`` times are written as they are.
        """
        if self._timestamps == "timebase":
            return timebase_time
        line = self._line  # (shared with the other observations on its timeline)
        when = _time.time() if self._timestamps == "wall" else timebase_time + line.offset
        # On OCEL's microsecond grid first: two times a microsecond apart as floats may round to
        # the same written microsecond (about 0.24 us between floats at today's epoch).
        micros = round(when * 1_000_000)
        if micros <= line.last:
            micros = line.last + 1
        line.last = micros
        return micros / 1_000_000

    def new_second(self, micros: int) -> str:
        """The text of an epoch time given in microseconds outside the second of the last one
        (:attr:`_second`): its second becomes that second, when it is not before 1970 nor past
        2**33 s (year 2242), where a float, which lines are written from, no longer holds every
        microsecond (the text of ``micros`` would not be the float's)."""
        if 0 <= micros < _FINE:
            second = micros // 1_000_000
            self._second, self._second_text = second * 1_000_000, f"{second}."
        return time_text(micros / 1_000_000)

    def runtime_object(self, kind: str, name: str, when: float) -> str:
        """The id of the ``kind`` object (net, tree, machine...) named ``name``, written once."""
        ident = name if self.run is None else f"{self.run}/{name}"
        dispatcher = config._state.dispatcher
        if self._written.get(ident) is not dispatcher:
            dispatcher.object((ident, kind, when, [], []))
            self._written[ident] = dispatcher  # once written: a write that raised is made again
        return ident

    def forget(self, ident: str) -> None:
        """Forget the runtime object ``ident`` (a machine its net let go): a net making and
        letting go machines of ever new keys keeps nothing of each, and the next machine of its
        key is written from its start, its state again."""
        self._written.pop(ident, None)
        self.states.pop(ident, None)

    def part_object(self, kind: str, ident: str, owner: str, qualifier: str, when: float) -> str:
        """The id of a part of a runtime (a tree's node), written once with a link to its owner."""
        dispatcher = config._state.dispatcher
        if self._written.get(ident) is not dispatcher:
            dispatcher.object((ident, kind, when, [], [(owner, qualifier)]))
            self._written[ident] = dispatcher  # once written
        return ident

    def owner(self, kind: str, name: str, when: float) -> tuple[Dispatcher, str, str]:
        """(the dispatcher in force, the id, the JSON of an event's relationship to it with
        qualifier ``kind``) of the :meth:`runtime_object` ``name``, which is written to that
        dispatcher; kept in :attr:`owners` (look there first, then check the dispatcher)."""
        ident = self.runtime_object(kind, name, when)
        found = self.owners[name] = (config._state.dispatcher, ident, encoder.relation_json(ident, kind))
        return found

    def role(self, prefix: str, place: str, source: str) -> tuple[str, str]:
        """(the qualifier ``prefix`` + the short name of ``place``, the end of a relationship's JSON
        with it: ``,"qualifier":"<qualifier>"}`` after ``{"objectId":<id>``), made once per pair
        and kept in :attr:`roles` (look there first)."""
        qualifier = self.name(prefix, place, source)
        found = self.roles[(prefix, place)] = (qualifier, encoder.relation_tail(qualifier))
        return found

    def event_type(self, qualified: str, source: str) -> tuple[str, str]:
        """(the short name of ``qualified``, as an event type, and its JSON), made once and kept in
        :attr:`types` (look there first)."""
        name = self.name("", qualified, source)
        found = self.types[qualified] = (name, quote(name))
        return found

    def name(self, prefix: str, qualified: str, source: str) -> str:
        """``prefix`` + the short name of ``qualified`` (made once per pair: a qualifier or a type)."""
        key = (prefix, qualified)
        found = self.names.get(key)
        if found is None:
            found = self.names[key] = prefix + short_name(qualified, source)
        return found

    @staticmethod
    def relate_tokens(tokens: Any, qualifier: str, when: float, into: Relations) -> None:
        """Write each token (through the object cache) and relate it with ``qualifier``."""
        see = config._state.cache.see
        for token in tokens:
            if token is not None:
                ident, kind, attributes = describe(token)
                see(ident, kind, attributes, when)
                into.append((ident, qualifier))

    @staticmethod
    def write(event_type: str, when: float, attributes: Attributes, relations: Relations) -> None:
        """Write one event."""
        if len(relations) > 1:
            relations = one_per_object(relations)
        dispatcher = config._state.dispatcher
        if dispatcher.lines:  # the line written at once, no record
            rels = encoder.relations_json(relations)
            dispatcher.event_line(quote(event_type), when, encoder.attributes_json(attributes), rels)
        else:
            dispatcher.event((generate_event_id(), event_type, when, attributes, relations, None))
