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

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring_ascii as _text
from typing import Any, TypeVar

import mycorrhizal.spores.config as config
import mycorrhizal.spores.emit as emit
import mycorrhizal.spores.encoder as encoder
import mycorrhizal.spores.extraction as extraction

from ...common.callables import written_name
from ..emit import adapter_event, json_reader, write_related
from ..encoder import attribute_json, quote
from ..extraction import describe
from ..models import ObjectScope
from ..records import Attributes, RawEvent, Relations
from ..wrapping import After, ArgumentFinder, adispatch, wrap
from .base import Adapter, UserAttributes, check_target

__all__ = ["HyphaAdapter"]

F = TypeVar("F", bound=Callable[..., Any])
_GLOBAL = ObjectScope.GLOBAL  # a global's read: ObjectScope.GLOBAL costs ~7 times more on 3.11
_DESCRIBERS = extraction._describers  # (a dict filled, never replaced)
_clock = time.time  # (a global's read: time.time is two)


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


def _transition_name(ctx: Any, fn_name: str) -> str:
    """A firing's ``transition_name``: its ``ctx``'s transition, else the handler's name."""
    # (getattr(None, ...) raises and clears an AttributeError: ~1,000 instructions)
    return fn_name if ctx is None else getattr(ctx, "transition", None) or fn_name


class _Firing:
    """What :meth:`HyphaAdapter.log_transition` writes for a firing of one handler: :attr:`after`,
    the general way (any call, any configuration), and what :func:`_logged` needs for its plans."""

    __slots__ = (
        "adapter",
        "event_type",
        "type_json",
        "fn_name",
        "finder",
        "extra",
        "evaluated",
        "takes_ctx",
        "log_inputs",
        "log_outputs",
        "heads",
        "input_tail",
        "output_tail",
        "after",
    )

    def __init__(
        self,
        adapter: HyphaAdapter,
        fn: Callable[..., Any],
        event_type: str,
        extra: UserAttributes,
        log_inputs: bool,
        log_outputs: bool,
    ) -> None:
        self.adapter, self.event_type, self.type_json = adapter, event_type, quote(event_type)
        self.fn_name, self.finder, self.extra = fn.__name__, ArgumentFinder(fn), extra
        self.evaluated = bool(extra)  # (UserAttributes.__bool__ is a call: read once)
        self.takes_ctx = "ctx" in self.finder
        self.log_inputs, self.log_outputs = log_inputs, log_outputs
        self.heads: dict[tuple[Any, int], str] = {}  # (transition_name, token_count) -> their JSON
        self.input_tail, self.output_tail = encoder.relation_tail("input"), encoder.relation_tail("output")
        self.after = self.general()
        """:meth:`general`'s function (made once: what it reads, read once)."""

    def ctx(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The ``ctx`` argument of a call (None if the handler takes none)."""
        return self.finder.get("ctx", args, kwargs) if self.takes_ctx else kwargs.get("ctx")

    def general(self) -> After:
        """The function writing a firing's event the general way, for any call and configuration
        (``after(args, kwargs, result)``, as :func:`~mycorrhizal.spores.wrapping.wrap` calls it):
        its line at once while the dispatcher takes lines and no attributes are evaluated; else
        the record returned, for the wrapper to write."""
        adapter, finder, takes_ctx, fn_name = self.adapter, self.finder, self.takes_ctx, self.fn_name
        heads, head, extra, evaluated = self.heads, self.head, self.extra, self.evaluated
        log_inputs, log_outputs = self.log_inputs, self.log_outputs
        input_tail, output_tail = self.input_tail, self.output_tail
        event_type, type_json = self.event_type, self.type_json

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> RawEvent | None:
            if not adapter.enabled:
                return None
            now = _clock()
            consumed = args[0] if args else kwargs.get("consumed", ())
            ctx = finder.get("ctx", args, kwargs) if takes_ctx else kwargs.get("ctx")
            name = fn_name if ctx is None else _transition_name(ctx, fn_name)  # (no call without ctx)
            bb = args[1] if len(args) > 1 else kwargs.get("bb")
            dispatcher = config._state.dispatcher  # config.current(), read without a call
            if dispatcher.lines and not evaluated:  # the line written at once, no record
                rels: list[str] = []  # the tokens' first (their objects written before the event)
                if log_inputs:
                    _relate_texts(consumed, input_tail, now, rels)
                if log_outputs:
                    _relate_texts(_outputs(result, ctx), output_tail, now, rels)
                if len(rels) > 1:  # two tokens of one object in one role: related once
                    rels = list(dict.fromkeys(rels))
                n = len(consumed)
                read = emit.JSON_READERS.get(type(bb)) or json_reader(type(bb))
                attributes, rels_json = read(bb, now, heads.get((name, n)) or head(name, n))  # bb's joined on
                if rels_json:
                    rels.append(rels_json)
                dispatcher.event_line(type_json, now, attributes, ",".join(rels))
                return None
            relations: Relations = []
            if log_inputs:
                _relate_all(consumed, "input", now, relations)
            if log_outputs:
                _relate_all(_outputs(result, ctx), "output", now, relations)
            if len(relations) > 1:  # two tokens of one object in one role: related once
                relations = list(dict.fromkeys(relations))
            attrs: Attributes = [("transition_name", name), ("token_count", len(consumed))]
            if evaluated:
                extra.evaluate(args, kwargs, result, attrs)
            return adapter_event(event_type, attrs, bb, relations, now)

        return after

    def head(self, name: Any, n: int) -> str:
        """The JSON of a firing's ``transition_name`` and ``token_count`` attributes, made once
        per pair (a handler's: a name and a count, few pairs)."""
        text = self.heads.get((name, n))
        if text is None:
            text = f"{attribute_json('transition_name', name)},{attribute_json('token_count', n)}"
            if type(name) is str and len(self.heads) < 1024:
                self.heads[(name, n)] = text
        return text

    def plan(self, state: config.State, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """What :func:`_logged` writes alike for every firing called like this one, for the
        configuration ``state``: ``(state, the number of arguments, the blackboard's class, the
        number of tokens consumed, the transition's name, the blackboard's reader, the object
        cache's ``see``, the JSON of the event's first attributes, the dispatcher's
        ``event_line``)``; or, where it writes no line, ``(state, -1)`` (no call has -1
        arguments), asked again only for another configuration."""
        dispatcher = state.dispatcher
        if not dispatcher.lines or kwargs or len(args) < 2:
            return (state, -1)
        consumed, bb = args[0], args[1]
        name = _transition_name(self.ctx(args, kwargs), self.fn_name)
        read = emit.JSON_READERS.get(type(bb)) or json_reader(type(bb))
        head = self.head(name, len(consumed))
        line = dispatcher.event_line
        return (state, len(args), type(bb), len(consumed), name, read, state.cache.see, head, line)


def _logged(fn: Callable[..., Any], firing: _Firing) -> Callable[..., Any]:
    """``fn`` (a coroutine function, no attributes to evaluate) writing each firing's event: from its
    plan (:meth:`_Firing.plan`) while the call and configuration are the plan's, each token costing
    its description, sighting and relationship; by :attr:`_Firing.after` otherwise."""
    plans: list[tuple[Any, ...]] = [(None, -1)]  # [the plan]: one tuple, replaced whole
    adapter, fn_name, takes_ctx, type_json = (
        firing.adapter,
        firing.fn_name,
        firing.takes_ctx,
        firing.type_json,
    )
    log_inputs, log_outputs = firing.log_inputs, firing.log_outputs
    input_tail, output_tail = firing.input_tail, firing.output_tail

    @functools.wraps(fn)
    async def logged(*args: Any, **kwargs: Any) -> Any:
        if not config._state.config.enabled:  # config.current(), read without a call
            return await fn(*args, **kwargs)
        result = await (fn(*args, **kwargs) if kwargs else fn(*args))
        if not adapter.enabled:
            return result
        state, plan = config._state, plans[0]
        ctx = firing.ctx(args, kwargs) if takes_ctx else None
        if (
            plan[0] is not state
            or kwargs
            or len(args) != plan[1]
            or type(args[1]) is not plan[2]
            or len(args[0]) != plan[3]
            or (takes_ctx and _transition_name(ctx, fn_name) != plan[4])
        ):
            await adispatch(firing.after(args, kwargs, result))
            if plan[0] is not state:  # (a plan kept for this configuration may fit the next call)
                plans[0] = firing.plan(state, args, kwargs)
            return result
        now = _clock()
        texts: list[str] = []  # the tokens' first (their objects written before the event)
        if log_inputs:
            for token in args[0]:
                if token is not None:  # write_related(), without its call
                    described = _DESCRIBERS.get(type(token))  # describe(token), without its call
                    ident, kind, values = describe(token) if described is None else described(token)
                    plan[6](ident, kind, values, now)  # the object cache's see
                    texts.append(f'{{"objectId":{_text(ident)}{input_tail}')
        if log_outputs:
            _relate_texts(_outputs(result, ctx), output_tail, now, texts)
        if len(texts) > 1:  # two tokens of one object in one role: related once
            texts = list(dict.fromkeys(texts))
        attributes, related = plan[5](args[1], now, plan[7])  # the blackboard's joined on
        if related:
            texts.append(related)
        plan[8](type_json, now, attributes, ",".join(texts))  # the dispatcher's event_line
        return result

    logged.__rewrap__ = lambda other: _logged(other, firing)  # type: ignore[attr-defined]
    return logged


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
            extra = UserAttributes(attributes, fn, f"log_transition({event_type!r}) on {written_name(fn)}")
            firing = _Firing(self, fn, event_type, extra, log_inputs, log_outputs)
            if extra or not inspect.iscoroutinefunction(fn):
                return wrap(fn, after=firing.after)  # type: ignore[return-value]
            return _logged(fn, firing)  # type: ignore[return-value]

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
