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
* The floor (contender ``floor``, FSM and PN): what writing the lines ``spores.observe`` writes
  costs at all, with no library in the way.  The plain machine and net (no observer), whose
  handler (``on_state``; ``consume``) formats by hand the lines observe writes for that step, ids
  and times included (the FSM's ``<state> left`` and ``<state> entered`` events; the PN's new
  token's object line and the event relating the net and the token), appends them to the
  ``AsyncFileTransport``'s line queue and calls its ``queued()`` at its ``limit``, as observe's
  path does (see ``LineQueue``); the sample opens with the machine's or the net's object line, as
  observe writes it first under each new configuration.  In the handler, not in a step after
  each firing: ``run_until_idle()`` fires every token in one call (no step between firings
  without an observer, whose cost the do-nothing rows give apart), and the machine's ticks stay
  those of the plain row.  The least Python: one clock read per step, written as observe writes
  times (epoch seconds to the microsecond, ``f"{t:.6f}"``; both FSM events share it, where observe
  makes the second 1 µs later), ids from a counter, the token's id formatted as it
  is (an int: no JSON escaping), no object cache (at 10,000 tokens per sample and a cache of 128,
  every token observe sees is a first sighting: it writes both lines every firing too).
  ``tests/test_benchmarks.py`` checks the floor's file against observe's, line by line.

Every logged sample ends with ``await transport.flush()`` (the batched writes are paid inside the
sample), and at the end of the run every transport is closed and its file checked: the events in
the file must be exactly the events emitted (the note says how many), else the script fails.
Targets (issue 11): at most 3 µs added per event to the async file transport, and at most 0.3 µs
added by an attached observer that does nothing, i.e. the logged (observed) minus the plain
figure, computed round by round.  The floor's rows (``floor: the lines by hand - plain``) have no
target: they say how far the logged rows are from what their lines cost.

Run ``python benchmarks/spores_bench.py`` (``--quick`` for a smoke run, ``--help`` for options;
``--cpu`` times every sample in CPU time of the process, the writer thread's included, which a busy
machine stretches much less than wall time).
"""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
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
FLOOR = "floor"
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
W_PN_FLOOR = "per PN firing (floor: the lines by hand - plain)"
W_FSM_FLOOR_EVENT = "per event (floor: the lines by hand - plain, 2 events per FSM transition)"


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


def machine_spec(logged: bool, floor: Callable[[Any], Any] | None = None) -> Any:
    """One state whose on_state takes a self-transition, its handler logged or not (or ``floor``)."""
    adapter = SeptumAdapter()

    async def on_state(ctx: Any) -> Any:
        return _Loop.AGAIN

    handler = adapter.log_state("tick")(on_state) if logged else floor or on_state

    def body() -> None:
        septum.on_state(handler)

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(_Loop.AGAIN, spec)]

    body.__name__ = "Logged" if logged else "Plain"
    spec = septum.state(config=StateConfiguration(can_dwell=True))(body)
    return spec


def net_spec(logged: bool, floor: Callable[..., Any] | None = None) -> Any:
    """inbox -> consume: one firing per token, its handler logged or not (or ``floor``, named
    ``consume`` too)."""
    adapter = HyphaAdapter()

    def build(builder: NetBuilder) -> None:
        inbox = builder.place("inbox", type=PlaceType.QUEUE)

        async def consume(consumed: Any, bb: Any, timebase: Any) -> None:
            return None

        handler = adapter.log_transition("fired")(consume) if logged else floor or consume
        builder.transition(inputs=[inbox])(handler)

    build.__name__ = "Logged" if logged else "Plain"
    return pn.net(build)


Opening = Callable[[], bytes]
"""The line a floor sample opens with: the runtime's object, as observe writes it first."""


def _floor_ids() -> tuple[str, itertools.count[int]]:
    """An event id's random prefix (``evt-`` and 16 hex digits, as observe's) and its counter."""
    return f"evt-{uuid.uuid4().hex[:16]}-", itertools.count(1)


def floor_net(transport: AsyncFileTransport) -> tuple[Any, Opening]:
    """The plain net whose consume handler writes, by hand, the two lines ``spores.observe`` writes
    per firing (the new token's object, the event relating the net and the token)."""
    queue, now, (prefix, ids) = transport.queue, time.time, _floor_ids()

    async def consume(consumed: Any, bb: Any, timebase: Any) -> None:
        (token,) = consumed
        ident = token["id"]
        queue.append(
            f'{{"event":null,"object":{{"id":"{ident}","type":"dict","attributes":[],'
            '"relationships":[]}}'.encode()
        )
        if len(queue) >= transport.limit:
            transport.queued()
        queue.append(
            f'{{"event":{{"id":"{prefix}{next(ids)}","type":"consume","activity":null,'
            f'"time":{now():.6f},"attributes":[],"relationships":[{{"objectId":"Plain",'
            f'"qualifier":"net"}},{{"objectId":"{ident}","qualifier":"consumed:inbox"}}]}},'
            '"object":null}'.encode()
        )
        if len(queue) >= transport.limit:
            transport.queued()

    def opening() -> bytes:
        return b'{"event":null,"object":{"id":"Plain","type":"net","attributes":[],"relationships":[]}}'

    return net_spec(False, consume), opening


def floor_machine(transport: AsyncFileTransport) -> tuple[Any, Opening]:
    """The plain machine whose on_state writes, by hand, the two events ``spores.observe`` writes
    per self-transition (``Plain left``, ``Plain entered``)."""
    queue, now, (prefix, ids) = transport.queue, time.time, _floor_ids()
    attribute = '{"name":"%s","value":"%s","type":"string"}'
    machine = '"relationships":[{"objectId":"Plain","qualifier":"machine"}]},"object":null}'
    left = f'"attributes":[{attribute % ("target", "Plain")},{attribute % ("label", "AGAIN")}],{machine}'
    entered = f'"attributes":[{attribute % ("previous", "Plain")},{attribute % ("label", "AGAIN")}],{machine}'

    async def on_state(ctx: Any) -> Any:
        stamp = f"{now():.6f}"
        queue.append(
            f'{{"event":{{"id":"{prefix}{next(ids)}","type":"Plain left","activity":null,'
            f'"time":{stamp},{left}'.encode()
        )
        if len(queue) >= transport.limit:
            transport.queued()
        queue.append(
            f'{{"event":{{"id":"{prefix}{next(ids)}","type":"Plain entered","activity":null,'
            f'"time":{stamp},{entered}'.encode()
        )
        if len(queue) >= transport.limit:
            transport.queued()
        return _Loop.AGAIN

    def opening() -> bytes:
        return (
            '{"event":null,"object":{"id":"Plain","type":"machine","attributes":[{"name":"state",'
            f'"value":"Plain","type":"string","time":{now():.6f}}}],"relationships":[]}}}}'.encode()
        )

    return machine_spec(False, on_state), opening


class Checked:
    """A transport of one case, and the check that every emitted event reached its file."""

    def __init__(self, label: str, folder: Path, make: Callable[[Path], Any], suffix: str) -> None:
        self.label = label
        self.path = folder / f"{label.split()[-1]}-{id(self)}.{suffix}"
        self.transport = make(self.path)
        self.emitted = 0

    def configure(self) -> None:
        spores.configure(transport=self.transport)

    async def flush(self, events: int | None = None) -> None:
        """Write what the sample logged (the OCEL JSON document is written once, at close): the
        dispatcher's events, or ``events`` (what a floor sample must have written by hand)."""
        if isinstance(self.transport, AsyncFileTransport):
            await self.transport.flush()
        elif isinstance(self.transport, Ocel2SqliteTransport):
            self.transport.flush()
        self.emitted += spores.get_dispatcher().events if events is None else events

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
    opening: Opening | None = None

    async def setup() -> None:
        nonlocal opening
        if contender == FLOOR:
            assert checked is not None
            spec, opening = floor_machine(checked.transport)
        else:
            spec = machine_spec(contender == FILE)
        fsm = StateMachine(spec, common_data=Board())
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
        if opening is not None:
            checked.transport.send_nowait(opening())
        for _ in range(n):
            await tick()
        if checked is not None:
            await checked.flush(None if opening is None else 2 * n)
        return clock() - start

    async def teardown() -> None:
        if checked is not None:
            await checked.close(case)

    case = Case(contender, W_FSM, run, ops=ops, self_timed=True, setup=setup, teardown=teardown)
    return case


def pn_case(contender: str, checked: Checked | None, ops: int) -> Case:
    """One workload of PN firings; ``contender`` says how it is watched (see the module documentation)."""
    box: list[Any] = []
    opening: Opening | None = None

    async def setup() -> None:
        nonlocal opening
        if contender == FLOOR:
            assert checked is not None
            spec, opening = floor_net(checked.transport)
        else:
            spec = net_spec(contender == ADAPTER)
        runner = NetRunner(spec, Board())
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
        if opening is not None:
            checked.transport.send_nowait(opening())
        await runner.run_until_idle()
        if checked is not None:
            await checked.flush(None if opening is None else n)
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
        fsm_case(FLOOR, file(FLOOR), ops),
        pn_case(PLAIN, None, ops),
        pn_case(NULL, None, ops),
        pn_case(NULL_ALL, None, ops),
        pn_case(OBSERVED, file(OBSERVED), ops),
        pn_case(ADAPTER, file(ADAPTER), ops),
        pn_case(FLOOR, file(FLOOR), ops),
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
    # The floor: the same lines written by hand (no target: what the logged rows are measured against).
    Derived(ADDED, W_FSM_FLOOR_EVENT, (FLOOR, W_FSM), (PLAIN, W_FSM), per=2),
    Derived(ADDED, W_PN_FLOOR, (FLOOR, W_PN), (PLAIN, W_PN)),
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
