"""0.x's ways of declaring states (UPSTREAM-API §0, §1.1, §1.7): import paths, aliases, keywords."""

from __future__ import annotations

from enum import Enum, auto

import pytest

import mycorrhizal.septum.events as records
from mycorrhizal.common import DefinitionError, DefinitionTypeError
from mycorrhizal.render import to_mermaid as render_mermaid
from mycorrhizal.septum import State, StateConfiguration, StateMachine, septum
from mycorrhizal.septum import core as septum_core
from mycorrhizal.septum.core import (
    LabeledTransition,
    events,
    on_enter,
    on_fail,
    on_leave,
    on_timeout,
    root,
    state,
    transitions,
)
from mycorrhizal.septum.core import on_state as state_handler
from mycorrhizal.septum.util import to_mermaid

ALIASES = (
    "state",
    "on_state",
    "on_enter",
    "on_leave",
    "on_timeout",
    "on_fail",
    "transitions",
    "events",
    "root",
)


@pytest.mark.parametrize("name", ALIASES)
def test_module_level_aliases_are_the_decorators_of_septum(name: str) -> None:
    alias = getattr(septum_core, name)
    assert alias == getattr(septum, name)  # the very bound method
    assert name in septum_core.__all__


def test_the_package_keeps_its_events_module() -> None:
    # ``events`` the decorator lives in core; in the package it is still the module of records.
    import mycorrhizal.septum as package

    assert package.events is records
    assert septum_core.events == septum.events


@state(config=StateConfiguration(timeout=5.0, retries=1), name="Waiting", group="network")
def WaitState():
    @events
    class Events(Enum):
        READY = auto()
        GIVE_UP = auto()

    @on_enter
    async def entered(ctx):
        ctx.common.setdefault("log", []).append("enter")

    @on_leave
    async def left(ctx):
        ctx.common.setdefault("log", []).append("leave")

    @state_handler  # 0.x programs import on_state under another name: the handler is also on_state
    async def on_state(ctx):
        return Events.READY if ctx.msg == "ready" else None

    @on_timeout
    async def timed_out(ctx):
        return Events.GIVE_UP

    @on_fail
    async def failed(ctx):
        return Events.GIVE_UP

    @transitions
    def declared():
        return [LabeledTransition(Events.READY, Ready), LabeledTransition(Events.GIVE_UP, Ready)]


@state(StateConfiguration(terminal=True))  # the configuration by position means config=
def Ready():
    pass


def test_a_function_state_declared_with_the_aliases_runs() -> None:
    import asyncio

    async def scenario() -> list[str]:
        fsm = StateMachine(initial_state=WaitState, common_data={})
        fsm.send_message("ready")
        await fsm.run()
        assert fsm.current_state is Ready and fsm.is_complete
        return fsm.common["log"]

    assert asyncio.run(scenario()) == ["enter", "leave"]


def test_name_and_group_keywords() -> None:
    assert WaitState.name == "Waiting" and WaitState.__name__ == "Waiting"
    assert WaitState.qualname == "WaitState"  # errors still point at the declaration
    assert WaitState.group_name == "network"
    assert Ready.group_name is None and Ready.config.terminal
    assert "Waiting" in to_mermaid(StateMachine(WaitState))


def test_events_makes_the_enum_visible_even_when_no_handler_names_it() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Quiet():
        @septum.events
        class Events(Enum):
            HUSH = auto()

        @septum.on_state
        async def on_state(ctx):
            return None

    assert Quiet.Events.HUSH.name == "HUSH"
    assert WaitState.Events.READY.name == "READY"


def test_events_on_a_class_state_is_a_plain_name_of_its_body() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    class Marked:
        @septum.events
        class Events(Enum):
            GO = auto()

        @septum.on_state
        async def on_state(ctx):
            return None

    assert Marked.Events.GO.name == "GO"
    assert set(Marked.handlers) == {"on_state"}  # not taken for a handler


def test_events_takes_a_class() -> None:
    with pytest.raises(DefinitionTypeError, match=r"@septum.events: decorates a class, got 3"):
        septum.events(3)  # type: ignore[type-var]


def test_root_marks_the_function_and_nothing_else() -> None:
    def main() -> None: ...

    assert root(main) is main and main._septum_is_root is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(("keyword", "value"), [("name", ""), ("name", 3), ("group", ["g"])])
def test_name_and_group_must_be_text(keyword: str, value: object) -> None:
    with pytest.raises(DefinitionTypeError, match=rf"@septum.state\({keyword}=...\): takes a non-empty str"):
        septum.state(**{keyword: value})(type("X", (), {}))  # type: ignore[arg-type]


def test_a_handler_hiding_its_decorator_gets_a_fix_that_says_so() -> None:
    on_state = septum.on_state

    with pytest.raises(DefinitionError, match="the handler named on_state hides the decorator on_state"):

        @septum.state()
        def Shadowing():
            @on_state  # noqa: F823 - the local on_state below makes this name unbound here
            async def on_state(ctx):  # noqa: F811
                return None

    assert on_state is not None


def test_util_to_mermaid_draws_a_machine_before_and_after_initialize() -> None:
    import asyncio

    fsm = StateMachine(WaitState)
    before = to_mermaid(fsm)
    assert before.startswith("flowchart") and "Waiting" in before and "Ready" in before
    assert before == render_mermaid(fsm)  # the same picture as mycorrhizal.render draws
    asyncio.run(fsm.initialize())
    assert to_mermaid(fsm) == render_mermaid(fsm)
    assert to_mermaid(WaitState) == render_mermaid(WaitState)  # a state (or group) works too


def test_util_to_mermaid_refuses_what_is_not_a_machine() -> None:
    with pytest.raises(ValueError, match=r"is not a state machine\. Fix: pass a StateMachine"):
        to_mermaid("Idle")


def test_states_read_like_0x_specs() -> None:
    assert isinstance(WaitState, State)
    assert WaitState.config.timeout == 5.0
    fsm = StateMachine(initial_state=WaitState)
    assert fsm.current_state == WaitState and "Waiting" in fsm.current_state.name
