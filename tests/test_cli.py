"""The ``mycorrhizal`` command line."""

from pathlib import Path

import pytest

from mycorrhizal.cli import main

SCRIPT = """
from mycorrhizal.common import Diagram, Edge, Node

Flow = Diagram(
    "Flow", nodes=(Node("a", "start"), Node("b", "end", "doublecircle")), edges=(Edge("a", "b", "go"),)
)
DIAGRAMS = {"flow": Flow}
"""


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(SCRIPT)
    return path


def test_render_dot_to_stdout(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", f"{target}:Flow", "-f", "dot"]) == 0
    assert "a -> b [label=go]" in capsys.readouterr().out


@pytest.mark.parametrize("fmt, marker", [("svg", "<svg"), ("mmd", "flowchart LR"), ("dot", "digraph Flow")])
def test_render_to_file_in_each_format(target: Path, tmp_path: Path, fmt: str, marker: str) -> None:
    out = tmp_path / f"flow.{fmt}"
    assert main(["render", f"{target}:Flow", "-o", str(out)]) == 0
    assert marker in out.read_text()


def test_check_reports_a_valid_target(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{target}:Flow"]) == 0
    assert "Flow: valid (2 elements, 1 connections)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nocolon", "is not MODULE:ATTRIBUTE"),
        ("missing/file.py:X", "no such file 'missing/file.py'"),
        ("no_such_module_xyz:X", "cannot import module 'no_such_module_xyz'"),
    ],
)
def test_bad_targets_get_a_clear_error(spec: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", spec]) == 2
    assert message in capsys.readouterr().err


def test_missing_attribute_is_named(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{target}:Nope"]) == 2
    assert "has no attribute 'Nope'" in capsys.readouterr().err


def test_undrawable_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("X = 3\n")
    with pytest.raises(TypeError, match="cannot draw 3"):
        main(["render", f"{path}:X"])


@pytest.mark.parametrize(
    "name, expected, picture",
    [
        ("circuit-breaker", "counts: success=3, failure=4, rejected=4, invalid=1", "circuit_breaker.svg"),
        ("job-queue", "Counts: submitted=10 completed=7 rejected=3", "job_queue_net.svg"),
    ],
)
def test_demo_runs_the_scenario_and_writes_its_pictures(
    name: str, expected: str, picture: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", name, "--out", str(tmp_path)]) == 0
    assert expected in capsys.readouterr().out
    assert (tmp_path / picture).read_text().lstrip().startswith("<?xml")


def test_diagrams_check_reports_stale_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagrams", "--out", str(tmp_path), "--check"]) == 1
    assert "stale diagrams (run 'mycorrhizal diagrams')" in capsys.readouterr().out
    assert main(["diagrams", "--out", str(tmp_path)]) == 0
    assert main(["diagrams", "--out", str(tmp_path), "--check"]) == 0
    assert capsys.readouterr().out.endswith("diagrams are current\n")
