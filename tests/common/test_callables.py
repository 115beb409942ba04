"""How messages name a callable (common/callables.py): only a name a ``def`` could have is given as one."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from mycorrhizal.common.callables import def_name, shown_name


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
