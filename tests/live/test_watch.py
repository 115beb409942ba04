"""What the view reads from each kind of runtime, in terms of the picture's node ids."""

import runpy
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.live import MachineWatch, TreeWatch, runtime_of, watch
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.septum import StateMachine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def patrol() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / "rhizomorph" / "patrol_robot.py"), run_name="patrol_live")


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / "septum" / "single_machine.py"), run_name="single_live")


async def test_a_machine_highlights_its_current_state(single: dict[str, Any]) -> None:
    machine = StateMachine(single["MyState"], common_data={"loops": 0})
    watched = watch(machine)
    assert isinstance(watched, MachineWatch)
    ids = {node.id for node in watched.diagram.all_nodes()}
    [entry] = watched.snapshot()["machines"]
    assert entry["keys"][0]["state"] == "MyState" and entry["keys"][0]["node"] in ids
    await machine.run()
    [entry] = watched.snapshot()["machines"]
    assert entry["keys"][0] == {"key": "", "state": "Finished", "node": "Finished", "complete": True}


async def test_a_tree_shows_each_node_status(patrol: dict[str, Any]) -> None:
    clock = ManualClock()
    runner = TreeRunner(patrol["Patrol"], patrol["Robot"](), clock)
    watched = watch(runner)
    assert isinstance(watched, TreeWatch) and watched.snapshot()["statuses"] == {}
    events: list[Any] = []
    watched.attach(events.append)
    await runner.tick()
    snap = watched.snapshot()
    assert snap["ticks"] == 1 and snap["statuses"]  # every node that reported, by its picture id
    assert set(snap["statuses"]) <= {node.id for node in watched.diagram.all_nodes()}
    assert "RUNNING" in snap["statuses"].values()
    assert events and all(set(watched.nodes_of(e)) <= watched.node_ids for e in events)
    assert any(watched.nodes_of(e) for e in events)
    watched.detach()
    await runner.aclose()


def test_specs_become_runtimes_and_other_things_are_refused(
    patrol: dict[str, Any], single: dict[str, Any]
) -> None:
    assert isinstance(runtime_of(patrol["Patrol"]), TreeRunner)
    assert isinstance(runtime_of(single["MyState"]), StateMachine)
    with pytest.raises(TypeError, match=r"cannot serve 42 \(of type int\): name a hypha/mycelium net"):
        runtime_of(42)
    with pytest.raises(TypeError, match=r"the live view watches running things, not 'text' \(of type str\)"):
        watch("text")
