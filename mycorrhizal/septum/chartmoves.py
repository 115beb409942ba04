"""Taking a statechart's transitions: SCXML's microstep (leave, act, enter) on a :class:`Charting` engine.

:mod:`.chartsteps` chooses the transitions of a step; this module takes them together: every state
they leave is left innermost first (reverse document order; the history of a compound state with
history is recorded before anything is left), then the actions run in the order the transitions
were chosen (a targetless transition's too, though it leaves and enters nothing), then every state
they enter is entered outermost first (document order).  A hook that raises does not stop the
microstep; its failure is collected and reported when the step is done.
"""

from __future__ import annotations

import asyncio
from logging import INFO
from typing import Any, Protocol

from . import hierarchy, moves, report
from .events import StateLeft, make_entered
from .failures import HookFailed, Unwind, handle_it, handler_error, tell_failed
from .hierarchy import ChartNode
from .history import DEEP_HISTORY, HISTORY
from .plan import Op
from .targets import AGAIN, POP, PUSH, REPEAT, RESTART, RETRY, UNHANDLED

__all__ = [
    "Cancelled",
    "Charting",
    "Taken",
    "enter_all",
    "failure",
    "hop",
    "microstep",
    "remember",
    "sibling",
]


class Charting(moves.Moving, Protocol):
    """The part of a :class:`~.chart.ChartEngine` a step reads and changes."""

    active: dict[ChartNode, None]
    child: dict[ChartNode, ChartNode]
    top: ChartNode | None
    owing: set[ChartNode]
    counts: dict[ChartNode, int]
    remembered: dict[ChartNode, tuple[ChartNode, ...]]
    acting: ChartNode | None
    cut: ChartNode | None
    clock: Any
    mailbox: Any

    def focus(self, node: ChartNode) -> None: ...
    def emit_left(self, node: Any, label: Any, target: Any, every_observer: bool = False) -> None: ...
    def disarm_node(self, node: ChartNode) -> None: ...
    def finish(self, node: ChartNode) -> None: ...
    async def _route(self, node: Any, role: str, exc: BaseException, what: str | None = None) -> None: ...


class Cancelled(HookFailed):
    """The run was cancelled in a hook of a microstep: held until the microstep is done (:func:`failure`)."""


_CANCELLED = "the run was cancelled in the same step (the cancellation is raised)"
_NOT_FIRST = "a hook of the same step failed before (that failure is routed, or raised)"


def failure(e: Charting, errors: list[HookFailed]) -> HookFailed | None:
    """What a microstep's hooks did wrong: the first failure (None if none), unless the run was
    cancelled in one of them, which is raised now (a cancellation is never routed).  Only one
    failure is routed or raised: every other one is logged and told (:func:`_unrouted`)."""
    for failed in errors:
        if isinstance(failed, Cancelled):
            _unrouted(e, errors, _CANCELLED)
            raise failed.exc
    if not errors:
        return None
    _unrouted(e, errors[1:], _NOT_FIRST)
    return errors[0]


def _unrouted(e: Charting, errors: list[HookFailed], why: str) -> None:
    """Failures of hooks of the step that are neither routed (a cancelled run runs no error
    handling; a step routes its first failure only) nor raised: each is logged, and told to
    observers as a failure that goes nowhere (``routed_to`` None), lest it vanish."""
    msg = None if e.ctx is None else e.ctx.msg
    for failed in errors:
        if not isinstance(failed, Cancelled):
            error = handler_error(failed.node, failed.role, failed.exc, msg, failed.what)
            report.unrouted(e.spec.shown, error, why, handle_it(failed.exc, failed.role, failed.what))
            tell_failed(e, failed.node, failed.role, error, None)


async def _hold(e: Charting, node: ChartNode, role: str, errors: list[HookFailed], call: Any) -> Any:
    """Await ``call`` (a hook of ``node``): a failure or a cancellation of the run joins ``errors``.

    A cancellation does not stop the microstep halfway, as a failure does not: a compound state left
    without its children, or entered without its initial child, would be no configuration at all.
    The microstep goes on (its other hooks run) and the cancellation is raised once it is done.
    """
    try:
        return await call
    except HookFailed as failed:
        errors.append(failed)
    except asyncio.CancelledError as exc:
        if isinstance(exc, Unwind):  # the synchronous door unwinding: nothing may run any more
            raise
        errors.append(Cancelled(node, role, exc))
    return None


class Taken:
    """One transition being taken: from ``source`` by ``op`` to ``target``; ``where``: its domain."""

    __slots__ = ("source", "op", "target", "where", "exits", "retry", "stays")

    def __init__(self, source: ChartNode, op: Op, target: ChartNode, retry: int) -> None:
        self.source, self.op, self.target, self.retry = source, op, target, retry
        kind = op.kind
        #: A targetless transition (``Unhandled``, ``Again``): it leaves and enters nothing, its action runs.
        self.stays = kind == AGAIN or kind == UNHANDLED
        self.where = hierarchy.domain(source, target, kind == HISTORY or kind == DEEP_HISTORY)
        self.exits: set[ChartNode] = set()


async def microstep(e: Charting, taken: list[Taken], errors: list[HookFailed]) -> list[ChartNode]:
    """Take ``taken`` together: leave, act, enter.  The composite states that completed."""
    leaving = sorted(set().union(*(t.exits for t in taken)), key=lambda n: -n.order)
    remember(e, leaving)
    for node in leaving:
        t = next(t for t in taken if node in t.exits)
        await _leave(e, node, t.op.label, t.target, errors, node is not t.source)
    info, goes = report.info_enabled(), taken
    for t in taken:
        if t.stays:  # a targetless transition enters nothing (a list only then: the step loop is hot)
            goes = [t for t in taken if not t.stays]
        else:
            _restack(e, t)
            _recount(e, t, leaving)
            if info:
                how = f" retry {t.retry + 1}" if t.op.kind == RETRY else _HOW.get(t.op.kind, "")
                report.moved(e.spec.shown, t.source.name, t.op.label, how, t.target.name)
        if t.op.action is not None:
            await _hold(e, t.source, "action", errors, moves._act(e, t.source, t.op))
    moves_in = [
        (hierarchy.targets(t.op, e.remembered) if _remembers(t) else [t.target], t.where) for t in goes
    ]
    completed: list[ChartNode] = []
    for node in hierarchy.entry_set(moves_in):
        t = next((t for t, (first, _) in zip(goes, moves_in, strict=True) if _covers(first, node)), goes[0])
        await _enter(e, node, t.source, t.op.label, errors, completed)
    return completed


def remember(e: Charting, leaving: list[ChartNode]) -> None:
    """Record the history of each state of ``leaving`` that has one: the states active inside it
    (document order), before any of them is left."""
    for node in leaving:
        if node.remembers:
            inside = (n for n in e.active if node in n.ancestors)
            e.remembered[node] = tuple(sorted(inside, key=lambda n: n.order))


_HOW = {REPEAT: " repeat", RESTART: " restart", PUSH: " push", POP: " pop", HISTORY: " history"}
_HOW[DEEP_HISTORY] = " deep history"


def _remembers(t: Taken) -> bool:
    return t.op.kind == HISTORY or t.op.kind == DEEP_HISTORY


def _covers(first: list[ChartNode], node: ChartNode) -> bool:
    return any(f.within(node) or node.within(f) for f in first)


def _restack(e: Charting, t: Taken) -> None:
    if t.op.kind == PUSH:
        if e.stack is None:
            e.stack = []
        e.stack.extend(reversed(t.op.stack))
    elif t.op.kind == POP:
        e.stack.pop()  # type: ignore[union-attr]


def _recount(e: Charting, t: Taken, leaving: list[ChartNode]) -> None:
    """Counts start again for every state left, except the one a Retry or Repeat re-enters."""
    for node in leaving:
        e.counts.pop(node, None)
    kind = t.op.kind
    if kind == RETRY:
        e.counts[t.source] = t.retry + 1
    elif kind == REPEAT and t.retry:
        e.counts[t.source] = t.retry


async def sibling(e: Charting, source: ChartNode, op: Op, errors: list[HookFailed]) -> list[ChartNode]:
    """Take ``op``, a transition between two atomic children of one compound state (``op.fast``):
    the microstep of a transition that leaves ``source`` and enters its target, and nothing else.
    The composite states that completed.  (The common step of a statechart: no set is built.)"""
    target: ChartNode = op.target  # type: ignore[assignment]
    label = op.label
    if source.on_leave is not None:
        await _leave_hook(e, source, errors)
    _left(e, source, label, target)
    e.counts.pop(source, None)
    if report.info_enabled():
        report.moved(e.spec.shown, source.name, label, "", target.name)
    if op.action is not None:
        await _hold(e, source, "action", errors, moves._act(e, source, op))
    _arrive(e, target, source, label, None if e.ctx is None else e.ctx.msg)
    if target.on_enter is not None:
        await _enter_hook(e, target, errors)
    if target.terminal and target.on_state is not None:
        await _final_run(e, target, errors)
    completed: list[ChartNode] = []
    _landed(e, target, completed)
    return completed


def hop(e: Charting, source: ChartNode, op: Op) -> list[ChartNode]:
    """:func:`sibling` when neither state has a hook and the transition no action: nothing awaits
    (an entry run's transition: the step handled no message)."""
    target: ChartNode = op.target  # type: ignore[assignment]
    label = op.label
    _left(e, source, label, target)
    e.counts.pop(source, None)
    if report.LEVELS.get(INFO) is not False and report.info_enabled():
        report.moved(e.spec.shown, source.name, label, "", target.name)
    _arrive(e, target, source, label, None)
    completed: list[ChartNode] = []
    _landed(e, target, completed)
    return completed


async def _leave(
    e: Charting, node: ChartNode, label: Any, target: ChartNode, errors: list[HookFailed], to_all: bool
) -> None:
    if node.on_leave is not None:
        await _leave_hook(e, node, errors)
    _left(e, node, label, target, to_all)


async def _leave_hook(e: Charting, node: ChartNode, errors: list[HookFailed]) -> None:
    e.focus(node)
    await _hold(e, node, "on_leave", errors, moves.hook(e, node, "on_leave"))


def _left(e: Charting, node: ChartNode, label: Any, target: ChartNode, to_all: bool = False) -> None:
    """``node`` is no longer active (its on_leave has run); ``to_all``: its ``StateLeft`` goes to every
    observer (a state the transition leaves besides its source), else only to those asking."""
    if node.timeout is not None:
        e.disarm_node(node)
    del e.active[node]
    e.owing.discard(node)
    parent = node.parent
    if parent is None:
        if e.top is node:
            e.top = None
    elif e.child.get(parent) is node:
        del e.child[parent]
    observers = e.observers
    # The transition's source on request, as in a flat machine: each StateEntered that follows
    # names it (``previous``) and the label.  The other states a transition leaves (the source's
    # descendants or ancestors, other regions) no record names: told to everyone.
    if observers is not None and (to_all or observers.direct is None and StateLeft in observers.requested):
        e.emit_left(node, label, target, to_all)


async def _enter(
    e: Charting,
    node: ChartNode,
    previous: ChartNode | None,
    label: Any,
    errors: list[HookFailed],
    completed: list[ChartNode],
) -> None:
    _arrive(e, node, previous, label, None if e.ctx is None else e.ctx.msg)
    if node.on_enter is not None:
        await _enter_hook(e, node, errors)
    if node.terminal and node.on_state is not None:
        await _final_run(e, node, errors)
    _landed(e, node, completed)


def _arrive(e: Charting, node: ChartNode, previous: ChartNode | None, label: Any, msg: Any) -> None:
    """``node`` is active (before its on_enter), entered in a step handling ``msg``."""
    e.active[node] = None
    parent = node.parent
    if parent is None:
        e.top = node
    elif not parent.parallel:
        e.child[parent] = node
    if node.timeout is not None:
        e.arm(node)  # measured from entry, so on_enter's own time counts
    observers = e.observers
    if observers is not None:  # e.emit_entered(node, previous, label, msg), written out: every transition
        last, read = None if previous is None else previous.name, observers.now  # (a slot's function)
        entered, send = make_entered((e.spec.shown, read(), node.name, last, label, msg)), observers.send
        try:
            if (result := send(entered)) is not None:
                observers.returned(send, result)
        except Exception as exc:
            observers.failed(send, exc, entered)


async def _enter_hook(e: Charting, node: ChartNode, errors: list[HookFailed]) -> None:
    e.focus(node)
    await _hold(e, node, "on_enter", errors, moves.hook(e, node, "on_enter"))


async def _final_run(e: Charting, node: ChartNode, errors: list[HookFailed]) -> None:
    """A terminal state's ``on_state`` runs once, on arrival (after its on_enter), with no message;
    its label is ignored (as in a flat machine).  The states entered after it see the step's message."""
    ctx = e.ctx
    assert ctx is not None  # a started machine has its ctx
    msg, ctx.msg = ctx.msg, None
    e.focus(node)
    try:
        await _hold(e, node, "on_state", errors, moves.hook(e, node, "on_state"))
    finally:
        ctx.msg = msg


def _landed(e: Charting, node: ChartNode, completed: list[ChartNode]) -> None:
    """After ``node``'s on_enter: an atomic state owes its entry run, or completes what holds it."""
    if node.composite:
        return
    parent = node.parent
    if not node.terminal:
        e.owing.add(node)
    elif parent is None:
        e.finish(node)
    else:
        completed.append(parent)
        # Each parallel state around it whose regions are now all final completes too: a parallel
        # region of a parallel state completes it as a compound region does.
        grand = parent.parent
        while grand is not None and grand.parallel and hierarchy.in_final(grand, e.active):
            completed.append(grand)
            grand = grand.parent


async def enter_all(
    e: Charting, nodes: list[ChartNode], previous: ChartNode | None, label: Any, errors: list[HookFailed]
) -> list[ChartNode]:
    completed: list[ChartNode] = []
    for node in nodes:
        await _enter(e, node, previous, label, errors, completed)
    return completed
