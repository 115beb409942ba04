"""One step of a statechart: who handles what was taken, which transitions follow, and taking them.

A step starts from what the engine took (:mod:`.chart`): the entry runs that active states owe, one
state's fired timeout, or a message.  A message is *offered* to the active states, innermost first:
a compound state passes it to its active child, a parallel state to every region in document
order, and a state's own ``on_state`` sees it only when everything inside declined it (returned
None).  Each label a handler returns is looked up in its state's transitions and, when not declared
there or when no guard there passes, in the enclosing states' (the label *bubbles*); the state whose
transition is found is the transition's *source*.

The transitions a step chose are then taken together, as SCXML's microstep: conflicting ones are
dropped (two conflict when they would leave a common state: the one from the inner source wins,
else the earlier), every state they leave is left innermost first (history recorded before), the
actions run (a targetless transition's too: it leaves nothing), and every state they enter is
entered outermost first.  Completing a composite state
takes its ``Completed`` transition in a further microstep of the same step (one microstep for each
state completed, in document order, as SCXML takes its ``done.state`` events).  A hook that raises does
not stop a microstep (as in SCXML): the first failure is routed once the step's transitions are done.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from functools import partial
from typing import Any

from ..common.errors import ExecutionError
from . import chartmoves, guards, hierarchy, moves, report
from .chartmoves import Charting, Taken
from .clock import INTERRUPTED
from .compound import Completed
from .events import StateCompleted, StateRetried, StepCancelled
from .failures import (
    REENTERED,
    HookFailed,
    destination,
    empty_stack,
    handle_it,
    handler_error,
    raised_itself,
    retry_after_fail,
    stack_too_deep,
    unawaited,
    undeclared,
    unrouted_drive,
)
from .hierarchy import ChartNode, TimerMarker
from .mishaps import ENTRY_RUN
from .plan import Op, label_text
from .targets import AGAIN, POP, PUSH, REPEAT, RESTART, RETRY, UNHANDLED

__all__ = ["route", "start", "step"]

Pick = tuple[ChartNode, Any, str]  # (state whose handler answered, its label, the handler's role)


class _Failed(Exception):
    """A handler raised while a step chose its transitions (the step ends; the engine routes it)."""

    def __init__(self, node: ChartNode, role: str, exc: BaseException) -> None:
        self.node, self.role, self.exc, self.what = node, role, exc, role


def _order(node: ChartNode) -> int:
    return node.order


# --- starting, and what a step takes -------------------------------------------------------------


async def start(e: Charting) -> None:
    """Enter the initial configuration (the engine's ``initialize``)."""
    errors: list[HookFailed] = []
    entering = hierarchy.entry_set([([e.spec.initial], None)])  # type: ignore[list-item]
    completed = await chartmoves.enter_all(e, entering, None, None, errors)
    await _complete(e, completed, errors)
    failed = chartmoves.failure(e, errors)
    if failed is not None:
        await e._route(failed.node, failed.role, failed.exc, failed.what)


async def step(e: Charting, took: Any) -> bool:
    """One step: handle what the engine took and take the transitions it leads to.  True when the
    step left the engine settled (focused on the innermost active state, its phase set)."""
    try:
        owing = e.owing
        if took is ENTRY_RUN and len(owing) == 1:  # the common case: one atomic state is active
            leaf = next(iter(owing))
            label = await _call(e, leaf, "on_state", ENTRY_RUN)
            owing.discard(leaf)
            if label is None:
                return False
            op = leaf.by_id.get(id(label))
            if (
                op is not None
                and op.fast
                and op.action is None
                and leaf.on_leave is None
                and op.target.on_enter is None  # type: ignore[union-attr]  # fast: a state
                and not (op.target.terminal and op.target.on_state is not None)  # type: ignore[union-attr]
            ):
                completed = chartmoves.hop(e, leaf, op)  # to a sibling, with no code on the way
                if completed:
                    errors: list[HookFailed] = []
                    await _complete(e, completed, errors)
                    _raise_failure(e, errors)
                elif not e.spec.has_parallel:  # type: ignore[attr-defined]  # a ChartSpec
                    # No parallel state: the active states are a chain, and the target now ends it.
                    e.node, e.retry, e.phase = op.target, 0, moves.ENTRY  # type: ignore[assignment]
                    return True
                return False
            await _dispatch(e, [(leaf, label, "on_state")])
            return False
        if took is ENTRY_RUN:
            picks = await _entry_runs(e)
        elif isinstance(took, TimerMarker):
            picks = await _timed_out(e, took)
        else:
            picks = await _offer(e, e.top, took)  # type: ignore[arg-type]  # a started machine has one
        await _dispatch(e, picks)
    except (_Failed, HookFailed) as failed:
        await e._route(failed.node, failed.role, failed.exc, failed.what)
    return False


async def _entry_runs(e: Charting) -> list[Pick]:
    picks = []
    owing = e.owing
    for leaf in sorted(owing, key=_order) if len(owing) > 1 else list(owing):
        label = await _call(e, leaf, "on_state", ENTRY_RUN)
        e.owing.discard(leaf)
        if label is not None:
            picks.append((leaf, label, "on_state"))
    return picks


async def _timed_out(e: Charting, marker: TimerMarker) -> list[Pick]:
    node = marker.node
    if report.info_enabled():
        report.timed_out(e.spec.shown, node.name, e.cut is node)
    e.cut = None
    label = await _call(e, node, "on_timeout", marker)
    return [] if label is None else [(node, label, "on_timeout")]


async def _offer(e: Charting, node: ChartNode, msg: Any) -> list[Pick]:
    """Offer ``msg`` to the active states inside ``node``, innermost first, then to ``node``."""
    picks: list[Pick] = []
    if node.parallel:
        for region in node.children:
            picks.extend(await _offer(e, region, msg))
    elif node.composite:
        picks = await _offer(e, e.child[node], msg)
    # A terminal state's on_state ran once, on arrival: one that stays active (its compound state
    # declares no Completed transition, or another region is not done) leaves messages to its parents.
    if picks or node.on_state is None or node.terminal:
        return picks
    label = await _call(e, node, "on_state", msg)
    if e.observers is not None:
        e.emit_handled(node, msg, None if label is INTERRUPTED else label)
    return [] if label is None else [(node, label, "on_state")]


async def _call(e: Charting, node: ChartNode, role: str, took: Any) -> Any:
    """Run handler ``role`` of ``node`` (on_state or on_timeout) and return its label."""
    e.node = node  # ctx.state and ctx.retry_count are about the state whose handler runs
    e.retry = e.counts.get(node, 0)
    state = role == "on_state"
    is_async = node.on_state_async if state else node.on_timeout_async
    try:
        label = (node.on_state if state else node.on_timeout)(e.ctx)  # type: ignore[misc]
        if is_async:
            label = await (_guarded(e, node, label) if node.timed and state else label)
        elif inspect.isawaitable(label):  # a plain function returning an awaitable: its result counts
            label = await label
    except Exception as exc:
        raise _failed(e, node, role, took, exc) from exc
    except asyncio.CancelledError as exc:
        if raised_itself(exc):  # nobody cancelled the run: the handler failed
            raise _failed(e, node, role, took, exc) from exc
        _put_back(e, node, role, took)
        raise
    return label


def _failed(e: Charting, node: ChartNode, role: str, took: Any, exc: BaseException) -> _Failed:
    """``node``'s handler raised: what it handled counts as handled (an entry run is no longer owed,
    as a message is not queued again), so a machine that raises it does not run it again."""
    if took is ENTRY_RUN:
        e.owing.discard(node)
    return _Failed(node, role, exc)


async def _guarded(e: Charting, node: ChartNode, call: Any) -> Any:
    """Await ``node``'s on_state so that the timeout of it (or of a state around it) can interrupt it."""
    clock = e.clock
    assert clock is not None  # a timed state around it is active, so armed
    e.acting = node
    try:
        label = await clock.guard(call)
    finally:
        e.acting = None
    cut = e.cut
    if label is INTERRUPTED and cut is not None and e.mailbox is not None:
        # The timeout that interrupted it is handled next, before anything queued.
        e.mailbox.withdraw(cut.marker)
        e.mailbox.plain.appendleft(cut.marker)
    return label


def _put_back(e: Charting, node: ChartNode, role: str, took: Any) -> None:
    """A handler was cancelled before it returned: what the step took is owed again."""
    if isinstance(took, TimerMarker):
        assert e.mailbox is not None and e.clock is not None
        e.mailbox.put_back(took)
        e.mailbox.markers += 1
        e.clock.fired = True
    elif took is not ENTRY_RUN:
        assert e.mailbox is not None
        e.mailbox.put_back(took)
    message = None if took is ENTRY_RUN or isinstance(took, TimerMarker) else took
    report.cancelled(e.spec.shown, node.name, role, message)
    if e.observers is not None:
        e.emit(StepCancelled, state=node.name, role=role, message=message)


# --- choosing transitions ------------------------------------------------------------------------


def _resolve(e: Charting, node: ChartNode, label: Any, role: str) -> tuple[ChartNode, Op] | None:
    """The (source, op) ``label`` leads to from ``node``, looked up outwards; None: no guard passes."""
    declared, where = False, node
    current: ChartNode | None = node
    while current is not None:
        op = current.lookup(label)
        if op is not None:
            declared = True
            if op.kind == guards.CHOOSE:
                op = moves.choose(e, current, op)
            if op is not None:
                return current, op
        current = current.parent
    if not declared:
        raise unawaited(where, role, label) if inspect.iscoroutine(label) else undeclared(where, role, label)
    return None


async def _dispatch(e: Charting, picks: list[Pick]) -> None:
    taken = []
    for node, label, role in picks:
        if label is INTERRUPTED:
            continue
        found = _resolve(e, node, label, role)
        if found is not None and found[1].fast and len(picks) == 1:
            errors: list[HookFailed] = []  # between two atomic siblings: nothing else can be left
            completed = await chartmoves.sibling(e, node, found[1], errors)
            if completed:
                await _complete(e, completed, errors)
            _raise_failure(e, errors)
            return
        if found is not None:
            chosen = await _plan(e, node, found[0], found[1])
            if chosen is not None:
                taken.append(chosen)
    if taken:
        errors = []
        await _complete(e, await chartmoves.microstep(e, _without_conflicts(e, taken), errors), errors)
        _raise_failure(e, errors)


def _raise_failure(e: Charting, errors: list[HookFailed]) -> None:
    """Raise what the hooks of the step's microsteps did wrong (a cancellation first), if anything."""
    failed = chartmoves.failure(e, errors)
    if failed is not None:
        raise failed


async def _plan(e: Charting, trigger: ChartNode, source: ChartNode, op: Op) -> Taken | None:
    """What ``op`` (from ``source``, for a label of ``trigger``) does: stay, or a transition to take."""
    kind = op.kind
    if kind == AGAIN or kind == UNHANDLED:
        if kind == AGAIN:
            e.owing.update(n for n in e.active if not n.composite and n.within(trigger))
        elif e.ctx is not None and e.ctx.msg is not None:
            e.unhandled += 1
            if report.info_enabled():
                report.unhandled(e.spec.shown, trigger.name, e.ctx.msg, e.unhandled)
        # A targetless transition with an action is taken with the others: its action runs after
        # the microstep's exits, among the actions in document order (SCXML's microstep).
        return None if op.action is None else Taken(source, op, source, 0)
    retry = e.counts.get(source, 0)
    if kind == RETRY and source.retries is not None and retry >= source.retries:
        return await _fail(e, source, retry)
    return _transition(e, source, op, retry)


async def _fail(e: Charting, source: ChartNode, retry: int) -> Taken | None:
    """``Retry`` with ``source``'s budget spent: its ``on_fail`` says where to go."""
    if report.info_enabled():
        report.out_of_retries(e.spec.shown, source.name, retry)
    e.focus(source)
    label = await moves.hook(e, source, "on_fail")
    if label is None:
        return None
    found = _resolve(e, source, label, "on_fail")
    if found is None:
        return None
    if found[1].kind == RETRY:
        raise retry_after_fail(source, label)
    return await _plan(e, source, found[0], found[1])


def _transition(e: Charting, source: ChartNode, op: Op, retry: int) -> Taken:
    kind = op.kind
    if kind == POP:
        if not e.stack:
            raise empty_stack(source, op.label)
        target: ChartNode = e.stack[-1]  # type: ignore[assignment]
    elif kind == RETRY or kind == REPEAT or kind == RESTART:
        target = source
    else:
        target = op.target  # type: ignore[assignment]
    depth = len(e.stack or ()) + len(op.stack)
    if kind == PUSH and depth > e.options.max_stack_depth:
        raise stack_too_deep(source, op.label, depth, e.options.max_stack_depth)
    return Taken(source, op, target, retry)


def _without_conflicts(e: Charting, taken: list[Taken]) -> list[Taken]:
    """SCXML's rule: of two transitions leaving a common state, the one from the inner source wins,
    else the one chosen first.  Observers are told the retries among those kept."""
    kept: list[Taken] = []
    for t in taken:
        if t.stays:  # a targetless transition leaves nothing, so conflicts with nothing (SCXML)
            kept.append(t)
            continue
        t.exits = set(hierarchy.exit_set(e.active, t.where))
        beaten = False
        for other in list(kept):
            if t.exits & other.exits:
                if t.source is not other.source and t.source.within(other.source):
                    kept.remove(other)
                else:
                    beaten = True
                    break
        if not beaten:
            kept.append(t)
    if e.observers is not None:  # a retry is told once it is sure to be taken (not beaten by another)
        for t in kept:
            if t.op.kind == RETRY:
                e.emit(StateRetried, state=t.source.name, retry=t.retry + 1, label=t.op.label)
    return kept


# --- taking transitions --------------------------------------------------------------------------


async def _complete(e: Charting, completed: list[ChartNode], errors: list[HookFailed]) -> None:
    """Completed composite states take their ``Completed`` transition (a top-level one with none
    completes the machine), one at a time: SCXML queues one ``done.state.X`` event for each, in the
    order they completed (document order), and takes each in a microstep of its own, so a later
    one's guard sees what an earlier one's action did.  The states a microstep completes queue after."""
    queue = deque(dict.fromkeys(completed))
    while queue and e.phase != moves.DONE:
        node = queue.popleft()
        if node not in e.active:  # left by an earlier completion's transition: its event finds nothing
            continue
        if e.observers is not None:
            e.emit(StateCompleted, state=node.name)
        try:
            found = _completion(e, node)
            chosen = None if found is None else await _plan(e, node, node, found)
        except HookFailed as failed:
            # A guard (or on_fail) raised: it joins the step's failures, so that it is routed
            # like them (also when the machine starts or enters its error state) and a failure
            # of the step before it is not lost.  The completion goes nowhere.
            errors.append(failed)
            return
        if chosen is not None:
            done = await chartmoves.microstep(e, _without_conflicts(e, [chosen]), errors)
            queue.extend(n for n in dict.fromkeys(done) if n not in queue)  # each told completed once
        elif found is None and node.parent is None:
            e.finish(node)
            return


def _completion(e: Charting, node: ChartNode) -> Op | None:
    op = node.lookup(Completed)
    if op is not None and op.kind == guards.CHOOSE:
        op = moves.choose(e, node, op)
    return op


# --- errors --------------------------------------------------------------------------------------


def _refused(e: Charting, node: ChartNode, dest: Any) -> ExecutionError | None:
    """Why a statechart cannot go where its ``on_error`` hook sent it (None: it can)."""
    if isinstance(dest, Op):
        return ExecutionError(
            f"machine {e.spec.shown}: on_error returned label {label_text(dest.label)}; a machine with "
            f"compound states takes a state (or None) from its on_error hook. Fix: return the state to "
            f"go to, not a label",
            state=node.name,
        )
    if not isinstance(dest, ChartNode) or dest.state not in e.spec.nodes:
        return ExecutionError(
            f"machine {e.spec.shown}: on_error chose state {dest.name}, which this machine does not hold; "
            f"a machine with compound states can only go to one of its own states. Fix: pass it as "
            f"StateMachine(..., error_state={dest.name}), or return a state the machine can reach",
            state=node.name,
        )
    return None


async def route(e: Charting, node: ChartNode, role: str, exc: BaseException, what: str | None = None) -> None:
    """A handler raised: send the machine to its error hook's state or error state, or raise (``what``:
    as for :func:`~.mishaps.route`)."""
    assert e.ctx is not None
    error_node = e.spec.error
    own = error_node is not None and node.within(error_node)  # type: ignore[arg-type]
    misuse = unrouted_drive(e, node, role, exc, what)
    if misuse is not None:  # a handler driving its own machine: a bug in it, raised, never routed
        raise misuse from None
    error, dest = await destination(e, node, role, exc, own, partial(_refused, e, node), what, labels=False)
    if dest is None:
        raise error
    assert isinstance(dest, ChartNode)
    report.routed(e.spec.shown, error, dest.name)
    # Every active state is abandoned (no on_leave), but a history target means "where we were":
    # what the abandoned states with history held is recorded, as if they were left.
    chartmoves.remember(e, list(e.active))
    for active in list(e.active):
        if active.timeout is not None:
            e.disarm_node(active)
    e.active.clear()
    e.child.clear()
    e.owing.clear()
    e.counts.clear()
    e.top = None
    e.phase = moves.WAIT  # (a terminal state whose on_state failed had completed the machine)
    e.ctx.error = error
    errors: list[HookFailed] = []
    entering = hierarchy.entry_set([([dest], None)])
    await _complete(e, await chartmoves.enter_all(e, entering, node, None, errors), errors)
    failed = chartmoves.failure(e, errors)
    if failed is not None:
        misuse = unrouted_drive(e, failed.node, failed.role, failed.exc, failed.what)
        if misuse is not None:
            raise misuse from None
        fix = handle_it(failed.exc, failed.role, failed.what, REENTERED)
        raise handler_error(failed.node, failed.role, failed.exc, e.ctx.msg, failed.what, fix) from failed.exc
