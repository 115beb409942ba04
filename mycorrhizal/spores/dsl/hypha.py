"""Petri-net adapters: ``HyphaAdapter.log_transition`` on transition handlers, ``log_place`` on IO places.

::

    adapter = HyphaAdapter()

    @builder.transition(inputs=[inbox], outputs=[done])
    @adapter.log_transition(event_type="process", log_outputs=True)
    async def process(consumed, bb, timebase): ...

``log_transition`` writes one event per firing, after the handler returned (a generator handler:
after it finished): ``transition_name``, ``token_count``, the blackboard's ``EventAttr`` fields,
and relationships to each consumed token (qualifier ``"input"``), to each produced token with
``log_outputs=True`` (``"output"``) and to the blackboard's ``ObjectRef`` objects.  Tokens are
objects like any other (id from ``id``, type from ``@spore.object`` or the class) and go through
the object cache.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import mycorrhizal.spores.config as config
import mycorrhizal.spores.emit as emit
import mycorrhizal.spores.encoder as encoder

from ..emit import adapter_event, json_reader, write_related
from ..encoder import attribute_json, quote
from ..models import ObjectScope
from ..records import Attributes, RawEvent, Relations
from ..wrapping import ArgumentFinder, wrap
from .base import Adapter, UserAttributes, check_target

__all__ = ["HyphaAdapter"]

F = TypeVar("F", bound=Callable[..., Any])
_GLOBAL = ObjectScope.GLOBAL  # a global's read: ObjectScope.GLOBAL costs ~7 times more on 3.11


def produced_tokens(outputs: Any) -> Iterator[Any]:
    """The tokens in what a handler returned or yielded: ``{place: token or [tokens]}`` dicts."""
    batches = outputs if isinstance(outputs, list) else [outputs]
    for batch in batches:
        if not isinstance(batch, dict):
            continue
        for value in batch.values():
            if isinstance(value, list):
                yield from value
            else:
                yield value


def _head(heads: dict[tuple[Any, int], str], name: Any, n: int) -> str:
    """The JSON of a firing's ``transition_name`` and ``token_count`` attributes, kept in ``heads``
    (a handler's: a name and a count, few pairs)."""
    text = f"{attribute_json('transition_name', name)},{attribute_json('token_count', n)}"
    if type(name) is str and len(heads) < 1024:
        heads[(name, n)] = text
    return text


def _outputs(result: Any, ctx: Any) -> Iterator[Any]:
    """The tokens a firing produced: in what its handler returned, and emitted through ``ctx``."""
    yield from produced_tokens(result)
    if ctx is not None and hasattr(ctx, "emitted"):
        for _, token in ctx.emitted():
            yield token


def _relate_texts(tokens: Iterable[Any], tail: str, now: float, into: list[str]) -> None:
    """:func:`_relate_all` for the line written at once: each relationship's JSON (tokens are new
    objects mostly, related once: their JSON is not kept)."""
    state = config._state  # config.current(), read without a call
    for token in tokens:
        if token is not None:
            into.append(encoder.fresh_relation(write_related(state, token, _GLOBAL, now), tail))


def _relate_all(tokens: Iterable[Any], qualifier: str, now: float, into: Relations) -> None:
    state = config._state  # config.current(), read without a call
    for token in tokens:
        if token is not None:
            into.append((write_related(state, token, _GLOBAL, now), qualifier))


class HyphaAdapter(Adapter):
    """Spores decorators for Petri-net handlers."""

    __slots__ = ()

    def log_transition(
        self,
        event_type: str,
        attributes: dict[str, Any] | None = None,
        log_inputs: bool = True,
        log_outputs: bool = False,
    ) -> Callable[[F], F]:
        """Write ``event_type`` for each firing of the decorated transition handler."""

        def decorate(fn: F) -> F:
            check_target(fn, "@adapter.log_transition(...)", "@builder.transition(...)")
            finder = ArgumentFinder(fn)
            extra = UserAttributes(attributes, fn, f"log_transition({event_type!r}) on {fn.__qualname__}")

            type_json = quote(event_type)
            fn_name = fn.__name__
            heads: dict[tuple[Any, int], str] = {}  # (transition_name, token_count) -> their JSON
            evaluated = bool(extra)
            takes_ctx = "ctx" in finder
            input_tail, output_tail = encoder.relation_tail("input"), encoder.relation_tail("output")

            def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> RawEvent | None:
                if not self.enabled:
                    return None
                now = time.time()
                consumed = args[0] if args else kwargs.get("consumed", ())
                ctx = finder.get("ctx", args, kwargs) if takes_ctx else kwargs.get("ctx")
                # (getattr(None, ...) raises and clears an AttributeError: ~1,000 instructions)
                name = fn_name if ctx is None else getattr(ctx, "transition", None) or fn_name
                bb = args[1] if len(args) > 1 else kwargs.get("bb")
                dispatcher = config._state.dispatcher  # config.current(), read without a call
                if dispatcher.lines and not evaluated:  # the line written at once, no record
                    rels: list[str] = []  # the tokens' first (their objects written before the event)
                    if log_inputs:
                        _relate_texts(consumed, input_tail, now, rels)
                    if log_outputs:
                        _relate_texts(_outputs(result, ctx), output_tail, now, rels)
                    n = len(consumed)
                    head = heads.get((name, n)) or _head(heads, name, n)
                    read = emit.JSON_READERS.get(type(bb)) or json_reader(type(bb))
                    attributes, rels_json = read(bb, now, head)  # the blackboard's joined on
                    if rels_json:
                        rels.append(rels_json)
                    dispatcher.event_line(type_json, now, attributes, ",".join(rels))
                    return None
                relations: Relations = []
                if log_inputs:
                    _relate_all(consumed, "input", now, relations)
                if log_outputs:
                    _relate_all(_outputs(result, ctx), "output", now, relations)
                attrs: Attributes = [("transition_name", name), ("token_count", len(consumed))]
                if evaluated:
                    extra.evaluate(args, kwargs, result, attrs)
                return adapter_event(event_type, attrs, bb, relations, now)

            return wrap(fn, after=after)  # type: ignore[return-value]

        return decorate

    def log_place(self, event_type: str = "token_arrived") -> Callable[[F], F]:
        """Write ``event_type`` for each token an IO place handler sees.

        On an output place's handler ``(token, bb, timebase)`` the event is written before the
        handler takes the token; on an input place's source ``(bb, timebase)`` (a generator), for
        each token it yields.  Attributes: ``place_name``; relationship: the token (``"token"``).
        """

        def decorate(fn: F) -> F:
            check_target(fn, "@adapter.log_place(...)", "@builder.io_input_place / io_output_place")
            name = fn.__name__
            source = inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)

            def event(token: Any, bb: Any) -> RawEvent | None:
                if not self.enabled:
                    return None
                now = time.time()
                relations: Relations = []
                _relate_all([token], "token", now, relations)
                return adapter_event(event_type, [("place_name", name)], bb, relations, now)

            if source:
                return wrap(fn, each=lambda args, kwargs, token: event(token, args[0] if args else None))  # type: ignore[return-value]
            return wrap(  # type: ignore[return-value]
                fn, before=lambda args, kwargs: event(args[0], args[1] if len(args) > 1 else None)
            )

        return decorate
