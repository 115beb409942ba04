"""Logging composed trees (0.x ``mycelium.spores_integration``): ``TreeSporesAdapter`` and snapshots.

::

    adapter = TreeSporesAdapter("Patrol")

    @bt.action
    @adapter.log_action("drive")
    async def drive(bb, timebase): ...

``log_action`` wraps a tree action (any signature; 0.x wrapped ``async (bb, tb, fsm_runner)``) and,
after it returns, writes an event with ``tree_name``, ``action_name``, ``status``, ``fsm_state``
(the state of a machine handed to the action, when there is one), the blackboard's ``EventAttr``
fields and relationships to its ``ObjectRef`` objects.  ``log_tree_tick`` does the same for the
function that ticks a tree; ``log_state_snapshot`` writes an object record of type
``StateSnapshot:<name>`` holding the blackboard's fields and machines' states as text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from enum import Enum
from typing import Any, TypeVar

from ...common.callables import written_name
from ..config import current
from ..emit import adapter_event
from ..extraction import object_attributes
from ..records import Attributes, RawEvent
from ..wrapping import ArgumentFinder, wrap
from .base import Adapter, UserAttributes, blackboard_argument, check_target
from .rhizomorph import _status, log_tree_event

__all__ = ["TreeSporesAdapter", "log_state_snapshot", "log_tree_event", "state_snapshot"]

F = TypeVar("F", bound=Callable[..., Any])
_MACHINE_ARGS = ("fsm_runner", "fsm", "machine", "runner")


def _state_name(machine: Any) -> str | None:
    """The name of a machine's current state (a StateMachine, or anything with ``current_state``)."""
    state = getattr(machine, "current_state", None)
    if state is None:
        return None
    name = getattr(state, "name", state)
    return name.name if isinstance(name, Enum) else str(name)


def _blackboard(subject: Any) -> Any:
    """The blackboard of a runner (``.bb``), or ``subject`` itself."""
    return getattr(subject, "bb", subject)


def state_snapshot(
    subject: Any, snapshot_name: str, include_blackboard: bool = True, include_fsms: bool = True
) -> None:
    """Write one object record of type ``StateSnapshot:<snapshot_name>`` describing ``subject``.

    ``subject`` is a blackboard or a runner holding one (``runner.bb``).  Attributes: each public
    field of the blackboard as text (``include_blackboard``) and, for each field holding a state
    machine, ``fsm:<field>`` = its current state's name (``include_fsms``); a subject with machines
    of its own by name (``.fsms``: a composed tree's runner or instance) adds ``fsm:<name>`` for each.
    """
    state = current()
    if not state.config.enabled:
        return
    bb = _blackboard(subject)
    attributes: Attributes = []
    for name, value in object_attributes(bb):
        machine_state = _state_name(value)
        if machine_state is not None and hasattr(value, "send_message"):
            if include_fsms:
                attributes.append((f"fsm:{name}", machine_state))
        elif include_blackboard:
            attributes.append((name, value if isinstance(value, str | int | float | bool) else str(value)))
    machines = getattr(subject, "fsms", None) if include_fsms else None
    if isinstance(machines, Mapping):  # duck-typed: spores does not know mycelium's FSMs
        attributes.extend((f"fsm:{name}", _state_name(machine)) for name, machine in machines.items())
    now = time.time()
    ident = f"snapshot-{snapshot_name}-{now!r}"
    state.dispatcher.object((ident, f"StateSnapshot:{snapshot_name}", now, attributes, []))


class _Written:
    """What :func:`_log_state_snapshot` returns: the record is already written, and awaiting this
    (0.x's function was a coroutine, which its programs await) does nothing more."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


def _log_state_snapshot(
    subject: Any, snapshot_name: str, include_blackboard: bool = True, include_fsms: bool = True
) -> _Written:
    """0.x's private coroutine, used by one 0.x example: :func:`state_snapshot`, written at the call,
    returning something to ``await`` (so that both ``await _log_state_snapshot(...)`` and a plain
    call work)."""
    state_snapshot(subject, snapshot_name, include_blackboard, include_fsms)
    return _Written()


def log_state_snapshot(
    snapshot_name: str, include_blackboard: bool = True, include_fsms: bool = True
) -> Callable[[F], F]:
    """Write a :func:`state_snapshot` of the first argument each time the decorated function returns."""

    def decorate(fn: F) -> F:
        check_target(fn, "@log_state_snapshot(...)", "any engine decorator")
        subject_of = blackboard_argument(ArgumentFinder(fn))

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            subject = subject_of(args, kwargs)
            if subject is not None:
                state_snapshot(subject, snapshot_name, include_blackboard, include_fsms)

        return wrap(fn, after=after)  # type: ignore[return-value]

    return decorate


class TreeSporesAdapter(Adapter):
    """Spores decorators for the actions of (composed) trees; ``tree_name`` goes into every event."""

    __slots__ = ("tree_name",)

    def __init__(self, tree_name: str | None = None) -> None:
        super().__init__()
        self.tree_name = tree_name
        """Written as ``tree_name`` (None: not written)."""

    def log_action(
        self,
        event_type: str,
        attributes: dict[str, Any] | None = None,
        log_fsm_state: bool = True,
        log_status: bool = True,
        log_blackboard: bool = True,
    ) -> Callable[[F], F]:
        """Write ``event_type`` each time the decorated action returns (goes below ``@bt.action``)."""

        def decorate(fn: F) -> F:
            check_target(fn, "@adapter.log_action(...)", "@bt.action")
            finder = ArgumentFinder(fn)
            extra = UserAttributes(attributes, fn, f"log_action({event_type!r}) on {written_name(fn)}")
            machine_arg = next((name for name in _MACHINE_ARGS if name in finder), None)
            blackboard = blackboard_argument(finder, prefer_bb=True)
            name = fn.__name__

            def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> RawEvent | None:
                if not self.enabled:
                    return None
                attrs = self._common(name, "action_name")
                status = _status(result) if log_status else None
                if status is not None:
                    attrs.append(("status", status))
                if log_fsm_state and machine_arg is not None:
                    machine_state = _state_name(finder.get(machine_arg, args, kwargs))
                    if machine_state is not None:
                        attrs.append(("fsm_state", machine_state))
                extra.evaluate(args, kwargs, result, attrs)
                bb = blackboard(args, kwargs) if log_blackboard else None
                return adapter_event(event_type, attrs, bb, [], time.time())

            return wrap(fn, after=after)  # type: ignore[return-value]

        return decorate

    def log_tree_tick(
        self, event_type: str = "tree_tick", attributes: dict[str, Any] | None = None
    ) -> Callable[[F], F]:
        """Write ``event_type`` each time the decorated function (one that ticks the tree) returns,
        with ``tree_name`` and the ``status`` it returned; its first argument is the blackboard."""
        return log_tree_event(event_type, self.tree_name or "", attributes)

    def log_state_snapshot(
        self, snapshot_name: str, include_blackboard: bool = True, include_fsms: bool = True
    ) -> Callable[[F], F]:
        """:func:`log_state_snapshot` as a method (0.x form)."""
        return log_state_snapshot(snapshot_name, include_blackboard, include_fsms)

    def _common(self, name: str, key: str) -> Attributes:
        attrs: Attributes = []
        if self.tree_name is not None:
            attrs.append(("tree_name", self.tree_name))
        attrs.append((key, name))
        return attrs
