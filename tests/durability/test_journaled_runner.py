"""A hypha Runner with a store: every committed step journaled, recovery rebuilding the last committed
state, idempotency keys, periodic snapshots and what a failing store does."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import (
    CodecError,
    CodecRegistry,
    DefinitionError,
    HandlerError,
    ManualClock,
    RecordedError,
    StoreBusyError,
    StoreClosedError,
    StoreError,
)
from mycorrhizal.durability import MemoryStore, SQLiteStore
from mycorrhizal.hypha import FailedToken, NetBuilder, NetSpec, PlaceType, Runner
from tests.hypha.test_snapshot import Note, notes


def shop(gate: asyncio.Event | None = None, keys: list[str] | None = None) -> NetSpec:
    """orders -> pack (remembers a count; waits for ``gate`` if given) -> packed -> ship -> shipped;
    ``reject`` parks odd orders over 100 in ``broken``; ``audit`` is a BAG."""
    b = NetBuilder("Shop")
    orders, packed, shipped = b.place("orders"), b.place("packed"), b.place("shipped")
    broken, audit = b.place("broken"), b.place("audit", type=PlaceType.BAG)

    @b.transition(inputs=[orders], outputs=[packed, audit], on_error=broken)
    async def pack(consumed: Any, bb: Any, tb: Any, ctx: Any) -> Any:
        if keys is not None:
            keys.append(ctx.idempotency_key)
        if gate is not None:
            await gate.wait()
        order = consumed[0]
        if order > 100 and order % 2:
            raise ValueError(f"order {order} is odd")
        ctx.memory["packed"] = ctx.memory.get("packed", 0) + 1
        return {packed: ("box", order), audit: order}

    @b.transition(inputs=[packed], outputs=[shipped])
    def ship(consumed: Any, bb: Any, tb: Any) -> Any:
        return {shipped: consumed[0][1]}

    return b.build()


def state(runner: Runner) -> Any:
    return (
        {name: tokens for name, tokens in runner.marking().items()},
        runner.fired(),
        dict(runner.memory("pack")),
    )


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(tmp_path / "run.db", commit_interval=0.0005)


async def test_recovery_rebuilds_the_committed_state(store: Any) -> None:
    runner = Runner(shop(), store=store)
    runner.add_tokens("orders", [1, 2, 101, 3])
    await runner.run_until_idle()
    runner.add_token("orders", 4)  # journaled, not fired yet
    await runner.flush()
    before = state(runner)
    recovered = await Runner.recover(shop(), store)
    assert state(recovered) == before
    assert recovered.tokens("broken") == (FailedToken(101, ValueError(), "Shop.pack", "Shop.orders"),)
    assert isinstance(recovered.tokens("broken")[0].error, RecordedError)
    await recovered.run_until_idle()
    assert recovered.tokens("shipped") == (1, 2, 3, 4)
    await store.close()


async def test_every_committed_step_is_one_record() -> None:
    store = MemoryStore()
    runner = Runner(shop(), store=store)
    await runner.start()
    runner.add_tokens("orders", [1, 103])
    await runner.run_until_idle()
    recovery = await store.load("Shop")
    assert recovery is not None and recovery.snapshot is not None
    assert recovery.snapshot.seq == 0  # where the run started: the net's initial marking
    kinds = [(r.kind, r.payload.get("t") or r.payload.get("place")) for r in recovery.records]  # type: ignore[union-attr]
    assert kinds == [
        ("add", "Shop.orders"),
        ("fire", "Shop.pack"),
        ("fire", "Shop.ship"),
        ("park", "Shop.pack"),
    ]
    fire = recovery.records[1].payload
    assert fire == {
        "t": "Shop.pack",
        "in": [1],
        "out": [["Shop.packed", [{"$t": "tuple", "v": ["box", 1]}]], ["Shop.audit", [1]]],
        "id": 3,
        "m": {"packed": 1},
    }


@pytest.mark.parametrize(
    "token", ['say "hi" \\ é\n', "", 2**53, 2**60, -7, True, None, 1.5, ("a", 1), {"k": [1, "é"]}]
)
async def test_a_fired_token_is_journaled_as_itself(store: Any, token: Any) -> None:
    # The recorder writes a firing's record as JSON text itself (one str or int token without the
    # general encoder): what comes back must be the token, whatever its text needs.
    b = NetBuilder("Move")
    inbox, done = b.place("inbox"), b.place("done")

    @b.transition(inputs=[inbox], outputs=[done])
    async def move(consumed: Any, bb: Any, tb: Any) -> Any:
        return {done: consumed[0]}

    runner = Runner(b.build(), store=store)
    runner.add_token("inbox", token)
    await runner.run_until_idle()
    await runner.flush()
    recovered = await Runner.recover(b.build(), store)
    assert recovered.tokens("done") == (token,) and type(recovered.tokens("done")[0]) is type(token)
    await store.close()


async def test_a_firing_in_flight_at_a_crash_runs_again_with_the_same_key() -> None:
    store = MemoryStore()
    gate, keys = asyncio.Event(), []
    crashed = Runner(shop(gate, keys), store=store, run="shop-1")
    crashed.add_tokens("orders", [10, 20])
    await crashed.start()
    await asyncio.sleep(0)
    assert len(keys) == 2 and crashed.in_flight == 2
    # The process dies here: nothing of the two firings was committed.
    gate2, keys2 = asyncio.Event(), []
    recovered = await Runner.recover(shop(gate2, keys2), store, run="shop-1")
    assert recovered.tokens("orders") == (10, 20)
    gate2.set()
    await recovered.run_until_idle()
    assert keys2 == keys
    assert keys == ["shop-1/Shop.pack/1", "shop-1/Shop.pack/2"]
    assert recovered.tokens("shipped") == (10, 20)
    gate.set()
    await asyncio.sleep(0)  # the fenced runner's firings commit in memory only
    with pytest.raises(StoreError, match="taken over by a newer writer"):
        await crashed.flush()


async def test_a_fenced_runner_stops_firing() -> None:
    store = MemoryStore()
    old = Runner(shop(), store=store)
    await old.start()
    await Runner.recover(shop(), store)  # another process took the run over
    old.add_token("orders", 5)
    with pytest.raises(StoreError, match="taken over by a newer writer"):
        await old.run_until_idle()
    assert not old.running
    assert "the runner stopped firing" in str(old.errors[-1])
    with pytest.raises(StoreError, match="failed earlier"):
        await old.start()


async def test_periodic_snapshots_bound_what_recovery_replays() -> None:
    store = MemoryStore()
    runner = Runner(shop(), store=store, snapshot_every=10)
    for number in range(40):
        runner.add_token("orders", number * 2)
        await runner.run_until_idle()
    (info,) = await store.runs()
    assert info.snapshot_seq is not None and info.snapshot_seq > 100
    recovery = await store.load("Shop")
    assert recovery is not None and recovery.snapshot is not None
    held = sum(map(len, recovery.snapshot.document["places"].values()))  # type: ignore[index, union-attr]
    # A snapshot comes after snapshot_every records, or as many as the last one held tokens
    assert len(recovery.records) <= max(10, held) + 2
    recovered = await Runner.recover(shop(), store)
    assert state(recovered) == state(runner)


async def test_retry_deadlines_survive_a_crash() -> None:
    b = NetBuilder("Retry")
    inbox, out = b.place("inbox"), b.place("out")

    @b.transition(inputs=[inbox], outputs=[out], retry_delay=5.0)
    def wait(consumed: Any, bb: Any, tb: Any) -> Any:
        if tb.now() < consumed[0]:
            raise RuntimeError("too early")
        return {out: consumed[0]}

    store, clock = MemoryStore(), ManualClock()
    runner = Runner(b.build(), timebase=clock, store=store)
    await clock.run_for(2.0)
    runner.add_token("inbox", 4.0)
    await runner.run_until_idle()  # fails at 2.0: retried at 7.0
    later = ManualClock(3.0)
    recovered = await Runner.recover(b.build(), store, timebase=later)
    await recovered.start()
    assert [s.retry_at for s in recovered.stuck()] == [7.0]
    await later.run_for(3.99)
    await recovered.run_until_idle()
    assert recovered.tokens("out") == ()
    await later.run_for(0.01)
    await recovered.run_until_idle()
    assert recovered.tokens("out") == (4.0,)


async def test_sink_deliveries_are_journaled_and_undelivered_tokens_delivered_again() -> None:
    delivered: list[Any] = []
    gate = asyncio.Event()

    def net() -> NetSpec:
        b = NetBuilder("Mail")
        inbox = b.place("inbox")

        async def send(token: Any, bb: Any, tb: Any) -> None:
            if token == "slow":
                await gate.wait()
            delivered.append((bb, token))

        outbox = b.io_output_place("outbox", send)

        @b.transition(inputs=[inbox], outputs=[outbox])
        def post(consumed: Any, bb: Any, tb: Any) -> Any:
            return {outbox: consumed[0]}

        return b.build()

    store = MemoryStore()
    runner = Runner(net(), "crashed", store=store)
    runner.add_tokens("inbox", ["a", "slow", "b"])
    await runner.start()
    await asyncio.sleep(0)
    assert delivered == [("crashed", "a")]  # "slow" is being delivered, "b" waits behind it
    recovered = await Runner.recover(net(), store, "recovered")
    assert recovered.tokens("outbox") == ("slow", "b")  # at-least-once: "slow" is delivered again
    gate.set()
    await recovered.run_until_idle()
    assert [token for who, token in delivered if who == "recovered"] == ["slow", "b"]


async def test_what_the_journal_cannot_write_down_fails_early() -> None:
    b = NetBuilder("Odd")
    inbox, out = b.place("inbox"), b.place("out")

    @b.transition(inputs=[inbox], outputs=[out], retry_delay=None)
    def wrap(consumed: Any, bb: Any, tb: Any) -> Any:
        return {out: object()}

    runner = Runner(b.build(), store=MemoryStore())
    await runner.start()
    with pytest.raises(CodecError, match="a token for place 'Odd.inbox' cannot be journaled"):
        runner.add_token("inbox", object())
    assert runner.tokens("inbox") == ()
    runner.add_token("inbox", 1)
    await runner.run_until_idle()
    assert runner.tokens("inbox") == (1,)  # the firing failed: its output cannot be journaled
    assert "a token for place 'Odd.out' cannot be journaled" in str(runner.errors[-1])


FIX = r"\. Fix: "
UNREGISTERED = rf"cannot encode a [\w.]*\bNote: its type is not registered{FIX}"
JOURNAL_FIXES = pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        # No registry passed: registering Note in one would not reach the runner; say to pass one.
        (
            None,
            r"make a CodecRegistry, registry\.register\(Note\) \(.*\), and pass it: Runner\(\.\.\., "
            r"codecs=registry\), and Runner\.recover\(\.\.\., codecs=registry\) to recover the run",
        ),
        (CodecRegistry(), r"registry\.register\(Note\) \([^)]*\)"),
    ],
    ids=["no registry", "a registry"],
)


@JOURNAL_FIXES
async def test_a_token_the_journal_cannot_write_down_is_named_with_one_fix(
    codecs: CodecRegistry | None, fix: str
) -> None:
    runner = Runner(notes("token"), timebase=ManualClock(), codecs=codecs, store=MemoryStore())
    await runner.start()
    with pytest.raises(
        CodecError, match=rf"^a token for place 'Notes\.p' cannot be journaled: {UNREGISTERED}{fix}$"
    ) as caught:
        runner.add_token("p", Note(0))
    assert str(caught.value).count("Fix:") == 1
    runner.add_token("p", 1)
    await runner.run_until_idle()  # keep puts a Note in q: the firing fails, saying why
    error = runner.errors[-1].__cause__
    assert re.fullmatch(rf"a token for place 'Notes\.q' cannot be journaled: {UNREGISTERED}{fix}", str(error))
    with pytest.raises(
        HandlerError,
        match=rf"^transition 'Notes\.keep' failed with CodecError: a token for place 'Notes\.q' cannot be "
        rf"journaled: {UNREGISTERED.removesuffix(FIX)}; its 1 consumed token\(s\) were returned to "
        rf"their input places; it is retried in 0\.1 s, or when a new token reaches one of its "
        rf"inputs{FIX}{fix}$",
    ) as failed:
        raise runner.errors[-1]  # the firing's failure: its fix last, once
    assert str(failed.value).count("Fix:") == 1
    await runner.stop()


@JOURNAL_FIXES
async def test_a_memory_the_journal_cannot_write_down_is_named_with_one_fix(
    codecs: CodecRegistry | None, fix: str
) -> None:
    runner = Runner(notes("memory"), timebase=ManualClock(), codecs=codecs, store=MemoryStore())
    runner.add_token("p", 1)
    failure = (
        r"the ctx\.memory of transition 'Notes\.keep' cannot be written down \(a journaled net keeps in "
        rf"ctx\.memory only what its codecs encode\): {UNREGISTERED}{fix}"
    )
    with pytest.raises(StoreError, match=rf"^{failure}$") as caught:
        await runner.run_until_idle()
    assert str(caught.value).count("Fix:") == 1
    with pytest.raises(StoreError, match=rf"^the journal of run 'Notes' failed: {failure}$"):
        await runner.flush()


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        (
            None,
            r"make a CodecRegistry, register the class under that name, registry\.register\(TheClass, "
            r"name='[\w.]*\bNote'\), and pass it: Runner\.recover\(\.\.\., codecs=registry\), the registry "
            r"the run was journaled with",
        ),
        (
            CodecRegistry(),
            r"register the class under that name, registry\.register\(TheClass, name='[\w.]+'\)",
        ),
    ],
    ids=["no registry", "a registry"],
)
async def test_a_run_recovered_without_its_codecs_is_named_with_one_fix(
    codecs: CodecRegistry | None, fix: str
) -> None:
    known, store = CodecRegistry(), MemoryStore()
    known.register(Note)
    runner = Runner(notes("token"), timebase=ManualClock(), codecs=known, store=store)
    runner.add_token("p", 1)
    await runner.run_until_idle()
    await runner.stop()
    with pytest.raises(
        CodecError,
        match=rf"^a token in place 'Notes\.q' in the document cannot be read: unknown type '[\w.]*\bNote' in "
        rf"the document: this registry has no codec for it\. Fix: {fix}$",
    ) as caught:
        await Runner.recover(notes("token"), store, codecs=codecs)
    assert str(caught.value).count("Fix:") == 1


async def test_a_fresh_runner_refuses_a_run_that_has_a_journal() -> None:
    store = MemoryStore()
    await Runner(shop(), store=store).start()
    with pytest.raises(StoreError, match=r"run 'Shop' already has a journal .* Runner.recover"):
        await Runner(shop(), store=store).start()


async def test_keys_need_a_store_and_options_are_checked() -> None:
    b = NetBuilder("Keys")
    inbox = b.place("inbox")
    seen: list[BaseException] = []

    @b.transition(inputs=[inbox])
    def peek(consumed: Any, bb: Any, tb: Any, ctx: Any) -> None:
        try:
            seen.append(AssertionError(ctx.idempotency_key))
        except HandlerError as exc:
            seen.append(exc)

    runner = Runner(b.build())
    runner.add_token("inbox", 1)
    await runner.run_until_idle()
    assert "only a runner with a store" in str(seen[0])
    with pytest.raises(
        DefinitionError,
        match=re.escape("Runner: store='run.db' is not a store. Fix: pass e.g. SQLiteStore('run.db')"),
    ) as info:
        Runner(b.build(), store="run.db", run="", snapshot_every=0, codecs={})  # type: ignore[arg-type]
    text = str(info.value)
    assert "is not a store" in text and "non-empty str" in text and "positive int" in text
    assert "is not a CodecRegistry" in text


async def test_recovering_a_run_that_does_not_exist_starts_it() -> None:
    store = MemoryStore()
    codecs = CodecRegistry()
    runner = await Runner.recover(shop(), store, codecs=codecs, run="new")
    assert runner.run == "new" and runner.codecs is codecs
    runner.add_token("orders", 1)
    await runner.run_until_idle()
    again = await Runner.recover(shop(), store, run="new")
    assert again.tokens("shipped") == (1,)


async def test_sources_sinks_and_their_failures_are_journaled() -> None:
    attempts: list[Any] = []

    def net() -> NetSpec:
        b = NetBuilder("Io")

        async def feed(bb: Any, tb: Any) -> Any:
            for number in (1, 2, 3):
                yield number

        inbox = b.io_input_place("inbox", feed)
        bounced = b.place("bounced")

        def strict(token: Any, bb: Any, tb: Any) -> None:
            attempts.append(token)
            if token == 2:
                raise ConnectionError("mail server down")

        def picky(token: Any, bb: Any, tb: Any) -> None:
            raise ValueError(f"{token} refused")

        outbox = b.io_output_place("outbox", strict)
        refused = b.io_output_place("refused", picky, on_error=bounced)

        @b.transition(inputs=[inbox], outputs=[outbox, refused])
        def route(consumed: Any, bb: Any, tb: Any) -> Any:
            return {outbox: consumed[0], refused: consumed[0] * 10}

        return b.build()

    store, clock = MemoryStore(), ManualClock()
    runner = Runner(net(), timebase=clock, store=store)
    await runner.run_until_idle()
    assert attempts == [1, 2, 2]  # 2 failed, and again when 3 arrived: the sink is held back
    held = [(s.name, s.kind, s.retry_at) for s in runner.stuck()]
    assert held == [("Io.outbox", "sink", 0.2)]  # the second failure in a row: backoff 0.2 s
    await runner.stop()
    recovery = await store.load("Io")
    assert recovery is not None
    assert {r.kind for r in recovery.records} == {"add", "fire", "deliver", "park", "sink_block"}
    recovered = await Runner.recover(net(), store, timebase=ManualClock(clock.now()))
    assert recovered.tokens("outbox") == (2, 3)
    assert [t.token for t in recovered.tokens("bounced")] == [10, 20, 30]
    assert recovered.tokens("refused") == ()
    await recovered.start()
    assert [(s.name, s.kind, s.retry_at) for s in recovered.stuck()] == held  # the deadline it had


async def test_a_restored_runner_with_a_store_journals_a_new_run_from_its_state() -> None:
    store = MemoryStore()
    original = Runner(shop())
    original.add_tokens("orders", [1, 2])
    restored = Runner.restore(shop(), original.snapshot(), store=store, run="copy")
    await restored.run_until_idle()
    recovered = await Runner.recover(shop(), store, run="copy")
    assert recovered.tokens("shipped") == (1, 2)


async def test_a_memory_the_journal_cannot_write_down_stops_the_run() -> None:
    b = NetBuilder("Locks")
    inbox, out = b.place("inbox"), b.place("out")

    @b.transition(inputs=[inbox], outputs=[out])
    def keep(consumed: Any, bb: Any, tb: Any, ctx: Any) -> Any:
        ctx.memory["lock"] = asyncio.Lock()
        return {out: consumed[0]}

    runner = Runner(b.build(), store=MemoryStore())
    runner.add_token("inbox", 1)
    with pytest.raises(StoreError, match=r"the ctx.memory of transition 'Locks.keep' cannot be written down"):
        await runner.run_until_idle()
    assert not runner.running
    with pytest.raises(StoreError, match="a journaled net keeps in ctx.memory only what its codecs encode"):
        await runner.flush()


# -- what is added before the first start() ------------------------------------------------------------


async def crash(store: Any, path: Path) -> SQLiteStore:
    """The process dies: only what is in the file counts (a new store reads it)."""
    await store.close()
    return SQLiteStore(path, commit_interval=0.0005)


async def flushed(runner: Runner) -> None:
    await runner.flush()


async def started_and_flushed(runner: Runner) -> None:
    await runner.start()
    await runner.flush()


async def stopped_after_a_start(runner: Runner) -> None:
    await runner.start()
    await runner.stop()


@pytest.mark.parametrize("durable", [flushed, started_and_flushed, stopped_after_a_start])
async def test_tokens_added_before_the_first_start_survive_a_crash(durable: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=0.0005)
    runner = Runner(shop(), store=store, timebase=ManualClock())
    runner.add_tokens("orders", [1, 2])
    await durable(runner)
    runner.add_token("orders", 3)  # (not started, or stopped: journaled, not fired)
    await runner.flush()
    store = await crash(store, path)
    recovered = await Runner.recover(shop(), store, timebase=ManualClock())
    assert sorted(recovered.tokens("orders") + recovered.tokens("shipped")) == [1, 2, 3]
    await recovered.run_until_idle()
    assert recovered.tokens("shipped") == (1, 2, 3)
    await store.close()


async def test_a_flush_before_the_first_start_opens_the_run(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "run.db")
    runner = Runner(shop(), store=store)
    runner.add_token("orders", 1)
    await runner.flush()
    with pytest.raises(StoreError, match=r"run 'Shop' already has a journal .* Runner.recover"):
        await Runner(shop(), store=store).flush()
    await runner.run_until_idle()
    assert runner.tokens("shipped") == (1,)
    await store.close()


@pytest.mark.parametrize("add", ["add_token", "add_tokens"])
async def test_a_token_the_journal_cannot_write_down_is_refused_before_the_first_start_too(
    add: str, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    store = SQLiteStore(path)
    runner = Runner(shop(), store=store)
    runner.add_token("orders", 1)
    with pytest.raises(CodecError, match="a token for place 'Shop.orders' cannot be journaled"):
        if add == "add_token":
            runner.add_token("orders", object())
        else:
            runner.add_tokens("orders", [2, object()])
    assert runner.tokens("orders") == (1,)
    await runner.run_until_idle()  # the journal opens: it can write down what the runner holds
    assert runner.tokens("shipped") == (1,)
    await runner.stop()
    store = await crash(store, path)
    assert (await Runner.recover(shop(), store)).tokens("shipped") == (1,)
    await store.close()


async def taken_over(path: Path) -> None:
    """Another process recovers the run: its store fences this one's next commit."""
    other = SQLiteStore(path)
    await Runner.recover(shop(), other)
    await other.close()


async def disk_full(path: Path) -> None:
    """The disk refuses writes, as far as the store can tell."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(
        "CREATE TRIGGER full BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    connection.close()


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (taken_over, "run 'Shop' was taken over by a newer writer"),
        (disk_full, "could not commit run 'Shop': disk full"),
    ],
    ids=["fenced", "disk full"],
)
async def test_a_commit_that_fails_in_the_store_stops_the_runner_when_its_flush_finds_it(
    tmp_path: Path, failure: Any, cause: str
) -> None:
    # SQLiteStore finds both when it commits, after the appends: flush() raised the store's error, not
    # naming the run, while the runner went on firing and runner.errors held nothing.
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=60.0)  # (a commit only when flushed)
    runner = Runner(shop(), store=store, timebase=ManualClock())
    await runner.flush()
    await failure(path)
    runner.add_token("shipped", 5)  # appended; refused when committed
    with pytest.raises(StoreError, match=f"^the journal of run 'Shop' failed: .*{cause}"):
        await runner.flush()
    assert not runner.running
    assert "the runner stopped firing" in str(runner.errors[-1])
    with pytest.raises(StoreError, match="failed earlier"):
        await runner.start()
    if failure is disk_full:  # the store stopped writing: closing says why once more
        with pytest.raises(StoreError, match=cause):
            await store.close()
    await store.close()


async def test_a_busy_file_is_reported_by_flush_and_the_runner_goes_on(tmp_path: Path) -> None:
    # Another connection holding the file's write lock past busy_timeout stopped the runner for good.
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=60.0, busy_timeout=0.01)  # (a commit only when flushed)
    runner = Runner(shop(), store=store, timebase=ManualClock())
    await runner.flush()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    runner.add_token("orders", 1)
    with pytest.raises(
        StoreBusyError,
        match=r"could not commit run 'Shop': another connection held .*\. "
        r"Fix: raise SQLiteStore\(busy_timeout=\.\.\.\) or stop the other writer$",
    ):
        await runner.flush()
    other.execute("ROLLBACK")
    other.close()
    await runner.start()
    await runner.run_until_idle()
    await runner.stop()  # flushes
    assert not runner.errors
    assert (await Runner.recover(shop(), store)).tokens("shipped") == (1,)
    await store.close()


@pytest.mark.parametrize("begin", ["flush", "start"])
async def test_a_busy_file_met_when_the_journal_opens_names_the_run(tmp_path: Path, begin: str) -> None:
    # Opening the journal found the file busy and said "could not do what was asked", not which run.
    path = tmp_path / "run.db"
    store = SQLiteStore(path, busy_timeout=0.01)
    runner = Runner(shop(), store=store, run="shop-1", timebase=ManualClock())
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(
        StoreBusyError,
        match=r"could not open the journal of run 'shop-1': another connection held .*\. "
        r"Fix: raise SQLiteStore\(busy_timeout=\.\.\.\) or stop the other writer$",
    ):
        await getattr(runner, begin)()
    other.execute("ROLLBACK")
    other.close()
    await runner.flush()  # the file is free again: the journal opens
    assert [info.run for info in await store.runs()] == ["shop-1"]
    await store.close()


@pytest.mark.parametrize("journaled", [False, True], ids=["closed before the start", "closed after a start"])
async def test_a_closed_store_is_named_with_the_run_and_what_to_do(store: Any, journaled: bool) -> None:
    # Starting said "the store ... is closed" without the run, and a journal closed with its store
    # said "Fix: open_journal() again", which means nothing to a Runner's user.
    runner = Runner(shop(), store=store, run="shop-1", timebase=ManualClock())
    if journaled:
        await runner.start()
        await runner.stop()
    await store.close()
    fix = (
        r"run 'shop-1' .*: its store .* (is|was) closed\. Fix: open a new store \(a closed one stays "
        r"closed\) and continue the run from it: Runner\.recover\(net, store, run='shop-1'\)$"
    )
    if journaled:
        runner.add_token("orders", 1)  # the journal refuses it: the runner stops
        assert re.search(fix, str(runner.errors[-1])), runner.errors[-1]
    else:
        with pytest.raises(StoreClosedError, match=fix):
            await Runner.recover(shop(), store, run="shop-1")
    with pytest.raises(StoreClosedError, match=fix):
        await runner.start()
    with pytest.raises(StoreClosedError, match=fix):
        await runner.flush()
