"""Runner.snapshot() / Runner.restore(): a restored runner continues exactly as the original would."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import CodecError, CodecRegistry, HandlerError, ManualClock, RecordedError
from mycorrhizal.durability import MemoryStore
from mycorrhizal.hypha import Backoff, FailedToken, NetBuilder, NetSpec, PlaceType, Runner

PLACES = ("inbox", "pool", "slow")


@attrs.frozen
class Job:
    id: int
    due: float


def busy_net(*, queues_only: bool = False) -> NetSpec:
    """Queue and bag places, a guard, priorities, capacity, retries on the timebase, an error place
    and ctx.memory: everything a snapshot must carry.  Handlers are deterministic.

    ``queues_only``: the same net ("Queues") with queues only and no guard, the shape whose every
    order recovery keeps exactly (a BAG promises none, and a guard may reorder a queue after a
    failure)."""
    b = NetBuilder("Queues" if queues_only else "Busy")
    bag = PlaceType.QUEUE if queues_only else PlaceType.BAG
    inbox = b.place("inbox")
    pool = b.place("pool", type=bag)
    slow = b.place("slow", capacity=3)
    evens, odds, late = b.place("evens"), b.place("odds"), b.place("late", type=bag)
    broken = b.place("broken")

    @b.transition(inputs=[inbox], outputs=[evens, odds], priority=1)
    async def split(consumed: Any, bb: Any, tb: Any, ctx: Any) -> Any:
        ctx.memory["split"] = ctx.memory.get("split", 0) + 1
        value = consumed[0]
        return {evens if value % 2 == 0 else odds: value}

    guard = None if queues_only else (lambda consumed: consumed[0] < consumed[1])

    @b.transition(inputs=[(pool, 2)], outputs=[slow], guard=guard)
    def pair(consumed: Any, bb: Any, tb: Any) -> Any:
        return {slow: Job(consumed[0] * 100 + consumed[1], float(consumed[0] % 5))}

    @b.transition(inputs=[slow], outputs=[late], retry_delay=Backoff(0.5, 2.0, 4.0))
    def wait(consumed: Any, bb: Any, tb: Any) -> Any:
        job = consumed[0]
        if tb.now() < job.due:  # fails until its time has come: retried on the timebase
            raise RuntimeError(f"job {job.id} not due before {job.due}")
        return {late: job.id}

    @b.transition(inputs=[odds], outputs=[pool], on_error=broken)
    def odd(consumed: Any, bb: Any, tb: Any) -> Any:
        if consumed[0] % 7 == 0:
            raise ValueError(f"{consumed[0]} is unlucky")
        return {pool: consumed[0] % 10}

    return b.build()


def codecs() -> CodecRegistry:
    registry = CodecRegistry()
    registry.register(Job, name="test.Job")
    return registry


Op = tuple[str, Any, Any]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(PLACES[:2]), st.integers(0, 40)),
        st.tuples(st.just("advance"), st.sampled_from([0.25, 0.5, 1.0, 3.0]), st.none()),
    ),
    max_size=25,
)


async def apply(runner: Runner, clock: ManualClock, op: Op) -> None:
    kind, what, value = op
    if kind == "add":
        runner.add_token(what, value)
    else:
        await clock.run_for(what)
    await runner.run_until_idle()


async def observed(runner: Runner) -> Any:
    await runner.run_until_idle()  # started (a restored runner arms its retries when it starts)
    return (
        {name: tokens for name, tokens in runner.marking().items()},
        runner.fired(),
        [(s.name, s.kind, s.waiting, s.retry_at) for s in runner.stuck()],
        runner.stats.as_dict(),
        dict(runner.memory("split")),
    )


async def run_through(ops_list: list[Op], cut: int | None) -> Any:
    clock = ManualClock()
    runner = Runner(busy_net(), timebase=clock, codecs=codecs())
    for op in ops_list[:cut] if cut is not None else ops_list:
        await apply(runner, clock, op)
    if cut is None:
        return await observed(runner)
    document = json.loads(json.dumps(runner.snapshot()))  # it really is plain JSON
    await runner.stop()
    later = ManualClock(clock.now())  # a new process: a new clock reading the same time
    restored = Runner.restore(busy_net(), document, timebase=later, codecs=codecs())
    await restored.start()  # as a program would: its retry timers are armed from here
    for op in ops_list[cut:]:
        await apply(restored, later, op)
    return await observed(restored)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, data=st.data())
def test_a_restored_runner_continues_exactly_as_the_original(ops: list[Op], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(ops)))
    assert asyncio.run(run_through(ops, cut)) == asyncio.run(run_through(ops, None))


async def test_the_document_holds_tokens_memory_retries_and_error_places() -> None:
    clock = ManualClock()
    runner = Runner(busy_net(), timebase=clock, codecs=codecs())
    runner.add_tokens("inbox", [7, 14, 3])
    runner.add_tokens("pool", [4, 1])
    await runner.run_until_idle()
    document = runner.snapshot()
    assert (document["engine"], document["version"], document["net"]) == ("hypha", 1, "Busy")
    assert document["places"]["Busy.broken"][0]["$t"] == "hypha.FailedToken"
    assert document["places"]["Busy.late"] == []
    assert document["transitions"]["Busy.split"] == {"fired": 3, "memory": {"split": 3}}
    wait = document["transitions"]["Busy.wait"]
    assert wait["blocked"] == {
        "at": 0.5,
        "error": ["RuntimeError", "job 104 not due before 1.0"],
        "inputs": ["Busy.slow"],
    }
    restored = Runner.restore(busy_net(), document, timebase=ManualClock(), codecs=codecs())
    (parked,) = restored.tokens("broken")
    assert parked == FailedToken(7, ValueError(), "Busy.odd", "Busy.odds")
    assert isinstance(parked.error, RecordedError)
    assert str(parked.error) == "ValueError: 7 is unlucky"
    assert restored.stuck()[0].retry_at is None  # armed when it starts: at its deadline, see below


async def test_a_retry_keeps_its_deadline_across_a_restore() -> None:
    clock = ManualClock()
    runner = Runner(busy_net(), timebase=clock, codecs=codecs())
    runner.add_tokens("pool", [3, 2])  # Job 203, due at 2.0: fails now, retried at 0.5
    await runner.run_until_idle()
    await clock.run_for(0.5)  # second failure: retried after 1.0 more, at 1.5
    await runner.run_until_idle()
    assert [s.retry_at for s in runner.stuck()] == [1.5]
    document = runner.snapshot()
    later = ManualClock(1.0)
    restored = Runner.restore(busy_net(), document, timebase=later, codecs=codecs())
    await restored.run_until_idle()
    assert [s.retry_at for s in restored.stuck()] == [1.5]
    await later.run_for(0.49)
    await restored.run_until_idle()
    assert restored.fired()["Busy.wait"] == 0
    await later.run_for(0.01)  # 1.5: retried, fails (due at 2.0), backoff 2.0 (third in a row)
    await restored.run_until_idle()
    assert [s.retry_at for s in restored.stuck()] == [3.5]


async def test_a_clock_that_went_back_never_stretches_a_wait() -> None:
    runner = Runner(busy_net(), timebase=ManualClock(), codecs=codecs())
    runner.add_tokens("pool", [3, 2])  # Job 203, due at 2.0: fails at 0.0, retried at 0.5
    await runner.run_until_idle()
    document = runner.snapshot()
    # As if written when the clock read 100.0, with the retry due at 100.5 ...
    document["time"] = 100.0
    document["transitions"]["Busy.wait"]["blocked"]["at"] = 100.5
    rebooted = ManualClock(1.0)  # ... and read back on a clock that went back to 1.0 meanwhile
    restored = Runner.restore(busy_net(), document, timebase=rebooted, codecs=codecs())
    await restored.run_until_idle()
    assert [s.retry_at for s in restored.stuck()] == [1.5]  # 0.5 s left, as when it was written


async def test_in_flight_firings_are_written_back_into_their_input_places() -> None:
    b = NetBuilder("Flight")
    jobs, done = b.place("jobs"), b.place("done")
    gate = asyncio.Event()

    @b.transition(inputs=[jobs], outputs=[done], concurrency=2)
    async def work(consumed: Any, bb: Any, tb: Any) -> Any:
        await gate.wait()
        return {done: consumed[0]}

    net = b.build()
    runner = Runner(net)
    runner.add_tokens("jobs", ["a", "b", "c"])
    await runner.start()
    await asyncio.sleep(0)
    assert runner.in_flight == 2 and runner.tokens("jobs") == ("c",)
    document = runner.snapshot()
    assert document["places"]["Flight.jobs"] == ["a", "b", "c"]  # oldest firing first, at the head
    assert document["transitions"]["Flight.work"]["fired"] == 0
    await runner.stop(cancel=True)
    gate.set()
    restored = Runner.restore(net, document)
    await restored.run_until_idle()
    assert restored.tokens("done") == ("a", "b", "c")


async def test_a_bag_keeps_its_order_and_a_token_being_delivered_stays_in_its_place() -> None:
    b = NetBuilder("Out")
    bag = b.place("bag", type=PlaceType.BAG)
    gate = asyncio.Event()
    delivered: list[Any] = []

    async def sink(token: Any, bb: Any, tb: Any) -> None:
        await gate.wait()
        delivered.append(token)

    out = b.io_output_place("out", sink)

    @b.transition(inputs=[bag], outputs=[out])
    def move(consumed: Any, bb: Any, tb: Any) -> Any:
        return {out: consumed[0]}

    net = b.build()
    runner = Runner(net)
    runner.add_tokens("bag", [1, 2, 3])
    taken = runner.tokens("bag")
    document = runner.snapshot()
    assert tuple(reversed(document["places"]["Out.bag"])) == taken  # a BAG takes from the end
    await runner.start()
    await asyncio.sleep(0)
    document = runner.snapshot()
    assert document["places"]["Out.out"] == list(taken)  # the first is being delivered: still there
    await runner.stop(cancel=True)
    gate.set()
    restored = Runner.restore(net, document)
    await restored.run_until_idle()
    assert delivered == list(taken)


def broken_document(change: str) -> Any:
    document = Runner(busy_net(), codecs=codecs()).snapshot()
    if change == "engine":
        document["engine"] = "septum"
    elif change == "version":
        document["version"] = 2
    elif change == "net":
        document["net"] = "Other"
    elif change == "place":
        document["places"]["Busy.nowhere"] = []
    elif change == "transition":
        document["transitions"]["Busy.nothing"] = {"fired": 1}
    elif change == "capacity":
        document["places"]["Busy.slow"] = [1, 2, 3, 4]
    elif change == "type":
        document["places"]["Busy.inbox"] = [{"$t": "shop.Unknown", "v": 1}]
    elif change == "fired":
        document["transitions"]["Busy.split"]["fired"] = "many"
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("engine", "not a hypha runner document"),
        ("version", "hypha snapshot: format 2 is newer than format 1"),
        ("net", "the document was written by net 'Other', not 'Busy'"),
        ("place", "names a place 'Busy.nowhere' that this net does not have"),
        ("transition", "names a transition 'Busy.nothing'"),
        ("capacity", "holds 4 tokens in the document, more than its capacity 3"),
        ("type", "unknown type 'shop.Unknown'"),
        ("fired", "'fired' of 'Busy.split' in the document is 'many', not an int"),
    ],
)
def test_a_document_that_does_not_fit_is_refused(change: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        Runner.restore(busy_net(), broken_document(change), codecs=codecs())


MALFORMED: dict[str, tuple[Any, str]] = {
    "tokens": (
        lambda d: d["places"].update({"Busy.inbox": 5}),
        r"place 'Busy\.inbox' holds '5' in the document",
    ),
    "entry": (lambda d: d["transitions"].update({"Busy.split": 3}), r"transition 'Busy\.split' has '3'"),
    "fired": (lambda d: d["transitions"]["Busy.split"].update(fired="many"), r"'fired' of 'Busy\.split'"),
    "memory": (
        lambda d: d["transitions"]["Busy.split"].update(memory=[1]),
        r"the memory of transition 'Busy\.split'",
    ),
    "error": (
        lambda d: d["transitions"]["Busy.split"].update(blocked={"at": 1.0, "error": "bad"}),
        r"malformed error 'bad' of 'Busy\.split'",
    ),
    "deadline": (
        lambda d: d["transitions"]["Busy.split"].update(blocked={"at": "soon", "error": None}),
        r"malformed retry deadline 'soon' of 'Busy\.split'",
    ),
}


@pytest.mark.parametrize("change", list(MALFORMED))
def test_a_malformed_document_is_refused_naming_where_with_the_fix(change: str) -> None:
    # These said what was wrong, but not what to do (nor, for an error or a deadline, whose it was).
    document = Runner(busy_net(), codecs=codecs()).snapshot()
    damage, where = MALFORMED[change]
    damage(document)
    with pytest.raises(
        CodecError,
        match=rf"^{where}.*\. Fix: pass the document Runner\.snapshot\(\) wrote, unchanged \(this one was "
        r"damaged or edited\)$",
    ):
        Runner.restore(busy_net(), document, codecs=codecs())


async def test_what_cannot_be_written_down_is_named() -> None:
    runner = Runner(busy_net(), timebase=ManualClock())  # no codec for Job
    runner.add_tokens("pool", [2, 1])
    await runner.run_until_idle()
    with pytest.raises(CodecError, match=r"a token in place 'Busy.slow' cannot be written down: .*Job"):
        runner.snapshot()
    document = runner.snapshot(codecs())  # a registry that knows Job, for this snapshot only
    assert document["places"]["Busy.slow"] == [{"$t": "test.Job", "v": {"id": 102, "due": 1.0}}]
    b = NetBuilder("Mem")
    p = b.place("p")

    @b.transition(inputs=[p])
    def keep(consumed: Any, bb: Any, tb: Any, ctx: Any) -> None:
        ctx.memory["lock"] = asyncio.Lock()

    runner = Runner(b.build())
    runner.add_token("p", 1)
    await runner.run_until_idle()
    with pytest.raises(CodecError, match=r"the ctx.memory of transition 'Mem.keep' cannot be written down"):
        runner.snapshot()


@attrs.frozen
class Note:
    """A token or ctx.memory value of a type the registries below do not know."""

    n: int


def notes(part: str) -> NetSpec:
    """p -> keep -> q, with a Note as the token it puts in q (``part="token"``) or in its ctx.memory."""
    b = NetBuilder("Notes")
    p, q = b.place("p"), b.place("q")

    @b.transition(inputs=[p], outputs=[q])
    def keep(consumed: Any, bb: Any, tb: Any, ctx: Any) -> Any:
        if part == "memory":
            ctx.memory["note"] = Note(1)
            return {q: consumed[0]}
        return {q: Note(consumed[0])}

    return b.build()


WHERE = {"token": "a token in place 'Notes.q'", "memory": "the ctx.memory of transition 'Notes.keep'"}


async def holding(part: str, codecs: CodecRegistry | None = None) -> Runner:
    """A runner of ``notes(part)`` that has fired once: a Note is in place q or in ctx.memory."""
    runner = Runner(notes(part), timebase=ManualClock(), codecs=codecs)
    runner.add_token("p", 1)
    await runner.run_until_idle()
    return runner


@pytest.mark.parametrize(
    ("given", "fix"),
    [
        # No registry anywhere: registering Note in one would not reach the runner; say to pass one.
        (
            None,
            r"make a CodecRegistry, registry\.register\(Note\) \(.*\), and pass it: Runner\(\.\.\., "
            r"codecs=registry\), and Runner\.restore\(\.\.\., codecs=registry\) to read it back",
        ),
        ("runner", r"registry\.register\(Note\) \([^)]*\)"),
        ("snapshot", r"registry\.register\(Note\) \([^)]*\)"),
    ],
    ids=["no registry", "the runner's", "the snapshot's"],
)
@pytest.mark.parametrize("part", list(WHERE))
async def test_what_a_snapshot_cannot_write_down_is_named_with_one_fix(
    part: str, given: str | None, fix: str
) -> None:
    runner = await holding(part, CodecRegistry() if given == "runner" else None)
    with pytest.raises(
        CodecError,
        match=rf"^{WHERE[part]} cannot be written down: cannot encode a [\w.]*\bNote: its type is not "
        rf"registered\. Fix: {fix}$",
    ) as caught:
        runner.snapshot(CodecRegistry() if given == "snapshot" else None)
    assert str(caught.value).count("Fix:") == 1


CHANGED = (  # a type ctx.memory no longer knows may be one the transition no longer keeps there
    r"; or, if the transition changed since the document was written \(it keeps other things in "
    r"ctx\.memory now\), restore it with the net that wrote it"
)


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        (
            None,
            r"make a CodecRegistry, register the class under that name, registry\.register\(TheClass, "
            r"name='[\w.]*\bNote'\), and pass it: Runner\.restore\(\.\.\., codecs=registry\), the registry "
            r"the snapshot was taken with",
        ),
        (
            CodecRegistry(),
            r"register the class under that name, registry\.register\(TheClass, name='[\w.]+'\)",
        ),
    ],
    ids=["no registry", "a registry"],
)
@pytest.mark.parametrize(("part", "then"), [("token", ""), ("memory", CHANGED)], ids=list(WHERE))
async def test_what_a_restore_cannot_read_is_named_with_one_fix(
    part: str, then: str, codecs: CodecRegistry | None, fix: str
) -> None:
    known = CodecRegistry()
    known.register(Note)
    document = (await holding(part, known)).snapshot()
    with pytest.raises(
        CodecError,
        match=rf"^{WHERE[part]} in the document cannot be read: unknown type '[\w.]*\bNote' in the document: "
        rf"this registry has no codec for it\. Fix: {fix}{then}$",
    ) as caught:
        Runner.restore(notes(part), document, codecs=codecs)
    assert str(caught.value).count("Fix:") == 1


@pytest.mark.parametrize("codecs", [None, CodecRegistry()], ids=["no registry", "a registry"])
async def test_a_memory_the_document_garbles_is_named_with_the_documents_fix(
    codecs: CodecRegistry | None,
) -> None:
    known = CodecRegistry()
    known.register(Note)
    document = (await holding("memory")).snapshot(known)
    document["transitions"]["Notes.keep"]["memory"] = {"$t": "pickle", "v": 1}  # no codec error's own fix
    with pytest.raises(
        CodecError,
        match=r"^the ctx\.memory of transition 'Notes\.keep' in the document cannot be read: malformed "
        r"pickled value: expected \[type name, base64 text\]\. Fix: restore a document with the net \(and "
        r"version of it\) that wrote it$",
    ) as caught:
        Runner.restore(notes("memory"), document, codecs=codecs)
    assert str(caught.value).count("Fix:") == 1


async def test_a_snapshot_from_inside_a_firing_is_refused() -> None:
    b = NetBuilder("Inside")
    p, q = b.place("p"), b.place("q")
    caught: list[BaseException] = []

    @b.transition(inputs=[p], outputs=[q])
    def peek(consumed: Any, bb: Any, tb: Any, ctx: Any) -> Any:
        try:
            ctx.runner.snapshot()
        except HandlerError as exc:
            caught.append(exc)
        return {q: consumed[0]}

    runner = Runner(b.build())
    runner.add_token("p", 1)
    await runner.run_until_idle()
    assert len(caught) == 1
    assert "called from inside a scheduler pass" in str(caught[0])
    assert runner.tokens("q") == (1,)


async def recover_through(ops_list: list[Op], cut: int | None) -> Any:
    """Run ``ops_list`` journaled; at ``cut``, abandon the runner (a crash) and go on with
    ``Runner.recover`` from its store; what the run looks like at the end."""
    store, clock = MemoryStore(), ManualClock()
    net = busy_net(queues_only=True)
    runner = Runner(net, timebase=clock, codecs=codecs(), store=store, snapshot_every=7)
    for op in ops_list[:cut] if cut is not None else ops_list:
        await apply(runner, clock, op)
    if cut is not None:
        clock = ManualClock(clock.now())
        runner = await Runner.recover(busy_net(queues_only=True), store, timebase=clock, codecs=codecs())
        await runner.start()
        for op in ops_list[cut:]:
            await apply(runner, clock, op)
    await runner.run_until_idle()
    return (
        {name: tokens for name, tokens in runner.marking().items()},
        runner.fired(),
        [(s.name, s.kind, s.waiting, s.retry_at) for s in runner.stuck()],
        dict(runner.memory("split")),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, data=st.data())
def test_a_recovered_runner_continues_exactly_as_the_original(ops: list[Op], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(ops)))
    assert asyncio.run(recover_through(ops, cut)) == asyncio.run(recover_through(ops, None))
