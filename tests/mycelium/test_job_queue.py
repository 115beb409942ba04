"""The job-queue scenario (examples/mycelium/job_queue_processor.py)."""

import runpy
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mycelium" / "job_queue_processor.py"


@pytest.fixture(scope="module")
def jq() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLE), run_name="job_queue_example")


@pytest.fixture
async def report(jq: dict[str, Any]) -> Any:
    return await jq["run_scenario"]()


async def test_invalid_jobs_are_rejected_with_the_rule_they_broke(report: Any) -> None:
    assert report.rejected == (
        ("job-03", "no owner"),
        ("job-06", "priority 12 not in 0..10"),
        ("job-08", "900 kB > 512 kB"),
    )


async def test_jobs_are_routed_by_priority_and_kind(report: Any) -> None:
    assert report.lanes == {
        "critical": ("job-02", "job-05", "job-09"),  # alerts and priority >= 9
        "fast": ("job-04", "job-07"),  # priority >= 5 and short
        "normal": ("job-01", "job-10"),
    }


async def test_valid_jobs_are_enriched_and_each_lane_runs_one_at_a_time(report: Any) -> None:
    for lane in ("critical", "fast", "normal"):
        done = [c for c in report.completed if c.lane == lane]
        for before, after in zip(done, done[1:], strict=False):
            assert after.started >= before.finished
    backup = next(c for c in report.completed if c.job.id == "job-05")
    assert backup.finished - backup.started == pytest.approx(0.5 + 400 * 0.01)


async def test_counts_add_up_and_completion_is_logged(jq: dict[str, Any], report: Any) -> None:
    assert len(report.completed) + len(report.rejected) == len(jq["JOBS"])
    assert len(report.log) == len(report.completed)
    assert report.log[0] == "t= 0.60s  critical job-02 (alert, p2) done after 0.60s"


async def test_output_is_identical_on_every_run(jq: dict[str, Any], report: Any) -> None:
    assert await jq["run_scenario"]() == report


def test_main_prints_counts_and_writes_pictures(
    jq: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jq["main"](["--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Counts: submitted=10 completed=7 rejected=3 (all settled by t=5.65s)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "job_queue_net.svg",
        "job_queue_route.svg",
        "job_queue_validate.svg",
    ]
