"""State machines: mycorrhizal.septum against python-statemachine, transitions and a bare floor.

Workloads (issue 2), all measured in one run:

* self-transition: a machine in state S1 takes a labelled transition S1 -> S1 whose user code is one
  ``async`` handler doing nothing; figure = microseconds per transition.
* memory per live machine: 10,000 initialised machines of one 5-state spec, measured with
  tracemalloc; figure = bytes per machine, and the same figure projected to 1,000,000 machines.
* create + initialise one machine of an existing (already defined) spec; figure = microseconds.

How the workloads are kept equivalent: every contender's spec has the same five states S1..S5, a
``loop`` transition S1 -> S1 and a ``go`` chain S1 -> S2 -> S3 -> S4 -> S5 (S5 final/terminal), and
the user code run per self-transition is exactly one ``async`` function that returns immediately
(septum: the state's ``on_state`` handler returning the label; python-statemachine: the ``on_loop``
action; transitions: the ``after`` callback of the ``loop`` trigger). Each library is driven through
its async path (python-statemachine's async engine, ``transitions.extensions.asyncio.AsyncMachine``).
The floor is what no library can beat: a bare ``await`` of the same handler, and a ``__slots__``
object holding only its current state.

Run ``python benchmarks/septum_bench.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from _harness import (
    Row,
    Settings,
    abest_per_op,
    abytes_per_object,
    run_benchmark,
)

# Targets from issue 2.
TARGET_TRANSITION_US = 1.0
TARGET_BYTES = 400.0
TARGET_CREATE_US = 3.0
TARGET_MILLION_MB = 1000.0  # "a million live machines fit in under 1 GB"

WORKLOAD_TRANSITION = "self-transition"
WORKLOAD_RUN = "self-transition, run(n) loop"
WORKLOAD_MEMORY = "memory per live machine"
WORKLOAD_MEMORY_STEPPED = "memory, after one transition"
WORKLOAD_MILLION = "1,000,000 machines (projected)"
WORKLOAD_CREATE = "create + initialize"

STATES = ("S1", "S2", "S3", "S4", "S5")


def _machines(settings: Settings, *, peer: bool = False) -> int:
    """How many live machines the memory workload holds.

    The peers' machines are 30-60x bigger and tracemalloc slows their creation down to ~2 ms each,
    so they are measured on 1,000 machines (bytes per machine do not depend on the count; the
    figure stays within a percent of the 10,000-machine one) to keep the run under a minute.
    """
    return settings.scale(1_000 if peer else 10_000, 100)


def _memory_rows(
    contender: str,
    make: Callable[[], Awaitable[Any]],
    step: Callable[[Any], Awaitable[Any]],
    machines: int,
    *,
    targets: bool = True,
) -> list[Row]:
    """Bytes per live machine, initialised and after one transition; the projection uses the larger
    (a machine that has run may hold more, e.g. a lazily created context)."""

    async def stepped() -> Any:
        machine = await make()
        await step(machine)
        return machine

    fresh = asyncio.run(abytes_per_object(make, machines))
    after_step = asyncio.run(abytes_per_object(stepped, machines))
    note = "" if machines == 10_000 else f"measured on {machines:,} live machines"
    bytes_target = TARGET_BYTES if targets else None
    return [
        Row(contender, WORKLOAD_MEMORY, fresh, "bytes", bytes_target, note),
        Row(contender, WORKLOAD_MEMORY_STEPPED, after_step, "bytes", bytes_target, note),
        Row(
            contender,
            WORKLOAD_MILLION,
            max(fresh, after_step) * 1_000_000 / 1e6,
            "MB",
            TARGET_MILLION_MB if targets else None,
        ),
    ]


# --- mycorrhizal.septum --------------------------------------------------------------------------


def five_state_spec() -> Any:
    """The 5-state spec as a septum group: S1 loops on itself (LOOP) or goes on (GO) to S5."""
    from enum import Enum, auto

    from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

    @septum.group
    class FiveStates:
        @septum.state
        class S1:
            class Events(Enum):
                LOOP = auto()
                GO = auto()

            @septum.on_state
            async def on_state(ctx: Any) -> Any:
                return Events.LOOP  # noqa: F821 - septum resolves Events in the state's scope

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
    from enum import Enum, auto

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


def bench_septum(settings: Settings, memory: bool = True) -> list[Row]:
    """mycorrhizal.septum: ``tick()`` per transition (one call per transition, like the peers'
    triggers), and ``run(n)``, the machine's own loop taking n transitions in one call."""
    from mycorrhizal.septum import StateMachine

    spec = five_state_spec()
    StateMachine(spec)  # builds, validates and caches the compiled spec: it is "existing" from here
    machines = _machines(settings)

    async def make() -> StateMachine:
        machine = StateMachine(spec)
        await machine.initialize()
        return machine

    machine_box: list[StateMachine] = []

    async def ticks(n: int) -> None:
        if not machine_box:
            machine_box.append(await make())
        tick = machine_box[0].tick
        for _ in range(n):
            await tick()

    async def run(n: int) -> None:
        if not machine_box:
            machine_box.append(await make())
        taken = await machine_box[0].run(n)
        assert taken == n, f"septum took {taken} of {n} steps"

    async def create(n: int) -> None:
        for _ in range(n):
            await make()

    name = "mycorrhizal"
    rows = [
        Row(name, WORKLOAD_TRANSITION, abest_per_op(ticks, settings) * 1e6, "us", TARGET_TRANSITION_US),
        Row(name, WORKLOAD_RUN, abest_per_op(run, settings) * 1e6, "us", TARGET_TRANSITION_US),
    ]
    assert machine_box[0].current_state.name == "S1"
    return [
        *rows,
        *(_memory_rows(name, make, lambda machine: machine.tick(), machines) if memory else []),
        Row(name, WORKLOAD_CREATE, abest_per_op(create, settings) * 1e6, "us", TARGET_CREATE_US),
    ]


# --- floor ---------------------------------------------------------------------------------------


class _FloorMachine:
    """The least a live machine can be: one slot for its current state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def bench_floor(settings: Settings, memory: bool = True) -> list[Row]:
    """A bare ``await`` of the handler; a one-slot object as the machine."""
    machines = _machines(settings)

    async def handler() -> str:
        return "loop"

    async def loop(n: int) -> None:
        for _ in range(n):
            await handler()

    async def make() -> _FloorMachine:
        return _FloorMachine("S1")

    async def create(n: int) -> None:
        for _ in range(n):
            await make()

    async def step(machine: _FloorMachine) -> None:
        await handler()
        machine.state = "S1"

    return [
        Row("floor", WORKLOAD_TRANSITION, abest_per_op(loop, settings) * 1e6, "us"),
        *(_memory_rows("floor", make, step, machines, targets=False) if memory else []),
        Row("floor", WORKLOAD_CREATE, abest_per_op(create, settings) * 1e6, "us"),
    ]


# --- python-statemachine -------------------------------------------------------------------------


def bench_python_statemachine(settings: Settings, memory: bool = True) -> list[Row]:
    """python-statemachine's async engine (chosen by the library because a callback is async)."""
    from statemachine import State, StateMachine

    calls, taken = [0], [0]  # handler runs must equal the transitions asked for

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

    machines = _machines(settings, peer=True)

    async def make() -> FiveStates:
        machine = FiveStates()
        await machine.activate_initial_state()
        return machine

    machine_box: list[FiveStates] = []

    async def loop(n: int) -> None:
        if not machine_box:
            machine_box.append(await make())
        machine = machine_box[0]
        taken[0] += n
        for _ in range(n):
            await machine.loop()

    async def create(n: int) -> None:
        for _ in range(n):
            await make()

    name = "python-statemachine"
    per_transition = abest_per_op(loop, settings)
    assert machine_box[0].current_state_value == "S1" and calls == taken
    return [
        Row(name, WORKLOAD_TRANSITION, per_transition * 1e6, "us"),
        *(_memory_rows(name, make, lambda sm: sm.loop(), machines, targets=False) if memory else []),
        Row(name, WORKLOAD_CREATE, abest_per_op(create, settings) * 1e6, "us"),
    ]


# --- transitions ---------------------------------------------------------------------------------

TRANSITIONS_SPEC = [
    {"trigger": "loop", "source": "S1", "dest": "S1", "after": "on_loop"},
    {"trigger": "go", "source": "S1", "dest": "S2"},
    {"trigger": "go", "source": "S2", "dest": "S3"},
    {"trigger": "go", "source": "S3", "dest": "S4"},
    {"trigger": "go", "source": "S4", "dest": "S5"},
]


def bench_transitions(settings: Settings, memory: bool = True) -> list[Row]:
    """transitions' AsyncMachine: one machine per model (what ``Machine(model=self)`` users get)."""
    from transitions.extensions.asyncio import AsyncMachine

    calls, taken = [0], [0]  # handler runs must equal the transitions asked for

    class Model:
        async def on_loop(self) -> None:
            calls[0] += 1

    # The states are a list of names, built once: the "existing spec" the machines share.
    states = [*STATES]
    machines = _machines(settings, peer=True)

    async def make() -> Model:
        model = Model()
        AsyncMachine(model=model, states=states, transitions=TRANSITIONS_SPEC, initial="S1")
        return model

    model_box: list[Model] = []

    async def loop(n: int) -> None:
        if not model_box:
            model_box.append(await make())
        model = model_box[0]
        taken[0] += n
        for _ in range(n):
            await model.loop()  # type: ignore[attr-defined]

    async def create(n: int) -> None:
        for _ in range(n):
            await make()

    name = "transitions"
    per_transition = abest_per_op(loop, settings)
    assert model_box[0].state == "S1" and calls == taken  # type: ignore[attr-defined]
    return [
        Row(name, WORKLOAD_TRANSITION, per_transition * 1e6, "us"),
        *(_memory_rows(name, make, lambda model: model.loop(), machines, targets=False) if memory else []),
        Row(name, WORKLOAD_CREATE, abest_per_op(create, settings) * 1e6, "us"),
    ]


# --- run -----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""

    def measure(settings: Settings, first: bool) -> list[Row]:
        # memory does not vary between passes: measured in the first only
        return [
            *bench_septum(settings, memory=first),
            *bench_python_statemachine(settings, memory=first),
            *bench_transitions(settings, memory=first),
            *bench_floor(settings, memory=first),
        ]

    return run_benchmark(argv, __doc__, measure, name="septum", peers=("python-statemachine", "transitions"))


if __name__ == "__main__":
    main()
