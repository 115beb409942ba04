"""What every store's journal shares: the checks of what it is given, and the errors it hands out.

``MemoryStore``, ``SQLiteStore`` and ``RedisStore`` refuse the same bad input with the same words, and
a journal that stopped (fenced, failed or closed) raises a fresh copy of the error that stopped it
each time it is used: one instance raised in many places would grow one ever longer traceback.
"""

from __future__ import annotations

from ..common.errors import FencedError, StoreClosedError, StoreError

__all__ = ["JournalBase", "Retired", "check_kind", "check_run", "fresh", "superseded"]


class JournalBase:
    """What every store's journal keeps the same way: its run, the epoch it holds, its last seq."""

    __slots__ = ("_run", "_epoch", "_seq")

    def __init__(self, run: str, epoch: int, seq: int) -> None:
        self._run = run
        self._epoch = epoch
        self._seq = seq

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._run!r}, epoch={self._epoch}, last_seq={self._seq})"

    @property
    def run(self) -> str:
        """The run this journal writes."""
        return self._run

    @property
    def epoch(self) -> int:
        """The fencing token this journal holds; a later ``open_journal`` of the run raises it."""
        return self._epoch

    @property
    def last_seq(self) -> int:
        """Sequence number of the last record appended (durable or not yet)."""
        return self._seq


class Retired(StoreClosedError):
    """Why a closed journal refuses appends (its flush and close are then no-ops)."""


def check_run(run: object) -> None:
    """StoreError unless ``run`` is a run's name: a non-empty str."""
    if type(run) is not str or not run:
        raise StoreError(f"a run is named by a non-empty str, not {run!r}. Fix: pass a name like 'orders'")


def check_kind(kind: object) -> None:
    """StoreError unless ``kind`` is a record kind: a non-empty str."""
    if type(kind) is not str or not kind:
        raise StoreError(f"a record kind is a non-empty str, not {kind!r}. Fix: pass e.g. 'fire'")


def fresh(error: StoreError) -> StoreError:
    """A new error of the same type, message and cause as ``error``, to raise once more."""
    copy = type(error)(str(error))
    copy.__cause__ = error.__cause__
    return copy


def superseded(run: str) -> FencedError:
    """Why a journal whose store opened ``run`` again (with a newer journal) refuses more work."""
    return FencedError(
        f"run {run!r} was opened again by a newer journal of this store. Fix: use the newer one"
    )
