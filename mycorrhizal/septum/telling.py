"""What a machine tells its observers: the records of its steps, made as cheaply as each allows."""

from __future__ import annotations

from typing import Any

from ..common.observers import Observers
from . import report
from .events import MessageHandled, StateLeft, make_entered, make_handled, make_left
from .moves import ENTRY
from .plan import MachineSpec, Node, Op

__all__ = ["Telling"]


class Telling:
    """The engine's part that tells observers what happened (a base of :class:`~.engine.Engine`)."""

    __slots__ = ("spec", "node", "phase", "retry", "observers", "_kept_observers")  # (see Engine)

    spec: MachineSpec
    node: Node
    phase: int
    retry: int
    observers: Observers | None
    #: The machine's observers, unset until the first is attached, kept while none is (``observers``
    #: is None then): records still queued for a removed async observer, which aclose() waits for.
    _kept_observers: Observers
    timebase: Any

    def _own_observers(self) -> Observers:
        """The machine's observers, for ``add_observer``: made once, and kept while none is attached
        (what is still queued for an async observer removed is delivered, and aclose() waits for it)."""
        observers = self.observers
        if observers is None:
            observers = getattr(self, "_kept_observers", None)
            if observers is None:
                observers = self._kept_observers = Observers(
                    report.log, f"machine {self.spec.shown}", self.timebase.now
                )
                observers.watch(self._observed)
            self.observers = observers
        return observers

    def _observed(self, active: bool) -> None:
        """The observers' watcher: with none left (the last removed, or detached for raising), a step
        is back to one test for observers and builds no record."""
        if not active:
            self.observers = None

    def emit(self, kind: type[Any], **fields: Any) -> None:
        """Tell the observers a ``kind`` record of ``fields`` (the rarer records, built by keyword;
        callers test ``observers`` first)."""
        observers = self.observers
        assert observers is not None
        observers.emit(kind(source=self.spec.shown, time=self.timebase.now(), **fields))

    # The records of every move, made positionally (a keyword-built record costs ~10 times as much):
    # the full move path and statecharts tell them for each transition.  Callers test ``observers``
    # first (a step nobody observes pays one test, not a call).

    def emit_entered(self, node: Any, previous: Any, label: Any, msg: Any = None) -> None:
        """Tell the observers that ``node`` is entered from ``previous`` (None: from nowhere) by
        ``label``, in a step handling ``msg``."""
        observers: Any = self.observers
        last = None if previous is None else previous.name
        observers.emit(make_entered((self.spec.shown, observers.now(), node.name, last, label, msg)))

    def emit_left(self, node: Any, label: Any, target: Any, every_observer: bool = False) -> None:
        """Tell the observers asking for it (``every_observer``: all of them) that ``node`` is left
        for ``target`` by ``label`` (callers test first that somebody is to be told)."""
        observers: Any = self.observers
        left = make_left((self.spec.shown, observers.now(), node.name, label, target.name))
        if every_observer:
            observers.emit(left)
        else:
            observers.emit_requested(left)

    def emit_handled(self, node: Any, msg: Any, label: Any, moving: bool = False) -> None:
        """Tell the observers that ``node``'s handler took ``msg`` and returned ``label``: to those
        asking for it if ``moving`` (a transition's records follow, naming ``msg``), else to all."""
        observers: Any = self.observers
        if not moving:
            observers.emit(make_handled((self.spec.shown, observers.now(), node.name, msg, label)))
        elif MessageHandled in observers.requested:
            handled = make_handled((self.spec.shown, observers.now(), node.name, msg, label))
            observers.emit_requested(handled, MessageHandled)

    def tell(self, observers: Observers, node: Node, op: Op, msg: Any) -> None:
        """Take a plain transition ``_settle`` decided on and tell ``observers`` what the full path tells
        them (``node`` left, to those asking for it; the target entered in a step handling ``msg``,
        whose ``MessageHandled`` was told already), with one reading of the time.  (``drive`` and
        :meth:`entry_step` have it written out, a frame less.)"""
        read = observers.now  # a slot's function: called from a local (see docs/architecture.md)
        name, now, target = self.spec.shown, read(), op.target
        if (send := observers.direct) is None:  # told on request: the StateEntered below names the state left
            self.tell_asked(observers, node, op, None, now)
            send = observers.send  # (read after: an observer that raised there is detached)
        self.retry = 0
        self.node = target  # type: ignore[assignment]  # the target is current when its entry is told
        self.phase = ENTRY
        entered = make_entered((name, now, target.name, node.name, op.label, msg))  # type: ignore[union-attr]
        try:
            if (result := send(entered)) is not None:
                observers.returned(send, result)
        except Exception as exc:
            observers.failed(send, exc, entered)

    def tell_asked(self, observers: Observers, node: Node, op: Op, msg: Any, now: float) -> None:
        """Tell the observers asking for them that ``msg`` (unless None) was handled by ``node``
        and that ``node`` is left, by ``op`` (see :meth:`tell`)."""
        name, label = self.spec.shown, op.label
        if msg is not None and MessageHandled in observers.requested:
            observers.emit_requested(make_handled((name, now, node.name, msg, label)), MessageHandled)
        # Read again, not kept from above: the one asking for both, detached for raising on that
        # MessageHandled, is no longer in it (the StateLeft would be built for nobody).
        if StateLeft in observers.requested:
            left = make_left((name, now, node.name, label, op.target.name))  # type: ignore[union-attr]
            observers.emit_requested(left, StateLeft)
