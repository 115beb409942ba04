"""Builders for statechart tests: states and composite states whose hooks write a shared log."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mycorrhizal.septum import (
    HandlerFailed,
    State,
    StateConfiguration,
    StateEntered,
    StateLeft,
    StateMachine,
    septum,
)
from mycorrhizal.septum.compound import CompositeState
from tests._observing import Recorder


def _traced(name: str, handlers: dict[str, Any]) -> dict[str, Any]:
    """Handlers with on_enter/on_leave that log "enter NAME"/"leave NAME" (then run the given ones)."""
    enter, leave = handlers.pop("on_enter", None), handlers.pop("on_leave", None)

    def on_enter(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"enter {name}")
        if enter is not None:
            enter(ctx)

    def on_leave(ctx: Any) -> None:
        ctx.common.setdefault("log", []).append(f"leave {name}")
        if leave is not None:
            leave(ctx)

    return {"on_enter": on_enter, "on_leave": on_leave, **handlers}


def _body(name: str, handlers: dict[str, Any], children: tuple[State, ...] = ()) -> type:
    body: dict[str, Any] = {role: getattr(septum, role)(fn) for role, fn in _traced(name, handlers).items()}
    body.update({child.name: child for child in children})
    return type(name, (), body)


def leaf(name: str, *, config: StateConfiguration | None = None, **handlers: Any) -> State:
    """An atomic state with traced hooks."""
    return septum.state(config=config)(_body(name, handlers))


def final(name: str) -> State:
    """A terminal state with a traced on_enter."""
    return septum.state(config=StateConfiguration(terminal=True))(_body(name, {}))


def box(
    name: str,
    *children: State,
    initial: str | None = None,
    config: StateConfiguration | None = None,
    **handlers: Any,
) -> CompositeState:
    """A compound state holding ``children`` (the first is the initial child unless ``initial``)."""
    made: CompositeState = septum.compound(initial=initial, config=config)(_body(name, handlers, children))
    return made


def regions(
    name: str, *children: State, config: StateConfiguration | None = None, **handlers: Any
) -> CompositeState:
    """A parallel state whose regions are ``children``."""
    made: CompositeState = septum.parallel(config=config)(_body(name, handlers, children))
    return made


def on(table: dict[Any, Any]) -> Callable[[Any], Any]:
    """An on_state returning ``table[msg]`` for a message (None for anything else and the entry run)."""
    return lambda ctx: table.get(ctx.msg) if ctx.msg is not None else None


def names(states: tuple[State, ...]) -> list[str]:
    return [s.name for s in states]


def drain(fsm: StateMachine) -> list[str]:
    """The log so far, emptied."""
    log: list[str] = fsm.common.setdefault("log", [])
    taken = list(log)
    log.clear()
    return taken


async def check_told_in_full(fsm: StateMachine, messages: list[str]) -> None:
    """Start ``fsm`` and send it ``messages`` one at a time, watched by an observer asking for every
    record and one asking for none.  After each step: replaying the first's records (``StateLeft``
    out, ``StateEntered`` in, a routed failure abandons every state) gives ``fsm.configuration``,
    and the second got the same records but the ``StateLeft`` of each transition's source, which
    the ``StateEntered`` records after it name (``previous``)."""
    asking, plain = Recorder(), []
    fsm.add_observer(asking)
    fsm.add_observer(plain.append)
    active: set[str] = set()
    for msg in [None, *messages]:
        if fsm.is_complete:
            break
        if msg is not None:
            fsm.send_message(msg)
        await fsm.run()
        step, told = list(asking), list(plain)
        asking.clear(), plain.clear()
        for event in step:
            if isinstance(event, StateLeft):
                active.remove(event.state)  # (a state left twice, or never entered, fails here)
            elif isinstance(event, StateEntered):
                active.add(event.state)
            elif isinstance(event, HandlerFailed) and event.routed_to is not None:
                active.clear()
        assert active == set(names(fsm.configuration)), (msg, step)
        sources = {e.previous for e in step if isinstance(e, StateEntered)}
        assert told == [e for e in step if not (isinstance(e, StateLeft) and e.state in sources)], (msg, step)
