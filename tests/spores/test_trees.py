"""TreeSporesAdapter, log_tree_event and state snapshots, also through the 0.x import path
mycorrhizal.mycelium.spores_integration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.mycelium import Action, Sequence, TreeRunner, root, tree
from mycorrhizal.mycelium.spores_integration import (
    TreeSporesAdapter,
    _log_state_snapshot,
    log_state_snapshot,
    log_tree_event,
)
from mycorrhizal.rhizomorph import Node, Runner, Status, bt
from mycorrhizal.septum import StateConfiguration, septum
from mycorrhizal.spores import EventAttr, ObjectRef, ObjectScope, spore

from .conftest import MemorySink


@spore.object("Robot")
@dataclass
class Robot:
    id: str
    battery: int = 100

    @classmethod
    def first(cls) -> Robot:
        return cls("r")


class Machine:
    """Stands for a state machine handed to an action (what 0.x passed as fsm_runner)."""

    def __init__(self, state: str) -> None:
        self.current_state = type("State", (), {"name": state})()

    def send_message(self, msg: Any) -> None:
        raise AssertionError("not used")


@dataclass
class Board:
    mission: Annotated[str, EventAttr] = "night"
    robot: Annotated[Robot, ObjectRef("robot", ObjectScope.GLOBAL)] = field(default_factory=Robot.first)

    arm: Any = field(default_factory=lambda: Machine("Folded"))
    laps: int = 0


adapter = TreeSporesAdapter("Patrol")


@septum.state(config=StateConfiguration(can_dwell=True))
def Parked() -> None:
    @septum.on_state
    def on_state(ctx: Any) -> None:
        return None


@tree
def Parking() -> None:
    @Action(fsm=Parked)
    async def park(bb: Board, tb: Any, fsm_runner: Any) -> Status:
        return Status.RUNNING

    @root
    @Sequence
    def main() -> Iterator[Any]:
        yield park


@bt.tree
def Patrol() -> Any:
    @bt.action
    @adapter.log_action("drive", attributes={"laps": lambda bb: bb.laps})
    def drive(bb: Board) -> Status:
        bb.laps += 1
        return Status.SUCCESS

    @bt.root
    @bt.sequence
    def main() -> Iterator[Node]:
        yield drive


async def test_log_action_writes_tree_action_status_and_the_blackboards_marks(sink: MemorySink) -> None:
    board = Board()
    runner = Runner(Patrol, board, ManualClock())
    await runner.tick()
    await runner.tick()
    events = sink.events("drive")
    drive = {"tree_name": "Patrol", "action_name": "drive", "status": Status.SUCCESS}
    assert [e["attributes"] for e in events] == [{**drive, "laps": n, "mission": "night"} for n in (1, 2)]
    assert events[0]["relationships"] == [("r", "robot")]
    adapter.disable()
    try:
        await runner.tick()
    finally:
        adapter.enable()
    assert len(sink.events("drive")) == 2


def test_log_action_writes_the_state_of_the_machine_it_is_handed(sink: MemorySink) -> None:
    @TreeSporesAdapter().log_action("folded", log_blackboard=False)
    def check(bb: Board, tb: Any, fsm_runner: Any) -> bool:
        return True

    assert check(Board(), None, Machine("Folded")) is True
    (event,) = sink.events("folded")
    assert event["attributes"] == {"action_name": "check", "status": Status.SUCCESS, "fsm_state": "Folded"}
    assert event["relationships"] == []


async def test_log_tree_tick_and_log_tree_event(sink: MemorySink) -> None:
    @adapter.log_tree_tick()
    async def tick_once(bb: Board) -> Status:
        return Status.RUNNING

    @log_tree_event("patrolled", "Patrol", attributes={"laps": lambda bb: bb.laps})
    def finish(bb: Board) -> None:
        bb.laps = 7

    await tick_once(Board())
    finish(Board())
    assert [(e["type"], e["attributes"]["tree_name"]) for e in sink.events()] == [
        ("tree_tick", "Patrol"),
        ("patrolled", "Patrol"),
    ]
    assert sink.events("tree_tick")[0]["attributes"]["status"] == Status.RUNNING
    assert sink.events("patrolled")[0]["attributes"]["laps"] == 7


def test_state_snapshots_hold_the_blackboard_and_machine_states(sink: MemorySink) -> None:
    class Holder:
        def __init__(self) -> None:
            self.bb = Board(laps=3)

    _log_state_snapshot(Holder(), "end", include_blackboard=True, include_fsms=True)

    @log_state_snapshot("after", include_blackboard=False)
    def step(bb: Board) -> None:
        bb.laps += 1

    step(Board())
    first, second = sink.objects()
    assert first["type"] == "StateSnapshot:end"
    assert first["attributes"] == {
        "mission": "night",
        "robot": "Robot(id='r', battery=100)",
        "fsm:arm": "Folded",
        "laps": 3,
    }
    assert second["type"] == "StateSnapshot:after" and second["attributes"] == {"fsm:arm": "Folded"}


async def test_0x_awaits_a_snapshot_of_a_tree_instance_holding_its_machines_states(sink: MemorySink) -> None:
    # 0.x's _log_state_snapshot was a coroutine taking a mycelium tree instance, whose machines
    # (one per Action(fsm=...)) are the runner's, not fields of the blackboard.
    runner = TreeRunner(Parking, Board(laps=2), ManualClock())
    assert await runner.tick() is Status.RUNNING
    await _log_state_snapshot(runner.instance, "final", include_blackboard=False, include_fsms=True)
    await _log_state_snapshot(runner, "runner", include_blackboard=False, include_fsms=True)
    await _log_state_snapshot(runner.instance, "board", include_blackboard=True, include_fsms=False)
    final, of_runner, board = sink.objects()
    assert final["type"] == "StateSnapshot:final"
    assert final["attributes"] == {"fsm:arm": "Folded", "fsm:park": "Parked"}
    assert of_runner["attributes"] == final["attributes"]
    assert board["attributes"] == {"mission": "night", "robot": "Robot(id='r', battery=100)", "laps": 2}
    await runner.aclose()


def _decorated(kind: str) -> Any:
    """A function decorated by each tree helper, with a ``label`` callable attribute where the helper
    takes attributes (a one-parameter callable of another name gets the first argument)."""
    if kind == "log_action, bb not first":

        @adapter.log_action("acted", attributes={"label": lambda bb: bb.mission})
        def act(timebase: Any, bb: Board) -> Status:
            return Status.SUCCESS

        return lambda bb, by_keyword: act(timebase=None, bb=bb) if by_keyword else act(None, bb)
    if kind == "log_tree_event":

        @log_tree_event("ticked", "Patrol", attributes={"label": lambda board: board.mission})
        def tick(bb: Board) -> Status:
            return Status.SUCCESS

        return lambda bb, by_keyword: tick(bb=bb) if by_keyword else tick(bb)

    @log_state_snapshot("now")
    def step(bb: Board) -> None:
        pass

    return lambda bb, by_keyword: step(bb=bb) if by_keyword else step(bb)


@pytest.mark.parametrize("by_keyword", [False, True], ids=["positional", "keyword"])
@pytest.mark.parametrize("kind", ["log_action, bb not first", "log_tree_event", "log_state_snapshot"])
def test_the_blackboard_is_found_however_it_is_passed(sink: MemorySink, kind: str, by_keyword: bool) -> None:
    _decorated(kind)(Board(mission="dawn"), by_keyword)
    if kind == "log_state_snapshot":
        (snapshot,) = sink.objects()
        assert snapshot["attributes"]["mission"] == "dawn"
        return
    (event,) = sink.events()
    assert event["attributes"]["mission"] == event["attributes"]["label"] == "dawn"
    assert event["relationships"] == [("r", "robot")]
