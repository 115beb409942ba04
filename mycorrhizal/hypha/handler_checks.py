"""The rules about user functions in a net definition: handlers, guards, sources, sinks and the
options that say how a transition runs.  One small checker each; :mod:`.checks` runs them with the
structural rules."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from ..common.diagram import Diagram
from ..common.errors import DefinitionError, Problem
from ..common.interface_views import interface_of
from .places import PlaceKind, PlaceSpec
from .spec import NetSpec
from .transitions import Backoff, GuardSpec, Signature, signature_of

__all__ = [
    "BB_POSITION",
    "guards_fit",
    "handler_interfaces_resolve",
    "handlers_fit",
    "io_handlers_fit",
    "is_count",
    "options_fit",
    "place_subject",
]


def place_subject(p: PlaceSpec) -> str:
    """How problems name a place: ``place 'inbox'``, ``io input place 'requests'``..."""
    kind = "place" if p.kind is PlaceKind.PLAIN else p.kind.value.replace("_", " ") + " place"
    return f"{kind} {p.name!r}"


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def io_handlers_fit(net: NetSpec) -> Iterator[Problem]:
    """A source is called with (bb, timebase), a sink with (token, bb, timebase): each with as many of
    them, in that order, as it takes positionally (a sink ``(token)``, a source ``()``)."""
    for p in net.places:
        if p.kind is PlaceKind.IO_INPUT:
            yield from _io_problems(
                p, p.source, "source", ("bb", "timebase"), "async def source(bb, timebase)"
            )
        elif p.kind is PlaceKind.IO_OUTPUT:
            yield from _io_problems(
                p, p.sink, "sink", ("token", "bb", "timebase"), "async def sink(token, bb, timebase)"
            )


def _io_problems(p: PlaceSpec, fn: Any, role: str, args: tuple[str, ...], form: str) -> Iterator[Problem]:
    if not callable(fn):
        yield Problem(place_subject(p), f"{role} {fn!r} is not callable", f"pass '{form}'")
        return
    sig = signature_of(fn)
    if not sig.known:
        return
    if len(sig.required) > len(args):
        yield Problem(
            place_subject(p),
            f"its {role} takes ({', '.join(sig.positional)}) but is called with ({', '.join(args)})",
            f"declare it as '{form}'",
        )
    elif role == "sink" and not sig.positional and not sig.varargs:
        yield Problem(
            place_subject(p),
            "its sink takes no parameter, so it cannot be given the token",
            f"declare it as '{form}'",
        )


def handlers_fit(net: NetSpec) -> Iterator[Problem]:
    """A handler is called with (consumed, bb, timebase) and an optional 4th ``ctx``."""
    for t in net.transitions:
        subject = f"transition {t.name!r}"
        if not callable(t.handler):
            yield Problem(
                subject,
                f"handler {t.handler!r} is not callable",
                "decorate a function (consumed, bb, timebase)",
            )
            continue
        if t.state_factory is not None and not callable(t.state_factory):
            yield Problem(
                subject,
                f"state_factory {t.state_factory!r} is not callable",
                "pass a function (or class) that makes the transition's state, e.g. state_factory=dict",
            )
        sig = signature_of(t.handler)
        if not sig.known:
            continue
        if t.state_factory is not None:
            yield from _stateful_problems(subject, sig)
            continue
        extra = [name for name in sig.positional[4 if sig.wants_ctx else 3 :] if name in sig.required]
        if len(sig.positional) < 3 and not sig.varargs:
            yield Problem(
                subject,
                f"handler takes {len(sig.positional)} positional parameter(s), but a transition handler is "
                "called with (consumed, bb, timebase)",
                "declare it as 'async def handler(consumed, bb, timebase)' (optionally a 4th parameter "
                "named 'ctx')",
            )
        elif extra:
            yield Problem(
                subject,
                f"handler has extra required parameter(s) {', '.join(extra)}; only (consumed, bb, timebase) "
                "and an optional 4th named 'ctx' are passed",
                "remove them, give them defaults, or name the 4th parameter 'ctx'",
            )


def _stateful_problems(subject: str, sig: Signature) -> Iterator[Problem]:
    """A handler with a ``state_factory`` is called with (consumed, bb, timebase, state)."""
    if (len(sig.positional) < 4 and not sig.varargs) or len(sig.required) > 4:
        yield Problem(
            subject,
            f"handler takes ({', '.join(sig.positional)}), but with state_factory it is called with "
            "(consumed, bb, timebase, state)",
            "declare it as 'async def handler(consumed, bb, timebase, state)'",
        )


def guards_fit(net: NetSpec) -> Iterator[Problem]:
    """A guard is a plain function of (consumed), (consumed, bb) or (consumed, bb, timebase); a
    :class:`GuardSpec` wraps a generator of (bindings, bb, timebase)."""
    for t in net.transitions:
        if isinstance(t.guard, GuardSpec):
            yield from _chooser_problems(f"transition {t.name!r}", t.guard.func)
        elif t.guard is not None:
            yield from _guard_problems(f"transition {t.name!r}", t.guard)


def _chooser_problems(subject: str, func: Any) -> Iterator[Problem]:
    if not (inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)):
        yield Problem(
            subject,
            f"the function given to builder.guard() ({getattr(func, '__name__', func)!r}) is not a "
            "generator, so it could never yield a binding to fire",
            "make it yield the chosen binding: 'def choose(bindings, bb, timebase): yield bindings[0]'",
        )
        return
    sig = signature_of(func)
    if sig.known and not sig.varargs and not len(sig.required) <= 3 <= len(sig.positional):
        yield Problem(
            subject,
            f"the guard generator takes ({', '.join(sig.positional)}) but is called with "
            "(bindings, bb, timebase)",
            "declare it as 'def choose(bindings, bb, timebase)'",
        )


def _guard_problems(subject: str, guard: Any) -> Iterator[Problem]:
    if not callable(guard):
        yield Problem(subject, f"guard {guard!r} is not callable", "pass a function (consumed, bb)")
        return
    if inspect.iscoroutinefunction(guard) or inspect.isasyncgenfunction(guard):
        yield Problem(
            subject,
            "guard is async; guards are evaluated by the scheduler while it chooses what to fire and "
            "cannot await",
            "make the guard a plain 'def guard(consumed, bb)' and do I/O in the handler",
        )
        return
    sig = signature_of(guard)
    if sig.known and not sig.varargs and not 1 <= len(sig.required) <= 3:
        yield Problem(
            subject,
            f"guard takes {len(sig.required)} required parameter(s)",
            "declare it as 'def guard(consumed)', '(consumed, bb)' or '(consumed, bb, timebase)'",
        )


def options_fit(net: NetSpec) -> Iterator[Problem]:
    """priority, concurrency, retry_delay and attachment have usable values."""
    for t in net.transitions:
        subject = f"transition {t.name!r}"
        if not isinstance(t.priority, int) or isinstance(t.priority, bool):
            yield Problem(subject, f"priority {t.priority!r} is not an int", "use an int; higher fires first")
        if not is_count(t.concurrency):
            yield Problem(
                subject,
                f"concurrency {t.concurrency!r} is not a positive int",
                "use concurrency=1 for one firing at a time, or more",
            )
        yield from _retry_problems(subject, t.retry_delay)
        if t.attachment is not None and not isinstance(t.attachment, Diagram):
            yield Problem(
                subject,
                f"attachment {t.attachment!r} is not a Diagram",
                "pass a mycorrhizal.common.Diagram (e.g. some_spec.to_diagram())",
            )


def _is_duration(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _retry_problems(subject: str, delay: Any) -> Iterator[Problem]:
    if delay is None or _is_duration(delay):
        return
    if not isinstance(delay, Backoff):
        yield Problem(
            subject,
            f"retry_delay {delay!r} is not a duration >= 0",
            "use seconds on the runner's timebase, a Backoff(first, factor, limit), or None",
        )
    elif not (
        _is_duration(delay.first)
        and _is_duration(delay.limit)
        and _is_duration(delay.factor)
        and delay.factor >= 1
        and delay.limit >= delay.first
    ):
        yield Problem(
            subject,
            f"retry_delay {delay!r} is not a backoff: it needs 0 <= first <= limit and factor >= 1",
            "e.g. Backoff(first=0.1, factor=2, limit=30)",
        )


def handler_interfaces_resolve(net: NetSpec) -> Iterator[Problem]:
    """A handler's blackboard annotation, if it is a string, names a type that exists (an annotation
    with an interface gives the handler a view of the blackboard: see :func:`interface_slots`)."""
    for fn, position in _annotated(net):
        try:
            interface_of(fn, position)
        except DefinitionError as exc:
            yield from exc.problems


def _annotated(net: NetSpec) -> Iterator[tuple[Any, int]]:
    """(user function, position of its ``bb`` parameter) for every handler, source and sink of ``net``."""
    for t in net.transitions:
        if callable(t.handler):
            yield t.handler, BB_POSITION["transition"]
    for p in net.places:
        if p.kind is PlaceKind.IO_INPUT and callable(p.source):
            yield p.source, BB_POSITION["source"]
        elif p.kind is PlaceKind.IO_OUTPUT and callable(p.sink):
            yield p.sink, BB_POSITION["sink"]


BB_POSITION = {"transition": 1, "source": 0, "sink": 1}
"""Where the blackboard is in the arguments of each kind of user function."""
