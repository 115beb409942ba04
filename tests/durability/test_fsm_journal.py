"""A journaled net with fsm= machines: every machine's change is journaled, recovery restores them.

The crash tests (test_hypha_crash.py) kill processes running such a net; these check the records
and what recovery rebuilds on every store (SQLite, memory, Redis: drop-ins for each other).
"""

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mycorrhizal.cli.stores import store_report
from mycorrhizal.common import CodecError, CodecRegistry, ManualClock, Store, StoreError
from mycorrhizal.durability import MemoryStore, SQLiteStore
from mycorrhizal.hypha import Runner
from mycorrhizal.hypha.replay import replay
from mycorrhizal.mycelium import LabeledTransition, StateConfiguration, machines, pn
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import septum

from ..mycelium.test_eviction import Idle as keyed_machine
from ..mycelium.test_eviction import Parked, keyed
from ..mycelium.test_machine_snapshot import FUSED, Charted, ops, play
from .conftest import StoreFactory

NET = keyed()


def states(runner: Runner) -> dict[str, str]:
    return {key: fsm.current_state.name for key, fsm in machines(runner, "work").items()}


def deadline(runner: Runner, key: str) -> Any:
    return machines(runner, "work")[key].snapshot(blackboard=False)["timer"]


async def records(store: Store, run: str = "k") -> list[tuple[str, Any]]:
    recovery = await store.load(run)
    assert recovery is not None
    return [(r.kind, r.payload) for r in recovery.records]


async def test_every_change_of_a_machine_is_journaled_and_recovered(make_store: StoreFactory) -> None:
    store, clock = await make_store(), ManualClock()
    runner = Runner(NET, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_tokens("inbox", ["a:x", "b:close", "c:park"])
    await runner.run_until_idle()
    await clock.run_for(50.0)
    runner.add_token("inbox", "a:close")  # a closes until t=150
    await runner.run_until_idle()
    await clock.run_for(60.0)  # b reopens at t=100, with no token: outside any firing
    await runner.flush()
    kinds = [kind for kind, _ in await records(store)]
    assert kinds == ["add", "fire", "fire", "fire", "add", "fire", "memory"]
    fire = (await records(store))[5][1]
    assert fire["in"] == [7] and fire["mc"] == [
        ["machine pool", {"rows": [["machines", "a", ["a", "Closed", {"timer": {"deadline": 150.0}}], 0]]}]
    ]
    assert (await records(store))[6][1] == {
        "t": "Keyed.work",
        "k": "machine pool",
        "c": {"rows": [["machines", "b", ["b", "Idle"], 0]]},
    }
    # The process dies here: another store object on the same file (or keys) recovers the run.
    later = ManualClock(clock.now())
    recovered = await Runner.recover(NET, await make_store(), {}, later, run="k")
    assert states(recovered) == {"a": "Closed", "b": "Idle", "c": "Parked"}
    assert deadline(recovered, "a") == {"deadline": 150.0}  # its original deadline
    await later.run_for(39.9)
    assert states(recovered)["a"] == "Closed"
    await later.run_for(0.1)  # t=150: no token, the restored timer alone reopens a
    assert states(recovered)["a"] == "Idle"
    await recovered.flush()
    again = await Runner.recover(NET, await make_store(), {}, ManualClock(later.now()), run="k")
    assert states(again) == {"a": "Idle", "b": "Idle", "c": "Parked"}  # the reopening was journaled
    await recovered.stop()


def seen(runner: Runner) -> Any:
    pool = machines(runner, "work")
    return (
        sorted(runner.tokens("done")),
        sorted(str(t) for t in runner.tokens("refused")),
        [(key, fsm.snapshot(blackboard=False)) for key, fsm in pool.items()],  # in LRU order
        (pool.evicted_idle, pool.evicted_lru, pool.evicted_lru_active),
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"fsm_max_machines": 2}, {"fsm_idle_ttl": 30.0}, {"fsm_max_machines": 2, "fsm_idle_ttl": 30.0}],
    ids=["kept", "max-machines", "idle-ttl", "both"],
)
@settings(max_examples=12, deadline=None)
@given(first=ops, then=ops, every=st.sampled_from([1, 3, 1000]))
# a stays Closed past its idle time: the sweep at t=70 looks again at t=100, journaled, so the
# recovered pool does not sweep at once (t=80), then evict a at t=110 when the uninterrupted run does not
@example(first=["a:close", 40.0, "a:x", 40.0], then=[40.0], every=1)
def test_a_recovered_net_continues_as_the_crashed_one_would_have(
    options: dict[str, Any], first: list[Any], then: list[Any], every: int
) -> None:
    net = keyed(**options)

    async def scenario() -> None:
        clock, bb = ManualClock(), {}
        whole = Runner(net, bb, clock)
        await whole.start()
        await play(whole, clock, first + then)

        store, clock, bb = MemoryStore(), ManualClock(), {}
        before = Runner(net, bb, clock, store=store, run="k", snapshot_every=every)
        await before.start()
        await play(before, clock, first)
        await before.stop()  # (flushes; closing its machines writes nothing) the process dies here
        later = ManualClock(clock.now())
        after = await Runner.recover(net, store, copy.deepcopy(bb), later, run="k")
        await after.start()
        await play(after, later, then)
        assert seen(after) == seen(whole)
        await whole.stop()
        await after.stop()

    asyncio.run(scenario())


async def test_evictions_are_journaled() -> None:
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(keyed(fsm_max_machines=2, fsm_idle_ttl=30.0), {}, clock, store=store, run="k")
    await runner.start()
    runner.add_tokens("inbox", ["a:x", "b:x", "c:x"])  # c evicts a (least recently used)
    await runner.run_until_idle()
    await clock.run_for(40.0)  # b and c are evicted at rest
    await runner.flush()
    fire = [payload["mc"] for kind, payload in await records(store) if kind == "fire"][-1]
    assert fire == [  # the eviction of a made room for c: it commits with c's firing
        [
            "machine pool",
            {
                "rows": [["machines", "a", None, 0], ["seen", "a", None, 0]]
                + [["machines", "c", ["c", "Idle"], 1], ["seen", "c", ["c", 0.0], 1]],
                "set": {"evicted": [0, 1, 0]},
            },
        ]
    ]
    memory = [payload["c"] for kind, payload in await records(store) if kind == "memory"]
    assert memory == [
        {
            "rows": [["machines", "b", None, 0], ["seen", "b", None, 0], ["machines", "c", None, 0]]
            + [["seen", "c", None, 0]],
            "set": {"evicted": [2, 1, 0]},
        },
    ]
    await runner.stop()
    recovered = await Runner.recover(keyed(fsm_max_machines=2, fsm_idle_ttl=30.0), store, run="k")
    pool = machines(recovered, "work")
    assert dict(pool) == {} and (pool.evicted_idle, pool.evicted_lru) == (2, 1)


@pytest.mark.parametrize("every", [1000, 1], ids=["records", "snapshots"])
async def test_a_journaled_statechart_is_recovered_with_its_active_states_and_timers(every: int) -> None:
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(Charted, {}, clock, store=store, run="k", snapshot_every=every)
    await runner.start()
    runner.add_tokens("inbox", ["a:close", "b:x"])  # a shuts until t=100
    await runner.run_until_idle()
    await clock.run_for(40.0)
    await runner.stop()
    later = ManualClock(40.0)
    recovered = await Runner.recover(Charted, store, {}, later, run="k")
    await recovered.start()
    assert states(recovered) == {"a": "Shut", "b": "Open"}
    await later.run_for(60.0)  # no token: a's recovered timer reopens it at t=100
    await recovered.run_until_idle()
    assert recovered.bb["reopened"] == 1 and states(recovered) == {"a": "Open", "b": "Open"}
    await recovered.stop()


async def test_a_snapshot_waits_while_a_machine_is_in_a_step() -> None:
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(NET, {}, clock, store=store, run="k", snapshot_every=1)
    await runner.start()
    runner.add_token("inbox", "a:slow")  # the machine sleeps 100 s in its step
    for _ in range(5):
        await asyncio.sleep(0)
    assert machines(runner, "work")["a"].current_state.name == "Idle"
    runner.add_token("inbox", "b:x")  # a record while a is in its step: its snapshot waits
    for _ in range(5):
        await asyncio.sleep(0)
    await runner.flush()
    recovery = await store.load("k")
    assert recovery is not None and recovery.snapshot is not None
    assert recovery.snapshot.seq < recovery.last_seq == 2
    await clock.run_for(100.0)
    await runner.run_until_idle()
    await runner.flush()
    recovery = await store.load("k")
    assert recovery is not None and recovery.snapshot is not None and recovery.snapshot.seq > 2
    document = replay(recovery.snapshot.document, recovery.records)
    rows = document["transitions"]["Keyed.work"]["memory"]["machine pool"]["v"]["machines"]  # type: ignore[index]
    assert sorted(rows) == [["a", "Idle"], ["b", "Idle"]]
    await runner.stop()


async def failed_on_its_own(net: Any, snapshot_every: int) -> tuple[Runner, MemoryStore, ManualClock]:
    """A journaled runner of ``net`` (run "k") whose machine of key "a" failed handling its timeout
    in its own run: the failure is kept for a's next firing."""
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="k", snapshot_every=snapshot_every)
    await runner.start()
    runner.add_token("inbox", "a")
    await runner.run_until_idle()
    await clock.run_for(10.0)  # on_timeout raises in a's own run: kept for a's next firing
    await runner.run_until_idle()
    return runner, store, clock


@pytest.mark.parametrize("machine", list(FUSED))
async def test_a_failure_of_a_machine_on_its_own_is_kept_for_its_next_firing(machine: str) -> None:
    net, _, key = FUSED[machine]
    runner, store, clock = await failed_on_its_own(net, snapshot_every=1)
    runner.add_token("inbox", "b")  # a record, whose snapshot of the pool waits while a keeps it
    await runner.run_until_idle()
    await runner.flush()  # the journal did not fail
    runner.add_token("inbox", "a")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")  # neither the journal nor its snapshots took the error
    assert failed.token == "a" and "on_timeout raised RuntimeError: fuse blew" in str(failed.error)
    await runner.flush()
    await runner.stop()
    recovered = await Runner.recover(net, store, {}, ManualClock(clock.now()), run="k")
    assert {k: m.snapshot(blackboard=False)["state"] for k, m in machines(recovered, "work").items()} == {
        "a": key,
        "b": key,
    }
    assert recovered.tokens("done") == ("a", "b")


KEPT = (
    r"^the ctx\.memory of transition 'Fused\.work' cannot be written down: the machine of key 'a' failed "
    r"handling its timeout on its own \(HandlerError: state .*: on_timeout raised RuntimeError: fuse blew"
)


@pytest.mark.parametrize("machine", list(FUSED))
async def test_the_journal_takes_its_snapshots_while_a_machine_keeps_a_failure(machine: str) -> None:
    net, _, key = FUSED[machine]
    runner, store, clock = await failed_on_its_own(net, snapshot_every=2)
    await runner.flush()
    (info,) = await store.runs()
    failed_at = info.last_seq
    for i in range(30):  # other keys' tokens flow (the clock stands still: their timeouts do not fire)
        runner.add_token("inbox", "bc"[i % 2])
        await runner.run_until_idle()
    await runner.flush()
    recovery = await store.load("k")
    assert recovery is not None and recovery.snapshot is not None
    assert recovery.snapshot.seq > failed_at  # the journal snapshots on, as its records write a
    held = sum(map(len, recovery.snapshot.document["places"].values()))  # type: ignore[index, union-attr]
    assert len(recovery.records) <= max(2, held) + 2  # bounded, as for any journaled runner
    # A crash now recovers what committed (the kept failure was in no record either).
    crashed = await Runner.recover(
        net, await cut_at(store, len(recovery.records)), {}, ManualClock(clock.now()), run="k"
    )
    assert {k: m.snapshot(blackboard=False)["state"] for k, m in machines(crashed, "work").items()} == {
        "a": key,
        "b": key,
        "c": key,
    }
    assert crashed.tokens("done") == runner.tokens("done") == ("a", *("bc" * 15))
    await crashed.stop()
    with pytest.raises(CodecError, match=KEPT):  # a user's snapshot would lose it: still refused
        runner.snapshot()
    runner.add_token("inbox", "a")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")  # the next firing for its key still receives the error
    assert failed.token == "a" and "on_timeout raised RuntimeError: fuse blew" in str(failed.error)
    assert [
        row[:2]
        for row in runner.snapshot()["transitions"]["Fused.work"]["memory"]["machine pool"]["v"]["machines"]
    ] == [["a", key], ["b", key], ["c", key]]  # type: ignore[index]
    await runner.stop()


async def test_a_restarted_runner_writes_its_emptied_pool_down() -> None:
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(NET, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_token("inbox", "a:close")
    await runner.run_until_idle()
    await runner.stop()  # closes the machines: a restarted runner starts fresh ones ...
    await runner.start()
    runner.add_token("inbox", "b:x")
    await runner.run_until_idle()
    assert states(runner) == {"b": "Idle"}
    await runner.stop()
    recovered = await Runner.recover(NET, store, timebase=ManualClock(clock.now()), run="k")
    assert states(recovered) == {"b": "Idle"}  # ... and so does recovery


async def test_a_restored_timeout_that_had_fired_is_handled_at_once() -> None:
    clock = ManualClock()
    runner = Runner(NET, {}, clock)
    await runner.start()
    runner.add_token("inbox", "a:close")
    await runner.run_until_idle()
    clock.advance(100.0)  # a's timer fires; a snapshot now has the timeout queued, not yet handled
    document = runner.snapshot()
    pool = document["transitions"]["Keyed.work"]["memory"]["machine pool"]["v"]  # type: ignore[index]
    assert pool["machines"][0][2]["timer"] == {"fired": True}
    await runner.stop()
    restored = Runner.restore(NET, document, {}, ManualClock(100.0))
    await asyncio.sleep(0)
    assert states(restored) == {"a": "Idle"}  # as the machine written down was about to
    assert restored.bb["reopened"] == 1
    await restored.stop()


async def test_inspect_lists_the_machines_recovery_would_rebuild(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "run.db") as store:
        clock = ManualClock()
        runner = Runner(NET, {}, clock, store=store, run="k")
        await runner.start()
        runner.add_tokens("inbox", ["a:close", "b:x"])
        await runner.run_until_idle()
        await runner.stop()
    report = await store_report(str(tmp_path / "run.db"))
    assert "  transition Keyed.work: 2 fsm= machine(s)" in report
    assert '    "a": Closed, timeout at 100' in report
    assert '    "b": Idle' in report


async def cut_at(store: Store, cut: int, run: str = "k") -> MemoryStore:
    """What a crash keeping the run's first ``cut`` records after its snapshot would leave."""
    recovery = await store.load(run)
    assert recovery is not None and recovery.snapshot is not None
    kept = MemoryStore()
    journal = await kept.open_journal(run)
    journal.snapshot(recovery.snapshot.document)
    for record in recovery.records[:cut]:
        journal.append(record.kind, record.payload)
    await journal.flush()
    return kept


async def test_an_lru_eviction_commits_with_the_firing_that_made_room() -> None:
    net = keyed(fsm_max_machines=2)
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_tokens("inbox", ["a:close", "b:x"])  # a closes until t=100
    await runner.run_until_idle()
    runner.add_token("inbox", "c:x")  # evicts a, the least recently used
    await runner.run_until_idle()
    await runner.stop()
    # Wherever a crash cuts the journal, c's machine is never recovered beside the a it replaced.
    for cut in range(len(await records(store)) + 1):
        later = ManualClock(clock.now())
        recovered = await Runner.recover(net, await cut_at(store, cut), {}, later, run="k")
        pool = machines(recovered, "work")
        assert len(pool) <= 2, f"cut after {cut} records: {states(recovered)}"
        assert "c" not in pool or ("a" not in pool and pool.evicted_lru == 1)
        await later.run_for(100.0)
        assert recovered.bb.get("reopened", 0) == ("a" in pool)  # an evicted a does not time out
        await recovered.stop()


async def test_a_machine_held_by_a_firing_still_running_is_recovered_as_committed() -> None:
    # Until this test the idle sweep evicted a machine between the tokens of a firing holding it, and
    # journaled that: recovery ran the firing again on a fresh machine, which had never parked.
    net = keyed(3, fsm_idle_ttl=60.0, fsm_idle_states=[keyed_machine, Parked])
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_tokens("inbox", ["a:park", "c:x", "c:x"])
    await runner.run_until_idle()
    await clock.run_for(10.0)
    runner.add_tokens("inbox", ["a:x", "b:slow", "a:y"])  # b's step takes 100 s; the firing holds a
    await clock.run_for(70.0)  # t=80: a's last token is 70 s old, at rest in Parked
    await runner.flush()
    crashed_here = await cut_at(store, len(await records(store)))
    await clock.run_for(30.0)
    await runner.run_until_idle()
    await runner.stop()
    assert [str(r.token) for r in runner.tokens("refused")] == ["a:x", "a:y"]  # both: a was parked
    later = ManualClock(clock.now())
    recovered = await Runner.recover(net, crashed_here, {}, later, run="k")
    assert states(recovered) == {"a": "Parked"}  # as committed (c went idle at t=60)
    await recovered.start()
    await later.run_for(100.0)  # the firing that was running runs again, on a parked a
    await recovered.run_until_idle()
    await recovered.stop()
    assert [str(r.token) for r in recovered.tokens("refused")] == ["a:x", "a:y"]


# The machine of keyed() after a change: it has no state Parked any more.


@septum.state(config=StateConfiguration(timeout=100.0))
def Closed():  # type: ignore[no-untyped-def]
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.reject("closed")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        ctx.common["reopened"] = ctx.common.get("reopened", 0) + 1
        return "reopen"

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition("reopen", Idle)]


@septum.state(config=StateConfiguration(can_dwell=True))
def Idle():  # type: ignore[no-untyped-def]
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("done")
            return "close" if ctx.msg.token.endswith(":close") else None

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition("close", Closed)]


def without_parking() -> Any:
    """The net of ``keyed()`` with the changed machine."""

    @pn.net
    def Keyed(builder):  # type: ignore[no-untyped-def]
        inbox, done, refused = builder.place("inbox"), builder.place("done"), builder.place("refused")

        @builder.transition(
            fsm=Idle,
            fsm_key=lambda token: token.split(":")[0],
            inputs=[inbox],
            outputs=[done],
            rejected=refused,
        )
        def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Keyed


@pytest.mark.parametrize("recovering", [True, False], ids=["recover", "restore"])
async def test_a_run_refused_for_a_changed_machine_leaves_no_machine_behind(recovering: bool) -> None:
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(NET, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_tokens("inbox", ["a:close", "c:park"])  # a closes until t=100; c parks
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()
    bb: dict[str, Any] = {}
    later = ManualClock(clock.now())
    refusal = r"transition 'Keyed.work', the machine of key 'c': .*no state 'Parked'.* Fix: .*net the run"
    with pytest.raises(CodecError, match=refusal):
        if recovering:
            await Runner.recover(without_parking(), store, bb, later, run="k")
        else:
            Runner.restore(without_parking(), document, bb, later)
    await later.run_for(200.0)
    assert bb == {} and later.pending == 0  # a's restored timer did not stay behind to reopen it


@bt.tree
def Passing():
    @bt.action
    def route(ctx):  # type: ignore[no-untyped-def]
        ctx.route("done")
        return Status.SUCCESS

    bt.root(route)


def machineless(kind: str) -> Any:
    """The net of ``keyed()`` after a change: its transition ``work`` is a bt= or a plain one now."""

    @pn.net
    def Keyed(builder):  # type: ignore[no-untyped-def]
        inbox, done = builder.place("inbox"), builder.place("done")
        builder.place("refused")
        if kind == "bt":

            @builder.transition(bt=Passing, inputs=[inbox], outputs=[done])
            def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
                pass

        else:

            @builder.transition(inputs=[inbox], outputs=[done])
            def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
                return {done: consumed[0]}

    return Keyed


@pytest.mark.parametrize("kind", ["bt", "plain"])
async def test_a_run_refused_for_a_transition_without_its_machines_names_it(kind: str) -> None:
    store = MemoryStore()
    runner = Runner(NET, {}, ManualClock(), store=store, run="k")
    await runner.start()
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    await runner.stop()
    refusal = (
        r"the ctx.memory of transition 'Keyed.work' in the document cannot be read: unknown type "
        r"'mycelium.MachinePool'.*if the transition changed since.*restore it with the net that wrote it"
    )
    with pytest.raises(CodecError, match=refusal):
        await Runner.recover(machineless(kind), store, {}, ManualClock(), run="k")


@pytest.mark.parametrize("options", [{}, {"fsm_idle_ttl": 30.0}], ids=["kept", "idle-ttl"])
async def test_a_first_firing_beside_a_machine_in_a_step_is_journaled(options: dict[str, Any]) -> None:
    net = keyed(concurrency=2, **options)
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_tokens("inbox", ["a:slow", "b:x"])  # a's step takes 100 s: b's firing commits first
    for _ in range(10):
        await asyncio.sleep(0)
    await runner.flush()  # the journal goes on: b's firing wrote the pool without a, still in its step
    crashed_here = await cut_at(store, len(await records(store)))
    await clock.run_for(100.0)
    await runner.run_until_idle()
    await runner.stop()
    later = ManualClock(clock.now())
    recovered = await Runner.recover(net, crashed_here, {}, later, run="k")
    assert states(recovered) == {"b": "Idle"} and recovered.tokens("inbox") == ("a:slow",)
    assert list(recovered.memory("work")["machine pool"].seen) == (["b"] if options else [])
    await recovered.start()
    await later.run_for(100.0)  # a's token again, to a fresh machine (with fsm_idle_ttl, b goes at rest)
    await recovered.run_until_idle()
    await recovered.stop()
    assert not recovered.errors and sorted(recovered.tokens("done")) == ["a:slow", "b:x"]
    later = ManualClock(clock.now())
    recovered = await Runner.recover(net, store, {}, later, run="k")
    assert sorted(recovered.tokens("done")) == ["a:slow", "b:x"]
    assert states(recovered) == ({"a": "Idle"} if options else {"a": "Idle", "b": "Idle"})  # b went idle


@pytest.mark.parametrize("every", [1000, 1], ids=["records", "snapshots"])
async def test_a_machine_is_not_recovered_ahead_of_a_firing_still_running(every: int) -> None:
    net = keyed(weight=2, concurrency=2)
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="k", snapshot_every=every)
    await runner.start()
    # The first firing closes a, then hands b a token for 100 s; the second, with a token for a, waits
    # for it (it holds a): had the second committed a:x, refused by the Closed a, a crash now would
    # recover a Idle beside that refusal (behind a firing that committed).
    runner.add_tokens("inbox", ["a:x", "b:x"])
    await runner.run_until_idle()
    runner.add_tokens("inbox", ["a:close", "b:slow", "a:x", "c:x"])
    for _ in range(20):
        await asyncio.sleep(0)
    await runner.flush()
    assert runner.tokens("refused") == () and states(runner)["a"] == "Closed"
    crashed_here = await cut_at(store, len(await records(store)))
    later = ManualClock(clock.now())
    recovered = await Runner.recover(net, crashed_here, {}, later, run="k")
    # a:close is back in the inbox: a is where it was before it (not Closed), and closes again on it
    assert recovered.tokens("inbox") == ("a:close", "b:slow", "a:x", "c:x")
    assert states(recovered)["a"] == "Idle"
    await recovered.start()
    await later.run_for(50.0)
    assert states(recovered)["a"] == "Closed"
    await later.run_for(50.0)
    await recovered.run_until_idle()
    # The second firing hands a:x over when the first ends, at t=100, when a has just reopened.
    assert sorted(recovered.tokens("done")) == ["a:close", "a:x", "a:x", "b:slow", "b:x", "c:x"]
    await recovered.stop()
    await clock.run_for(100.0)
    await runner.run_until_idle()
    live = states(runner)
    await runner.stop()
    final = await Runner.recover(net, store, {}, ManualClock(clock.now()), run="k")
    assert states(final) == live and not final.tokens("inbox")


def two_pools() -> Any:
    """Two fsm= transitions of ``Idle``'s machines by key, sharing their outputs."""

    @pn.net
    def Two(builder):  # type: ignore[no-untyped-def]
        done, refused = builder.place("done"), builder.place("refused")
        for name in ("first", "second"):

            @builder.transition(
                name=name,
                fsm=keyed_machine,
                fsm_key=lambda token: token.split(":")[0],
                inputs=[builder.place(f"{name}_inbox")],
                outputs=[done],
                rejected=refused,
            )
            def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
                pass

    return Two


def unreadable_memory(document: dict[str, Any]) -> None:
    document["transitions"]["Two.second"]["memory"]["machine pool"]["$t"] = "no.such.type"


def unknown_transition(document: dict[str, Any]) -> None:
    document["transitions"]["Two.third"] = {"fired": 0}


def memory_not_a_dict(document: dict[str, Any]) -> None:
    document["transitions"]["Two.second"]["memory"] = ["machine pool"]


def malformed_next_id(document: dict[str, Any]) -> None:
    document["next_id"] = "many"


REFUSALS = {
    unreadable_memory: r"ctx.memory of transition 'Two.second' in the document cannot be read",
    unknown_transition: r"names a transition 'Two.third' that this net does not have",
    memory_not_a_dict: r"memory of transition 'Two.second' in the document is not a dict",
    malformed_next_id: r"run 'k': malformed next_id 'many' in its snapshot",  # recover only
}


@pytest.mark.parametrize(
    ("damage", "recovering"),
    [(damage, True) for damage in REFUSALS] + [(damage, False) for damage in list(REFUSALS)[:3]],
    ids=lambda value: value.__name__ if callable(value) else ("recover" if value else "restore"),
)
async def test_a_refused_document_leaves_no_pool_restored_before_it_behind(
    tmp_path: Path, damage: Any, recovering: bool
) -> None:
    store, clock = SQLiteStore(tmp_path / "runs.db"), ManualClock()
    runner = Runner(two_pools(), {}, clock, store=store, run="k")
    await runner.start()
    runner.add_token("first_inbox", "a:close")  # the first pool's a closes until t=100
    runner.add_token("second_inbox", "b:x")
    await runner.run_until_idle()
    await runner.stop()
    recovery = await store.load("k")
    assert recovery is not None and recovery.snapshot is not None
    document = replay(recovery.snapshot.document, recovery.records)
    damage(document)
    journal = await store.open_journal("k")  # the run's last snapshot is now the damaged document
    journal.snapshot(document)
    await journal.flush()
    await journal.close()
    bb: dict[str, Any] = {}
    later = ManualClock(clock.now())
    with pytest.raises((CodecError, StoreError), match=REFUSALS[damage]):
        if recovering:
            await Runner.recover(two_pools(), store, bb, later, run="k")
        else:
            Runner.restore(two_pools(), document, bb, later)
    await later.run_for(200.0)
    assert bb == {} and later.pending == 0  # the first pool's a did not stay behind to reopen
    await store.close()


@pytest.mark.parametrize("given", [False, True], ids=["no registry", "a registry"])
async def test_a_queued_message_of_an_unknown_type_says_to_pass_the_registry_to_recover(given: bool) -> None:
    store, clock = MemoryStore(), ManualClock()
    runner = Runner(NET, {}, clock, store=store, run="k")
    await runner.start()
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    await runner.stop()
    recovery = await store.load("k")
    assert recovery is not None and recovery.snapshot is not None
    document: Any = replay(recovery.snapshot.document, recovery.records)
    pool = document["transitions"]["Keyed.work"]["memory"]["machine pool"]["v"]
    pool["machines"] = [["a", "Idle", {"queue": [[0, {"$t": "dict", "v": [["$t", "Lost"], ["v", 1]]}]]}]]
    journal = await store.open_journal("k")  # the run's last snapshot: a machine with a Lost queued
    journal.snapshot(document)
    await journal.flush()
    await journal.close()
    register = r"register the class under that name, registry\.register\(TheClass, name='Lost'\)"
    fix = (
        register
        if given
        else rf"make a CodecRegistry, {register}, and pass it: Runner\.recover\(\.\.\., codecs=registry\), "
        r"the registry the run was journaled with"
    )
    with pytest.raises(
        CodecError,
        match=rf"^transition 'Keyed\.work', the machine of key 'a': unknown type 'Lost' in the document: "
        rf"this registry has no codec for it\. Fix: {fix}$",
    ):
        await Runner.recover(
            NET, store, {}, ManualClock(clock.now()), run="k", codecs=CodecRegistry() if given else None
        )
