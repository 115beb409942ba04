"""Declaring nets: :class:`NetBuilder` collects places, transitions, arcs and subnets and builds the
frozen :class:`~mycorrhizal.hypha.spec.NetSpec`.

The builder only turns declarations into spec values; every rule a net must follow is checked when
the spec is compiled (:mod:`.compile`, which :meth:`NetBuilder.build` runs), so a hand-made spec gets
the same checks.  The builder itself reports only what a spec cannot show: an ``initial`` string, a
subnet that is not a net, an ``async`` net body.
"""

from __future__ import annotations

import inspect
import re
import weakref
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

import attrs

from ..common.codecs import CodecRegistry
from ..common.diagram import Diagram
from ..common.errors import DefinitionError, Problem
from ..common.numbers import is_seconds
from .checks import no_input
from .compile import compile_net
from .patterns import Declared, Patterns
from .place_declarations import PlaceDeclarations
from .places import PlaceRef, PlaceSpec, TransitionRef
from .spec import ArcSpec, NetSpec, SubnetSpec, net_of
from .subnets import SubnetHandle
from .transitions import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRY,
    Backoff,
    GuardSpec,
    ListValue,
    OnError,
    TransitionSpec,
    guard_arity,
    handler_kind,
    signature_of,
    transition_options,
)

__all__ = [
    "ArcChain",
    "NetBuilder",
    "build_net",
    "declare_transition",
    "transition_options",
    "transition_spec",
]

WeightedRef = str | tuple[str, int]


class ArcChain:
    """What :meth:`NetBuilder.arc` returns: ``builder.arc(p1, t1).arc(p2).arc(t2)`` declares
    p1 -> t1, t1 -> p2 and p2 -> t2 (each ``arc`` continues from where the previous one ended)."""

    __slots__ = ("_builder", "current")

    def __init__(self, builder: NetBuilder, current: str) -> None:
        self._builder = builder
        self.current = current
        """The element the chain stands at: the target of the last arc."""

    def arc(self, target: str, name: str | None = None, weight: int = 1) -> ArcChain:
        """Declare an arc from :attr:`current` to ``target``; the new chain stands at ``target``."""
        return self._builder.arc(self.current, target, name, weight)

    def __repr__(self) -> str:
        return f"ArcChain(at {self.current!r})"


class NetBuilder(PlaceDeclarations, Patterns):
    """Collects places, transitions, arcs and subnets, then :meth:`build` returns a frozen :class:`NetSpec`.

    Subclass it to add keywords to :meth:`transition` (call ``super().transition(...)`` with a generated
    handler; add a :class:`Problem` to ``self._problems`` for a keyword that is wrong); :meth:`subnet`
    builds plain-function subnets with ``type(self)``.
    """

    list_value: ClassVar[ListValue] = ListValue.SEVERAL
    """How the transitions this builder declares read a ``list`` output value (see :class:`ListValue`)."""

    def __init__(
        self, name: str, parent: NetSpec | None = None, *, definition: Callable[..., Any] | None = None
    ) -> None:
        self.name = name
        self.parent = parent
        """0.x's ``NetBuilder(name, parent)``: the net this one is meant to be embedded in, kept for
        programs that read it.  The built net is a net of its own (its qualified names start at
        ``name``); :meth:`subnet` is what embeds a net in another."""
        self.definition = definition
        # Lists keep every declaration (a name declared twice is a problem compile reports); the
        # dicts find the first element of each name, to tell which way an arc points.
        self._places: list[PlaceSpec] = []
        self._transitions: list[TransitionSpec] = []
        self._subnets: list[SubnetSpec] = []
        self._names: dict[str, PlaceSpec | TransitionSpec | NetSpec] = {}
        self._arcs: list[Declared] = []  # see Declared
        self._problems: list[Problem] = []
        """Problems found while declaring (subclasses add theirs); build() reports them with the rest."""
        self._unread_inputs: set[str] = set()
        self._unapplied: dict[object, tuple[str, str, str]] = {}  # decorators made but not yet applied
        self._built: NetSpec | None = None

    def _name(self, name: str, element: PlaceSpec | TransitionSpec | NetSpec) -> None:
        if isinstance(name, str):
            self._names.setdefault(name, element)

    # -- places -----------------------------------------------------------------------------------

    def _open(self, what: str) -> None:
        """Declarations end when the net is built: a later one would be missing from the spec."""
        if self._built is not None:
            raise DefinitionError(
                [
                    Problem(
                        what,
                        f"it is declared after net {self.name!r} was built (build() or builder.spec), so "
                        "the built spec would not have it",
                        "declare every element before reading builder.spec or calling build()",
                    )
                ],
                what=f"net {self.name!r}",
            )

    def _add_place(self, spec: PlaceSpec) -> PlaceRef:
        self._open(f"place {spec.name!r}")
        self._places.append(spec)
        self._name(spec.name, spec)
        ref = PlaceRef(spec.name, self.name)
        # Calling the ref attaches a function to this place (_attach_handler).  Weakly: a handler that
        # captured the ref must not keep the builder, and through it the built spec, alive.
        ref._owner = weakref.ref(self)
        return ref

    def _attach_handler(self, ref: PlaceRef, fn: Callable[..., Any]) -> None:
        """``ref(fn)``: keep ``fn`` as the handler of the place ``ref`` names (never called)."""
        self._open(f"the function attached to place {str(ref)!r}")
        for i, spec in enumerate(self._places):
            if spec.name == ref:
                self._places[i] = attrs.evolve(spec, handler=fn)
                return

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
        retry_delay: float | Backoff | None = DEFAULT_RETRY,
        eager: bool = True,
        state_factory: Callable[[], Any] | None = None,
        memory_codecs: Callable[[Any, str, CodecRegistry], object] | None = None,
    ) -> Any:
        """Declare a transition on ``async def handler(consumed, bb, timebase[, ctx])``; returns its ref.

        ``inputs``/``outputs`` declare arcs (a ref, or ``(ref, weight)``) in addition to :meth:`arc`;
        ``guard(consumed, bb)`` chooses among candidate bindings; higher ``priority`` fires first;
        ``concurrency`` bounds firings in flight; ``on_error`` is ``OnError.RETURN`` or an error place;
        ``retry_delay`` re-tries a failed transition after that long (seconds, or a :class:`Backoff`,
        the default; None: only when a new token arrives) on the runner's timebase;
        ``eager=False`` starts every firing in its own asyncio task; ``state_factory()`` is called once
        per runner and its result passed as the handler's 4th argument (instead of ``ctx``);
        ``memory_codecs(runner, qname, codecs)`` teaches ``codecs`` (each runner's, and a registry given
        to ``runner.snapshot()``) what it keeps in ``ctx.memory``.
        """

        def decorate(handler: Callable[..., Any]) -> TransitionRef:
            spec = transition_spec(
                handler,
                name,
                guard=guard,
                priority=priority,
                on_error=on_error,
                attachment=attachment,
                concurrency=concurrency,
                retry_delay=retry_delay,
                eager=eager,
                state_factory=state_factory,
                memory_codecs=memory_codecs,
                list_value=self.list_value,
            )
            return self._add_transition(spec, inputs, outputs)

        if fn is not None:
            return decorate(fn)
        what = "a transition" if name is None else f"transition {name!r}"
        return self._expect_function(decorate, what, "builder.transition(...)")

    def _add_transition(
        self,
        spec: TransitionSpec,
        inputs: Iterable[WeightedRef] | None,
        outputs: Iterable[WeightedRef] | None,
    ) -> TransitionRef:
        self._open(f"transition {spec.name!r}")
        self._transitions.append(spec)
        self._name(spec.name, spec)
        ref = TransitionRef(spec.name, self.name)
        subject = f"transition {spec.name!r}"
        problems = len(self._problems)
        for src, weight in self._weighted(subject, "inputs", inputs):
            self._arcs.append((src, ref, weight, f"{subject} inputs=", None, None))
        if len(self._problems) > problems:
            self._unread_inputs.add(spec.name)
        for dst, weight in self._weighted(subject, "outputs", outputs):
            self._arcs.append((ref, dst, weight, f"{subject} outputs=", None, None))
        return ref

    def _weighted(self, subject: str, which: str, items: Any) -> list[tuple[Any, Any]]:
        """The (place, weight) pairs of an ``inputs=``/``outputs=`` list (problems for malformed ones)."""
        if items is None:
            return []
        if isinstance(items, str) or not isinstance(items, Iterable):
            self._problems.append(
                Problem(subject, f"{which}={items!r} is not a list", f"write {which}=[place, ...]")
            )
            return []
        pairs = []
        for item in items:
            if item is Ellipsis:  # a sketch's placeholder, outputs=[...], pasted as it was written
                self._problems.append(
                    Problem(
                        subject,
                        f"{which}=[...] holds the placeholder '...', not a place",
                        f"name the places: {which}=[place, ...] with each place the builder declared",
                    )
                )
            elif not isinstance(item, tuple):
                pairs.append((item, 1))
            elif len(item) == 2:
                pairs.append(item)
            else:
                self._problems.append(
                    Problem(
                        subject,
                        f"{which}= entry {item!r} is neither a place nor a (place, weight) pair",
                        f"write {which}=[place] or {which}=[(place, 2)]",
                    )
                )
        return pairs

    # -- arcs and subnets -------------------------------------------------------------------------

    def guard(self, func: Callable[..., Any]) -> GuardSpec:
        """A guard choosing among all candidate bindings at once: ``func(bindings, bb, timebase)`` is a
        generator yielding the binding to fire (see :class:`GuardSpec`); pass it as ``guard=``."""
        return GuardSpec(func)

    def arc(self, src: str, dst: str, name: str | None = None, weight: int = 1) -> ArcChain:
        """Join a place to a transition (consumes ``weight`` tokens) or a transition to a place (produces).

        Returns an :class:`ArcChain` standing at ``dst``: ``builder.arc(p, t).arc(q)`` also adds t -> q.
        ``name`` labels the arc (pass ``weight`` by keyword).
        """
        self._open(f"arc {src!r} -> {dst!r}")
        self._arcs.append((src, dst, weight, "arc", name, None))
        return ArcChain(self, dst)

    def subnet(self, net: NetSpec | Callable[..., Any], name: str) -> SubnetHandle:
        """Embed ``net`` under instance ``name``; its elements are then ``handle.place`` / ``"name.place"``.

        ``net`` is a built spec (``@pn.net``), anything holding one as ``_spec``, or a plain
        ``def Net(builder)`` body, which is built with this builder's class.
        """
        self._open(f"subnet {name!r}")
        net = net_of(net)
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
        self._subnets.append(SubnetSpec(name, net))
        self._name(name, net)
        return SubnetHandle(name, net, self.name)

    # -- building ---------------------------------------------------------------------------------

    def _points_out(self, src: Any) -> bool:
        """Whether an arc from ``src`` leaves a transition (else it enters one, or is checked as wrong)."""
        if not isinstance(src, str):
            return False
        head, _, rest = src.partition(".")
        found = self._names.get(head)
        if rest:
            found = found.lookup(rest) if isinstance(found, NetSpec) else None
        return isinstance(found, TransitionSpec)

    def _arc_specs(self) -> tuple[ArcSpec, ...]:
        """The declared arcs, an arc declared both by a transition's ``inputs=``/``outputs=`` and by
        :meth:`arc` (with the same weight) counting once: both describe the same arc."""
        arcs: list[ArcSpec] = []
        declared: dict[tuple[str, str], int] = {}
        for src, dst, weight, origin, name, shape in self._arcs:
            direction: Literal["in", "out"] = "out" if self._points_out(src) else "in"
            arc = ArcSpec(str(src), str(dst), weight, direction, origin, name, shape)
            first = declared.setdefault((arc.src, arc.dst), len(arcs))
            if first != len(arcs) and _same_arc(arcs[first], arc):
                if arc.name is not None:
                    arcs[first] = attrs.evolve(arcs[first], name=arc.name)
                continue
            arcs.append(arc)
        return tuple(arcs)

    @property
    def spec(self) -> NetSpec:
        """The built spec (:meth:`build`): read it once everything is declared."""
        return self.build()

    def build(self) -> NetSpec:
        """Check everything declared (raising one :class:`DefinitionError` listing every problem) and
        return the frozen :class:`NetSpec`.  Building twice returns the same spec."""
        if self._built is not None:
            return self._built
        spec = NetSpec(
            name=self.name,
            places=tuple(self._places),
            transitions=tuple(self._transitions),
            arcs=self._arc_specs(),
            subnets=tuple(self._subnets),
            definition=self.definition,
            builder_class=type(self),
        )
        # Checks it (runners then find the plan made); a transition whose inputs= could not be read
        # is not also reported as having no input.
        also = [*self._problems, *self._unapplied_problems()]
        compile_net(spec, also=also, moot=[no_input(name) for name in self._unread_inputs])
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
        try:
            body(self)
        except DefinitionError:
            raise
        except Exception as exc:
            raise DefinitionError(
                [
                    Problem(
                        f"net {self.name!r}", f"its body raised {type(exc).__name__}: {exc}", _body_fix(exc)
                    )
                ],
                what=f"net {self.name!r}",
            ) from exc
        return self.build()


#: The keywords only a composed net's transitions take (``mycorrhizal.mycelium``'s ``pn``).
_COMPOSING = frozenset(
    (
        "bt",
        "bt_mode",
        "fsm",
        "fsm_key",
        "fsm_options",
        "fsm_idle_ttl",
        "fsm_max_machines",
        "fsm_idle_states",
        "rejected",
    )
)
_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def _body_fix(exc: Exception) -> str:
    """What to do about a net body that raised: a composing keyword given to hypha's own ``pn``
    (the likeliest slip after reading about trees in transitions) says which ``pn`` takes it."""
    found = _UNEXPECTED.search(str(exc)) if isinstance(exc, TypeError) else None
    if found is not None and found.group(1) in _COMPOSING:
        return (
            f"{found.group(1)}= belongs to a composed net: import pn from mycorrhizal.mycelium (its "
            "transitions take bt=, fsm= and rejected=) instead of mycorrhizal.hypha"
        )
    return "fix the net body (the original error and its traceback are attached)"


def transition_spec(
    handler: Callable[..., Any],
    name: str | None = None,
    *,
    guard: Callable[..., Any] | None = None,
    priority: int = 0,
    on_error: OnError | str = OnError.RETURN,
    attachment: Diagram | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    retry_delay: float | Backoff | None = DEFAULT_RETRY,
    eager: bool = True,
    state_factory: Callable[[], Any] | None = None,
    memory_codecs: Callable[[Any, str, CodecRegistry], object] | None = None,
    list_value: ListValue = ListValue.SEVERAL,
) -> TransitionSpec:
    """The spec of a transition on ``handler`` (named after it unless ``name`` is given), with the
    options of :meth:`NetBuilder.transition`; what a builder declares and a running net is given."""
    return TransitionSpec(
        name=str(name if name is not None else getattr(handler, "__name__", None)),
        handler=handler,
        guard=guard,
        priority=priority,
        concurrency=concurrency,
        on_error=on_error if isinstance(on_error, OnError) else str(on_error),
        retry_delay=_seconds(retry_delay),
        eager=bool(eager),
        attachment=attachment,
        kind=handler_kind(handler),
        wants_ctx=state_factory is None and callable(handler) and signature_of(handler).wants_ctx,
        guard_arity=0 if guard is None else guard_arity(guard),
        state_factory=state_factory,
        list_value=list_value,
        memory_codecs=memory_codecs,
    )


Arc = tuple[Any, Literal["in", "out"], int]
"""An arc a transition's ``inputs=``/``outputs=`` declared: (the place as given, direction, weight)."""


def declare_transition(
    builder_class: type[NetBuilder], net: str, handler: Callable[..., Any], name: str, options: dict[str, Any]
) -> tuple[TransitionSpec, list[Arc]]:
    """Declare one transition as ``builder_class`` declares it in net ``net`` (what a running net's
    ``add_transition`` adds): its spec and its arcs; a :class:`DefinitionError` for what is wrong."""
    builder = builder_class(net)
    builder.transition(handler, name=name, **options)
    DefinitionError.raise_if_any(builder._problems, what=f"net {net!r}")
    arcs: list[Arc] = []
    for src, dst, weight, *_ in builder._arcs:
        arcs.append((dst, "out", weight) if isinstance(src, TransitionRef) else (src, "in", weight))
    return builder._transitions[-1], arcs


def _same_arc(first: ArcSpec, again: ArcSpec) -> bool:
    """Whether ``again`` repeats ``first`` from the other way of declaring arcs, with the same weight."""
    by_arc = (first.origin == "arc", again.origin == "arc")
    return by_arc in ((True, False), (False, True)) and first.weight == again.weight


def _seconds(delay: Any) -> Any:
    """A valid duration as a float; anything else as given, for the check to report."""
    return float(delay) if is_seconds(delay) else delay


def build_net(
    body: Callable[..., Any], *, builder_class: type[NetBuilder] = NetBuilder, name: str | None = None
) -> NetSpec:
    """Build the net declared by ``def Net(builder)`` with ``builder_class`` (default :class:`NetBuilder`)."""
    if not callable(body):
        raise DefinitionError(
            [Problem("pn.net", f"{body!r} is not a function", "decorate 'def Net(builder)' with @pn.net")],
            what="net definition",
        )
    builder = builder_class(
        name if name is not None else getattr(body, "__name__", repr(body)), definition=body
    )
    return builder.run(body)
