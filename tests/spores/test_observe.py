"""spores.observe: a runtime's event records written as OCEL events and objects, engine by engine."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from enum import Enum, auto
from pathlib import Path
from typing import Annotated, Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal import spores
from mycorrhizal.common import ManualClock
from mycorrhizal.common.observers import Event
from mycorrhizal.durability import MemoryStore
from mycorrhizal.hypha import FiringCommitted, FiringStarted, NetBuilder, PlaceType, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.mycelium import PNRunner
from mycorrhizal.mycelium import pn as composed
from mycorrhizal.rhizomorph import Runner as TreeRunner
from mycorrhizal.rhizomorph import Status, TreeBuilder, bt
from mycorrhizal.rhizomorph.events import TickStarted
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateEntered, StateMachine, septum
from mycorrhizal.spores import AsyncFileTransport, SporesAttr, SyncFileTransport, observe, spore
from mycorrhizal.spores.observing import handler_for
from mycorrhizal.spores.observing.base import key_text, unpacked_as
from mycorrhizal.spores.ocel import iso_time

from ..runtimes import Broken, Idle, Shop, patrol_tree
from .conftest import MemorySink
from .nets import Pairing, Relay, Sorting


@spore.object("job")
@attrs.frozen
class Job:
    id: str
    size: int


async def run_shop(clock: ManualClock, **options: Any) -> spores.Observation:
    """j1 commits, j2 fails into 'dead', j3 is cancelled by stop(cancel=True)."""
    runner = NetRunner(Shop, {}, clock)
    observation = observe(runner, **options)
    runner.add_tokens("inbox", [Job("j1", 1), Job("j2", -1)])
    await runner.run_until_idle()
    clock.advance(2.5)
    runner.add_token("inbox", Job("j3", 500))
    for _ in range(5):
        await asyncio.sleep(0)
    await runner.stop(cancel=True)
    return observation


def brief(sink: MemorySink) -> list[tuple[Any, ...]]:
    return [(e["type"], e["relationships"], e["attributes"]) for e in sink.events()]


async def test_a_net_run_writes_one_event_per_firing_with_its_tokens_by_place(
    sink: MemorySink, caplog: Any
) -> None:
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await run_shop(ManualClock())
    net = ("Shop", "net")
    assert brief(sink) == [
        ("work", [net, ("j1", "consumed:inbox produced:done")], {}),  # one relationship, both roles
        (
            "work failed",
            [net, ("j2", "consumed:inbox")],
            {"error_type": "ValueError", "error": "bad size -1", "error_place": "dead"},
        ),
        ("work cancelled", [net, ("j3", "consumed:inbox")], {}),
    ]
    # the net and each job are objects, written once each (the cache saw the jobs unchanged)
    assert [(o["id"], o["type"], o["attributes"]) for o in sink.objects()] == [
        ("Shop", "net", {}),
        ("j1", "job", {"size": 1}),
        ("j2", "job", {"size": -1}),
        ("j3", "job", {"size": 500}),
    ]


async def test_a_firing_relates_its_tokens_by_the_place_each_came_from_and_went_to(sink: MemorySink) -> None:
    """Places taking several tokens, several output places; a token passed on is related once
    with its roles joined, each role once (the third token is produced twice into one place)."""
    runner = NetRunner(Pairing, {})
    observe(runner)
    runner.add_tokens("left", [{"id": "a"}, {"id": "b"}])
    runner.add_tokens("right", [{"id": i} for i in range(4)])
    await runner.run_until_idle()
    net = ("Pairing", "net")
    assert brief(sink) == [
        (
            "pair",
            [
                net,
                (left, "consumed:left produced:paired produced:spare"),
                (str(i), "consumed:right"),
                (str(i + 1), "consumed:right produced:spare"),
                (f"s{i}", "produced:spare"),
            ],
            {},
        )
        for left, i in [("a", 0), ("b", 2)]
    ]


@pn.net
def Stamping(builder: NetBuilder) -> None:
    inbox = builder.place("inbox", type=PlaceType.QUEUE)
    stamped = builder.place("stamped", type=PlaceType.QUEUE)

    @builder.transition(inputs=[inbox], outputs=[stamped])
    async def stamp(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {stamped: {"id": f"s{consumed[0]['id']}", "by": "stamp"}}  # one new token


async def test_a_firing_producing_one_new_token_relates_both(sink: MemorySink) -> None:
    runner = NetRunner(Stamping, {})
    observe(runner)
    runner.add_tokens("inbox", [{"id": "a"}, {"id": "b"}])
    await runner.run_until_idle()
    assert brief(sink) == [
        ("stamp", [("Stamping", "net"), (ident, "consumed:inbox"), (f"s{ident}", "produced:stamped")], {})
        for ident in "ab"
    ]
    assert [(o["id"], o["attributes"]) for o in sink.objects()][1:] == [
        ("a", {}),
        ("sa", {"by": "stamp"}),
        ("b", {}),
        ("sb", {"by": "stamp"}),
    ]


@pytest.mark.parametrize("token", [{"text": "db down"}, ("order", 1)], ids=["dict", "tuple"])
async def test_a_token_without_an_id_is_one_object_in_every_event_about_it(
    sink: MemorySink, token: Any
) -> None:
    # A dict without "id" or a tuple (no weak reference to them) was a new object in each event:
    # the token passed on by two firings was three objects in the log, and no trace was one token's.
    runner = NetRunner(Relay, {}, ManualClock())
    with observe(runner):
        runner.add_token("a", token)
        await runner.run_until_idle()
        await runner.stop()
    related = [e["relationships"][1] for e in sink.events()]
    assert [qualifier for _, qualifier in related] == ["consumed:a produced:b", "consumed:b produced:c"]
    assert related[0][0] == related[1][0]
    assert [o["id"] for o in sink.objects()] == ["Relay", related[0][0]]  # written once


async def test_a_firing_record_made_by_hand_is_written_from_its_dicts(sink: MemorySink) -> None:
    observation = observe(NetRunner(Shop, {}))
    record = FiringCommitted(
        source="Shop",
        time=0.0,
        transition="Shop.work",
        consumed={"Shop.inbox": ({"id": "j1"},), "Shop.spare": ({"id": "j2"}, {"id": "j3"})},
        produced={"Shop.done": ({"id": "j1"},)},
    )
    observation(record)
    assert brief(sink) == [
        (
            "work",
            [
                ("Shop", "net"),
                ("j1", "consumed:inbox produced:done"),
                ("j2", "consumed:spare"),
                ("j3", "consumed:spare"),
            ],
            {},
        )
    ]


async def test_started_adds_the_start_of_every_firing(sink: MemorySink, caplog: Any) -> None:
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await run_shop(ManualClock(), started=True)
    assert [e["type"] for e in sink.events()] == [
        "work started",
        "work",
        "work started",
        "work failed",
        "work started",
        "work cancelled",
    ]


@pytest.mark.parametrize("started", [False, True])
def test_an_observation_wants_the_records_it_writes(started: bool) -> None:
    """So the runner builds no start record for an observation that would not write it."""
    observation = observe(NetRunner(Shop, {}), started=started)
    assert observation.wants(FiringStarted) is started and observation.wants(TickStarted) is started
    assert observation.wants(FiringCommitted) and observation.wants(Event)  # Event: written generically


@pytest.mark.parametrize("timestamps", ["anchored", "timebase", "wall"])
async def test_timestamps(sink: MemorySink, caplog: Any, timestamps: str) -> None:
    before = time.time()
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await run_shop(ManualClock(), timestamps=timestamps)  # type: ignore[arg-type]
    after = time.time()
    times = [e["time"] for e in sink.events()]
    if timestamps == "timebase":
        assert times == [0.0, 0.0, 2.5]  # the virtual clock's readings
    elif timestamps == "anchored":  # the virtual timeline, starting when observe() was called
        assert before <= times[0] <= after
        # the clock did not move between the first two: a microsecond apart, in the order they happened
        assert round((times[1] - times[0]) * 1e6) == 1
        assert times[2] == pytest.approx(times[0] + 2.5)
    else:
        assert before <= times[0] < times[1] < times[2] <= after + 1e-5


async def test_bad_timestamps_and_bad_runtimes_are_refused() -> None:
    refused = r"timestamps='utc' is not a way to write times\. Fix: use 'anchored', 'timebase' or 'wall'$"
    with pytest.raises(ValueError, match=refused):
        observe(NetRunner(Shop, {}), timestamps="utc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"\. Fix: pass the runner, not the spec$"):
        observe(Shop)


async def test_run_prefixes_the_runtime_objects_and_detach_stops(sink: MemorySink, caplog: Any) -> None:
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        observation = await run_shop(ManualClock(), run="night")
    assert sink.events()[0]["relationships"][0] == ("night/Shop", "net")
    observation.detach()
    observation.detach()  # idempotent
    runner = observation.runtime
    runner.add_token("inbox", Job("j4", 1))
    await runner.start()  # j3 (back in inbox) and j4 fire again, unobserved
    for _ in range(5):
        await asyncio.sleep(0)
    await runner.stop(cancel=True)
    assert (runner.stats.firings, runner.stats.cancelled) == (2, 2)  # j4 committed, j3 cancelled again
    assert len(sink.events()) == 3


async def test_remove_observer_with_a_nets_observation_stops_it(sink: MemorySink) -> None:
    # A net's observation is attached as its firing handler (a frame less per firing), not as
    # itself: the runner's remove_observer(observation) must still find and remove it.
    runner = NetRunner(Shop, {})
    observation = observe(runner)
    runner.add_token("inbox", Job("j1", 1))
    await runner.run_until_idle()
    runner.remove_observer(observation)
    runner.add_token("inbox", Job("j2", 1))
    await runner.run_until_idle()
    await runner.stop()
    assert [o["id"] for o in sink.objects()] == ["Shop", "j1"]
    with pytest.raises(ValueError, match="that observer is not attached"):
        runner.remove_observer(observation)
    observation.detach()  # removed by hand already: nothing to do


async def _one_firing(runner: NetRunner, ident: str) -> None:
    runner.add_token("inbox", Job(ident, 1))
    await runner.run_until_idle()


async def test_an_observation_removed_by_the_runtime_can_be_attached_again_or_replaced(
    sink: MemorySink,
) -> None:
    # runtime.remove_observer(observation) stops it, as documented, but the observation still took
    # itself for attached: attach() then did nothing (no record written, nothing said) and a new
    # observe() of the runtime was refused as 'observed already'.
    runner = NetRunner(Shop, {}, ManualClock())
    first = observe(runner)
    runner.remove_observer(first)
    await _one_firing(runner, "j1")  # unobserved
    second = observe(runner, run="again")
    await _one_firing(runner, "j2")
    second.detach()
    first.attach()
    await _one_firing(runner, "j3")
    await runner.stop()
    assert [e["relationships"] for e in sink.events()] == [
        [("again/Shop", "net"), ("j2", "consumed:inbox produced:done")],
        [("Shop", "net"), ("j3", "consumed:inbox produced:done")],
    ]


async def test_a_new_configuration_gets_the_runtime_object_again(caplog: Any) -> None:
    first, second = MemorySink(), MemorySink()
    spores.configure(transport=first)
    runner = NetRunner(Shop, {})
    with observe(runner):
        runner.add_token("inbox", Job("j1", 1))
        await runner.run_until_idle()
        spores.configure(transport=second)
        runner.add_token("inbox", Job("j2", 1))
        await runner.run_until_idle()
    await runner.stop()
    assert [o["id"] for o in first.objects()] == ["Shop", "j1"]
    assert [o["id"] for o in second.objects()] == ["Shop", "j2"]
    assert not runner._report.observers  # the with block detached it


@pn.net
def Growing(builder: NetBuilder) -> None:
    """One transition, ``take``, from ``a``: a running net to change."""
    a = builder.place("a", type=PlaceType.QUEUE)

    @builder.transition(inputs=[a])
    async def take(consumed: Any, bb: Any, timebase: Any) -> None:
        return None


async def also(consumed: Any, bb: Any, timebase: Any) -> None:
    return None


async def test_a_changed_net_is_logged_and_what_was_kept_for_its_old_transitions_goes(tmp_path: Path) -> None:
    # Each change was written generically ("NetChanged", the net related as "runtime"), and what the
    # observation keeps per transition (keyed by the class of its firings' list, new when it is
    # rewired; its event type and qualifiers, by its name) stayed for the observation's life: one
    # entry per change, a leak for a net changed all along.
    transport = AsyncFileTransport(tmp_path / "log.jsonl")
    spores.configure(transport=transport)
    runner = NetRunner(Growing, {})
    observation = observe(runner)
    await runner.start()
    runner.add_token("a", {"id": "t1"})
    await runner.run_until_idle()
    runner.add_place("Growing.b", PlaceType.QUEUE)
    runner.add_arc("Growing.b", "Growing.take")  # take now consumes from a and b
    runner.add_tokens("a", [{"id": "t2"}])
    runner.add_tokens("b", [{"id": "t3"}])
    await runner.run_until_idle()
    for i in range(12):  # a transition comes, fires once and goes, again and again
        runner.add_transition(f"Growing.x{i}", also)
        runner.add_arc("Growing.b", f"Growing.x{i}")
        runner.add_token("b", {"id": f"n{i}"})
        await runner.run_until_idle()
        assert len(observation.plans) <= 1 and len(observation.parts) <= 2
        # (nor the names made per transition: new ones, added and gone, must not pile up)
        assert len(observation.types) <= 1 and len(observation.roles) <= 1 and len(observation.names) <= 2
        await runner.remove(f"Growing.x{i}")
    await runner.stop()
    await transport.close()
    events = [e for e in (json.loads(line)["event"] for line in transport.path.read_text().splitlines()) if e]
    related = {e["id"]: [(r["objectId"], r["qualifier"]) for r in e["relationships"]] for e in events}
    takes = [related[e["id"]] for e in events if e["type"] == "take"]
    assert takes == [
        [("Growing", "net"), ("t1", "consumed:a")],
        [("Growing", "net"), ("t2", "consumed:a"), ("t3", "consumed:b")],
    ]
    assert [related[e["id"]] for e in events if e["type"] == "x3"] == [
        [("Growing", "net"), ("n3", "consumed:b")]
    ]
    changes = [e for e in events if e["type"] == "net changed"]
    assert [a["value"] for e in changes[:3] for a in e["attributes"]] == [
        "add_place('Growing.b')",
        "add_arc('Growing.b', 'Growing.take')",
        "add_transition('Growing.x0')",
    ]
    assert len(changes) == 2 + 12 * 3
    assert all(related[e["id"]] == [("Growing", "net")] for e in changes)


async def _sorted_log(tmp_path: Path, transport: str, store: Any) -> list[tuple[str, Any]]:
    """(event type, relationships) of what observing Sorting writes, sorted (a file's or a sink's)."""
    path, sink = tmp_path / f"{len(list(tmp_path.iterdir()))}.jsonl", MemorySink()
    spores.configure(transport=AsyncFileTransport(path) if transport == "lines" else sink)
    runner = NetRunner(Sorting, {}, store=store, run="sorting")
    observe(runner)
    runner.add_tokens("a", [{"id": "a1"}, {"id": "a2"}])
    runner.add_tokens("b", [{"id": f"b{i}"} for i in range(4)])
    runner.add_tokens("c", [{"id": "c1"}, {"id": "c2"}])
    runner.add_tokens("e", [{"id": "e1"}, {"id": "e2", "same": True}])
    await runner.run_until_idle()
    await runner.stop()
    await spores.aclose()
    if transport == "records":
        return sorted((e["type"], e["relationships"]) for e in sink.events())
    events = [e for e in (json.loads(line)["event"] for line in path.read_text().splitlines()) if e]
    return sorted((e["type"], [(r["objectId"], r["qualifier"]) for r in e["relationships"]]) for e in events)


@pytest.mark.parametrize("transport", ["lines", "records"])
async def test_a_journaled_net_is_logged_as_the_same_net_unjournaled(tmp_path: Path, transport: str) -> None:
    # A journaled runner commits every firing through the journal (not the scheduler's inline
    # commit), its firing lists' tokens claimed first: the log must not tell the difference.
    unjournaled = await _sorted_log(tmp_path, transport, None)
    assert await _sorted_log(tmp_path, transport, MemoryStore()) == unjournaled
    assert [kind for kind, _ in unjournaled] == ["forward", "forward", "make", "make", "take", "take"]


async def test_runtimes_on_one_clock_share_its_timeline(
    sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each observation took its own anchor (the wall time of its observe()), so two nets on one
    # ManualClock, observed a few milliseconds apart, wrote one instant as two times: a reader
    # sorting by time put the second net's events after the first's later ones.
    wall = [1_700_000_000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    clock = ManualClock()
    first, second = NetRunner(Shop, {}, clock), NetRunner(Shop, {}, clock)
    observe(first, run="first")
    wall[0] += 0.25  # the second observe() comes a quarter of a second later
    observe(second, run="second")
    for runner, name, at in [(first, "first", 1.0), (second, "second", 2.0), (first, "first", 3.0)]:
        clock.set(at)
        runner.add_token("inbox", Job(f"{name}@{at:g}", 1))
        await runner.run_until_idle()
    clock.reset()  # a clock put back starts a new timeline, anchored at the next observe()
    wall[0] += 60.0
    third = NetRunner(Shop, {}, clock)
    observe(third, run="third")
    third.add_token("inbox", Job("third@0", 1))
    await third.run_until_idle()
    for runner in (first, second, third):
        await runner.stop()
    written = [(e["relationships"][1][0], round(e["time"] - 1_700_000_000.0, 6)) for e in sink.events()]
    assert written == [("first@1", 1.0), ("second@2", 2.0), ("first@3", 3.0), ("third@0", 60.25)]


@pytest.mark.parametrize(
    "make", [lambda: NetRunner(Shop, {}), lambda: StateMachine(Idle)], ids=["net", "machine"]
)
async def test_a_runtime_observed_already_is_refused_until_that_observation_is_detached(
    sink: MemorySink, make: Any
) -> None:
    # A second observe() of one runtime wrote each of its events twice into the one log.
    runtime = make()
    first = observe(runtime)
    with pytest.raises(ValueError, match=r"observed already.* twice\. Fix: detach\(\) that observation"):
        observe(runtime, run="again")
    first.detach()
    second = observe(runtime, run="again")
    with pytest.raises(ValueError, match="observed already"):
        first.attach()
    second.detach()
    first.attach()  # attached again once the other is gone
    observe(make()).detach()  # another runtime: no conflict


async def test_spores_disabled_writes_nothing(sink: MemorySink) -> None:
    spores.configure(enabled=False, transport=sink)
    runner = NetRunner(Shop, {})
    observe(runner)
    runner.add_token("inbox", Job("j1", 1))
    await runner.run_until_idle()
    await runner.stop()
    assert sink.records == []


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(-3, 3), max_size=12))
def test_the_log_accounts_for_every_token(sizes: list[int]) -> None:
    """Per job: consumed once; produced into 'done' exactly when the marking holds it there."""

    async def scenario() -> tuple[MemorySink, Any]:
        sink = MemorySink()
        spores.configure(transport=sink)
        runner = NetRunner(Shop, {})
        observe(runner)
        runner.add_tokens("inbox", [Job(f"j{i}", size) for i, size in enumerate(sizes)])
        await runner.run_until_idle()
        await runner.stop()
        return sink, runner.marking()

    logging.getLogger("mycorrhizal.hypha").disabled = True
    try:
        sink, marking = asyncio.run(scenario())
    finally:
        logging.getLogger("mycorrhizal.hypha").disabled = False
    roles = [(oid, q.split()) for e in sink.events() for oid, q in e["relationships"]]
    consumed = [oid for oid, qualifiers in roles if "consumed:inbox" in qualifiers]
    produced = [oid for oid, qualifiers in roles if "produced:done" in qualifiers]
    assert sorted(consumed) == sorted(f"j{i}" for i in range(len(sizes)))
    assert sorted(produced) == sorted(job.id for job in marking["done"])
    failed = [e for e in sink.events() if e["type"] == "work failed"]
    assert len(failed) == len(marking["dead"]) == sum(1 for s in sizes if s < 0)


# -- trees ------------------------------------------------------------------------------------------


async def test_a_tree_run_writes_node_changes_failures_timeouts_halts_and_ticks(sink: MemorySink) -> None:
    clock = ManualClock()
    runner = TreeRunner(patrol_tree(), {}, clock)
    observe(runner, timestamps="timebase")
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(5)  # the timeout halts slow
    assert await runner.tick() is Status.FAILURE
    await runner.aclose()
    tree = ("Patrol", "tree")
    node = lambda n: (f"Patrol/{n}", "node")  # noqa: E731
    assert [(e["type"], e["time"], e["relationships"], e["attributes"]) for e in sink.events()] == [
        (
            "flaky failed",
            0.0,
            [tree, node("flaky")],
            {"path": "main/flaky", "error_type": "ValueError", "error": "flaky", "outcome": "FAILURE"},
        ),
        ("flaky FAILURE", 0.0, [tree, node("flaky")], {"path": "main/flaky"}),
        ("slow RUNNING", 0.0, [tree, node("slow")], {"path": "main/limit/slow"}),
        ("limit RUNNING", 0.0, [tree, node("limit")], {"path": "main/limit"}),
        ("main RUNNING", 0.0, [tree, node("main")], {"path": "main"}),
        ("tick", 0.0, [tree], {"tick": 1, "status": "RUNNING"}),
        ("limit timed out", 5.0, [tree, node("limit")], {"path": "main/limit", "seconds": 5}),
        ("slow halted", 5.0, [tree, node("slow")], {"path": "main/limit/slow"}),
        ("limit FAILURE", 5.0, [tree, node("limit")], {"path": "main/limit", "old": "RUNNING"}),
        ("main FAILURE", 5.0, [tree, node("main")], {"path": "main", "old": "RUNNING"}),
        ("tick", 5.0, [tree], {"tick": 2, "status": "FAILURE"}),
    ]
    objects = [(o["id"], o["type"], o["relationships"]) for o in sink.objects()]
    assert objects[0] == ("Patrol", "tree", [])
    assert ("Patrol/slow", "node", [("Patrol", "part of")]) in objects
    assert len(objects) == 1 + 4  # the tree and its four nodes, each once


async def test_tick_starts_with_started(sink: MemorySink) -> None:
    b = TreeBuilder("One")
    b.root(b.action(lambda: Status.SUCCESS, name="ok"))
    runner = TreeRunner(b.build(), {})
    observe(runner, started=True)
    await runner.tick()
    assert [e["type"] for e in sink.events()] == ["tick started", "ok SUCCESS", "tick"]


async def test_a_cleanup_failure_is_written(sink: MemorySink, caplog: Any) -> None:
    async def stuck(timebase: Any) -> Status:
        try:
            await timebase.sleep(60)
        finally:
            raise RuntimeError("cleanup broke")
        return Status.SUCCESS  # pragma: no cover - the sleep never ends

    b = TreeBuilder("Stuck")
    b.root(b.action(stuck))
    runner = TreeRunner(b.build(), {}, ManualClock())
    observe(runner)
    await runner.tick()
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.rhizomorph"):
        await runner.aclose()
    cleanup = sink.events("stuck cleanup failed")
    assert len(cleanup) == 1
    assert cleanup[0]["attributes"]["error"] == "cleanup broke"
    assert cleanup[0]["attributes"]["during"] == "cancellation"


# -- events no table knows ------------------------------------------------------------------------


class Heartbeat(Event):
    beat: int
    mood: Status
    payload: object = None


def test_an_unknown_event_class_is_written_with_its_plain_fields(sink: MemorySink) -> None:
    class Emitter:
        timebase = ManualClock()

        def __init__(self) -> None:
            self.observers: list[Any] = []

        def add_observer(self, fn: Any) -> None:
            self.observers.append(fn)

        def remove_observer(self, fn: Any) -> None:
            self.observers.remove(fn)

    emitter = Emitter()
    observe(emitter, timestamps="timebase")
    emitter.observers[0](Heartbeat(source="pump", time=1.0, beat=3, mood=Status.SUCCESS, payload=[1]))
    assert sink.events() == [
        {
            "id": sink.events()[0]["id"],
            "type": "Heartbeat",
            "time": 1.0,
            "attributes": {"beat": 3, "mood": "SUCCESS"},
            "relationships": [("pump", "runtime")],
        }
    ]
    assert handler_for(Heartbeat) is handler_for(Heartbeat)


# -- machines -------------------------------------------------------------------------------------


async def test_a_machine_run_writes_entries_messages_retries_timeouts_and_failures(
    sink: MemorySink, caplog: Any
) -> None:
    clock = ManualClock()
    fsm = StateMachine(Idle, error_state=Broken, timebase=clock)
    observe(fsm, timestamps="timebase")
    await fsm.initialize()
    fsm.send_message(Job("j1", 3))  # an object of its own: related as the message
    fsm.send_message("work")
    await fsm.run()
    await clock.run_for(5)  # Working's timeout
    fsm.send_message("bad")
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.septum"):
        await fsm.run()
    machine = ("Idle", "machine")
    assert [(e["type"], e["time"], e["relationships"], e["attributes"]) for e in sink.events()] == [
        ("Idle entered", 0.0, [machine], {}),
        ("Idle handled", 0.0, [machine, ("j1", "message")], {"message_type": "Job"}),
        ("Idle handled", 0.0, [machine], {"message_type": "str", "message": "work", "label": "WORK"}),
        ("Idle left", 0.0, [machine], {"target": "Working", "label": "WORK"}),
        ("Working entered", 0.0, [machine], {"previous": "Idle", "label": "WORK"}),
        ("Working retried", 0.0, [machine], {"retry": 1, "label": "FAIL"}),
        ("Working left", 0.0, [machine], {"target": "Working", "label": "FAIL"}),
        ("Working entered", 0.0, [machine], {"previous": "Working", "label": "FAIL"}),
        ("Working timed out", 5.0, [machine], {}),
        ("Working left", 5.0, [machine], {"target": "Idle", "label": "LATE"}),
        ("Idle entered", 5.0, [machine], {"previous": "Working", "label": "LATE"}),
        (
            "Idle failed",
            5.0,
            [machine],
            {
                "role": "on_state",
                "error_type": "KeyError",
                "error": "'bad input'",
                "routed_to": "Broken",
                "message_type": "str",
                "message": "bad",
            },
        ),
        ("Broken entered", 5.0, [machine], {"previous": "Idle"}),
    ]
    # the machine object's state attribute follows its path
    # (its first record holds its first state: an OCEL SQLite log's first row of the object)
    states = [o["attributes"].get("state") for o in sink.objects("Idle")]
    assert states == ["Idle", "Working", "Idle", "Broken"]  # a retry changes no state
    assert [o["type"] for o in sink.objects("j1")] == ["job"]


class Go(Enum):
    GO = auto()


@septum.state(config=StateConfiguration(terminal=True))
class Done:
    pass


@septum.state(config=StateConfiguration(can_dwell=True))
class Waiting:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return Go.GO if ctx.msg == "go" else None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.GO, Done)]


@septum.compound
class Errand:
    Waiting = Waiting
    Done = Done


async def test_a_cancelled_step_and_a_completed_state_are_machine_events_in_a_new_log() -> None:
    # StepCancelled and StateCompleted went to the generic writer: the machine related as
    # 'runtime' (every other machine event says 'machine'), and when one was the first record
    # for a log (a new configure(), observe() on a running machine) the machine object was
    # written with type 'runtime', then 'machine' by its next state: one id, two types.
    first, second = MemorySink(), MemorySink()
    spores.configure(transport=first)
    gate = {"gate": asyncio.Event()}
    fsm = StateMachine(Idle, error_state=Broken, timebase=ManualClock(), common_data=gate)
    observe(fsm, timestamps="timebase")
    await fsm.initialize()
    spores.configure(transport=second)
    fsm.send_message("slow")  # Idle waits for the gate: the step is cancelled there
    task = asyncio.create_task(fsm.run())
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    chart = StateMachine(Errand, timebase=ManualClock())
    observe(chart, timestamps="timebase")
    await chart.initialize()
    chart.send_message("go")
    await chart.run()
    assert {(o["id"], o["type"]) for o in second.objects()} == {("Idle", "machine"), ("Errand", "machine")}
    written = {e["type"]: (e["relationships"], e["attributes"]) for e in second.events()}
    assert written["Idle cancelled"] == (
        [("Idle", "machine")],
        {"role": "on_state", "message_type": "str", "message": "slow"},
    )
    assert written["Errand completed"] == ([("Errand", "machine")], {})


@pytest.mark.parametrize("begun", ["configure", "observe"])
async def test_a_new_log_holds_the_state_the_machine_is_in_from_its_first_event(begun: str) -> None:
    # After a new configure() or an observe() of a running machine the machine object was written
    # without a state: the log's events about it ('Working timed out', 'Working left') found it
    # in no state until it entered another one.
    log = MemorySink()
    spores.configure(transport=MemorySink() if begun == "configure" else log)
    clock = ManualClock()
    fsm = StateMachine(Idle, error_state=Broken, timebase=clock)
    if begun == "configure":
        observe(fsm, timestamps="timebase")
    await fsm.initialize()
    fsm.send_message("work")
    await fsm.run()
    if begun == "configure":
        spores.configure(transport=log)
    else:
        observe(fsm, timestamps="timebase")
    await clock.run_for(5)  # Working times out, back to Idle
    assert [e["type"] for e in log.events()] == ["Working timed out", "Working left", "Idle entered"]
    states = [o["attributes"].get("state") for o in log.objects("Idle")]
    assert states == ["Working", "Idle"]  # its first record holds the state it is found in


@pytest.mark.parametrize("timestamps", ["anchored", "wall"])
def test_events_at_one_instant_get_distinct_increasing_ocel_times(timestamps: str) -> None:
    """OCEL writes microseconds; floats a microsecond apart can round to the same one."""
    observation = observe(NetRunner(Shop, {}, ManualClock()), timestamps=timestamps)  # type: ignore[arg-type]
    written = [iso_time(observation.when(0.0)) for _ in range(20_000)]
    assert all(a < b for a, b in zip(written, written[1:], strict=False))


@pytest.mark.parametrize("timestamps", ["anchored", "wall"])
async def test_events_of_runtimes_on_one_clock_keep_their_order_in_time(
    sink: MemorySink, timestamps: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each observation moved its own times a microsecond apart: a net and a machine on one
    # ManualClock, both busy at one instant, wrote times that a reader sorting by time (pm4py)
    # interleaved in another order than the one they happened in (so did wall times within a µs).
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    clock = ManualClock()
    runner, machine = NetRunner(Shop, {}, clock), StateMachine(Idle, timebase=clock)
    observe(runner, timestamps=timestamps)  # type: ignore[arg-type]
    observe(machine, timestamps=timestamps)  # type: ignore[arg-type]
    runner.add_tokens("inbox", [Job("j1", 1), Job("j2", 1)])
    await runner.run_until_idle()
    await machine.initialize()
    machine.send_message("work")
    await machine.run()
    runner.add_token("inbox", Job("j3", 1))
    await runner.run_until_idle()
    await runner.stop()
    written = [(e["type"], e["time"]) for e in sink.events()]
    kinds = [kind for kind, _ in written]  # the net's, then the machine's, then the net's again
    assert kinds[:3] == ["work", "work", "Idle entered"] and kinds[-1] == "work" and len(kinds) > 5
    assert all(a[1] < b[1] for a, b in zip(written, written[1:], strict=False)), written


def test_a_record_layout_the_handlers_do_not_unpack_is_refused_at_import() -> None:
    unpacked_as(StateEntered, "source", "time", "state", "previous", "label", "message")
    with pytest.raises(TypeError, match=r"StateEntered records hold .* update the unpacking"):
        unpacked_as(StateEntered, "source", "time", "state", "label", "previous")


class FlakySink(MemorySink):
    """Refuses its first object record (a full disk, say), then takes records again."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def write_object(self, raw: Any) -> None:
        if not self.refused:
            self.refused += 1
            raise OSError("disk full")
        super().write_object(raw)


async def test_an_observation_detached_for_a_failed_write_attached_again_writes_it(caplog: Any) -> None:
    # The net's object was marked written before its write, which raised: the runner detached
    # the observation (an observer that raises is), leaving the 'with' block then raised
    # ValueError (not attached), and once attached again it never wrote the net's object: its
    # events related an object never logged.
    sink = FlakySink()
    spores.configure(transport=sink)
    runner = NetRunner(Stamping, {})
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        with observe(runner) as observation:
            runner.add_token("inbox", {"id": "a"})
            await runner.run_until_idle()
    assert sink.refused == 1 and "disk full; it is detached" in caplog.text
    assert sink.events() == []
    observation.attach()
    runner.add_token("inbox", {"id": "b"})
    await runner.run_until_idle()
    observation.detach()
    assert brief(sink) == [
        ("stamp", [("Stamping", "net"), ("b", "consumed:inbox"), ("sb", "produced:stamped")], {})
    ]
    assert [o["id"] for o in sink.objects()] == ["Stamping", "b", "sb"]


@pytest.mark.parametrize("again", ["attach", "observe"])
async def test_an_observation_detached_for_a_failed_write_is_not_taken_for_attached(
    caplog: Any, again: str
) -> None:
    # Detached by the runner for raising, the observation still took itself for attached:
    # attach() without a detach() first did nothing, and observe() was refused as 'observed already'.
    sink = FlakySink()
    spores.configure(transport=sink)
    runner = NetRunner(Stamping, {})
    observation = observe(runner)
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.hypha"):
        runner.add_token("inbox", {"id": "a"})
        await runner.run_until_idle()
    # the warning names the observation and its runtime, not the function attached for it
    assert "observer <spores observation of <hypha Runner 'Stamping'" in caplog.text
    assert "disk full; it is detached" in caplog.text and "partial" not in caplog.text
    if again == "attach":
        observation.attach()
    else:
        observe(runner)
    runner.add_token("inbox", {"id": "b"})
    await runner.run_until_idle()
    await runner.stop()
    assert [e["type"] for e in sink.events()] == ["stamp"]


@pn.net
def Shipping(builder: NetBuilder) -> None:
    src, dead = builder.place("src"), builder.place("dead")

    @builder.io_output_place(on_error=dead)
    def out(token: Any, bb: Any, timebase: Any) -> None:
        raise OSError("out is down")

    @builder.transition(inputs=[src], outputs=[out])
    def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: consumed[0]}


@pytest.mark.parametrize("transport", [AsyncFileTransport, SyncFileTransport])
async def test_a_token_failing_its_sink_is_written_after_the_firing_that_produced_it(
    tmp_path: Path, transport: Any, caplog: Any
) -> None:
    # The firing's commit ran the inline sink, which raised, before it told the commit: the log
    # had 'out delivery failed' for the parcel before the 'ship' that produced it.
    path = tmp_path / "shipping.jsonl"
    spores.configure(transport=transport(path))
    runner = NetRunner(Shipping, {}, ManualClock())
    observe(runner)
    runner.add_token("src", {"id": "parcel"})
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await runner.run_until_idle()
    await runner.stop()
    await spores.aclose()
    events = [e for e in (json.loads(line)["event"] for line in path.read_text().splitlines()) if e]
    assert [(e["type"], [r["objectId"] for r in e["relationships"]]) for e in events] == [
        ("ship", ["Shipping", "parcel"]),
        ("out delivery failed", ["Shipping", "parcel"]),
    ]


# -- composed runs (mycelium) ---------------------------------------------------------------------


async def test_a_machines_dict_message_with_an_id_is_related_as_its_message(sink: MemorySink) -> None:
    # Only a message with an id attribute (or a spore.object type) was related: a dict's "id" key,
    # its id everywhere else in spores, was not, and the message was in the log as 'dict' only.
    fsm = StateMachine(Idle, timebase=ManualClock())
    observe(fsm)
    await fsm.initialize()
    fsm.send_message({"id": "m1", "kind": "order"})
    await fsm.run()
    handled = sink.events("Idle handled")
    assert [(e["attributes"], e["relationships"]) for e in handled] == [
        ({"message_type": "dict"}, [("Idle", "machine"), ("m1", "message")])
    ]
    assert [(o["id"], o["attributes"]) for o in sink.objects("m1")] == [("m1", {"kind": "order"})]


@septum.state(config=StateConfiguration(can_dwell=True))
def Desk() -> None:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if ctx.msg is not None:
            token = ctx.msg.token
            if getattr(token, "size", 0) < 0:
                raise ValueError("negative size")
            ctx.msg.route("served")


@composed.net
def Counter(builder: Any) -> None:
    queue, served, failed = builder.place("queue"), builder.place("served"), builder.place("failed")

    @builder.transition(
        fsm=Desk, fsm_key=lambda token: str(token)[:1], inputs=[queue], outputs=[served], on_error=failed
    )
    async def desk(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


async def test_a_nets_machine_relates_the_token_it_handles_as_its_message(
    sink: MemorySink, caplog: Any
) -> None:
    # A machine in an fsm= transition gets each token as a mycelium Delivery: the log wrote its
    # events with message_type 'Delivery' and without the token, so nothing tied the token's
    # object to what the machine did with it. The token is the message, related as firings relate it.
    runner = PNRunner(Counter, {}, ManualClock())
    observe(runner)
    with caplog.at_level(logging.CRITICAL):
        runner.add_tokens("queue", [Job("j1", 1), "ann", {"id": "d1"}, Job("j2", -1)])
        await runner.run_until_idle()
    await runner.stop()
    machine_events = [
        (e["type"], e["relationships"][1:], e["attributes"].get("message_type"))
        for e in sink.events()
        if e["relationships"][0][1] == "machine" and not e["type"].endswith("entered")
    ]
    assert machine_events == [
        ("Desk handled", [("j1", "message")], "Job"),
        ("Desk handled", [("ann", "message")], "str"),
        ("Desk handled", [("d1", "message")], "dict"),
        ("Desk failed", [("j2", "message")], "Job"),
        *[("desk let go", [("Counter", "net")], None)] * 3,  # each of the 3 keys' machines, at stop()
    ]
    assert [e["relationships"][1] for e in sink.events("desk")] == [
        ("j1", "consumed:queue produced:served"),
        ("ann", "consumed:queue produced:served"),
        ("d1", "consumed:queue produced:served"),
    ]


@bt.tree
def Sorter() -> None:
    @bt.action
    async def weigh(ctx: Any) -> Status:
        await ctx.timebase.sleep(ctx.token.size)  # the runs of j1 and j2 overlap
        ctx.route("light" if ctx.token.size < 2 else "heavy")
        return Status.SUCCESS

    bt.root(weigh)


@composed.net
def Scales(builder: Any) -> None:
    inbox, light, heavy = builder.place("inbox"), builder.place("light"), builder.place("heavy")

    @builder.transition(bt=Sorter, inputs=[inbox], outputs=[light, heavy])
    async def sort(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


async def test_a_nets_tree_run_relates_the_token_it_decides_about(sink: MemorySink) -> None:
    # Every token's run of the tree was written about the tree object alone: with runs overlapping,
    # the log held ticks 1, 1, 2, 2 of 'sort' and no way to tell which token each decided about.
    clock = ManualClock()
    runner = PNRunner(Scales, {}, clock)
    await runner.start()
    observe(runner)
    runner.add_tokens("inbox", [Job("j1", 1), Job("j2", 3)])
    await clock.run_for(3)
    await runner.stop()
    tree = [(e["type"], e["relationships"]) for e in sink.events() if e["relationships"][0][1] == "tree"]
    weigh, sort = ("sort/weigh", "node"), ("sort", "tree")
    assert tree == [
        ("weigh RUNNING", [sort, weigh, ("j1", "token")]),
        ("tick", [sort, ("j1", "token")]),
        ("weigh RUNNING", [sort, weigh, ("j2", "token")]),
        ("tick", [sort, ("j2", "token")]),
        ("weigh SUCCESS", [sort, weigh, ("j1", "token")]),
        ("tick", [sort, ("j1", "token")]),
        ("weigh SUCCESS", [sort, weigh, ("j2", "token")]),
        ("tick", [sort, ("j2", "token")]),
    ]


@spore.object("ticket")
@attrs.frozen
class Ticket:
    id: str
    key: Any
    counter: Annotated[str, SporesAttr] = "main"  # (the key, of any type, is no attribute)


@composed.net
def Wickets(builder: Any) -> None:
    queue, served = builder.place("queue"), builder.place("served")

    @builder.transition(fsm=Desk, fsm_key=lambda ticket: ticket.key, inputs=[queue], outputs=[served])
    async def gate(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("keys", "ids"),
    [
        ((1, "1"), ["gate[1]", "gate['1']"]),
        ((True, "True"), ["gate[True]", "gate['True']"]),
        ((("a", 1), "('a', 1)"), ["gate[('a', 1)]", "gate[\"('a', 1)\"]"]),
        (("north", ""), ["gate[north]", "gate['']"]),
    ],
)
async def test_machines_of_keys_written_alike_are_distinct_objects(
    tmp_path: Path, keys: tuple[Any, Any], ids: list[str]
) -> None:
    # A keyed machine's object id was f"{transition}[{key}]": the machines of keys 1 and "1" were
    # one object gate[1], each machine's events and states mixed into one history.
    spores.configure(transport=spores.Ocel2JsonTransport(tmp_path / "log.json"))
    runner = PNRunner(Wickets, {}, ManualClock())
    observe(runner)
    runner.add_tokens("queue", [Ticket(f"t{i}", key) for i, key in enumerate(keys)])
    await runner.run_until_idle()
    await runner.stop()
    spores.close()
    log = json.loads((tmp_path / "log.json").read_text())
    assert [o["id"] for o in log["objects"] if o["type"] == "machine"] == ids
    handled = [e["relationships"] for e in log["events"] if e["type"] == "Desk handled"]
    assert handled == [
        [{"objectId": ids[i], "qualifier": "machine"}, {"objectId": f"t{i}", "qualifier": "message"}]
        for i in range(2)
    ]


@composed.net
def Turnstiles(builder: Any) -> None:
    queue, served = builder.place("queue"), builder.place("served")

    @builder.transition(
        fsm=Desk, fsm_key=lambda ticket: ticket.key, fsm_max_machines=1, inputs=[queue], outputs=[served]
    )
    async def gate(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


async def test_a_machine_the_net_lets_go_ends_its_life_in_the_log(tmp_path: Path) -> None:
    # A Dropped record was not written: in the log, gate[north]'s machine never ended, and the next
    # machine of its key appeared as "Desk entered" with no previous, as if it were the same one.
    path = tmp_path / "log.json"
    spores.configure(transport=spores.Ocel2JsonTransport(path))
    runner = PNRunner(Turnstiles, {}, ManualClock())
    observation = observe(runner, run="r1")
    for i, key in enumerate(["north", "south", "north"]):  # one machine at a time: the other goes
        runner.add_token("queue", Ticket(f"t{i}", key))
        await runner.run_until_idle()
    await runner.stop()
    spores.close()
    log = json.loads(path.read_text())
    let_go = [(e["relationships"], e["attributes"]) for e in log["events"] if e["type"] == "gate let go"]
    net = {"objectId": "r1/Turnstiles", "qualifier": "net"}
    assert let_go == [
        ([{"objectId": f"r1/gate[{key}]", "qualifier": "machine"}, net], [{"name": "reason", "value": why}])
        for key, why in [("north", "lru"), ("south", "lru"), ("north", "stopped")]
    ]
    north = [
        e["type"]
        for e in sorted(log["events"], key=lambda e: e["time"])
        if {"objectId": "r1/gate[north]", "qualifier": "machine"} in e["relationships"]
    ]
    assert north == ["Desk entered", "Desk handled", "gate let go"] * 2
    assert observation.states == {}  # every machine let go is forgotten
    types = {t["name"]: t["attributes"] for t in log["eventTypes"]}
    assert types["gate let go"] == [{"name": "reason", "type": "string"}]


async def test_the_machines_of_a_removed_transition_end_their_life_in_the_log(tmp_path: Path) -> None:
    # runner.remove() of an fsm= transition wrote nothing of its machines: in the log, desk[a] and
    # desk[b] never ended (the observation kept them, as it keeps every machine it writes); at
    # stop() they were written "let go" with reason "stopped", long after the net had lost them.
    path = tmp_path / "log.json"
    spores.configure(transport=spores.Ocel2JsonTransport(path))
    runner = PNRunner(Counter, {}, ManualClock())
    observation = observe(runner, run="r1")
    runner.add_tokens("queue", ["ann", "bob"])  # a machine for key "a", one for "b"
    await runner.run_until_idle()
    await runner.remove("desk")
    assert observation.states == {}  # every machine let go is forgotten
    await runner.stop()
    spores.close()
    log = json.loads(path.read_text())
    net = {"objectId": "r1/Counter", "qualifier": "net"}
    ends = [
        (e["type"], e["relationships"], e["attributes"])
        for e in log["events"]
        if e["type"] in ("desk let go", "net changed")
    ]
    removed = [{"name": "reason", "value": "removed"}]
    assert ends == [
        ("desk let go", [{"objectId": "r1/desk[a]", "qualifier": "machine"}, net], removed),
        ("desk let go", [{"objectId": "r1/desk[b]", "qualifier": "machine"}, net], removed),
        ("net changed", [net], [{"name": "change", "value": "remove('Counter.desk')"}]),
    ]


class Lane(Enum):
    FAST = 1


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("north", "north"),
        ("user@host.example:80", "user@host.example:80"),
        (7, "7"),
        ("7", "'7'"),
        (-2.5, "-2.5"),
        ("-2.5", "'-2.5'"),
        ("1e3", "'1e3'"),
        (float("inf"), "inf"),
        ("inf", "'inf'"),
        ("Infinity", "'Infinity'"),
        (None, "None"),
        ("None", "'None'"),
        (Lane.FAST, "<Lane.FAST: 1>"),
        ("<Lane.FAST: 1>", "'<Lane.FAST: 1>'"),
        ("a b", "'a b'"),
    ],
)
def test_a_key_is_written_as_a_string_only_when_no_other_key_reads_so(key: Any, text: str) -> None:
    assert key_text(key) == text


class Shift(Enum):
    OVER = auto()


@septum.state(config=StateConfiguration(can_dwell=True))
class OffDuty:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return None


@septum.compound(config=StateConfiguration(timeout=5))
class Rota:
    @septum.on_timeout
    def on_timeout(ctx: Any) -> Any:
        return Shift.OVER  # the compound state's own timeout: its leaf OnDuty tells nothing first

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Shift.OVER, OffDuty)]

    @septum.state(config=StateConfiguration(can_dwell=True))
    class OnDuty:
        @septum.on_state
        def on_state(ctx: Any) -> Any:
            if ctx.msg is not None:
                ctx.msg.route("served")


@composed.net
def Roster(builder: Any) -> None:
    queue, served = builder.place("queue"), builder.place("served")

    @builder.transition(fsm=Rota, inputs=[queue], outputs=[served])
    async def rota(consumed: Any, bb: Any, timebase: Any) -> None:
        pass


@pytest.mark.parametrize("begun", ["configure", "observe", "net"])
async def test_a_new_log_of_a_statechart_starts_in_its_leaf_when_a_parent_tells_first(begun: str) -> None:
    # The log's first event about a running statechart was its compound state's timeout: the
    # machine object's state was written as that parent, Rota, while the machine was in OnDuty.
    log = MemorySink()
    spores.configure(transport=MemorySink() if begun == "configure" else log)
    clock = ManualClock()
    name = "rota" if begun == "net" else "Rota"
    if begun == "net":
        runner = PNRunner(Roster, {}, clock)
        runner.add_token("queue", {"id": "t1"})  # makes the machine, in OnDuty
        await runner.run_until_idle()
        observe(runner, timestamps="timebase")
    else:
        fsm = StateMachine(Rota, timebase=clock)
        if begun == "configure":
            observe(fsm, timestamps="timebase")
        await fsm.initialize()
        if begun == "configure":
            spores.configure(transport=log)
        else:
            observe(fsm, timestamps="timebase")
    await clock.run_for(5)  # Rota's timeout: to OffDuty
    told = ["Rota timed out", "OnDuty left", "Rota left", "OffDuty entered"]
    assert [e["type"] for e in log.events()] == told
    assert [o["attributes"].get("state") for o in log.objects(name)] == ["OnDuty", "OffDuty"]
