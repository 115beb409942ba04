"""Shared harness of the benchmark scripts: interleaved rounds, median and spread, the printed table.

A script describes what it measures as :class:`Case` objects (one contender on one workload), and
optionally :class:`Once` measurements (memory: one figure, no timing) and :class:`Derived` rows (a
difference or ratio of two cases, such as an overhead over the floor).  :func:`run_benchmark` then

1. prepares every case (its own event loop, its set-up, a calibration of the operations per sample so
   one sample takes about ``--budget`` seconds, and a warm-up sample);
2. runs ``--rounds`` rounds; round *r* times every case exactly once, starting at case *r mod k* and
   going forward on even rounds, backward on odd ones, so every contender is measured under the same
   load as the others, spread over the whole run, and no case always follows the same neighbour;
3. reports per row the **median** over the rounds, the **spread** (the interquartile range, p25..p75)
   and the **best** round as a second column, and the target with its verdict computed from the
   median.

The garbage collector stays on while timing (what real programs run with) unless ``--gc off`` is
given or a case asks for it (``Case.gc``); the table's heading says which.  Nothing is pinned.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

# Measure the mycorrhizal of the checkout this script lives in, not whichever copy happens to be
# installed: `python benchmarks/x.py` puts benchmarks/ (not the repository) first on sys.path.
REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

__all__ = [
    "REPOSITORY",
    "Case",
    "Derived",
    "Once",
    "Row",
    "Settings",
    "abytes_per_object",
    "bytes_per_object",
    "library_versions",
    "parse_settings",
    "print_table",
    "rotation",
    "run_benchmark",
    "run_between",
]

SPREAD = "p25..p75"  # what the spread column is: the interquartile range over the rounds


@dataclass(frozen=True)
class Settings:
    """How a run measures: ``quick`` is a smoke run, the default a full measurement."""

    quick: bool = False
    rounds: int = 41
    gc: bool = True  # the collector stays on while timing
    budget: float = 0.01  # seconds one calibrated sample should take
    quick_ops: int = 20  # operations per sample in a smoke run (for cases without fixed ops)
    json: Path | None = None
    only: tuple[str, ...] = ()

    def scale(self, full: int, quick: int) -> int:
        """``full`` in a full run, ``quick`` in a smoke run."""
        return quick if self.quick else full

    def wanted(self, contender: str, workload: str) -> bool:
        """Whether ``--only`` keeps the row ``contender / workload``."""
        text = f"{contender} / {workload}".lower()
        return not self.only or any(part.lower() in text for part in self.only)


def parse_settings(description: str, argv: Sequence[str] | None = None, *, rounds: int = 41) -> Settings:
    """Parse the command line every benchmark script shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny workloads, two rounds: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help=f"interleaved rounds (default {rounds})")
    parser.add_argument(
        "--gc", choices=("on", "off"), default="on", help="garbage collector while timing (default on)"
    )
    parser.add_argument("--budget", type=float, default=0.01, help="seconds per calibrated sample")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="measure only rows whose 'contender / workload' contains this text (repeatable)",
    )
    args = parser.parse_args(argv)
    count = args.rounds if args.rounds is not None else (2 if args.quick else rounds)
    if count < 1:
        parser.error("--rounds must be at least 1")
    if args.budget <= 0:
        parser.error("--budget must be positive")
    return Settings(
        quick=args.quick,
        rounds=count,
        gc=args.gc == "on",
        budget=args.budget,
        json=args.json,
        only=tuple(args.only),
    )


# --- what a script declares ----------------------------------------------------------------------


@dataclass(eq=False)
class Case:
    """One contender on one workload: ``run(n)`` performs ``n`` operations (sync or ``async def``).

    ``ops`` fixes ``n`` (for workloads whose size is part of their definition); otherwise it is
    calibrated to the run's budget.  With ``self_timed``, ``run(n)`` does its own set-up untimed and
    returns the seconds its measured part took.  ``gc`` overrides the run's collector setting for
    this case.  ``setup``/``teardown`` (sync or async) run once, in the case's own event loop.
    The figure is seconds per operation times ``scale`` (``1e6``: microseconds).
    """

    contender: str
    workload: str
    run: Callable[[int], Any]
    target: float | None = None
    ops: int | None = None
    unit: str = "us"
    scale: float = 1e6
    self_timed: bool = False
    gc: bool | None = None
    note: str = ""
    setup: Callable[[], Any] | None = None
    teardown: Callable[[], Any] | None = None
    samples: list[float] = field(default_factory=list)  # one figure per round, filled by the harness
    n: int = 0
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.contender, self.workload)


@dataclass(frozen=True)
class Derived:
    """A row computed round by round from two cases: ``left - right`` or ``left / right``.

    Pairing the two figures of the same round cancels what the machine's load did to both.
    """

    contender: str
    workload: str
    left: tuple[str, str]
    right: tuple[str, str]
    op: str = "-"  # "-" (an overhead) or "/" (a ratio)
    unit: str = "us"
    target: float | None = None
    note: str = ""
    per: float = 1  # the result divided by this: e.g. the events one operation writes


@dataclass(frozen=True)
class Once:
    """A measurement taken once (memory): ``measure()`` returns finished rows."""

    contender: str
    workload: str  # what --only matches against
    measure: Callable[[], list[Row]]


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    contender: str
    workload: str
    median: float
    unit: str
    low: float | None = None  # p25 over the rounds
    high: float | None = None  # p75 over the rounds
    best: float | None = None  # the best round
    target: float | None = None  # upper bound the median should stay at or under
    note: str = ""
    samples: tuple[float, ...] = ()

    @property
    def figure(self) -> float:
        """The headline figure: the median."""
        return self.median

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.median <= self.target else "MISSED"


def rotation(count: int, round_index: int) -> list[int]:
    """The order round ``round_index`` measures ``count`` cases in (see the module docstring)."""
    start = round_index % count if count else 0
    order = [(start + i) % count for i in range(count)]
    return order if round_index % 2 == 0 or not order else [order[0], *reversed(order[1:])]


# --- timing --------------------------------------------------------------------------------------


def _own_time(result: object, elapsed: float, self_timed: bool) -> float:
    if not self_timed:
        return elapsed
    if not isinstance(result, float):
        raise TypeError(f"a self-timed workload must return the seconds it measured, got {result!r}")
    return result


async def _atimed(run: Callable[[int], Awaitable[object]], n: int, self_timed: bool) -> float:
    start = time.perf_counter()
    result = await run(n)
    elapsed = time.perf_counter() - start
    return _own_time(result, elapsed, self_timed)


def _call(case: Case, fn: Callable[[], Any]) -> Any:
    """Call a set-up or tear-down function, in the case's loop if it is a coroutine function."""
    if inspect.iscoroutinefunction(fn):
        assert case.loop is not None
        return case.loop.run_until_complete(fn())
    return fn()


def _sample(case: Case, n: int, collector: bool) -> float:
    """Seconds ``case.run(n)`` took (its own figure if self-timed), with the collector as asked."""
    if not collector:
        gc.collect()
        gc.disable()
    try:
        if case.loop is not None and inspect.iscoroutinefunction(case.run):
            return case.loop.run_until_complete(_atimed(case.run, n, case.self_timed))
        start = time.perf_counter()
        result = case.run(n)
        return _own_time(result, time.perf_counter() - start, case.self_timed)
    finally:
        gc.enable()


def _open(case: Case) -> None:
    """The case's event loop (when a function of it is a coroutine function) and its set-up."""
    needs_loop = any(inspect.iscoroutinefunction(f) for f in (case.run, case.setup, case.teardown) if f)
    if needs_loop:
        case.loop = asyncio.new_event_loop()
    if case.setup is not None:
        _call(case, case.setup)


def run_between(
    case: Case, warm: int, n: int, start: Callable[[], object], stop: Callable[[], object]
) -> None:
    """Set ``case`` up, run ``warm`` operations, then ``start()``, ``n`` operations and ``stop()``,
    and tear it down: one run measured from outside the process (instructions.py's callgrind
    count), the collector on, as the timed rounds run."""
    _open(case)
    try:
        _sample(case, warm, True)
        start()
        _sample(case, n, True)
        stop()
    finally:
        _close(case)


def _prepare(case: Case, settings: Settings) -> None:
    """Event loop, set-up, operations per sample (calibrated unless fixed) and a warm-up sample."""
    _open(case)
    collector = settings.gc if case.gc is None else case.gc
    if case.ops is not None:
        case.n = case.ops
    elif settings.quick:
        case.n = settings.quick_ops
    else:
        n = 1
        while True:
            elapsed = _sample(case, n, collector)
            if elapsed >= settings.budget / 8 or n >= 1 << 30:
                break
            n *= 4
        case.n = max(1, round(n * settings.budget / max(elapsed, 1e-9)))
    if not settings.quick:
        _sample(case, case.n, collector)


async def _gather(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def _close(case: Case) -> None:
    try:
        if case.teardown is not None:
            _call(case, case.teardown)
    finally:
        loop = case.loop
        if loop is not None:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(_gather(tasks))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            case.loop = None


def measure_rounds(cases: Sequence[Case], settings: Settings) -> None:
    """Prepare every case, then fill each one's ``samples`` with one figure per interleaved round."""
    prepared: list[Case] = []
    try:
        for case in cases:
            prepared.append(case)
            _prepare(case, settings)
        for index in range(settings.rounds):
            for position in rotation(len(cases), index):
                case = cases[position]
                collector = settings.gc if case.gc is None else case.gc
                case.samples.append(_sample(case, case.n, collector) / case.n * case.scale)
    finally:
        for case in prepared:
            _close(case)


# --- rows ----------------------------------------------------------------------------------------


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    low, median, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, median, high


def case_row(case: Case) -> Row:
    """The row of a measured case: median, p25..p75 and best over its rounds."""
    low, median, high = _quartiles(case.samples)
    return Row(
        case.contender,
        case.workload,
        median,
        case.unit,
        low,
        high,
        min(case.samples),
        case.target,
        case.note,
        tuple(case.samples),
    )


def derived_row(spec: Derived, left: Case, right: Case) -> Row:
    """``spec`` computed per round from the figures ``left`` and ``right`` got in the same round."""

    def apply(a: float, b: float) -> float:
        return (a - b if spec.op == "-" else a / b) / spec.per

    values = [apply(a, b) for a, b in zip(left.samples, right.samples, strict=True)]
    low, median, high = _quartiles(values)
    best = apply(min(left.samples), min(right.samples))
    return Row(spec.contender, spec.workload, median, spec.unit, low, high, best, spec.target, spec.note)


def fixed_row(
    contender: str, workload: str, value: float, unit: str, target: float | None = None, note: str = ""
) -> Row:
    """A row measured once (no rounds, so no spread and no best)."""
    return Row(contender, workload, value, unit, target=target, note=note)


def collect_rows(cases: Sequence[Case], derived: Sequence[Derived], once_rows: Sequence[Row]) -> list[Row]:
    """Every case's row followed by the derived rows whose left side it is; then the once-rows."""
    by_key = {case.key: case for case in cases}
    rows: list[Row] = []
    for case in cases:
        rows.append(case_row(case))
        for spec in derived:
            if spec.left == case.key and spec.right in by_key:
                rows.append(derived_row(spec, case, by_key[spec.right]))
    return rows + list(once_rows)


# --- the table -----------------------------------------------------------------------------------


def number(value: float | None) -> str:
    """A figure with as many digits as its size deserves."""
    if value is None:
        return "-"
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


def _cells(row: Row) -> tuple[str, ...]:
    spread = "-" if row.low is None else f"{number(row.low)}..{number(row.high)}"
    target = "-" if row.target is None else f"<= {number(row.target)}"
    return (
        row.contender,
        row.workload,
        number(row.median),
        spread,
        number(row.best),
        row.unit,
        target,
        row.verdict,
    )


HEADER = ("contender", "workload", "median", SPREAD, "best", "unit", "target", "verdict")
RIGHT_ALIGNED = {2, 3, 4}  # the figures, so magnitudes line up


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine slows every figure)."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:  # not available on this platform
        return "unknown"


def print_table(
    title: str, rows: Sequence[Row], settings: Settings, *, load: str = "", file: TextIO | None = None
) -> None:
    """Print ``rows`` as one aligned table under ``title``, with how and where they were measured."""
    out = file if file is not None else sys.stdout
    if settings.quick:
        title += " [quick: smoke run, figures not meaningful]"
    cells = [_cells(row) for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(HEADER)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if i in RIGHT_ALIGNED else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    print(f"\n{title}", file=out)
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count() or 1} cores, "
        "not pinned;",
        file=out,
    )
    print(f"load average {load or load_average()} at the start, {load_average()} at the end", file=out)
    package = sys.modules.get("mycorrhizal")
    if package is not None and package.__file__ is not None:
        print(f"mycorrhizal from {Path(package.__file__).parent.parent}", file=out)
    print(
        f"{settings.rounds} interleaved rounds; median over the rounds, spread = {SPREAD} "
        f"(interquartile range), best = fastest round; GC {'on' if settings.gc else 'off'} while timing"
        " unless the workload names its own setting",
        file=out,
    )
    print(line(HEADER), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for cell in cells:
        print(line(cell), file=out)
    notes = [f"  {r.contender} / {r.workload}: {r.note}" for r in rows if r.note]
    if notes:
        print("notes:", file=out)
        for note in notes:
            print(note, file=out)


def write_json(path: Path, title: str, rows: Sequence[Row], settings: Settings, load: str) -> None:
    """The rows and how they were measured, for updating docs/benchmarks.md by script."""
    document = {
        "title": title,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "load_start": load,
        "load_end": load_average(),
        "rounds": settings.rounds,
        "gc": "on" if settings.gc else "off",
        "spread": SPREAD,
        "quick": settings.quick,
        "rows": [{**asdict(row), "verdict": row.verdict} for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def library_versions(*distributions: str) -> str:
    """``name version`` for each installed distribution, for the table's heading."""
    found = []
    for name in distributions:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


# --- memory --------------------------------------------------------------------------------------


def bytes_per_object(make: Callable[[], object], count: int) -> float:
    """Bytes each of ``count`` live objects made by ``make()`` holds, measured with tracemalloc.

    Whatever ``make`` shares between objects (a compiled spec, class objects, interned strings) is
    created by a warm-up call before tracing starts, so only what each new object adds is counted.
    The list that keeps the objects alive is the benchmark's, not the library's, and is subtracted.
    """
    keep = make()
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
    """Like :func:`bytes_per_object` for objects that need ``await`` to be ready (e.g. initialised)."""
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


# --- the whole run -------------------------------------------------------------------------------


def run_benchmark(
    argv: Sequence[str] | None,
    doc: str,
    *,
    name: str,
    peers: Sequence[str],
    cases: Callable[[Settings], Sequence[Case]],
    derived: Sequence[Derived] | Callable[[Settings], Sequence[Derived]] = (),
    once: Callable[[Settings], Sequence[Once]] | None = None,
    unit: str = "",
    rounds: int = 41,
) -> list[Row]:
    """What every script's ``main`` does: parse the command line, measure, print (and write) the table.

    ``doc``'s first line describes the script; ``unit`` ends the table's title.
    """
    settings = parse_settings(doc.splitlines()[0], argv, rounds=rounds)
    load = load_average()
    measured = [case for case in cases(settings) if settings.wanted(case.contender, case.workload)]
    once_rows: list[Row] = []
    for item in once(settings) if once is not None else ():
        if settings.wanted(item.contender, item.workload):
            once_rows.extend(item.measure())
    measure_rounds(measured, settings)
    rows = collect_rows(measured, derived(settings) if callable(derived) else derived, once_rows)
    title = f"{name} benchmark ({library_versions('mycorrhizal', *peers)}){unit}"
    print_table(title, rows, settings, load=load)
    if settings.json is not None:
        write_json(settings.json, title, rows, settings, load)
    return rows
