"""Each benchmark script runs (``--quick``) and prints a table row for every contender it compares.

Only the shape of the output is checked: timings depend on the machine, so no figure is asserted.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

# Every contender each script must measure in the same run.
CONTENDERS = {
    "septum_bench": {"mycorrhizal", "python-statemachine", "transitions", "floor"},
    "hypha_bench": {"mycorrhizal", "SNAKES", "floor"},
    "rhizomorph_bench": {"mycorrhizal", "py_trees", "floor"},
}


@pytest.fixture
def bench_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``benchmarks/`` importable the way ``python benchmarks/<name>.py`` does."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield
    for name in [*CONTENDERS, "_harness"]:
        sys.modules.pop(name, None)


def table_contenders(output: str) -> set[str]:
    """The contender column of the table printed in ``output`` (located by its dashed rule)."""
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    width = len(lines[rule].split("  ")[0])
    contenders = set()
    for line in lines[rule + 1 :]:
        if not line.strip() or line.startswith("notes:"):
            break
        contenders.add(line[:width].strip())
    return contenders


def test_table_parser_reads_contender_column() -> None:
    output = "title\nheader\ncontender  workload\n---------  --------\nfloor      w\nmy lib     w\n\nafter\n"
    assert table_contenders(output) == {"floor", "my lib"}


@pytest.mark.parametrize("script", sorted(CONTENDERS))
def test_quick_run_prints_every_contender(
    script: str, bench_path: None, capsys: pytest.CaptureFixture[str]
) -> None:
    module: ModuleType = importlib.import_module(script)
    rows = module.main(["--quick"])
    output = capsys.readouterr().out
    assert table_contenders(output) == CONTENDERS[script]
    assert {row.contender for row in rows} == CONTENDERS[script]
