"""The DSL adapters (UPSTREAM-API 6.5) on real engines: the wrapped handlers are accepted as they are."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Annotated, Any, NamedTuple

import pytest

from mycorrhizal import spores
from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.common.interface_builder import blackboard_interface, readonly, readwrite
from mycorrhizal.hypha import NetBuilder, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.rhizomorph import Node, Status, bt
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.septum import Context, LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import (
    EventAttr,
    HyphaAdapter,
    ObjectRef,
    ObjectScope,
    RhizomorphAdapter,
    SeptumAdapter,
    spore,
)
from mycorrhizal.spores.dsl.rhizomorph import log_tree_event
from mycorrhizal.spores.dsl.septum import log_message
from mycorrhizal.spores.models import value_text

from .conftest import MemorySink


@spore.object("Robot")
@dataclass
class Robot:
    id: str
    battery: int = 100


@dataclass
class Job:
    id: str
    size: int = 1


@dataclass
class Board:
    mission: Annotated[str, EventAttr] = "patrol"
    speed: Annotated[float, EventAttr(name="robot_speed")] = 1.5
    robot: Annotated[Robot | None, ObjectRef("actor", ObjectScope.GLOBAL)] = None
    job: Annotated[Job | None, ObjectRef("target")] = None  # EVENT scope: included (upstream dropped it)
    log: list[str] = field(default_factory=list)


# -- rhizomorph -------------------------------------------------------------------------------------

tree_adapter = RhizomorphAdapter()


@bt.tree
def Patrol() -> None:
    @bt.condition
    @tree_adapter.log_node("check", attributes={"battery": lambda bb: bb.robot.battery})
    def charged(bb: Board) -> bool:
        return bb.robot is not None and bb.robot.battery > 20

    @bt.action
    @tree_adapter.log_node("drive")
    async def drive(bb: Board, timebase: Any) -> Status:
        await timebase.sleep(1)
        bb.robot.battery -= 30  # type: ignore[union-attr]
        return Status.SUCCESS

    @bt.root
    @bt.sequence
    def main() -> Iterator[Node]:
        yield charged
        yield drive


async def test_log_node_on_a_condition_and_an_async_action(sink: MemorySink, clock: ManualClock) -> None:
    bb = Board(robot=Robot("r1"), job=Job("j1"))
    runner = TreeRunner(Patrol, bb, clock)
    for _ in range(4):
        status = await runner.tick()
        if status is Status.RUNNING:
            await clock.run_for(1)
    events = sink.events()
    assert [(e["type"], e["attributes"]["status"]) for e in events] == [
        ("check", Status.SUCCESS),
        ("drive", Status.SUCCESS),
        ("check", Status.SUCCESS),
        ("drive", Status.SUCCESS),
    ]
    first = events[0]
    assert first["attributes"] == {
        "node_name": "charged",
        "status": Status.SUCCESS,
        "battery": 100,
        "mission": "patrol",
        "robot_speed": 1.5,
    }
    assert first["relationships"] == [("r1", "actor"), ("j1", "target")]  # ObjectRef qualifiers
    robot_records = sink.objects("r1")
    assert [o["attributes"]["battery"] for o in robot_records] == [100, 70, 40]  # written when changed
    assert robot_records[0]["type"] == "Robot"
    assert len(sink.objects("j1")) == 4  # EVENT scope: with every event


def test_the_wrapped_leaf_keeps_its_signature_and_kind() -> None:
    async def drive(bb: Board, timebase: Any) -> Status:
        return Status.SUCCESS

    wrapped = tree_adapter.log_node("drive")(drive)
    assert inspect.iscoroutinefunction(wrapped)
    assert list(inspect.signature(wrapped).parameters) == ["bb", "timebase"]
    assert wrapped.__name__ == "drive"


def test_an_adapter_above_the_engine_decorator_is_refused() -> None:
    # bt.tree reports what its body raised as a DefinitionError; the adapter's message is kept
    with pytest.raises((TypeError, DefinitionError), match=r"below @bt.action"):

        @bt.tree
        def Wrong() -> None:
            @tree_adapter.log_node("x")
            @bt.action
            def act(bb: Board) -> Status:
                return Status.SUCCESS

            bt.root(act)


async def test_a_disabled_adapter_writes_nothing(sink: MemorySink, clock: ManualClock) -> None:
    tree_adapter.disable()
    try:
        await TreeRunner(Patrol, Board(robot=Robot("r1", 0)), clock).tick()
    finally:
        tree_adapter.enable()
    assert sink.records == []


async def test_log_tree_event_wraps_the_function_that_runs_a_tree(
    sink: MemorySink, clock: ManualClock
) -> None:
    @log_tree_event("mission", tree_name="Patrol", attributes={"waypoints": lambda bb: len(bb.log)})
    async def run_mission(bb: Board) -> Status:
        return await TreeRunner(Patrol, bb, clock).tick()

    await run_mission(Board(robot=Robot("r9", 10)))
    (event,) = sink.events("mission")
    assert event["attributes"]["tree_name"] == "Patrol"
    assert event["attributes"]["status"] is Status.FAILURE
    assert event["attributes"]["waypoints"] == 0
    assert event["relationships"] == [("r9", "actor")]


# -- septum -----------------------------------------------------------------------------------------

fsm_adapter = SeptumAdapter()


@septum.state(config=StateConfiguration(can_dwell=True))
def Idle():
    class Events(Enum):
        START = auto()

    @septum.on_enter
    @fsm_adapter.log_state_lifecycle("idle_entered")
    async def on_enter(ctx):
        ctx.common.log.append("enter idle")

    @septum.on_state
    @log_message("message_received")
    @fsm_adapter.log_state("idle_tick", attributes={"queued": lambda ctx: len(ctx.common.log)})
    async def on_state(ctx):
        return Events.START if ctx.msg is not None and ctx.msg.id == "j1" else None

    @septum.on_leave
    @fsm_adapter.log_state_lifecycle("idle_left")
    def on_leave(ctx):
        ctx.common.log.append("leave idle")

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.START, Working)]


@septum.state(config=StateConfiguration(terminal=True))
def Working():
    @septum.on_enter
    @fsm_adapter.log_state_lifecycle("working")
    async def on_enter(ctx):
        ctx.common.log.append("working")


@septum.state(config=StateConfiguration(can_dwell=True))
def Inbox():
    @septum.on_state
    @log_message("message_received")
    def on_state(ctx):
        return None


async def test_log_message_relates_a_dict_message_by_its_id_key(sink: MemorySink) -> None:
    # A dict is an object with its "id" key (its id everywhere else in spores), but a message
    # {"id": "m1", ...} was not related: only an id attribute counted.
    fsm = StateMachine(Inbox)
    await fsm.initialize()
    fsm.send_message({"id": "m1", "kind": "order"})
    fsm.send_message({"kind": "ping"})  # no id: nothing to relate
    await fsm.run()
    assert [(e["attributes"]["message_type"], e["relationships"]) for e in sink.events()] == [
        ("dict", [("m1", "message")]),
        ("dict", []),
    ]
    assert [(o["id"], o["attributes"]) for o in sink.objects()] == [("m1", {"kind": "order"})]


async def test_septum_adapters_on_a_running_machine(sink: MemorySink) -> None:
    bb = Board(robot=Robot("r1"))
    fsm = StateMachine(Idle, common_data=bb)
    await fsm.initialize()
    fsm.send_message(Job("j0"))
    fsm.send_message(Job("j1"))
    await fsm.run()
    assert [e["type"] for e in sink.events()] == [
        "idle_entered",
        "idle_tick",  # the run on entry, no message
        "message_received",
        "idle_tick",
        "message_received",
        "idle_tick",
        "idle_left",
        "working",
    ]
    entered, first_tick, received, _, _, last_tick, left, working = sink.events()
    assert entered["attributes"]["phase"] == "enter" and entered["attributes"]["state_name"] == "Idle"
    assert entered["attributes"]["lifecycle_method"] == "on_enter"
    assert "transition" not in first_tick["attributes"] and "message_type" not in first_tick["attributes"]
    assert first_tick["attributes"]["queued"] == 1
    assert received["attributes"]["message_type"] == "Job"
    assert received["relationships"] == [("j0", "message"), ("r1", "actor")]
    assert last_tick["attributes"]["transition"] == "START"
    assert last_tick["attributes"]["mission"] == "patrol"
    assert left["attributes"]["phase"] == "leave"
    assert working["attributes"]["state_name"] == "Working"
    assert bb.log == ["enter idle", "leave idle", "working"]


def test_septum_adapter_above_on_state_is_refused() -> None:
    def on_state(ctx: Any) -> None: ...

    with pytest.raises(TypeError, match="below @septum.on_state"):
        fsm_adapter.log_state("x")(septum.on_state(on_state))


# -- hypha ------------------------------------------------------------------------------------------

net_adapter = HyphaAdapter()


@pn.net
def Jobs(builder: NetBuilder) -> None:
    @builder.io_input_place()
    @net_adapter.log_place("job_arrived")
    async def arrivals(bb: Board, timebase: Any) -> Any:
        for i in range(3):
            yield Job(f"j{i}", size=i + 1)

    @builder.io_output_place()
    @net_adapter.log_place("job_shipped")
    def shipped(token: Any, bb: Board, timebase: Any) -> None:
        bb.log.append(token.id)

    small = builder.place("small")
    large = builder.place("large")

    @builder.transition(inputs=[arrivals], outputs=[small, large])
    @net_adapter.log_transition(
        "sort", attributes={"size": lambda consumed: consumed[0].size}, log_outputs=True
    )
    async def sort(consumed: Any, bb: Board, timebase: Any) -> Any:
        job = consumed[0]
        return {large if job.size > 1 else small: job}

    @builder.transition(inputs=[small], outputs=[shipped])
    @net_adapter.log_transition("ship_small")
    def ship_small(consumed: Any, bb: Board, timebase: Any) -> Any:
        return {shipped: consumed[0]}

    @builder.transition(inputs=[large], outputs=[shipped])
    @net_adapter.log_transition("ship_large", log_outputs=True)
    async def ship_large(consumed: Any, bb: Board, timebase: Any, ctx: Any) -> Any:
        for job in consumed:
            yield {shipped: job}


async def test_hypha_adapters_on_a_running_net(sink: MemorySink, clock: ManualClock) -> None:
    bb = Board(robot=Robot("r1"))
    runner = NetRunner(Jobs, bb, clock)
    await runner.run_until_idle()
    await runner.stop()
    assert sorted(bb.log) == ["j0", "j1", "j2"]
    types = [e["type"] for e in sink.events()]
    assert types.count("job_arrived") == 3 and types.count("job_shipped") == 3
    assert types.count("sort") == 3 and types.count("ship_small") == 1 and types.count("ship_large") == 2
    sort = sink.events("sort")[0]
    assert sort["attributes"] == {
        "transition_name": "sort",
        "token_count": 1,
        "size": 1,
        "mission": "patrol",
        "robot_speed": 1.5,
    }
    assert sort["relationships"] == [("j0", "input"), ("j0", "output"), ("r1", "actor")]
    large = sink.events("ship_large")[0]
    assert large["attributes"]["transition_name"] == "Jobs.ship_large"  # from ctx: the qualified name
    assert [q for _, q in large["relationships"]] == ["input", "output", "actor"]
    arrived = sink.events("job_arrived")
    assert [e["relationships"][0] for e in arrived] == [("j0", "token"), ("j1", "token"), ("j2", "token")]
    assert {o["type"] for o in sink.objects()} == {"Job", "Robot"}


@pytest.mark.parametrize("kind", ["function", "coroutine", "generator", "async generator"])
def test_every_handler_kind_stays_that_kind(kind: str) -> None:
    def function(consumed, bb, timebase):
        return None

    async def coroutine(consumed, bb, timebase):
        return None

    def generator(consumed, bb, timebase):
        yield {}

    async def async_generator(consumed, bb, timebase, ctx):
        yield {}

    fn = {
        "function": function,
        "coroutine": coroutine,
        "generator": generator,
        "async generator": async_generator,
    }[kind]
    wrapped = net_adapter.log_transition("t")(fn)
    for check in (inspect.iscoroutinefunction, inspect.isasyncgenfunction, inspect.isgeneratorfunction):
        assert check(wrapped) == check(fn)
    assert inspect.signature(wrapped) == inspect.signature(fn)


@septum.state
class ClassForm:
    class Events(Enum):
        DONE = auto()

    @septum.on_state
    @fsm_adapter.log_state("class_form_tick")
    async def on_state(ctx):
        return Events.DONE  # noqa: F821 - septum resolves the class body's names, through the wrapper

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.DONE, Working)]  # noqa: F821


async def test_adapters_on_class_form_states_keep_bare_names_working(sink: MemorySink) -> None:
    fsm = StateMachine(ClassForm, common_data=Board())
    await fsm.initialize()
    await fsm.run()
    assert fsm.current_state is Working
    assert sink.events("class_form_tick")[0]["attributes"]["transition"] == "DONE"


# -- a blackboard seen through an interface view ----------------------------------------------------


@blackboard_interface
class Driving:
    mission: Annotated[str, readonly]
    robot: Annotated[Robot, readwrite]


class LineLog:
    """A transport taking JSON lines without awaiting: the dispatcher's line path (no records)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def send_nowait(self, data: bytes, content_type: str = "application/json") -> None:
        self.lines.extend(json.loads(line) for line in data.decode().splitlines())

    def send(self, data: bytes, content_type: str) -> None:
        self.send_nowait(data, content_type)

    def close(self) -> None:
        pass


@pytest.fixture(params=["records", "lines"])
def written(request: pytest.FixtureRequest) -> Callable[[], tuple[list[tuple], list[tuple]]]:
    """spores configured for records or for JSON lines; the function returned reads what was
    written, alike for both: ([(event type, {attribute: value text}, relationships)],
    [(object id, {attribute: value text})])."""
    if request.param == "records":
        memory = MemorySink()
        spores.configure(transport=memory)

        def read() -> tuple[list[tuple], list[tuple]]:
            events = [
                (e["type"], {k: value_text(v) for k, v in e["attributes"].items()}, e["relationships"])
                for e in memory.events()
            ]
            objects = [
                (o["id"], {k: value_text(v) for k, v in o["attributes"].items()}) for o in memory.objects()
            ]
            return events, objects

        return read
    log = LineLog()
    spores.configure(transport=log)

    def read_lines() -> tuple[list[tuple], list[tuple]]:
        events = [
            (
                e["type"],
                {a["name"]: a["value"] for a in e["attributes"]},
                [(r["objectId"], r["qualifier"]) for r in e["relationships"]],
            )
            for e in (line["event"] for line in log.lines)
            if e
        ]
        objects = [
            (o["id"], {a["name"]: a["value"] for a in o["attributes"]})
            for o in (line["object"] for line in log.lines)
            if o
        ]
        return events, objects

    return read_lines


view_adapters = (RhizomorphAdapter(), SeptumAdapter(), HyphaAdapter())


@bt.tree
def ViewedPatrol() -> None:
    @bt.action
    @view_adapters[0].log_node("drive")
    def drive(bb: Driving) -> Status:
        bb.robot.battery -= 10
        return Status.SUCCESS

    @bt.root
    @bt.sequence
    def main() -> Iterator[Node]:
        yield drive


@septum.state(config=StateConfiguration(terminal=True))
def ViewedDriving():
    @septum.on_state
    @view_adapters[1].log_state("drive")
    async def on_state(ctx: Context[Driving]) -> None:
        ctx.common.robot.battery -= 10


@pn.net
def ViewedRoute(builder: NetBuilder) -> None:
    stops = builder.place("stops")

    @builder.transition(inputs=[stops], outputs=[])
    @view_adapters[2].log_transition("drive", log_inputs=False)
    async def drive(consumed: Any, bb: Driving, timebase: Any) -> None:
        bb.robot.battery -= 10


async def drive_twice(engine: str, bb: Board, clock: ManualClock) -> None:
    if engine == "rhizomorph":
        runner = TreeRunner(ViewedPatrol, bb, clock)
        await runner.tick()
        await runner.tick()
    elif engine == "septum":
        for _ in range(2):
            fsm = StateMachine(ViewedDriving, common_data=bb)
            await fsm.initialize()
    else:
        net = NetRunner(ViewedRoute, bb, clock)
        for stop in ("s1", "s2"):  # one firing at a time: the second from the handler's plan
            net.add_token("stops", stop)
            await net.run_until_idle()
        await net.stop()


@pytest.mark.parametrize("engine", ["rhizomorph", "septum", "hypha"])
async def test_a_handler_given_an_interface_view_logs_its_blackboards_marks(
    engine: str, written: Callable[[], tuple[list[tuple], list[tuple]]], clock: ManualClock
) -> None:
    await drive_twice(engine, Board(robot=Robot("r1")), clock)
    events, objects = written()
    assert [e[0] for e in events] == ["drive", "drive"]
    for _, attributes, relationships in events:
        assert attributes["mission"] == "patrol" and attributes["robot_speed"] == "1.5"
        assert relationships == [("r1", "actor")]
    assert objects == [("r1", {"battery": "90"}), ("r1", {"battery": "80"})]  # each change written


class Crate(NamedTuple):
    """A named tuple in an ObjectRef field: one object (its fields its attributes), not a list."""

    id: str
    weight: int


@dataclass
class Loading:
    crate: Annotated[Crate, ObjectRef("cargo")] = Crate("k1", 12)
    crates: Annotated[list[Crate], ObjectRef("stack")] = field(default_factory=lambda: [Crate("k2", 3)])


loading_adapter = HyphaAdapter()


@pn.net
def Loader(builder: NetBuilder) -> None:
    bays = builder.place("bays")

    @builder.transition(inputs=[bays], outputs=[])
    @loading_adapter.log_transition("load", log_inputs=False)
    async def load(consumed: Any, bb: Loading, timebase: Any) -> None:
        return None


async def test_a_named_tuple_in_an_object_ref_field_is_one_object(
    written: Callable[[], tuple[list[tuple], list[tuple]]], clock: ManualClock
) -> None:
    # A named tuple was taken for a collection: each of its fields related as an object of its own
    # ("k1" and 12 as "cargo").
    runner = NetRunner(Loader, Loading(), clock)
    runner.add_token("bays", "b1")
    await runner.run_until_idle()
    await runner.stop()
    events, objects = written()
    assert [relationships for _, _, relationships in events] == [[("k1", "cargo"), ("k2", "stack")]]
    assert sorted(objects) == [("k1", {"weight": "12"}), ("k2", {"weight": "3"})]


# -- how an adapter's problems name the handler ------------------------------------------------------

ASKS_FOR_NOTHING = {"x": lambda nope, never: 1}  # names no parameter of the handler: a DefinitionError


def _decorators() -> list[tuple[str, Callable[[Any], Any]]]:
    """(the subject's words before the handler's name, the decorator with ASKS_FOR_NOTHING)."""
    return [
        ("log_state('s')", SeptumAdapter().log_state("s", ASKS_FOR_NOTHING)),
        ("log_state_lifecycle('s')", SeptumAdapter().log_state_lifecycle("s", ASKS_FOR_NOTHING)),
        ("log_message('s')", log_message("s", ASKS_FOR_NOTHING)),
        ("log_transition('s')", HyphaAdapter().log_transition("s", ASKS_FOR_NOTHING)),
        ("log_node('s')", RhizomorphAdapter().log_node("s", ASKS_FOR_NOTHING)),
        ("log_tree_event('s')", log_tree_event("s", "T", ASKS_FOR_NOTHING)),
        ("log_action('s')", spores.TreeSporesAdapter().log_action("s", ASKS_FOR_NOTHING)),
    ]


@pytest.mark.parametrize(("words", "decorator"), _decorators(), ids=[w for w, _ in _decorators()])
def test_a_problem_names_a_local_handler_as_written(words: str, decorator: Callable[[Any], Any]) -> None:
    # It read "log_state('s') on test_...<locals>.handler": the test's name, and Python's <locals>.
    def handler(ctx: Any) -> None:
        return None

    with pytest.raises(DefinitionError, match=rf"^{re.escape(words)} on handler has 1 problem:\n") as info:
        decorator(handler)
    assert "<locals>" not in str(info.value)


@pytest.mark.parametrize(("words", "decorator"), _decorators(), ids=[w for w, _ in _decorators()])
def test_a_problem_names_a_method_with_its_class(words: str, decorator: Callable[[Any], Any]) -> None:
    with pytest.raises(DefinitionError, match=rf"^{re.escape(words)} on Hub\.handler has 1 problem:\n"):

        class Hub:
            @decorator
            def handler(self, ctx: Any) -> None:
                return None
