"""What a net's events become in the log.

Every event relates the net (object type ``net``, qualifier ``net``).  Names drop the net's own
name in front (``shop.pack`` is written ``pack``).

==================  ======================================  =================================
record              event type                              relationships (besides the net)
==================  ======================================  =================================
FiringCommitted     ``<transition>``                        each consumed token
                                                            (``consumed:<place>``), each
                                                            produced one (``produced:<place>``);
                                                            a token both consumed and produced is
                                                            related once, its qualifiers joined:
                                                            ``consumed:a produced:b``
FiringFailed        ``<transition> failed``                 consumed tokens; attributes
                                                            ``error_type``, ``error``,
                                                            ``error_place``
FiringCancelled     ``<transition> cancelled``              consumed tokens
FiringStarted       ``<transition> started`` (with          consumed tokens
                    ``started=True`` only)
GuardFailed         ``<transition> guard failed``           the candidate tokens
DeliveryFailed      ``<place> delivery failed``             the token (``token``)
SourceFailed        ``<place> source failed``               -
NetChanged          ``net changed``                         -; attribute ``change``
==================  ======================================  =================================

Tokens are objects like any other: id from ``id`` (or the value itself for a string or number),
type from ``@spore.object`` or the class name, written through the object cache.
"""

from __future__ import annotations

from typing import Any

import mycorrhizal.spores.config as config  # config._state: config.current(), read without a call (per event)
import mycorrhizal.spores.encoder as encoder
import mycorrhizal.spores.extraction as extraction
import mycorrhizal.spores.models as models  # models._PREFIX and _counter: reset() replaces them

from ...hypha.context import Consumed
from ...hypha.events import (
    DeliveryFailed,
    FiringCancelled,
    FiringCommitted,
    FiringFailed,
    FiringStarted,
    GuardFailed,
    NetChanged,
    SourceFailed,
    one_produced,
    stored_groups,
)
from ..encoder import _MICROS
from ..extraction import describe
from ..models import generate_event_id
from ..records import Attributes, Relations
from .base import Handler, Observation, error_attributes, one_per_object, short_name, unpacked_as

__all__ = ["HANDLERS"]


def _consumed(obs: Observation, event: Any, when: float, relations: Relations) -> None:
    source = event.source
    for place, tokens in event.consumed.items():
        obs.relate_tokens(tokens, obs.name("consumed:", place, source), when, relations)


def _start(obs: Observation, event: Any) -> tuple[float, Relations]:
    when = obs.when(event.time)
    return when, [(obs.runtime_object("net", event.source, when), "net")]


def committed(obs: Observation, event: Any) -> None:
    """A firing's event: what a logged net's runner calls (its observation's front, see
    :class:`~.base.Observation`; any other record goes to the observation's dispatch).  A firing
    producing nothing or one token, to the dispatcher its transition's plan (:func:`_plan`) was made
    for, is written here from the plan; every other one by :func:`_committed`, which makes it."""
    if type(event) is not FiringCommitted and not isinstance(event, FiringCommitted):
        obs(event)  # (never a FiringCommitted: no loop back here)
        return
    if not (state := config._state).config.enabled:  # (what the observation's dispatch checks)
        return
    source, time, transition, consumed, produced = event  # one unpacking, no property calls
    plan = obs.plans.get(type(consumed))  # (one class per transition)
    taken = getattr(consumed, "_took", consumed)  # what the firing took, whatever its handler did
    if (
        plan is None
        or plan[0] is not state.dispatcher
        or len(taken) != plan[1]
        or (produced and not one_produced(produced))
    ):
        net = _committed(obs, event)
        if plan is None or plan[0] is not net[0]:
            _plan(obs, event, net)
        return
    _, _, roles, head, net = plan
    # obs.when(time), inlined (anchored times: the plan's condition), and the time's text
    micros = round((time + (line := obs._line).offset) * 1_000_000)
    if micros <= line.last:
        micros = line.last + 1
    line.last = micros
    when = micros / 1_000_000
    into = micros - obs._second
    stamp = (
        obs._second_text + _MICROS[into // 1000] + _MICROS[into % 1000]
        if 0 <= into < 1_000_000
        else obs.new_second(micros)
    )
    see = state.cache.see
    relations, texts = [net], [head[1]]
    i = 0
    for token in taken:
        if token is not None:
            qualifier, end = roles[i]
            described = extraction._describers.get(type(token))  # describe(token), without its call
            ident, kind, attributes = describe(token) if described is None else described(token)
            see(ident, kind, attributes, when)
            relations.append((ident, qualifier))
            texts.append(encoder.fresh_relation(ident, end))
        i += 1
    if produced:
        _produced(obs, source, taken, produced, relations, texts, when)
    if len(relations) != 2 or relations[1][0] == net[0]:  # (the net and one other need none)
        relations, texts = _one_per_object(relations, texts)
    queue = (dispatcher := state.dispatcher).queue  # (see LineQueue: no call per line)
    queue.append(
        f'{{"event":{{"id":"{models._PREFIX}{next(models._counter)}"{head[0]}{stamp}'
        f',"attributes":[],"relationships":[{",".join(texts)}]}},"object":null}}'.encode()
    )
    if len(queue) >= (host := dispatcher.host).limit:
        host.queued()
    dispatcher.events += 1


def _plan(obs: Observation, event: FiringCommitted, net: tuple[Any, str, str]) -> None:
    """Keep in :attr:`Observation.plans`, per class of the transition's ``Consumed`` list, what
    :func:`committed` writes alike for every firing of it, when it can (the stock line encoder,
    anchored times): ``(the dispatcher, the number of tokens consumed, each one's role, (the
    line from the event type to the time, the net's relationship's JSON), the net's relationship)``;
    else ``(the dispatcher, -1)``, asked again only for another dispatcher."""
    source, _, transition, consumed, _ = event
    dispatcher = net[0]  # (the net was written to it)
    if not (dispatcher.lines and isinstance(consumed, Consumed) and obs.timestamps == "anchored"):
        obs.plans[type(consumed)] = (dispatcher, -1)  # none for this dispatcher (no firing has -1 tokens)
        return
    roles = _consumed_roles(obs, consumed, source)[1]
    type_json = (obs.types.get(transition) or obs.event_type(transition, source))[1]
    head = f',"type":{type_json},"activity":null,"time":'
    obs.plans[type(consumed)] = (dispatcher, len(consumed._took), roles[1:], (head, net[2]), (net[1], "net"))


def _produced(
    obs: Observation,
    source: str,
    consumed: Any,
    produced: Any,
    relations: Relations,
    texts: list[str],
    when: float,
) -> None:
    """Relate a firing's one produced token, ``(place, token)``: a token passed on (one of those
    consumed) gets its relationship's qualifiers joined, as :func:`one_per_object` joins them;
    one taken more than once, its last relationship's (as :func:`_committed` joins them)."""
    place, token = produced
    role = obs.parts.get(place) or _produced_role(obs, place, source)
    if token is None:
        return
    at = last = 0
    for taken in consumed:
        if taken is not None:
            at += 1
            if taken is token:
                last = at
    if last:
        relations[last], texts[last] = _both(obs, relations[last], role[0])
        return
    described = extraction._describers.get(type(token))
    ident, kind, attributes = describe(token) if described is None else described(token)
    config._state.cache.see(ident, kind, attributes, when)
    relations.append((ident, role[0]))
    texts.append(encoder.fresh_relation(ident, role[1]))


def _one_per_object(relations: Relations, texts: list[str]) -> tuple[Relations, list[str]]:
    """``relations`` and their JSON ``texts``, or, when they relate an object twice, one
    relationship per object and its JSON (see :func:`one_per_object`)."""
    merged = one_per_object(relations)
    return (
        (relations, texts)
        if merged is relations
        else (merged, [encoder.relation_json(*pair) for pair in merged])
    )


def _committed(obs: Observation, event: FiringCommitted) -> tuple[Any, str, str]:
    """A firing's event, written for any firing (see :func:`committed`); returns the net's
    :meth:`Observation.owner` entry.

    Written out in one function: the consumed tokens are paired
    with their qualifiers by a tuple made once per transition (:func:`_consumed_roles`, read by
    index), nothing produced costs one test, the JSON of each relationship is made as the token is
    related (tokens are new objects, mostly: their relationships are not kept in
    :data:`encoder.RELATIONS`, which they would fill), the net's and the event type's once per
    observation.
    """
    source, time, transition, consumed, produced = event  # one unpacking, no property calls
    state = config._state
    dispatcher = state.dispatcher
    when = obs.when(time)
    net = obs.owners.get(source)
    if net is None or net[0] is not dispatcher:  # first, or written to another dispatcher before
        net = obs.owner("net", source, when)
    relations: Relations = [(net[1], "net")]
    texts = [net[2]]
    tokens = getattr(consumed, "_took", consumed)  # what the firing took, whatever its handler did
    roles = obs.parts.get(type(consumed))  # token i has role i (an index: zip costs more)
    if roles is None or roles[0] != source or len(roles) != len(tokens) + 1:
        tokens, roles = _consumed_roles(obs, consumed, source)
    places: dict[int, int] | None = None  # id of a consumed token -> its relationship's index
    if produced:
        places, taken = {}, len(tokens)
        tokens, roles = _with_produced(obs, tokens, roles, produced, source)
    see = state.cache.see
    i = 0  # roles[0] is the source they were made for
    for token in tokens:
        i += 1
        qualifier, end = roles[i]
        if token is None:
            continue
        if places is not None:  # something produced: a token passed on is related once, in both roles
            if i <= taken:
                places[id(token)] = len(relations)
            elif (at := places.get(id(token))) is not None:
                relations[at], texts[at] = _both(obs, relations[at], qualifier)
                continue
        described = extraction._describers.get(type(token))  # describe(token), without its call
        ident, kind, attributes = describe(token) if described is None else described(token)
        see(ident, kind, attributes, when)
        relations.append((ident, qualifier))
        texts.append(encoder.fresh_relation(ident, end))
    if len(relations) != 2 or relations[1][0] == relations[0][0]:  # (the net and one other need none)
        relations, texts = _one_per_object(relations, texts)
    event_type, type_json = obs.types.get(transition) or obs.event_type(transition, source)
    if dispatcher.lines:  # the line written at once, no record
        dispatcher.event_line(type_json, when, "", ",".join(texts))
    else:
        dispatcher.event((generate_event_id(), event_type, when, [], relations, None))
    return net


def _consumed_roles(obs: Observation, consumed: Any, source: str) -> tuple[Any, tuple[Any, ...]]:
    """(the tokens, (``source``, each token's :meth:`Observation.role`, in order)) of a firing's
    consumed tokens.  A transition's ``Consumed`` list, whose places take a fixed number of tokens
    each, keeps its roles in :attr:`Observation.parts`, per class; a record made by hand (dicts) is
    read with :func:`~mycorrhizal.hypha.events.stored_groups` every time."""
    tokens, grouped = _roles(obs, "consumed:", consumed, source)
    roles = (source, *grouped)
    if isinstance(consumed, Consumed):
        obs.parts[type(consumed)] = roles
        return consumed._took, roles
    return tokens, roles


def _both(obs: Observation, relation: tuple[str, str], qualifier: str) -> tuple[tuple[str, str], str]:
    """A token's relationship with ``qualifier`` joined on, as :func:`one_per_object` joins them
    (each role once, in order), and its JSON; made once per pair, in :attr:`Observation.parts`."""
    ident, first = relation
    joined = obs.parts.get((first, qualifier))
    if joined is None:
        roles = obs.parts.get(("roles", first), (first,))  # a joined qualifier's roles, kept below
        if qualifier not in roles:
            roles = (*roles, qualifier)
        text = " ".join(roles)
        obs.parts[("roles", text)] = roles
        joined = obs.parts[(first, qualifier)] = (text, encoder.relation_tail(text))
    return (ident, joined[0]), encoder.fresh_relation(ident, joined[1])


def _with_produced(
    obs: Observation, tokens: Any, roles: tuple[Any, ...], produced: Any, source: str
) -> tuple[list[Any], tuple[Any, ...]]:
    """``tokens`` and ``roles`` with a firing record's produced tokens and their roles after them;
    one token, stored as ``(place, token)`` (see :func:`~mycorrhizal.hypha.events.stored_groups`),
    with its place's role kept in :attr:`Observation.parts`."""
    if one_produced(produced):
        place = produced[0]
        role = obs.parts.get(place) or _produced_role(obs, place, source)
        return [*tokens, produced[1]], (*roles, role)
    more, their_roles = _roles(obs, "produced:", produced, source)
    return [*tokens, *more], roles + their_roles


def _produced_role(obs: Observation, place: Any, source: str) -> tuple[str, str]:
    """The :meth:`Observation.role` of a token produced into ``place`` (a place of the net),
    kept in :attr:`Observation.parts` under the place itself."""
    role = obs.parts[place] = obs.roles.get(("produced:", place.qname)) or obs.role(
        "produced:", place.qname, source
    )
    return role


def _roles(
    obs: Observation, prefix: str, stored: Any, source: str
) -> tuple[list[Any], tuple[tuple[str, str], ...]]:
    """(the tokens, the :meth:`Observation.role` of each) of a record's ``consumed`` or ``produced``."""
    tokens: list[Any] = []
    roles: list[tuple[str, str]] = []
    for place, group in stored_groups(stored):
        tokens += group
        roles += [obs.roles.get((prefix, place)) or obs.role(prefix, place, source)] * len(group)
    return tokens, tuple(roles)


unpacked_as(FiringCommitted, "source", "time", "transition", "consumed", "produced")


def failed(obs: Observation, event: FiringFailed) -> None:
    """``<transition> failed``, with the error and where the consumed tokens went."""
    when, relations = _start(obs, event)
    _consumed(obs, event, when, relations)
    attributes: Attributes = []
    error_attributes(event.error, attributes)
    if event.error_place is not None:
        attributes.append(("error_place", short_name(event.error_place, event.source)))
    obs.write(obs.name("", event.transition, event.source) + " failed", when, attributes, relations)


def cancelled(obs: Observation, event: FiringCancelled) -> None:
    """``<transition> cancelled``: the tokens went back to their places."""
    when, relations = _start(obs, event)
    _consumed(obs, event, when, relations)
    obs.write(obs.name("", event.transition, event.source) + " cancelled", when, [], relations)


def started(obs: Observation, event: FiringStarted) -> None:
    """``<transition> started`` (only with ``started=True``)."""
    when, relations = _start(obs, event)
    _consumed(obs, event, when, relations)
    obs.write(obs.name("", event.transition, event.source) + " started", when, [], relations)


def guard_failed(obs: Observation, event: GuardFailed) -> None:
    """``<transition> guard failed``, related to the candidate tokens."""
    when, relations = _start(obs, event)
    _consumed(obs, event, when, relations)
    attributes: Attributes = []
    error_attributes(event.error, attributes)
    obs.write(obs.name("", event.transition, event.source) + " guard failed", when, attributes, relations)


def delivery_failed(obs: Observation, event: DeliveryFailed) -> None:
    """``<place> delivery failed``: a sink raised on a token."""
    when, relations = _start(obs, event)
    obs.relate_tokens((event.token,), "token", when, relations)
    attributes: Attributes = []
    error_attributes(event.error, attributes)
    if event.error_place is not None:
        attributes.append(("error_place", short_name(event.error_place, event.source)))
    obs.write(obs.name("", event.place, event.source) + " delivery failed", when, attributes, relations)


def source_failed(obs: Observation, event: SourceFailed) -> None:
    """``<place> source failed``: a source raised and produces no more tokens."""
    when, relations = _start(obs, event)
    attributes: Attributes = []
    error_attributes(event.error, attributes)
    obs.write(obs.name("", event.place, event.source) + " source failed", when, attributes, relations)


def net_changed(obs: Observation, event: NetChanged) -> None:
    """``net changed``, with the change (``add_place('Shop.extra')``).  What was kept per
    transition is dropped: a rewired transition's firings come in a list of a new class, and the
    entries of the old one would stay for the observation's life (one per change); so would the
    event types and qualifiers of transitions and places that came and went (made again on use)."""
    obs.plans.clear()
    obs.parts.clear()
    obs.types.clear()
    obs.roles.clear()
    obs.names.clear()
    when, relations = _start(obs, event)
    obs.write("net changed", when, [("change", event.change)], relations)


HANDLERS: dict[type, Handler] = {
    FiringCommitted: committed,
    FiringFailed: failed,
    FiringCancelled: cancelled,
    FiringStarted: started,
    GuardFailed: guard_failed,
    DeliveryFailed: delivery_failed,
    SourceFailed: source_failed,
    NetChanged: net_changed,
}
"""Event class -> the function writing its records."""
