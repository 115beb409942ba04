"""The benchmark scripts and their harness.

Each script runs (``--quick``) and prints a row for every contender and workload it promises.  Only
the shape of the output is checked: timings depend on the machine, so no figure is asserted.  The
harness is checked on fake cases: the interleaving order, the rows it derives, the collector
setting, the JSON file and the ``--only`` filter.  ``instructions.py`` counts one case under
callgrind for real (valgrind is installed by ``.ci/run``).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = (
    "septum_bench",
    "hypha_bench",
    "rhizomorph_bench",
    "mycelium_bench",
    "durability_bench",
    "spores_bench",
    "distribution_bench",
    "observer_bench",
)
MODULES = (*SCRIPTS, "compare", "instructions", "_harness")

M, PSM, TR, PT, SN, F = "mycorrhizal", "python-statemachine", "transitions", "py_trees", "SNAKES", "floor"


def each(contenders: tuple[str, ...], *workloads: str) -> set[tuple[str, str]]:
    return {(contender, workload) for contender in contenders for workload in workloads}


# Every (contender, workload) row each script must print in a quick run, and no other.
SEPTUM_ROWS = {
    *each(
        (M, PSM, TR, F),
        "self-transition",
        "message -> self-transition",
        "create + initialize, GC on",
        "create + initialize, GC off",
        "memory per live machine",
        "memory, after one transition",
        "1,000,000 machines (projected)",
    ),
    (M, "self-transition, run(n) loop"),
    (M, "on_state runs per message"),
    *each((M, PSM, TR), "statechart: transition 3 levels deep", "guarded self-transition"),
    (M, "handler runs with the message, per message"),
}
HYPHA_ROWS = {
    *each((M, SN, F), "producer -> queue -> consumer", "4-stage pipeline"),
    *each((M, SN, F), "backlog of 10 tokens", "backlog of 1,000 tokens", "backlog growth 10 -> 1,000"),
    (M, "producer -> consumer / floor"),
    (M, "producer -> consumer, plain def handlers"),
}
RHIZOMORPH_ROWS = {
    *each(
        (M, PT, F),
        "15 nodes, sync leaves: tick",
        "15 nodes, async leaves, no suspension: tick",
        "15 nodes, async leaves suspend once: run",
        "1,501 nodes, sync leaves: tick",
    ),
    *each((M, PT), "runner build (15 nodes)", "15 nodes, async leaves suspend once: per tick"),
    (M, "async no-suspension tick / sync tick"),
    (M, "1,501-node tick / floor"),
}
MYCELIUM_ROWS = {
    (F, "plain transition routes token"),
    (M, "FSM-in-PN per token"),
    (M, "FSM-in-PN overhead over floor"),
    (M, "BT-in-PN per token"),
    (M, "BT-in-PN overhead over floor"),
    (M, "septum driven in plain transition"),
    (M, "septum by hand overhead over floor"),
    (M, "rhizomorph driven in plain transition"),
    (M, "rhizomorph by hand overhead over floor"),
    *each((PSM, TR), "machine driven in plain transition", "driven machine overhead over floor"),
    (PT, "tree driven in plain transition"),
    (PT, "driven tree overhead over floor"),
}
DURABILITY_ROWS = {
    *each((M, F, "naive"), "records made durable, FULL", "records made durable, NORMAL"),
    *each((M, "naive"), "one record, durable before the next"),
    (M, "encode token + append, FULL"),
    (M, "FULL, over the floor"),
    *each((M, "in memory"), "journaled firing, producer -> queue -> consumer"),
    *each((M, "in memory"), "journaled fsm= firing, 10^3 keyed machines"),
    (M, "snapshot of 10^6 tokens"),
    (M, "restore of 10^6 tokens"),
    (M, "snapshot of 10^5 keyed machines"),
    (M, "restore of 10^5 keyed machines"),
}
SPORES_FILE = "spores -> AsyncFileTransport"
SPORES_ROWS = {
    *each(("no logging", SPORES_FILE, F), "FSM self-transition", "PN firing"),
    *each(
        ("do-nothing observer", "do-nothing observer, every record", "spores.observe -> AsyncFileTransport"),
        "FSM self-transition",
        "PN firing",
    ),
    *each(
        (SPORES_FILE, "spores -> Ocel2SqliteTransport", "spores -> Ocel2JsonTransport"),
        "emit_event (1 attribute, 1 relationship)",
    ),
    ("spores, added by logging", "per FSM transition (logged - plain)"),
    ("spores, added by logging", "per PN firing (logged - plain)"),
    ("spores, added by logging", "per PN firing (do-nothing observer - plain)"),
    ("spores, added by logging", "per PN firing (observe - plain)"),
    ("spores, added by logging", "per FSM transition (do-nothing observer - plain)"),
    ("spores, added by logging", "per FSM transition (observe - plain)"),
    ("spores, added by logging", "per event (observe - plain, 2 events per FSM transition)"),
    ("spores, added by logging", "per FSM transition (every record: StateLeft too)"),
    ("spores, added by logging", "per PN firing (every record: FiringStarted too)"),
    ("spores, added by logging", "per PN firing (floor: the lines by hand - plain)"),
    ("spores, added by logging", "per event (floor: the lines by hand - plain, 2 events per FSM transition)"),
}
DISTRIBUTION_ROWS = {
    ("1 worker", "I/O-bound tokens"),
    ("4 workers", "I/O-bound tokens"),
    ("4 workers / 1 worker", "time per token"),
    ("Redis path", "firing, no latency"),
    ("in memory", "firing, no latency"),
    ("Redis path", "over in memory"),
    ("Redis path", "firings per commit round trip"),
    ("Redis path", "tokens per read round trip"),
}
OBSERVER_WORKLOADS = (
    "FSM, entry run -> self-transition",
    "FSM, message -> self-transition",
    "FSM, guarded self-transition",
    "statechart, transition 3 levels deep",
    "PN, firing producing nothing",
    "PN, async handler -> one token",
    "PN, plain def handler -> one token",
)
OBSERVER_ROWS = {
    *each(("unobserved", "do-nothing observer", "added by the observer"), *OBSERVER_WORKLOADS),
    *each(
        (
            f"{PSM}, unobserved",
            f"{PSM}, do-nothing listener",
            f"{PSM}, added by the listener",
            f"{TR}, unobserved",
            f"{TR}, do-nothing after_state_change",
            f"{TR}, added by after_state_change",
        ),
        "FSM, message -> self-transition",
    ),
}
ROWS = {
    "septum_bench": SEPTUM_ROWS,
    "hypha_bench": HYPHA_ROWS,
    "rhizomorph_bench": RHIZOMORPH_ROWS,
    "mycelium_bench": MYCELIUM_ROWS,
    "durability_bench": DURABILITY_ROWS,
    "spores_bench": SPORES_ROWS,
    "distribution_bench": DISTRIBUTION_ROWS,
    "observer_bench": OBSERVER_ROWS,
}
# The targets of issue 16 (and the earlier issues) each script must state, by row.
TARGETS = {
    "septum_bench": {
        (M, "self-transition"): 1.0,
        (M, "self-transition, run(n) loop"): 1.0,
        (M, "message -> self-transition"): 1.5,
        (M, "handler runs with the message, per message"): 1.0,
        (M, "create + initialize, GC on"): 3.0,
        (M, "create + initialize, GC off"): 3.0,
        (M, "memory per live machine"): 400.0,
        (M, "memory, after one transition"): 400.0,
        (M, "1,000,000 machines (projected)"): 1000.0,
        (M, "statechart: transition 3 levels deep"): 2.0,  # issue 15
        (M, "guarded self-transition"): 1.5,
    },
    "hypha_bench": {(M, "producer -> queue -> consumer"): 2.5, (M, "backlog growth 10 -> 1,000"): 1.25},
    "rhizomorph_bench": {
        (M, "15 nodes, sync leaves: tick"): 8.0,
        (M, "async no-suspension tick / sync tick"): 2.0,
        (M, "15 nodes, async leaves suspend once: per tick"): 40.0,
        (M, "1,501-node tick / floor"): 3.0,
        (M, "runner build (15 nodes)"): 20.0,
    },
    "mycelium_bench": {(M, "FSM-in-PN overhead over floor"): 5.0, (M, "BT-in-PN overhead over floor"): 6.0},
    "durability_bench": {
        (M, "records made durable, FULL"): 8.0,
        (M, "encode token + append, FULL"): 8.0,
        (M, "journaled firing, producer -> queue -> consumer"): 10.0,
        (M, "snapshot of 10^6 tokens"): 2.0,
        (M, "restore of 10^6 tokens"): 2.0,
        (M, "snapshot of 10^5 keyed machines"): 1.0,
        (M, "restore of 10^5 keyed machines"): 1.0,
    },
    "spores_bench": {
        ("spores, added by logging", "per FSM transition (logged - plain)"): 3.0,
        ("spores, added by logging", "per PN firing (logged - plain)"): 3.0,
        ("spores, added by logging", "per PN firing (do-nothing observer - plain)"): 0.3,
        ("spores, added by logging", "per PN firing (observe - plain)"): 3.0,
        ("spores, added by logging", "per FSM transition (do-nothing observer - plain)"): 0.3,
        ("spores, added by logging", "per event (observe - plain, 2 events per FSM transition)"): 3.0,
    },
    "distribution_bench": {("4 workers / 1 worker", "time per token"): 0.667},
    "observer_bench": {("added by the observer", workload): 0.3 for workload in OBSERVER_WORKLOADS},
}


@pytest.fixture
def bench_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``benchmarks/`` importable the way ``python benchmarks/<name>.py`` does.

    The objects the suite made so far are frozen (``gc.freeze``) meanwhile: the scripts collect
    garbage before each sample timed with the collector off and around memory measurements, and in a
    process holding a whole test suite every full collection would walk all of it (seconds per run).
    """
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        for name in MODULES:
            sys.modules.pop(name, None)


@pytest.fixture
def harness(bench_path: None) -> ModuleType:
    return importlib.import_module("_harness")


def printed_rows(output: str) -> list[tuple[str, str]]:
    """(contender, workload) of every row of the table in ``output``, located by its dashed rule."""
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    widths = [len(dashes) for dashes in lines[rule].split("  ")]
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip() or line.startswith("notes:"):
            break
        contender = line[: widths[0]].strip()
        workload = line[widths[0] + 2 : widths[0] + 2 + widths[1]].strip()
        rows.append((contender, workload))
    return rows


def test_row_parser_reads_contender_and_workload() -> None:
    output = "\n".join(
        [
            "title",
            "contender  workload  median",
            "---------  --------  ------",
            "floor      w one       1.00",
            "my lib     w           2.00",
            "",
            "notes:",
        ]
    )
    assert printed_rows(output) == [("floor", "w one"), ("my lib", "w")]


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run_prints_every_contender_and_workload(
    script: str, bench_path: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = importlib.import_module(script)
    out = tmp_path / "rows.json"
    rows = module.main(["--quick", "--json", str(out)])
    output = capsys.readouterr().out
    printed = printed_rows(output)
    assert len(printed) == len(set(printed)), "a row is printed twice"
    assert set(printed) == ROWS[script]
    assert [(row.contender, row.workload) for row in rows] == printed
    assert {(row.contender, row.workload): row.target for row in rows if row.target is not None} == TARGETS[
        script
    ]
    assert "GC on while timing" in output and "p25..p75" in output
    document = json.loads(out.read_text())
    assert document["quick"] is True and document["gc"] == "on"
    assert [(row["contender"], row["workload"]) for row in document["rows"]] == printed


def test_only_keeps_the_matching_rows(bench_path: None, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module("rhizomorph_bench")
    rows = module.main(["--quick", "--only", "1,501", "--rounds", "1"])
    assert {(row.contender, row.workload) for row in rows} == {
        (M, "1,501 nodes, sync leaves: tick"),
        (PT, "1,501 nodes, sync leaves: tick"),
        (F, "1,501 nodes, sync leaves: tick"),
        (M, "1,501-node tick / floor"),
    }


# --- the harness on fake cases -------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 5])
def test_rotation_measures_every_case_once_per_round_starting_in_turn(
    harness: ModuleType, count: int
) -> None:
    orders = [harness.rotation(count, r) for r in range(2 * count)]
    for r, order in enumerate(orders):
        assert sorted(order) == list(range(count))
        assert order[0] == r % count
    if count > 2:
        assert orders[0] == [0, 1, 2, 3, 4] and orders[1] == [1, 0, 4, 3, 2]  # forward, then backward


def test_rotation_of_no_case_is_empty_in_every_round(harness: ModuleType) -> None:
    # --only matching only one-off rows (memory, counts) leaves no timed case to rotate
    assert harness.rotation(0, 0) == harness.rotation(0, 1) == []


def _settings(harness: ModuleType, **changes: Any) -> Any:
    return harness.Settings(quick=True, rounds=changes.pop("rounds", 3), **changes)


def test_rounds_interleave_sync_and_async_cases(harness: ModuleType) -> None:
    calls: list[str] = []

    def sync(n: int) -> None:
        calls.append("sync")

    async def coroutine(n: int) -> None:
        await asyncio.sleep(0)
        calls.append("async")

    def timed(n: int) -> float:
        calls.append("timed")
        return 0.5 * n  # its own figure: half a second per operation

    cases = [
        harness.Case("a", "w", sync),
        harness.Case("b", "w", coroutine),
        harness.Case("c", "w", timed, ops=4, self_timed=True),
    ]
    harness.measure_rounds(cases, _settings(harness))
    assert calls == ["sync", "async", "timed"] + ["async", "sync", "timed"] + ["timed", "sync", "async"]
    assert [len(case.samples) for case in cases] == [3, 3, 3]
    assert cases[2].samples == [0.5e6] * 3
    assert all(case.loop is None for case in cases)  # every loop is closed after the run


def test_a_self_timed_case_must_return_its_seconds(harness: ModuleType) -> None:
    case = harness.Case("a", "w", lambda n: None, self_timed=True)
    with pytest.raises(TypeError, match="must return the seconds it measured"):
        harness.measure_rounds([case], _settings(harness))


def test_setup_and_teardown_run_once_in_the_case_loop_and_leftover_tasks_are_cancelled(
    harness: ModuleType,
) -> None:
    seen: list[str] = []
    loops: set[int] = set()
    left: list[asyncio.Task[None]] = []

    async def setup() -> None:
        loops.add(id(asyncio.get_running_loop()))
        seen.append("setup")

    async def run(n: int) -> None:
        loops.add(id(asyncio.get_running_loop()))
        left.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600)))

    def teardown() -> None:
        seen.append("teardown")

    harness.measure_rounds([harness.Case("a", "w", run, setup=setup, teardown=teardown)], _settings(harness))
    assert seen == ["setup", "teardown"] and len(loops) == 1
    assert left and all(task.cancelled() for task in left)


def test_the_collector_is_on_while_timing_unless_the_run_or_the_case_says_off(harness: ModuleType) -> None:
    seen: dict[str, list[bool]] = {"default": [], "off": [], "on": []}

    def probe(name: str) -> Any:
        return lambda n: seen[name].append(gc.isenabled())

    cases = [
        harness.Case("a", "default", probe("default")),
        harness.Case("a", "off", probe("off"), gc=False),
        harness.Case("a", "on", probe("on"), gc=True),
    ]
    harness.measure_rounds(cases, _settings(harness))
    assert seen == {"default": [True] * 3, "off": [False] * 3, "on": [True] * 3}
    for case in cases:
        case.samples.clear()
    harness.measure_rounds(cases, _settings(harness, gc=False))
    assert seen["default"][3:] == [False] * 3 and seen["on"][3:] == [True] * 3
    assert gc.isenabled()


def _measured(harness: ModuleType, contender: str, samples: list[float]) -> Any:
    case = harness.Case(contender, "w", lambda n: None)
    case.samples.extend(samples)
    return case


def test_derived_rows_pair_the_figures_of_the_same_round(harness: ModuleType) -> None:
    left = _measured(harness, "lib", [10.0, 20.0, 30.0])
    right = _measured(harness, "floor", [9.0, 10.0, 29.0])  # same-round differences: 1, 10, 1
    overhead = harness.Derived("lib", "overhead", left.key, right.key, "-", "us", target=2.0)
    ratio = harness.Derived("lib", "ratio", left.key, right.key, "/", "x")
    each = harness.Derived("lib", "per event", left.key, right.key, "-", "us", per=2)  # 2 events per op
    rows = harness.collect_rows([left, right], [overhead, ratio, each], [])
    assert [row.workload for row in rows] == ["w", "overhead", "ratio", "per event", "w"]
    assert rows[1].median == 1.0 and rows[1].verdict == "met"  # medians apart: 20 - 10 = 10
    assert rows[1].best == 10.0 - 9.0
    assert rows[2].median == pytest.approx(10.0 / 9.0)  # ratios 10/9, 2, 30/29
    assert (rows[3].median, rows[3].best) == (0.5, 0.5)


def test_a_case_row_reports_median_quartiles_and_best(harness: ModuleType) -> None:
    row = harness.case_row(_measured(harness, "lib", [5.0, 1.0, 3.0, 2.0, 4.0]))
    assert (row.median, row.low, row.high, row.best) == (3.0, 2.0, 4.0, 1.0)
    assert row.figure == row.median
    missed = harness.Row("lib", "w", 3.0, "us", best=1.0, target=2.0)
    assert missed.verdict == "MISSED"  # judged by the median, not by the best round


def test_rows_measured_once_are_printed_without_spread(
    harness: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    row = harness.fixed_row("lib", "memory", 216.0, "bytes", 400.0)
    harness.print_table("title", [row], _settings(harness))
    line = capsys.readouterr().out.splitlines()[-1].split()
    assert line == ["lib", "memory", "216", "-", "-", "bytes", "<=", "400", "met"]


def test_the_command_line_rejects_nonsense(harness: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        harness.parse_settings("x", ["--rounds", "0"])
    assert exited.value.code == 2 and "--rounds must be at least 1" in capsys.readouterr().err
    settings = harness.parse_settings("x", ["--gc", "off", "--only", "tick", "--rounds", "7"])
    assert (settings.gc, settings.only, settings.rounds, settings.quick) == (False, ("tick",), 7, False)
    assert settings.wanted("mycorrhizal", "15 nodes: TICK") and not settings.wanted("floor", "build")


def _document(rows: list[tuple[str, str, float]]) -> dict[str, Any]:
    return {
        "title": "t",
        "python": "3",
        "rounds": 3,
        "gc": "on",
        "load_start": "1",
        "load_end": "1",
        "spread": "p25..p75",
        "rows": [
            {"contender": c, "workload": w, "median": m, "low": m, "high": m, "unit": "us", "verdict": ""}
            for c, w, m in rows
        ],
    }


_EVENT_ID = re.compile(r'"id":"evt-[0-9a-f]{16}-\d+"')
_TIME = re.compile(r'"time":\d+\.\d{6}(?=[,}])')


def _masked(path: Path) -> list[str]:
    """The lines of a JSON-lines log, each event id and time (to the microsecond) masked."""
    return [_TIME.sub('"time":0', _EVENT_ID.sub('"id":"ID"', line)) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(("make", "per_step"), [("pn_case", 1), ("fsm_case", 2)])
def test_the_spores_floor_writes_the_lines_observe_writes(
    make: str, per_step: int, bench_path: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = importlib.import_module("spores_bench")
    harness = importlib.import_module("_harness")
    config = importlib.import_module("mycorrhizal.spores.config")
    monkeypatch.setattr(config, "_state", config._state)  # the configuration in force, back afterwards
    paths = []
    for contender in (bench.OBSERVED, bench.FLOOR):
        config.configure()  # no transport while the case is set up: its samples alone reach its file
        checked = bench.Checked(contender, tmp_path, bench.AsyncFileTransport, "jsonl")
        case = getattr(bench, make)(contender, checked, 3)
        harness.run_between(case, 2, 3, lambda: None, lambda: None)  # two samples: 2 steps, 3 steps
        paths.append(checked.path)
    observed, floor = (_masked(path) for path in paths)
    # Each sample opens with the runtime's object line, then two lines a step (a firing's new token
    # and event; a transition's two events): the same bytes, ids and times aside.
    assert len(observed) == 2 + 2 * (2 + 3) and floor == observed
    events = [json.loads(line)["event"] for line in paths[1].read_text().splitlines()]
    ids = [event["id"] for event in events if event is not None]
    assert len(ids) == len(set(ids)) == per_step * (2 + 3)
    assert all('"id":"ID"' in line and '"time":0,' in line for line in floor if '"event":{' in line)


def test_compare_matches_rows_of_two_runs(
    bench_path: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compare = importlib.import_module("compare")
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(_document([("lib", "tick", 4.0), ("lib", "gone", 1.0)])))
    after.write_text(json.dumps(_document([("lib", "tick", 3.0), ("lib", "new", 1.0)])))
    lines = compare.main([str(before), str(after)])
    assert lines == [("lib", "tick", "4.00 (4.00..4.00)", "3.00 (3.00..3.00)", "-25 %", "us", "")]
    output = capsys.readouterr().out
    assert "only before: lib / gone" in output and "only after: lib / new" in output


# --- instructions.py: callgrind counts of the observer and logging rows ---------------------------


def test_instructions_count_one_case_under_callgrind(bench_path: None) -> None:
    """One real count (one child under valgrind, ~5 s: a row's four would hold a core for ~25 s
    beside the suite): the operations, not the imports, set-up or tear-down."""
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed; run 'apt-get install -y valgrind' (.ci/run does)")
    instructions = importlib.import_module("instructions")
    counted = instructions.count("spores_bench", ("no logging", "PN firing"), 20, 40)
    # 40 firings at thousands of instructions each and the two switches of the count (~300,000
    # each): ~1,200,000; not the imports and set-up (over a billion).
    assert 40 * 2_000 < counted < 10_000_000


def _linear_counts(monkeypatch: pytest.MonkeyPatch, instructions: ModuleType, rate: dict[str, int]) -> None:
    """Counts that grow linearly: 5,000,000 for what is not per operation, then ``rate`` per one."""
    monkeypatch.setattr(instructions, "count", lambda script, key, warm, n: 5_000_000 + rate[key[0]] * n)


def test_instructions_take_the_difference_per_operation_and_per_event(
    bench_path: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    instructions = importlib.import_module("instructions")
    _linear_counts(
        monkeypatch, instructions, {"no logging": 7_000, "spores.observe -> AsyncFileTransport": 49_000}
    )
    # observe's per-event row (the floor's is per event too)
    (row,) = [r for r in instructions.rows_of("spores_bench") if r.per == 2 and "observe" in r.workload]
    (counted,) = instructions.measure([("spores_bench", row)], instructions.QUICK)
    assert (counted.plain, counted.watched) == (7_000, 49_000)
    assert counted.added == 21_000  # two events per transition
    assert counted.share == 6.0


def test_instructions_print_the_rows_asked_for_and_write_them(
    bench_path: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    instructions = importlib.import_module("instructions")
    _linear_counts(monkeypatch, instructions, {"no logging": 15_000, "do-nothing observer": 17_500})
    out = tmp_path / "counts.json"
    counted = instructions.main(
        ["--quick", "--only", "per PN firing (do-nothing observer", "--json", str(out)]
    )
    assert [(c.script, c.contender, c.workload, c.added) for c in counted] == [
        ("spores_bench", "spores, added by logging", "per PN firing (do-nothing observer - plain)", 2_500)
    ]
    assert printed_rows(capsys.readouterr().out) == [
        ("spores_bench", "spores, added by logging / per PN firing (do-nothing observer - plain)")
    ]
    document = json.loads(out.read_text())
    assert document["quick"] is True and document["rows"][0]["added"] == 2_500


def test_instructions_rows_are_cases_the_scripts_make(bench_path: None) -> None:
    instructions = importlib.import_module("instructions")
    harness = importlib.import_module("_harness")
    for script in instructions.SCRIPTS:
        made = {case.key for case in importlib.import_module(script).cases(harness.Settings())}
        rows = instructions.rows_of(script)
        assert rows and all(row.left in made and row.right in made for row in rows), script


@pytest.mark.parametrize(
    ("args", "path", "message"),
    [
        (["--only", "no such row"], None, "no row matches --only ['no such row']"),
        ([], "", "valgrind and callgrind_control not found; install valgrind: apt-get install -y valgrind"),
    ],
)
def test_instructions_refuse_what_they_cannot_count(args: list[str], path: str | None, message: str) -> None:
    env = dict(os.environ) if path is None else {**os.environ, "PATH": path}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "instructions.py"), "--quick", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2 and message in done.stderr
