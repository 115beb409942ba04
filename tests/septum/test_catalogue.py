"""The catalogue: every bad definition septum knows of, with the exact error it raises.

Each is a :class:`DefinitionError` (a :class:`DefinitionTypeError` where Python would say
``TypeError``), raised when the state, the configuration or the machine is declared or first built.
Every problem names the state, option or decorator at fault and ends with ``Fix: ...``.
"""

# ruff: noqa: E501 - the catalogue holds each message whole, exactly as a user reads it

from __future__ import annotations

import re
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, DefinitionTypeError, ExecutionError
from mycorrhizal.septum import LabeledTransition, Pop, Push, StateConfiguration, StateMachine, septum


class E(Enum):
    GO = auto()


@septum.state(config=StateConfiguration(terminal=True))
class End:
    pass


def make(name: str, *, config: StateConfiguration | None = None, **handlers: Any) -> Any:
    body = {role: getattr(septum, role)(fn) for role, fn in handlers.items()}
    return septum.state(config=config)(type(name, (), body))


def go() -> list[Any]:
    return [LabeledTransition(E.GO, End)]


def stay(ctx: Any) -> None:
    return None


def on_timeout(ctx: Any) -> None:
    return None


def on_fail(ctx: Any) -> None:
    return None


class NotAState:
    pass


def gen_handler(ctx: Any) -> Any:
    yield E.GO


async def agen_handler(ctx: Any) -> Any:
    yield E.GO


def gen_transitions() -> Any:
    yield LabeledTransition(E.GO, End)


async def async_transitions() -> list[Any]:
    return []


def body_raises() -> None:
    {}["Events"]


def takes_args(x: Any) -> None:
    pass


def two_on_state() -> None:
    @septum.on_state
    def first(ctx: Any) -> None:
        return None

    @septum.on_state
    def second(ctx: Any) -> None:
        return None

    @septum.transitions
    def transitions() -> list[Any]:
        return go()


def undefined_events() -> Any:
    @septum.state(config=StateConfiguration(can_dwell=True))
    class NoEvents:
        @septum.on_state
        async def on_state(ctx: Any) -> Any:
            return Events.DONE  # noqa: F821

    return NoEvents


def undefined_target() -> Any:
    @septum.state
    class Lost:
        @septum.on_state
        async def on_state(ctx: Any) -> Any:
            return E.GO

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(E.GO, NowhereState)]  # noqa: F821

    return Lost


CASES: dict[str, Any] = {
    "no on_state": lambda: StateMachine(make("NoHandler", transitions=go)),
    "on_state takes no ctx": lambda: StateMachine(make("NoCtx", on_state=lambda: None, transitions=go)),
    "transitions takes arguments": lambda: StateMachine(
        make("Args", on_state=stay, transitions=lambda x: [])
    ),
    "target not decorated": lambda: StateMachine(
        make("Pointer", on_state=stay, transitions=lambda: [LabeledTransition(E.GO, NotAState)])
    ),
    "target not a state at all": lambda: StateMachine(
        make("Pointer", on_state=stay, transitions=lambda: [LabeledTransition(E.GO, "End")])
    ),
    "undefined name in transitions": lambda: StateMachine(undefined_target()),
    "undefined Events": lambda: StateMachine(undefined_events()),
    "timeout without on_timeout (strict)": lambda: StateMachine(
        make("Timed", config=StateConfiguration(timeout=3), on_state=stay, transitions=go), strict=True
    ),
    "no transitions declared (strict)": lambda: StateMachine(
        make("Empty", on_state=stay, transitions=lambda: []), strict=True
    ),
    "terminal with transitions (strict)": lambda: StateMachine(
        make("Final", config=StateConfiguration(terminal=True), transitions=go), strict=True
    ),
    "on_timeout without timeout": lambda: StateMachine(
        make("Untimed", on_state=stay, on_timeout=on_timeout, transitions=go)
    ),
    "retries without on_fail": lambda: StateMachine(
        make("Retrying", config=StateConfiguration(retries=2), on_state=stay, transitions=go)
    ),
    "on_fail without retries": lambda: StateMachine(
        make("Failing", on_state=stay, on_fail=on_fail, transitions=go)
    ),
    "terminal with on_timeout": lambda: StateMachine(
        make("Final", config=StateConfiguration(terminal=True), on_timeout=on_timeout)
    ),
    "terminal with a timeout": lambda: StateMachine(
        make("Final", config=StateConfiguration(terminal=True, timeout=1))
    ),
    "dead end": lambda: StateMachine(make("DeadEnd", on_state=stay)),
    "transitions returns a dict": lambda: StateMachine(
        make("Dict", on_state=stay, transitions=lambda: {"a": 1})
    ),
    "transitions lists a tuple": lambda: StateMachine(
        make("Tuple", on_state=stay, transitions=lambda: [(E.GO, End)])
    ),
    "transitions raises": lambda: StateMachine(make("Raises", on_state=stay, transitions=lambda: 1 / 0)),
    "async transitions": lambda: StateMachine(make("Async", on_state=stay, transitions=async_transitions)),
    "generator transitions": lambda: StateMachine(make("GenT", on_state=stay, transitions=gen_transitions)),
    "label used twice": lambda: StateMachine(
        make(
            "Twice",
            on_state=stay,
            transitions=lambda: [LabeledTransition(E.GO, End), LabeledTransition(E.GO, End)],
        )
    ),
    "None as a label": lambda: StateMachine(
        make("NoneLabel", on_state=stay, transitions=lambda: [LabeledTransition(None, End)])
    ),
    "unhashable label": lambda: StateMachine(
        make("Unhashable", on_state=stay, transitions=lambda: [LabeledTransition(["x"], End)])
    ),
    "Push without states": lambda: StateMachine(
        make("PushNothing", on_state=stay, transitions=lambda: [LabeledTransition(E.GO, Push)])
    ),
    "Push of something not a state": lambda: StateMachine(
        make("PushBad", on_state=stay, transitions=lambda: [LabeledTransition(E.GO, Push(End, "x"))])
    ),
    "Pop without any Push": lambda: StateMachine(
        make("Popper", on_state=stay, transitions=lambda: [LabeledTransition(E.GO, Pop)])
    ),
    "two on_state handlers": lambda: StateMachine(septum.state(two_on_state)),
    "generator on_state": lambda: StateMachine(make("Gen", on_state=gen_handler, transitions=go)),
    "async generator on_state": lambda: StateMachine(make("AGen", on_state=agen_handler, transitions=go)),
    "generator on_enter": lambda: StateMachine(
        make("GenEnter", on_state=stay, on_enter=gen_handler, transitions=go)
    ),
    "function state body raises": lambda: septum.state(body_raises),
    "function state with parameters": lambda: septum.state(takes_args),
    "state decorator on a value": lambda: septum.state(42),
    "state decorated twice": lambda: septum.state(End),
    "config of the wrong type": lambda: septum.state(config={"timeout": 1})(type("X", (), {})),
    "handler decorator on a value": lambda: septum.on_state(42),
    "negative timeout": lambda: StateConfiguration(timeout=-1),
    "timeout as text": lambda: StateConfiguration(timeout="5"),
    "negative retries": lambda: StateConfiguration(retries=-1),
    "terminal not a bool": lambda: StateConfiguration(terminal=1),
    "empty group": lambda: septum.group(type("Empty", (), {})),
    "group of something not a state": lambda: septum.group(End, "Pong", name="Pair"),
    "group member unreachable": lambda: StateMachine(
        septum.group(
            make("First", on_state=stay, transitions=go),
            make("Orphan", on_state=stay, transitions=go),
            End,
            name="Pair",
        )
    ),
    "machine from something not a state": lambda: StateMachine(42),
    "error_state not a state": lambda: StateMachine(End, error_state="Oops"),
    "error_state invalid": lambda: StateMachine(
        make("Fine", on_state=stay, transitions=go),
        error_state=make("BadError", config=StateConfiguration(can_dwell=True)),
    ),
    "max_queue_size of zero": lambda: StateMachine(End, max_queue_size=0),
    "unknown overflow policy": lambda: StateMachine(End, queue_overflow="drop"),
    "on_error not callable": lambda: StateMachine(End, on_error="Oops"),
    "max_stack_depth of zero": lambda: StateMachine(End, max_stack_depth=0),
}


EXPECTED: list[tuple[str, type[DefinitionError], str]] = [
    (
        "no on_state",
        DefinitionError,
        "state machine NoHandler has 1 problem:\n  - state NoHandler: has no @septum.on_state handler. Fix: add `@septum.on_state async def on_state(ctx): ...`, or mark the state StateConfiguration(terminal=True) if the machine ends here",
    ),
    (
        "on_state takes no ctx",
        DefinitionError,
        "state machine NoCtx has 1 problem:\n  - state NoCtx: handler on_state (<lambda>) must take one argument, ctx. Fix: write the lambda as `lambda ctx: ...`",
    ),
    (
        "transitions takes arguments",
        DefinitionError,
        "state machine Args has 1 problem:\n  - state Args: handler transitions (<lambda>) must take no arguments. Fix: write the lambda as `lambda: ...`",
    ),
    (
        "target not decorated",
        DefinitionError,
        "state machine Pointer has 1 problem:\n  - state Pointer: label GO targets class NotAState, which is not decorated with @septum.state. Fix: target a @septum.state, or Again/Unhandled/Retry/Repeat/Restart/Push(...)/Pop",
    ),
    (
        "target not a state at all",
        DefinitionError,
        "state machine Pointer has 1 problem:\n  - state Pointer: label GO targets 'End'. Fix: target a @septum.state, or Again/Unhandled/Retry/Repeat/Restart/Push(...)/Pop",
    ),
    (
        "undefined name in transitions",
        DefinitionError,
        "state machine Lost has 1 problem:\n  - state Lost: handler transitions refers to 'NowhereState', which is not defined in the state, its enclosing classes or its module. Fix: define or import 'NowhereState' where the state is declared",
    ),
    (
        "undefined Events",
        DefinitionError,
        "state machine NoEvents has 1 problem:\n  - state NoEvents: handler on_state refers to 'Events', which is not defined in the state, its enclosing classes or its module. Fix: define `class Events(Enum)` inside the state (or import the Enum it means)",
    ),
    (
        "timeout without on_timeout (strict)",
        DefinitionError,
        "state machine Timed has 1 problem:\n  - state Timed: has timeout=3 but no @septum.on_timeout handler, so its timeout fails the machine as a handler error would. Fix: add an @septum.on_timeout handler returning a label, or drop timeout= from its StateConfiguration",
    ),
    (
        "no transitions declared (strict)",
        DefinitionError,
        "state machine Empty has 1 problem:\n  - state Empty: declares no transitions and is not terminal, so the machine can never leave it: it waits for ever. Fix: add a LabeledTransition, or say so with StateConfiguration(can_dwell=True)",
    ),
    (
        "terminal with transitions (strict)",
        DefinitionError,
        "state machine Final has 1 problem:\n  - state Final: is terminal, so the 1 transition(s) its transitions() declares are never taken. Fix: drop @septum.transitions (a terminal state needs none), or drop terminal=True",
    ),
    (
        "on_timeout without timeout",
        DefinitionError,
        "state machine Untimed has 1 problem:\n  - state Untimed: declares on_timeout but no timeout, so it would never run. Fix: set StateConfiguration(timeout=...) or remove on_timeout",
    ),
    (
        "retries without on_fail",
        DefinitionError,
        "state machine Retrying has 1 problem:\n  - state Retrying: has retries=2 but no @septum.on_fail handler. Fix: add an on_fail handler saying where to go when retries run out",
    ),
    (
        "on_fail without retries",
        DefinitionError,
        "state machine Failing has 1 problem:\n  - state Failing: declares on_fail but no retries, so it would never run. Fix: set StateConfiguration(retries=...) or remove on_fail",
    ),
    (
        "terminal with on_timeout",
        DefinitionError,
        "state machine Final has 1 problem:\n  - state Final: is terminal but declares on_timeout, which would never run. Fix: move final work to on_enter, or drop terminal=True",
    ),
    (
        "terminal with a timeout",
        DefinitionError,
        "state machine Final has 1 problem:\n  - state Final: is terminal but has a timeout or retries. Fix: drop them: a terminal state never runs again",
    ),
    (
        "dead end",
        DefinitionError,
        "state machine DeadEnd has 1 problem:\n  - state DeadEnd: has no transitions and is not terminal, so the machine could never leave it. Fix: add @septum.transitions, mark it terminal=True, or can_dwell=True if it should wait for ever",
    ),
    (
        "transitions returns a dict",
        DefinitionError,
        "state machine Dict has 1 problem:\n  - state Dict: transitions() returned dict, not a list. Fix: return a list of LabeledTransition(label, target)",
    ),
    (
        "transitions lists a tuple",
        DefinitionError,
        "state machine Tuple has 1 problem:\n  - state Tuple: transitions() lists (<E.GO: 1>, <septum state End>), which is not a LabeledTransition. Fix: wrap it: LabeledTransition(label, target)",
    ),
    (
        "transitions raises",
        DefinitionError,
        "state machine Raises has 1 problem:\n  - state Raises: transitions() raised ZeroDivisionError: division by zero. Fix: make transitions() return a list",
    ),
    (
        "async transitions",
        DefinitionError,
        "state machine Async has 1 problem:\n  - state Async: @septum.transitions must be a plain function, not async. Fix: drop `async` from transitions(); it only returns a list",
    ),
    (
        "generator transitions",
        DefinitionError,
        "state machine GenT has 1 problem:\n  - state GenT: handler transitions (gen_transitions) is a generator function (it uses yield), so calling it runs nothing and returns a generator. Fix: return the list of LabeledTransition instead of yielding them",
    ),
    (
        "label used twice",
        DefinitionError,
        "state machine Twice has 1 problem:\n  - state Twice: uses label GO twice, and the earlier transition has no guard, so the later one could never be taken. Fix: give each transition its own label, or a guard= to every transition of the label but the last",
    ),
    (
        "None as a label",
        DefinitionError,
        "state machine NoneLabel has 1 problem:\n  - state NoneLabel: uses None as a label, but None means 'no transition'. Fix: use an Enum member",
    ),
    (
        "unhashable label",
        DefinitionError,
        "state machine Unhashable has 1 problem:\n  - state Unhashable: label ['x'] is not hashable. Fix: use Enum members (or strings) as labels",
    ),
    (
        "Push without states",
        DefinitionError,
        "state machine PushNothing has 1 problem:\n  - state PushNothing: label GO targets Push without states. Fix: write Push(FirstState, ReturnState, ...)",
    ),
    (
        "Push of something not a state",
        DefinitionError,
        "state machine PushBad has 1 problem:\n  - state PushBad: label GO: Push needs septum states, got (<septum state End>, 'x'). Fix: decorate each with @septum.state",
    ),
    (
        "Pop without any Push",
        DefinitionError,
        "state machine Popper has 1 problem:\n  - state Popper: can Pop, but no reachable state ever Pushes. Fix: Push(...) into it from a caller, or target a state instead of Pop",
    ),
    (
        "two on_state handlers",
        DefinitionError,
        "state machine two_on_state has 1 problem:\n  - state two_on_state: declares 2 @septum.on_state handlers. Fix: keep exactly one @septum.on_state",
    ),
    (
        "generator on_state",
        DefinitionError,
        "state machine Gen has 1 problem:\n  - state Gen: handler on_state (gen_handler) is a generator function (it uses yield), so calling it runs nothing and returns a generator. Fix: return the label instead of yielding it",
    ),
    (
        "async generator on_state",
        DefinitionError,
        "state machine AGen has 1 problem:\n  - state AGen: handler on_state (agen_handler) is an async generator function (it uses yield), so calling it runs nothing and returns an async generator. Fix: return the label instead of yielding it",
    ),
    (
        "generator on_enter",
        DefinitionError,
        "state machine GenEnter has 1 problem:\n  - state GenEnter: handler on_enter (gen_handler) is a generator function (it uses yield), so calling it runs nothing and returns a generator. Fix: return the label instead of yielding it",
    ),
    (
        "function state body raises",
        DefinitionError,
        "state body_raises has 1 problem:\n  - state body_raises: its body raised KeyError: 'Events'. Fix: a state function only declares its handlers (and Events); move other work into them",
    ),
    (
        "function state with parameters",
        DefinitionError,
        "state takes_args has 1 problem:\n  - state takes_args: a state function takes no arguments, this one needs 1. Fix: declare the handlers inside a function without parameters",
    ),
    (
        "state decorator on a value",
        DefinitionTypeError,
        "@septum.state has 1 problem:\n  - @septum.state: decorates a class or a function, got 42. Fix: put it on a class or a def",
    ),
    (
        "state decorated twice",
        DefinitionTypeError,
        "state End has 1 problem:\n  - state End: is already a state. Fix: apply @septum.state once",
    ),
    (
        "config of the wrong type",
        DefinitionTypeError,
        "@septum.state(config=...) has 1 problem:\n  - @septum.state(config=...): takes a StateConfiguration, got {'timeout': 1}. Fix: pass config=StateConfiguration(...)",
    ),
    (
        "handler decorator on a value",
        DefinitionTypeError,
        "@septum.on_state has 1 problem:\n  - @septum.on_state: decorates a function, got 42. Fix: put @septum.on_state on a def",
    ),
    (
        "negative timeout",
        DefinitionError,
        "StateConfiguration has 1 problem:\n  - StateConfiguration: timeout must be a number >= 0 or None, got -1. Fix: give timeout in seconds, e.g. timeout=5.0, or leave it out",
    ),
    (
        "timeout as text",
        DefinitionError,
        "StateConfiguration has 1 problem:\n  - StateConfiguration: timeout must be a number >= 0 or None, got '5'. Fix: give timeout in seconds, e.g. timeout=5.0, or leave it out",
    ),
    (
        "negative retries",
        DefinitionError,
        "StateConfiguration has 1 problem:\n  - StateConfiguration: retries must be an int >= 0 or None, got -1. Fix: give a whole number, e.g. retries=3, or leave it out",
    ),
    (
        "terminal not a bool",
        DefinitionError,
        "StateConfiguration has 1 problem:\n  - StateConfiguration: terminal must be True or False, got 1. Fix: write terminal=True or terminal=False",
    ),
    (
        "empty group",
        DefinitionError,
        "state group 'Empty' has 1 problem:\n  - state group 'Empty': the group declares no states. Fix: decorate its states with @septum.state",
    ),
    (
        "group of something not a state",
        DefinitionTypeError,
        "septum.group(name='Pair') has 1 problem:\n  - septum.group(name='Pair'): takes states declared with @septum.state, got 'Pong'. Fix: decorate each with @septum.state, or use @septum.group on a class",
    ),
    (
        "group member unreachable",
        DefinitionError,
        "state machine Pair has 1 problem:\n  - state Orphan: is declared in group Pair but unreachable from its initial state First. Fix: add a transition to it, or remove it from the group",
    ),
    (
        "machine from something not a state",
        DefinitionTypeError,
        "StateMachine has 1 problem:\n  - StateMachine: a machine starts from a @septum.state or a septum.group, got 42. Fix: pass the initial state (or the group) of the machine",
    ),
    (
        "error_state not a state",
        DefinitionTypeError,
        "StateMachine has 1 problem:\n  - StateMachine: error_state must be a @septum.state, got 'Oops'. Fix: pass a state decorated with @septum.state, or None",
    ),
    (
        "error_state invalid",
        DefinitionError,
        "state machine Fine has 1 problem:\n  - state BadError: has no @septum.on_state handler. Fix: add `@septum.on_state async def on_state(ctx): ...`, or mark the state StateConfiguration(terminal=True) if the machine ends here",
    ),
    (
        "max_queue_size of zero",
        DefinitionError,
        "StateMachine options has 1 problem:\n  - StateMachine: max_queue_size must be an int >= 1 or None, got 0. Fix: pass a positive bound, or None for an unbounded queue",
    ),
    (
        "unknown overflow policy",
        DefinitionError,
        "StateMachine options has 1 problem:\n  - StateMachine: queue_overflow must be one of ('raise', 'drop_newest', 'drop_oldest'), got 'drop'. Fix: pick one of those policies",
    ),
    (
        "on_error not callable",
        DefinitionTypeError,
        "StateMachine options has 1 problem:\n  - StateMachine: on_error must be a function hook(ctx, error), got 'Oops'. Fix: pass a function taking (ctx, error) and returning a state or None",
    ),
    (
        "max_stack_depth of zero",
        DefinitionError,
        "StateMachine options has 1 problem:\n  - StateMachine: max_stack_depth must be an int >= 1, got 0. Fix: pass how many states Push may leave on the stack at most",
    ),
]


def test_the_catalogue_covers_every_case() -> None:
    assert [name for name, _, _ in EXPECTED] == list(CASES)


@pytest.mark.parametrize(("name", "kind", "message"), EXPECTED, ids=[name for name, _, _ in EXPECTED])
def test_each_bad_definition_raises_its_exact_error(
    name: str, kind: type[DefinitionError], message: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)) as info:
        CASES[name]()
    assert type(info.value) is kind
    assert str(info.value) == message
    for problem in info.value.problems:
        assert problem.subject and problem.fix  # names what is at fault, and says what to do
        assert re.fullmatch(r"[^\n]+", str(problem))


def test_type_errors_are_still_type_errors_and_the_others_value_errors() -> None:
    for name, kind, message in EXPECTED:
        with pytest.raises(
            TypeError if kind is DefinitionTypeError else ValueError, match=re.escape(message)
        ):
            CASES[name]()


# --- mistakes only running can show -------------------------------------------------------------


async def helper() -> Any:
    return E.GO


def forgot_await() -> Any:
    async def on_state(ctx: Any) -> Any:
        return helper()  # the mistake: no await

    return make("Forgetful", on_state=on_state, transitions=go)


def forgot_await_local() -> Any:
    async def fetch() -> Any:  # its qualified name reads forgot_await_local.<locals>.fetch
        return E.GO

    async def on_state(ctx: Any) -> Any:
        return fetch()  # the mistake: no await

    return make("Forgetful", on_state=on_state, transitions=go)


def undeclared() -> Any:
    # (returning "GO", the name of the declared E.GO, would take it: 0.x looked labels up by name)
    return make("Undeclared", on_state=lambda ctx: "GONE", transitions=go)


def pops_first() -> Any:
    class Back(Enum):
        POP = auto()
        IN = auto()

    return make(
        "PopsFirst",
        on_state=lambda ctx: Back.POP,
        transitions=lambda: [LabeledTransition(Back.POP, Pop), LabeledTransition(Back.IN, Push(End))],
    )


RUN_TIME: list[tuple[str, Any, str]] = [
    (
        "a coroutine returned, not awaited",
        forgot_await,
        "state Forgetful: on_state returned the coroutine helper() instead of a label. Fix: write `return await helper(...)`",
    ),
    (
        "a local coroutine returned, not awaited",
        forgot_await_local,
        "state Forgetful: on_state returned the coroutine fetch() instead of a label. Fix: write `return await fetch(...)`",
    ),
    (
        "a label transitions() does not declare",
        undeclared,
        "state Undeclared: on_state returned 'GONE', which its transitions() does not declare. Fix: add LabeledTransition(GONE, ...) or return a declared label",
    ),
    (
        "Pop with an empty stack",
        pops_first,
        "state PopsFirst: Pop (label POP) with an empty stack. Fix: Push(...) into this state before popping, or target a state",
    ),
]


@pytest.mark.parametrize(("name", "build", "message"), RUN_TIME, ids=[name for name, _, _ in RUN_TIME])
async def test_each_run_time_mistake_raises_its_exact_error(name: str, build: Any, message: str) -> None:
    fsm = StateMachine(build())
    with pytest.raises(ExecutionError, match=re.escape(message)) as info:
        await fsm.run()
    assert str(info.value) == message
