"""The circuit-breaker scenario, phase by phase (examples/mycelium/circuit_breaker_handler.py)."""

import runpy
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.mycelium import PNRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mycelium" / "circuit_breaker_handler.py"


@pytest.fixture(scope="module")
def cb() -> dict[str, Any]:
    """The example's module namespace (not run as __main__)."""
    return runpy.run_path(str(EXAMPLE), run_name="circuit_breaker_example")


@pytest.fixture
async def breaker(cb: dict[str, Any], clock: ManualClock) -> Any:
    """A started runner of the example's net over a fresh blackboard, and a helper to send requests."""
    bb = cb["Blackboard"](backend=cb["Backend"](), clock=clock)
    runner = PNRunner(cb["CircuitBreakerOrchestrator"], bb, clock)
    await runner.start()

    async def send(*ids: str, healthy: bool) -> None:
        bb.backend.healthy = healthy
        runner.add_tokens("input_queue", [cb["Request"](i, "/x") for i in ids])
        await runner.run_until_idle()

    yield bb, runner, send
    await runner.stop()


async def test_the_five_phases(cb: dict[str, Any]) -> None:
    report = await cb["run_scenario"](quiet=True)
    outcome = [{rid: what.split(" ")[0] for rid, what in phase.outcomes} for phase in report.phases]
    assert outcome[0] == {"req-1": "success", "req-2": "success", "req-x": "invalid", "req-3": "success"}
    assert outcome[1] == {"req-4": "failure", "req-5": "failure", "req-6": "failure"}
    assert outcome[2] == {"req-7": "rejected", "req-8": "rejected"}
    assert outcome[3] == {"req-7": "failure"}  # the HALF_OPEN probe goes through, fails
    assert outcome[4] == {"req-9": "rejected", "req-10": "rejected"}
    assert [p.circuit for p in report.phases] == ["CLOSED", "OPEN", "OPEN", "OPEN", "OPEN"]
    assert report.transitions == (
        (1.0, "CLOSED", "OPEN"),
        (6.0, "OPEN", "HALF_OPEN"),  # exactly OPEN_TIMEOUT after opening, on the virtual clock
        (7.0, "HALF_OPEN", "OPEN"),
    )
    assert report.counts == {"success": 3, "failure": 4, "rejected": 4, "invalid": 1}
    assert sum(report.counts.values()) == sum(len(p[3]) for p in cb["PHASES"])  # no request lost


async def test_the_scenario_is_identical_on_every_run(cb: dict[str, Any]) -> None:
    assert await cb["run_scenario"](quiet=True) == await cb["run_scenario"](quiet=True)


async def test_circuit_opens_exactly_at_the_third_failure(breaker: Any) -> None:
    bb, _, send = breaker
    for request, expected in [("a", "CLOSED"), ("b", "CLOSED"), ("c", "OPEN")]:
        await send(request, healthy=False)
        assert bb.circuit == expected, request


async def test_probe_happens_only_after_the_open_timeout(breaker: Any, clock: ManualClock) -> None:
    bb, runner, send = breaker
    await send("a", "b", "c", healthy=False)
    await clock.run_for(4.9)
    await send("early", healthy=True)
    assert bb.circuit == "OPEN" and runner.tokens("rejected")[-1].token.id == "early"
    await clock.run_for(0.1)
    assert bb.circuit == "HALF_OPEN"  # the timer moved it: no request was needed
    assert bb.transitions[-1] == (5.0, "OPEN", "HALF_OPEN")


async def test_half_open_closes_after_enough_successes(breaker: Any, clock: ManualClock) -> None:
    bb, runner, send = breaker
    await send("a", "b", "c", healthy=False)
    await clock.run_for(5)
    await send("probe-1", healthy=True)
    assert bb.circuit == "HALF_OPEN"
    await send("probe-2", healthy=True)
    assert bb.circuit == "CLOSED" and bb.failures == 0
    assert [r.id for r in runner.tokens("success")] == ["probe-1", "probe-2"]


async def test_half_open_without_a_probe_reopens_after_its_window(breaker: Any, clock: ManualClock) -> None:
    bb, _, send = breaker
    await send("a", "b", "c", healthy=False)
    await clock.run_for(5 + 5)
    changes = [t[1:] for t in bb.transitions]
    assert changes == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "OPEN")]


def test_main_prints_phases_and_writes_the_picture(
    cb: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cb["main"](["--out", str(tmp_path)])
    out = capsys.readouterr().out
    for phase in cb["PHASES"]:
        assert phase[0] in out
    assert "Final counts: success=3, failure=4, rejected=4, invalid=1" in out
    svg = (tmp_path / "circuit_breaker.svg").read_text()
    assert "CircuitBreakerHalfOpen" in svg and "route_through_circuit_breaker" in svg
