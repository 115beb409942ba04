"""The interpreter-specific helpers, on whichever Python runs the suite (CI runs 3.11, 3.12, 3.13)."""

import functools
from collections.abc import Callable
from typing import Any

import pytest

from mycorrhizal.common.interpreter import is_empty_function


def only_pass(a: Any, b: Any) -> None:
    pass


def only_ellipsis(a: Any, b: Any) -> None: ...


def only_docstring(a: Any, b: Any) -> None:
    """Nothing to do here."""


def docstring_and_pass(a: Any, b: Any) -> None:
    """Nothing to do here."""
    pass


def bare_return(a: Any, b: Any) -> None:
    return


def return_none(a: Any, b: Any) -> None:
    return None


async def async_pass(a: Any, b: Any) -> None:
    pass


async def async_docstring(a: Any, b: Any) -> None:
    """Nothing to do here either."""


class Methods:
    def empty(self) -> None:
        """An empty method."""

    def busy(self) -> int:
        return 1


@pytest.mark.parametrize(
    "fn",
    [
        only_pass,
        only_ellipsis,
        only_docstring,
        docstring_and_pass,
        bare_return,
        return_none,
        async_pass,
        async_docstring,
        Methods().empty,
        lambda: None,
    ],
)
def test_functions_that_only_return_none_are_empty(fn: Callable[..., Any]) -> None:
    assert is_empty_function(fn)


def documented_return_one() -> int:
    """The docstring is constant 0 here, so ``return 1`` loads constant 1, as a docstring-only body does."""
    return 1


def return_one() -> int:
    return 1


def return_argument(a: Any) -> Any:
    return a


def calls_something(a: list[Any]) -> None:
    a.append(1)


def reads_a_global() -> None:
    documented_return_one  # noqa: B018 - a statement that loads a name is not empty


def generator() -> Any:
    return
    yield


async def async_generator() -> Any:
    return
    yield


async def awaits_something() -> None:
    await async_pass(1, 2)


def raises() -> None:
    raise ValueError


def closure_reader() -> Callable[[], Any]:
    value = 3

    def inner() -> Any:
        return value

    return inner


@pytest.mark.parametrize(
    "fn",
    [
        documented_return_one,
        return_one,
        return_argument,
        calls_something,
        reads_a_global,
        generator,
        async_generator,
        awaits_something,
        raises,
        closure_reader(),
        Methods().busy,
        functools.partial(only_pass, 1),
        print,
        42,
        lambda: 0,
    ],
)
def test_functions_that_do_anything_else_are_not_empty(fn: Any) -> None:
    assert not is_empty_function(fn)


def test_a_docstring_only_body_with_a_constant_return_elsewhere_is_told_apart() -> None:
    # Same bytes as only_docstring's body on every version: LOAD/RETURN constant 1.
    assert documented_return_one.__code__.co_code == only_docstring.__code__.co_code
    assert is_empty_function(only_docstring) and not is_empty_function(documented_return_one)
