"""A journaled runner's record of what it committed, as it happens: one journal record per step.

The runner's state is a snapshot plus the records after it (see :mod:`.snapshot` and
:mod:`.replay`).  Records describe *effects*, never inputs, so recovery replays them without running
any handler, guard, source or sink again:

- ``fire``: a firing committed: the durable ids of the tokens it consumed (``in``), the tokens it
  produced by place (``out``, encoded; they get the ids ``id``, ``id + 1``... in that order) and, for
  a transition that keeps ``ctx.memory``, that memory after the firing (``m``), or for live objects
  there that journal themselves (``fsm=`` machines), what the firing changed in them (``mc``);
- ``memory``: such an object changed outside any firing (a machine's timeout);
- ``add``: tokens arrived from outside (``add_token``, a source);
- ``remove``: tokens were taken out from outside (``runtime.places[...].remove_tokens``);
- ``park``: a failed firing's (or delivery's) tokens went to an error place as ``FailedToken``\\ s;
- ``deliver``: a sink took a token for good;
- ``block``, ``sink_block``: a failure holds a transition (or sink) back until its retry deadline.

Every token that enters a place gets a *durable id* (1, 2, 3... per run, never reused); the records
name consumed tokens by it.  Tokens live in the runner's places as the user's own objects, so the
recorder keeps, per place, a map from the token object's identity to its id (several ids when the
same object is in a place several times), and, for every firing from the moment it takes its tokens
until it ends, the ids it took (its *claim*).  The claim is also what a firing's idempotency key is
made of: a firing that runs again after a crash takes the same tokens, so it gets the same key.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from json.encoder import encode_basestring
from typing import Any

from ..common.codecs import JSON, CodecRegistry
from ..common.errors import CodecError, HandlerError, StoreError
from ..common.interpreter import compact_json
from ..common.store import Journal
from .context import Consumed
from .ready import Ready
from .snapshot import arrange, blocked_entry, error_json
from .state import NO_TOKEN, PlaceState, TransitionState

__all__ = ["DEFAULT_SNAPSHOT_EVERY", "Recorder", "encode_arriving"]

DEFAULT_SNAPSHOT_EVERY = 10_000
"""Records between periodic snapshots (at least; see :class:`Recorder`)."""

_KEEPS = "a journaled net keeps in ctx.memory only what its codecs encode"
_KEEP = "keep in ctx.memory only values the runner's codecs encode"
"""The fix when what ctx.memory holds is no type to register (a live object that does not journal)."""

Ids = dict[int, Any]
"""One place's ids: ``id(token)`` -> its durable id, or a deque of them (the same object several times)."""


class Recorder:
    """Appends a journaled runner's committed steps to its journal and keeps every token's durable id.

    A snapshot is requested after ``every`` records, and never before as many records as the last
    snapshot held tokens: recovery then replays at most about as many records as a snapshot holds,
    and writing snapshots costs at most about one token written per record.
    """

    __slots__ = (
        "journal",
        "codecs",
        "pass_as",
        "ids",
        "claims",
        "next_id",
        "since",
        "threshold",
        "every",
        "failure",
        "snapshot_requested",
        "now",
        "quoted",
        "recordings",
        "_request_snapshot",
        "_on_failure",
    )

    def __init__(
        self,
        journal: Journal,
        codecs: CodecRegistry,
        pass_as: str | None,
        places: int,
        every: int,
        request_snapshot: Callable[[], None],
        on_failure: Callable[[StoreError], None],
        now: Callable[[], float],
    ) -> None:
        self.journal = journal
        self.codecs = codecs
        self.pass_as = pass_as
        """How to pass a registry, if the runner was given none (see ``snapshot.JOURNALING``)."""
        self.ids: list[Ids] = [{} for _ in range(places)]
        self.claims: dict[int, tuple[Consumed, list[int]]] = {}
        """id(consumed) -> (consumed, the durable ids it took), for every firing not yet ended."""
        self.next_id = 1
        self.since = 0
        """Records appended since the last snapshot."""
        self.threshold = every
        self.every = every
        self.failure: StoreError | None = None
        """Why the journal cannot take more records (the runner stopped firing then)."""
        self.snapshot_requested = False
        self._request_snapshot = request_snapshot
        self._on_failure = on_failure
        self.now = now
        """The runner's clock (block records say when they were written)."""
        self.quoted: dict[str, str] = {}
        self.recordings: dict[tuple[str, str], Callable[[JSON], None]] = {}
        """Per transition and memory key: how its changes outside firings are appended."""
        """Place and transition names as JSON text."""

    # -- ids ----------------------------------------------------------------------------------------

    def number(self, order: Sequence[list[Any]], ids: Sequence[Sequence[int]] | None, next_id: int) -> None:
        """Know the tokens in ``order`` (per place, document order) by ``ids`` (new ones if None)."""
        self.claims.clear()
        self.next_id = next_id
        for index, tokens in enumerate(order):
            mapping = self.ids[index] = {}
            if ids is None:
                self._new_ids(mapping, tokens)
                continue
            for token, durable in zip(tokens, ids[index], strict=True):
                _add(mapping, id(token), durable)

    def ids_in_order(self, ready: Ready, places: Sequence[PlaceState]) -> list[list[int]]:
        """The durable ids of every place's tokens in document order (as
        :func:`.snapshot.token_order` arranges the tokens)."""
        taken: list[list[int]] = [[] for _ in places]
        for t, consumed in ready.flights.values():
            claimed = self.claims[id(consumed)][1]
            start = 0
            for p, w in t.inputs:
                taken[p.index].extend(claimed[start : start + w])
                start += w
        result = []
        for p in places:
            seen: dict[int, int] = {}
            mapping = self.ids[p.index]
            if p.delivering is not NO_TOKEN:
                taken[p.index].append(_peek(mapping, p.delivering, seen))
            stored = [_peek(mapping, token, seen) for token in p.tokens]
            result.append(arrange(p, taken[p.index], stored))
        return result

    def _new_ids(self, mapping: Ids, tokens: Iterable[Any]) -> None:
        number = self.next_id
        for token in tokens:
            key = id(token)
            if key in mapping:  # the same object once more in the place
                _add(mapping, key, number)
            else:
                mapping[key] = number
            number += 1
        self.next_id = number

    def claim(self, t: TransitionState, consumed: Consumed) -> None:
        """A firing of ``t`` took ``consumed``: it holds their ids until it ends."""
        single = t.single
        if single is not None:  # the common shape: one token from one place
            mapping = self.ids[single.index]
            key = id(consumed._took[0])
            durable = mapping.pop(key)
            if type(durable) is not int:  # the same object several times in the place
                mapping[key] = durable
                durable = _take(mapping, key)
            taken = [durable]
        else:
            taken = []
            start = 0
            for p, w in t.inputs:
                mapping = self.ids[p.index]
                for token in consumed._took[start : start + w]:
                    taken.append(_take(mapping, id(token)))
                start += w
        self.claims[id(consumed)] = (consumed, taken)

    def unclaim(self, t: TransitionState, consumed: Consumed) -> None:
        """A firing of ``t`` gave its tokens back (failed or cancelled): they are in their places again."""
        found = self.claims.pop(id(consumed), None)
        if found is None:
            return
        taken = found[1]
        start = 0
        for p, w in t.inputs:
            mapping = self.ids[p.index]
            tokens = consumed._took[start : start + w]
            for token, durable in zip(reversed(tokens), reversed(taken[start : start + w]), strict=True):
                _add(mapping, id(token), durable, front=True)
            start += w

    def key(self, run: str, transition: str, consumed: list[Any]) -> str:
        """The idempotency key of the firing of ``transition`` that took ``consumed``."""
        found = self.claims.get(id(consumed))
        if found is None:
            raise HandlerError(
                f"the firing of {transition!r} has ended: its idempotency key exists only while it runs. "
                "Fix: read ctx.idempotency_key in the handler, while the firing runs, and keep the key, "
                "not ctx",
                transition=transition,
            )
        return f"{run}/{transition}/{'.'.join(map(str, found[1]))}"

    # -- records ------------------------------------------------------------------------------------

    def fired(self, t: TransitionState, consumed: Consumed, plan: list[tuple[PlaceState, list[Any]]]) -> None:
        """A firing of ``t`` commits ``plan``; encodes first, so a CodecError changes nothing.

        The record (``{"t": ..., "in": [...], "out": [[place, tokens]...], "id": ..., "m": ...}``)
        is written as JSON text here, where its shape is known: a tenth of what a general encoder
        takes for it.
        """
        codecs, quoted, pass_as = self.codecs, self._quoted, self.pass_as
        out = ",".join(
            [f"[{quoted(p.qname)},{_json(encode_arriving(codecs, p, b, pass_as))}]" for p, b in plan]
        )
        memory = None
        changes = None
        if t.wants_ctx and t.memory:
            try:
                if t.flat.spec.memory_codecs is not None:
                    changes = self._memory_changes(t, consumed)
                else:
                    memory = self.codecs.encode(t.memory)
            except CodecError as exc:  # not this firing's fault: the run cannot be journaled on
                where = f"the ctx.memory of transition {t.qname!r} cannot be written down ({_KEEPS})"
                self.fail(StoreError(str(exc.at(where, fix=_KEEP, pass_as=self.pass_as))))
                return
        taken: list[int] = self.claims.pop(id(consumed))[1]
        text = f'{{"t":{self._quoted(t.qname)},"in":[{",".join(map(str, taken))}]'
        if plan:
            text += f',"out":[{out}],"id":{self.next_id}'
            for p, batch in plan:
                self._new_ids(self.ids[p.index], batch)
        if memory is not None:
            text += f',"m":{compact_json(memory)}'
        if changes:
            text += f',"mc":{compact_json(changes)}'
        self._append("fire", text + "}")

    # -- memory that journals itself (see .memory_journal) --------------------------------------------

    def _memory_changes(self, t: TransitionState, consumed: Consumed) -> list[JSON]:
        """What a firing of ``t`` changed in its ``ctx.memory`` values, as ``[[key, change], ...]``."""
        changes: list[JSON] = []
        for name, value in t.memory.items():
            journal_changes = getattr(value, "journal_changes", None)
            if journal_changes is None:
                raise CodecError(  # said of the transition's ctx.memory by fired()
                    f"it holds {type(value).__name__} under {name!r}, a live object that does not journal "
                    "its changes"
                )
            change = journal_changes(consumed._took, self._recording(t, name), self.codecs)
            if change is not None:
                changes.append([name, change])
        return changes

    def attach_memory(self, transitions: Iterable[TransitionState]) -> bool:
        """Let every ``ctx.memory`` value that journals itself record its changes outside firings from
        now on; True if one was not doing so already (its state is then not in the journal yet)."""
        attached = False
        for t in transitions:
            if t.flat.spec.memory_codecs is None:
                continue
            for name, value in t.memory.items():
                attach = getattr(value, "journal_attach", None)
                if attach is not None and attach(self._recording(t, name), self.codecs):
                    attached = True
        return attached

    def memory_ready(self, transitions: Iterable[TransitionState]) -> bool:
        """True if every ``ctx.memory`` value that journals itself can be written down now."""
        return all(
            value.journal_ready()
            for t in transitions
            if t.flat.spec.memory_codecs is not None
            for value in t.memory.values()
            if hasattr(value, "journal_ready")
        )

    @contextmanager
    def writing_memory(self, transitions: Iterable[TransitionState]) -> Iterator[None]:
        """While the journal's own snapshot is written: every ``ctx.memory`` value that journals
        itself knows it is written for the journal (by its ``journal_writing`` hook, if it has one)."""
        values = [
            value
            for t in transitions
            if t.flat.spec.memory_codecs is not None
            for value in t.memory.values()
            if hasattr(value, "journal_writing")
        ]
        for value in values:
            value.journal_writing(True)
        try:
            yield
        finally:
            for value in values:
                value.journal_writing(False)

    def _recording(self, t: TransitionState, name: str) -> Callable[[JSON], None]:
        found = self.recordings.get((t.qname, name))
        if found is None:

            def record(change: JSON) -> None:
                self._append("memory", {"t": t.qname, "k": name, "c": change})

            found = self.recordings[t.qname, name] = record
        return found

    def added(self, p: PlaceState, tokens: list[Any]) -> None:
        """Tokens arrive in ``p`` from outside the net (``add_token``, a source)."""
        encoded = encode_arriving(self.codecs, p, tokens, self.pass_as)
        first = self.next_id
        self._new_ids(self.ids[p.index], tokens)
        self._append("add", {"place": p.qname, "id": first, "tokens": encoded})

    def removed(self, p: PlaceState, tokens: list[Any]) -> None:
        """``tokens`` were taken out of ``p`` from outside the net (``remove_tokens``)."""
        mapping = self.ids[p.index]
        # Any id of an object held several times will do: its tokens are the same object.
        taken: list[JSON] = [_take(mapping, id(token)) for token in tokens]
        self._append("remove", {"place": p.qname, "in": taken})

    def delivered(self, p: PlaceState, token: Any) -> None:
        """Sink ``p`` took ``token`` for good."""
        self._append("deliver", {"place": p.qname, "in": [_take(self.ids[p.index], id(token))]})

    def parked(
        self, by: tuple[str, str], taken: list[int], error_place: PlaceState, wrapped: list[Any]
    ) -> None:
        """Tokens (durable ids ``taken``) went to ``error_place`` as the FailedTokens ``wrapped``;
        ``by`` is ("t", transition) or ("sink", place)."""
        try:
            encoded = self.codecs.encode(wrapped)
        except CodecError as exc:  # they were encoded when they arrived: they changed since
            where = f"the tokens sent to {error_place.qname!r} cannot be journaled"
            self.fail(StoreError(str(exc.at(where, pass_as=self.pass_as))))
            return
        first = self.next_id
        self._new_ids(self.ids[error_place.index], wrapped)
        kind, name = by
        ids: list[JSON] = list(taken)
        self._append(
            "park", {kind: name, "in": ids, "place": error_place.qname, "id": first, "tokens": encoded}
        )

    def parked_firing(
        self, t: TransitionState, consumed: Consumed, error_place: PlaceState, wrapped: list[Any]
    ) -> None:
        """A failed firing of ``t`` sends its tokens to ``error_place``."""
        found = self.claims.pop(id(consumed), None)
        self.parked(("t", t.qname), [] if found is None else found[1], error_place, wrapped)

    def parked_delivery(self, p: PlaceState, token: Any, wrapped: Any) -> None:
        """Sink ``p`` failed on ``token``, which goes to its error place."""
        assert p.error_place is not None
        self.parked(("sink", p.qname), [_take(self.ids[p.index], id(token))], p.error_place, [wrapped])

    def blocked(self, t: TransitionState) -> None:
        """A failure holds ``t`` back (its tokens went back to their places)."""
        self._append(
            "block",
            {
                "t": t.qname,
                "now": self.now(),
                "streak": t.streak,
                "fired_at": t.fired_at_failure,
                **blocked_entry(t),
            },
        )

    def sink_blocked(self, p: PlaceState) -> None:
        """A failed delivery holds sink ``p`` back (its token stays at the head of the place)."""
        self._append(
            "sink_block",
            {
                "sink": p.qname,
                "now": self.now(),
                "streak": p.sink_streak,
                "at": p.sink_retry.at,
                "error": error_json(p.sink_error),
            },
        )

    def _quoted(self, name: str) -> str:
        """A place's or transition's name as JSON text (made once per name)."""
        found = self.quoted.get(name)
        if found is None:
            found = self.quoted[name] = encode_basestring(name)
        return found

    def _append(self, kind: str, payload: dict[str, JSON] | str) -> None:
        """Append a record: its payload, or the payload's JSON text."""
        if self.failure is not None:
            return
        try:
            if type(payload) is str:
                self.journal.append_text(kind, payload)
            else:
                self.journal.append(kind, payload)
        except StoreError as exc:
            self.fail(exc)
            return
        self.since += 1
        if self.since >= self.threshold and not self.snapshot_requested:
            self.snapshot_requested = True
            self._request_snapshot()

    def snapshot(self, document: dict[str, JSON], tokens: int) -> None:
        """Write ``document`` (which stands for every record so far) to the journal."""
        self.snapshot_requested = False
        if self.failure is not None:
            return
        try:
            self.journal.snapshot(document)
        except StoreError as exc:
            self.fail(exc)
            return
        self.since = 0
        self.threshold = max(self.every, tokens)

    def fail(self, error: StoreError) -> None:
        """The journal takes no more records: remember why and tell the runner (once)."""
        if self.failure is None:
            self.failure = error
            self._on_failure(error)


def _json(tokens: JSON) -> str:
    """Encoded tokens as JSON text; one int or str without the general encoder."""
    if type(tokens) is list and len(tokens) == 1:
        token = tokens[0]
        if type(token) is int:  # the codecs leave only ints JSON readers hold exactly
            return f"[{token}]"
        if type(token) is str:
            return f"[{encode_basestring(token)}]"
    return compact_json(tokens)


def _add(mapping: Ids, key: int, durable: int, *, front: bool = False) -> None:
    found = mapping.get(key)
    if found is None:
        mapping[key] = durable
    elif type(found) is int:
        mapping[key] = deque((durable, found) if front else (found, durable))
    elif front:
        found.appendleft(durable)
    else:
        found.append(durable)


def _peek(mapping: Ids, token: Any, seen: dict[int, int]) -> int:
    """The id of ``token`` (the next of its ids in ``seen``'s count, for the same object repeated)."""
    key = id(token)
    found = mapping[key]
    if type(found) is int:
        return found
    nth = seen.get(key, 0)
    seen[key] = nth + 1
    return found[nth]  # type: ignore[no-any-return]


def _take(mapping: Ids, key: int) -> int:
    found = mapping[key]
    if type(found) is int:
        del mapping[key]
        return found
    durable: int = found.popleft()
    if len(found) == 1:
        mapping[key] = found[0]
    return durable


def encode_arriving(codecs: CodecRegistry, p: PlaceState, tokens: list[Any], pass_as: str | None) -> JSON:
    """``tokens`` arriving in ``p`` as the journal writes them; a :class:`CodecError` naming the place
    for one the codecs cannot encode (so it is refused as it arrives, never when a run is recovered),
    ``pass_as`` saying how to pass a registry if the runner was given none."""
    try:
        return codecs.encode(tokens)
    except CodecError as exc:
        raise exc.at(f"a token for place {p.qname!r} cannot be journaled", pass_as=pass_as) from exc
