"""The compiled plan of a machine: what :mod:`.compile` produces and a running machine follows.

A :class:`MachineSpec` is the set of compiled states (:class:`Node`) reachable from an initial
state (and the error state), shared by every machine built from the same states.  Each node's
transition table maps a label to an :class:`Op`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from ..common.callables import is_async_callable, local_name
from ..common.errors import Problem
from .states import State, StateGroup
from .targets import GOTO, PUSH, SpecialTarget, special

__all__ = ["MachineSpec", "Node", "Op", "label_text"]

Handler = Callable[..., Any]


def label_text(label: Any) -> str:
    """A label as people read it: ``DONE`` for ``Events.DONE``, else ``str(label)``."""
    return label.name if isinstance(label, Enum) else str(label)


class Op:
    """One compiled transition: what a label does, where it goes, and whether it can take the
    fast path (no enter/leave hooks, no timer, not terminal)."""

    __slots__ = ("kind", "target", "stack", "label", "fast", "action")

    def __init__(self, kind: int, target: Node | None, stack: tuple[Node, ...], label: Any) -> None:
        self.kind = kind
        self.target = target
        self.stack = stack  # states Push leaves on the stack, top first
        self.label = label
        self.fast = False
        #: The transition's ``action(ctx)`` (see :mod:`.guards`), or None.
        self.action: Handler | None = None


class Node:
    """A compiled state: its handlers (bound, with async flags), config and transition table."""

    __slots__ = (
        "state",
        "name",
        "on_state",
        "on_state_async",
        "on_enter",
        "on_enter_async",
        "on_leave",
        "on_leave_async",
        "on_timeout",
        "on_timeout_async",
        "on_fail",
        "on_fail_async",
        "table",
        "by_id",
        "timeout",
        "retries",
        "terminal",
        "plain_entry",
        "quick",
    )

    on_state: Handler | None
    on_state_async: bool
    on_enter: Handler | None
    on_enter_async: bool
    on_leave: Handler | None
    on_leave_async: bool
    on_timeout: Handler | None
    on_timeout_async: bool
    on_fail: Handler | None
    on_fail_async: bool

    def __init__(self, state: State, handlers: dict[str, Handler]) -> None:
        self.state = state
        self.name = state.name
        cfg = state.config
        self.timeout = cfg.timeout
        self.retries = cfg.retries
        self.terminal = cfg.terminal
        for role in ("on_state", "on_enter", "on_leave", "on_timeout", "on_fail"):
            fn = handlers.get(role)
            setattr(self, role, fn)
            setattr(self, f"{role}_async", fn is not None and is_async_callable(fn))
        #: Entering the state runs nothing and arms nothing (no on_enter, no timer, not terminal).
        self.plain_entry = self.on_enter is None and self.timeout is None and not self.terminal
        #: Its entry run may take the one-frame step (:meth:`~.engine.Engine.entry_step`): an async
        #: on_state and no timer (a statechart's nodes never: their steps are the chart engine's).
        self.quick = self.on_state_async and self.timeout is None
        self.table: dict[Any, Op] = {}
        # The same table keyed by id(label): Enum members hash in Python code, ids hash in C.  The
        # table keeps every label alive, so an id here cannot be reused by another object.
        self.by_id: dict[int, Op] = {}

    def link(self, table: dict[Any, Op]) -> None:
        """Set the transition table (once every node of the machine exists)."""
        self.table = table
        self.by_id = {id(label): op for label, op in table.items()}

    def lookup(self, label: Any) -> Op | None:
        """The transition ``label`` leads to, or None if the state does not declare it."""
        op = self.by_id.get(id(label))
        if op is None:
            try:
                op = self.table.get(label)  # equal to, but not the same object as, a declared label
            except TypeError:  # unhashable: certainly not declared
                return None
            if op is None and isinstance(label, str | int) and not isinstance(label, Enum | bool):
                op = self._by_member(label)
            elif op is None and isinstance(label, State | SpecialTarget | type):
                op = self._by_target(label)
        return op

    def _by_target(self, target: Any) -> Op | None:
        """0.x's lookup: a handler returned a target (a state, ``Retry``...) its transitions() lists."""
        if isinstance(target, State):
            kind = GOTO
        elif special(target):
            kind = target.kind
        else:
            return None
        for op in self.table.values():
            if op.kind != kind:
                continue
            if kind == GOTO and op.target.state is not target:  # type: ignore[union-attr]
                continue
            if kind == PUSH and (
                not isinstance(target, SpecialTarget)
                or tuple(n.state for n in (op.target, *op.stack)) != target.states  # type: ignore[union-attr, attr-defined]
            ):
                continue
            return op
        return None

    def _by_member(self, label: str | int) -> Op | None:
        """0.x's lookup: a declared enum label named ``label``, or with ``label`` as its value."""
        for declared, op in self.table.items():
            if isinstance(declared, Enum) and (declared.name == label or declared.value == label):
                return op
        return None

    def __repr__(self) -> str:
        return f"<septum node {self.name}>"


class MachineSpec:
    """The validated, compiled states of one machine: shared by every instance built from it."""

    __slots__ = (
        "initial",
        "error",
        "nodes",
        "group",
        "root",
        "name",
        "shown",
        "warnings",
        "keys",
        "__weakref__",
    )

    def __init__(
        self,
        root: State | StateGroup,
        initial: Node,
        error: Node | None,
        nodes: dict[State, Node],
        group: StateGroup | None,
    ) -> None:
        self.root = root
        self.initial = initial
        self.error = error
        self.nodes = nodes
        self.group = group
        # A plain attribute, not a property: an observed machine reads it for every record it tells.
        self.name: str = group.name if group is not None else initial.name
        """The machine's name: its group's, else its initial state's (snapshots hold it)."""
        # A group class declared in a function is named by its qualname, "f.<locals>.Grp": messages,
        # observer records (so event logs and metrics), pictures and SCXML show it as written, "Grp";
        # ``name`` stays, for the snapshots written with it.
        self.shown: str = local_name(self.name)
        """The machine's name as messages, records and pictures show it: :attr:`name` as the user wrote it."""
        #: What the machine's states do that 0.x accepted and a strict machine refuses (logged once).
        self.warnings: tuple[Problem, ...] = ()
        #: Each node's name in snapshot documents and back (made by the first snapshot or restore).
        self.keys: tuple[dict[Node, str], dict[str, Node]] | None = None

    def __repr__(self) -> str:
        return f"<septum machine spec {self.name}: {len(self.nodes)} states>"
