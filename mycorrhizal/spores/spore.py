"""``spore``: the class decorator naming an object type, and the older ``spore.event`` decorator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .logspec import EventSpec

__all__ = ["SporeDecorator", "spore"]

T = TypeVar("T", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


class SporeDecorator:
    """The ``spore`` namespace: ``@spore.object(object_type=...)`` and ``@spore.event(...)``."""

    __slots__ = ()

    def object(self, object_type: str) -> Callable[[T], T]:
        """Class decorator: instances of the class are logged as objects of type ``object_type``."""
        if not isinstance(object_type, str) or not object_type:
            raise TypeError(
                f"spore.object(object_type=...) takes a non-empty string, got {object_type!r}. Fix: name "
                'the OCEL object type, as in @spore.object("Order")'
            )

        def decorate(cls: T) -> T:
            if not isinstance(cls, type):
                raise TypeError(
                    f"@spore.object({object_type!r}) decorates a class, got {cls!r}. Fix: put it on the "
                    "class statement of the objects' type (above @dataclass, if any)"
                )
            cls._spores_object_type = object_type  # type: ignore[attr-defined]
            return cls

        return decorate

    def event(
        self,
        event_type: str,
        attributes: dict[str, Any] | None = None,
        objects: Sequence[str] | None = None,
    ) -> Callable[[F], F]:
        """Older form of ``log_event``: ``objects`` names the parameters (or ``"return"``) whose
        values are related to the event, each with its parameter name as qualifier and its
        ``@spore.object`` type (else class name) as object type."""

        def decorate(fn: F) -> F:
            spec = EventSpec(fn, event_type, {}, attributes or {})
            spec.typed_sources(list(objects or ()))
            return spec.wrap(fn)  # type: ignore[return-value]

        return decorate


spore = SporeDecorator()
"""The ``spore`` namespace (``@spore.object("Order")``)."""
