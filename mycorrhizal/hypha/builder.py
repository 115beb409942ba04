"""Declaring nets: :class:`NetBuilder` collects places, transitions, arcs and subnets, validates them
all at once and builds the frozen :class:`~mycorrhizal.hypha.spec.NetSpec`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, overload

from ..common.diagram import Diagram
from ..common.errors import DefinitionError, Problem
from .places import PlaceKind, PlaceRef, PlaceSpec, PlaceType, SinkHandler, SourceFactory, TransitionRef
from .spec import ArcSpec, NetSpec, SubnetSpec
from .subnets import SubnetHandle
from .transitions import DEFAULT_CONCURRENCY, OnError, TransitionSpec, guard_arity, inspect_handler

__all__ = ["NetBuilder", "build_net"]

F = TypeVar("F", bound=Callable[..., Any])
ArcEnd = str
WeightedRef = str | tuple[str, int]


def _check_name(kind: str, name: Any, problems: list[Problem]) -> bool:
    if not isinstance(name, str) or not name or "." in name:
        problems.append(
            Problem(
                f"{kind} {name!r}",
                "names must be non-empty strings without '.' (dots separate subnet levels)",
                "rename it, e.g. 'worker_inbox'",
            )
        )
        return False
    return True


class NetBuilder:
    """Collects places, transitions, arcs and subnets, then :meth:`build` returns a frozen :class:`NetSpec`.

    Subclass it to add keywords to :meth:`transition` (call ``super().transition(...)`` with a generated
    handler); :meth:`subnet` builds plain-function subnets with ``type(self)``.
    """

    def __init__(self, name: str, *, definition: Callable[..., Any] | None = None) -> None:
        self.name = name
        self.definition = definition
        self._places: dict[str, PlaceSpec] = {}
        self._transitions: dict[str, TransitionSpec] = {}
        self._subnets: dict[str, SubnetSpec] = {}
        self._arcs: list[tuple[Any, Any, Any, str]] = []  # (src, dst, weight, who declared it)
        self._problems: list[Problem] = []
        self._built: NetSpec | None = None
        _check_name("net", name, self._problems)

    # -- places -----------------------------------------------------------------------------------

    def _claim(self, kind: str, name: str) -> bool:
        if not _check_name(kind, name, self._problems):
            return False
        if name in self._places or name in self._transitions or name in self._subnets:
            self._problems.append(
                Problem(
                    f"{kind} {name!r}",
                    f"the name is already used in net {self.name!r}",
                    "give each place, transition and subnet of a net its own name",
                )
            )
            return False
        return True

    def _add_place(self, spec: PlaceSpec) -> PlaceRef:
        kind = "place" if spec.kind is PlaceKind.PLAIN else spec.kind.value.replace("_", " ") + " place"
        subject = f"{kind} {spec.name!r}"
        if not isinstance(spec.type, PlaceType):
            self._problems.append(
                Problem(
                    subject, f"type {spec.type!r} is not a PlaceType", "use PlaceType.QUEUE or PlaceType.BAG"
                )
            )
        cap = spec.capacity
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            self._problems.append(
                Problem(
                    subject,
                    f"capacity {cap!r} is not a positive integer",
                    "use capacity=None (unbounded) or an int >= 1",
                )
            )
        elif cap is not None and len(spec.initial) > cap:
            self._problems.append(
                Problem(
                    subject,
                    f"{len(spec.initial)} initial tokens exceed capacity {cap}",
                    "raise the capacity or start with fewer tokens",
                )
            )
        if self._claim(kind, spec.name):
            self._places[spec.name] = spec
        return PlaceRef(spec.name)

    def place(
        self,
        name: str,
        type: PlaceType = PlaceType.QUEUE,
        capacity: int | None = None,
        initial: Iterable[Any] = (),
    ) -> PlaceRef:
        """Declare a place; ``initial`` tokens are there when a runner is created."""
        if isinstance(initial, (str, bytes)):
            self._problems.append(
                Problem(
                    f"place {name!r}",
                    "initial is a string, which would make one token per character",
                    "pass a list of tokens, e.g. initial=['job']",
                )
            )
            initial = ()
        return self._add_place(PlaceSpec(name, type, capacity, tuple(initial)))

    @overload
    def io_input_place(
        self, name: str, source: SourceFactory, *, type: PlaceType = ..., capacity: int | None = ...
    ) -> PlaceRef: ...

    @overload
    def io_input_place(
        self, name: str | None = ..., source: None = ..., *, type: PlaceType = ..., capacity: int | None = ...
    ) -> Callable[[SourceFactory], PlaceRef]: ...

    def io_input_place(
        self,
        name: str | Callable[..., Any] | None = None,
        source: SourceFactory | None = None,
        *,
        type: PlaceType = PlaceType.QUEUE,
        capacity: int | None = None,
    ) -> PlaceRef | Callable[[SourceFactory], PlaceRef]:
        """A place fed by ``async def source(bb, timebase)`` yielding tokens (also usable as a decorator).

        The runner starts the source on ``start()``; a full place makes the source wait (back-pressure).
        """
        if callable(name) and source is None:
            fn = name
            return self._add_io_input(fn.__name__, fn, type, capacity)
        if source is not None:
            return self._add_io_input(str(name), source, type, capacity)

        def decorate(fn: SourceFactory) -> PlaceRef:
            return self._add_io_input(fn.__name__ if name is None else str(name), fn, type, capacity)

        return decorate

    def _add_io_input(self, name: str, source: Any, type: PlaceType, capacity: int | None) -> PlaceRef:
        if not callable(source):
            self._problems.append(
                Problem(
                    f"io input place {name!r}",
                    f"source {source!r} is not callable",
                    "pass 'async def source(bb, timebase)' that yields tokens",
                )
            )
        return self._add_place(PlaceSpec(name, type, capacity, (), PlaceKind.IO_INPUT, source=source))

    @overload
    def io_output_place(
        self,
        name: str,
        sink: SinkHandler,
        *,
        type: PlaceType = ...,
        capacity: int | None = ...,
        on_error: str | None = ...,
    ) -> PlaceRef: ...

    @overload
    def io_output_place(
        self,
        name: str | None = ...,
        sink: None = ...,
        *,
        type: PlaceType = ...,
        capacity: int | None = ...,
        on_error: str | None = ...,
    ) -> Callable[[SinkHandler], PlaceRef]: ...

    def io_output_place(
        self,
        name: str | Callable[..., Any] | None = None,
        sink: SinkHandler | None = None,
        *,
        type: PlaceType = PlaceType.QUEUE,
        capacity: int | None = None,
        on_error: str | None = None,
    ) -> PlaceRef | Callable[[SinkHandler], PlaceRef]:
        """A place drained by ``async def sink(token, bb, timebase)``, one token at a time, in order.

        ``capacity`` bounds how many tokens may wait for the sink (back-pressure on producers).
        ``on_error`` names a place (in this net) where a token goes, as a ``FailedToken``, if the sink raises.
        """
        if callable(name) and sink is None:
            fn = name
            return self._add_io_output(fn.__name__, fn, type, capacity, on_error)
        if sink is not None:
            return self._add_io_output(str(name), sink, type, capacity, on_error)

        def decorate(fn: SinkHandler) -> PlaceRef:
            return self._add_io_output(
                fn.__name__ if name is None else str(name), fn, type, capacity, on_error
            )

        return decorate

    def _add_io_output(
        self, name: str, sink: Any, type: PlaceType, capacity: int | None, on_error: str | None
    ) -> PlaceRef:
        if not callable(sink):
            self._problems.append(
                Problem(
                    f"io output place {name!r}",
                    f"sink {sink!r} is not callable",
                    "pass 'async def sink(token, bb, timebase)'",
                )
            )
        err = None if on_error is None else str(on_error)
        return self._add_place(
            PlaceSpec(name, type, capacity, (), PlaceKind.IO_OUTPUT, sink=sink, on_error=err)
        )

    # -- transitions ------------------------------------------------------------------------------

    def transition(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        guard: Callable[..., Any] | None = None,
        priority: int = 0,
        inputs: Iterable[WeightedRef] | None = None,
        outputs: Iterable[WeightedRef] | None = None,
        on_error: OnError | str = OnError.RETURN,
        name: str | None = None,
        attachment: Diagram | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry_delay: float | None = None,
        eager: bool = True,
    ) -> Any:
        """Declare a transition on ``async def handler(consumed, bb, timebase[, ctx])``; returns its ref.

        ``inputs``/``outputs`` declare arcs (a ref, or ``(ref, weight)``) in addition to :meth:`arc`;
        ``guard(consumed, bb)`` chooses among candidate bindings; higher ``priority`` fires first;
        ``concurrency`` bounds firings in flight; ``on_error`` is ``OnError.RETURN`` or an error place;
        ``retry_delay`` re-tries a failed transition after that long on the runner's timebase;
        ``eager=False`` starts every firing in its own asyncio task.
        """

        def decorate(handler: Callable[..., Any]) -> TransitionRef:
            tname = name if name is not None else getattr(handler, "__name__", None)
            return self._add_transition(
                str(tname),
                handler,
                guard,
                priority,
                inputs,
                outputs,
                on_error,
                attachment,
                concurrency,
                retry_delay,
                eager,
            )

        if fn is not None:
            return decorate(fn)
        return decorate

    def _add_transition(
        self,
        name: str,
        handler: Callable[..., Any],
        guard: Callable[..., Any] | None,
        priority: int,
        inputs: Iterable[WeightedRef] | None,
        outputs: Iterable[WeightedRef] | None,
        on_error: OnError | str,
        attachment: Diagram | None,
        concurrency: int,
        retry_delay: float | None,
        eager: bool,
    ) -> TransitionRef:
        subject = f"transition {name!r}"
        kind, wants_ctx, problems = inspect_handler(subject, handler)
        self._problems.extend(problems)
        arity = 0
        if guard is not None:
            arity, gproblems = guard_arity(subject, guard)
            self._problems.extend(gproblems)
        if not isinstance(priority, int) or isinstance(priority, bool):
            self._problems.append(
                Problem(subject, f"priority {priority!r} is not an int", "use an int; higher fires first")
            )
            priority = 0
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            self._problems.append(
                Problem(
                    subject,
                    f"concurrency {concurrency!r} is not a positive int",
                    "use concurrency=1 for one firing at a time, or more",
                )
            )
            concurrency = 1
        if retry_delay is not None and (not isinstance(retry_delay, int | float) or retry_delay < 0):
            self._problems.append(
                Problem(
                    subject,
                    f"retry_delay {retry_delay!r} is not a duration >= 0",
                    "use seconds on the runner's timebase, or None",
                )
            )
            retry_delay = None
        if attachment is not None and not isinstance(attachment, Diagram):
            self._problems.append(
                Problem(
                    subject,
                    f"attachment {attachment!r} is not a Diagram",
                    "pass a mycorrhizal.common.Diagram (e.g. some_spec.to_diagram())",
                )
            )
            attachment = None
        if not isinstance(on_error, OnError):
            on_error = str(on_error)
        spec = TransitionSpec(
            name=name,
            handler=handler,
            guard=guard,
            priority=priority,
            concurrency=concurrency,
            on_error=on_error,
            retry_delay=None if retry_delay is None else float(retry_delay),
            eager=bool(eager),
            attachment=attachment,
            kind=kind,
            wants_ctx=wants_ctx,
            guard_arity=arity,
        )
        if self._claim("transition", name):
            self._transitions[name] = spec
        ref = TransitionRef(name)
        for item in inputs or ():
            src, weight = item if isinstance(item, tuple) else (item, 1)
            self._arcs.append((src, ref, weight, f"{subject} inputs="))
        for item in outputs or ():
            dst, weight = item if isinstance(item, tuple) else (item, 1)
            self._arcs.append((ref, dst, weight, f"{subject} outputs="))
        return ref

    # -- arcs and subnets -------------------------------------------------------------------------

    def arc(self, src: str, dst: str, weight: int = 1) -> None:
        """Join a place to a transition (consumes ``weight`` tokens) or a transition to a place (produces)."""
        self._arcs.append((src, dst, weight, "arc"))

    def subnet(self, net: NetSpec | Callable[..., Any], name: str) -> SubnetHandle:
        """Embed ``net`` under instance ``name``; its elements are then ``handle.place`` / ``"name.place"``.

        ``net`` is a built spec (``@pn.net``) or a plain ``def Net(builder)`` body, which is built with
        this builder's class.
        """
        if not isinstance(net, NetSpec):
            if not callable(net):
                self._problems.append(
                    Problem(
                        f"subnet {name!r}",
                        f"{net!r} is not a net",
                        "pass a @pn.net net or a 'def Net(builder)' function",
                    )
                )
                net = NetSpec(str(name))
            else:
                net = build_net(net, builder_class=type(self))
        if self._claim("subnet", name):
            self._subnets[name] = SubnetSpec(name, net)
        return SubnetHandle(name, net)

    # -- building ---------------------------------------------------------------------------------

    def _resolve(self, end: Any) -> PlaceSpec | TransitionSpec | NetSpec | None:
        if isinstance(end, SubnetHandle):
            return end.net
        if not isinstance(end, str):
            return None
        head, _, rest = end.partition(".")
        if not rest:
            return self._places.get(head) or self._transitions.get(head)
        sub = self._subnets.get(head)
        return None if sub is None else sub.net.lookup(rest)

    def _build_arcs(self) -> list[ArcSpec]:
        arcs: list[ArcSpec] = []
        seen: dict[tuple[str, str], str] = {}
        for src, dst, weight, who in self._arcs:
            subject = f"{who} {str(src)!r} -> {str(dst)!r}"
            a, b = self._resolve(src), self._resolve(dst)
            bad = False
            for end, found in ((src, a), (dst, b)):
                if found is None:
                    self._problems.append(
                        Problem(
                            subject,
                            f"{str(end)!r} is not a place or transition of net {self.name!r}",
                            "declare it first, or use 'subnet.element'",
                        )
                    )
                    bad = True
            if bad:
                continue
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
                self._problems.append(
                    Problem(subject, f"weight {weight!r} is not a positive int", "use weight=1 or more")
                )
                continue
            if isinstance(a, PlaceSpec) and isinstance(b, TransitionSpec):
                direction: Literal["in", "out"] = "in"
                if a.kind is PlaceKind.IO_OUTPUT:
                    self._problems.append(
                        Problem(
                            subject,
                            f"{str(src)!r} is an io output place (a sink); "
                            "transitions cannot consume from it",
                            "consume from an ordinary place instead",
                        )
                    )
                    continue
            elif isinstance(a, TransitionSpec) and isinstance(b, PlaceSpec):
                direction = "out"
                if b.kind is PlaceKind.IO_INPUT:
                    self._problems.append(
                        Problem(
                            subject,
                            f"{str(dst)!r} is an io input place (fed by its "
                            "source); transitions cannot produce into it",
                            "produce into an ordinary place instead",
                        )
                    )
                    continue
            else:
                self._problems.append(
                    Problem(
                        subject,
                        "an arc must join a place and a transition",
                        "connect place -> transition or transition -> place",
                    )
                )
                continue
            key = (str(src), str(dst))
            if key in seen:
                self._problems.append(
                    Problem(
                        subject,
                        f"this arc is declared twice ({seen[key]} and {who})",
                        "declare it once; use weight= for several tokens",
                    )
                )
                continue
            seen[key] = who
            arcs.append(ArcSpec(str(src), str(dst), weight, direction))
        return arcs

    def _check_transitions(self, arcs: list[ArcSpec]) -> None:
        has_input = {a.dst for a in arcs if a.direction == "in"}
        for t in self._transitions.values():
            subject = f"transition {t.name!r}"
            if t.name not in has_input:
                self._problems.append(
                    Problem(
                        subject,
                        "it has no input arc, so it would be enabled forever",
                        "give it an input place (use an io_input_place for a source)",
                    )
                )
            if isinstance(t.on_error, str):
                self._check_error_place(subject, t.on_error)
                if any(a.direction == "in" and a.dst == t.name and a.src == t.on_error for a in arcs):
                    self._problems.append(
                        Problem(
                            subject,
                            f"its error place {t.on_error!r} is also one of its inputs, so a failed token "
                            "would come straight back to the transition that failed on it",
                            "send failures to a place of their own (and retry from there on purpose)",
                        )
                    )
        for p in self._places.values():
            if p.on_error is not None:
                self._check_error_place(f"io output place {p.name!r}", p.on_error)
                if p.on_error == p.name:
                    self._problems.append(
                        Problem(
                            f"io output place {p.name!r}",
                            "its error place is itself, so a failed token would go straight back to the sink",
                            "send failures to a place of their own",
                        )
                    )
                elif self._sink_error_cycle(p.name):
                    self._problems.append(
                        Problem(
                            f"io output place {p.name!r}",
                            "its failures go round a cycle of sinks back to itself",
                            "end the chain of error places in a place that is not a sink",
                        )
                    )

    def _sink_error_cycle(self, start: str) -> bool:
        seen = {start}
        here = self._places[start].on_error
        while here is not None and here in self._places:
            if here in seen:
                return here == start
            seen.add(here)
            here = self._places[here].on_error
        return False

    def _check_error_place(self, subject: str, where: str) -> None:
        target = self._resolve(where)
        if not isinstance(target, PlaceSpec):
            self._problems.append(
                Problem(
                    subject,
                    f"error place {where!r} is not a place of net {self.name!r}",
                    "declare the error place in the same net, or use OnError.RETURN",
                )
            )
        elif target.kind is PlaceKind.IO_INPUT:
            self._problems.append(
                Problem(
                    subject,
                    f"error place {where!r} is an io input place",
                    "use an ordinary place or an io output place",
                )
            )
        elif target.capacity is not None:
            self._problems.append(
                Problem(
                    subject,
                    f"error place {where!r} has a capacity, so a failure could have nowhere to go",
                    "make the error place unbounded",
                )
            )

    def build(self) -> NetSpec:
        """Validate everything declared (raising one :class:`DefinitionError` listing every problem) and
        return the frozen :class:`NetSpec`.  Building twice returns the same spec."""
        if self._built is not None:
            return self._built
        arcs = self._build_arcs()
        self._check_transitions(arcs)
        DefinitionError.raise_if_any(self._problems, what=f"net {self.name!r}")
        spec = NetSpec(
            name=self.name,
            places=tuple(self._places.values()),
            transitions=tuple(self._transitions.values()),
            arcs=tuple(arcs),
            subnets=tuple(self._subnets.values()),
            definition=self.definition,
        )
        # Flattening checks the whole tree once more (cheap) and caches the result for runners.
        spec.flat()
        self._built = spec
        return spec

    def run(self, body: Callable[..., Any]) -> NetSpec:
        """Run a ``def Net(builder)`` body against this builder and return the built spec."""
        if inspect.iscoroutinefunction(body):
            raise DefinitionError(
                [
                    Problem(
                        f"net {self.name!r}",
                        "the net body is 'async def'",
                        "declare it with plain 'def Net(builder)'",
                    )
                ],
                what=f"net {self.name!r}",
            )
        if self.definition is None:
            self.definition = body
        body(self)
        return self.build()


def build_net(
    body: Callable[..., Any], *, builder_class: type[NetBuilder] = NetBuilder, name: str | None = None
) -> NetSpec:
    """Build the net declared by ``def Net(builder)`` with ``builder_class`` (default :class:`NetBuilder`)."""
    builder = builder_class(name if name is not None else body.__name__, definition=body)
    return builder.run(body)
