"""How messages name a callable (common/callables.py): only a name a ``def`` could have is given as one."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from mycorrhizal.common.callables import def_name, shown_name, written_name


def handler(ctx: Any) -> None:
    return None


class Handler:
    def __call__(self, ctx: Any) -> None:
        return None


def renamed(name: str) -> Any:
    def fn() -> None:
        return None

    fn.__name__ = name
    return fn


@pytest.mark.parametrize(
    ("fn", "as_def", "shown"),
    [
        (handler, "handler", "handler"),
        (Handler().__call__, "__call__", "__call__"),
        (lambda ctx: None, None, "<lambda>"),
        (functools.partial(handler), None, "partial object"),
        (Handler(), None, "Handler object"),
        (renamed("class"), None, "class"),
        (renamed("two words"), None, "two words"),
    ],
    ids=["def", "bound method", "lambda", "partial", "callable object", "keyword", "not an identifier"],
)
def test_a_callable_has_a_def_name_only_when_a_def_could(fn: Any, as_def: str | None, shown: str) -> None:
    assert def_name(fn) == as_def
    assert shown_name(fn) == shown


def declared_in_a_function() -> dict[str, Any]:
    """A function, a class and its method declared inside a function (their qualnames hold <locals>)."""

    def local(ctx: Any) -> None:
        return None

    class Local:
        def method(self) -> None:
            return None

        class Inner:
            pass

    return {"function": local, "class": Local, "method": Local.method, "nested class": Local.Inner}


LOCAL = declared_in_a_function()


@pytest.mark.parametrize(
    ("obj", "written"),
    [
        (handler, "handler"),
        (Handler, "Handler"),
        (Handler.__call__, "Handler.__call__"),
        (LOCAL["function"], "local"),
        (LOCAL["class"], "Local"),
        (LOCAL["method"], "Local.method"),
        (LOCAL["nested class"], "Local.Inner"),
        (lambda ctx: None, "<lambda>"),
        (functools.partial(handler), "partial object"),
        (Handler(), "Handler object"),
    ],
    ids=[
        "def",
        "class",
        "method",
        "local def",
        "local class",
        "method of a local class",
        "class in a local class",
        "lambda",
        "partial",
        "callable object",
    ],
)
def test_a_name_is_written_as_where_it_was_declared(obj: Any, written: str) -> None:
    # A message names it as the user wrote it: never the "<locals>" of the function around it.
    assert written_name(obj) == written
