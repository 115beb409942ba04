"""diagrams/ holds a current picture of every example ('mycorrhizal diagrams' regenerates it)."""

import runpy
from pathlib import Path

import pytest

from mycorrhizal.cli import main
from mycorrhizal.common import Diagrammable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in ROOT.glob("examples/**/*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_declares_what_to_draw(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(script.parent))
    wanted = runpy.run_path(str(script), run_name="diagram_probe").get("DIAGRAMS")
    assert isinstance(wanted, dict) and wanted, f"{script.name} has no DIAGRAMS mapping"
    assert all(isinstance(subject, Diagrammable) for subject in wanted.values())


def test_diagrams_folder_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["diagrams", "--check"])
    assert status == 0, capsys.readouterr().out
