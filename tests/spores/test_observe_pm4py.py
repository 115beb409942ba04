"""A real consumer reads what spores.observe writes (issue 11 item 3): the circuit-breaker demo's run,
logged to OCEL 2.0 JSON and SQLite and read back with pm4py, checked against what the run did."""

from __future__ import annotations

import asyncio
import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pm4py
import pytest

from mycorrhizal import spores
from mycorrhizal.spores.observing.base import one_per_object

DEMO = Path(__file__).resolve().parents[2] / "examples" / "mycelium" / "circuit_breaker_handler.py"


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return runpy.run_path(str(DEMO), run_name="circuit_breaker_for_pm4py")


MACHINE_EVENTS = {"entered", "left", "handled", "timed out", "retried", "failed", "let go"}
READERS = [("json", pm4py.read_ocel2_json), ("sqlite", pm4py.read_ocel2_sqlite)]


@pytest.mark.parametrize("suffix, read", READERS)
def test_the_circuit_breaker_run_read_back_with_pm4py(
    demo: dict[str, Any], tmp_path: Path, suffix: str, read: Any
) -> None:
    path = tmp_path / f"events.{suffix}"
    report = asyncio.run(demo["run_scenario"](quiet=True, log=path))
    ocel = read(str(path))
    sent = [request for _, _, _, requests in demo["PHASES"] for request in requests]

    # one request object per request id (req-7 is sent twice: one object), and the net
    objects = Counter(ocel.objects["ocel:type"])
    assert objects["request"] == len({r.id for r in sent}) == 11
    assert objects["net"] == 1
    assert objects["Rejection"] == report.counts["rejected"]  # the breaker's refusals, as tokens
    # one event per firing: every request validated, every valid one routed through the breaker;
    # the other events are the breaker machine's own, forwarded by the net's runner
    activities = Counter(ocel.events["ocel:activity"])
    firings = {"validate_request": len(sent), "route_through_circuit_breaker": len(sent) - 1}
    assert {a: n for a, n in activities.items() if a in firings} == firings
    others = [a for a in activities if a not in firings]
    assert others and all(a.split(" ", 1)[1] in MACHINE_EVENTS for a in others)
    # the breaker machine is let go once, as the runner stops
    assert activities["route_through_circuit_breaker let go"] == 1
    # every firing relates the net, and so does the machine's let go; each request in its roles, by place
    relations = ocel.relations
    assert (relations[relations["ocel:type"] == "net"]["ocel:qualifier"] == "net").sum() == sum(
        firings.values()
    ) + 1
    roles = Counter(role for q in relations["ocel:qualifier"] for role in q.split())
    assert roles["consumed:input_queue"] == len(sent)
    assert roles["produced:validated"] == roles["consumed:validated"] == len(sent) - 1
    assert roles["produced:invalid"] == report.counts["invalid"] == 1
    assert roles["produced:success"] == report.counts["success"]
    assert roles["produced:failure"] == report.counts["failure"]
    assert roles["produced:rejected"] == report.counts["rejected"]
    # req-7's two passes are two validate_request events of the same object
    req7 = relations[(relations["ocel:oid"] == "req-7") & (relations["ocel:activity"] == "validate_request")]
    assert len(req7) == 2


def test_an_object_in_several_roles_is_related_once() -> None:
    assert one_per_object([("n", "net"), ("a", "consumed:p"), ("a", "consumed:p"), ("a", "produced:q")]) == [
        ("n", "net"),
        ("a", "consumed:p produced:q"),
    ]
    distinct = [("n", "net"), ("a", "consumed:p")]
    assert one_per_object(distinct) is distinct


@pytest.mark.parametrize("suffix, read", READERS)
def test_the_breaker_machine_and_every_state_change_read_back_with_pm4py(
    demo: dict[str, Any], tmp_path: Path, suffix: str, read: Any
) -> None:
    """The breaker is the machine in route_through_circuit_breaker: the net's runner forwards its
    events, so observing the runner logs the machine too, from the moment it exists."""
    path = tmp_path / f"breaker.{suffix}"
    spores.configure(transport=spores.transport_for(path))
    world = demo["build"]()
    runner = world.runner
    spores.observe(runner)

    async def scenario() -> Any:
        await runner.start()
        report = await demo["drive"](world, world.clock.run_for, quiet=True)
        await runner.stop()
        await spores.aclose()
        return report

    report = asyncio.run(scenario())
    ocel = read(str(path))
    machine = ocel.objects[ocel.objects["ocel:type"] == "machine"]
    # the breaker, named by its transition
    assert list(machine["ocel:oid"]) == ["route_through_circuit_breaker"]
    short = {
        "CircuitBreakerClosed": "CLOSED",
        "CircuitBreakerOpen": "OPEN",
        "CircuitBreakerHalfOpen": "HALF_OPEN",
    }
    events = ocel.events.sort_values("ocel:timestamp", kind="stable")
    left = [
        (short[activity.removesuffix(" left")], short[target])
        for activity, target in zip(events["ocel:activity"], events.get("target", []), strict=False)
        if activity.endswith(" left")
    ]
    assert left == [(before, after) for _, before, after in report.transitions]  # every state change
    machine_relations = ocel.relations[ocel.relations["ocel:type"] == "machine"]
    assert set(machine_relations["ocel:qualifier"]) == {"machine"}
    # the machine object's state history follows the breaker, read alike from both formats: its
    # first state is the object's value (not a change from none), each later one a change
    # (observed from the moment the machine is made)
    changes = ocel.object_changes.sort_values("ocel:timestamp", kind="stable")
    assert [short[s] for s in machine["state"]] == ["CLOSED"]
    assert [short[s] for s in changes["state"]] == [after for _, _, after in report.transitions]
