"""The local net a worker runs: the user's net with the handlers that touch shared places wrapped.

The engine is not told about Redis.  A wrapped handler is an ordinary hypha handler
``async def fire(consumed, bb, timebase, ctx)``: it looks up which stream entry the consumed token
came from, runs the user's handler (any kind: coroutine, function, generator), and sends the
outputs meant for shared places to Redis in one atomic commit with the acknowledgement of the input
entry, awaiting it.  Only outputs into local places are returned to the engine.  If the user's
handler fails or the firing is cancelled, the entry goes back with the token, which the engine puts
back into its place (and retries as its error policy says).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import attrs

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError, RoutingError
from ..common.timebase import Timebase
from ..hypha import (
    Consumed,
    FiringContext,
    HandlerKind,
    ListValue,
    NetSpec,
    Runner,
    SubnetSpec,
    TransitionSpec,
)
from ..hypha.compile import FlatTransition
from ..hypha.coroutines import collect_async, merge_outputs
from ..hypha.outputs import output_items, tokens_of
from .shared import SharedNet

__all__ = ["LocalRunner", "Outputs", "Port", "Source", "local_net"]

Outputs = list[tuple[str, Any]]  # (qualified name of a shared place, token)
Source = tuple[str, str, str | None]
"""Where a consumed token came from: (stream, entry id, the partition lease it was read under)."""


class Port(Protocol):
    """What a wrapped handler needs from its worker."""

    def take(self, place: str, token: Any) -> Awaitable[Source | None]:
        """The stream entry ``token`` (now being fired) was delivered from; None: drop it unfired
        (its entry is no longer this worker's as it was read)."""

    def untake(self, place: str, token: Any, source: Source) -> None:
        """The firing of ``token`` did not commit: it is back in ``place`` with its entry."""

    def commit(
        self, place: str | None, token: Any, source: Source | None, outputs: Outputs
    ) -> Awaitable[bool]:
        """Acknowledge ``source`` of ``place`` (where ``token`` came from) and append ``outputs``,
        atomically; False if fenced."""


def local_net(shared: SharedNet, port: Port, concurrency: int | None) -> NetSpec:
    """The net a worker runs: every transition touching a shared place gets a wrapped handler
    (and, if given, ``concurrency`` for those consuming one)."""
    names = [p.qname for p in shared.flat.places]
    replaced: dict[str, TransitionSpec] = {}
    for ft in shared.flat.transitions:
        touched = [names[i] for i, _ in (*ft.inputs, *ft.outputs) if names[i] in shared.shared]
        if not touched:
            continue
        fed = names[ft.inputs[0][0]] if ft.inputs and names[ft.inputs[0][0]] in shared.shared else None
        spec = ft.spec
        replaced[ft.qname] = attrs.evolve(
            spec,
            handler=_wrapped(ft, fed, frozenset(shared.shared), names, port),
            kind=HandlerKind.COROUTINE,
            wants_ctx=True,
            list_value=ListValue.SEVERAL,  # the local outputs it returns are lists of tokens
            eager=True,
            # An fsm= transition keeps its own (1 by default): a machine's document is written after
            # each firing, which another firing of its key must not be in the middle of.
            concurrency=concurrency
            if concurrency is not None and fed is not None and fed not in shared.keyed
            else spec.concurrency,
        )
    return _rebuild(shared.net, shared.flat.name, replaced)


class LocalRunner(Runner):
    """A worker's runner: a token added by hand to a shared place goes to Redis when it fires, so one
    Redis cannot take (its type has no codec, its ``fsm_key`` fails) is refused as it is added;
    taken in, it would fail at every retry, first in its place, holding back every token after it."""

    __slots__ = ("_shared", "_codecs", "_worker", "_pass_as")

    def __init__(
        self,
        net: NetSpec,
        blackboard: Any,
        timebase: Timebase,
        shared: SharedNet,
        codecs: CodecRegistry,
        worker: str,
        pass_as: str | None,
    ) -> None:
        super().__init__(net, blackboard, timebase)
        self._shared = shared
        self._codecs = codecs
        self._worker = worker
        self._pass_as = pass_as  # how to pass a registry, if the worker was given none

    def add_token(self, place: str, token: Any) -> None:
        """As :meth:`Runner.add_token`; CodecError / RoutingError for a token Redis cannot take."""
        self._check_arriving(place, (token,))
        super().add_token(place, token)

    def add_tokens(self, place: str, tokens: Iterable[Any]) -> None:
        """As :meth:`Runner.add_tokens` (all or none); CodecError / RoutingError for one Redis cannot
        take."""
        if isinstance(tokens, Iterable) and not isinstance(tokens, str | bytes | bytearray):
            tokens = list(tokens)  # (read once: an iterator is checked, then added)
            self._check_arriving(place, tokens)
        super().add_tokens(place, tokens)  # (refuses what is not a collection of tokens)

    def _check_arriving(self, place: str, tokens: Iterable[Any]) -> None:
        index = self._shared.flat.place_index(place) if isinstance(place, str) else None
        if index is None:
            return  # an unknown place: the runner says so
        qname = self._shared.flat.places[index].qname
        if qname not in self._shared.shared:
            return
        for token in tokens:
            self._shared.stream_of(qname, token, self._codecs)  # (RoutingError if fsm_key fails)
            try:
                self._codecs.dumps(token)
            except CodecError as exc:
                where = f"worker {self._worker!r}: a token added to shared place {qname!r} cannot be encoded"
                raise exc.at(where, pass_as=self._pass_as) from exc


def _rebuild(net: NetSpec, scope: str, replaced: dict[str, TransitionSpec]) -> NetSpec:
    return attrs.evolve(
        net,
        transitions=tuple(replaced.get(f"{scope}.{t.name}", t) for t in net.transitions),
        subnets=tuple(
            SubnetSpec(s.name, _rebuild(s.net, f"{scope}.{s.name}", replaced)) for s in net.subnets
        ),
    )


def _wrapped(
    ft: FlatTransition, fed: str | None, shared: frozenset[str], names: list[str], port: Port
) -> Callable[..., Awaitable[Any]]:
    handler, kind, wants_ctx, out_keys = ft.spec.handler, ft.spec.kind, ft.spec.wants_ctx, ft.out_keys

    async def fire(consumed: Consumed, bb: Any, timebase: Any, ctx: FiringContext) -> Any:
        origin = None
        if fed is not None:
            origin = await port.take(fed, consumed[0])
            if origin is None:
                return None
        try:
            inner = None
            if wants_ctx:
                inner = FiringContext(
                    ctx.transition, ctx.memory, ctx.runner, ctx.outputs, consumed, bb, timebase, out_keys
                )
                result = await _call(handler, kind, (consumed, bb, timebase, inner))
            else:
                result = await _call(handler, kind, (consumed, bb, timebase))
            remote, local = _split(ft, result, inner, shared, names)
            committed = True
            if remote or origin is not None:
                committed = await port.commit(fed, consumed[0] if fed is not None else None, origin, remote)
        except BaseException:
            if origin is not None:
                port.untake(fed, consumed[0], origin)  # type: ignore[arg-type]
            raise
        return local if committed and local else None

    fire.__qualname__ = fire.__name__ = getattr(handler, "__name__", "fire")
    return fire


async def _call(handler: Any, kind: HandlerKind, args: tuple[Any, ...]) -> Any:
    if kind is HandlerKind.COROUTINE:
        return await handler(*args)
    if kind is HandlerKind.FUNCTION:
        result = handler(*args)
        return await result if asyncio.iscoroutine(result) else result
    if kind is HandlerKind.GENERATOR:
        return merge_outputs(list(handler(*args)))
    return await collect_async(handler(*args))


def _split(
    ft: FlatTransition, result: Any, ctx: FiringContext | None, shared: frozenset[str], names: list[str]
) -> tuple[Outputs, dict[str, list[Any]]]:
    """The outputs of a firing: (those for shared places, the others as a result dict for hypha)."""
    emitted = ctx.emitted() if ctx is not None else ()
    items = output_items(ft.qname, result, emitted, ft.output_refs, ft.out_keys.get)
    split = ft.spec.list_value is ListValue.SEVERAL
    remote: Outputs = []
    local: dict[str, list[Any]] = {}
    for key, value in items:
        index = ft.out_keys.get(key) if isinstance(key, str) else None
        if index is None:
            raise RoutingError(
                f"transition {ft.qname!r} may not produce into {key!r}: it has no output arc to that "
                f"place (outputs: {list(ft.output_refs)}); add builder.arc(transition, place) or "
                "outputs=[...]",
                transition=ft.qname,
                place=str(key),
            )
        tokens = tokens_of(value, split)
        if names[index] in shared:
            remote.extend((names[index], token) for token in tokens)
        else:
            local.setdefault(key, []).extend(tokens)
    return remote, local
