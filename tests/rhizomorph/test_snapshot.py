"""runner.snapshot() / Runner.restore(): a restored runner continues exactly as the original would."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import CodecError, CodecRegistry, ExecutionError, ManualClock
from mycorrhizal.rhizomorph import Runner, Status, Tree, TreeBuilder, bt

LEAVES = 5
VALUES = ["success", "failure", "running"]

leaf = st.builds(lambda k: ("leaf", k), st.integers(0, LEAVES - 1))


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    kids = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        st.tuples(st.sampled_from(["seq", "sel"]), st.booleans(), kids),
        kids.flatmap(lambda ks: st.tuples(st.just("par"), st.integers(1, len(ks)), st.just(ks))),
        st.tuples(st.sampled_from(["inv", "retry", "timeout", "rate", "when", "loop"]), children),
        st.tuples(st.just("try"), children, children),
    )


shapes = st.recursive(leaf, _extend, max_leaves=8)
steps = st.lists(st.one_of(st.just("tick"), st.sampled_from([0.5, 1.0, 2.5])), min_size=1, max_size=12)
scripts = st.lists(
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=4), min_size=LEAVES, max_size=LEAVES
)


def make_leaf(b: TreeBuilder, k: int) -> Any:
    """Leaf k: its n-th call returns bb["script"][k][n % len]; everything it does is in the blackboard."""

    def act(bb: dict[str, Any]) -> Status:
        n = bb["calls"][k]
        bb["calls"][k] = n + 1
        script = bb["script"][k]
        return Status(script[n % len(script)])

    def halted(bb: dict[str, Any]) -> None:
        bb["halts"].append(k)

    act.__name__ = f"leaf{k}"
    return b.action(act, on_halt=halted)


def build(shape: Any) -> Tree:
    b = TreeBuilder("Random")
    numbers = iter(range(1000))

    def make(s: Any) -> Any:
        kind = s[0]
        if kind == "leaf":
            return make_leaf(b, s[1])
        name = f"{kind}{next(numbers)}"
        if kind in ("seq", "sel"):
            return (b.sequence if kind == "seq" else b.selector)(name, *map(make, s[2]), memory=s[1])
        if kind == "par":
            return b.parallel(name, *map(make, s[2]), success_threshold=s[1])
        if kind == "try":
            return bt.try_catch(make(s[1]))(make(s[2]))
        child = make(s[1])
        condition = lambda bb: bb["calls"][0] % 3 != 2  # noqa: E731 - a condition of the blackboard
        return {
            "inv": lambda: child.inverter(),
            "retry": lambda: child.retry(2),
            "timeout": lambda: child.timeout(2.0),
            "rate": lambda: child.rate_limit(1.5),
            "when": lambda: child.when(condition),
            "loop": lambda: child.do_while(condition),
        }[kind]()

    return b.build(make(shape))


def blackboard(script: list[list[str]]) -> dict[str, Any]:
    return {"calls": [0] * LEAVES, "script": script, "halts": []}


def step(runner: Runner, clock: ManualClock, op: Any) -> Any:
    async def run() -> Any:
        if op == "tick":
            return (await runner.tick()).name
        clock.advance(op)
        return None

    return run()


async def observe(runner: Runner, clock: ManualClock, ops: list[Any]) -> list[Any]:
    seen = []
    for op in ops:
        result = await step(runner, clock, op)
        seen.append((op, result, [s and s.name for s in runner.status], json.dumps(runner.bb), clock.now()))
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, script=scripts, before=steps, after=steps)
def test_run_n_snapshot_restore_run_m_equals_run_n_plus_m(
    shape: Any, script: list[list[str]], before: list[Any], after: list[Any]
) -> None:
    tree = build(shape)

    async def scenario() -> None:
        clock = ManualClock()
        reference = Runner(tree, blackboard(script), clock)
        expected = await observe(reference, clock, before + after)

        clock = ManualClock()
        original = Runner(tree, blackboard(script), clock)
        first = await observe(original, clock, before)
        document = json.loads(json.dumps(original.snapshot()))  # plain JSON, through text
        original.reset()  # the original goes away (its halt hooks write to its own blackboard)
        clock = ManualClock(start=clock.now())
        restored = Runner.restore(tree, document, timebase=clock)
        assert restored.last_status is original.last_status and restored.ticks == original.ticks
        rest = await observe(restored, clock, after)
        assert first + rest == expected

    asyncio.run(scenario())


# ------------------------------------------------------------------------------------------- parts


@pytest.fixture
def patrol() -> Tree:
    @bt.tree
    def Patrol() -> None:
        @bt.action
        def step_forward(bb: dict[str, Any]) -> Status:
            bb["position"] += 1
            return Status.SUCCESS if bb["position"] % 3 == 0 else Status.RUNNING

        @bt.action
        async def wait(bb: dict[str, Any], timebase: ManualClock) -> Status:
            bb["waits"] += 1
            await timebase.sleep(10)
            return Status.SUCCESS

        @bt.root
        @bt.sequence
        def main() -> Any:
            yield step_forward
            yield bt.timeout(5)(wait)

    return Patrol


async def test_the_document_is_versioned_json_with_the_blackboard_through_the_codecs(patrol: Tree) -> None:
    runner = Runner(patrol, {"position": 0, "waits": 0}, ManualClock())
    await runner.tick()
    document = runner.snapshot()
    assert json.loads(json.dumps(document)) == document
    assert (document["engine"], document["version"], document["tree"]) == ("rhizomorph", 1, "Patrol")
    assert document["blackboard"] == {"codec": 1, "value": {"position": 1, "waits": 0}}
    assert document["cur"][0] == 0 and document["status"][0] == "running"


async def test_a_running_async_leaf_restarts_and_a_running_timeout_keeps_its_deadline(patrol: Tree) -> None:
    clock = ManualClock()
    runner = Runner(patrol, {"position": 0, "waits": 0}, clock)
    for _ in range(3):
        await runner.tick()  # step_forward runs to 3, then wait starts (the timeout's deadline: t=5)
    await clock.run_for(2)
    assert runner.snapshot()["data"] == {"2": {"deadline": 5.0}}  # node 2: the timeout
    document = runner.snapshot()
    await runner.aclose()

    clock = ManualClock(start=2)
    restored = Runner.restore(patrol, document, timebase=clock)
    assert restored.bb == {"position": 3, "waits": 1} and restored.running
    assert await restored.tick() is Status.RUNNING
    assert restored.bb["waits"] == 2  # the async leaf started again from scratch
    run = asyncio.create_task(restored.tick_until_complete())
    await clock.run_for(3)  # t=5: the original deadline, not 5 s after the restore
    assert await run is Status.FAILURE


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (Status.SUCCESS, Status.SUCCESS),
        (Status.FAILURE, Status.FAILURE),
        (None, Status.SUCCESS),
        (False, Status.FAILURE),
    ],
)
async def test_an_async_leaf_that_finished_before_the_snapshot_is_not_run_again(
    returned: Any, expected: Status, clock: ManualClock
) -> None:
    # Its work is done (a payment sent, a door opened): only no tick had collected the result yet.
    @bt.tree
    def Pay() -> None:
        @bt.root
        @bt.action
        async def pay(bb: dict[str, Any], timebase: ManualClock) -> Any:
            bb["payments"] += 1
            await timebase.sleep(1)
            return returned

    runner = Runner(Pay, {"payments": 0}, clock)
    assert await runner.tick() is Status.RUNNING
    await clock.run_for(1)  # pay finished; the next tick would collect its result
    document = json.loads(json.dumps(runner.snapshot()))
    restored = Runner.restore(Pay, document, timebase=ManualClock(start=1))
    assert await restored.tick() is expected
    assert restored.bb == {"payments": 1}  # not paid a second time
    assert await runner.tick() is expected  # what the original reports from there


async def test_a_restored_finished_leaf_halted_before_its_tick_runs_no_halt_hook(clock: ManualClock) -> None:
    halted = []
    b = TreeBuilder("Door")

    async def open_door(timebase: ManualClock) -> Status:
        await timebase.sleep(1)
        return Status.SUCCESS

    door = b.action(open_door, on_halt=lambda: halted.append("open_door"))
    runner = Runner(b.build(door), {}, clock)
    await runner.tick()
    await clock.run_for(1)
    restored = Runner.restore(runner.tree, runner.snapshot(), timebase=ManualClock(start=1))
    assert Runner.restore(runner.tree, restored.snapshot()).snapshot() == runner.snapshot()
    restored.reset()  # as halting the original: its work was over, nothing for the hook to stop
    assert halted == [] and restored.statuses()["open_door"] is Status.CANCELLED


@dataclass
class Board:
    n: int


async def test_registered_blackboard_types_go_through_the_codecs() -> None:
    @bt.tree
    def Count() -> None:
        @bt.root
        @bt.action
        def add(bb: Board) -> Status:
            bb.n += 1
            return Status.SUCCESS

    codecs = CodecRegistry()
    codecs.register(Board)
    runner = Runner(Count, Board(1))
    await runner.tick()
    again = Runner.restore(Count, runner.snapshot(codecs), codecs=codecs)
    assert again.bb == Board(2) and again.ticks == 1 and again.last_status is Status.SUCCESS
    with pytest.raises(CodecError, match=r"cannot encode a [\w.]*\bBoard: its type is not registered"):
        runner.snapshot()  # Board is not registered in a default registry (the wording: see below)


@dataclass
class Unregistered:
    n: int


@bt.tree
def Counter() -> None:
    """A tree over a blackboard of a type no registry knows until a test registers it."""

    @bt.root
    @bt.action
    def add(bb: Unregistered) -> Status:
        return Status.SUCCESS


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        # No registry passed: registering Board in one would not reach this call; say to pass one.
        (
            None,
            r"make a CodecRegistry, registry\.register\(Unregistered\) \(.*\), and pass it: runner\.snapshot"
            r"\(codecs=registry\), and Runner\.restore\(\.\.\., codecs=registry\) to read it back",
        ),
        (CodecRegistry(), r"registry\.register\(Unregistered\) \([^)]*\)"),
    ],
    ids=["no registry", "a registry"],
)
async def test_an_unregistered_blackboard_type_names_the_tree_and_one_fix(
    codecs: CodecRegistry | None, fix: str
) -> None:
    runner = Runner(Counter, Unregistered(1))
    await runner.tick()
    with pytest.raises(
        CodecError,
        match=rf"^tree 'Counter': its blackboard cannot be written down: cannot encode a "
        rf"[\w.]*\bUnregistered: its type is not registered\. Fix: {fix}$",
    ) as caught:
        runner.snapshot(codecs)
    assert str(caught.value).count("Fix:") == 1


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        (
            None,
            r"make a CodecRegistry, register the class under that name, registry\.register\(TheClass, "
            r"name='[\w.]*\bUnregistered'\), and pass it: Runner\.restore\(\.\.\., codecs=registry\), "
            r"the registry the snapshot was taken with",
        ),
        (
            CodecRegistry(),
            r"register the class under that name, registry\.register\(TheClass, name='[\w.]+'\)",
        ),
    ],
    ids=["no registry", "a registry"],
)
async def test_a_blackboard_of_an_unknown_type_names_the_tree_and_one_fix(
    codecs: CodecRegistry | None, fix: str
) -> None:
    known = CodecRegistry()
    known.register(Unregistered)
    runner = Runner(Counter, Unregistered(1))
    await runner.tick()
    document = runner.snapshot(known)
    with pytest.raises(
        CodecError,
        match=rf"^tree 'Counter': the blackboard in the document cannot be read: unknown type "
        rf"'[\w.]*\bUnregistered' in the document: this registry has no codec for it\. Fix: {fix}$",
    ) as caught:
        Runner.restore(Counter, document, codecs=codecs)
    assert str(caught.value).count("Fix:") == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(engine="septum"), "not a behaviour-tree snapshot"),
        (lambda d: d.update(version=2), "format 2 is newer than format 1"),
        (lambda d: d.update(version="1"), "malformed version"),
        (lambda d: d.update(tree="Other"), "taken of tree 'Other'"),
        (lambda d: d["status"].pop(), "'status' is not a list of"),
        (lambda d: d["status"].__setitem__(0, "bogus"), "'bogus' is not a status"),
        (lambda d: d["data"].update({"99": {"started": 1}}), "node '99' does not exist"),
        (lambda d: d["data"].update({"2": {"started": "x"}}), "does not fit a timeout node"),
        (lambda d: d.update(ticks=1.5), "whole numbers"),
        (lambda d: d["data"].update({"2": {"deadline": float("nan")}}), "does not fit a timeout node"),
        (lambda d: d["data"].update({"2": {"deadline": float("inf")}}), "does not fit a timeout node"),
        (lambda d: d.update(ticks=-1), "tick stamps must be >= 0"),
        (lambda d: d["seen"].__setitem__(1, -3), "tick stamps must be >= 0"),
        (lambda d: d["cur"].__setitem__(0, 99), r"node 'main' \(node 0\): cursor 99 does not fit a sequence"),
        (lambda d: d["cur"].__setitem__(0, -1), r"node 'main' \(node 0\): cursor -1 does not fit a sequence"),
        (lambda d: d["cur"].__setitem__(2, 2), r"'timeout_wait' \(node 2\): cursor 2 does not fit a timeout"),
        (lambda d: d["cur"].__setitem__(1, 1), r"'step_forward' \(node 1\): cursor 1 does not fit an action"),
    ],
)
async def test_a_wrong_document_is_a_clear_error(patrol: Tree, change: Any, message: str) -> None:
    runner = Runner(patrol, {"position": 0, "waits": 0}, ManualClock())
    await runner.tick()
    document = runner.snapshot()
    change(document)
    with pytest.raises(CodecError, match=message) as caught:
        Runner.restore(patrol, document, timebase=ManualClock())
    assert str(caught.value).count(". Fix: ") == 1  # every refusal says what to do, once
    with pytest.raises(CodecError, match="not a behaviour-tree snapshot"):
        Runner.restore(patrol, [1, 2], timebase=ManualClock())


DAMAGED = (
    r"\. Fix: pass Runner\.restore\(\) the document runner\.snapshot\(\) wrote, unchanged \(this one was "
    r"damaged or edited\)$"
)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["status"].pop(),
        lambda d: d["status"].__setitem__(0, "bogus"),
        lambda d: d["data"].update({"99": {"started": 1}}),
        lambda d: d["data"].update({"2": {"started": "x"}}),
        lambda d: d["data"].update({"2": 5}),
        lambda d: d.update(data=[1]),
        lambda d: d.update(ticks=1.5),
        lambda d: d.update(ticks=-1),
        lambda d: d["cur"].__setitem__(0, 99),
        lambda d: d["data"].update({"3": {"returned": "success"}}),  # wait: not RUNNING
        lambda d: d["data"].update({"1": {"returned": "success"}}),  # step_forward: a plain leaf
        lambda d: d["data"].update({"3": {"returned": 5}}),
    ],
)
async def test_a_malformed_document_is_refused_with_its_fix(patrol: Tree, change: Any) -> None:
    # These said what was wrong and stopped there: no "Fix: ..." said what to do about it.
    runner = Runner(patrol, {"position": 0, "waits": 0}, ManualClock())
    await runner.tick()
    document = runner.snapshot()
    change(document)
    with pytest.raises(CodecError, match=rf"^rhizomorph snapshot: .*{DAMAGED}"):
        Runner.restore(patrol, document, timebase=ManualClock())


def _patrol_with(root: Any, extra: bool = False) -> Tree:
    """A tree named Patrol like the fixture's (same name), with another root composite or a leaf more."""

    @bt.tree
    def Patrol() -> None:
        @bt.action
        def step_forward(bb: dict[str, Any]) -> Status:
            return Status.RUNNING

        @bt.action
        def wait(bb: dict[str, Any]) -> Status:
            return Status.RUNNING

        @bt.root
        @root
        def main() -> Any:
            yield step_forward
            yield bt.timeout(5)(wait)
            if extra:
                yield wait

    return Patrol


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (
            lambda: _patrol_with(bt.selector),
            r"node 'main' \(node 0\) is a selector in tree 'Patrol' as defined now, "
            r"but was a sequence when the snapshot was taken",
        ),
        (
            lambda: _patrol_with(bt.sequence, extra=True),
            r"tree 'Patrol' has 5 nodes as defined now, but had 4 when the snapshot was taken",
        ),
    ],
)
async def test_a_tree_of_the_same_name_but_another_shape_is_refused_naming_what_differs(
    patrol: Tree, other: Any, message: str
) -> None:
    runner = Runner(patrol, {"position": 0, "waits": 0}, ManualClock())
    await runner.tick()
    with pytest.raises(CodecError, match=message + r".*Fix: restore it with the tree it was taken of"):
        Runner.restore(other(), runner.snapshot(), timebase=ManualClock())


def _alarmed_tree(caller: str, take: Any) -> Tree:
    """A selector whose first child, once bb["alarm"] is set, preempts the running walk: ``caller``
    (the leaf, an async leaf, or walk's halt hook) calls ``take`` during that tick."""

    def alarm(bb: dict[str, bool]) -> Status:
        if bb["alarm"] and caller != "halt hook":
            take()
        return Status.RUNNING if bb["alarm"] else Status.FAILURE

    async def alarm_async(bb: dict[str, bool]) -> Status:
        return alarm(bb)  # in the coroutine's eager start: still inside the tick

    def hook() -> None:
        if caller == "halt hook":
            take()

    b = TreeBuilder("Alarmed")
    first = b.action(alarm_async if caller == "async leaf" else alarm, name="alarm")
    walk = b.action(lambda: Status.RUNNING, name="walk", on_halt=hook)
    b.root(b.selector("main", first, b.sequence("rounds", walk), memory=False))
    return b.build()


@pytest.mark.parametrize("caller", ["halt hook", "leaf", "async leaf"])
async def test_a_snapshot_during_a_tick_is_refused_naming_the_tree(caller: str, clock: ManualClock) -> None:
    # A leaf (or a halt hook) wrote the runner down halfway through a tick: the document held the
    # statuses and cursors of a tick not yet over, and a runner restored from it went on from them.
    bb = {"alarm": False}
    runner: Runner
    tree = _alarmed_tree(caller, lambda: runner.snapshot())
    runner = Runner(tree, bb, clock)
    failures: list[Any] = []
    runner.add_observer(lambda event: failures.append(getattr(event, "error", None)))
    assert await runner.tick() is Status.RUNNING
    bb["alarm"] = True
    refused = (
        r"tree 'Alarmed': snapshot\(\) during a tick \(by a leaf or a halt hook\) would write down "
        r"a tick half done, and a runner restored from it would go on from there\. Fix: call snapshot\(\) "
        r"between ticks \(after tick\(\) returns, or from on_tick\)$"
    )
    if caller == "halt hook":
        assert await runner.tick() is Status.RUNNING  # the hook's error is reported; halting goes on
        [error] = [e for e in failures if e is not None]
        with pytest.raises(ExecutionError, match=refused):
            raise error
    else:
        with pytest.raises(ExecutionError, match=refused):
            await runner.tick()
    await runner.aclose()


@pytest.mark.parametrize("caller", ["on_tick", "halt hook of reset()", "halt hook of a timeout"])
async def test_a_snapshot_between_ticks_works_from_callbacks_too(caller: str, clock: ManualClock) -> None:
    # Not refused: the tick is over (on_tick), or no tick runs (a reset's halts, a timer's).
    documents: list[dict[str, Any]] = []

    def hook() -> None:
        if caller != "on_tick":
            documents.append(runner.snapshot())

    def on_tick(rt: Runner, status: Status) -> None:
        if caller == "on_tick":
            documents.append(rt.snapshot())

    b = TreeBuilder("Between")
    walk = b.action(lambda: Status.RUNNING, name="walk", on_halt=hook)
    b.root(b.timeout(5, b.sequence("rounds", walk), name="limit"))
    runner = Runner(b.build(), {}, clock, on_tick=on_tick)
    assert await runner.tick() is Status.RUNNING
    if caller == "halt hook of reset()":
        runner.reset()
    elif caller == "halt hook of a timeout":
        await clock.run_for(5)
    [document] = documents
    assert document["tree"] == "Between"
    restored = Runner.restore(runner.tree, document, timebase=ManualClock(start=clock.now()))
    assert restored.ticks == 1
    await runner.aclose()
    await restored.aclose()


async def test_a_blackboard_passed_to_restore_is_the_restored_one(patrol: Tree, clock: ManualClock) -> None:
    runner = Runner(patrol, {"position": 0, "waits": 0}, clock)
    await runner.tick()
    document = runner.snapshot()
    shared = {"position": 1, "waits": 0}  # owned by an embedder (a net), written down by it
    again = Runner.restore(patrol, document, bb=shared, timebase=ManualClock())
    assert again.bb is shared
    await again.tick()
    assert shared["position"] == 2
    document["blackboard"] = {"codec": 1, "value": {"$t": "Unregistered", "v": 1}}
    assert Runner.restore(patrol, document, bb=shared).bb is shared  # (the document's is not read)
    with pytest.raises(CodecError, match="unknown type 'Unregistered'"):
        Runner.restore(patrol, document)
