"""What the view reads from each kind of runtime, in terms of the picture's node ids."""

import runpy
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.live import Hub, MachineWatch, NetWatch, TreeWatch, runtime_of, watch
from mycorrhizal.mycelium import PNRunner, pn
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.septum import StateMachine

from .crossing import Crossing, Twins
from .mail_room import Desk, Desks, Sorter, addressee

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
    assert entry["keys"][0] == {
        "key": "",
        "state": "Finished",
        "node": "Finished",
        "nodes": ["Finished"],
        "complete": True,
    }


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
    with pytest.raises(TypeError, match=r"^cannot serve 42 \(of type int\)\. Fix: name a hypha/mycelium net"):
        runtime_of(42)
    with pytest.raises(
        TypeError,
        match=r"^the live view watches running things, not 'text' \(of type str\)\. Fix: pass a hypha",
    ):
        watch("text")


@pn.net
def Mail(builder):  # type: ignore[no-untyped-def]
    inbox, done, odd = builder.place("inbox"), builder.place("sorted"), builder.place("odd")

    @builder.transition(bt=Sorter, inputs=[inbox], outputs=[done], rejected=odd)
    async def sort(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


async def test_a_nets_trees_show_their_nodes_and_events_from_the_forwarded_records() -> None:
    runner = PNRunner(Mail, {}, ManualClock())
    watched = watch(runner)
    assert isinstance(watched, NetWatch)
    hub = Hub(watched, min_interval=3600)
    runner.add_observer(hub.observe)
    runner.add_tokens("inbox", ["to ann", "to whom?"])
    await runner.run_until_idle()
    hub.flush()
    # the latest run's statuses: "to whom?" is not addressed, so its sequence failed before send
    statuses = hub.snapshot()["statuses"]
    assert statuses == {
        "Mail.sort.addressed": "FAILURE",
        "Mail.sort.send": "SUCCESS",
        "Mail.sort.sort": "FAILURE",
    }
    assert set(statuses) <= watched.node_ids
    tree_events = [r for r in hub.history if r["engine"] == "rhizomorph"]
    assert {r["fields"]["token"] for r in tree_events} == {"to ann", "to whom?"}
    assert {r["fields"]["transition"] for r in tree_events} == {"Mail.sort"}
    changes = [(r["fields"]["token"], r["nodes"]) for r in tree_events if r["type"] == "NodeStatusChanged"]
    assert changes[:3] == [
        ("to ann", ["Mail.sort.addressed"]),
        ("to ann", ["Mail.sort.send"]),
        ("to ann", ["Mail.sort.sort"]),
    ]
    runner.remove_observer(hub.observe)
    hub.close()
    await runner.stop()


async def test_a_net_changed_while_watched_shows_the_machines_it_has_now() -> None:
    runner = PNRunner(Desks, {}, ManualClock())
    watched = watch(runner)
    hub = Hub(watched, min_interval=3600)
    runner.add_observer(hub.observe)
    runner.add_tokens("inbox", ["to ann", "to bob"])
    await runner.run_until_idle()
    [desk] = hub.snapshot()["machines"]
    assert desk["name"] == "Desks.desk" and {k["key"] for k in desk["keys"]} == {"ann", "bob"}

    await runner.remove("desk")
    snap = hub.snapshot()
    assert snap["machines"] == [] and "Desks.desk" not in snap["outcomes"]

    async def counter(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass

    options = {"fsm": Desk, "fsm_key": addressee, "inputs": ["inbox"], "outputs": ["sorted"]}
    runner.add_transition("counter", counter, **options)
    runner.add_tokens("inbox", ["to cy"])
    await runner.run_until_idle()
    hub.flush()
    [counter_desk] = hub.snapshot()["machines"]
    assert counter_desk["name"] == "Desks.counter"
    expected = {"key": "cy", "state": "Desk", "node": "Desks.counter.Desk", "nodes": ["Desks.counter.Desk"]}
    expected["complete"] = False
    assert counter_desk["keys"] == [expected]
    assert "Desks.counter.Desk" in watched.node_ids and "Desks.desk.Desk" not in watched.node_ids
    assert [r["nodes"] for r in hub.history if r["type"] == "StateEntered"][-1] == ["Desks.counter.Desk"]
    runner.remove_observer(hub.observe)
    hub.close()
    await runner.stop()


async def test_a_statechart_shows_every_active_state_of_every_region() -> None:
    clock = ManualClock()
    machine = StateMachine(Crossing, timebase=clock)
    watched = watch(machine)
    machine.run_sync()
    [entry] = watched.snapshot()["machines"]
    [key] = entry["keys"]
    assert key["state"] == "Stopped, Walk"  # the active leaf of each region
    assert key["nodes"] == ["Crossing", "Cars", "Stopped", "Walkers", "Walk"]  # all on the picture
    assert set(key["nodes"]) <= watched.node_ids
    machine.send("crossed")  # one region finishes, the other still waits for its timeout
    [key] = watched.snapshot()["machines"][0]["keys"]
    assert (key["state"], key["complete"]) == ("Stopped, WalkersDone", False)
    clock.advance(15)
    machine.run_sync()
    [key] = watched.snapshot()["machines"][0]["keys"]
    assert key == {"key": "", "state": "Open", "node": "Open", "nodes": ["Open"], "complete": True}


@pytest.mark.parametrize(
    ("message", "region", "other"), [("cars", "Cars", "Walkers"), ("walkers", "Walkers", "Cars")]
)
async def test_a_statechart_points_each_record_at_its_own_regions_state_of_a_shared_name(
    message: str, region: str, other: str
) -> None:
    machine = StateMachine(Twins, timebase=ManualClock())
    watched = watch(machine)
    node = {n.tooltip: n.id for n in watched.diagram.all_nodes() if n.tooltip}
    hub = Hub(watched, min_interval=3600)
    machine.add_observer(hub.observe)
    await machine.run()
    machine.send(message)
    hub.flush()
    entered = [r["nodes"] for r in hub.history if r["type"] == "StateEntered"]
    # both regions enter a Wait at start, each its own; then the region told enters its own Done
    assert entered == [
        [node["Twins"]],
        [node["Twins.Cars"]],
        [node["Twins.Cars.Wait"]],
        [node["Twins.Walkers"]],
        [node["Twins.Walkers.Wait"]],
        [node[f"Twins.{region}.Done"]],
    ]
    # a record no record tells apart (both Waits handle the message) points at neither, not a wrong one
    handled = [r["nodes"] for r in hub.history if r["type"] == "MessageHandled"]
    assert handled and all(nodes in ([], [node[f"Twins.{region}.Wait"]]) for nodes in handled)
    assert [r["nodes"] for r in hub.history if r["type"] == "StateCompleted"] == [[node[f"Twins.{region}"]]]
    assert node[f"Twins.{other}.Wait"] in hub.snapshot()["machines"][0]["keys"][0]["nodes"]
    machine.remove_observer(hub.observe)
    hub.close()


@pn.net
def Road(builder):  # type: ignore[no-untyped-def]
    inbox, passed = builder.place("inbox"), builder.place("passed")

    @builder.transition(fsm=Twins, inputs=[inbox], outputs=[passed])
    async def light(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


@pytest.mark.parametrize("region", ["Cars", "Walkers"])
async def test_a_nets_statechart_points_each_record_at_its_own_regions_state_of_a_shared_name(
    region: str,
) -> None:
    runner = PNRunner(Road, {}, ManualClock())
    watched = watch(runner)
    inside = [n for n in watched.diagram.all_nodes() if n.id.startswith("Road.light.")]
    node = {n.tooltip: n.id for n in inside if n.tooltip}
    hub = Hub(watched, min_interval=3600)
    runner.add_observer(hub.observe)
    runner.add_tokens("inbox", [region.lower()])
    await runner.run_until_idle()
    hub.flush()
    moves = [(r["type"], r["nodes"]) for r in hub.history if r["type"] in ("StateEntered", "StateLeft")]
    assert moves == [
        ("StateEntered", [node["Twins"]]),
        ("StateEntered", [node["Twins.Cars"]]),
        ("StateEntered", [node["Twins.Cars.Wait"]]),
        ("StateEntered", [node["Twins.Walkers"]]),
        ("StateEntered", [node["Twins.Walkers.Wait"]]),
        ("StateLeft", [node[f"Twins.{region}.Wait"]]),
        ("StateEntered", [node[f"Twins.{region}.Done"]]),
    ]
    assert runner.marking().counts()["Road.passed"] == 1
    runner.remove_observer(hub.observe)
    hub.close()
    await runner.stop()
