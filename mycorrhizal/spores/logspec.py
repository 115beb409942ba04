"""What a ``log_event`` decoration means, checked once when the function is decorated.

*Relationships* map a qualifier to ``(source, object type)`` or ``(source, object type, attrs)``:

- ``source`` is ``"return"``/``"ret"`` (the return value), ``"self"``, or a parameter name
  (defaults applied).  ``"bb"`` with an object type picks the first field of the blackboard whose
  annotated type has that name (inside ``Annotated[...]`` and ``X | None``), else the blackboard.
  An object that is None is skipped.
- without ``attrs`` the object's ``Annotated[T, SporesAttr]`` fields are its attributes; ``attrs``
  is a list of attribute names, or a dict of ``name -> attribute name | callable(obj) | value``.

*Attributes* map a name to a callable (called with the parameters it names, from the function's
arguments and ``return``/``ret``/``self``), a string naming a parameter (or ``"param.attr"``), or
any other value (written as is).

A source or callable parameter that names nothing is a :class:`DefinitionError` at decoration.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from ..common.callables import written_name
from ..common.errors import DefinitionError, Problem
from . import config
from .extraction import field_of_type, object_attributes, object_type, plan_of
from .models import generate_event_id, generate_object_id
from .records import Attributes, RawEvent, RawObject, Relations

__all__ = ["EventSpec"]

log = logging.getLogger("mycorrhizal.spores")


def _params(fn: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


class _Relation:
    __slots__ = ("qualifier", "source", "type", "attrs")

    def __init__(self, qualifier: str, source: str, kind: str | None, attrs: Any) -> None:
        self.qualifier, self.source, self.type, self.attrs = qualifier, source, kind, attrs

    def attributes(self, obj: Any) -> Attributes:
        if self.type is None:  # spore.event: the object describes itself
            return object_attributes(obj)
        if self.attrs is None:
            return [(name, getattr(obj, field, None)) for field, name in plan_of(type(obj)).spores_attrs]
        if isinstance(self.attrs, dict):
            return [(name, _object_value(obj, how)) for name, how in self.attrs.items()]
        return [(name, _get(obj, name)) for name in self.attrs]


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _object_value(obj: Any, how: Any) -> Any:
    if callable(how):
        return how(obj)
    if isinstance(how, str):
        return _get(obj, how)
    return how


class EventSpec:
    """One ``log_event`` decoration: resolves sources and attributes after each call."""

    def __init__(
        self,
        fn: Callable[..., Any],
        event_type: str,
        relationships: dict[str, tuple[Any, ...]],
        attributes: dict[str, Any],
    ) -> None:
        self.event_type = event_type
        self.signature = inspect.signature(fn)
        self.names = set(self.signature.parameters) | {"return", "ret"}
        where = f"log_event({event_type!r}) on {written_name(fn)}"
        problems: list[Problem] = []
        self.relations = [self._relation(where, q, spec, problems) for q, spec in relationships.items()]
        self.attributes: list[tuple[str, str, Any]] = [
            self._attribute(where, name, how, problems) for name, how in attributes.items()
        ]
        DefinitionError.raise_if_any(problems, what=where)

    def _relation(self, where: str, qualifier: str, spec: Any, problems: list[Problem]) -> _Relation:
        if not isinstance(spec, tuple) or len(spec) not in (2, 3):
            problems.append(
                Problem(
                    where,
                    f"relationship {qualifier!r} is {spec!r}",
                    "give (source, object type) or (source, object type, attributes)",
                )
            )
            return _Relation(qualifier, "return", "", None)
        source, kind = str(spec[0]), str(spec[1])
        attrs = spec[2] if len(spec) == 3 else None
        if source not in self.names:
            known = ", ".join(sorted(self.names))
            problems.append(
                Problem(where, f"relationship {qualifier!r} reads {source!r}", f"use one of: {known}")
            )
        if attrs is not None and not isinstance(attrs, list | tuple | dict):
            problems.append(
                Problem(
                    where, f"relationship {qualifier!r} has attributes {attrs!r}", "give a list or a dict"
                )
            )
        return _Relation(qualifier, source, kind, attrs)

    def _attribute(self, where: str, name: str, how: Any, problems: list[Problem]) -> tuple[str, str, Any]:
        if callable(how):
            unknown = [p for p in _params(how) if p not in self.names]
            if unknown:
                known = ", ".join(sorted(self.names))
                problems.append(
                    Problem(
                        where,
                        f"attribute {name!r} is computed from {', '.join(unknown)}, which the function "
                        "does not have",
                        f"name only these in the callable's parameters: {known}",
                    )
                )
            return name, "call", (how, _params(how))
        if isinstance(how, str):
            head = how.split(".", 1)[0]
            if how in self.names:
                return name, "param", how
            if "." in how and head in self.names:
                return name, "path", how.split(".")
        return name, "value", how

    def typed_sources(self, sources: list[str]) -> None:
        """Relate each named source with its name as qualifier and the object's own type."""
        where = f"spore.event({self.event_type!r})"
        problems = [
            Problem(where, f"objects names {s!r}", f"use one of: {', '.join(sorted(self.names))}")
            for s in sources
            if s not in self.names
        ]
        DefinitionError.raise_if_any(problems, what=where)
        self.relations.extend(_Relation(s, s, None, None) for s in sources)

    # -- after a call ---------------------------------------------------------------------------------

    def _values(self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> dict[str, Any]:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values["return"] = values["ret"] = result
        return values

    def records(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> tuple[list[RawObject], RawEvent]:
        """The object records, then the event, for a call that returned ``result``."""
        values = self._values(args, kwargs, result)
        now = time.time()
        objects: list[RawObject] = []
        relations: Relations = []
        for rel in self.relations:
            obj = values.get(rel.source)
            if rel.source == "bb" and obj is not None and rel.type is not None:
                obj = field_of_type(obj, rel.type)
            if obj is None:
                continue
            ident = generate_object_id(obj)
            kind = rel.type if rel.type is not None else object_type(obj)
            objects.append((ident, kind, now, rel.attributes(obj), []))
            relations.append((ident, rel.qualifier))
        attributes: Attributes = []
        for name, kind, how in self.attributes:
            try:
                attributes.append((name, self._evaluate(kind, how, values)))
            except Exception:  # the call succeeded; a failing attribute must not fail it
                log.exception("spores: %s: attribute %r could not be computed", self.event_type, name)
        return objects, (generate_event_id(), self.event_type, now, attributes, relations, None)

    @staticmethod
    def _evaluate(kind: str, how: Any, values: dict[str, Any]) -> Any:
        if kind == "call":
            fn, params = how
            return fn(*(values[p] for p in params))
        if kind == "param":
            return values[how]
        if kind == "path":
            value = values[how[0]]
            for part in how[1:]:
                value = _get(value, part)
            return value
        return how

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` wrapped to write this spec's records after each normal return."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                result = await fn(*args, **kwargs)
                if config.get_config().enabled:
                    objects, event = self.records(args, kwargs, result)
                    dispatcher = config.get_dispatcher()
                    for obj in objects:
                        await dispatcher.aobject(obj)
                    await dispatcher.aevent(event)
                return result

            awrapper.__rewrap__ = self.wrap  # type: ignore[attr-defined]
            return awrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            if config.get_config().enabled:
                objects, event = self.records(args, kwargs, result)
                dispatcher = config.get_dispatcher()
                for obj in objects:
                    dispatcher.object(obj)
                dispatcher.event(event)
            return result

        # The same wrapper around another function: septum re-makes it around the copy of a
        # class-form handler that sees the state's names (``Events``, sibling states).
        wrapper.__rewrap__ = self.wrap  # type: ignore[attr-defined]
        return wrapper
