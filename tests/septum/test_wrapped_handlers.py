"""Handlers wrapped by a decorator that can re-make itself (``__wrapped__`` + ``__rewrap__``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import Enum, auto
from typing import Any

from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum


def counting(calls: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator recording each call, re-makeable around another function."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def wrapper(ctx: Any) -> Any:
            calls.append(fn.__name__)
            return await fn(ctx)

        wrapper.__rewrap__ = decorate  # type: ignore[attr-defined]
        return wrapper

    return decorate


calls: list[str] = []


@septum.state
class Start:
    class Events(Enum):
        GO = auto()

    @septum.on_state
    @counting(calls)
    async def on_state(ctx):
        return Events.GO  # noqa: F821 - a bare name septum resolves in the class body

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.GO, Done)]  # noqa: F821


@septum.state(config=StateConfiguration(terminal=True))
class Done:
    pass


async def test_a_rewrappable_wrapper_sees_the_class_body_names_of_its_state() -> None:
    fsm = StateMachine(Start)
    await fsm.initialize()
    await fsm.run()
    assert fsm.current_state is Done
    assert calls == ["on_state"]
