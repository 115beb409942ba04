"""The warehouse-robot scenario step by step (examples/mycelium/robot_controller.py)."""

import asyncio
import runpy
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.render import to_dot
from mycorrhizal.rhizomorph import Runner, Status

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mycelium" / "robot_controller.py"


@pytest.fixture(scope="module")
def robot() -> dict[str, Any]:
    """The example's module namespace (not run as __main__)."""
    return runpy.run_path(str(EXAMPLE), run_name="robot_example")


@pytest.fixture(scope="module")
def report(robot: dict[str, Any]) -> Any:
    """The report of one run of the scenario with the default seed."""
    return asyncio.run(robot["run_scenario"]())


def arm_of(report: Any, order: str) -> list[tuple[float, str]]:
    return [(t, what) for t, o, what in report.arm if o == order]


def test_orders_delivered_and_failed(report: Any) -> None:
    assert report.delivered == (("o1", 13.0), ("o2", 31.5), ("o5", 106.5))
    assert report.failed == (
        ("o3", "pick abandoned after 5 s in Gripping", 92.5),
        ("o4", "dropped", 98.5),
    )


def test_the_robot_charges_when_the_gauge_reads_low_and_only_then(report: Any) -> None:
    assert report.charges == ((33.5, 83.5, 16.0, 100.0),)  # drove 2 m to the dock first (31.5 -> 33.5)
    assert any("battery gauge reads 19.9% (< 30%)" in line for line in report.journal)
    # o3 was queued before the charge but only taken once the battery was full.
    assert report.delivered[1][1] < report.charges[0][0] < report.charges[0][1] < report.failed[0][2]


def test_mode_machine_runs_the_work_tree_in_its_working_state(report: Any) -> None:
    assert report.modes == (
        (0.0, "Idle", "Working"),
        (13.0, "Working", "Idle"),  # the tree succeeded: o1 delivered
        (13.0, "Idle", "Working"),
        (31.5, "Working", "Idle"),  # o2 delivered
        (31.5, "Idle", "Working"),
        (33.5, "Working", "Idle"),  # the tree drove to the dock and asked for a charge
        (33.5, "Idle", "Charging"),
        (83.5, "Charging", "Idle"),
        (83.5, "Idle", "Working"),
        (92.5, "Working", "Recovering"),  # the tree failed: o3 abandoned
        (94.5, "Recovering", "Idle"),
        (94.5, "Idle", "Working"),
        (98.5, "Working", "Recovering"),  # o4 dropped
        (100.5, "Recovering", "Idle"),
        (100.5, "Idle", "Working"),
        (106.5, "Working", "Idle"),  # o5 delivered
        (200.0, "Idle", "OffDuty"),
    )
    assert report.final_mode == "OffDuty" and report.final_battery == 78.0


def test_a_slipped_grip_is_retried(report: Any) -> None:
    assert arm_of(report, "o1") == [
        (6.0, "reaching for the box"),
        (7.0, "grip attempt 1"),
        (8.5, "gripped (force 0.93)"),
        (8.5, "lifting"),
        (9.0, "lifted (load 0.98)"),
        (9.0, "holding the box"),
    ]
    assert arm_of(report, "o2")[1:5] == [
        (21.0, "grip attempt 1"),
        (22.5, "grip slipped (force 0.53 < 0.6)"),
        (22.5, "grip attempt 2"),  # Retry re-entered Gripping with a fresh timeout
        (24.0, "gripped (force 0.72)"),
    ]


def test_an_item_slipping_while_lifted_ends_in_dropped(report: Any) -> None:
    assert arm_of(report, "o4")[-2:] == [
        (98.5, "slipped while lifting (load 0.39 < 0.5)"),
        (98.5, "dropped the vase"),
    ]


def test_the_abandoned_arm_machine_leaves_nothing_behind(robot: dict[str, Any], report: Any) -> None:
    (gone,) = report.abandoned
    assert gone == robot["Abandonment"]("o3", 92.5, "Gripping", 0)  # no timer left at the halt itself
    assert gone.at == 87.5 + robot["PICK_DEADLINE"]  # the pick started at 87.5
    assert arm_of(report, "o3") == [
        (87.5, "reaching for the crate"),
        (88.5, "grip attempt 1"),
        (90.0, "grip slipped (force 0.09 < 0.6)"),
        (90.0, "grip attempt 2"),
        (91.5, "grip slipped (force 0.15 < 0.6)"),
        (91.5, "grip attempt 3"),
    ]
    # The third attempt would have ended at 93.0, while the robot was Recovering: nothing fired.
    assert all(t < gone.at for t, _ in arm_of(report, "o3"))
    assert not [line for line in report.journal if "t=  93.0s" in line]
    assert report.pending_at_end == 0


async def test_halting_the_pick_cancels_the_arm_timers_at_once(
    robot: dict[str, Any], clock: ManualClock
) -> None:
    """The work tree alone, on a jammed crate: the deadline halts the arm mid-grip."""
    bb = robot["Robot"](clock=clock, battery=100.0)
    bb.orders.append(robot["Order"]("c", robot["CRATE"], 0.0))  # already at the shelf: no drive
    done = asyncio.create_task(Runner(robot["WorkTree"], bb, clock).tick_until_complete())
    await clock.run_for(4.9)
    assert bb.arm_state == "Gripping" and clock.pending == 2  # the grip timer and the pick deadline
    await clock.run_for(0.1)
    assert await done is Status.FAILURE
    assert bb.abandoned == [robot["Abandonment"]("c", 5.0, "Gripping", 0)] and clock.pending == 0
    seen = list(bb.arm_log)
    await clock.run_for(10)  # past the 5.5 s the third grip attempt would have ended at
    assert bb.arm_log == seen and bb.failed == [("c", "pick abandoned after 5 s in Gripping", 5.0)]


async def test_the_arm_machine_writes_the_blackboard_the_tree_reads(
    robot: dict[str, Any], clock: ManualClock
) -> None:
    bb = robot["Robot"](clock=clock, battery=100.0, position=3.0)
    bb.orders.append(robot["Order"]("b", robot["BOX"], 3.0))
    done = asyncio.create_task(Runner(robot["WorkTree"], bb, clock).tick_until_complete())
    await clock.run_for(3.0)  # reach 1 + grip 1.5 + lift 0.5
    assert bb.holding is robot["BOX"] and bb.arm_state == "Holding"  # set by the machine's Holding state
    await clock.run_for(1.0)  # drive 1 m to packing
    assert await done is Status.SUCCESS
    assert bb.delivered == [("b", 4.0)] and bb.holding is None and clock.pending == 0


async def test_the_scenario_is_identical_on_every_run(robot: dict[str, Any], report: Any) -> None:
    again = await robot["run_scenario"]()
    assert again == report and again.journal == report.journal
    assert await robot["run_scenario"](seed=21) != report  # the seed is what drives the sensors


def test_diagrams_show_the_tree_the_modes_and_the_arm(robot: dict[str, Any]) -> None:
    diagrams = robot["DIAGRAMS"]
    assert set(diagrams) == {"work_tree", "modes", "arm"}
    tree, modes, arm = (to_dot(diagrams[k]) for k in ("work_tree", "modes", "arm"))
    assert "timeout_pick_item -> pick_item" in tree and "decide -> give_up_order" in tree
    assert "Idle -> Working" in modes and "Working -> Recovering" in modes and "Charging" in modes
    assert 'label="SLIPPED (retry)"' in arm and "Lifting -> Dropped" in arm


def test_main_prints_the_story(robot: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    robot["main"]([])
    out = capsys.readouterr().out
    assert "Delivered: o1 at t=13s, o2 at t=31.5s, o5 at t=106.5s" in out
    assert "Abandoned: arm of o3 halted at t=92.5s in Gripping; timers left on the clock: 0" in out
    assert "Charged:   t=33.5s..83.5s, 16.0% -> 100.0%" in out
    assert out.rstrip().endswith("Final:     OffDuty, battery 78.0%, timers pending 0")
