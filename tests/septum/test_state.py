"""Declaring states: both forms, with and without parentheses, and how bare names resolve."""

from __future__ import annotations

from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.septum import (
    LabeledTransition,
    State,
    StateConfiguration,
    StateMachine,
    septum,
)


@septum.state
class Ping:
    class Events(Enum):
        PONG = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.PONG if ctx.msg == "go" else None  # noqa: F821 - resolved by septum

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.PONG, Pong)]  # noqa: F821


@septum.state()
class Pong:
    class Events(Enum):
        PING = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.PING if ctx.msg == "go" else None  # noqa: F821

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.PING, Ping)]  # noqa: F821


@septum.state
def FnPing():
    class Events(Enum):
        PONG = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.PONG if ctx.msg == "go" else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.PONG, FnPong)]


@septum.state()
def FnPong():
    class Events(Enum):
        PING = auto()

    @septum.on_state
    def on_state(ctx):  # plain functions are handlers too
        return Events.PING if ctx.msg == "go" else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.PING, FnPing)]


class Outer:
    """States nested in a class see the class's other names by bare name."""

    @septum.state
    class Inner:
        class Events(Enum):
            NEXT = auto()

        @septum.on_enter
        async def on_enter(ctx):
            ctx.common.setdefault("seen", []).append(Inner.__name__)  # noqa: F821 - itself

        @septum.on_state
        async def on_state(ctx):
            return Events.NEXT  # noqa: F821

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.NEXT, Sibling)]  # noqa: F821 - Outer.Sibling

    @septum.state(config=StateConfiguration(terminal=True))
    class Sibling:
        pass


@pytest.mark.parametrize(("first", "second"), [(Ping, Pong), (FnPing, FnPong)], ids=["class", "function"])
async def test_both_forms_behave_the_same(first: State, second: State) -> None:
    fsm = StateMachine(first)
    await fsm.initialize()
    names = []
    for _ in range(4):
        fsm.send_message("go")
        await fsm.run()
        names.append(fsm.current_state.name)
    assert names == [second.name, first.name, second.name, first.name]


def test_decorator_with_and_without_parentheses_gives_same_kind_of_state() -> None:
    assert isinstance(Ping, State) and isinstance(Pong, State)
    assert isinstance(FnPing, State) and isinstance(FnPong, State)
    assert Ping.form == Pong.form == "class"
    assert FnPing.form == FnPong.form == "function"
    assert Ping.config == Pong.config == StateConfiguration()


def test_each_state_has_its_own_configuration_object() -> None:
    assert Ping.config is not Pong.config
    assert FnPing.config is not FnPong.config


def test_state_reads_like_the_class_it_decorates() -> None:
    assert Ping.__name__ == "Ping"
    assert Ping.name == "Ping"
    assert Ping.Events.PONG.name == "PONG"
    assert FnPing.Events.PONG.name == "PONG"  # the function body's Events, through the closures
    assert Outer.Inner.__qualname__ == "Outer.Inner"
    assert "Ping" in repr(Ping)
    with pytest.raises(AttributeError, match="state 'Ping' has no attribute 'nope'"):
        _ = Ping.nope


def test_states_are_immutable() -> None:
    with pytest.raises(AttributeError, match="immutable"):
        Ping.name = "Other"  # type: ignore[misc]


def test_handler_returns_the_function_as_written() -> None:
    fn = Ping.handler("on_state")
    assert fn is not None and fn.__name__ == "on_state"
    assert Ping.handler("on_fail") is None


async def test_nested_state_resolves_itself_and_siblings_by_bare_name() -> None:
    bb: dict[str, list[str]] = {}
    fsm = StateMachine(Outer.Inner, common_data=bb)
    await fsm.run()
    assert fsm.current_state is Outer.Sibling
    assert fsm.is_complete
    assert bb["seen"] == ["Inner"]


async def test_states_declared_inside_a_function_see_each_other() -> None:
    @septum.state
    class A:
        class Events(Enum):
            GO = auto()

        @septum.on_state
        async def on_state(ctx):
            return Events.GO  # noqa: F821

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.GO, B)]  # noqa: F821 - closure over the test's local

    @septum.state(config=StateConfiguration(terminal=True))
    class B:
        pass

    fsm = StateMachine(A)
    await fsm.run()
    assert fsm.current_state is B


async def test_group_members_see_each_other_by_bare_name() -> None:
    @septum.group
    class Door:
        @septum.state
        class Shut:
            class Events(Enum):
                OPEN = auto()

            @septum.on_state
            async def on_state(ctx):
                return Events.OPEN if ctx.msg == "open" else None  # noqa: F821

            @septum.transitions
            def transitions():
                return [LabeledTransition(Events.OPEN, Ajar)]  # noqa: F821 - a group member

        @septum.state(config=StateConfiguration(terminal=True))
        class Ajar:
            pass

    assert Door.initial is Door.Shut
    fsm = StateMachine(Door)
    fsm.send_message("open")
    await fsm.run()
    assert fsm.current_state.name == "Ajar"


async def test_module_globals_stay_live_for_rewritten_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    fsm = StateMachine(UsesHelper)
    await fsm.run()
    assert fsm.common["got"] == "real"
    monkeypatch.setitem(globals(), "helper", lambda: "patched")
    fsm = StateMachine(UsesHelper)
    await fsm.run()
    assert fsm.common["got"] == "patched"


def helper() -> str:
    return "real"


@septum.state(config=StateConfiguration(can_dwell=True))
class UsesHelper:
    class Events(Enum):
        NEVER = auto()

    @septum.on_state
    async def on_state(ctx):
        ctx.common["got"] = helper()
        assert Events.NEVER  # noqa: F821 - makes septum rewrite this handler's globals


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (42, "decorates a class or a function"),
        (Ping, "already a state"),
    ],
)
def test_state_decorator_rejects_other_things(bad: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        septum.state(bad)  # type: ignore[call-overload]


def test_state_decorator_rejects_a_config_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="takes a StateConfiguration"):
        septum.state(config={"timeout": 1})(type("X", (), {}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": -1.5}, "timeout must be a number >= 0"),
        ({"timeout": "5"}, "timeout must be a number >= 0"),
        ({"timeout": True}, "timeout must be a number >= 0"),
        (
            {"timeout": float("nan")},
            r"timeout must be a number >= 0 or None, got nan\. Fix: give timeout in seconds",
        ),
        ({"retries": -1}, "retries must be an int >= 0"),
        ({"retries": 1.5}, "retries must be an int >= 0"),
        ({"terminal": 1}, "terminal must be True or False"),
        ({"can_dwell": None}, "can_dwell must be True or False"),
    ],
)
def test_configuration_is_checked(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StateConfiguration(**kwargs)  # type: ignore[arg-type]


def test_group_needs_states() -> None:
    from mycorrhizal.common import DefinitionError

    with pytest.raises(DefinitionError, match="declares no states"):
        septum.group(type("Empty", (), {}))
    with pytest.raises(TypeError, match="takes states declared with @septum.state"):
        septum.group(Ping, "Pong")  # type: ignore[call-overload]


def test_state_function_with_parameters_is_refused() -> None:
    from mycorrhizal.common import DefinitionError

    def Bad(x):  # noqa: N802 - a state name
        pass

    with pytest.raises(DefinitionError, match="takes no arguments"):
        septum.state(Bad)


@septum.group
class Valve:
    @septum.state
    class Closed:
        class Events(Enum):
            OPEN = auto()

        @septum.on_state
        async def on_state(ctx):
            return Events.OPEN if ctx.msg == "open" else None  # noqa: F821

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.OPEN, Opened)]  # noqa: F821 - a sibling in the group

    @septum.state(config=StateConfiguration(terminal=True))
    class Opened:
        pass


async def test_module_level_group_members_resolve_through_the_group() -> None:
    fsm = StateMachine(Valve)
    fsm.send_message("open")
    await fsm.run()
    assert fsm.current_state is Valve.Opened
    assert "Valve" in repr(Valve)
    with pytest.raises(AttributeError, match="state group 'Valve' has no attribute 'Nope'"):
        _ = Valve.Nope


# A group that reuses a module-level state and declares its own ``Done``, shadowing the module's.
# The two orders below differ only in whether a machine is built from ``Start`` before the group
# is declared; what either machine does must not depend on it (issue 8, item 7).
_SHADOWING = """
from enum import Enum, auto
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum

@septum.state
class Start:
    class Events(Enum):
        GO = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.GO

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.GO, Done)]

@septum.state(config=StateConfiguration(terminal=True))
class Done:
    pass

{first}

@septum.group
class Flow:
    Begin = Start

    @septum.state(config=StateConfiguration(terminal=True))
    class Done:
        pass

{second}
"""


@pytest.mark.parametrize("alone_first", [True, False], ids=["state-then-group", "group-then-state"])
async def test_results_do_not_depend_on_construction_order(alone_first: bool) -> None:
    alone = "alone = StateMachine(Start)"
    source = _SHADOWING.format(first=alone if alone_first else "", second="" if alone_first else alone)
    namespace: dict[str, object] = {"__name__": f"shadowing_{alone_first}"}
    exec(compile(source, f"<shadowing {alone_first}>", "exec"), namespace)
    flow, done, start = namespace["Flow"], namespace["Done"], namespace["Start"]
    alone_machine = namespace["alone"]
    in_group = StateMachine(flow)  # type: ignore[arg-type]
    await alone_machine.run()  # type: ignore[attr-defined]
    await in_group.run()
    # Built from the state, Start sees the module's Done; built from the group, the group's own.
    assert alone_machine.current_state is done  # type: ignore[attr-defined]
    assert in_group.current_state is flow.Done  # type: ignore[attr-defined]
    assert StateMachine(start).spec.nodes.keys() == {start, done}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reach", "match"),
    [
        (
            lambda: Ping.Event,
            r"^state 'Ping' has no attribute 'Event'\. Fix: did you mean 'Events'\? If not, ",
        ),
        (
            lambda: Ping.on_stat,
            r"^state 'Ping' .* Fix: did you mean 'on_state'\? If not, define it in the state's",
        ),
        (
            lambda: Valve.Opend,
            r"^state group 'Valve' has no attribute 'Opend'\. Fix: did you mean 'Opened'\? ",
        ),
        (
            lambda: Valve.Nope,
            r"^state group 'Valve' has no attribute 'Nope'\. Fix: declare it in the group's body$",
        ),
    ],
    ids=["state", "role", "group_member", "nothing_close"],
)
def test_a_misspelt_attribute_of_a_state_or_group_is_answered_with_the_nearest(
    reach: Any, match: str
) -> None:
    # Before: "state 'Ping' has no attribute 'Event'" and nothing more.
    with pytest.raises(AttributeError, match=match):
        reach()
