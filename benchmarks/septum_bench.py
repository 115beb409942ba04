"""State machines: mycorrhizal.septum against python-statemachine, transitions and a bare floor.

Workloads (issues 2 and 16), every contender in the same interleaved rounds:

* self-transition: a machine in state S1 takes a labelled transition S1 -> S1 whose user code is one
  ``async`` handler doing nothing; one library call per transition (septum: ``await fsm.tick()``).
* self-transition, run(n) loop: septum only, ``await fsm.run(n)`` takes n of them in one call.
* message -> self-transition: what an event-driven program does: a message is queued and the machine
  processes it (septum: ``send_message(msg)`` + ``await run()``; python-statemachine:
  ``await sm.send("loop")``; transitions: ``await model.trigger("loop")``; floor: a deque append and
  popleft around the awaited handler).  The script asserts that each message reached the handler
  exactly once, in order; "handler runs with the message, per message" counts the handler's runs
  that got the message (target 1), "on_state runs per message" every run of septum's handler: the
  entry run that re-entering S1 owes after each self-transition makes it 2 (septum's rule, as 0.x's).
* create + initialise one machine of an existing spec, with the collector on and with it off.
* statechart workloads (issue 15): a transition 3 levels deep in compound states, and a guarded
  self-transition; see ``_septum_charts.py``.
* memory per live machine: 10,000 initialised machines of one 5-state spec (tracemalloc), fresh and
  after one transition, and the larger projected to 1,000,000 machines.

How the workloads are kept equivalent: every contender's spec has the same five states S1..S5, a
``loop`` transition S1 -> S1 and a ``go`` chain S1 -> S2 -> S3 -> S4 -> S5 (S5 final/terminal), and
the user code run per transition is exactly one ``async`` function that returns at once (septum: the
state's ``on_state`` handler returning the label; python-statemachine: the ``on_loop`` action;
transitions: the ``after`` callback).  Each library runs its async engine.  The floor is what no
library can beat: a bare ``await`` of the same handler, and a ``__slots__`` object holding its state.

Run ``python benchmarks/septum_bench.py`` (``--quick`` for a smoke run, ``--help`` for the options).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum, auto
from operator import attrgetter, methodcaller
from typing import Any

import _septum_charts
from _harness import Case, Once, Row, Settings, abytes_per_object, fixed_row, run_benchmark

# Targets: issue 2 (transition, memory, create) and issue 16 (messages).
TARGET_TRANSITION_US = 1.0
TARGET_MESSAGE_US = 1.5
TARGET_RUNS_PER_MESSAGE = 1.0
TARGET_BYTES = 400.0
TARGET_CREATE_US = 3.0
TARGET_MILLION_MB = 1000.0  # "a million live machines fit in under 1 GB"

WORKLOAD_TRANSITION = "self-transition"
WORKLOAD_RUN = "self-transition, run(n) loop"
WORKLOAD_MESSAGE = "message -> self-transition"
WORKLOAD_RUNS = "on_state runs per message"
WORKLOAD_DELIVERIES = "handler runs with the message, per message"
WORKLOAD_CREATE = "create + initialize, GC on"
WORKLOAD_CREATE_OFF = "create + initialize, GC off"
WORKLOAD_MEMORY = "memory per live machine"
WORKLOAD_MEMORY_STEPPED = "memory, after one transition"
WORKLOAD_MILLION = "1,000,000 machines (projected)"

MYCORRHIZAL, PSM, TRANSITIONS, FLOOR = "mycorrhizal", "python-statemachine", "transitions", "floor"
STATES = ("S1", "S2", "S3", "S4", "S5")


def _machines(settings: Settings, *, peer: bool = False) -> int:
    """Live machines for the memory rows; the peers' are 30-90x bigger and slow to create under
    tracemalloc, so they are measured on 1,000 (bytes per machine do not depend on the count)."""
    return settings.scale(1_000 if peer else 10_000, 50)


def memory_rows(
    contender: str,
    make: Callable[[], Awaitable[Any]],
    step: Callable[[Any], Awaitable[Any]],
    machines: int,
    *,
    targets: bool = False,
) -> list[Row]:
    """Bytes per live machine, initialised and after one transition; the projection uses the larger."""

    async def stepped() -> Any:
        machine = await make()
        await step(machine)
        return machine

    fresh = asyncio.run(abytes_per_object(make, machines))
    after_step = asyncio.run(abytes_per_object(stepped, machines))
    note = "" if machines == 10_000 else f"measured on {machines:,} live machines"
    bytes_target = TARGET_BYTES if targets else None
    million = max(fresh, after_step)  # bytes per machine = MB per million machines
    return [
        fixed_row(contender, WORKLOAD_MEMORY, fresh, "bytes", bytes_target, note),
        fixed_row(contender, WORKLOAD_MEMORY_STEPPED, after_step, "bytes", bytes_target, note),
        fixed_row(contender, WORKLOAD_MILLION, million, "MB", TARGET_MILLION_MB if targets else None),
    ]


def create_cases(contender: str, make: Callable[[], Awaitable[Any]], target: float | None) -> list[Case]:
    """Create + initialise ``n`` machines, once with the collector on and once with it off.

    The machines stay alive until the sample ends, as a program keeps the machines it creates: that
    is what makes the collector work (objects that survive are traversed again and again).
    """

    async def create(n: int) -> None:
        alive = []
        for _ in range(n):
            alive.append(await make())

    return [
        Case(contender, WORKLOAD_CREATE, create, target, gc=True),
        Case(contender, WORKLOAD_CREATE_OFF, create, target, gc=False),
    ]


# --- mycorrhizal.septum --------------------------------------------------------------------------


def five_state_spec(*, messages: bool = False, calls: list[int] | None = None) -> Any:
    """The 5-state spec as a septum group: S1 loops on itself (LOOP) or goes on (GO) to S5.

    With ``messages``, S1 reacts to messages only: the entry run (``ctx.msg is None``) returns None,
    and every message returns LOOP.  ``calls`` (if given) counts every run of S1's handler, and its
    second slot the runs that carried a message.
    """
    from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

    counts = calls if calls is not None else [0, 0]

    @septum.group
    class FiveStates:
        @septum.state
        class S1:
            class Events(Enum):
                LOOP = auto()
                GO = auto()

            if messages:

                @septum.on_state
                async def on_state(ctx: Any) -> Any:
                    counts[0] += 1
                    if ctx.msg is None:
                        return None
                    counts[1] += 1
                    return Events.LOOP  # noqa: F821 - septum resolves Events in the state's scope

            else:

                @septum.on_state
                async def on_state(ctx: Any) -> Any:
                    return Events.LOOP  # noqa: F821

            @septum.transitions
            def transitions() -> list[Any]:
                return [LabeledTransition(Events.LOOP, S1), LabeledTransition(Events.GO, S2)]  # noqa: F821

        @septum.state(config=StateConfiguration(terminal=True))
        class S5:
            pass

        # S2 -> S3 -> S4 -> S5: the same one-label state three times, built by chain() below.
        S4 = chain("S4", S5)
        S3 = chain("S3", S4)
        S2 = chain("S2", S3)

    return FiveStates


def chain(name: str, target: Any) -> Any:
    """A state named ``name`` whose on_state always returns GO, mapped to ``target``."""
    from mycorrhizal.septum import LabeledTransition, septum

    def body() -> None:
        class Events(Enum):
            GO = auto()

        @septum.on_state
        async def on_state(ctx: Any) -> Any:
            return Events.GO

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(Events.GO, target)]

    body.__name__ = body.__qualname__ = name
    return septum.state(body)


def septum_maker(spec: Any) -> Callable[[], Awaitable[Any]]:
    from mycorrhizal.septum import StateMachine

    StateMachine(spec)  # builds, validates and caches the compiled spec: it is "existing" from here

    async def make() -> Any:
        machine = StateMachine(spec)
        await machine.initialize()
        return machine

    return make


def septum_cases(settings: Settings) -> list[Case]:
    make = septum_maker(five_state_spec())
    box: list[Any] = []

    async def setup() -> None:
        box.append(await make())

    async def ticks(n: int) -> None:
        tick = box[0].tick
        for _ in range(n):
            await tick()
        assert box[0].current_state.name == "S1"

    async def run(n: int) -> None:
        taken = await box[0].run(n)
        assert taken == n, f"septum took {taken} of {n} steps"

    return [
        Case(MYCORRHIZAL, WORKLOAD_TRANSITION, ticks, TARGET_TRANSITION_US, setup=setup),
        Case(MYCORRHIZAL, WORKLOAD_RUN, run, TARGET_TRANSITION_US, setup=setup),
        septum_message_case(),
        *create_cases(MYCORRHIZAL, make, TARGET_CREATE_US),
    ]


def septum_message_case(
    contender: str = MYCORRHIZAL, workload: str = WORKLOAD_MESSAGE, watch: Callable[[Any], Any] | None = None
) -> Case:
    """``send_message`` + ``await run()`` per message; each message must reach the handler once
    (``watch(machine)`` runs before the machine's entry, e.g. attaching an observer)."""
    from mycorrhizal.septum import StateMachine

    calls = [0, 0]
    spec = five_state_spec(messages=True, calls=calls)
    box: list[Any] = []

    async def setup() -> None:
        machine = StateMachine(spec)
        if watch is not None:
            watch(machine)
        await machine.initialize()
        await machine.run()  # the entry run: from here on the machine is idle, waiting for messages
        box.append(machine)

    async def messages(n: int) -> None:
        machine = box[0]
        send, run = machine.send_message, machine.run
        before = calls[1]
        for i in range(n):
            send(i)
            await run()
        handled = calls[1] - before
        assert handled == n, f"septum: {n} messages reached the handler {handled} times"
        assert machine.current_state.name == "S1" and machine.is_idle

    target = TARGET_MESSAGE_US if contender == MYCORRHIZAL else None
    return Case(contender, workload, messages, target, setup=setup)


def septum_runs_per_message(settings: Settings) -> list[Row]:
    """Per message on the message workload: the handler's runs that got it (target 1), and every
    run of the handler (the entry run each self-transition owes included: 2 by septum's rules)."""
    calls = [0, 0]
    make = septum_maker(five_state_spec(messages=True, calls=calls))
    messages = settings.scale(1_000, 20)

    async def count() -> tuple[float, float]:
        machine = await make()
        await machine.run()
        start_runs, start_handled = calls
        for i in range(messages):
            machine.send_message(i)
            await machine.run()
        return (calls[1] - start_handled) / messages, (calls[0] - start_runs) / messages

    delivered, runs = asyncio.run(count())
    note = (
        "every on_state call: the message's run, and the entry run (ctx.msg None) that re-entering S1 "
        "owes after each self-transition (docs/septum.md, Steps)"
    )
    return [
        fixed_row(MYCORRHIZAL, WORKLOAD_DELIVERIES, delivered, "runs", TARGET_RUNS_PER_MESSAGE),
        fixed_row(MYCORRHIZAL, WORKLOAD_RUNS, runs, "runs", None, note),
    ]


def septum_memory(settings: Settings) -> list[Row]:
    make = septum_maker(five_state_spec())

    async def step(machine: Any) -> None:
        await machine.tick()

    return memory_rows(MYCORRHIZAL, make, step, _machines(settings), targets=True)


# --- floor ---------------------------------------------------------------------------------------


class _FloorMachine:
    """The least a live machine can be: one slot for its current state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


async def _handler() -> str:
    return "S1"


async def _make_floor() -> _FloorMachine:
    return _FloorMachine("S1")


def floor_cases(settings: Settings) -> list[Case]:
    machine = _FloorMachine("S1")

    async def loop(n: int) -> None:
        for _ in range(n):
            machine.state = await _handler()

    async def messages(n: int) -> None:
        queue: deque[int] = deque()
        handled = 0
        for i in range(n):
            queue.append(i)
            while queue:
                queue.popleft()
                machine.state = await _handler()
                handled += 1
        assert handled == n

    return [
        Case(FLOOR, WORKLOAD_TRANSITION, loop),
        Case(FLOOR, WORKLOAD_MESSAGE, messages),
        *create_cases(FLOOR, _make_floor, None),
    ]


def floor_memory(settings: Settings) -> list[Row]:
    async def step(machine: _FloorMachine) -> None:
        machine.state = await _handler()

    return memory_rows(FLOOR, _make_floor, step, _machines(settings))


# --- python-statemachine -------------------------------------------------------------------------


def python_statemachine_class(calls: list[int]) -> Any:
    """The 5-state machine; its async ``on_loop`` makes python-statemachine run its async engine."""
    from statemachine import State, StateMachine

    class FiveStates(StateMachine):  # type: ignore[misc]
        S1 = State(initial=True)
        S2 = State()
        S3 = State()
        S4 = State()
        S5 = State(final=True)

        loop = S1.to.itself()
        go = S1.to(S2) | S2.to(S3) | S3.to(S4) | S4.to(S5)

        async def on_loop(self) -> None:
            calls[0] += 1

    return FiveStates


def python_statemachine_maker(
    calls: list[int], listeners: Sequence[object] = ()
) -> Callable[[], Awaitable[Any]]:
    """Make the 5-state machine and activate it (its async engine needs the explicit activation);
    ``listeners`` are attached at construction, python-statemachine's documented ``listeners=``."""
    machine_class = python_statemachine_class(calls)

    async def make() -> Any:
        machine = machine_class(listeners=[*listeners])
        await machine.activate_initial_state()
        return machine

    return make


def peer_case(
    contender: str,
    workload: str,
    make: Callable[[], Awaitable[Any]],
    calls: list[int],
    step: Callable[[Any], Awaitable[Any]],
    state: Callable[[Any], str],
) -> Case:
    """``await step(machine)`` per operation on a peer's machine from ``make``; its handler must run
    once per operation (``calls``) and ``state(machine)`` stay ``S1``."""
    box: list[Any] = []

    async def setup() -> None:
        box.append(await make())

    async def run(n: int) -> None:
        machine, before = box[0], calls[0]
        for _ in range(n):
            await step(machine)
        assert calls[0] - before == n and state(machine) == "S1"

    return Case(contender, workload, run, setup=setup)


_PSM_STATE = attrgetter("current_state_value")


def python_statemachine_message_case(
    contender: str = PSM, workload: str = WORKLOAD_MESSAGE, listeners: Sequence[object] = ()
) -> Case:
    """``await sm.send("loop")`` per message; the handler must run once per message."""
    calls = [0]
    make = python_statemachine_maker(calls, listeners)
    return peer_case(contender, workload, make, calls, methodcaller("send", "loop"), _PSM_STATE)


def python_statemachine_cases(settings: Settings) -> list[Case]:
    calls = [0]  # handler runs must equal the transitions asked for
    make = python_statemachine_maker(calls)
    return [
        peer_case(PSM, WORKLOAD_TRANSITION, make, calls, methodcaller("loop"), _PSM_STATE),
        python_statemachine_message_case(),
        *create_cases(PSM, make, None),
    ]


def python_statemachine_memory(settings: Settings) -> list[Row]:
    make = python_statemachine_maker([0])
    return memory_rows(PSM, make, methodcaller("loop"), _machines(settings, peer=True))


# --- transitions ---------------------------------------------------------------------------------

TRANSITIONS_SPEC = [
    {"trigger": "loop", "source": "S1", "dest": "S1", "after": "on_loop"},
    {"trigger": "go", "source": "S1", "dest": "S2"},
    {"trigger": "go", "source": "S2", "dest": "S3"},
    {"trigger": "go", "source": "S3", "dest": "S4"},
    {"trigger": "go", "source": "S4", "dest": "S5"},
]


def transitions_maker(
    calls: list[int], after_state_change: Callable[..., Any] | None = None
) -> Callable[[], Awaitable[Any]]:
    """transitions' AsyncMachine, one machine per model (what ``Machine(model=self)`` users get);
    ``after_state_change`` is its documented machine-level callback, run after every transition."""
    from transitions.extensions.asyncio import AsyncMachine

    class Model:
        async def on_loop(self) -> None:
            calls[0] += 1

    states = [*STATES]  # built once: the "existing spec" the machines share

    async def make() -> Any:
        model = Model()
        AsyncMachine(
            model=model,
            states=states,
            transitions=TRANSITIONS_SPEC,
            initial="S1",
            after_state_change=after_state_change,
        )
        return model

    return make


_MODEL_STATE = attrgetter("state")


def transitions_message_case(
    contender: str = TRANSITIONS,
    workload: str = WORKLOAD_MESSAGE,
    after_state_change: Callable[..., Any] | None = None,
) -> Case:
    """``await model.trigger("loop")`` per message; the handler must run once per message."""
    calls = [0]
    make = transitions_maker(calls, after_state_change)
    return peer_case(contender, workload, make, calls, methodcaller("trigger", "loop"), _MODEL_STATE)


def transitions_cases(settings: Settings) -> list[Case]:
    calls = [0]
    make = transitions_maker(calls)
    return [
        peer_case(TRANSITIONS, WORKLOAD_TRANSITION, make, calls, methodcaller("loop"), _MODEL_STATE),
        transitions_message_case(),
        *create_cases(TRANSITIONS, make, None),
    ]


def transitions_memory(settings: Settings) -> list[Row]:
    make = transitions_maker([0])
    return memory_rows(TRANSITIONS, make, methodcaller("loop"), _machines(settings, peer=True))


# --- run -----------------------------------------------------------------------------------------


def cases(settings: Settings) -> list[Case]:
    """Every timed case, grouped by workload so the table reads contender beside contender."""
    every = [
        *septum_cases(settings),
        *python_statemachine_cases(settings),
        *transitions_cases(settings),
        *floor_cases(settings),
        *_septum_charts.cases(),
    ]
    order = [
        WORKLOAD_TRANSITION,
        WORKLOAD_RUN,
        WORKLOAD_MESSAGE,
        WORKLOAD_CREATE,
        WORKLOAD_CREATE_OFF,
        *_septum_charts.WORKLOADS,
    ]
    return sorted(every, key=lambda case: order.index(case.workload))


def once(settings: Settings) -> list[Once]:
    return [
        Once(MYCORRHIZAL, WORKLOAD_RUNS, lambda: septum_runs_per_message(settings)),
        Once(MYCORRHIZAL, WORKLOAD_MEMORY, lambda: septum_memory(settings)),
        Once(PSM, WORKLOAD_MEMORY, lambda: python_statemachine_memory(settings)),
        Once(TRANSITIONS, WORKLOAD_MEMORY, lambda: transitions_memory(settings)),
        Once(FLOOR, WORKLOAD_MEMORY, lambda: floor_memory(settings)),
    ]


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""
    return run_benchmark(
        argv,
        __doc__,
        name="septum",
        peers=(PSM, TRANSITIONS),
        cases=cases,
        once=once,
        unit=", microseconds per operation unless stated",
    )


if __name__ == "__main__":
    main()
