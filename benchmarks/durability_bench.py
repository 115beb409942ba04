"""Durability: SQLiteStore's journal (group commit) against plain sqlite3 inserts and per-record commits.

Workloads (issue 12), all in one run, microseconds per record:

* records made durable: ``journal.append(kind, payload)`` for n records, then one ``await flush()``
  (so every record is durable when the sample ends); the store commits in groups on its writer
  thread.  With ``synchronous=FULL`` (survives power loss) and ``NORMAL`` (survives a crash of the
  process; the operating system may lose the last commits on power loss).
* one record, durable before the next: one record appended and flushed before the next is appended:
  the latency of one durable record when nothing else is pending (FULL).
* encode token + append: a codec encodes a small attrs token (what an engine journals per firing)
  and the record is appended; group commit, FULL.

Every record is the same small firing record, a JSON object with the transition, the consumed token
ids and the produced token.  The peers:

* floor: plain ``sqlite3`` on the event loop's thread, the same JSON text (``json.dumps``) inserted
  row by row in one transaction committed at the end (WAL, same ``synchronous``): the least any
  SQLite journal can cost, with none of the store's guarantees until that one commit;
* naive: the same insert committed after every record, the obvious way to make each one durable.

Engine workloads (issue 12):

* journaled firing: a hypha net ``source -> produce -> queue -> consume`` (``consume`` takes the token
  and produces nothing) run by ``Runner(net, store=SQLiteStore(...))``: the tokens are added (one
  journaled record), the net runs until idle and the journal is flushed, so every firing's record is
  durable when the sample ends; microseconds per firing.  Beside it, in memory: the same net and
  steps without a store.
* journaled fsm= firing: the same for a mycelium ``fsm=`` transition handing each token to one of
  10^3 keyed machines (a firing's record then also carries its machine's new row); no target.
* snapshot / restore of a net holding 10^6 small tokens (ints in a QUEUE place): ``runner.snapshot()``
  and ``Runner.restore(net, document)``; seconds per call.
* snapshot / restore of 10^5 keyed machines: a mycelium net whose ``fsm=`` transition has made one
  machine per key (each waiting in its state after one token): ``runner.snapshot()`` and
  ``Runner.restore(net, document, blackboard)``, which rebuilds every machine; seconds per call.

Targets (issue 12): a journaled firing <= 10 us amortized (a firing in memory costs ~2 us, which
leaves the journal <= 8 us for encoding and appending it); snapshot and restore of 10^6 tokens <= 2 s
each; of 10^5 keyed machines <= 1 s each.

Run ``python benchmarks/durability_bench.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from _harness import Case, Derived, Row, Settings, run_benchmark

from mycorrhizal.common import CodecRegistry
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import NetBuilder, NetSpec, Runner
from mycorrhizal.mycelium import pn
from mycorrhizal.septum import StateConfiguration, septum

MYCORRHIZAL, FLOOR, NAIVE = "mycorrhizal", "floor", "naive"
WORKLOAD_FULL = "records made durable, FULL"
WORKLOAD_NORMAL = "records made durable, NORMAL"
WORKLOAD_SINGLE = "one record, durable before the next"
WORKLOAD_CODEC = "encode token + append, FULL"
WORKLOAD_OVERHEAD = "FULL, over the floor"
TARGET_JOURNAL_US = 8.0  # of the 10 us a journaled firing may cost, ~2 us are the firing itself
TARGET_FIRING_US = 10.0
TARGET_SNAPSHOT_S = 2.0
WORKLOAD_FIRING = "journaled firing, producer -> queue -> consumer"
WORKLOAD_KEYED_FIRING = "journaled fsm= firing, 10^3 keyed machines"
KEYS = 1_000
WORKLOAD_SNAPSHOT = "snapshot of 10^6 tokens"
WORKLOAD_RESTORE = "restore of 10^6 tokens"
WORKLOAD_MACHINES_SNAPSHOT = "snapshot of 10^5 keyed machines"
WORKLOAD_MACHINES_RESTORE = "restore of 10^5 keyed machines"
TARGET_MACHINES_S = 1.0
IN_MEMORY = "in memory"


@attrs.frozen
class Job:
    """A small token, as a net would hold it."""

    id: int
    kind: str
    attempts: int = 0


def record(seq: int) -> dict[str, Any]:
    """The firing record every contender writes."""
    return {"t": "consume", "in": [["queue", seq]], "out": [["done", seq, {"id": seq, "kind": "email"}]]}


class Folder:
    """A temporary folder per case, removed at teardown."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="mycorrhizal-bench-"))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# --- mycorrhizal ---------------------------------------------------------------------------------


def store_case(workload: str, synchronous: str, *, flush_each: bool = False, codec: bool = False) -> Case:
    folder = Folder()
    box: list[Any] = []
    registry = CodecRegistry()
    registry.register(Job, name="Job")

    async def setup() -> None:
        store = SQLiteStore(folder.path / "journal.db", synchronous=synchronous)
        box.extend([store, await store.open_journal("bench")])

    async def teardown() -> None:
        await box[0].close()
        folder.remove()

    async def append(n: int) -> None:
        journal = box[1]
        first = journal.last_seq + 1
        for seq in range(first, first + n):
            journal.append("fire", record(seq))
        await journal.flush()
        assert journal.durable_seq == first + n - 1

    async def append_flush(n: int) -> None:
        journal = box[1]
        for seq in range(journal.last_seq + 1, journal.last_seq + 1 + n):
            journal.append("fire", record(seq))
            await journal.flush()

    async def encode_append(n: int) -> None:
        journal, encode = box[1], registry.encode
        first = journal.last_seq + 1
        for seq in range(first, first + n):
            token = encode(Job(seq, "email"))
            journal.append("fire", {"t": "consume", "in": [["queue", seq]], "out": [["done", seq, token]]})
        await journal.flush()

    run = append_flush if flush_each else encode_append if codec else append
    target = TARGET_JOURNAL_US if codec or workload == WORKLOAD_FULL else None
    return Case(MYCORRHIZAL, workload, run, target, setup=setup, teardown=teardown)


# --- a journaled net ------------------------------------------------------------------------------


def producer_consumer() -> NetSpec:
    """``source -> produce -> queue -> consume``; ``consume`` takes its token and produces nothing."""
    builder = NetBuilder("Bench")
    source, queue = builder.place("source"), builder.place("queue")

    @builder.transition(inputs=[source], outputs=[queue])
    async def produce(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {queue: consumed[0]}

    @builder.transition(inputs=[queue])
    async def consume(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    return builder.build()


def firing_case(journaled: bool, keyed: bool = False) -> Case:
    """A firing of the producer -> consumer net, or (``keyed``) of an ``fsm=`` transition handing
    each token to one of 10^3 keyed machines (made in the setup)."""
    folder = Folder()
    box: list[Any] = []

    async def setup() -> None:
        store = SQLiteStore(folder.path / "run.db") if journaled else None
        runner = Runner(keyed_sessions() if keyed else producer_consumer(), {}, store=store)
        await runner.start()
        if keyed:
            runner.add_tokens("inbox", range(KEYS))
            await runner.run_until_idle()
        box.extend([runner, store])

    async def teardown() -> None:
        runner, store = box
        await runner.stop()
        if store is not None:
            await store.close()
        folder.remove()

    async def fire(n: int) -> None:
        runner = box[0]
        if keyed:
            runner.add_tokens("inbox", [i % KEYS for i in range(n)])  # n firings
        else:
            runner.add_tokens("source", range(n // 2))  # n // 2 tokens: n firings
        await runner.run_until_idle()
        await runner.flush()  # journaled: every firing's record is durable now

    contender = MYCORRHIZAL if journaled else IN_MEMORY
    return Case(
        contender,
        WORKLOAD_KEYED_FIRING if keyed else WORKLOAD_FIRING,
        fire,
        TARGET_FIRING_US if journaled and not keyed else None,
        setup=setup,
        teardown=teardown,
    )


def snapshot_cases(tokens: int) -> list[Case]:
    net = producer_consumer()
    box: list[Any] = []

    def setup() -> None:
        if not box:
            runner = Runner(net)
            runner.add_tokens("queue", range(tokens))
            box.extend([runner, runner.snapshot()])

    def snapshot(n: int) -> None:
        for _ in range(n):
            box[0].snapshot()

    def restore(n: int) -> None:
        for _ in range(n):
            Runner.restore(net, box[1])

    return [
        Case(
            MYCORRHIZAL,
            WORKLOAD_SNAPSHOT,
            snapshot,
            TARGET_SNAPSHOT_S,
            ops=1,
            unit="s",
            scale=1.0,
            setup=setup,
        ),
        Case(
            MYCORRHIZAL, WORKLOAD_RESTORE, restore, TARGET_SNAPSHOT_S, ops=1, unit="s", scale=1.0, setup=setup
        ),
    ]


@septum.state(config=StateConfiguration(can_dwell=True))
class Session:
    """One machine per key: routes each token to ``done`` and waits for the next."""

    @septum.on_state
    def on_state(ctx: Any) -> None:
        if ctx.msg is not None:
            ctx.msg.route("done")


def keyed_sessions() -> NetSpec:
    """``inbox -> work -> done``; ``work`` runs one ``Session`` machine per token (its own key)."""

    @pn.net
    def Sessions(builder: Any) -> None:
        inbox, done = builder.place("inbox"), builder.place("done")

        @builder.transition(fsm=Session, fsm_key=lambda token: token, inputs=[inbox], outputs=[done])
        async def work(consumed: Any, bb: Any, timebase: Any) -> None:
            return None

    net: NetSpec = Sessions
    return net


def machine_cases(machines: int) -> list[Case]:
    net = keyed_sessions()
    box: list[Any] = []

    async def setup() -> None:
        if not box:
            runner = Runner(net, {})
            runner.add_tokens("inbox", range(machines))
            await runner.run_until_idle()
            box.extend([runner, runner.snapshot()])

    def snapshot(n: int) -> None:
        for _ in range(n):
            box[0].snapshot()

    def restore(n: int) -> None:
        for _ in range(n):
            Runner.restore(net, box[1], {})

    options: dict[str, Any] = {"ops": 1, "unit": "s", "scale": 1.0, "setup": setup}
    return [
        Case(MYCORRHIZAL, WORKLOAD_MACHINES_SNAPSHOT, snapshot, TARGET_MACHINES_S, **options),
        Case(MYCORRHIZAL, WORKLOAD_MACHINES_RESTORE, restore, TARGET_MACHINES_S, **options),
    ]


# --- peers ---------------------------------------------------------------------------------------


def sqlite_case(contender: str, workload: str, synchronous: str, *, commit_each: bool) -> Case:
    folder = Folder()
    box: list[sqlite3.Connection] = []
    seqs = [0]

    def setup() -> None:
        connection = sqlite3.connect(folder.path / "plain.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute(
            "CREATE TABLE journal (run INTEGER, seq INTEGER, kind TEXT, payload TEXT, PRIMARY KEY (run, seq))"
        )
        box.append(connection)

    def teardown() -> None:
        box[0].close()
        folder.remove()

    def one_transaction(n: int) -> None:
        connection, dumps = box[0], json.dumps
        execute = connection.execute
        execute("BEGIN")
        for seq in range(seqs[0] + 1, seqs[0] + 1 + n):
            execute("INSERT INTO journal VALUES (1, ?, 'fire', ?)", (seq, dumps(record(seq))))
        execute("COMMIT")
        seqs[0] += n

    def commit_every_record(n: int) -> None:
        connection, dumps = box[0], json.dumps
        execute = connection.execute
        for seq in range(seqs[0] + 1, seqs[0] + 1 + n):
            execute("BEGIN")
            execute("INSERT INTO journal VALUES (1, ?, 'fire', ?)", (seq, dumps(record(seq))))
            execute("COMMIT")
        seqs[0] += n

    run: Callable[[int], None] = commit_every_record if commit_each else one_transaction
    return Case(contender, workload, run, setup=setup, teardown=teardown)


# --- run -----------------------------------------------------------------------------------------


def cases(settings: Settings) -> list[Case]:
    """Every timed case, grouped by workload so the table reads contender beside contender.

    Group commit needs samples long enough to amortise a commit: those cases get a fixed size.
    """
    grouped = settings.scale(20_000, 200)
    single = settings.scale(200, 5)
    every = [
        (store_case(WORKLOAD_FULL, "FULL"), grouped),
        (sqlite_case(FLOOR, WORKLOAD_FULL, "FULL", commit_each=False), grouped),
        (sqlite_case(NAIVE, WORKLOAD_FULL, "FULL", commit_each=True), single),
        (store_case(WORKLOAD_NORMAL, "NORMAL"), grouped),
        (sqlite_case(FLOOR, WORKLOAD_NORMAL, "NORMAL", commit_each=False), grouped),
        (sqlite_case(NAIVE, WORKLOAD_NORMAL, "NORMAL", commit_each=True), single),
        (store_case(WORKLOAD_SINGLE, "FULL", flush_each=True), single),
        (sqlite_case(NAIVE, WORKLOAD_SINGLE, "FULL", commit_each=True), single),
        (store_case(WORKLOAD_CODEC, "FULL", codec=True), grouped),
        (firing_case(journaled=True), grouped),
        (firing_case(journaled=False), grouped),
        (firing_case(journaled=True, keyed=True), grouped),
        (firing_case(journaled=False, keyed=True), grouped),
    ]
    for case, ops in every:
        case.ops = ops
    return (
        [case for case, _ in every]
        + snapshot_cases(settings.scale(1_000_000, 1_000))
        + machine_cases(settings.scale(100_000, 1_000))
    )


DERIVED = [
    Derived(
        MYCORRHIZAL,
        WORKLOAD_OVERHEAD,
        (MYCORRHIZAL, WORKLOAD_FULL),
        (FLOOR, WORKLOAD_FULL),
        note="what the writer thread, group commit and fencing add to a plain insert loop",
    )
]


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""
    return run_benchmark(
        argv,
        __doc__,
        name="durability",
        peers=(),
        cases=cases,
        derived=DERIVED,
        unit=", microseconds per record",
        rounds=21,
    )


if __name__ == "__main__":
    main()
