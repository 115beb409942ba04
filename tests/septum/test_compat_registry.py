"""0.x's global state registry (UPSTREAM-API §1.1-§1.3): ``register_state``, ``get_state``,
``get_all_states``, ``StateRef("module.Name")`` targets, and the machine's read-only views
``fsm.registry`` and ``fsm.retry_counters``."""

from __future__ import annotations

import runpy
from enum import Enum, auto
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.septum.core import (
    LabeledTransition,
    Pop,
    Push,
    Retry,
    StateConfiguration,
    StateMachine,
    StateRef,
    get_all_states,
    get_state,
    register_state,
    septum,
)

HERE = __name__


@septum.state(config=StateConfiguration(can_dwell=True))
def Start():
    class Events(Enum):
        GO = auto()
        AGAIN = auto()

    @septum.on_state
    async def on_state(ctx):
        return {"go": Events.GO, "again": Events.AGAIN}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.GO, StateRef(f"{HERE}.Finish")),
            LabeledTransition(Events.AGAIN, Retry),
        ]


@septum.state(config=StateConfiguration(terminal=True))
def Finish():
    @septum.on_state
    async def on_state(ctx):
        return None


@septum.state(config=StateConfiguration(terminal=True), name="billing.Settled")
def SettledState():
    @septum.on_state
    async def on_state(ctx):
        return None


@pytest.mark.parametrize("form", ["StateRef", "initial_state name"])
async def test_a_state_renamed_with_name_is_registered_under_that_name_too(form: str) -> None:
    # 0.x's name= replaced the generated "<module>.<qualname>", the name it was registered under.
    assert get_state("billing.Settled") is SettledState
    assert get_state(f"{HERE}.SettledState") is SettledState  # (ours, as for every state)
    initial: Any = StateRef("billing.Settled") if form == "StateRef" else "billing.Settled"
    fsm = StateMachine(initial_state=initial)
    assert fsm.current_state is SettledState


def test_every_declared_state_is_registered_under_module_and_qualname() -> None:
    assert get_state(f"{HERE}.Start") is Start
    assert get_state(f"{HERE}.Finish") is Finish
    assert get_state(f"{HERE}.Nowhere") is None
    everything = get_all_states()
    assert everything[f"{HERE}.Start"] is Start
    everything.clear()  # a copy: the registry is unchanged
    assert get_state(f"{HERE}.Start") is Start


def test_a_later_state_of_the_same_name_replaces_the_earlier_one() -> None:
    def declare() -> object:
        @septum.state(config=StateConfiguration(terminal=True))
        def Twin():
            @septum.on_state
            async def on_state(ctx):
                return None

        return Twin

    first, second = declare(), declare()
    name = (
        f"{HERE}.test_a_later_state_of_the_same_name_replaces_the_earlier_one.<locals>.declare.<locals>.Twin"
    )
    assert get_state(name) is second
    assert register_state(first) is first  # type: ignore[arg-type]
    assert get_state(name) is first


def test_register_state_refuses_what_is_not_a_state() -> None:
    with pytest.raises(TypeError, match="decorate it with @septum.state"):
        register_state("Start")  # type: ignore[arg-type]


async def test_a_state_ref_target_goes_to_the_registered_state() -> None:
    fsm = StateMachine(initial_state=Start)
    fsm.send_message("go")
    await fsm.run()
    assert fsm.current_state is Finish
    assert StateRef(f"{HERE}.Finish").resolve() is Finish


def test_a_state_ref_to_no_registered_state_is_a_definition_error() -> None:
    lost = _refers_to(StateRef("nowhere.Missing"))
    with pytest.raises(DefinitionError, match=r"StateRef\('nowhere.Missing'\) names no registered state"):
        StateMachine(initial_state=lost)
    with pytest.raises(DefinitionError, match="no state is registered under that name"):
        StateRef("nowhere.Missing").resolve()


async def test_machine_views_registry_and_retry_counters_are_read_only() -> None:
    fsm = StateMachine(initial_state=Start)
    assert dict(fsm.registry) == {f"{HERE}.Start": Start, f"{HERE}.Finish": Finish}
    assert dict(fsm.retry_counters) == {}
    fsm.send_message("again")
    await fsm.run()
    assert dict(fsm.retry_counters) == {"Start": 1}
    with pytest.raises(TypeError, match="does not support item assignment"):
        fsm.retry_counters["Start"] = 0  # type: ignore[index]
    with pytest.raises(TypeError, match="does not support item assignment"):
        fsm.registry["x"] = Start  # type: ignore[index]


async def test_state_enter_times_record_entries_on_the_timebase_from_the_first_read(
    clock: ManualClock,
) -> None:
    fsm = StateMachine(initial_state=Start, timebase=clock)
    times = fsm.state_enter_times
    assert dict(times) == {}
    clock.advance(2.0)
    await fsm.initialize()
    assert dict(fsm.state_enter_times) == {"Start": 2.0}
    clock.advance(3.0)
    fsm.send_message("again")  # Retry re-enters Start
    await fsm.run()
    clock.advance(1.0)
    fsm.send_message("go")
    await fsm.run()
    assert dict(fsm.state_enter_times) == {"Start": 5.0, "Finish": 6.0}
    assert dict(times) == dict(fsm.state_enter_times)  # one record, kept up to date
    with pytest.raises(TypeError, match="does not support item assignment"):
        fsm.state_enter_times["Start"] = 0.0  # type: ignore[index]


@septum.state(config=StateConfiguration(can_dwell=True))
def Caller():
    class Events(Enum):
        CALL = auto()
        QUIT = auto()

    @septum.on_state
    async def on_state(ctx):
        return {"call": Events.CALL, "quit": Events.QUIT}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.CALL, Push(StateRef(f"{HERE}.Callee"), StateRef(f"{HERE}.Caller"))),
            LabeledTransition(Events.QUIT, StateRef(f"{HERE}.Finish")),
        ]


@septum.state(config=StateConfiguration(can_dwell=True))
def Callee():
    class Events(Enum):
        BACK = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.BACK if ctx.msg == "back" else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.BACK, Pop)]


@pytest.mark.parametrize("initial", [StateRef(f"{HERE}.Caller"), f"{HERE}.Caller", Caller])
async def test_a_state_ref_names_the_initial_state_and_the_states_of_a_push(initial: Any) -> None:
    fsm = StateMachine(initial_state=initial)
    assert fsm.initial_state is Caller and fsm.current_state is Caller
    fsm.send_message("call")
    await fsm.run()
    assert fsm.current_state is Callee and fsm.state_stack == (Caller,)
    fsm.send_message("back")
    fsm.send_message("quit")
    await fsm.run()
    assert fsm.current_state is Finish


def test_a_state_ref_names_the_error_state() -> None:
    fsm = StateMachine(initial_state=Caller, error_state=StateRef(f"{HERE}.Finish"))
    assert fsm.error_state is Finish
    assert StateMachine(Caller, error_state=Finish).spec is fsm.spec  # one spec, cached


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_state": StateRef("nowhere.Start")}, r"initial_state=StateRef\(state='nowhere.Start'\)"),
        ({"initial_state": "Caller"}, "initial_state='Caller' names no registered state"),
        (
            {"initial_state": Caller, "error_state": StateRef("nowhere.Oops")},
            r"error_state=StateRef\(state='nowhere.Oops'\)",
        ),
    ],
)
def test_a_machine_named_by_an_unknown_state_ref_is_a_definition_error(kwargs: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as raised:
        StateMachine(**kwargs)
    assert "full 'module.QualName'" in str(raised.value)


def test_a_push_of_an_unknown_state_ref_is_a_definition_error_naming_the_state() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Pusher():
        class Events(Enum):
            GO = auto()

        @septum.on_state
        async def on_state(ctx):
            return None

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.GO, Push(StateRef("nowhere.Sub"), Pusher))]

    with pytest.raises(DefinitionError, match=r"state .*Pusher: StateRef\('nowhere.Sub'\) names no"):
        StateMachine(initial_state=Pusher)


def test_a_scripts_states_are_also_registered_under_its_file_stem(tmp_path: Path) -> None:
    script = tmp_path / "door_script.py"
    script.write_text(
        "from mycorrhizal.septum.core import StateConfiguration, get_state, septum\n"
        "@septum.state(config=StateConfiguration(terminal=True))\n"
        "def Shut():\n"
        "    pass\n"
        "assert get_state('door_script.Shut') is Shut is get_state('__main__.Shut')\n"
        "found = Shut\n"
    )
    found = runpy.run_path(str(script), run_name="__main__")["found"]
    assert get_state("door_script.Shut") is found


def test_a_scripts_machine_registry_has_its_states_under_its_file_stem_too(tmp_path: Path) -> None:
    script = tmp_path / "door_script.py"
    script.write_text(
        "from mycorrhizal.septum.core import StateConfiguration, StateMachine, septum\n"
        "@septum.state(config=StateConfiguration(terminal=True))\n"
        "def Shut():\n"
        "    pass\n"
        "names = set(StateMachine(initial_state=Shut).registry)\n"
    )
    assert runpy.run_path(str(script), run_name="__main__")["names"] == {"__main__.Shut", "door_script.Shut"}


def _refers_to(target: Any) -> Any:
    """A state whose one transition goes to ``target`` (a ``StateRef``)."""

    @septum.state(config=StateConfiguration(can_dwell=True))
    def Referring():
        class Events(Enum):
            GO = auto()

        @septum.on_state
        async def on_state(ctx):
            return None

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.GO, target)]

    return Referring


@pytest.mark.parametrize(
    ("make", "subject"),
    [
        (
            lambda name: StateRef(name).resolve(),
            r"StateRef\('{name}'\): no state is registered under that name",
        ),
        (
            lambda name: StateMachine(initial_state=_refers_to(StateRef(name))),
            r"StateRef\('{name}'\) names no registered state",
        ),
        (
            lambda name: StateMachine(initial_state=_refers_to(Push(StateRef(name)))),
            r"StateRef\('{name}'\) names no registered state",
        ),
        (lambda name: StateMachine(initial_state=name), r"initial_state='{name}' names no registered state"),
    ],
    ids=["resolve", "target", "pushed", "initial_state"],
)
def test_a_misspelt_registered_name_is_answered_with_the_nearest(make: Any, subject: str) -> None:
    name = f"{HERE}.Finsh"
    # Before: "... Fix: write the state's full 'module.QualName' (see get_all_states()), ..." alone.
    fix = rf"Fix: did you mean '{HERE}\.Finish'\? If not, write the state's full 'module\.QualName'"
    with pytest.raises(DefinitionError, match=rf"{subject.format(name=name)}\. {fix}"):
        make(name)
