"""A runner's state written down as a plain, versioned JSON document, and read back.

What a document holds (``version`` 1; the layout is in docs/durability.md):

- ``places``: every place's tokens, encoded by a :class:`~mycorrhizal.common.codecs.CodecRegistry`:
  a QUEUE's in the order they will be taken, a BAG's in no promised order.  A firing suspended in its
  handler has not committed, so its tokens are written back into their input places (to be taken
  first, oldest firing first), as cancelling it would leave them; so is a token a sink is being
  handed.
- ``transitions``: committed firings, ``ctx.memory``, and what a failure holds back: the failures in
  a row and, while the transition waits to be retried, the retry deadline on the runner's timebase.
- ``sinks``: the same for sinks whose deliveries failed; ``stats``: the runner's counters.
- ``ids`` and ``next_id``, written by a runner with a store only: the durable id of every token,
  which the journal's records name (see :mod:`.journal`).

Restoring builds the same state in a fresh runner of the same net: it then continues as the original
would have, except that firings that were in flight run again from the start.  Decoding runs no code
from the document (see the codecs); a document of another net, an unknown place or transition, or a
newer version is refused with a :class:`~mycorrhizal.common.errors.CodecError` saying what to do.
A refused document leaves nothing running: a value restored into ``ctx.memory`` before the refusal
that offers a ``discard()`` method (an embedder's live objects, e.g. mycelium's ``fsm=`` machines,
whose timers are armed on the caller's timebase) is discarded, so it never acts for a runner its
caller never got (see :func:`discard_memory`).
"""

from __future__ import annotations

from typing import Any

from ..common import documents
from ..common.codecs import JSON, CodecRegistry
from ..common.errors import CodecError, HandlerError, RecordedError
from ..common.interpreter import collector_paused
from ..common.timebase import Timebase
from .places import FailedToken
from .ready import Ready
from .reporting import RunnerStats
from .state import NO_TOKEN, PlaceState, TransitionState

__all__ = [
    "ENGINE", "JOURNALING", "RECOVERING", "RESTORING", "SNAPSHOTTING", "VERSION", "Parts", "discard_memory",
    "hypha_codecs", "read", "mismatch", "teach_memory_codecs", "write",
]  # fmt: skip

ENGINE = "hypha"
"""What a hypha document's ``"engine"`` field says."""

VERSION = 1
"""The document layout this module writes; a newer one is refused."""

_COUNTERS = RunnerStats._COUNTERS

# How to pass a registry, for the fix of a type the runner's codecs do not know when it was given none
# (registering the type in a registry no call was given would not reach it): see CodecError.at.
SNAPSHOTTING = "Runner(..., codecs=registry), and Runner.restore(..., codecs=registry) to read it back"
"""How to pass a registry to ``runner.snapshot()``."""
RESTORING = "Runner.restore(..., codecs=registry), the registry the snapshot was taken with"
"""How to pass a registry to ``Runner.restore()``."""
RECOVERING = "Runner.recover(..., codecs=registry), the registry the run was journaled with"
"""How to pass a registry to ``Runner.recover()``."""
JOURNALING = "Runner(..., codecs=registry), and Runner.recover(..., codecs=registry) to recover the run"
"""How to pass a registry to a journaled runner."""
_CHANGED = (
    "; or, if the transition changed since the document was written (it keeps other things in ctx.memory "
    "now), restore it with the net that wrote it"
)


class Parts:
    """What a document is made of and read into: a runner's collaborators, handed over by the runner."""

    __slots__ = ("name", "places", "transitions", "ready", "stats", "timebase", "codecs", "given")

    def __init__(
        self,
        name: str,
        places: list[PlaceState],
        transitions: list[TransitionState],
        ready: Ready,
        stats: RunnerStats,
        timebase: Timebase,
        codecs: CodecRegistry,
        given: bool,
    ) -> None:
        self.name = name
        self.places = places
        self.transitions = transitions
        self.ready = ready
        self.stats = stats
        self.timebase = timebase
        self.codecs = codecs
        self.given = given
        """True if the runner was given its ``codecs`` (else it made a registry of its own)."""

    def pass_as(self, how: str) -> str | None:
        """``how`` to pass a registry, if the runner was given none (see :data:`RESTORING`...)."""
        return None if self.given else how


def hypha_codecs(codecs: CodecRegistry) -> CodecRegistry:
    """``codecs``, taught :class:`FailedToken` (as ``"hypha.FailedToken"``) if it does not know it yet.

    The exception a FailedToken carries cannot be written down: its type name and message are, and a
    :class:`RecordedError` stands in for it when the token is read back.
    """
    if FailedToken not in codecs:
        codecs.register(FailedToken, name="hypha.FailedToken", encode=_encode_failed, decode=_decode_failed)
    return codecs


def teach_memory_codecs(runner: Any, transitions: Any, codecs: CodecRegistry | None = None) -> None:
    """Let each transition with a ``memory_codecs`` hook teach ``codecs`` (default: ``runner.codecs``;
    else a registry given to ``runner.snapshot()``) what its memory holds."""
    registry = runner.codecs if codecs is None else codecs
    for t in transitions:
        if t.spec.memory_codecs is not None:
            t.spec.memory_codecs(runner, t.qname, registry)


def _encode_failed(failed: FailedToken) -> list[Any]:
    return [failed.token, *error_text(failed.error), failed.transition, failed.place]


def _decode_failed(data: Any) -> FailedToken:
    token, type_name, message, transition, place = data
    return FailedToken(token, RecordedError(type_name, message), transition, place)


def error_text(error: BaseException) -> tuple[str, str]:
    """(type name, message) of an error, as documents keep it."""
    if isinstance(error, RecordedError):
        return error.type_name, error.message
    return type(error).__qualname__, str(error)


def error_json(error: BaseException | None) -> JSON:
    """``[type name, message]`` of an error (None for None), as documents keep it."""
    if error is None:
        return None
    type_name, message = error_text(error)
    return [type_name, message]


# -- writing ----------------------------------------------------------------------------------------


def token_order(parts: Parts) -> list[list[Any]]:
    """Every place's tokens in document order (see :func:`arrange`)."""
    taken = in_flight(parts)
    return [arrange(p, taken[p.index], p.tokens) for p in parts.places]


def in_flight(parts: Parts) -> list[list[Any]]:
    """Per place, the tokens taken but not committed, in take order: those of suspended firings
    (oldest firing first), then a token a sink is being handed."""
    taken: list[list[Any]] = [[] for _ in parts.places]
    for t, consumed in parts.ready.flights.values():
        start = 0
        for p, w in t.inputs:
            taken[p.index].extend(consumed._took[start : start + w])
            start += w
    for p in parts.places:
        if p.delivering is not NO_TOKEN:
            taken[p.index].append(p.delivering)
    return taken


def arrange(p: PlaceState, taken: list[Any], stored: Any) -> list[Any]:
    """A place's tokens in document order, from those ``taken`` (in take order) and those ``stored``
    in the place (in its container's order), as if the taken ones had been given back.

    A QUEUE: in take order, the taken ones at the head.  A BAG promises no order: its container's
    order (it takes from the end), the taken ones at the end, so that they are taken first.  New
    tokens go at the end in both, which is what lets recovery append the tokens a record produced.
    """
    if p.queue:
        return [*taken, *stored] if taken else list(stored)
    return [*stored, *reversed(taken)] if taken else list(stored)


def document_of(parts: Parts, codecs: CodecRegistry | None = None, runner: Any = None) -> dict[str, JSON]:
    """What ``runner.snapshot()`` returns: the runner's document, encoded by ``codecs`` (default: the
    runner's; another is first taught what the runner's know, by the ``memory_codecs`` hooks);
    refused while a firing is half done (inside a scheduler pass)."""
    if parts.ready.in_pass:
        raise HandlerError(
            f"net {parts.name!r}: snapshot() was called from inside a scheduler pass (a handler's first "
            "step, a guard, a sink or a plain observer), where a firing is half done. Fix: call it between "
            "firings, e.g. from a task or after run_until_idle()"
        )
    if codecs is not None:
        if codecs is not parts.codecs and runner is not None:
            teach_memory_codecs(runner, [t.flat for t in parts.transitions], codecs)
        return write(parts, token_order(parts), hypha_codecs(codecs))
    return write(parts, token_order(parts), pass_as=parts.pass_as(SNAPSHOTTING))


def write(
    parts: Parts, order: list[list[Any]], codecs: CodecRegistry | None = None, pass_as: str | None = None
) -> dict[str, JSON]:
    """The document of a runner whose tokens, per place in document order, are ``order``; a value
    the codecs cannot encode is an error naming its place or transition, ``pass_as`` saying how to
    pass a registry (see :data:`SNAPSHOTTING`).

    The garbage collector is held off meanwhile: a big document is many new objects that live on,
    and collections set off by making them would traverse all of them again and again.
    """
    with collector_paused():
        return _write(parts, order, parts.codecs if codecs is None else codecs, pass_as)


def _write(
    parts: Parts, order: list[list[Any]], codecs: CodecRegistry, pass_as: str | None
) -> dict[str, JSON]:
    places: dict[str, JSON] = {}
    for p, tokens in zip(parts.places, order, strict=True):
        try:
            places[p.qname] = codecs.encode(tokens)
        except CodecError as exc:
            raise exc.at(f"a token in place {p.qname!r} cannot be written down", pass_as=pass_as) from exc
    return {
        "engine": ENGINE,
        "version": VERSION,
        "net": parts.name,
        "time": parts.timebase.now(),
        "places": places,
        "transitions": {t.qname: _transition(t, codecs, pass_as) for t in parts.transitions},
        "sinks": {p.qname: entry for p in parts.places if (entry := _sink(p))},
        "stats": {name: getattr(parts.stats, name) for name in _COUNTERS},
    }


def _transition(t: TransitionState, codecs: CodecRegistry, pass_as: str | None) -> dict[str, JSON]:
    entry: dict[str, JSON] = {"fired": t.fired}
    if t.memory:
        entry["memory"] = encode_memory(t, codecs, pass_as)
    if t.streak:
        entry["streak"] = t.streak
        entry["fired_at"] = t.fired_at_failure
    if t.blocked_gen is not None and not t.interrupted:  # a cancelled firing's hold ends at restart
        entry["blocked"] = blocked_entry(t)
    return entry


def blocked_entry(t: TransitionState) -> dict[str, JSON]:
    """What holds ``t`` back after a failure: its retry deadline, why, and the places whose next
    token releases it."""
    return {
        "at": t.retry.at if t.retry.at is not None else t.retry.due,
        "error": error_json(t.last_error),
        "inputs": list(dict.fromkeys(p.qname for p, _ in t.inputs)),
    }


def encode_memory(t: TransitionState, codecs: CodecRegistry, pass_as: str | None) -> JSON:
    """``t``'s ``ctx.memory``, encoded; a value the codecs do not know is an error naming ``t``."""
    try:
        return codecs.encode(t.memory)
    except CodecError as exc:
        raise exc.at(
            f"the ctx.memory of transition {t.qname!r} cannot be written down", pass_as=pass_as
        ) from exc


def _decode_memory(t: TransitionState, data: JSON, codecs: CodecRegistry, pass_as: str | None) -> Any:
    """``t``'s ``ctx.memory`` in a document, decoded; an error names ``t`` (unless it does already)."""
    try:
        return codecs.decode(data)
    except CodecError as exc:
        if str(exc).startswith(f"transition {t.qname!r}"):  # said of it already (an fsm= machine of it)
            # ... by a decoder that cannot tell whether this runner was given a registry: we can
            raise exc.at(None, pass_as=pass_as) from exc
        where = f"the ctx.memory of transition {t.qname!r} in the document cannot be read"
        error = exc.at(where, fix=_REFIT, pass_as=pass_as)
        if exc.unregistered:  # a type it does not know: or one the transition no longer keeps there
            error = CodecError(f"{error}{_CHANGED}", type_name=exc.type_name, unregistered=True)
        raise error from exc


def _sink(p: PlaceState) -> dict[str, JSON] | None:
    if p.sink is None or not p.sink_streak:
        return None
    entry: dict[str, JSON] = {"streak": p.sink_streak}
    if p.sink_blocked_gen is not None:
        at = p.sink_retry.at if p.sink_retry.at is not None else p.sink_retry.due
        entry["blocked"] = {"at": at, "error": error_json(p.sink_error)}
    return entry


# -- reading ----------------------------------------------------------------------------------------


_REFIT = "restore a document with the net (and version of it) that wrote it"
"""The fix for a document that does not fit the net."""
_UNCHANGED = ". Fix: pass the document Runner.snapshot() wrote, unchanged (this one was damaged or edited)"
"""The fix for a document whose parts are of the wrong shape."""


def mismatch(what: str) -> CodecError:
    """The error for a document that does not fit: ``what`` is wrong, restore with the right net."""
    return CodecError(f"{what}. Fix: {_REFIT}")


def check_header(document: Any, name: str) -> dict[str, Any]:
    """``document`` as a dict, after checking that it is a hypha document of net ``name`` we can read."""
    checked = documents.check_header(
        document, engine=ENGINE, reads=VERSION, what="hypha runner document", made_by="Runner.snapshot()"
    )
    if checked.get("net") != name:
        raise mismatch(f"the document was written by net {checked.get('net')!r}, not {name!r}")
    for key in ("places", "transitions", "sinks", "stats"):
        if type(checked.get(key)) is not dict:
            raise CodecError(
                f"the hypha document has no {key!r} object. Fix: pass what Runner.snapshot() made"
            )
    return checked


def read(parts: Parts, document: Any, how: str) -> list[list[Any]]:
    """Put the state in ``document`` into the fresh runner ``parts`` belongs to; returns every place's
    tokens in document order (as :func:`token_order` would give them).  ``how`` to pass a registry
    (:data:`RESTORING` or :data:`RECOVERING`), said if the runner was given none.  The garbage
    collector is held off meanwhile, as in :func:`write`."""
    with collector_paused():
        try:
            return _read(parts, document, parts.pass_as(how))
        except BaseException:
            discard_memory(parts.transitions)
            raise


def discard_memory(transitions: Any, *more: Any) -> None:
    """Discard what a restore refused halfway put into the memory of ``transitions`` (and the
    values ``more``): every value with a ``discard()`` method (a duck-typed hook: stop the timers
    and background work the value started, synchronously; being called twice must be harmless)."""
    values = [v for t in transitions for v in t.memory.values()]
    for value in [*values, *more]:
        discard = getattr(value, "discard", None)
        if callable(discard):
            discard()


def _read(parts: Parts, document: Any, pass_as: str | None) -> list[list[Any]]:
    doc = check_header(document, parts.name)
    by_name = {p.qname: p for p in parts.places}
    for name in doc["places"]:
        _known(by_name, name, "place")
    order: list[list[Any]] = []
    for p in parts.places:
        data = doc["places"].get(p.qname, [])
        try:
            tokens = parts.codecs.decode(data)
        except CodecError as exc:
            where = f"a token in place {p.qname!r} in the document cannot be read"
            raise exc.at(where, pass_as=pass_as) from exc
        if type(tokens) is not list:
            raise CodecError(
                f"place {p.qname!r} holds {str(data)[:60]!r} in the document, not a list of "
                f"tokens{_UNCHANGED}"
            )
        _fill(p, tokens)
        order.append(tokens)
    transitions = {t.qname: t for t in parts.transitions}
    now = parts.timebase.now()
    written = doc.get("time")
    late = now - written if isinstance(written, int | float) else 0.0
    for name, entry in doc["transitions"].items():
        _read_transition(_known(transitions, name, "transition"), entry, parts.codecs, now, late, pass_as)
    for name, entry in doc["sinks"].items():
        _read_sink(_known(by_name, name, "sink place"), entry, now, late)
    for counter in _COUNTERS:
        value = doc["stats"].get(counter, 0)
        setattr(parts.stats, counter, value if type(value) is int else 0)
    return order


def _known(found: dict[str, Any], name: str, what: str) -> Any:
    item = found.get(name)
    if item is None:
        raise mismatch(f"the document names a {what} {name!r} that this net does not have")
    return item


def _fill(p: PlaceState, tokens: list[Any]) -> None:
    if p.capacity is not None and len(tokens) > p.capacity:
        raise mismatch(
            f"place {p.qname!r} holds {len(tokens)} tokens in the document, more than its capacity "
            f"{p.capacity}"
        )
    p.tokens.clear()
    p.tokens.extend(tokens)  # document order is the container's order (see arrange)


def _read_transition(
    t: TransitionState, entry: Any, codecs: CodecRegistry, now: float, late: float, pass_as: str | None
) -> None:
    if type(entry) is not dict:
        raise CodecError(
            f"transition {t.qname!r} has {str(entry)[:60]!r} in the document, not an object{_UNCHANGED}"
        )
    t.fired = _int(entry, "fired", t.qname)
    if "memory" in entry:
        memory = _decode_memory(t, entry["memory"], codecs, pass_as)
        if type(memory) is not dict:
            discard_memory((), *(memory if isinstance(memory, list | tuple) else [memory]))
            raise CodecError(
                f"the memory of transition {t.qname!r} in the document is not a dict{_UNCHANGED}"
            )
        t.memory.clear()
        t.memory.update(memory)
    t.streak = _int(entry, "streak", t.qname)
    t.fired_at_failure = _int(entry, "fired_at", t.qname, -1)
    blocked = entry.get("blocked")
    if blocked is not None:
        t.blocked_gen = sum(p.gen for p, _ in t.inputs)
        t.last_error = _error(blocked.get("error"), t.qname)
        t.retry.due = _due(blocked.get("at"), now, late, t.qname)


def _read_sink(p: PlaceState, entry: Any, now: float, late: float) -> None:
    if p.sink is None or type(entry) is not dict:
        raise mismatch(f"the document holds sink state for {p.qname!r}, which has no sink")
    p.sink_streak = _int(entry, "streak", p.qname)
    blocked = entry.get("blocked")
    if blocked is not None:
        p.sink_blocked_gen = p.gen
        p.sink_error = _error(blocked.get("error"), p.qname)
        p.sink_retry.due = _due(blocked.get("at"), now, late, p.qname)


def _int(entry: dict[str, Any], key: str, owner: str, default: int = 0) -> int:
    value = entry.get(key, default)
    if type(value) is not int:
        raise CodecError(f"{key!r} of {owner!r} in the document is {value!r}, not an int{_UNCHANGED}")
    return value


def _error(data: Any, owner: str) -> BaseException | None:
    if data is None:
        return None
    if type(data) is not list or len(data) != 2 or not all(type(part) is str for part in data):
        raise CodecError(
            f"malformed error {str(data)[:60]!r} of {owner!r} in the document: expected [type name, "
            f"message]{_UNCHANGED}"
        )
    return RecordedError(data[0], data[1])


def _due(at: Any, now: float, late: float, owner: str) -> float | None:
    """A retry deadline read back: as written, but never further away than it was when written (a
    clock that went backwards, e.g. a monotonic clock after a reboot, must not stretch a wait)."""
    if at is None:
        return None
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise CodecError(f"malformed retry deadline {at!r} of {owner!r} in the document{_UNCHANGED}")
    return float(at + late if late < 0 else at)
