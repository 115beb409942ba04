"""Shared helpers for the benchmark scripts: timing, memory, command line and the printed table.

Every script in ``benchmarks/`` measures all its contenders in one run and prints one table with the
columns contender, workload, figure, unit, target. Timings use ``time.perf_counter``: each workload is
warmed up, then repeated, and the best repeat is reported (the least disturbed by the rest of the
machine, which is what a comparison between libraries needs).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TextIO

# Measure the mycorrhizal of the checkout this script lives in, not whichever copy happens to be
# installed: `python benchmarks/x.py` puts benchmarks/ (not the repository) first on sys.path.
REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

__all__ = [
    "REPOSITORY",
    "Row",
    "Settings",
    "abest_per_op",
    "abytes_per_object",
    "best_per_op",
    "best_of_passes",
    "bytes_per_object",
    "library_versions",
    "parse_settings",
    "print_table",
]


@dataclass(frozen=True)
class Settings:
    """How hard a script works: ``quick`` is a smoke run, the default a full measurement."""

    quick: bool
    repeats: int  # minimum timed repeats per workload in each pass
    warmup: int
    passes: int = 3  # the whole script's workloads are measured this many times, one after the other
    # Seconds one timed repeat should take when its size is calibrated: short enough to fit in one
    # scheduler time slice, so the best repeat is one no other process interrupted.
    budget: float = 0.002
    quick_ops: int = 50  # operations per repeat in a smoke run
    # Within a pass, repeats go on past ``repeats`` until they span this many seconds (at most
    # ``max_repeats``).  On a shared machine slow spells last seconds; passes spread each workload's
    # repeats over the whole run, so every contender gets timed in calm moments as well.
    span: float = 0.5
    max_repeats: int = 400

    def more(self, done: int, started: float) -> bool:
        """Whether to time another repeat after ``done`` repeats that began at ``started``."""
        if done < self.repeats:
            return True
        return done < self.max_repeats and time.perf_counter() - started < self.span

    def scale(self, full: int, quick: int) -> int:
        """``full`` in a full run, ``quick`` in a smoke run."""
        return quick if self.quick else full

    def single(self) -> Settings:
        """One repeat and no warm-up, for a workload that repeats inside (with ``more()`` of the
        settings it was given)."""
        return replace(self, repeats=1, warmup=0, span=0.0)

    def few(self) -> Settings:
        """At most 3 repeats: for slow peers whose fixed-size workload takes a second per repeat,
        where a long repeat already averages out what best-of-many filters in short ones."""
        return replace(self, repeats=min(3, self.repeats), span=0.0)

    def once(self) -> Settings:
        """One repeat per pass (so ``passes`` in all) for second-long workloads of slow peers."""
        return replace(self, repeats=1, span=0.0)


def parse_settings(description: str, argv: Sequence[str] | None = None) -> Settings:
    """Parse the command line every benchmark script shares (``--quick``, ``--repeats``, ``--passes``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny workloads, one repeat: a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="minimum repeats per workload and pass")
    parser.add_argument("--passes", type=int, default=None, help="measure everything this many times")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    passes = args.passes if args.passes is not None else (1 if args.quick else 3)
    if repeats < 1 or passes < 1:
        parser.error("--repeats and --passes must be at least 1")
    if args.quick:
        return Settings(quick=True, repeats=repeats, warmup=0, passes=passes, span=0.0)
    return Settings(quick=False, repeats=repeats, warmup=1, passes=passes)


def best_of_passes(measure: Callable[[Settings, bool], list[Row]], settings: Settings) -> list[Row]:
    """Run ``measure(settings, first_pass)`` ``settings.passes`` times; keep each row's best figure.

    Every contender goes through the same passes, so a slow spell of the machine that covers one
    contender's repeats in one pass does not decide its figure.  Rows measured only in the first
    pass (memory, which does not vary) are kept as they are.
    """
    best: dict[tuple[str, str], Row] = {}
    for index in range(settings.passes):
        for row in measure(settings, index == 0):
            key = (row.contender, row.workload)
            kept = best.get(key)
            if kept is None or row.figure < kept.figure:
                best[key] = row if kept is None else replace(row, note=kept.note)
    return list(best.values())


@dataclass(frozen=True)
class Row:
    """One line of the table: a contender's figure on one workload, and the target if there is one."""

    contender: str
    workload: str
    figure: float
    unit: str
    target: float | None = None  # upper bound the figure should stay at or under
    note: str = ""

    def target_text(self) -> str:
        if self.target is None:
            return "-"
        verdict = "met" if self.figure <= self.target else "MISSED"
        return f"<= {_number(self.target)} {verdict}"


def _number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(title: str, rows: Sequence[Row], *, quick: bool = False, file: TextIO | None = None) -> None:
    """Print ``rows`` as one aligned table under ``title``, with the interpreter and platform.

    ``quick`` marks the title as a smoke run whose figures mean nothing.
    """
    out = file if file is not None else sys.stdout
    if quick:
        title += " [quick: smoke run, figures not meaningful]"
    header = ("contender", "workload", "figure", "unit", "target")
    cells = [(r.contender, r.workload, _number(r.figure), r.unit, r.target_text()) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        # names left-aligned, the figure right-aligned so magnitudes line up
        parts = [v.rjust(widths[i]) if i == 2 else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "  ".join(parts).rstrip()

    print(f"\n{title}", file=out)
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {_cpu_count()} cores, "
        f"load average {_load()} (other work on the machine slows every figure)",
        file=out,
    )
    package = sys.modules.get("mycorrhizal")
    if package is not None and package.__file__ is not None:
        print(f"mycorrhizal from {Path(package.__file__).parent.parent}", file=out)
    print(line(header), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for cell in cells:
        print(line(cell), file=out)
    notes = [f"  {r.contender} / {r.workload}: {r.note}" for r in rows if r.note]
    if notes:
        print("notes:", file=out)
        for note in notes:
            print(note, file=out)


def _cpu_count() -> int:
    return os.cpu_count() or 1


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # not available on this platform
        return "unknown"


def library_versions(*distributions: str) -> str:
    """``name version`` for each installed distribution, for the table's heading."""
    found = []
    for name in distributions:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def best_per_op(
    run: Callable[[int], object], settings: Settings, *, ops: int | None = None, self_timed: bool = False
) -> float:
    """Best-of-N seconds per operation of ``run(n)``, which performs ``n`` operations.

    ``ops`` fixes ``n`` (for workloads whose size is part of their definition); otherwise ``n`` is
    calibrated so one repeat takes about ``settings.budget`` seconds, which keeps slow peers from
    dominating the run time while fast contenders still run long enough to be timed precisely.
    With ``self_timed``, ``run(n)`` does its own setup untimed and returns the seconds its measured
    part took (``time.perf_counter`` around just that part).
    """
    n = ops if ops is not None else _calibrate(lambda k: _timed(run, k, self_timed), settings)
    for _ in range(settings.warmup):
        run(n)
    best, done, started = float("inf"), 0, time.perf_counter()
    while settings.more(done, started):
        best = min(best, _timed(run, n, self_timed, collect=done % 64 == 0))
        done += 1
    return best / n


def abest_per_op(
    run: Callable[[int], Awaitable[object]],
    settings: Settings,
    *,
    ops: int | None = None,
    self_timed: bool = False,
) -> float:
    """Like :func:`best_per_op` for a coroutine function; all repeats run in one event loop."""

    async def measure() -> float:
        if ops is not None:
            n = ops
        else:
            n = settings.quick_ops
            if not settings.quick:
                n = 1
                while True:
                    elapsed = await _atimed(run, n, self_timed)
                    if elapsed >= settings.budget / 8 or n >= 1 << 30:
                        break
                    n *= 4
                n = max(1, round(n * settings.budget / max(elapsed, 1e-9)))
        for _ in range(settings.warmup):
            await run(n)
        best, done, started = float("inf"), 0, time.perf_counter()
        while settings.more(done, started):
            best = min(best, await _atimed(run, n, self_timed, collect=done % 64 == 0))
            done += 1
        return best / n

    return asyncio.run(measure())


def _calibrate(timed: Callable[[int], float], settings: Settings) -> int:
    if settings.quick:
        return settings.quick_ops
    n = 1
    while True:
        elapsed = timed(n)
        if elapsed >= settings.budget / 8 or n >= 1 << 30:
            break
        n *= 4
    return max(1, round(n * settings.budget / max(elapsed, 1e-9)))


def _timed(run: Callable[[int], object], n: int, self_timed: bool, collect: bool = True) -> float:
    if collect:  # now and then, not before every one of hundreds of short repeats
        gc.collect()
    gc.disable()  # a collection landing in one contender's repeat is noise, not its cost
    try:
        start = time.perf_counter()
        result = run(n)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return _own_time(result, elapsed, self_timed)


async def _atimed(
    run: Callable[[int], Awaitable[object]], n: int, self_timed: bool, collect: bool = True
) -> float:
    if collect:
        gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = await run(n)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return _own_time(result, elapsed, self_timed)


def _own_time(result: object, elapsed: float, self_timed: bool) -> float:
    if not self_timed:
        return elapsed
    if not isinstance(result, float):
        raise TypeError(f"a self-timed workload must return the seconds it measured, got {result!r}")
    return result


def bytes_per_object(make: Callable[[], object], count: int) -> float:
    """Bytes each of ``count`` live objects made by ``make()`` holds, measured with tracemalloc.

    Whatever ``make`` shares between objects (a compiled spec, class objects, interned strings) is
    created by a warm-up call before tracing starts, so only what each new object adds is counted.
    The list that keeps the objects alive is the benchmark's, not the library's, and is subtracted.
    """
    keep = make()  # warm-up: lazily built shared structures are not per-object cost
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        objects = [make() for _ in range(count)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_object = (after - before - sys.getsizeof(objects)) / count
    del objects, keep
    return per_object


async def abytes_per_object(make: Callable[[], Awaitable[object]], count: int) -> float:
    """Like :func:`bytes_per_object` for objects that need ``await`` to be ready (e.g. initialised).

    Awaited inside the caller's running loop, so the loop itself is not counted.
    """
    keep = await make()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        objects = [await make() for _ in range(count)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_object = (after - before - sys.getsizeof(objects)) / count
    del objects, keep
    return per_object


def run_benchmark(
    argv: Sequence[str] | None,
    doc: str,
    measure: Callable[[Settings, bool], list[Row]],
    *,
    name: str,
    peers: Sequence[str],
    unit: str = "",
    finish: Callable[[list[Row]], list[Row]] | None = None,
) -> list[Row]:
    """What every script's ``main`` does: parse the command line, measure in passes, print one table.

    ``doc``'s first line describes the script; ``finish`` derives extra rows from the best figures;
    ``unit`` ends the table's title (", microseconds per token").
    """
    settings = parse_settings(doc.splitlines()[0], argv)
    rows = best_of_passes(measure, settings)
    if finish is not None:
        rows = finish(rows)
    title = f"{name} benchmark ({library_versions('mycorrhizal', *peers)}){unit}"
    print_table(title, rows, quick=settings.quick)
    return rows
