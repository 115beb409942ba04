"""The live, read-only view of an ``fsm=`` transition's machines in a runner: :func:`machines`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..hypha import Runner
from ..septum import StateMachine
from .machine_pool import POOL, MachinePool

__all__ = ["Machines", "machines"]


class Machines(Mapping[Any, StateMachine]):
    """A live, read-only view of an ``fsm=`` transition's machines by key, with eviction counts."""

    __slots__ = ("_memory",)

    def __init__(self, memory: Mapping[str, Any]) -> None:
        self._memory = memory

    def _living(self) -> Mapping[Any, StateMachine]:
        pool: MachinePool | None = self._memory.get(POOL)
        return {} if pool is None else pool.living

    def _count(self, name: str) -> int:
        pool: MachinePool | None = self._memory.get(POOL)
        return 0 if pool is None else int(getattr(pool, name))

    def __getitem__(self, key: Any) -> StateMachine:
        return self._living()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._living())

    def __len__(self) -> int:
        return len(self._living())

    def __repr__(self) -> str:
        return f"Machines({dict(self._living())!r})"

    @property
    def evicted_idle(self) -> int:
        """Machines evicted at rest after ``fsm_idle_ttl``."""
        return self._count("evicted_idle")

    @property
    def evicted_lru(self) -> int:
        """Machines evicted to stay within ``fsm_max_machines``."""
        return self._count("evicted_lru")

    @property
    def evicted_lru_active(self) -> int:
        """Those of :attr:`evicted_lru` that were not at rest: they forgot a state or a timeout."""
        return self._count("evicted_lru_active")


def machines(runner: Runner, transition: str) -> Machines:
    """The live state machines of an ``fsm=`` transition in ``runner``, by key (``None`` without ``fsm_key``).

    A read-only, live view: a machine appears when its first token arrives and disappears when it
    is evicted.
    """
    return Machines(runner.memory(transition))
