"""diagrams/ holds a current picture of every example ('mycorrhizal diagrams' regenerates it)."""

import runpy
from pathlib import Path

import pytest

from mycorrhizal.cli import main
from mycorrhizal.common import Diagram, Diagrammable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in ROOT.glob("examples/**/*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_declares_what_to_draw(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(script.parent))
    wanted = runpy.run_path(str(script), run_name="diagram_probe").get("DIAGRAMS")
    assert isinstance(wanted, dict) and wanted, f"{script.name} has no DIAGRAMS mapping"
    assert all(isinstance(subject, Diagrammable | Diagram) for subject in wanted.values())


def test_diagrams_folder_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["diagrams", "--check"])
    assert status == 0, capsys.readouterr().out


def test_the_layer_picture_is_the_real_import_graph() -> None:
    layers = runpy.run_path(str(ROOT / "examples" / "architecture" / "layers.py"), run_name="layers_probe")
    diagram = layers["DIAGRAMS"]["layers"]
    solid = {(e.src, e.dst) for e in diagram.edges if e.style == "solid"}
    assert solid == layers["IMPORTS"]
    assert {"hypha", "common"} <= {n.id for n in diagram.all_nodes()}
    assert ("hypha", "common") in solid and ("mycelium", "septum") in solid
    engines = {"septum", "hypha", "rhizomorph"}
    assert not {(a, b) for a, b in solid if a in engines and b in engines}
    assert set(layers["GATE"].ALLOWED) <= {n.id for n in diagram.all_nodes()}
    table = layers["GATE"].ALLOWED
    upward = {(a, b) for a, b in layers["IMPORTS"] if a in table and b not in table}
    assert upward == {("live", "render")}, (
        "docs/architecture.md says that only live imports a front door (render.py); "
        f"the code now has {sorted(upward)}: update the page (or the import)"
    )


def test_the_architecture_page_shows_the_generated_picture() -> None:
    picture = ROOT / "docs" / "images" / "architecture-layers.svg"
    assert picture.resolve() == (ROOT / "diagrams" / "architecture" / "layers.svg").resolve()
