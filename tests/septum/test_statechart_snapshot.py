"""Snapshots of statecharts: the configuration, every region's timers, retry counts, history and
fired timeouts are written down, and a restored machine goes on exactly as the original does."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import CodecError, ManualClock
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine
from tests.septum._charts import box, drain, final, leaf, names, on
from tests.septum._helpers import DAMAGED, REFIT, E

EXAMPLE = Path(__file__).parents[2] / "examples" / "septum" / "traffic_light.py"


@pytest.fixture(scope="module")
def light() -> Any:
    return runpy.run_path(str(EXAMPLE), run_name="snapshot_test")["Light"]


def where(fsm: StateMachine) -> list[str]:
    return [s.name for s in fsm.configuration]


def run(fsm: StateMachine, clock: ManualClock, script: list[tuple[float, str | None]]) -> list[Any]:
    seen = []
    for seconds, message in script:
        clock.advance(seconds)
        fsm.run_sync()
        if message is not None:
            fsm.send(message)
        seen.append((clock.now(), where(fsm), dict(fsm.common)))
    return seen


BEFORE = [(5, "button"), (25, None), (3, None), (7, None)]  # in the crossing: Walk, Stopped timed
AFTER = [(4, None), (6, "night"), (60, "day"), (20, None), (40, "off")]


def twin(light: Any, clock: ManualClock, document: Any) -> StateMachine:
    """The machine restored from ``document`` (through JSON text) on a clock at the same time."""
    other = ManualClock()
    other.advance(clock.now())
    return StateMachine.restore(light, json.loads(json.dumps(document)), timebase=other)


def test_a_restored_statechart_goes_on_as_the_original(light: Any) -> None:
    clock = ManualClock()
    fsm = StateMachine(light, timebase=clock)
    fsm.run_sync()
    run(fsm, clock, BEFORE)
    assert where(fsm) == ["Light", "Day", "Crossing", "Cars", "Stopped", "Walkers", "Walk"]
    document = fsm.snapshot()
    chart = document["chart"]
    assert chart["timers"] == {
        "Light.Day.Crossing.Cars.Stopped": 48.0,
        "Light.Day.Crossing.Walkers.Walk": 43.0,
    }  # type: ignore[index]
    restored = twin(light, clock, document)
    assert where(restored) == where(fsm) and restored.current_state is fsm.current_state
    theirs = run(restored, restored.timebase, AFTER)  # type: ignore[arg-type]
    assert run(fsm, clock, AFTER) == [(t, w, c) for t, w, c in theirs]
    assert fsm.is_complete and restored.is_complete


def test_history_and_a_fired_timeout_waiting_in_the_queue_are_kept(light: Any) -> None:
    clock = ManualClock()
    fsm = StateMachine(light, timebase=clock)
    fsm.run_sync()
    run(fsm, clock, [*BEFORE, (4, "night")])  # Day remembers the crossing, deeply
    fsm.send_message("day")
    clock.advance(0)
    document = fsm.snapshot()
    assert document["chart"]["history"]["Light.Day"][-1] == "Light.Day.Crossing.Walkers.Flashing"  # type: ignore[index]
    assert document["queue"] == [[0, "day"]]
    restored = twin(light, clock, document)
    restored.run_sync()
    fsm.run_sync()
    assert (
        where(restored)
        == where(fsm)
        == ["Light", "Day", "Crossing", "Cars", "Stopped", "Walkers", "Flashing"]
    )
    clock.advance(5)  # Flashing's timer (restarted on re-entry) fires: its timeout waits, unhandled yet
    document = fsm.snapshot()
    assert ["timeout", "Light.Day.Crossing.Walkers.Flashing"] in document["queue"]  # type: ignore[operator]
    restored = twin(light, clock, document)
    fsm.run_sync()
    restored.run_sync()
    assert (
        where(restored)
        == where(fsm)
        == ["Light", "Day", "Crossing", "Cars", "Stopped", "Walkers", "WalkersDone"]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("chart"), "needs its 'chart' entry"),
        (
            lambda d: d["chart"]["active"].remove("Light.Day"),
            "state Cycle is active but Day, which holds it, is not",
        ),
        (lambda d: d["chart"].update(timers={"Light.Day.Cycle.Green": "soon"}), "timer deadline 'soon'"),
        (lambda d: d["chart"]["active"].append("Light.Nowhere"), "has no state 'Light.Nowhere'"),
        (
            lambda d: d["chart"]["timers"].update({"Light.Day": 5.0}),
            "state Day has no timeout, but the snapshot has a timer for it",
        ),
        (
            lambda d: d["chart"]["timers"].update({"Light.Day.Cycle.Red": 5.0}),
            "state Red is not active, but the snapshot has a timer for it",
        ),
        (
            lambda d: d["queue"].append(["timeout", "Light.Day.Cycle.Red"]),
            "state Red is not active, but the snapshot has a timeout of it queued",
        ),
        (
            lambda d: d["chart"]["owing"].append("Light.Day.Cycle.Red"),
            "state Red is not active, but the snapshot says it owes its entry run",
        ),
        (
            lambda d: d["queue"].append([0, {"$t": "Lost", "v": 1}]),
            r"a queued message in the document cannot be read: unknown type 'Lost'",
        ),
    ],
)
def test_a_damaged_statechart_snapshot_is_refused(light: Any, change: Any, message: str) -> None:
    fsm = StateMachine(light, timebase=ManualClock())
    fsm.run_sync()
    document = json.loads(json.dumps(fsm.snapshot()))
    change(document)
    clock = ManualClock()
    with pytest.raises(CodecError, match=message) as caught:
        StateMachine.restore(light, document, timebase=clock)
    assert clock.pending == 0  # no timer armed before the refusal is left (Green's, in most of them)
    assert str(caught.value).count(". Fix: ") == 1  # every refusal says what to do, once


@pytest.mark.parametrize(
    ("change", "fix"),
    [
        (lambda d: d.pop("chart"), REFIT),
        (lambda d: d["chart"].update(active="Light"), DAMAGED),
        (lambda d: d["chart"].update(counts=[]), DAMAGED),
        (lambda d: d["chart"].update(counts={"Light.Day": -1}), DAMAGED),
        (lambda d: d["chart"].update(history={"Light.Day": "Light.Day.Cycle"}), DAMAGED),
        (lambda d: d["chart"]["active"].remove("Light.Day"), DAMAGED),
        (lambda d: d["chart"].update(timers={"Light.Day.Cycle.Green": "soon"}), DAMAGED),
        (lambda d: d["chart"]["timers"].update({"Light.Day": 5.0}), REFIT),
        (lambda d: d["chart"]["timers"].update({"Light.Day.Cycle.Red": 5.0}), DAMAGED),
        (lambda d: d["chart"]["owing"].append("Light.Day.Cycle.Red"), DAMAGED),
        (lambda d: d.update(queue={"a": 1}), DAMAGED),
        (lambda d: d["queue"].append(["later", 1]), DAMAGED),
    ],
)
def test_a_malformed_statechart_snapshot_is_refused_with_its_fix(light: Any, change: Any, fix: str) -> None:
    # These said what was wrong and stopped there: no "Fix: ..." said what to do about it.
    fsm = StateMachine(light, timebase=ManualClock())
    fsm.run_sync()
    document = json.loads(json.dumps(fsm.snapshot()))
    change(document)
    with pytest.raises(CodecError, match=rf"^septum snapshot: .*{fix}"):
        StateMachine.restore(light, document, timebase=ManualClock())


def boxed_pair() -> Any:
    """Box > (A -go-> B(terminal)), every state's hooks logged."""
    b = final("B")
    a = leaf("A", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, b)])
    return box("Box", a, b)


@pytest.mark.parametrize("queued", [[], ["go"]])
def test_a_statechart_written_down_before_it_started_starts_once_restored(queued: list[str]) -> None:
    chart = boxed_pair()
    fsm = StateMachine(chart)
    for message in queued:
        fsm.send_message(message)
    document = json.loads(json.dumps(fsm.snapshot()))
    restored = StateMachine.restore(chart, document)
    assert restored.queue_size == len(queued)
    restored.run_sync()
    fsm.run_sync()
    assert names(restored.configuration) == names(fsm.configuration)
    moved = ["leave A", "enter B"] if queued else []
    assert drain(restored) == drain(fsm) == ["enter Box", "enter A", *moved]
    assert restored.is_complete == fsm.is_complete == bool(queued)


async def test_a_closed_statechart_is_written_down_with_its_pending_timers(clock: ManualClock) -> None:
    child = leaf(
        "Child",
        config=StateConfiguration(timeout=5),
        on_state=on({}),
        on_timeout=lambda ctx: E.GO,
        transitions=lambda: [LabeledTransition(E.GO, final("Late"))],
    )
    chart = box("Parent", child)
    fsm = StateMachine(chart, timebase=clock)
    await fsm.run()
    clock.advance(2)
    await fsm.aclose()
    document = json.loads(json.dumps(fsm.snapshot()))
    assert document["chart"]["timers"] == {"Child": 5.0}
    later = ManualClock(start=2.0)
    restored = StateMachine.restore(chart, document, timebase=later)
    await later.run_for(2.9)
    assert names(restored.configuration) == ["Parent", "Child"]
    await later.run_for(0.1)
    assert names(restored.configuration) == ["Late"] and restored.is_complete
