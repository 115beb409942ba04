"""septum_bench's statechart workloads (issue 15): a transition deep in compound states, a guarded one.

* transition in a 3-level compound state: Outer > Middle > Inner > (A, B); A's handler returns GO
  (A -> B), B's returns BACK (B -> A), both declared on the leaves, so each transition leaves one
  leaf and enters the other inside three enclosing states (septum: ``await fsm.tick()``, one
  transition with its entry run; python-statemachine: ``await sm.send("go" / "back")`` on the same
  nesting with compound states; transitions: its ``HierarchicalAsyncMachine``, ``trigger``).
* guarded transition: the flat S1 -> S1 self-transition with a guard that passes (septum:
  ``LabeledTransition(LOOP, S1, guard=ready)``, ``await fsm.tick()``; peers: their condition on the
  same transition).

The user code per transition is one ``async`` handler returning at once (septum: ``on_state``;
peers: an ``on_<event>``/``after`` callback), plus, for the guarded workload, one plain guard.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, auto
from typing import Any

from _harness import Case

MYCORRHIZAL, PSM, TRANSITIONS = "mycorrhizal", "python-statemachine", "transitions"
WORKLOAD_NESTED = "statechart: transition 3 levels deep"
WORKLOAD_GUARDED = "guarded self-transition"
TARGET_NESTED_US = 2.0
TARGET_GUARDED_US = 1.5
WORKLOADS = (WORKLOAD_NESTED, WORKLOAD_GUARDED)


class Events(Enum):
    GO = auto()
    BACK = auto()
    LOOP = auto()


def ready(ctx: Any) -> bool:
    return True


def nested_septum() -> Any:
    """Outer > Middle > Inner > (A, B): A -GO-> B, B -BACK-> A."""
    from mycorrhizal.septum import LabeledTransition, septum

    @septum.compound
    class Outer:
        @septum.compound
        class Middle:
            @septum.compound
            class Inner:
                @septum.state
                class A:
                    @septum.on_state
                    async def on_state(ctx: Any) -> Any:
                        return Events.GO

                    @septum.transitions
                    def transitions() -> list[Any]:
                        return [LabeledTransition(Events.GO, B)]  # noqa: F821 - septum resolves siblings

                @septum.state
                class B:
                    @septum.on_state
                    async def on_state(ctx: Any) -> Any:
                        return Events.BACK

                    @septum.transitions
                    def transitions() -> list[Any]:
                        return [LabeledTransition(Events.BACK, A)]  # noqa: F821

    return Outer


def guarded_septum() -> Any:
    """S1 -LOOP[ready]-> S1."""
    from mycorrhizal.septum import LabeledTransition, septum

    @septum.state
    class S1:
        @septum.on_state
        async def on_state(ctx: Any) -> Any:
            return Events.LOOP

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(Events.LOOP, S1, guard=ready)]  # noqa: F821

    return S1


def ticks_of(
    spec: Any, check: Callable[[Any], bool], watch: Callable[[Any], Any] | None = None
) -> tuple[Callable[[], Any], Callable[[int], Any]]:
    """(setup, run) of ``await fsm.tick()`` per operation on a machine of ``spec``, ``check``-ed
    after each sample; ``watch(machine)`` runs before its entry (e.g. attaching an observer)."""
    from mycorrhizal.septum import StateMachine

    box: list[Any] = []

    async def setup() -> None:
        machine = StateMachine(spec)
        if watch is not None:
            watch(machine)
        await machine.initialize()
        box.append(machine)

    async def ticks(n: int) -> None:
        tick = box[0].tick
        for _ in range(n):
            await tick()
        assert check(box[0]), box[0].configuration

    return setup, ticks


def septum_cases() -> list[Case]:
    nested_setup, nested = ticks_of(nested_septum(), lambda m: m.current_state.name in "AB")
    guarded_setup, guarded = ticks_of(guarded_septum(), lambda m: m.current_state.name == "S1")
    return [
        Case(MYCORRHIZAL, WORKLOAD_NESTED, nested, TARGET_NESTED_US, setup=nested_setup),
        Case(MYCORRHIZAL, WORKLOAD_GUARDED, guarded, TARGET_GUARDED_US, setup=guarded_setup),
    ]


def psm_cases() -> list[Case]:
    from statemachine import State, StateChart, StateMachine

    calls = [0]

    class Nested(StateChart):  # type: ignore[misc]
        class Outer(State.Compound):  # type: ignore[misc,name-defined]
            class Middle(State.Compound):  # type: ignore[misc,name-defined]
                class Inner(State.Compound):  # type: ignore[misc,name-defined]
                    a = State(initial=True)
                    b = State()
                    go = a.to(b)
                    back = b.to(a)

        async def on_go(self) -> None:
            calls[0] += 1

        async def on_back(self) -> None:
            calls[0] += 1

    class Guarded(StateMachine):  # type: ignore[misc]
        s1 = State(initial=True)
        s2 = State(final=True)
        loop = s1.to.itself(cond="ready")
        go = s1.to(s2)

        def ready(self) -> bool:
            return True

        async def on_loop(self) -> None:
            calls[0] += 1

    box: dict[str, Any] = {}

    async def setup() -> None:
        for key, cls in (("nested", Nested), ("guarded", Guarded)):
            machine = cls()
            await machine.activate_initial_state()
            box[key] = machine
        box["moves"] = 0  # the new nested machine starts in its initial state: the next event is 'go'

    async def nested(n: int) -> None:
        machine, before, done = box["nested"], calls[0], box.get("moves", 0)
        send = machine.send
        for i in range(done, done + n):  # go, back, go ... across samples (n may be odd)
            await send("back" if i % 2 else "go")
        box["moves"] = done + n
        assert calls[0] - before == n

    async def guarded(n: int) -> None:
        machine, before = box["guarded"], calls[0]
        for _ in range(n):
            await machine.send("loop")
        assert calls[0] - before == n

    return [
        Case(PSM, WORKLOAD_NESTED, nested, setup=setup),
        Case(PSM, WORKLOAD_GUARDED, guarded, setup=setup),
    ]


def transitions_cases() -> list[Case]:
    from transitions.extensions.asyncio import AsyncMachine, HierarchicalAsyncMachine

    calls = [0]

    class Model:
        async def on_move(self) -> None:
            calls[0] += 1

        def ready(self) -> bool:
            return True

    nested_model, guarded_model = Model(), Model()
    inner = {"name": "inner", "children": ["a", "b"], "initial": "a"}
    middle = {"name": "middle", "children": [inner], "initial": "inner"}
    states = [{"name": "outer", "children": [middle], "initial": "middle"}]
    HierarchicalAsyncMachine(
        model=nested_model,
        states=states,
        initial="outer",
        transitions=[
            {
                "trigger": "go",
                "source": "outer_middle_inner_a",
                "dest": "outer_middle_inner_b",
                "after": "on_move",
            },
            {
                "trigger": "back",
                "source": "outer_middle_inner_b",
                "dest": "outer_middle_inner_a",
                "after": "on_move",
            },
        ],
    )
    AsyncMachine(
        model=guarded_model,
        states=["S1", "S2"],
        initial="S1",
        transitions=[
            {"trigger": "loop", "source": "S1", "dest": "S1", "conditions": "ready", "after": "on_move"}
        ],
    )

    moves = [0]

    async def nested(n: int) -> None:
        before, done = calls[0], moves[0]
        for i in range(done, done + n):  # go, back, go ... across samples (n may be odd)
            await nested_model.trigger("back" if i % 2 else "go")
        moves[0] = done + n
        assert calls[0] - before == n

    async def guarded(n: int) -> None:
        before = calls[0]
        for _ in range(n):
            await guarded_model.trigger("loop")
        assert calls[0] - before == n

    return [Case(TRANSITIONS, WORKLOAD_NESTED, nested), Case(TRANSITIONS, WORKLOAD_GUARDED, guarded)]


def cases() -> list[Case]:
    """Every contender on the two statechart workloads."""
    return [*septum_cases(), *psm_cases(), *transitions_cases()]
