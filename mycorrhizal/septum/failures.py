"""What goes wrong while a machine runs: the errors it raises, and where a failed handler sends it.

Pure helpers for the engine: each builds an error naming the state (and label or message) at fault
and saying what to do, or asks the ``on_error`` hook where to go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ..common.callables import written_name
from ..common.errors import (
    ExecutionError,
    HandlerError,
    PopFromEmptyStack,
    UndeclaredLabelError,
    did_you_mean,
    fix_last,
)
from .compile import MissingOnTimeout, machine_spec
from .events import HandlerFailed
from .plan import MachineSpec, Node, Op, label_text
from .states import State
from .targets import special

__all__ = [
    "DECLINED",
    "DroveItself",
    "UNROUTED",
    "HookFailed",
    "Unwind",
    "chosen_state",
    "destination",
    "drove_itself",
    "empty_stack",
    "handle_it",
    "handler_error",
    "raised_itself",
    "retry_after_fail",
    "routed_elsewhere",
    "stack_too_deep",
    "tell_failed",
    "unawaited",
    "undeclared",
    "unrouted_drive",
]


class HookFailed(Exception):
    """A handler raised while a transition was being applied (the engine routes it).

    ``what``: how the error's message names the handler (``role`` unless that does not say which
    one: ``guard is_open of label GO``); observers are told ``role``.
    """

    def __init__(self, node: Node, role: str, exc: BaseException, what: str | None = None) -> None:
        self.node, self.role, self.exc, self.what = node, role, exc, what or role


class Unwind(asyncio.CancelledError):
    """The synchronous door unwinding a step it cannot finish: a cancellation, not a handler's failure."""


class DroveItself(ExecutionError):
    """A handler called ``run()``, ``tick()``, ``initialize()`` or ``reset()`` on the machine running it."""

    def __init__(self, message: str, *, machine: Any, call: str, state: str) -> None:
        super().__init__(message, state=state)
        #: The machine the handler tried to drive (the one running it).
        self.machine = machine
        #: What it called, as written: ``run()``, ``tick()``...
        self.call = call


_DRIVE_FIX = (
    ", which would wait for itself for ever. Fix: send a message with ctx.send_message(...) (or return a "
    "label) instead of driving the machine from its own handler"
)


def drove_itself(engine: Any, call: str, state: str | None = None, who: str = "a handler") -> DroveItself:
    """The refusal of ``call`` by a handler (``who``) of ``engine`` in ``state`` (default: where it is),
    which is running it (the engine's route, which knows which handler it was, raises it named for
    that handler: :func:`unrouted_drive`)."""
    state = engine.node.name if state is None else state
    return DroveItself(
        f"machine {engine.spec.shown}: state {state}: {who} called {call} on its own machine{_DRIVE_FIX}",
        machine=engine,
        call=call,
        state=state,
    )


def unrouted_drive(
    e: Any, node: Node, role: str, exc: BaseException, what: str | None = None
) -> DroveItself | None:
    """What to raise, never routed, if ``exc`` is the refusal of ``node``'s ``role`` (named ``what``)
    driving its own machine ``e``: a bug in the machine, as an undeclared label is; else None.

    A refusal of another machine, driven from this handler, is this handler's failure like any other.
    """
    if not isinstance(exc, DroveItself) or exc.machine is not e:
        return None
    error = drove_itself(e, exc.call, node.name, what or role)
    return error.with_traceback(exc.__traceback__)  # down to the handler's line that called it


def raised_itself(exc: asyncio.CancelledError) -> bool:
    """Whether a handler raised ``exc`` itself (a failure) rather than its run being cancelled.

    A real cancellation - ``task.cancel()``, ``asyncio.timeout()``, the synchronous door's unwind -
    leaves the task asking to cancel; a handler that raises CancelledError, or awaits a future that
    someone else cancelled, does not.
    """
    if isinstance(exc, Unwind):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop: the synchronous door, which cancels only with Unwind
        return True
    return task is None or not task.cancelling()


def handler_error(
    node: Node, role: str, exc: BaseException, msg: Any, what: str | None = None, fix: str | None = None
) -> HandlerError:
    """The :class:`HandlerError` for ``exc``, raised by handler ``role`` of ``node`` on ``msg``
    (named ``what`` in the message, if given: see :class:`HookFailed`).

    ``fix``: what to do, given for an error that is raised (none for one routed to the error state or
    hook: it was handled); it ends the message unless ``exc``'s own text says a fix, which wins.
    """
    said = f"{what or role} raised {type(exc).__name__}: {exc}"
    if isinstance(exc, asyncio.CancelledError):
        said = (
            f"{what or role} raised {type(exc).__name__}{f' ({exc})' if str(exc) else ''} although "
            "nothing cancelled the run (a failure like any other). Fix: if it awaited a task or future "
            "that someone else cancelled, catch that CancelledError in the handler"
        )
    elif isinstance(exc, MissingOnTimeout):  # the state has no on_timeout to blame: its message says it
        said = str(exc)
    text = f"state {node.name}: {said}"
    if fix is not None:
        text = fix_last(text, "", otherwise=fix)
    error = HandlerError(text, state=node.name, event=msg)
    error.__cause__ = exc
    return error


UNROUTED = ", or give the machine an error_state (or on_error) to route failures to"
"""How a raised failure could have been routed: the machine has neither error state nor hook."""
DECLINED = ", or have on_error return a state for it (or give the machine an error_state)"
"""How a raised failure could have been routed: the on_error hook returned None, with no error state."""
OWN = " (a failure of the error state itself is raised, never routed again)"


def routed_elsewhere(said: str, endings: Mapping[str, str]) -> str:
    """``said`` (a failure's text) with its fix's ending, :data:`UNROUTED` or :data:`DECLINED`,
    replaced by what ``endings`` gives for it: where an embedder gives the machine its options."""
    for ours, theirs in endings.items():
        if said.endswith(ours):
            return said[: -len(ours)] + theirs
    return said


"""Why a failure of the error state is raised: routing it would only lead back there."""
REENTERED = " (a failure while entering the state chosen for an error is raised, never routed again)"
"""Why a failure entering the state an error was routed to is raised: it would likely go there again."""


def handle_it(exc: BaseException, role: str, what: str | None = None, then: str = "") -> str:
    """The fix of ``exc``, which handler ``role`` (named ``what``) raised and nothing handled: handle it
    there, ``then`` (one of :data:`UNROUTED`, :data:`DECLINED`, :data:`OWN`, :data:`REENTERED`, or
    nothing)."""
    return f"handle {type(exc).__name__} in {what or role}{then}"


def undeclared(node: Node, role: str, label: Any) -> UndeclaredLabelError:
    """``role`` of ``node`` returned a label (or a target) its ``transitions()`` does not declare."""
    shown = repr(label)
    if isinstance(label, State) or special(label):  # a target returned in place of its label
        shown = _as_written(label)
        fix = f"add LabeledTransition(SOME_LABEL, {shown}) or return a declared label"
    else:
        fix = f"add LabeledTransition({label_text(label)}, ...) or return a declared label"
        fix = did_you_mean(label_text(label), _declared_labels(node), fix)
    return UndeclaredLabelError(
        f"state {node.name}: {role} returned {shown}, which its transitions() does not declare. Fix: {fix}",
        state=node.name,
        event=label,
    )


def _as_written(target: Any) -> str:
    """A target as the program writes it (``Retry``, ``Retry()``, ``Busy``), so the fix can be pasted."""
    if isinstance(target, State):
        return target.name
    return target.__name__ if isinstance(target, type) else repr(target)


def _declared_labels(node: Any) -> list[str]:
    """The labels ``node`` and the states around it (in a statechart) declare, as people read them."""
    found: list[str] = []
    while node is not None:
        found.extend(label_text(label) for label in node.table)
        node = getattr(node, "parent", None)
    return found


def unawaited(node: Node, role: str, coroutine: Any) -> ExecutionError:
    """An async handler returned a coroutine it did not await (``return helper()``)."""
    name = written_name(coroutine)  # as the handler calls it, not ``f.<locals>.helper``
    coroutine.close()  # never run: closed here, so Python does not warn that it was never awaited
    return ExecutionError(
        f"state {node.name}: {role} returned the coroutine {name}() instead of a label. "
        f"Fix: write `return await {name}(...)`",
        state=node.name,
    )


def empty_stack(node: Node, label: Any) -> PopFromEmptyStack:
    """``Pop`` with nothing on the stack."""
    return PopFromEmptyStack(
        f"state {node.name}: Pop (label {label_text(label)}) with an empty stack. Fix: Push(...) "
        f"into this state before popping, or target a state",
        state=node.name,
        event=label,
    )


def stack_too_deep(node: Node, label: Any, depth: int, limit: int) -> ExecutionError:
    """``Push`` would leave more states on the stack than the machine allows."""
    return ExecutionError(
        f"state {node.name}: Push (label {label_text(label)}) would make the stack {depth} deep, past "
        f"max_stack_depth={limit} (a state that pushes itself recurses for ever). Fix: Pop before "
        f"pushing again, or build the machine with a larger max_stack_depth",
        state=node.name,
        event=label,
    )


def retry_after_fail(node: Node, label: Any) -> ExecutionError:
    """``on_fail`` asked for ``Retry`` although the retries ran out."""
    return ExecutionError(
        f"state {node.name}: on_fail returned {label_text(label)}, a Retry, after the retries "
        f"ran out. Fix: return a label leading elsewhere",
        state=node.name,
        event=label,
    )


async def chosen_state(
    hook: Callable[..., Any] | None,
    ctx: Any,
    error: HandlerError,
    spec: MachineSpec,
    node: Node,
    labels: bool = True,
) -> Node | Op | None:
    """Where the ``on_error`` hook sends the machine after ``node`` failed with ``error``: the state
    it returns, the transition of the label it returns (0.x's ``on_error_fn``: a label of ``node``,
    taken as if ``node``'s handler had returned it), or None (no hook, or it does not choose).
    ``labels``: the machine may take a label from the hook (a statechart may not)."""
    if hook is None:
        return None
    chosen = hook(ctx, error)
    if asyncio.iscoroutine(chosen):
        chosen = await chosen
    if chosen is None:
        return None
    if isinstance(chosen, State):
        return spec.nodes.get(chosen) or machine_spec(chosen, None).initial
    op = node.lookup(chosen)
    if op is None:
        raise _no_choice(chosen, spec, node, labels) from error.__cause__
    return op


def _no_choice(chosen: Any, spec: MachineSpec, node: Node, labels: bool) -> TypeError:
    """The error for an ``on_error`` hook that returned ``chosen``: no state, nor a label of ``node``."""
    if labels:
        return TypeError(
            f"on_error returned {_as_written(chosen)}, which is neither a septum state nor a label state "
            f"{node.name} declares. Fix: return a state, one of its labels, or None"
        )
    return TypeError(
        f"machine {spec.shown}: on_error returned {chosen!r}, which is not a septum state; a machine "
        f"with compound states takes a state (or None) from its on_error hook. Fix: return the state "
        f"to go to, or None"
    )


async def destination(
    e: Any,
    node: Node,
    role: str,
    exc: BaseException,
    own: bool,
    refuse: Callable[[Node | Op], Exception | None] | None = None,
    what: str | None = None,
    labels: bool = True,
) -> tuple[HandlerError, Node | Op | None]:
    """``exc`` raised by ``node``'s ``role`` on engine ``e``: its error, and where the machine goes: a
    state, a transition of ``node`` (the hook returned a label), or None (raise it).  ``own``: ``node``
    is (inside) the error state, whose errors are never routed again.  ``refuse(dest)``: the error to
    raise instead of going to ``dest`` (an engine that cannot go there), or None.  ``what``: how the
    message names the handler (see :class:`HookFailed`).  ``labels``: the machine may take a label
    from its ``on_error`` hook (a statechart may not).  Observers see :class:`HandlerFailed`."""
    error = handler_error(node, role, exc, e.ctx.msg, what)
    try:
        dest = await chosen_state(e.options.on_error, e.ctx, error, e.spec, node, labels) or e.spec.error
    except Exception:
        tell_failed(e, node, role, error, None)  # the hook failed: what it raised is raised
        raise
    if own:
        dest = None  # an error in the error state itself is raised, never routed again
    if dest is None:  # raised: what was handed to the hook is re-made, ending with what to do
        then = OWN if own else UNROUTED if e.options.on_error is None else DECLINED
        error = handler_error(node, role, exc, e.ctx.msg, what, handle_it(exc, role, what, then))
    refused = None if dest is None or refuse is None else refuse(dest)
    tell_failed(e, node, role, error, None if refused is not None else dest)
    if refused is not None:
        raise refused from exc
    return error, dest


def tell_failed(e: Any, node: Node, role: str, error: HandlerError, dest: Node | Op | None) -> None:
    """Tell the observers of engine ``e`` that ``role`` of ``node`` failed and where it sends the machine."""
    if e.observers is not None:
        e.emit(
            HandlerFailed,
            state=node.name,
            role=role,
            message=error.event,
            error=error,
            routed_to=routed_to(dest),
        )


def routed_to(dest: Node | Op | None) -> str | None:
    """Where a failure sends the machine, for :class:`HandlerFailed`: the state's name, the label's
    text if the hook returned a label (its transition decides the state), or None (raised)."""
    if isinstance(dest, Op):
        return label_text(dest.label)
    return None if dest is None else dest.name
