"""Changing a running net: ``runner.add_place``, ``add_transition``, ``add_arc``, ``remove_arc``, ``remove``.

A net is a frozen spec and a runner runs its compiled plan, so a change never edits either: it makes a
new spec from the old one and the change (:mod:`.reshape`), checks and compiles it like any net (a
change that would make the net invalid raises :class:`DefinitionError` and changes nothing), then
moves the runner onto the new plan in one step, between two scheduler passes:

* places and transitions that stay keep their runtime records - tokens, counters, ``ctx.memory``,
  ``state_factory`` states, retries - and only take their new arcs; new ones get fresh records;
* a firing in flight finishes under the arcs it started with.  Adding arcs keeps that true by
  itself (a new input arc comes after the ones a firing took its tokens from, and the room a firing
  holds in a bounded new output is held at once); so ``remove_arc`` and ``remove`` first hold the
  transitions they touch (no new firing starts) and wait until their firings in flight have ended;
* nothing is lost: a place that still holds tokens is removed only with ``tokens_to=`` naming where
  they go;
* a removed transition's ``ctx.memory`` goes with it.  A value there with a ``transition_removed()``
  method (a duck-typed hook, awaited if it returns an awaitable: an embedder's live objects, e.g.
  mycelium's ``fsm=`` machines, are closed there and tell their observers so) is called once the
  transition's last firing has ended, before the net changes; a stop callback that is a method of
  such a value (``add_stop_callback``) goes too, so a net adding and removing transitions keeps none;
* observers get a :class:`~.events.NetChanged` record, and ``runner.spec``, ``runner.runtime``,
  pictures, snapshots and ``marking()`` show the changed net from then on.

``add_transition`` declares the transition with the builder class that built the net (``NetSpec.
builder_class``), so it takes that builder's options: ``inputs=``/``outputs=`` arcs, and whatever a
subclass adds (mycelium's ``bt=``/``fsm=``) without hypha knowing of them.  A transition added
without an input arc is never enabled until it gets one (``add_arc``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import attrs

from ..common.callables import resolve
from ..common.errors import DefinitionTypeError, ExecutionError, Problem
from .arguments import bind_handlers
from .builder import NetBuilder, declare_transition, transition_options
from .checks import no_input
from .compile import FlatNet, compile_net, problems_of
from .durable import Durable
from .events import NetChanged
from .inflight import InFlight
from .ioplaces import IOPlaces
from .netruntime import NetRuntime
from .places import PlaceKind, PlaceRef, PlaceSpec, PlaceType, TransitionRef
from .ready import Ready
from .reporting import Reporter, log
from .reshape import Path, path_of, with_arc, with_element, without, without_arc
from .snapshot import teach_memory_codecs
from .spec import NetSpec
from .state import PlaceState, TransitionState, connect, held
from .transitions import ListValue, TransitionSpec

__all__ = ["NetChanges"]

Name = str | Sequence[str]
"""A place or transition: its qualified name, its name relative to the top net, a ref, or name parts."""


class NetChanges:
    """What :class:`~mycorrhizal.hypha.Runner` offers to change the net it runs (see the module)."""

    net: NetSpec
    bb: Any
    _flat: FlatNet
    _names: list[str]
    _places: list[PlaceState]
    _transitions: list[TransitionState]
    _ready: Ready
    _report: Reporter
    _io: IOPlaces
    _inflight: InFlight
    _durable: Durable | None
    _runtime: NetRuntime | None
    _holds: dict[TransitionState, int]
    _stop_callbacks: list[Callable[[], object]]

    def add_place(
        self,
        fqn: Name,
        place_type: PlaceType = PlaceType.QUEUE,
        state_factory: Callable[[], Any] | None = None,
        *,
        capacity: int | None = None,
        initial: Iterable[Any] = (),
    ) -> PlaceRef:
        """Add a plain place to the running net (at ``"sub.name"`` to put it in a subnet); its ref."""
        path = self._path("add_place", fqn)
        spec = PlaceSpec(path[-1], place_type, capacity, tuple(initial), state_factory=state_factory)
        self._apply(with_element(self.net, path, spec), f"add_place({self._q(path)!r})")
        return PlaceRef(".".join(path), self.net.name)

    def add_transition(
        self,
        fqn: Name,
        handler: Callable[..., Any],
        guard: Callable[..., Any] | None = None,
        state_factory: Callable[[], Any] | None = None,
        **options: Any,
    ) -> TransitionRef:
        """Add a transition on ``handler``, declared as the net's builder declares one (the options of
        its ``transition()``; ``inputs=``/``outputs=`` add its arcs); without an input arc it waits
        for one (:meth:`add_arc`).  Its ref."""
        path = self._path("add_transition", fqn)
        builder = self.net.builder_class or NetBuilder
        list_value = options.pop("list_value", None)
        list_value = self._list_value() if list_value is None else list_value
        self._known_options(path, builder, options)
        options.update(guard=guard, state_factory=state_factory)
        spec, arcs = declare_transition(builder, self.net.name, handler, path[-1], options)
        net = with_element(self.net, path, attrs.evolve(spec, list_value=list_value))
        for place, direction, weight in arcs:
            origin = f"transition {'.'.join(path)!r} {direction}puts="
            ends = (path_of(self.net, place), path) if direction == "in" else (path, path_of(self.net, place))
            net = with_arc(net, *ends, weight, None, origin)
        self._apply(net, f"add_transition({self._q(path)!r})")
        return TransitionRef(".".join(path), self.net.name)

    def add_arc(self, source_fqn: Name, target_fqn: Name, weight: int = 1, name: str | None = None) -> None:
        """Add an arc place -> transition or transition -> place to the running net (0.x's parameter
        names)."""
        src, dst = self._path("add_arc", source_fqn), path_of(self.net, target_fqn)
        change = f"add_arc({self._q(src)!r}, {self._q(dst)!r})"
        self._apply(with_arc(self.net, src, dst, weight, name), change)

    async def remove_arc(self, src: Name, dst: Name) -> None:
        """Remove the arc from ``src`` to ``dst``, once the firings in flight of its transition have ended."""
        source, target = self._path("remove_arc", src), path_of(self.net, dst)
        ends = [".".join(source), ".".join(target)]
        transition = [n for n in ends if isinstance(self.net.lookup(n), TransitionSpec)]
        await self._settled(transition, lambda: without_arc(self.net, source, target))
        change = f"remove_arc({self._q(source)!r}, {self._q(target)!r})"
        self._apply(without_arc(self.net, source, target), change)

    async def remove(self, fqn: Name, *, tokens_to: Name | None = None) -> None:
        """Remove a place or transition and its arcs, once the firings in flight that touch it have
        ended.  A place that holds tokens needs ``tokens_to=`` (another place, which gets them)."""
        path = self._path("remove", fqn)
        qname = ".".join(path)
        _, found = without(self.net, path)
        if isinstance(found, PlaceSpec) and found.kind is not PlaceKind.PLAIN:
            raise ExecutionError(
                f"place {self._q(path)!r} is an IO place, which a running net cannot lose (its source or "
                "sink runs with the runner). Fix: stop the runner and build a net without it",
                place=self._q(path),
            )
        let_go = self._let_go if isinstance(found, TransitionSpec) else None
        await self._settled([qname], lambda: without(self.net, path)[0], let_go)
        spec, _ = without(self.net, path)
        target = None if tokens_to is None else ".".join(path_of(self.net, tokens_to))
        self._apply(spec, f"remove({self._q(path)!r})", moved=None if target is None else (qname, target))

    # -- how a change is made ---------------------------------------------------------------------

    def _path(self, call: str, name: Name) -> Path:
        """The path of ``name``, once it is clear the runner may change now."""
        if self._ready.loop is None:
            raise ExecutionError(
                f"runner.{call}(): net {self.net.name!r} has not been started. Fix: start() the runner first "
                "(or declare the element with the builder)"
            )
        if self._durable is not None:
            raise ExecutionError(
                f"runner.{call}(): the run of net {self.net.name!r} is journaled, and recovery rebuilds it "
                "from the net given to recover(). Fix: build the changed net and start a new run instead"
            )
        if self._ready.in_pass:
            raise ExecutionError(
                f"runner.{call}() was called inside a scheduler pass of net {self.net.name!r} (a handler "
                "before its first await, a guard, an inline sink or observer). Fix: make the change from "
                "outside the net, or after an await"
            )
        return path_of(self.net, name)

    def _known_options(self, path: Path, builder: type[NetBuilder], options: dict[str, Any]) -> None:
        """Refuse (naming the transition) an option the builder of the net does not take."""
        accepted = transition_options(builder)
        unknown = sorted(set(options) - accepted)
        if unknown:
            problem = Problem(
                f"transition {self._q(path)!r}",
                f"runner.add_transition() got {', '.join(unknown)}, which {builder.__name__}.transition(), "
                f"the builder of net {self.net.name!r}, does not take",
                f"pass only its options ({', '.join(sorted(accepted))}; the first argument names the "
                "transition), or build the net with a builder that takes them",
            )
            raise DefinitionTypeError([problem], what=f"net {self.net.name!r}")

    def _q(self, path: Path) -> str:
        return ".".join((self.net.name, *path))

    def _list_value(self) -> ListValue:
        """How a transition added to this net reads a list output value: as the net's transitions do."""
        for ft in self._flat.transitions:
            return ft.spec.list_value
        return ListValue.SEVERAL

    async def _settled(
        self,
        touched: list[str],
        change: Callable[[], NetSpec],
        then: Callable[[list[TransitionState]], Awaitable[None]] | None = None,
    ) -> None:
        """Check the change, then hold the transitions it touches and wait until none is in flight;
        ``then(transitions named)`` is awaited after that, while they are still held."""
        _plan(change())  # an invalid change fails now, not after the wait
        holding = self._touching(touched)
        holds = self._holds
        for t in holding:
            holds[t] = holds.get(t, 0) + 1
            t.concurrency = 0
        try:
            while any(t.inflight for t in holding) or self._inflight.settling:
                tasks = list(self._inflight.tasks)
                if tasks:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(0)
            if then is not None:
                named = {f"{self._flat.name}.{n}" for n in touched}
                await then([t for t in holding if t.qname in named])
        finally:
            for t in holding:
                holds[t] -= 1
                if not holds[t]:
                    del holds[t]
                    t.concurrency = t.flat.spec.concurrency if t.inputs else 0
                    self._ready.mark(t)

    async def _let_go(self, removed: list[TransitionState]) -> None:
        """Call the ``transition_removed()`` hook of the values in the memory of the ``removed``
        transitions, and drop the stop callbacks that are their methods (see the module)."""
        values = [(t.qname, key, value) for t in removed for key, value in t.memory.items()]
        for qname, key, value in values:
            hook = getattr(value, "transition_removed", None)
            if not callable(hook):
                continue
            try:
                await resolve(hook())
            except Exception:  # (as a stop callback that raises: the removal goes on)
                log.exception(
                    "transition %s: transition_removed() of its ctx.memory[%r] raised; the transition "
                    "is removed all the same (make the hook close what it can without raising)",
                    qname,
                    key,
                )
        gone = [value for _, _, value in values]
        self._stop_callbacks[:] = [
            callback
            for callback in self._stop_callbacks
            if not any(getattr(callback, "__self__", _NO_OWNER) is value for value in gone)
        ]

    def _touching(self, names: list[str]) -> list[TransitionState]:
        """The transitions named, and those with an arc to or from a place named."""
        qnames = {f"{self._flat.name}.{n}" for n in names}
        found = [t for t in self._transitions if t.qname in qnames]
        for p in self._places:
            if p.qname in qnames:
                found.extend(t for t in (*p.consumers, *p.producers) if t not in found)
        return found

    def _apply(self, spec: NetSpec, change: str, *, moved: tuple[str, str] | None = None) -> None:
        """Move the runner onto ``spec`` in one step (see the module)."""
        flat = _plan(spec)
        old_places = {p.qname: p for p in self._places}
        old_transitions = {t.qname: t for t in self._transitions}
        kept = {fp.qname for fp in flat.places}
        gone = [p for q, p in old_places.items() if q not in kept]
        move = self._check(flat, gone, old_transitions, moved)
        places = [self._place_for(fp, old_places.get(fp.qname)) for fp in flat.places]
        levels = {t.flat.spec.priority: t.ready for t in self._transitions}
        transitions: list[TransitionState] = []
        added: list[TransitionState] = []
        for ft in flat.transitions:
            t = old_transitions.pop(ft.qname, None)
            queue = levels.setdefault(ft.spec.priority, deque())
            if t is None:
                t = TransitionState(ft, places, queue)
                added.append(t)
            else:
                _rewire(t, ft, places)
            transitions.append(t)
        for t in old_transitions.values():  # removed: no firing in flight (_settled waited)
            t.retry.cancel()
            if t.queued:
                t.ready.remove(t)
                t.queued = False
        self._commit(spec, flat, places, transitions, levels, added, change)
        if move is not None:
            source, into = move
            self._io.put(into, source.in_take_order(), False)

    def _check(
        self,
        flat: FlatNet,
        gone: list[PlaceState],
        old_transitions: dict[str, TransitionState],
        moved: tuple[str, str] | None,
    ) -> tuple[PlaceState, PlaceState] | None:
        """Refuse a change that would lose a token or a firing; (removed place, place its tokens go to)."""
        for ft in flat.transitions:
            t = old_transitions.get(ft.qname)
            if t is not None and t.inflight and not _extends(t, ft, flat):
                raise ExecutionError(
                    f"transition {t.qname!r} has {t.inflight} firing(s) in flight, which must end under the "
                    "input arcs they took their tokens from. Fix: make this change when none is in flight",
                    transition=t.qname,
                )
        move = None
        for p in gone:
            if moved is not None and p.qname == f"{self._flat.name}.{moved[0]}":
                into = self._destination(p, f"{self._flat.name}.{moved[1]}", flat)
                move = None if into is None else (p, into)
            elif p.tokens:
                raise ExecutionError(
                    f"place {p.qname!r} holds {len(p.tokens)} token(s), which removing it would lose. "
                    "Fix: pass tokens_to='another place' to move them, or take them out first",
                    place=p.qname,
                )
        return move

    def _destination(self, p: PlaceState, qname: str, flat: FlatNet) -> PlaceState | None:
        target = next((q for q in self._places if q.qname == qname), None)
        if target is None or qname not in {fp.qname for fp in flat.places}:
            raise ExecutionError(
                f"tokens_to={qname!r}: the net has no such place to move the tokens of {p.qname!r} into. "
                "Fix: name a place that stays in the net",
                place=qname,
            )
        room = target.room()
        if room is not None and room < len(p.tokens):
            raise ExecutionError(
                f"place {qname!r} has room for {room} token(s), not the {len(p.tokens)} of {p.qname!r}. "
                "Fix: make room first, or move them elsewhere",
                place=qname,
            )
        return target if p.tokens else None

    def _place_for(self, fp: Any, p: PlaceState | None) -> PlaceState:
        if p is None:
            p = PlaceState(fp)
        p.index = fp.index
        return p

    def _commit(
        self,
        spec: NetSpec,
        flat: FlatNet,
        places: list[PlaceState],
        transitions: list[TransitionState],
        levels: dict[int, deque[TransitionState]],
        added: list[TransitionState],
        change: str,
    ) -> None:
        """Make the new records the runner's (its collaborators share these very lists)."""
        for fp in flat.places:
            if fp.error_place is not None:
                places[fp.index].error_place = places[fp.error_place]
        self._places[:] = places
        self._transitions[:] = transitions
        connect(places, transitions)
        priorities = sorted({t.flat.spec.priority for t in transitions}, reverse=True)
        self._ready.levels[:] = [levels[prio] for prio in priorities]
        bind_handlers(added, self.bb, self)
        teach_memory_codecs(self, [t.flat for t in added])
        self.net, self._flat = spec, flat
        self._names[:] = [p.qname for p in places]
        if self._runtime is not None:
            self._runtime.refresh(self, flat, places, transitions, self._io)
        for t in self._holds:
            t.concurrency = 0  # still held by a removal waiting for its firings
        log.info("net %s: changed while running: %s", spec.name, change)
        if self._report.watched:
            now = self._report.timebase.now()
            self._report.emit(NetChanged(source=spec.name, time=now, change=change, net=spec))
        for t in transitions:
            self._ready.mark(t)


_NO_OWNER = object()
"""The owner of a stop callback that is no bound method (a value in no transition's memory)."""


def _plan(spec: NetSpec) -> FlatNet:
    """Check and compile a changed net; a transition without an input arc is allowed (it waits for one)."""
    waiting = [p for p in problems_of(spec) if p.message == no_input("").message]
    return compile_net(spec, moot=waiting)


def _extends(t: TransitionState, ft: Any, flat: FlatNet) -> bool:
    """Whether ``ft``'s input arcs begin with ``t``'s current ones (so firings in flight give back right)."""
    old = [(p.qname, w) for p, w in t.inputs]
    new = [(flat.places[i].qname, w) for i, w in ft.inputs]
    return new[: len(old)] == old


def _rewire(t: TransitionState, ft: Any, places: list[PlaceState]) -> None:
    """Give ``t`` its new arcs; the room its firings in flight hold in bounded places follows them."""
    # A new bounded output may so be overbooked (they started without checking room there): it then
    # takes no token from elsewhere until they end, and commits still check the real room.
    before = {p: held(t, p) for p, _ in t.holds}
    t.wire(ft, places)
    if t.inflight:
        for p, hold in t.holds:
            p.reserved += (hold - before.pop(p, 0)) * t.inflight
        for p, hold in before.items():
            p.reserved -= hold * t.inflight
