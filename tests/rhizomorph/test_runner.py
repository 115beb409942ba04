"""Runner: ticking, waiting without polling, error policy, tracing, many runners per tree."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ExecutionError, HandlerError, InvalidStatusError, ManualClock
from mycorrhizal.common.errors import split_fix
from mycorrhizal.rhizomorph import ErrorPolicy, Runner, Status, TreeBuilder, bt
from mycorrhizal.rhizomorph.events import CleanupFailed, LeafFailed, NodeHalted, NodeStatusChanged

from .conftest import Script

S, F, R = Status.SUCCESS, Status.FAILURE, Status.RUNNING


def sleeper_tree(seconds: float) -> Any:
    async def nap(bb: dict[str, Any], timebase: ManualClock) -> Status:
        await timebase.sleep(seconds)
        bb["woke"] = timebase.now()
        return Status.SUCCESS

    b = TreeBuilder("Nap")
    b.root(b.sequence("main", b.action(nap), b.action(lambda bb: S, name="after")))
    return b.build()


async def test_tick_until_complete_waits_for_async_leaves_instead_of_reticking(clock: ManualClock) -> None:
    bb: dict[str, Any] = {}
    runner = Runner(sleeper_tree(30), bb, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(29)
    assert runner.ticks == 1  # one tick started the nap; nothing re-ticked while it slept
    await clock.run_for(1)
    assert await run is S
    assert runner.ticks == 2
    assert bb == {"woke": 30.0}


async def test_tick_until_complete_wakes_for_a_timeout(clock: ManualClock) -> None:
    async def forever(timebase: ManualClock) -> Status:
        await timebase.sleep(1e9)
        return Status.SUCCESS

    b = TreeBuilder("Bounded")
    b.root(b.timeout(3, b.action(forever)))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await clock.run_for(3)
    assert await run is F
    assert runner.ticks == 2


async def test_a_polling_sync_leaf_is_reticked_every_period(clock: ManualClock) -> None:
    seen: list[float] = []

    def arrived(timebase: ManualClock) -> Status:
        seen.append(timebase.now())
        return S if timebase.now() >= 3 else R

    b = TreeBuilder("Poll")
    b.root(b.action(arrived))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete(period=1.0))
    await clock.run_for(3)
    assert await run is S
    assert seen == [0.0, 1.0, 2.0, 3.0]


async def test_a_polling_sync_leaf_without_a_period_yields_to_the_loop_between_ticks(script: Script) -> None:
    bb = {"n": 0}

    def counter(bb: dict[str, int]) -> Status:
        bb["n"] += 1
        return S if bb["n"] == 5 else R

    b = TreeBuilder("Count")
    b.root(b.action(counter))
    other_ran: list[int] = []

    async def other() -> None:
        for _ in range(3):
            other_ran.append(bb["n"])
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    assert await Runner(b.build(), bb).tick_until_complete() is S
    await task
    assert other_ran == [1, 2, 3]  # the other task ran between ticks


@pytest.mark.parametrize("suspends", [False, True], ids=["at-once", "after-a-suspension"])
async def test_an_async_leaf_that_ends_running_is_polled_like_a_sync_one(
    clock: ManualClock, suspends: bool
) -> None:
    calls: list[float] = []

    async def arrived(timebase: ManualClock) -> Status:
        if suspends:
            await asyncio.sleep(0)
        calls.append(timebase.now())
        return S if timebase.now() >= 2 else R

    b = TreeBuilder("AsyncPoll")
    b.root(b.action(arrived))
    run = asyncio.create_task(Runner(b.build(), {}, clock).tick_until_complete(period=1.0))
    await clock.run_for(2)
    assert await run is S  # (without polling it waited for ever: nothing else would wake it)
    assert calls == [0.0, 1.0, 2.0]


async def test_max_ticks_bounds_tick_until_complete(script: Script) -> None:
    b = TreeBuilder("Forever")
    b.root(b.action(script.leaf("spin", R)))
    runner = Runner(b.build(), {})
    assert await runner.tick_until_complete(max_ticks=4) is R
    assert runner.ticks == 4
    with pytest.raises(ValueError, match="max_ticks must be >= 1"):
        await runner.tick_until_complete(max_ticks=0)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        (
            {"period": -1},
            r"got period=-1\. Fix: period is seconds between polls: pass 0 or more, or None to poll at once$",
        ),
        ({"period": float("nan")}, r"got period=nan\. Fix: period is seconds between polls"),
        (
            {"timeout": -0.5},
            r"got timeout=-0.5\. Fix: timeout is seconds on the timebase: "
            r"pass 0 or more, or None for no timeout$",
        ),
        ({"timeout": -1, "period": -1}, r"got timeout=-1, period=-1\. Fix: timeout is .*; period is "),
        (
            {"timeout": True},
            r"got timeout=True\. Fix: timeout is seconds on the timebase: "
            r"pass 0 or more, or None for no timeout$",
        ),
        ({"timeout": "5"}, r"got timeout='5'\. Fix: timeout is seconds on the timebase"),
        ({"period": True}, r"got period=True\. Fix: period is seconds between polls"),
        ({"period": "0.1"}, r"got period='0.1'\. Fix: period is seconds between polls"),
        (
            {"max_ticks": True},
            r"got max_ticks=True\. Fix: max_ticks must be >= 1 and an int \(or None for no limit\)$",
        ),
        ({"max_ticks": 2.5}, r"got max_ticks=2.5\. Fix: max_ticks must be >= 1 and an int"),
        ({"max_ticks": float("nan")}, r"got max_ticks=nan\. Fix: max_ticks must be >= 1 and an int"),
        ({"max_ticks": float("inf")}, r"got max_ticks=inf\. Fix: max_ticks must be >= 1 and an int"),
        ({"max_ticks": "3"}, r"got max_ticks='3'\. Fix: max_ticks must be >= 1 and an int"),
    ],
)
async def test_tick_until_complete_refuses_a_negative_period_or_timeout(
    script: Script, arguments: dict[str, Any], match: str
) -> None:
    b = TreeBuilder("Forever")
    b.root(b.action(script.leaf("spin", R)))
    runner = Runner(b.build(), {})
    with pytest.raises(ValueError, match=r"^tree 'Forever': tick_until_complete\(\) " + match):
        await runner.tick_until_complete(**arguments)  # before the fix: accepted (period=-1 polled at once)
    assert runner.ticks == 0
    assert await runner.tick_until_complete(max_ticks=1) is R  # the runner is still usable


def raising_tree(policy: ErrorPolicy | None = None, is_async: bool = False) -> Any:
    def boom(bb: Any) -> Status:
        raise KeyError("missing")

    async def aboom(bb: Any) -> Status:
        await asyncio.sleep(0)
        raise KeyError("missing")

    b = TreeBuilder("Faulty")
    fallback = b.action(lambda: S, name="fallback")
    b.root(b.selector("main", b.action(aboom if is_async else boom, name="boom", on_error=policy), fallback))
    return b.build()


@pytest.mark.parametrize("is_async", [False, True])
async def test_by_default_a_leaf_exception_propagates_as_handler_error_naming_the_node(
    is_async: bool,
) -> None:
    runner = Runner(raising_tree(is_async=is_async), {})
    with pytest.raises(
        HandlerError, match=r"action 'boom' in tree 'Faulty' raised KeyError\('missing'\)"
    ) as info:
        await runner.tick_until_complete()
    assert info.value.node == "boom"
    assert isinstance(info.value.__cause__, KeyError)
    assert not runner.running  # the tree was reset on the way out


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    ("runner_policy", "leaf_policy", "leaf_status"),
    [
        (ErrorPolicy.FAILURE, None, F),
        (ErrorPolicy.ERROR, None, Status.ERROR),
        (ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE, F),
        (ErrorPolicy.FAILURE, ErrorPolicy.ERROR, Status.ERROR),
    ],
)
async def test_error_policy_turns_exceptions_into_statuses(
    caplog: pytest.LogCaptureFixture,
    is_async: bool,
    runner_policy: ErrorPolicy,
    leaf_policy: ErrorPolicy | None,
    leaf_status: Status,
) -> None:
    runner = Runner(raising_tree(leaf_policy, is_async), {}, on_error=runner_policy)
    assert await runner.tick_until_complete() is S  # the selector fell back
    assert runner.statuses()["boom"] is leaf_status
    assert "action 'boom' raised KeyError('missing')" in caplog.text


async def test_a_handled_leaf_failure_is_one_warning_line_with_the_traceback_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 8 (logs): an expected fault the policy handles is not an ERROR with a traceback."""
    runner = Runner(raising_tree(None, False), {}, on_error=ErrorPolicy.FAILURE)
    with caplog.at_level(logging.INFO, logger="mycorrhizal.rhizomorph"):
        await runner.tick()
    failures = [r for r in caplog.records if "raised" in r.getMessage()]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in failures] == [
        ("WARNING", "Faulty: action 'boom' raised KeyError('missing'); reporting FAILURE", None)
    ]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.rhizomorph"):
        await Runner(raising_tree(None, False), {}, on_error=ErrorPolicy.FAILURE).tick()
    traced = [r for r in caplog.records if r.exc_info is not None]
    assert [(r.levelname, r.getMessage()) for r in traced] == [
        ("DEBUG", "Faulty: traceback of 'boom''s failure")
    ]
    assert isinstance(traced[0].exc_info[1], KeyError)  # type: ignore[index]


def test_an_unknown_error_policy_is_a_definition_error() -> None:
    from mycorrhizal.common import DefinitionError

    with pytest.raises(DefinitionError, match="action 'x': on_error='ignore' is not an error policy"):
        bt.action(name="x", on_error="ignore")(lambda: S)


async def test_each_tick_is_traced_at_debug(caplog: pytest.LogCaptureFixture, script: Script) -> None:
    b = TreeBuilder("Traced")
    b.root(b.sequence("main", b.condition(script.leaf("ok", True)), b.action(script.leaf("go", R))))
    runner = Runner(b.build(), {})
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal.rhizomorph"):
        await runner.tick()
    assert caplog.messages == ["Traced tick 1: main=RUNNING ok=SUCCESS go=RUNNING"]


async def test_the_trace_is_not_built_when_debug_is_off(
    monkeypatch: pytest.MonkeyPatch, script: Script
) -> None:
    b = TreeBuilder("Quiet")
    b.root(b.action(script.leaf("go")))
    runner = Runner(b.build(), {})

    def exploding_trace(self: Runner) -> str:
        raise AssertionError("trace built although DEBUG is off")

    monkeypatch.setattr(Runner, "trace", exploding_trace)
    logging.getLogger("mycorrhizal.rhizomorph").setLevel(logging.INFO)
    try:
        assert await runner.tick() is S
    finally:
        logging.getLogger("mycorrhizal.rhizomorph").setLevel(logging.NOTSET)


async def test_runners_of_one_tree_are_independent(script: Script) -> None:
    def step(bb: dict[str, int]) -> Status:
        bb["n"] += 1
        return S if bb["n"] >= 2 else R

    b = TreeBuilder("Shared")
    b.root(b.sequence("main", b.action(step), b.action(lambda: S, name="done")))
    tree = b.build()
    one, two = {"n": 0}, {"n": 5}
    first, second = Runner(tree, one), Runner(tree, two)
    assert await first.tick() is R
    assert await second.tick() is S
    assert await first.tick() is S
    assert one == {"n": 2} and two == {"n": 6}


async def test_ctx_reaches_every_leaf_that_asks_for_it() -> None:
    routed: list[tuple[Any, str]] = []

    class Ctx:
        def __init__(self, token: Any) -> None:
            self.token = token

        def route(self, output: str) -> None:
            routed.append((self.token, output))

    @bt.tree
    def Router() -> None:
        @bt.condition
        def valid(ctx: Ctx) -> bool:
            return bool(ctx.token["ok"])

        @bt.action
        def accept(ctx: Ctx, bb: dict[str, int]) -> Status:
            bb["accepted"] += 1
            ctx.route("ok")
            return Status.SUCCESS

        @bt.action
        def reject(ctx: Ctx) -> Status:
            ctx.route("failed")
            return Status.SUCCESS

        @bt.sequence
        def good() -> Any:
            yield valid
            yield accept

        @bt.root
        @bt.selector
        def route() -> Any:
            yield good
            yield reject

    bb = {"accepted": 0}
    for token in ({"id": 1, "ok": True}, {"id": 2, "ok": False}):
        assert await Runner(Router, bb, ctx=Ctx(token)).tick() is S
    assert [(t["id"], out) for t, out in routed] == [(1, "ok"), (2, "failed")]
    assert bb == {"accepted": 1}


async def test_introspection(script: Script) -> None:
    b = TreeBuilder("Look")
    b.root(b.selector("main", b.condition(script.leaf("first", False)), b.action(script.leaf("second", R))))
    runner = Runner(b.build(), {})
    assert runner.last_status is None and runner.statuses() == {"main": None, "first": None, "second": None}
    await runner.tick()
    assert runner.last_status is R and runner.running
    assert runner.last_tick() == {"main": R, "first": F, "second": R}
    assert "ticks=1" in repr(runner)


async def test_one_runner_is_driven_by_one_tick_until_complete_at_a_time(clock: ManualClock) -> None:
    runner = Runner(sleeper_tree(10), {}, clock)
    first = asyncio.create_task(runner.tick_until_complete())
    await asyncio.sleep(0)
    with pytest.raises(
        ExecutionError,
        match=r"tree 'Nap': tick_until_complete\(\) is already running for this runner\. "
        r"Fix: await that call",
    ):
        await runner.tick_until_complete()
    await clock.run_for(10)
    assert await first is S
    assert await runner.tick_until_complete(max_ticks=1) is R  # free again afterwards
    runner.reset()


async def test_tick_is_refused_while_tick_until_complete_drives_the_runner(clock: ManualClock) -> None:
    # A tick() from elsewhere used to collect the run's result; tick_until_complete() then ticked
    # the finished tree again, starting all its work a second time.
    runs: list[float] = []

    async def work(timebase: ManualClock) -> Status:
        runs.append(timebase.now())
        await timebase.sleep(1)
        return Status.SUCCESS

    b = TreeBuilder("Once")
    b.root(b.action(work))
    runner = Runner(b.build(), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await asyncio.sleep(0)
    clock.advance(1)
    await asyncio.sleep(0)  # the leaf's task finishes and wakes the run
    refused = (
        r"tree 'Once': tick\(\) while tick_until_complete\(\) is running for this runner\. "
        r"Fix: await that call"
    )
    with pytest.raises(ExecutionError, match=refused):
        await runner.tick()
    await clock.run_for(2)
    assert await run is S
    assert runs == [0.0] and runner.ticks == 2
    assert await runner.tick() is R  # free again afterwards: a new run starts
    assert runs == [0.0, 3.0]
    runner.reset()


def test_runner_arguments_are_checked_as_a_definition() -> None:
    with pytest.raises(
        DefinitionError, match=r"Runner: needs a behaviour tree, got 'tree'. Fix: pass a tree"
    ):
        Runner("tree", {})  # type: ignore[arg-type]
    b = TreeBuilder("T")
    b.root(b.action(lambda: Status.SUCCESS, name="go"))
    with pytest.raises(DefinitionError, match=r"Runner: on_error='error' is not an error policy. Fix: use"):
        Runner(b.build(), on_error="error")  # type: ignore[arg-type]


async def test_completion_is_logged_at_info(caplog: pytest.LogCaptureFixture, script: Script) -> None:
    b = TreeBuilder("Brief")
    b.root(b.action(script.leaf("go")))
    with caplog.at_level(logging.INFO, logger="mycorrhizal.rhizomorph"):
        await Runner(b.build(), {}).tick_until_complete()
    assert caplog.messages == ["Brief finished SUCCESS after 1 ticks"]


async def test_on_tick_sees_every_tick(script: Script) -> None:
    seen: list[tuple[int, Status, dict[str, Status]]] = []
    b = TreeBuilder("Watched")
    b.root(b.sequence("main", b.action(script.leaf("one")), b.action(script.leaf("two", R))))
    runner = Runner(b.build(), {}, on_tick=lambda r, status: seen.append((r.ticks, status, r.last_tick())))
    await runner.tick()
    script.results["two"] = S
    await runner.tick()
    assert seen == [
        (1, R, {"main": R, "one": S, "two": R}),
        (2, S, {"main": S, "two": S}),
    ]


def _last_told(seen: list[Any]) -> dict[str, Status]:
    """Each node's status as an observer's records tell it (NodeHalted: CANCELLED)."""
    told: dict[str, Status] = {}
    for event in seen:
        if isinstance(event, NodeStatusChanged):
            told[event.node] = event.new
        elif isinstance(event, NodeHalted):
            told[event.node] = Status.CANCELLED
        elif isinstance(event, LeafFailed) and event.outcome is None:
            told[event.node] = Status.ERROR  # raised out of the tick: no status record follows
    return told


@pytest.mark.parametrize("caller", ["halt hook", "leaf", "async leaf"])
async def test_reset_during_a_tick_is_refused_naming_the_tree(caller: str, clock: ManualClock) -> None:
    # walk's halt hook (or the leaf ticked first) reset the whole tree in the middle of the tick,
    # which went on over the progress it cleared: main reported RUNNING, following alarm that the
    # reset had halted, and an observer's last record of main said it was halted.
    bb = {"alarm": False}
    seen: list[Any] = []

    def alarm(bb: dict[str, bool]) -> Status:
        if bb["alarm"] and caller != "halt hook":
            runner.reset()
        return R if bb["alarm"] else F

    async def alarm_async(bb: dict[str, bool]) -> Status:
        return alarm(bb)  # in the coroutine's eager start: still inside the tick

    def hook() -> None:
        if caller == "halt hook":
            runner.reset()

    b = TreeBuilder("Reset")
    first = b.action(alarm_async if caller == "async leaf" else alarm, name="alarm")
    walk = b.action(lambda: R, name="walk", on_halt=hook)
    b.root(b.selector("main", first, b.sequence("rounds", walk), memory=False))
    runner = Runner(b.build(), bb, clock)
    runner.add_observer(seen.append)
    assert await runner.tick() is R
    bb["alarm"] = True
    refused = (
        r"tree 'Reset': reset\(\) during a tick \(by a leaf or a halt hook\) would clear the progress "
        r"the tick goes on from\. Fix: end the run with the status the leaf returns, or call reset\(\) "
        r"between ticks \(after tick\(\) returns, or from on_tick\)$"
    )
    if caller == "halt hook":
        assert await runner.tick() is R  # the hook's error is reported; halting goes on
        [failed] = [e for e in seen if isinstance(e, CleanupFailed)]
        with pytest.raises(ExecutionError, match=refused):
            raise failed.error
    else:
        with pytest.raises(ExecutionError, match=refused):
            await runner.tick()  # raised out of the tick, which halts what runs
    statuses = runner.statuses()
    assert _last_told(seen) == {node: status for node, status in statuses.items() if status is not None}
    assert runner.running is (statuses["alarm"] is R)  # a RUNNING root follows a RUNNING child
    await runner.aclose()


@pytest.mark.parametrize("caller", ["on_tick", "halt hook of reset()", "halt hook of a timeout"])
async def test_reset_between_ticks_works_from_callbacks_too(caller: str, clock: ManualClock) -> None:
    # Not refused: the tick is over (on_tick), or no tick runs (a reset's halts, a timer's).
    halts: list[str] = []

    def hook() -> None:
        halts.append("walk")
        if caller != "on_tick":
            runner.reset()

    def on_tick(rt: Runner, status: Status) -> None:
        if caller == "on_tick":
            rt.reset()

    b = TreeBuilder("Reset")
    b.root(b.timeout(5, b.sequence("rounds", b.action(lambda: R, name="walk", on_halt=hook)), name="limit"))
    runner = Runner(b.build(), {}, clock, on_tick=on_tick)
    seen: list[Any] = []
    runner.add_observer(seen.append)
    assert await runner.tick() is R
    if caller == "halt hook of reset()":
        runner.reset()
    elif caller == "halt hook of a timeout":
        await clock.run_for(5)
    assert halts == ["walk"] and not runner.running
    assert runner.statuses() == dict.fromkeys(["limit", "rounds", "walk"], Status.CANCELLED)
    assert _last_told(seen) == runner.statuses()


# ------------------------------------------------------------------ every refusal ends with its fix


def _refusing(leaf: Any) -> Runner:
    """A runner of tree 'Refusing' whose one leaf is ``leaf`` (which asks for ``ctx``: the runner)."""
    b = TreeBuilder("Refusing")
    b.root(b.action(leaf, name="meddler"))
    runner = Runner(b.build(), {})
    runner.ctx = runner
    return runner


async def _tick_closed(clock: ManualClock) -> None:
    runner = Runner(sleeper_tree(10), {}, clock)
    await runner.aclose()
    await runner.tick()


async def _tick_while_driven(clock: ManualClock) -> None:
    runner = Runner(sleeper_tree(10), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await asyncio.sleep(0)
    try:
        await runner.tick()
    finally:
        await runner.aclose()
        await run


async def _drive_twice(clock: ManualClock) -> None:
    runner = Runner(sleeper_tree(10), {}, clock)
    run = asyncio.create_task(runner.tick_until_complete())
    await asyncio.sleep(0)
    try:
        await runner.tick_until_complete()
    finally:
        await runner.aclose()
        await run


async def _reset_in_a_tick(clock: ManualClock) -> None:
    await _refusing(lambda ctx: ctx.reset()).tick()


async def _aclose_in_a_tick(clock: ManualClock) -> None:
    async def closer(ctx: Runner) -> Status:
        await ctx.aclose()
        return S

    await _refusing(closer).tick()


async def _snapshot_in_a_tick(clock: ManualClock) -> None:
    await _refusing(lambda ctx: ctx.snapshot()).tick()


async def _bad_timeout(clock: ManualClock) -> None:
    await Runner(sleeper_tree(10), {}, clock).tick_until_complete(timeout=-1, max_ticks=0)


async def _leaf_raised(clock: ManualClock) -> None:
    def boom(bb: Any) -> Status:
        raise KeyError("missing")

    await _refusing(boom).tick()


async def _not_a_status(clock: ManualClock) -> None:
    await _refusing(lambda bb: "ok").tick()


async def _no_such_node(clock: ManualClock) -> None:
    @bt.tree
    def Nap() -> None:
        @bt.root
        @bt.action
        def nap(bb: Any) -> Status:
            return S

    _ = Nap.napp


REFUSALS = [
    (_tick_closed, ExecutionError, r"^tree 'Nap': tick\(\) on a closed runner\. Fix: make a new Runner"),
    (_tick_while_driven, ExecutionError, r"^tree 'Nap': tick\(\) while tick_until_complete\(\) is"),
    (_drive_twice, ExecutionError, r"^tree 'Nap': tick_until_complete\(\) is already running"),
    (_reset_in_a_tick, ExecutionError, r"^tree 'Refusing': reset\(\) during a tick .* would clear"),
    (_aclose_in_a_tick, ExecutionError, r"^tree 'Refusing': aclose\(\) during a tick .* would clear"),
    (_snapshot_in_a_tick, ExecutionError, r"^tree 'Refusing': snapshot\(\) during a tick .* half done"),
    (_bad_timeout, ValueError, r"^tree 'Nap': tick_until_complete\(\) got timeout=-1, max_ticks=0\. "),
    (_leaf_raised, HandlerError, r"^action 'meddler' in tree 'Refusing' raised KeyError\('missing'\)\. "),
    (_not_a_status, InvalidStatusError, r"^action 'meddler' in tree 'Refusing' returned 'ok'"),
    (_no_such_node, AttributeError, r"^tree 'Nap' declares no node named 'napp'\. Fix: did you mean"),
]
"""(what raises, the error's type, its start): refusals of a runner, and two that always said their fix."""


@pytest.mark.parametrize(
    ("trigger", "kind", "match"), REFUSALS, ids=[t.__name__.strip("_") for t, _, _ in REFUSALS]
)
async def test_each_refusal_names_the_tree_and_ends_with_one_fix(
    trigger: Any, kind: type[Exception], match: str, clock: ManualClock
) -> None:
    # Before: a closed runner, a tick during a run, reset()/aclose()/snapshot() in a tick, bad
    # tick_until_complete() arguments and a leaf's propagated exception said their advice after
    # "; " (or gave none), which split_fix() could not find: no ". Fix: " at all.
    with pytest.raises(kind, match=match) as info:
        await trigger(clock)
    said = str(info.value).removeprefix("'").removesuffix("'")  # (an AttributeError's str is its text)
    problem, fix = split_fix(said)
    assert said.count(". Fix: ") == 1 and problem and fix, said
