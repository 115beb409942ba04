"""Node statuses and what to do when a leaf raises."""

from __future__ import annotations

from enum import Enum

__all__ = ["ErrorPolicy", "ExceptionPolicy", "Status"]


class Status(Enum):
    """What a node reports when ticked."""

    SUCCESS = "success"
    FAILURE = "failure"
    RUNNING = "running"
    #: A leaf raised and the error policy turned the exception into a status.
    ERROR = "error"
    #: The node's work was cancelled (halted by its parent, or its coroutine was cancelled).
    CANCELLED = "cancelled"

    def __repr__(self) -> str:
        return f"Status.{self.name}"

    @property
    def completed(self) -> bool:
        """True for every status except RUNNING."""
        return self is not Status.RUNNING

    @property
    def failed(self) -> bool:
        """True for FAILURE, ERROR and CANCELLED: the statuses composites treat as failure."""
        return self is Status.FAILURE or self is Status.ERROR or self is Status.CANCELLED


class ErrorPolicy(Enum):
    """What a leaf's exception becomes."""

    #: The tick raises :class:`~mycorrhizal.common.HandlerError` (the exception is ``__cause__``).
    PROPAGATE = "propagate"
    #: The leaf reports FAILURE; the exception is logged.
    FAILURE = "failure"
    #: The leaf reports ERROR; the exception is logged.
    ERROR = "error"
    #: The 0.x name of :attr:`ERROR` (an alias: ``ErrorPolicy.LOG_AND_CONTINUE is ErrorPolicy.ERROR``).
    LOG_AND_CONTINUE = "error"


ExceptionPolicy = ErrorPolicy
"""The 0.x name of :class:`ErrorPolicy` (``ExceptionPolicy.LOG_AND_CONTINUE``, ``.PROPAGATE``)."""
