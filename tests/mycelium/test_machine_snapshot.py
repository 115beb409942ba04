"""runner.snapshot() / Runner.restore() of a net with fsm= machines: machines by key, with their timers."""

import asyncio
import copy
import json
from enum import Enum, auto
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal.common import CodecError, CodecRegistry, ManualClock
from mycorrhizal.common.observers import Forwarded
from mycorrhizal.durability import MemoryStore
from mycorrhizal.hypha import Runner
from mycorrhizal.mycelium import machines, pn
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

from .test_eviction import Idle, keyed

NET = keyed()


def seen(runner: Runner, bb: dict[str, Any]) -> Any:
    return (
        sorted(runner.tokens("done")),
        sorted(str(t) for t in runner.tokens("refused")),
        {k: m.current_state.name for k, m in machines(runner, "work").items()},
        bb.get("reopened", 0),
    )


async def play(runner: Runner, clock: ManualClock, script: list[Any]) -> None:
    for op in script:
        if isinstance(op, str):
            runner.add_token("inbox", op)
            await runner.run_until_idle()
        else:
            await clock.run_for(op)
            await runner.run_until_idle()


tokens = st.sampled_from(["a:x", "a:close", "b:x", "b:close", "c:park", "c:x"])
ops = st.lists(st.one_of(tokens, st.sampled_from([10.0, 40.0, 99.5])), max_size=10)


@settings(max_examples=25)
@given(first=ops, then=ops)
def test_a_restored_net_continues_with_its_machines_and_timers(first: list[Any], then: list[Any]) -> None:
    async def scenario() -> None:
        clock, bb = ManualClock(), {}
        whole = Runner(NET, bb, clock)
        await whole.start()
        await play(whole, clock, first + then)

        clock, bb = ManualClock(), {}
        before = Runner(NET, bb, clock)
        await before.start()
        await play(before, clock, first)
        text = json.dumps(before.snapshot())
        await before.stop()
        later, bb_later = ManualClock(clock.now()), copy.deepcopy(bb)
        after = Runner.restore(NET, json.loads(text), bb_later, later)
        await after.start()
        await play(after, later, then)
        assert seen(after, bb_later) == seen(whole, whole.bb)
        await whole.stop()
        await after.stop()

    asyncio.run(scenario())


async def test_a_pending_timeout_fires_at_its_deadline_with_no_token() -> None:
    clock, bb = ManualClock(), {}
    runner = Runner(NET, bb, clock)
    await runner.start()
    runner.add_tokens("inbox", ["a:close", ("b:x")])
    await runner.run_until_idle()
    await clock.run_for(40.0)
    document = runner.snapshot()
    await runner.stop()
    pool = document["transitions"]["Keyed.work"]["memory"]["machine pool"]
    assert pool["$t"] == "mycelium.MachinePool"
    assert pool["v"]["machines"] == [["a", "Closed", {"timer": {"deadline": 100.0}}], ["b", "Idle"]]
    assert pool["v"]["header"] == {"engine": "septum", "version": 1, "machine": "Idle"}

    later = ManualClock(40.0)
    restored = Runner.restore(NET, document, {}, later)
    await restored.start()
    states = {k: m.current_state.name for k, m in machines(restored, "work").items()}
    assert states == {"a": "Closed", "b": "Idle"}
    await later.run_for(59.9)
    assert restored.bb.get("reopened") is None
    await later.run_for(0.1)  # no token: the timer alone reopens a at t=100
    await restored.run_until_idle()
    assert restored.bb["reopened"] == 1 and machines(restored, "work")["a"].current_state is Idle
    await restored.stop()


async def test_eviction_bookkeeping_is_kept(clock: ManualClock) -> None:
    net = keyed(fsm_idle_ttl=30.0)
    runner = Runner(net, {}, clock)
    await runner.start()
    runner.add_tokens("inbox", ["a:x", "b:x"])
    await runner.run_until_idle()
    await clock.run_for(20.0)
    document = runner.snapshot()
    await runner.stop()
    later = ManualClock(20.0)
    restored = Runner.restore(net, document, {}, later)
    await restored.start()
    await later.run_for(10.0)  # t=30: both last tokens are 30 s old
    assert len(machines(restored, "work")) == 0 and machines(restored, "work").evicted_idle == 2
    await restored.stop()


async def test_a_journaled_net_journals_its_fsm_machines() -> None:
    store = MemoryStore()
    runner = Runner(NET, {}, store=store)
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    await runner.stop()
    recovered = await Runner.recover(NET, store)
    assert {k: m.current_state for k, m in machines(recovered, "work").items()} == {"a": Idle}


def test_a_registry_shared_with_a_foreign_machine_pool_codec_is_refused() -> None:
    from mycorrhizal.mycelium.machine_pool import MachinePool

    codecs = CodecRegistry()
    codecs.register(MachinePool, name="elsewhere", encode=lambda p: None, decode=lambda d: None)
    with pytest.raises(CodecError, match="already know MachinePool from elsewhere"):
        Runner(NET, {}, codecs=codecs)


async def test_a_pool_of_another_net_is_refused(clock: ManualClock) -> None:
    runner = Runner(NET, {}, clock)
    await runner.start()
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()
    pool = document["transitions"]["Keyed.work"]["memory"]["machine pool"]
    pool["v"]["transition"] = "Other.work"
    with pytest.raises(CodecError, match="the net has no fsm= transition 'Other.work'"):
        Runner.restore(NET, document, {}, clock)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.update(machines=["a"]), "machine entry 'a' is not \\[key, state\\]"),
        (lambda v: v.update(machines=[["a", "Idle", 3]]), "machine entry .* is not \\[key, state\\]"),
        (lambda v: v.update(machines=[["a", "Gone"]]), "machine Idle has no state 'Gone'"),
        (lambda v: v.update(header=None), "'header' is not an object"),
        (lambda v: v.update(seen="x"), "malformed pool"),
        (lambda v: v.update(evicted=[1]), "'evicted' is not three counts"),
    ],
)
async def test_a_malformed_pool_is_a_clear_codec_error(clock: ManualClock, change: Any, message: str) -> None:
    runner = Runner(NET, {}, clock)
    await runner.start()
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()
    change(document["transitions"]["Keyed.work"]["memory"]["machine pool"]["v"])
    with pytest.raises(CodecError, match=message):
        Runner.restore(NET, document, {}, clock)


MALFORMED = r"restore what runner\.snapshot\(\) wrote"
ENTRY = r"machine entry 'a' is not \[key, state\] or \[key, state, \{\.\.\.\}\]"


@pytest.mark.parametrize("given", [False, True], ids=["no registry", "a registry"])
@pytest.mark.parametrize(
    ("change", "fault", "fix"),
    [
        (lambda v: v.update(machines=["a"]), ENTRY, MALFORMED),
        (lambda v: v.update(header=None), r"'header' is not an object: 'None'", MALFORMED),
        (
            lambda v: v.update(seen="x"),
            r"malformed pool \"\{'transition': 'Keyed\.work', [^\"]*\"",
            MALFORMED,
        ),
        (lambda v: v.update(evicted=[1]), r"'evicted' is not three counts: \[1\]", MALFORMED),
        (
            lambda v: v.update(transition="Other.work"),
            r"the net has no fsm= transition 'Other\.work' \(fsm= transitions: \['Keyed\.work'\]\)",
            r"restore the snapshot with the net it was taken of",
        ),
    ],
    ids=["machine entry", "header", "pool", "evicted", "transition"],
)
async def test_a_malformed_pool_names_its_transition_once_with_one_fix(
    clock: ManualClock, given: bool, change: Any, fault: str, fix: str
) -> None:
    runner = Runner(NET, {}, clock, codecs=CodecRegistry() if given else None)
    await runner.start()
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()
    change(document["transitions"]["Keyed.work"]["memory"]["machine pool"]["v"])
    with pytest.raises(
        CodecError,
        match=rf"^the ctx\.memory of transition 'Keyed\.work' in the document cannot be read: cannot decode "
        rf"a mycelium\.MachinePool: {fault}\. Fix: {fix}$",
    ) as caught:
        Runner.restore(NET, document, {}, clock, codecs=CodecRegistry() if given else None)
    assert str(caught.value).count("Fix:") == 1


LOST = {"$t": "dict", "v": [["$t", "Lost"], ["v", 1]]}  # a queued {"$t": "Lost"}, escaped by the pool's codec


LOST_STATE = r"septum snapshot: machine Idle has no state 'Gone' \(its states: \[[^]]*\]\)"
CHANGED = r"recover \(or restore\) with the net the run was written by, or give a changed net another run="
UNKNOWN = r"unknown type 'Lost' in the document: this registry has no codec for it"
REGISTER = r"register the class under that name, registry\.register\(TheClass, name='Lost'\)"


@pytest.mark.parametrize(
    ("machine", "given", "fault", "fix"),
    [
        # The document does not fit the machine: the net (or its run=) is what to change.
        (["a", "Gone"], False, LOST_STATE, CHANGED),
        (["a", "Gone"], True, LOST_STATE, CHANGED),
        # A queued message of a type these codecs do not know: registering it is what to do, in a
        # registry passed to restore(): this one was given none, and a type registered elsewhere would
        # not reach it (the old fix, 'register the class', said nothing of passing one).
        (
            ["a", "Idle", {"queue": [[0, LOST]]}],
            False,
            UNKNOWN,
            rf"make a CodecRegistry, {REGISTER}, and pass it: Runner\.restore\(\.\.\., codecs=registry\), "
            r"the registry the snapshot was taken with",
        ),
        (["a", "Idle", {"queue": [[0, LOST]]}], True, UNKNOWN, REGISTER),
    ],
    ids=[
        "lost state, no registry",
        "lost state",
        "unknown message type, no registry",
        "unknown message type",
    ],
)
async def test_a_machine_that_cannot_be_restored_is_named_with_one_fix(
    clock: ManualClock, machine: list[Any], given: bool, fault: str, fix: str
) -> None:
    runner = Runner(NET, {}, clock)
    await runner.start()
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()
    document["transitions"]["Keyed.work"]["memory"]["machine pool"]["v"]["machines"] = [machine]
    with pytest.raises(
        CodecError, match=rf"^transition 'Keyed\.work', the machine of key 'a': {fault}\. Fix: {fix}$"
    ) as caught:
        Runner.restore(NET, document, {}, clock, codecs=CodecRegistry() if given else None)
    assert str(caught.value).count("Fix:") == 1


async def test_restored_machines_forward_their_records_once_the_runner_is_observed() -> None:
    clock = ManualClock()
    runner = Runner(NET, {}, clock)
    await runner.start()
    runner.add_token("inbox", "a:close")
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()

    restored = Runner.restore(NET, document, {}, clock)
    await restored.start()
    seen: list[Any] = []
    restored.add_observer(seen.append)
    await clock.run_for(100.0)  # a's timer, restored, fires with no token
    await restored.run_until_idle()
    forwarded = [(e.key, type(e.event).__name__) for e in seen if isinstance(e, Forwarded)]
    assert ("a", "TimeoutFired") in forwarded and ("a", "StateEntered") in forwarded
    await restored.stop()


# -- a registry passed to snapshot() ------------------------------------------------------------------


def script(runner: Runner) -> Any:
    """a closes (its timer is due at 100), b waits, a's next token is rejected (a Rejection token)."""
    runner.add_tokens("inbox", ["a:close", "b:x", "a:x"])
    return runner.run_until_idle()


@pytest.mark.parametrize("own", [False, True], ids=["runner without codecs", "runner with its own"])
async def test_a_snapshot_taken_with_a_registry_restores_with_it(clock: ManualClock, own: bool) -> None:
    runner = Runner(NET, {}, clock, codecs=CodecRegistry() if own else None)
    await runner.start()
    await script(runner)
    registry = CodecRegistry()
    document = json.loads(json.dumps(runner.snapshot(codecs=registry)))
    await runner.stop()

    later = ManualClock(clock.now())
    pool = document["transitions"]["Keyed.work"]["memory"]["machine pool"]
    with pytest.raises(
        CodecError,
        match=r"^cannot decode a mycelium\.MachinePool: no runner is being restored with this registry\. "
        r"Fix: read the document back with Runner\.restore\(net, document, codecs=registry\)$",
    ):
        registry.decode(pool)  # (not a runner's codecs yet: which runner would its machines be in?)
    restored = Runner.restore(NET, document, {}, later, codecs=registry)
    await restored.start()
    assert {k: m.current_state.name for k, m in machines(restored, "work").items()} == {
        "a": "Closed",
        "b": "Idle",
    }
    assert [str(t) for t in restored.tokens("refused")] == [str(t) for t in runner.tokens("refused")]
    await later.run_for(100.0)  # a's timer, written by the passed registry's codec, reopens it
    assert restored.bb["reopened"] == 1
    await restored.stop()


async def test_a_registry_passed_to_snapshot_with_a_foreign_machine_pool_codec_is_refused(
    clock: ManualClock,
) -> None:
    from mycorrhizal.mycelium.machine_pool import MachinePool

    runner = Runner(NET, {}, clock)
    await runner.start()
    await script(runner)
    registry = CodecRegistry()
    registry.register(MachinePool, name="elsewhere", encode=lambda p: None, decode=lambda d: None)
    with pytest.raises(
        CodecError,
        match=r"^mycelium\.MachinePool: the codecs given to snapshot\(\) already know MachinePool from "
        r"elsewhere\. Fix: pass snapshot\(\) a CodecRegistry that does not know MachinePool$",
    ):
        runner.snapshot(codecs=registry)
    await runner.stop()


# -- statecharts (machines with compound states) in a pool ---------------------------------------------


class Lock(Enum):
    CLOSE = auto()
    REOPEN = auto()


@septum.compound
class Door:
    """A statechart: Open routes tokens ('k:close' shuts it); Shut rejects them, and reopens after 100 s."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        return None

    @septum.state(config=StateConfiguration(can_dwell=True))
    class Open:
        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            if ctx.msg is None:
                return None
            ctx.msg.route("done")
            return Lock.CLOSE if ctx.msg.token.endswith("close") else None

        @septum.transitions
        def transitions():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Lock.CLOSE, Shut)]  # noqa: F821 - a sibling: septum resolves it

    @septum.state(config=StateConfiguration(timeout=100.0))
    class Shut:
        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            if ctx.msg is not None:
                ctx.msg.reject("closed")

        @septum.on_timeout
        def on_timeout(ctx):  # type: ignore[no-untyped-def]
            ctx.common["reopened"] = ctx.common.get("reopened", 0) + 1
            return Lock.REOPEN

        @septum.transitions
        def transitions():  # type: ignore[no-untyped-def]
            return [LabeledTransition(Lock.REOPEN, Open)]  # noqa: F821


@pn.net
def Charted(builder):  # type: ignore[no-untyped-def]
    inbox, done, refused = builder.place("inbox"), builder.place("done"), builder.place("refused")

    @builder.transition(
        fsm=Door, fsm_key=lambda token: token.split(":")[0], inputs=[inbox], outputs=[done], rejected=refused
    )
    async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


def states(runner: Runner) -> dict[str, str]:
    return {k: m.current_state.name for k, m in machines(runner, "work").items()}


async def test_a_statechart_in_a_pool_is_restored_with_its_states_and_timers(clock: ManualClock) -> None:
    runner = Runner(Charted, {}, clock)
    await runner.start()
    runner.add_tokens("inbox", ["a:close", "b:x"])
    await runner.run_until_idle()
    await clock.run_for(40.0)
    document = json.loads(json.dumps(runner.snapshot()))
    await runner.stop()
    rows = document["transitions"]["Charted.work"]["memory"]["machine pool"]["v"]["machines"]
    assert [row[2]["chart"]["active"] for row in rows] == [["Door", "Door.Shut"], ["Door", "Door.Open"]]
    assert rows[0][2]["chart"]["timers"] == {"Door.Shut": 100.0}

    later = ManualClock(40.0)
    restored = Runner.restore(Charted, document, {}, later)
    await restored.start()
    assert states(restored) == {"a": "Shut", "b": "Open"}
    await later.run_for(59.9)
    assert "reopened" not in restored.bb
    await later.run_for(0.1)  # no token: a's restored timer reopens it at t=100
    await restored.run_until_idle()
    assert restored.bb["reopened"] == 1 and states(restored) == {"a": "Open", "b": "Open"}
    await restored.stop()


def chart(timers: dict[str, float], **rest: Any) -> dict[str, Any]:
    """The row entries of a Door machine in Shut (as the pool writes them)."""
    active = {"active": ["Door", "Door.Shut"], "owing": [], "counts": {}, "history": {}, "timers": timers}
    return {"chart": active, **rest}


TIMED = {"Charted": chart({"Door.Shut": 100.0}), "Keyed": {"timer": {"deadline": 100.0}}}
FIRED = {
    "Charted": chart({}, queue=[["timeout", "Door.Shut"]]),
    "Keyed": {"timer": {"fired": True}, "queue": ["timeout"]},
}
SHUT = {"Charted": "Door.Shut", "Keyed": "Closed"}


def unknown_message(document: dict[str, Any], net: str) -> None:
    """A second machine whose queued message is of a type the codecs do not know (after its timers)."""
    pool = document["transitions"][f"{net}.work"]["memory"]["machine pool"]["v"]
    pool["machines"].append(["b", SHUT[net], {**TIMED[net], "queue": [[0, LOST]]}])


def unhashable_key(document: dict[str, Any], net: str) -> None:
    """A second machine whose key cannot be a key."""
    pool = document["transitions"][f"{net}.work"]["memory"]["machine pool"]["v"]
    pool["machines"].append([["b"], SHUT[net], TIMED[net]])


def malformed_streak(document: dict[str, Any], net: str) -> None:
    """Every machine restored, then the transition's own entry refused."""
    document["transitions"][f"{net}.work"]["streak"] = "many"


@pytest.mark.parametrize("net", [Charted, NET], ids=["statechart", "flat"])
@pytest.mark.parametrize("first", [TIMED, FIRED], ids=["timer pending", "timeout fired"])
@pytest.mark.parametrize(
    ("damage", "refusal"),
    [
        (unknown_message, r"the machine of key 'b': unknown type 'Lost'"),
        (unhashable_key, r"machine key \['b'\] is unhashable, so it cannot name a machine\. Fix: "),
        (malformed_streak, r"'streak' of '\w+\.work' in the document is 'many', not an int"),
    ],
    ids=["in a later machine", "an unhashable key", "after the pool"],
)
async def test_a_refused_restore_leaves_no_machine_behind(
    clock: ManualClock, net: Any, first: dict[str, Any], damage: Any, refusal: str
) -> None:
    runner = Runner(net, {}, clock)
    await runner.start()
    runner.add_token("inbox", "z:x")
    await runner.run_until_idle()
    document = runner.snapshot()
    await runner.stop()
    name = document["net"]
    pool = document["transitions"][f"{name}.work"]["memory"]["machine pool"]["v"]
    pool["machines"] = [["a", SHUT[name], first[name]]]
    damage(document, name)
    bb: dict[str, Any] = {}
    later = ManualClock(40.0)
    with pytest.raises(CodecError, match=refusal):
        Runner.restore(net, document, bb, later)
    assert later.pending == 0
    for _ in range(3):
        await asyncio.sleep(0)  # (a fired timeout, handled in the background, would run now)
    await later.run_for(200.0)
    assert bb == {}  # no restored machine, a's or b's, reopened for a runner nobody got


# -- a machine in the middle of a step ----------------------------------------------------------------


@septum.state(config=StateConfiguration(timeout=10.0, can_dwell=True))
def Slow():
    """'k:slow' takes 5 s to route; its timeout (10 s after it is entered) takes 5 s too."""

    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            if ctx.msg.token.endswith("slow"):
                await ctx.timebase.sleep(5.0)
            ctx.msg.route("done")

    @septum.on_timeout
    async def on_timeout(ctx):  # type: ignore[no-untyped-def]
        await ctx.timebase.sleep(5.0)


@pn.net
def Slowed(builder):  # type: ignore[no-untyped-def]
    inbox, done = builder.place("inbox"), builder.place("done")

    @builder.transition(fsm=Slow, fsm_key=lambda token: token.split(":")[0], inputs=[inbox], outputs=[done])
    async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


async def in_a_firing(runner: Runner, clock: ManualClock) -> None:
    runner.add_token("inbox", "a:slow")  # its firing hands a:slow to the machine, which takes 5 s
    for _ in range(3):
        await asyncio.sleep(0)


async def handling_its_timeout(runner: Runner, clock: ManualClock) -> None:
    runner.add_token("inbox", "a:x")
    await runner.run_until_idle()
    await clock.run_for(10.0)  # its timeout fires: on_timeout takes 5 s, with no firing in flight
    await runner.run_until_idle()  # (which does not wait for it)


IN_A_STEP = (
    r"^the ctx\.memory of transition 'Slowed\.work' cannot be written down: the machine of key 'a' is in "
)


@pytest.mark.parametrize(
    ("into", "refusal"),
    [
        (
            in_a_firing,
            IN_A_STEP
            + r"the middle of a step, handling a firing's token \(its handler awaits\)\. Fix: take the "
            r"snapshot when no firing is in flight, e\.g\. after await runner\.run_until_idle\(\)$",
        ),
        (
            handling_its_timeout,
            IN_A_STEP
            + r"the middle of a step, handling its timeout \(its handler awaits\), which it does on its "
            r"own: run_until_idle\(\) does not wait for it\. Fix: take the snapshot once that handler has "
            r"returned, e\.g\. after the time it waits has passed$",
        ),
    ],
    ids=["a firing's token", "its timeout"],
)
async def test_a_machine_in_a_step_refuses_the_snapshot_saying_when_to_take_it(
    clock: ManualClock, into: Any, refusal: str
) -> None:
    runner = Runner(Slowed, {}, clock)
    await runner.start()
    await into(runner, clock)
    with pytest.raises(CodecError, match=refusal) as caught:
        runner.snapshot()
    assert str(caught.value).count("Fix:") == 1
    await clock.run_for(5.0)  # the handler returns
    await runner.run_until_idle()
    rows = runner.snapshot()["transitions"]["Slowed.work"]["memory"]["machine pool"]["v"]["machines"]
    assert [row[:2] for row in rows] == [["a", "Slow"]]
    await runner.stop()


def blow(ctx: Any) -> None:
    raise RuntimeError("fuse blew. Fix: change the fuse")  # an error that says its own fix


def route(ctx: Any) -> None:
    if ctx.msg is not None:
        ctx.msg.route("done")


@septum.state(config=StateConfiguration(timeout=10.0, can_dwell=True))
class Lone:
    """A plain machine whose timeout handler raises: at rest after it, written as [key, state]."""

    on_state = septum.on_state(route)
    on_timeout = septum.on_timeout(blow)


@septum.compound
class Fuse:
    """A statechart (never written as a bare [key, state]) whose timeout handler raises."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        return None

    @septum.state(config=StateConfiguration(timeout=10.0, can_dwell=True))
    class Armed:
        on_state = septum.on_state(route)
        on_timeout = septum.on_timeout(blow)


def fused(machine: Any) -> Any:
    """A net whose fsm= transition hands each token to the machine of its key, ``machine``."""

    @pn.net
    def Fused(builder):  # type: ignore[no-untyped-def]
        inbox, done, failed = builder.place("inbox"), builder.place("done"), builder.place("failed")

        @builder.transition(
            fsm=machine, fsm_key=lambda token: token, inputs=[inbox], outputs=[done], on_error=failed
        )
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Fused


FUSED = {"plain": (fused(Lone), "Lone", "Lone"), "statechart": (fused(Fuse), "Armed", "Fuse.Armed")}


@pytest.mark.parametrize("machine", list(FUSED))
async def test_a_snapshot_is_refused_while_a_failure_of_a_machine_on_its_own_waits_for_its_next_token(
    clock: ManualClock, machine: str
) -> None:
    net, state, key = FUSED[machine]
    runner = Runner(net, {}, clock)
    await runner.start()
    runner.add_token("inbox", "a")
    await runner.run_until_idle()
    await clock.run_for(10.0)  # its timeout fires and on_timeout raises, in the machine's own run
    await runner.run_until_idle()
    for _ in range(2):  # a refusal changes nothing: the failure is still kept, and refused again
        with pytest.raises(
            CodecError,
            match=r"^the ctx\.memory of transition 'Fused\.work' cannot be written down: the machine of key "
            rf"'a' failed handling its timeout on its own \(HandlerError: state {state}: on_timeout raised "
            r"RuntimeError: fuse blew\), and no firing has received that error yet: a snapshot would lose "
            r"it\. Fix: hand the machine its next token first \(that firing fails with the error\); then "
            r"take the snapshot$",
        ) as refused:
            runner.snapshot()
        assert str(refused.value).count("Fix:") == 1
    runner.add_token("inbox", "a")
    await runner.run_until_idle()
    (failed,) = runner.tokens("failed")  # the next firing for its key received the error
    assert failed.token == "a" and "on_timeout raised RuntimeError: fuse blew" in str(failed.error)
    rows = runner.snapshot()["transitions"]["Fused.work"]["memory"]["machine pool"]["v"]["machines"]
    assert [row[:2] for row in rows] == [["a", key]]
    await runner.stop()
