"""benchmarks/mycelium_bench.py runs (``--quick``) and prints a row for every contender it compares.

Only the shape of the output is checked: timings depend on the machine, so no figure is asserted.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

CONTENDERS = {"floor", "mycorrhizal", "python-statemachine", "transitions"}

# What each contender must report in the same run (issue 5: floor, FSM-in-PN with its overhead
# target, the machine a user would otherwise drive by hand, and BT-in-PN for information).
WORKLOADS = {
    ("floor", "plain transition routes token"),
    ("mycorrhizal", "FSM-in-PN per token"),
    ("mycorrhizal", "FSM-in-PN overhead over floor"),
    ("mycorrhizal", "BT-in-PN per token"),
    ("mycorrhizal", "BT-in-PN overhead over floor"),
    ("python-statemachine", "machine driven in plain transition"),
    ("transitions", "machine driven in plain transition"),
}


@pytest.fixture
def mycelium_bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The script as a module, importable the way ``python benchmarks/mycelium_bench.py`` runs it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module("mycelium_bench")
    for name in ("mycelium_bench", "_harness"):
        sys.modules.pop(name, None)


def printed_rows(output: str) -> set[tuple[str, str]]:
    """(contender, workload) of every row of the table in ``output``, located by its dashed rule."""
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    widths = [len(dashes) for dashes in lines[rule].split("  ")]
    rows = set()
    for line in lines[rule + 1 :]:
        if not line.strip() or line.startswith("notes:"):
            break
        contender = line[: widths[0]].strip()
        workload = line[widths[0] + 2 : widths[0] + 2 + widths[1]].strip()
        rows.add((contender, workload))
    return rows


def test_row_parser_reads_contender_and_workload() -> None:
    output = "\n".join(
        [
            "title",
            "contender  workload  figure",
            "---------  --------  ------",
            "floor      w one       1.00",
            "my lib     w           2.00",
            "",
            "notes:",
        ]
    )
    assert printed_rows(output) == {("floor", "w one"), ("my lib", "w")}


def test_quick_run_prints_a_row_for_every_contender(
    mycelium_bench: object, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = mycelium_bench.main(["--quick"])  # type: ignore[attr-defined]
    printed = printed_rows(capsys.readouterr().out)
    assert {contender for contender, _ in printed} == CONTENDERS
    assert WORKLOADS <= printed
    assert {(row.contender, row.workload) for row in rows} == printed
    (target,) = [row for row in rows if row.target is not None]
    assert (target.workload, target.target) == ("FSM-in-PN overhead over floor", 5.0)
