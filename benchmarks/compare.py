"""Compare two runs of a benchmark script: ``python benchmarks/compare.py before.json after.json``.

Both files are written by a script's ``--json`` option.  Rows are matched by contender and workload;
each line shows the median and spread (p25..p75) before and after, the change of the median, and
the verdict after.  Rows found in only one file are listed at the end.  Remember that the two runs
may have had different loads (both are printed): a change inside both spreads is not a change.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _harness import number

HEADER = ("contender", "workload", "before", "after", "change", "unit", "verdict")


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _figure(row: dict[str, Any]) -> str:
    if row["low"] is None:
        return number(row["median"])
    return f"{number(row['median'])} ({number(row['low'])}..{number(row['high'])})"


def compare_rows(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One line of cells per row present in both runs, in the order of ``after``."""
    old = {(row["contender"], row["workload"]): row for row in before}
    lines = []
    for row in after:
        previous = old.get((row["contender"], row["workload"]))
        if previous is None:
            continue
        change = "-"
        if previous["median"]:
            change = f"{(row['median'] - previous['median']) / abs(previous['median']) * 100:+.0f} %"
        cells = (row["contender"], row["workload"], _figure(previous), _figure(row), change, row["unit"])
        lines.append((*cells, row["verdict"]))
    return lines


def main(argv: Sequence[str] | None = None) -> list[tuple[str, ...]]:
    """Print the comparison of two ``--json`` files; returns its lines (for tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before, after = _load(args.before), _load(args.after)
    lines = compare_rows(before["rows"], after["rows"])
    for name, document in (("before", before), ("after", after)):
        print(
            f"{name}: {document['title']}; Python {document['python']}, {document['rounds']} rounds, "
            f"GC {document['gc']}, load average {document['load_start']} -> {document['load_end']}"
        )
    print(f"figures: median ({document['spread']})")
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(HEADER)
    ]
    for cells in [HEADER, tuple("-" * w for w in widths), *lines]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip())
    keys = {(r["contender"], r["workload"]) for r in before["rows"]}
    new = {(r["contender"], r["workload"]) for r in after["rows"]}
    for label, missing in (("only before", keys - new), ("only after", new - keys)):
        for contender, workload in sorted(missing):
            print(f"{label}: {contender} / {workload}")
    return lines


if __name__ == "__main__":
    main(sys.argv[1:])
