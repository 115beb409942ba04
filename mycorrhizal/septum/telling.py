"""What a machine tells its observers: the records of its steps, made as cheaply as each allows."""

from __future__ import annotations

from typing import Any

from ..common.observers import Observers
from .events import StateLeft, make_entered, make_handled, make_left
from .moves import ENTRY
from .plan import MachineSpec, Node, Op

__all__ = ["Telling"]


class Telling:
    """The engine's part that tells observers what happened (a base of :class:`~.engine.Engine`)."""

    __slots__ = ("spec", "node", "phase", "retry", "observers")  # the engine's (see Engine)

    spec: MachineSpec
    node: Node
    phase: int
    retry: int
    observers: Observers | None
    timebase: Any

    def emit(self, kind: type[Any], **fields: Any) -> None:
        """Tell the observers a ``kind`` record of ``fields`` (the rarer records, built by keyword;
        callers test ``observers`` first)."""
        observers = self.observers
        assert observers is not None
        observers.emit(kind(source=self.spec.name, time=self.timebase.now(), **fields))

    # The records of every move, made positionally (a keyword-built record costs ~10 times as much):
    # the full move path and statecharts tell them for each transition.  Callers test ``observers``
    # first (a step nobody observes pays one test, not a call).

    def emit_entered(self, node: Any, previous: Any, label: Any) -> None:
        """Tell the observers that ``node`` is entered from ``previous`` (None: from nowhere) by ``label``."""
        observers: Any = self.observers
        last = None if previous is None else previous.name
        observers.emit(make_entered((self.spec.name, observers.now(), node.name, last, label)))

    def emit_left(self, node: Any, label: Any, target: Any, every_observer: bool = False) -> None:
        """Tell the observers asking for it (``every_observer``: all of them) that ``node`` is left
        for ``target`` by ``label`` (callers test first that somebody is to be told)."""
        observers: Any = self.observers
        left = make_left((self.spec.name, observers.now(), node.name, label, target.name))
        if every_observer:
            observers.emit(left)
        else:
            observers.emit_requested(left)

    def emit_handled(self, node: Any, msg: Any, label: Any) -> None:
        """Tell the observers that ``node``'s handler took ``msg`` and returned ``label``."""
        observers: Any = self.observers
        observers.emit(make_handled((self.spec.name, observers.now(), node.name, msg, label)))

    def tell(self, observers: Observers, node: Node, op: Op, msg: Any) -> None:
        """Take a plain transition and tell ``observers`` what the full path tells them (``msg``
        handled unless None, ``node`` left to those asking for it, the target entered), with one
        reading of the time.  (No asserts, no tuple packing: this runs for every observed plain
        transition; :meth:`entry_step` has its message-less part written out, a frame less.)"""
        read = observers.now  # a slot's function: called from a local (see docs/architecture.md)
        name, now, target = self.spec.name, read(), op.target
        if msg is not None:
            observers.emit(make_handled((name, now, node.name, msg, op.label)))
        if observers.requested and StateLeft in observers.requested:  # told on request
            self.tell_left(observers, node, op, now)
        self.retry = 0
        self.node = target  # type: ignore[assignment]  # the target is current when its entry is told
        self.phase = ENTRY
        entered, send = make_entered((name, now, target.name, node.name, op.label)), observers.send  # type: ignore[union-attr]
        try:
            if (result := send(entered)) is not None:
                observers.returned(send, result)
        except Exception as exc:
            observers.failed(send, exc, entered)

    def tell_left(self, observers: Observers, node: Node, op: Op, now: float) -> None:
        """Tell the observers asking for it that ``node`` is left by ``op`` (see :meth:`tell`)."""
        left = make_left((self.spec.name, now, node.name, op.label, op.target.name))  # type: ignore[union-attr]
        send = observers.senders.get(StateLeft) or observers.sender(StateLeft)
        try:
            if (result := send(left)) is not None:
                observers.returned(send, result)
        except Exception as exc:
            observers.failed(send, exc, left)
