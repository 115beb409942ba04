"""Event loggers for ordinary functions: ``get_spore_sync`` / ``get_spore_async`` and ``log_event``.

::

    spore = get_spore_async(__name__)

    @spore.log_event(
        event_type="OrderCreated",
        relationships={"order": ("return", "Order"), "customer": ("customer", "Customer")},
        attributes={"item_count": lambda items: len(items)},
    )
    async def create_order(customer, items): ...

After the function returns (nothing is written when it raises) each related object is written
as an object record of the given type, then the event, related to those objects with the given
qualifiers.  See :mod:`mycorrhizal.spores.logspec` for what the tuples and attribute values mean.
"""

from __future__ import annotations

import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ..septum.dsl import collect_instead
from . import config
from .emit import _relations
from .logspec import EventSpec
from .models import Relationship, generate_event_id
from .records import RawObject

__all__ = ["AsyncEventLogger", "EventLogger", "SyncEventLogger", "get_spore_async", "get_spore_sync"]

F = TypeVar("F", bound=Callable[..., Any])


class EventLogger(ABC):
    """What ``get_spore_sync``/``get_spore_async`` return: ``log_event``, ``event``, ``log_object``."""

    def __init__(self, name: str) -> None:
        self.name = name
        """Informational (usually the module's ``__name__``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def log_event(
        self,
        event_type: str,
        relationships: dict[str, tuple[Any, ...]] | None = None,
        attributes: dict[str, Any] | None = None,
        *,
        relationship: dict[str, tuple[Any, ...]] | None = None,
    ) -> Callable[[F], F]:
        """Decorate a function (plain or ``async def``) to write an event each time it returns.

        ``relationship=`` (singular, as one upstream example spells it) is accepted as
        ``relationships=`` with a ``DeprecationWarning``.
        """
        if relationship is not None:
            if relationships is not None:
                raise TypeError(
                    f"log_event({event_type!r}) got both relationships= and relationship=. Fix: pass "
                    "relationships= only (relationship= is its deprecated spelling)"
                )
            warnings.warn(
                f"log_event({event_type!r}, relationship=...): the keyword is 'relationships'",
                DeprecationWarning,
                stacklevel=2,
            )
            relationships = relationship

        def decorate(fn: F) -> F:
            if isinstance(fn, classmethod | staticmethod):  # written above @classmethod: its function
                return type(fn)(decorate(fn.__func__))
            _check_function(fn, event_type)
            spec = EventSpec(fn, event_type, relationships or {}, attributes or {})
            wrapped = spec.wrap(fn)
            collect_instead(fn, wrapped)  # (above @septum.on_state in a function-form state: run instead)
            return wrapped  # type: ignore[return-value]

        return decorate

    @staticmethod
    def _event_raw(
        event_type: str, relationships: dict[str, Relationship] | None, attrs: dict[str, Any]
    ) -> tuple[str, str, float, list[tuple[str, Any]], list[tuple[str, str]], None]:
        return (
            generate_event_id(),
            event_type,
            time.time(),
            list(attrs.items()),
            _relations(relationships),
            None,
        )

    @abstractmethod
    def event(
        self, event_type: str, relationships: dict[str, Relationship] | None = None, **attrs: Any
    ) -> Any:
        """Write one event with ``attrs`` as attributes."""

    @abstractmethod
    def log_object(self, obj_type: str, obj_id: str, **attrs: Any) -> Any:
        """Write one object record with ``attrs`` as attributes."""


class SyncEventLogger(EventLogger):
    """The logger for synchronous code; ``event`` and ``log_object`` write before returning."""

    def event(
        self, event_type: str, relationships: dict[str, Relationship] | None = None, **attrs: Any
    ) -> None:
        """Write one event with ``attrs`` as attributes (an async transport's send is queued)."""
        if config.get_config().enabled:
            config.get_dispatcher().event(self._event_raw(event_type, relationships, attrs))

    def log_object(self, obj_type: str, obj_id: str, **attrs: Any) -> None:
        """Write one object record."""
        if config.get_config().enabled:
            config.get_dispatcher().object((str(obj_id), obj_type, time.time(), list(attrs.items()), []))


class AsyncEventLogger(EventLogger):
    """The logger for async code; ``event`` and ``log_object`` are coroutines."""

    async def event(
        self, event_type: str, relationships: dict[str, Relationship] | None = None, **attrs: Any
    ) -> None:
        """Write one event with ``attrs`` as attributes, awaiting an async transport."""
        if config.get_config().enabled:
            await config.get_dispatcher().aevent(self._event_raw(event_type, relationships, attrs))

    async def log_object(self, obj_type: str, obj_id: str, **attrs: Any) -> None:
        """Write one object record, awaiting an async transport."""
        if config.get_config().enabled:
            raw: RawObject = (str(obj_id), obj_type, time.time(), list(attrs.items()), [])
            await config.get_dispatcher().aobject(raw)


def _check_function(fn: Any, event_type: str) -> None:
    """Refuse what an engine's decorator made of a function (a leaf, a transition's reference): the
    engine runs the function inside, not the wrapper.  A function ``@septum.on_state`` (or another
    handler decorator) marked is taken: the state runs the wrapper (see :func:`collect_instead`)."""
    if callable(fn) and not attrs.has(type(fn)):
        return
    raise TypeError(
        f"log_event({event_type!r}) decorates the function itself, got {fn!r}. Fix: put "
        "@logger.log_event(...) directly above the 'def' line, below the engine's decorator "
        "(@bt.action, @builder.transition(...))"
    )


def get_spore_sync(name: str) -> SyncEventLogger:
    """A logger for synchronous code (``name`` is informational)."""
    return SyncEventLogger(name)


def get_spore_async(name: str) -> AsyncEventLogger:
    """A logger for async code (``name`` is informational)."""
    return AsyncEventLogger(name)
