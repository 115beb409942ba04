"""The error hierarchy shared by every engine.

One root, :class:`MycorrhizalError`.  Problems found while a spec is built are collected and raised
once as a :class:`DefinitionError`; problems found while something runs are
:class:`ExecutionError` subclasses that carry the state/event/place/transition/node involved, so a
handler (or a log search) can tell exactly where it happened.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = [
    "AccessControlError",
    "AnalysisError",
    "BlackboardAccessError",
    "CapacityError",
    "CodecError",
    "CommandError",
    "DefinitionError",
    "DefinitionTypeError",
    "ExecutionError",
    "FSMInstantiationError",
    "FencedError",
    "HandlerError",
    "InvalidStatusError",
    "MyceliumError",
    "MycorrhizalError",
    "Problem",
    "QueueOverflowError",
    "RecordedError",
    "RenderError",
    "RoutingError",
    "StateMachineComplete",
    "StoreBusyError",
    "StoreClosedError",
    "StoreError",
    "TreeDefinitionError",
    "UndeclaredLabelError",
    "PopFromEmptyStack",
]


def did_you_mean(name: object, known: Iterable[object], otherwise: str) -> str:
    """The fix for ``name``, which names none of ``known``: ``"did you mean 'x'? If not, <otherwise>"``
    naming the nearest of ``known``, or ``otherwise`` alone when none is close.

    Every engine's error about an unknown place, state, label, node, field... ends with this, so
    each words it the same.  Call it only while raising: it compares ``name`` with every known name.
    """
    if str(name).startswith("_"):
        # A private name is no user's slip but a probe (getattr(x, "_marker", None) by pytest, spores,
        # copy...), answered by the AttributeError alone: no comparison with every known name.
        return otherwise
    # Compared case-blind ('done' finds 'DONE') and shown as written: each lowered key keeps every
    # spelling that lowers to it.
    spellings: dict[str, dict[str, None]] = {}
    for each in known:
        spellings.setdefault(str(each).casefold(), {})[str(each)] = None
    wanted = str(name).casefold()
    # 0.7, not difflib's 0.6: one slip in a short name ('Idel', 'nmae') still scores 0.75, while a
    # name that only shares a common ending ('NowhereState' and 'NotAState') no longer passes.
    close = difflib.get_close_matches(wanted, spellings, n=3, cutoff=0.7)
    if not close:
        return otherwise
    # Only those about as near as the nearest: names sharing a long prefix ('billing.Finish' and
    # 'billing.Start' for 'billing.Finsh') all score high, but the slip is in one of them.
    distance = {key: 1 - difflib.SequenceMatcher(None, key, wanted).ratio() for key in close}
    nearest = distance[close[0]]
    shown = [repr(word) for key in close if distance[key] <= 2 * nearest for word in spellings[key]]
    return f"did you mean {' or '.join(shown[:3])}? If not, {otherwise}"


def reason(exc: BaseException) -> str:
    """The text of ``exc`` to put before ``". Fix: ..."``: without a full stop of its own."""
    # Many libraries (redis-py, sqlite3, users' own code) end their messages with a period; a message
    # that embeds one and then says "." would read "..".
    return str(exc).rstrip(".")


def split_fix(said: str) -> tuple[str, str | None]:
    """An error's text as (what went wrong, its fix), the fix None when it ends with no ``". Fix: ..."``."""
    problem, found, fix = said.partition(". Fix: ")
    return (problem, fix) if found else (said, None)


def problem(exc: BaseException) -> str:
    """The text of ``exc`` without its fix (``". Fix: ..."``) or final full stop: what went wrong, to
    quote inside another error, whose own fix then stays its only one, and last."""
    return split_fix(reason(exc))[0]


def fix_last(said: str, more: str, otherwise: str | None = None) -> str:
    """``said`` (an error's text, which may end with ``". Fix: ..."``) followed by ``more``, the fix
    kept last: a message that goes on after an error's fix reads as if it were part of it.

    ``otherwise``: the fix to end with when ``said`` says none (a user's own exception, quoted), so
    that the message still ends with ``". Fix: ..."``.
    """
    problem, fix = split_fix(said)
    if fix is None:
        return f"{said}{more}" if otherwise is None else f"{said.rstrip('.')}{more}. Fix: {otherwise}"
    return f"{problem}{more}. Fix: {fix}"


class MycorrhizalError(Exception):
    """Root of every error this library raises on purpose."""


@attrs.frozen
class Problem:
    """One thing wrong with a definition: who is at fault, what is wrong, and how to fix it."""

    subject: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}. Fix: {self.fix}"


class DefinitionError(MycorrhizalError, ValueError):
    """A spec is invalid; lists every problem found while building it, not just the first."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem], *, what: str = "definition") -> None:
        self.problems = tuple(problems)
        self.what = what
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        plural = "problem" if count == 1 else "problems"
        super().__init__(f"{what} has {count} {plural}:\n{lines}")

    @classmethod
    def raise_if_any(cls, problems: Iterable[Problem], *, what: str = "definition") -> None:
        """Raise one error listing ``problems`` if there is at least one."""
        collected = tuple(problems)
        if collected:
            raise cls(collected, what=what)


class DefinitionTypeError(DefinitionError, TypeError):
    """A definition was given something of the wrong kind; also a ``TypeError`` for code catching that."""


class DefinitionAttributeError(DefinitionError, AttributeError):
    """An attribute names no element of a definition; also an ``AttributeError``, so ``hasattr`` and
    ``getattr(x, name, default)`` work as on any object."""


class ExecutionError(MycorrhizalError, RuntimeError):
    """Something went wrong while running; carries the element involved."""

    def __init__(
        self,
        message: str,
        *,
        state: str | None = None,
        event: Any = None,
        place: str | None = None,
        transition: str | None = None,
        node: str | None = None,
    ) -> None:
        super().__init__(message)
        self.state = state
        self.event = event
        self.place = place
        self.transition = transition
        self.node = node


class StateMachineComplete(ExecutionError):
    """The machine is in a terminal state: it takes no more messages and has no more steps."""


class UndeclaredLabelError(ExecutionError, ValueError):
    """A state handler returned a label its ``transitions()`` does not declare; also a
    ``ValueError``, what 0.x raised for an unknown transition."""


class PopFromEmptyStack(ExecutionError):
    """A state machine took a ``Pop`` transition with nothing on its pushdown stack."""


class InvalidStatusError(ExecutionError):
    """A behaviour-tree leaf returned something that is not a status."""


class QueueOverflowError(ExecutionError):
    """A bounded message queue is full and its policy is to refuse."""


class CapacityError(ExecutionError):
    """A token was added to a place that is at capacity."""


class RoutingError(ExecutionError):
    """A token was sent to a place or output it may not go to."""


class HandlerError(ExecutionError):
    """A user handler raised; the original exception is ``__cause__``."""


class RecordedError(HandlerError):
    """An error read back from a snapshot or journal: only the original's type name and message were
    written down (an exception object cannot be), so this stands in for it after a restore."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.type_name, self.message)


class MyceliumError(MycorrhizalError):
    """An error of composition (mycelium) in particular; its 0.x name, kept for ``except`` clauses."""


class TreeDefinitionError(DefinitionError, MyceliumError):
    """A composed tree (``mycelium.tree``) is invalid: no root, an ``Action`` outside ``@tree``..."""


class FSMInstantiationError(ExecutionError, MyceliumError):
    """The machine of an ``Action(fsm=...)`` could not be made for a tree; the cause is ``__cause__``."""


class BlackboardAccessError(MycorrhizalError, PermissionError):
    """A blackboard view refused a read or write outside what it allows."""


class AccessControlError(BlackboardAccessError):
    """A view refused one operation on one field: ``.field_name`` and ``.operation`` (read/write/delete).

    ``.node``: the behaviour-tree node whose code was refused, once its runner has said so (else None).
    ``.transition``: the Petri-net transition whose tree ran that node, once it has said so (else None).
    """

    def __init__(self, message: str, field_name: str, operation: str, *, node: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.operation = operation
        self.node = node
        self.transition: str | None = None

    def at(self, where: str, node: str) -> AccessControlError:
        """This refusal said of ``where`` (the leaf whose code made it), as node ``node``; caused by it."""
        error = AccessControlError(f"{where}: {self}", self.field_name, self.operation, node=node)
        error.__cause__ = self
        return error

    def __reduce__(self) -> tuple[Any, ...]:
        state = {"node": self.node, "transition": self.transition}
        return type(self), (str(self), self.field_name, self.operation), state


class RenderError(MycorrhizalError):
    """A picture could not be produced (for instance Graphviz's ``dot`` is not installed)."""


class AnalysisError(MycorrhizalError):
    """A requested analysis cannot be completed (e.g. the state space is unbounded or too large)."""


class CommandError(MycorrhizalError):
    """A command-line argument cannot be acted on; the message says what to pass instead.

    ``usage=True`` marks a malformed command line (exit status 2); otherwise what was named could
    not be loaded, drawn or written (exit status 1).
    """

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.exit_status = 2 if usage else 1


class CodecError(MycorrhizalError, ValueError):
    """A value cannot be encoded, or a document cannot be decoded; names the type and the fix."""

    def __init__(self, message: str, *, type_name: str | None = None, unregistered: bool = False) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.unregistered = unregistered
        """True if what is wrong is that the registry has no codec for the type ``type_name``."""
        self.path = ""
        """Where the type was met below the value being encoded now (``.payload['items'][2]``),
        while the error goes up through the value."""
        self.where = ""
        """The field of the outermost class instance (attrs, dataclass) holding the type that was
        met (``Job.payload['items'][2]``); what the error
        :meth:`~mycorrhizal.common.codecs.CodecRegistry.encode` raises says, when there is one."""

    def at(self, where: str | None, *, fix: str | None = None, pass_as: str | None = None) -> CodecError:
        """This error said of ``where`` (the user's tree, place, transition, machine...), with one fix;
        ``where`` None: it says where already (an embedder's, which cannot know ``pass_as``).

        ``fix`` (what the caller knows to do) replaces the error's own fix, except for a type's
        codec (a type to register, or to check the codec of), which only the error can say.
        ``pass_as``, given when the caller was handed no registry, says how to pass one (e.g.
        ``"runner.snapshot(codecs=registry)"``): registering a type in a registry nobody gave this
        call would not reach it, so the fix of an unregistered type says to make one and pass it.
        """
        problem, own = split_fix(str(self))
        if self.unregistered and pass_as is not None:
            own = f"make a CodecRegistry, {own}, and pass it: {pass_as}"
        elif fix is not None and (self.type_name is None or not own):
            own = fix
        said = problem if where is None else f"{where}: {problem}"
        text = f"{said.rstrip('.')}. Fix: {own}" if own else said
        return CodecError(text, type_name=self.type_name, unregistered=self.unregistered)


class StoreError(MycorrhizalError):
    """A durability store cannot read or write what was asked; says why and what to do."""


class StoreBusyError(StoreError):
    """Another connection held a store's file longer than its ``busy_timeout``: nothing was lost, the
    store keeps what was appended and tries again, on its own and at its next commit."""


class StoreClosedError(StoreError):
    """A store was closed (or the journal asked, with it): it takes no more work; open a new one."""


class FencedError(StoreError):
    """A journal lost its run to a newer writer (another process or handle opened the same run)."""
