"""Logging what a net, tree or state machine did, from the events it emits: ``spores.observe(runtime)``.

No handler is decorated: the observation is a plain observer attached with the runtime's
``add_observer``, and every event record the runtime emits becomes an OCEL event (and the objects
it relates) in the configured log.  The tables in :mod:`.hypha` and :mod:`.rhizomorph` say what
each record becomes; docs/observing.md shows them with examples.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from ...common.frozen import evolve, fields, is_record
from ...common.observers import Dropped, Forwarded
from ...hypha.events import FiringStarted
from ...hypha.runner import Runner
from ...rhizomorph.events import NodeEvent, TickFinished, TickStarted
from ..records import Attributes
from . import hypha
from .base import Carried, Handler, Observation, Timestamps, machine_name, short_name
from .hypha import HANDLERS as HYPHA
from .rhizomorph import HANDLERS as RHIZOMORPH
from .septum import HANDLERS as SEPTUM

__all__ = ["Observation", "Timestamps", "observe"]

log = logging.getLogger("mycorrhizal.spores")

STARTS: tuple[type, ...] = (FiringStarted, TickStarted)
"""Records written only with ``observe(..., started=True)``."""
UNWRITTEN: tuple[type, ...] = ()
"""Records written never (none now: a net's machine let go, ``Dropped``, is ``<transition> let go``)."""
_PLAIN = (str, int, float, bool)
TREE_EVENTS = (NodeEvent, TickStarted, TickFinished)


def _generic(obs: Observation, event: Any) -> None:
    """An event class no table knows (a newer engine's): its class name, its plain fields."""
    when = obs.when(event.time)
    owner = obs.runtime_object("runtime", event.source, when)
    attributes: Attributes = []
    for field in fields(event) if is_record(event) else ():
        if field.name in ("source", "time"):
            continue
        value = getattr(event, field.name, None)
        if isinstance(value, Enum):
            attributes.append((field.name, value.name))
        elif isinstance(value, _PLAIN):
            attributes.append((field.name, value))
    obs.write(type(event).__name__, when, attributes, [(owner, "runtime")])


def _forwarded(obs: Observation, event: Forwarded) -> None:
    """A record of a machine or tree living in a net's transition: written as that runtime's own,
    the runtime named after the transition (``gate``; a keyed machine ``gate[east]``, named by
    :func:`~.base.machine_name`; a tree run's events also relate the token it decides about,
    ``Forwarded.key``).  A machine's
    message that is a token the net delivered (mycelium's ``Delivery``) is written as the token."""
    inner = event.event
    name = short_name(event.transition, event.source)
    if isinstance(inner, TREE_EVENTS):  # a tree run's events relate the token it decides about
        obs.token = event.key
        try:
            obs(evolve(inner, source=name))
        finally:
            obs.token = None
        return
    name = machine_name(name, event.key)
    message: Any = getattr(inner, "message", None)
    if getattr(message, "transition", None) == event.transition and hasattr(message, "token"):
        inner = evolve(inner, source=name, message=Carried(message.token))
    else:
        inner = evolve(inner, source=name)
    obs.inner = event.runtime
    try:
        obs(inner)
    finally:
        obs.inner = None


def _dropped(obs: Observation, event: Dropped) -> None:
    """``<transition> let go``: the net let the machine of ``key`` go (evicted, closed as the runner
    stopped or as its transition was removed, handed to another worker); related to that machine
    object (``machine``) and the net (``net``), ``reason`` written.  The machine's life in the log
    ends there: the next machine of its key is written from its start, its state again."""
    when = obs.when(event.time)
    transition = short_name(event.transition, event.source)
    machine = obs.runtime_object("machine", machine_name(transition, event.key), when)
    net = obs.runtime_object("net", event.source, when)
    obs.write(f"{transition} let go", when, [("reason", event.reason)], [(machine, "machine"), (net, "net")])
    obs.forget(machine)


_HANDLERS: dict[type, Handler] = {**HYPHA, **RHIZOMORPH, **SEPTUM, Forwarded: _forwarded, Dropped: _dropped}


def handler_for(cls: type, started: bool = False) -> Handler | None:
    """The function writing records of event class ``cls`` (its own, a base class's, or generic);
    None for the start records (``FiringStarted``, ``TickStarted``) unless ``started``, and for
    those never written (:data:`UNWRITTEN`)."""
    if (not started and issubclass(cls, STARTS)) or issubclass(cls, UNWRITTEN):
        return None
    for base in cls.__mro__:
        found = _HANDLERS.get(base)
        if found is not None:
            return found
    log.debug("spores: no mapping for %s events; written generically", cls.__qualname__)
    return _generic


def observe(
    runtime: Any,
    *,
    run: str | None = None,
    started: bool = False,
    timestamps: Timestamps = "anchored",
) -> Observation:
    """Write every event of ``runtime`` (a hypha or mycelium runner, a rhizomorph runner, a septum
    state machine) into the configured spores log, from now until ``detach()``.

    ``run`` prefixes the ids of the net/tree/machine objects (to tell two runs in one log apart).
    ``started=True`` also writes the start of each firing and tick.  ``timestamps``: ``"anchored"``
    (default) writes the wall time of the moment ``observe`` was called plus the runtime's
    timebase time elapsed since (virtual clocks give a readable timeline); ``"timebase"`` writes
    the timebase's reading as epoch seconds (for a ``WallClock``); ``"wall"`` the wall time at
    which the observer runs.
    """
    add = getattr(runtime, "add_observer", None)
    if add is None or not callable(add):
        raise TypeError(
            f"observe() takes a runtime that emits events (a hypha or mycelium runner, a rhizomorph "
            f"runner or a septum StateMachine), got {runtime!r}. Fix: pass the runner, not the spec"
        )
    front = hypha.committed if isinstance(runtime, Runner) else None  # (a net's most frequent record)
    observation = Observation(
        runtime, handler_for, run=run, started=started, timestamps=timestamps, front=front
    )
    return observation.attach()
