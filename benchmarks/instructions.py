"""Instructions per operation, counted by callgrind: what a change costs, exactly, on a noisy machine.

Wall-clock medians on a shared machine move by up to 40 % between two runs of the same code; the
instructions an operation executes do not (``PYTHONHASHSEED`` fixed).  This script takes the
workloads of ``observer_bench.py`` and ``spores_bench.py`` (the same ``Case`` objects: the same
machines, nets, observers and transports) and, for each row those scripts derive as a difference
(``watched - plain``), counts the instructions of both cases under ``valgrind --tool=callgrind``.

Each case runs in a child process twice: set-up and a warm-up outside the count, then ``n`` and
``6 n`` operations counted (instrumentation is switched on after the warm-up and off before the
tear-down, with ``callgrind_control``); the figure is the difference of the two counts divided by
the ``5 n`` operations between them, so what is not per operation (switching the count on and
off) cancels out.  A row's ``added`` is the watched figure minus the plain one, divided by the
events per operation where the row says so (``spores.observe`` writes two events per FSM
transition); its last column is what watching adds to an operation over the plain operation.

Instructions are not microseconds: they decide whether a change made a path cheaper (a change of
a few hundred instructions per operation shows here and drowns in a wall-clock run), while the
targets stay the wall-clock ones of the two scripts.  Needs ``valgrind``
(``apt-get install valgrind``); ``--quick`` counts tiny workloads (a smoke run).

    python benchmarks/instructions.py --only "PN"
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from _harness import Derived, Settings, run_between

SCRIPTS = ("observer_bench", "spores_bench")
CHILD_ENV = "MYCORRHIZAL_INSTRUCTIONS_CHILD"  # set in a counted child: switch the count on after warming up
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


@dataclass(frozen=True)
class Sizes:
    """Operations per count: warm-up (not counted), then ``n`` and ``6 n``."""

    warm: int
    n: int

    @property
    def large(self) -> int:
        return 6 * self.n


FULL, QUICK = Sizes(warm=500, n=2_000), Sizes(warm=20, n=40)


@dataclass(frozen=True)
class Counted:
    """One derived row, counted: instructions per operation of both cases and what watching adds."""

    script: str
    contender: str
    workload: str
    plain: float
    watched: float
    added: float

    @property
    def share(self) -> float:
        """What watching adds to an operation, over the plain operation (per operation, not per event)."""
        return (self.watched - self.plain) / self.plain


def rows_of(script: str) -> list[Derived]:
    """The rows ``script`` derives as a difference of two of its cases."""
    module = importlib.import_module(script)
    return [row for row in module.DERIVED if row.op == "-"]


def child(script: str, contender: str, workload: str, warm: int, n: int) -> None:
    """Run one case of ``script``: set up and warm up, then (counted) ``n`` operations, then close
    (not counted: spores_bench reads back every file it wrote)."""
    module = importlib.import_module(script)
    case = next(c for c in module.cases(Settings()) if (c.contender, c.workload) == (contender, workload))
    run_between(case, warm, n, lambda: _instrument("on"), lambda: _instrument("off"))


def _instrument(switch: str) -> None:
    """Switch callgrind's count on or off in this process (when a counted child).  Its output goes
    to a file, not a pipe: reading a pipe would be counted (~200,000 instructions a switch)."""
    if not os.environ.get(CHILD_ENV):
        return
    with tempfile.TemporaryFile() as output:
        done = subprocess.run(
            ["callgrind_control", "-i", switch, str(os.getpid())], stdout=output, stderr=output
        )
        if done.returncode != 0:
            output.seek(0)
            raise RuntimeError(
                f"callgrind_control -i {switch} failed: {output.read().decode(errors='replace')}"
            )


def count(script: str, key: tuple[str, str], warm: int, n: int) -> int:
    """Instructions the child running ``key`` of ``script`` executed once switched on."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        script,
        *key,
        str(warm),
        str(n),
    ]
    env = {**os.environ, CHILD_ENV: "1", "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise RuntimeError(
            f"{script} {key}: the counted run failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return int(found[-1])


def per_operation(script: str, key: tuple[str, str], sizes: Sizes) -> float:
    """Instructions one operation of ``key`` executes: two counts, their difference per operation."""
    small = count(script, key, sizes.warm, sizes.n)
    large = count(script, key, sizes.warm, sizes.large)
    return (large - small) / (sizes.large - sizes.n)


def measure(wanted: Sequence[tuple[str, Derived]], sizes: Sizes, jobs: int = 1) -> list[Counted]:
    """Count every case the ``wanted`` rows need (``jobs`` children at a time)."""
    keys = sorted({(script, key) for script, row in wanted for key in (row.left, row.right)})
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        figures = dict(zip(keys, pool.map(lambda item: per_operation(*item, sizes), keys), strict=True))
    made = []
    for script, row in wanted:
        watched, plain = figures[(script, row.left)], figures[(script, row.right)]
        made.append(Counted(script, row.contender, row.workload, plain, watched, (watched - plain) / row.per))
    return made


def table(counted: Sequence[Counted], sizes: Sizes, quick: bool) -> str:
    """The printed table: one line per derived row."""
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    title = (
        f"instructions per operation (callgrind, {version}), Python {platform.python_version()}, "
        f"PYTHONHASHSEED=0; counts at {sizes.n:,} and {sizes.large:,} operations"
    )
    if quick:
        title += " [quick: smoke run, figures not meaningful]"
    header = ("script", "row", "plain", "watched", "added", "(watched - plain) / plain")
    lines = [
        (
            c.script,
            f"{c.contender} / {c.workload}",
            f"{c.plain:,.0f}",
            f"{c.watched:,.0f}",
            f"{c.added:,.0f}",
            f"{c.share:+.0%}",
        )
        for c in counted
    ]
    widths = [max(len(cells[i]) for cells in (header, *lines)) for i in range(len(header))]
    shown = [title, ""]
    for cells in (header, tuple("-" * w for w in widths), *lines):
        shown.append(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    return "\n".join(shown)


def main(argv: Sequence[str] | None = None) -> list[Counted]:
    """Count the rows asked for, print the table (and write the JSON); returns the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="count only rows whose 'contender / workload' contains this text",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    cores = len(os.sched_getaffinity(0))
    parser.add_argument(
        "--jobs", type=int, default=cores, help=f"children counted at a time (default {cores}, a core each)"
    )
    args = parser.parse_args(argv)
    missing = [program for program in ("valgrind", "callgrind_control") if shutil.which(program) is None]
    if missing:
        parser.exit(
            2,
            f"instructions.py: {' and '.join(missing)} not found; "
            "install valgrind: apt-get install -y valgrind\n",
        )
    settings = Settings(only=tuple(args.only))
    wanted = [
        (script, row)
        for script in SCRIPTS
        for row in rows_of(script)
        if settings.wanted(row.contender, row.workload)
    ]
    if not wanted:
        parser.exit(
            2, f"instructions.py: no row matches --only {args.only}; see the rows of {', '.join(SCRIPTS)}\n"
        )
    sizes = QUICK if args.quick else FULL
    try:
        counted = measure(wanted, sizes, max(1, args.jobs))
    except RuntimeError as failed:
        parser.exit(1, f"instructions.py: {failed}\n")
    print(table(counted, sizes, args.quick))
    if args.json is not None:
        document = {
            "python": platform.python_version(),
            "quick": args.quick,
            "sizes": asdict(sizes),
            "rows": [asdict(c) for c in counted],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return counted


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
