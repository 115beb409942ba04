"""Event logging (spores): what writing an OCEL event for every FSM transition and PN firing costs.

Workloads, every case in the same interleaved rounds (microseconds per event):

* FSM self-transition: ``await fsm.tick()`` on a state whose ``on_state`` returns the label of a
  self-transition, without logging and with ``SeptumAdapter.log_state`` on that handler (one event
  per transition, with the blackboard's ``EventAttr`` field as an attribute and its ``ObjectRef``
  object, unchanged, as a relationship); also with an observer that does nothing and with
  ``spores.observe(fsm)`` (two events per transition: the state left and the state entered; its
  added cost is also given per event, the unit of the target); and with a do-nothing observer that
  asks for every record (``@wants_all``: ``StateLeft`` too, told on request).
* PN firing: one firing of a consumer transition (``inbox -> consume``), ``n`` tokens added, then
  ``await runner.run_until_idle()``; without logging, with an observer that does nothing
  attached (``runner.add_observer``; also one asking for every record, ``FiringStarted`` too),
  with ``spores.observe(runner)`` (one event per firing,
  related to the net and to the consumed token, a new object each time) and with
  ``HyphaAdapter.log_transition`` on the handler (one event per firing, related to the consumed
  token and the blackboard's object).
* emit_event: the low-level call an observer makes, one attribute and one relationship, to each
  transport.

Every logged sample ends with ``await transport.flush()`` (the batched writes are paid inside the
sample), and at the end of the run every transport is closed and its file checked: the events in
the file must be exactly the events emitted (the note says how many), else the script fails.
Targets (issue 11): at most 3 µs added per event to the async file transport, and at most 0.3 µs
added by an attached observer that does nothing, i.e. the logged (observed) minus the plain
figure, computed round by round.

Run ``python benchmarks/spores_bench.py`` (``--quick`` for a smoke run, ``--help`` for options;
``--cpu`` times every sample in CPU time of the process, the writer thread's included, which a busy
machine stretches much less than wall time).
"""

from __future__ import annotations

import atexit
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from pathlib import Path
from typing import Annotated, Any

from _harness import Case, Derived, Row, Settings, run_benchmark

from mycorrhizal import spores
from mycorrhizal.common.observers import wants_all
from mycorrhizal.hypha import NetBuilder, PlaceType, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import (
    AsyncFileTransport,
    EventAttr,
    HyphaAdapter,
    ObjectRef,
    ObjectScope,
    Ocel2JsonTransport,
    Ocel2SqliteTransport,
    SeptumAdapter,
    emit_event,
    emit_object,
)

TARGET_ADDED_US = 3.0  # issue 11: OCEL logging to the async file transport, per event
TARGET_OBSERVER_US = 0.3  # issue 11: an attached observer that does nothing, per transition / firing

PLAIN = "no logging"
FILE = "spores -> AsyncFileTransport"
NULL = "do-nothing observer"
NULL_ALL = "do-nothing observer, every record"
OBSERVED = "spores.observe -> AsyncFileTransport"
ADAPTER = FILE  # the adapters' rows keep their first name, so compare.py pairs them across runs
SQLITE = "spores -> Ocel2SqliteTransport"
OCEL_JSON = "spores -> Ocel2JsonTransport"
ADDED = "spores, added by logging"
W_FSM = "FSM self-transition"
W_PN = "PN firing"
W_EMIT = "emit_event (1 attribute, 1 relationship)"
W_FSM_ADDED = "per FSM transition (logged - plain)"
W_PN_ADDED = "per PN firing (logged - plain)"
W_PN_NULL = "per PN firing (do-nothing observer - plain)"
W_FSM_NULL = "per FSM transition (do-nothing observer - plain)"
W_FSM_NULL_ALL = "per FSM transition (every record: StateLeft too)"
W_PN_NULL_ALL = "per PN firing (every record: FiringStarted too)"
W_FSM_OBSERVED = "per FSM transition (observe - plain)"
W_FSM_OBSERVED_EVENT = "per event (observe - plain, 2 events per FSM transition)"
W_PN_OBSERVED = "per PN firing (observe - plain)"


@dataclass
class Robot:
    id: str
    battery: int = 100


@dataclass
class Board:
    mission: Annotated[str, EventAttr] = "patrol"
    robot: Annotated[Robot, ObjectRef("robot", ObjectScope.GLOBAL)] = field(
        default_factory=lambda: Robot("r1")
    )


class _Loop(Enum):
    AGAIN = auto()


def machine_spec(logged: bool) -> Any:
    """One state whose on_state takes a self-transition, its handler logged or not."""
    adapter = SeptumAdapter()

    async def on_state(ctx: Any) -> Any:
        return _Loop.AGAIN

    handler = adapter.log_state("tick")(on_state) if logged else on_state

    def body() -> None:
        septum.on_state(handler)

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(_Loop.AGAIN, spec)]

    body.__name__ = "Logged" if logged else "Plain"
    spec = septum.state(config=StateConfiguration(can_dwell=True))(body)
    return spec


def net_spec(logged: bool) -> Any:
    """inbox -> consume: one firing per token, its handler logged or not."""
    adapter = HyphaAdapter()

    def build(builder: NetBuilder) -> None:
        inbox = builder.place("inbox", type=PlaceType.QUEUE)

        async def consume(consumed: Any, bb: Any, timebase: Any) -> None:
            return None

        handler = adapter.log_transition("fired")(consume) if logged else consume
        builder.transition(inputs=[inbox])(handler)

    build.__name__ = "Logged" if logged else "Plain"
    return pn.net(build)


class Checked:
    """A transport of one case, and the check that every emitted event reached its file."""

    def __init__(self, label: str, folder: Path, make: Callable[[Path], Any], suffix: str) -> None:
        self.label = label
        self.path = folder / f"{label.split()[-1]}-{id(self)}.{suffix}"
        self.transport = make(self.path)
        self.emitted = 0

    def configure(self) -> None:
        spores.configure(transport=self.transport)

    async def flush(self) -> None:
        """Write what the sample logged (the OCEL JSON document is written once, at close)."""
        if isinstance(self.transport, AsyncFileTransport):
            await self.transport.flush()
        elif isinstance(self.transport, Ocel2SqliteTransport):
            self.transport.flush()
        self.emitted += spores.get_dispatcher().events

    def written(self) -> int:
        if self.path.suffix == ".jsonl":
            return sum(1 for line in self.path.read_text().splitlines() if json.loads(line)["event"])
        if self.path.suffix == ".json":
            return len(json.loads(self.path.read_text())["events"])
        db = sqlite3.connect(self.path)
        try:
            return int(db.execute("SELECT COUNT(*) FROM event").fetchone()[0])
        finally:
            db.close()

    async def close(self, case: Case) -> None:
        result = self.transport.close()
        if result is not None:
            await result
        written = self.written()
        if written != self.emitted:
            raise RuntimeError(f"{self.label}: {self.emitted} events emitted but {written} written")
        case.note = f"{written:,} events emitted, {written:,} written"


def fsm_case(contender: str, checked: Checked | None, ops: int) -> Case:
    """One workload of FSM self-transitions; ``contender`` says how it is watched."""
    box: list[Any] = []

    async def setup() -> None:
        fsm = StateMachine(machine_spec(contender == FILE), common_data=Board())
        if contender == NULL:
            fsm.add_observer(_nothing)
        elif contender == NULL_ALL:
            fsm.add_observer(_everything)
        elif contender == OBSERVED:
            spores.observe(fsm)
        await fsm.initialize()
        box.append(fsm)

    async def run(n: int) -> float:
        if checked is not None:
            checked.configure()
        tick = box[0].tick
        start = clock()
        for _ in range(n):
            await tick()
        if checked is not None:
            await checked.flush()
        return clock() - start

    async def teardown() -> None:
        if checked is not None:
            await checked.close(case)

    case = Case(contender, W_FSM, run, ops=ops, self_timed=True, setup=setup, teardown=teardown)
    return case


def pn_case(contender: str, checked: Checked | None, ops: int) -> Case:
    """One workload of PN firings; ``contender`` says how it is watched (see the module documentation)."""
    box: list[Any] = []

    async def setup() -> None:
        runner = NetRunner(net_spec(contender == ADAPTER), Board())
        if contender == NULL:
            runner.add_observer(_nothing)
        elif contender == NULL_ALL:
            runner.add_observer(_everything)
        elif contender == OBSERVED:
            spores.observe(runner)
        await runner.start()
        box.append(runner)

    async def run(n: int) -> float:
        if checked is not None:
            checked.configure()
        runner = box[0]
        for i in range(n):
            runner.add_token("inbox", {"id": i})
        start = clock()
        await runner.run_until_idle()
        if checked is not None:
            await checked.flush()
        return clock() - start

    async def teardown() -> None:
        await box[0].stop()
        if checked is not None:
            await checked.close(case)

    case = Case(contender, W_PN, run, ops=ops, self_timed=True, setup=setup, teardown=teardown)
    return case


def _nothing(event: Any) -> None:
    """The observer that does nothing: what attaching one costs the engine."""


@wants_all
def _everything(event: Any) -> None:
    """An observer that does nothing but asks for every record, those told on request included."""


def emit_case(checked: Checked, ops: int) -> Case:
    async def run(n: int) -> float:
        checked.configure()
        emit_object("Robot", "r1", {"battery": 100})
        start = clock()
        for i in range(n):
            emit_event("step", {"n": i}, [("r1", "robot")])
        await checked.flush()
        return clock() - start

    async def teardown() -> None:
        await checked.close(case)

    case = Case(checked.label, W_EMIT, run, ops=ops, self_timed=True, teardown=teardown)
    return case


def cases(settings: Settings) -> Sequence[Case]:
    folder = Path(tempfile.mkdtemp(prefix="spores-bench-"))
    atexit.register(shutil.rmtree, folder, True)

    def file(label: str) -> Checked:
        return Checked(label, folder, AsyncFileTransport, "jsonl")

    # A sample is a fixed batch of events: each ends with a flush (a thread hop and a write),
    # which must be shared by as many events as a busy program logs between two flushes.
    ops = settings.scale(10_000, 50)
    return [
        fsm_case(PLAIN, None, ops),
        fsm_case(NULL, None, ops),
        fsm_case(NULL_ALL, None, ops),
        fsm_case(OBSERVED, file(OBSERVED), ops),
        fsm_case(FILE, file(FILE), ops),
        pn_case(PLAIN, None, ops),
        pn_case(NULL, None, ops),
        pn_case(NULL_ALL, None, ops),
        pn_case(OBSERVED, file(OBSERVED), ops),
        pn_case(ADAPTER, file(ADAPTER), ops),
        emit_case(file(FILE), ops),
        emit_case(Checked(SQLITE, folder, Ocel2SqliteTransport, "sqlite"), ops),
        emit_case(Checked(OCEL_JSON, folder, Ocel2JsonTransport, "json"), ops),
    ]


DERIVED = [
    Derived(ADDED, W_FSM_ADDED, (FILE, W_FSM), (PLAIN, W_FSM), target=TARGET_ADDED_US),
    Derived(ADDED, W_FSM_NULL, (NULL, W_FSM), (PLAIN, W_FSM), target=TARGET_OBSERVER_US),
    Derived(ADDED, W_FSM_OBSERVED, (OBSERVED, W_FSM), (PLAIN, W_FSM)),
    # The target is per event: spores.observe writes two per transition (left, entered).
    Derived(ADDED, W_FSM_OBSERVED_EVENT, (OBSERVED, W_FSM), (PLAIN, W_FSM), target=TARGET_ADDED_US, per=2),
    Derived(ADDED, W_PN_NULL, (NULL, W_PN), (PLAIN, W_PN), target=TARGET_OBSERVER_US),
    Derived(ADDED, W_FSM_NULL_ALL, (NULL_ALL, W_FSM), (PLAIN, W_FSM)),
    Derived(ADDED, W_PN_NULL_ALL, (NULL_ALL, W_PN), (PLAIN, W_PN)),
    Derived(ADDED, W_PN_OBSERVED, (OBSERVED, W_PN), (PLAIN, W_PN), target=TARGET_ADDED_US),
    Derived(ADDED, W_PN_ADDED, (ADAPTER, W_PN), (PLAIN, W_PN), target=TARGET_ADDED_US),
]


clock = time.perf_counter
"""What the samples are timed with: wall time, or the process's CPU time with ``--cpu``."""


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every case and print the table; returns the rows for callers and tests."""
    global clock
    args = list(sys.argv[1:] if argv is None else argv)
    cpu = "--cpu" in args
    if cpu:
        args.remove("--cpu")
    clock = time.process_time if cpu else time.perf_counter
    return run_benchmark(
        args,
        __doc__,
        name="spores",
        peers=(),
        cases=cases,
        derived=DERIVED,
        unit=", CPU microseconds per event" if cpu else ", microseconds per event",
    )


if __name__ == "__main__":
    main()
