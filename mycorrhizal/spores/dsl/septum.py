"""State-machine adapters: ``SeptumAdapter.log_state`` / ``log_state_lifecycle`` and ``log_message``.

::

    adapter = SeptumAdapter()

    @septum.state()
    def Idle():
        @septum.on_state
        @adapter.log_state(event_type="idle_tick")
        async def on_state(ctx): ...

``log_state`` writes after ``on_state`` returns: ``state_name``, ``transition`` (the label or
target it returned, if any), ``message_type`` (when there is a message), the ``EventAttr`` fields
of ``ctx.common`` and its ``ObjectRef`` objects.  ``log_state_lifecycle`` writes *before*
``on_enter``/``on_leave``/``on_timeout``/``on_fail`` run (``lifecycle_method``, ``phase``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import mycorrhizal.spores.config as config
import mycorrhizal.spores.emit as emit

from ...common.callables import written_name
from ..emit import adapter_event, json_reader, write_related
from ..encoder import attribute_json, attributes_json, quote
from ..extraction import has_identity
from ..models import ObjectScope
from ..records import Attributes, RawEvent, Relations
from ..wrapping import wrap
from .base import Adapter, UserAttributes, check_target

__all__ = ["SeptumAdapter", "log_message"]

F = TypeVar("F", bound=Callable[..., Any])
_PHASES = {"on_enter": "enter", "on_leave": "leave", "on_timeout": "timeout", "on_fail": "fail"}


def state_name(ctx: Any, fn: Callable[..., Any]) -> str:
    """The current state's name (from the handler's qualified name when ``ctx`` has no state)."""
    state = getattr(ctx, "state", None)
    name = getattr(state, "name", None)
    if isinstance(name, str):
        return name
    parts = [p for p in fn.__qualname__.split(".") if p != "<locals>"]
    return parts[-2] if len(parts) > 1 else fn.__qualname__


def transition_text(result: Any) -> str:
    """What a handler returned, as written: a label's name, a target's name or class name."""
    if isinstance(result, Enum):
        return result._name_  # the documented sunder name: .name is a descriptor call
    name = getattr(result, "name", None) or getattr(result, "__name__", None)
    return name if isinstance(name, str) else type(result).__name__


def _ctx(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs.get("ctx")


def _common(ctx: Any) -> Any:
    try:
        return ctx.common
    except AttributeError:
        return None


Outcome = tuple[Any, Any, tuple[tuple[str, str], ...], str]
"""(state, result, their attributes, the same as JSON)."""
_NONE = object()  # neither a state nor a result: what no outcome was made for yet
_now = time.time  # a global's call: time.time() reads the module's attribute first


class _Outcomes:
    """What ``log_state`` writes for a state and a result (a label or target), made once per pair:
    the same state and label give the same attributes."""

    __slots__ = ("known", "last", "_fn", "_state_name", "_transition")

    def __init__(self, fn: Callable[..., Any], log_state_name: bool, log_transition: bool) -> None:
        self.known: dict[tuple[int, int], Outcome] = {}
        """(id of the state, id of the result) -> its outcome (which keeps both: the ids stay theirs)."""
        self.last: Outcome = (_NONE, _NONE, (), "")
        """The outcome made or found last (a handler dwelling in its state returns the same label
        again and again: compared by identity, without a look-up)."""
        self._fn = fn
        self._state_name = log_state_name
        self._transition = log_transition

    def find(self, state: Any, ctx: Any, result: Any) -> Outcome:
        """The outcome of ``state`` and ``result``, found or made; it becomes :attr:`last`."""
        found = self.known.get((id(state), id(result))) or self.make(state, ctx, result)
        self.last = found
        return found

    def make(self, state: Any, ctx: Any, result: Any) -> Outcome:
        """The outcome of ``state`` and ``result`` (kept, up to 1,024 pairs)."""
        made: Attributes = []
        if self._state_name:
            made.append(("state_name", state_name(ctx, self._fn)))
        if self._transition and result is not None:
            made.append(("transition", transition_text(result)))
        found = (state, result, tuple(made), attributes_json(made))
        if len(self.known) < 1024:
            self.known[(id(state), id(result))] = found
        return found


class SeptumAdapter(Adapter):
    """Spores decorators for state handlers."""

    __slots__ = ()

    def log_state(
        self,
        event_type: str,
        attributes: dict[str, Any] | None = None,
        log_state_name: bool = True,
        log_transition: bool = True,
    ) -> Callable[[F], F]:
        """Write ``event_type`` after each run of the decorated ``on_state`` handler."""

        def decorate(fn: F) -> F:
            check_target(fn, "@adapter.log_state(...)", "@septum.on_state")
            extra = UserAttributes(attributes, fn, f"log_state({event_type!r}) on {written_name(fn)}")
            evaluated = bool(extra)

            outcomes = _Outcomes(fn, log_state_name, log_transition)
            type_json = quote(event_type)

            def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> RawEvent | None:
                if not self.enabled:
                    return None
                ctx: Any = args[0] if args else kwargs.get("ctx")
                try:  # a septum context (attribute reads, not getattr's calls)
                    state, msg, bb = ctx.state, ctx.msg, ctx.common
                except AttributeError:
                    state, msg, bb = getattr(ctx, "state", None), getattr(ctx, "msg", None), _common(ctx)
                found = outcomes.last
                if found[0] is not state or found[1] is not result:
                    found = outcomes.find(state, ctx, result)
                now = _now()
                dispatcher = config._state.dispatcher  # config.current(), read without a call
                if dispatcher.lines and not evaluated:  # the line written at once, no record
                    attributes = found[3]
                    if msg is not None:
                        message = attribute_json("message_type", type(msg).__name__)
                        attributes = f"{attributes},{message}" if attributes else message
                    read = emit.JSON_READERS.get(type(bb)) or json_reader(type(bb))
                    attributes, rels_json = read(bb, now, attributes)  # the blackboard's joined on
                    dispatcher.event_line(type_json, now, attributes, rels_json)
                    return None
                attrs = list(found[2])
                if msg is not None:
                    attrs.append(("message_type", type(msg).__name__))
                if evaluated:
                    extra.evaluate(args, kwargs, result, attrs)
                return adapter_event(event_type, attrs, bb, [], now)

            return wrap(fn, after=after)  # type: ignore[return-value]

        return decorate

    def log_state_lifecycle(
        self, event_type: str, attributes: dict[str, Any] | None = None
    ) -> Callable[[F], F]:
        """Write ``event_type`` before each run of the decorated lifecycle handler."""

        def decorate(fn: F) -> F:
            check_target(fn, "@adapter.log_state_lifecycle(...)", "@septum.on_enter (or on_leave...)")
            extra = UserAttributes(
                attributes, fn, f"log_state_lifecycle({event_type!r}) on {written_name(fn)}"
            )
            method = fn.__name__
            phase = _PHASES.get(method, method)

            def before(args: tuple[Any, ...], kwargs: dict[str, Any]) -> RawEvent | None:
                if not self.enabled:
                    return None
                ctx = _ctx(args, kwargs)
                attrs: Attributes = [
                    ("lifecycle_method", method),
                    ("phase", phase),
                    ("state_name", state_name(ctx, fn)),
                ]
                extra.evaluate(args, kwargs, None, attrs)
                return adapter_event(event_type, attrs, _common(ctx), [], time.time())

            return wrap(fn, before=before)  # type: ignore[return-value]

        return decorate


def log_message(
    event_type: str = "message_received", attributes: dict[str, Any] | None = None
) -> Callable[[F], F]:
    """Write ``event_type`` before the decorated ``on_state`` handles a message (not when it runs
    without one): ``message_type``, ``state_name``, and the message itself as an object
    (qualifier ``"message"``) when it is one (it has an ``id`` or a ``@spore.object`` type)."""

    def decorate(fn: F) -> F:
        check_target(fn, "@log_message(...)", "@septum.on_state")
        extra = UserAttributes(attributes, fn, f"log_message({event_type!r}) on {written_name(fn)}")

        def before(args: tuple[Any, ...], kwargs: dict[str, Any]) -> RawEvent | None:
            ctx = _ctx(args, kwargs)
            msg = getattr(ctx, "msg", None)
            if msg is None:
                return None
            now = time.time()
            attrs: Attributes = [("message_type", type(msg).__name__), ("state_name", state_name(ctx, fn))]
            extra.evaluate(args, kwargs, None, attrs)
            relations: Relations = []
            if has_identity(msg):
                relations.append((write_related(config.current(), msg, ObjectScope.EVENT, now), "message"))
            return adapter_event(event_type, attrs, _common(ctx), relations, now)

        return wrap(fn, before=before)  # type: ignore[return-value]

    return decorate
