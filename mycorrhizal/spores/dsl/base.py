"""What the engine adapters share: checking what they wrap, user attributes, enable/disable."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ...common.errors import DefinitionError, Problem
from ..records import Attributes
from ..wrapping import ArgumentFinder

__all__ = ["Adapter", "UserAttributes", "blackboard_argument", "check_target"]


def check_target(fn: Any, decorator: str, engine_decorator: str) -> None:
    """Refuse anything but a plain function, with the fix (adapters go below the engine's decorator)."""
    if getattr(fn, "__septum_role__", None) is not None or not inspect.isfunction(fn):
        raise TypeError(
            f"{decorator} wraps the handler function itself, got {fn!r}. Fix: put {decorator} directly "
            f"above the 'def' line, below {engine_decorator}"
        )


def blackboard_argument(
    finder: ArgumentFinder, prefer_bb: bool = False
) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
    """A function finding the blackboard in a call of the handler ``finder`` reads: its first
    parameter's argument (``prefer_bb``: its ``bb`` parameter's, if it has one), passed
    positionally or by keyword."""
    name = "bb" if prefer_bb and "bb" in finder else finder.first
    if name is None:
        return lambda args, kwargs: args[0] if args else None
    return lambda args, kwargs: finder.get(name, args, kwargs)


class UserAttributes:
    """An adapter's ``attributes=``: values, or callables given the handler arguments they name.

    A callable's parameters are matched by name against the handler's parameters (``bb``,
    ``ctx``, ``consumed``, ``token``, ``timebase``...) and ``result`` (what the handler returned);
    a callable with one parameter of another name gets the handler's first argument.
    """

    __slots__ = ("_items", "_finder", "_first")

    def __init__(self, attributes: dict[str, Any] | None, fn: Callable[..., Any], where: str) -> None:
        self._finder = ArgumentFinder(fn)
        self._first = blackboard_argument(self._finder)
        self._items: list[tuple[str, Any, tuple[str, ...] | None]] = []
        problems: list[Problem] = []
        for name, how in (attributes or {}).items():
            if not callable(how):
                self._items.append((name, how, None))
                continue
            params = tuple(inspect.signature(how).parameters)
            unknown = [p for p in params if p not in self._finder and p != "result"]
            if unknown and len(params) > 1:
                problems.append(
                    Problem(
                        where,
                        f"attribute {name!r} asks for {', '.join(unknown)}, which the handler does not take",
                        "name the handler's parameters or 'result' in the callable's parameters",
                    )
                )
            self._items.append((name, how, params))
        DefinitionError.raise_if_any(problems, what=where)

    def __bool__(self) -> bool:
        return bool(self._items)

    def evaluate(self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any, into: Attributes) -> None:
        """Append every attribute's value for this call to ``into``."""
        for name, how, params in self._items:
            if params is None:
                into.append((name, how))
                continue
            values = [self._value(p, args, kwargs, result) for p in params]
            into.append((name, how(*values)))

    def _value(self, param: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        if param == "result":
            return result
        if param in self._finder:
            return self._finder.get(param, args, kwargs)
        return self._first(args, kwargs)


class Adapter:
    """Base of the engine adapters: ``enable()``/``disable()`` switch this adapter's events."""

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True
        """False after :meth:`disable`: the adapter's wrappers write nothing."""

    def enable(self) -> None:
        """Write this adapter's events again."""
        self.enabled = True

    def disable(self) -> None:
        """Stop writing this adapter's events (the wrapped handlers still run)."""
        self.enabled = False
