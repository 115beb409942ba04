"""Every snippet of the production guide runs as written.

The guide (copied verbatim next to this file) is executed block by block, in order, in one
namespace, exactly as a reader would paste it.  Helpers the guide leaves undefined
(``call_external_api``, ``CompletedState``, ``create_db_pool``, the ``aiokafka`` client, ...) are
supplied here.  Snippets that loop for ever by design (``while True: await fsm.run()`` over a
state that always transitions) run as tasks, are shown to make progress, and are then cancelled.
Snippets that must finish (threads, processes, load tests) run with a ``MyState`` of the same
shape whose loop ends after a few transitions in a terminal state.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
import sys
import types
from contextlib import suppress
from enum import Enum, auto
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.septum.names import bind, scope

GUIDE = Path(__file__).with_name("septum-production-guide.md")
BLOCKS = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
THREADS_BLOCK = 11  # the "Thread Safety" snippet, with a top-level ``await``


def test_the_guide_has_the_expected_snippets() -> None:
    assert len(BLOCKS) == 17


class TemporaryError(Exception):
    """The transient failure the guide's RetryState catches."""


@septum.state(config=StateConfiguration(terminal=True))
class CompletedState:
    pass


@septum.state(config=StateConfiguration(terminal=True))
class ErrorState:
    pass


@septum.state(config=StateConfiguration(terminal=True))
class NextState:
    pass


def bounded_my_state(limit: int = 25) -> Any:
    """A MyState like the guide's (DONE -> itself) whose loop ends after ``limit`` transitions."""

    @septum.state(config=StateConfiguration(terminal=True))
    class Finished:
        pass

    @septum.state
    class MyState:
        class Events(Enum):
            DONE = auto()
            FINISHED = auto()

        @septum.on_state
        async def on_state(ctx):
            ctx.common["n"] = ctx.common.get("n", 0) + 1
            return Events.FINISHED if ctx.common["n"] >= limit else Events.DONE  # noqa: F821

        @septum.transitions
        def transitions():
            return [
                LabeledTransition(Events.DONE, MyState),  # noqa: F821
                LabeledTransition(Events.FINISHED, Finished),  # noqa: F821
            ]

    return MyState


class Transitions(logging.Handler):
    """Counts MyState's self-transitions from the INFO log: progress of a machine that never ends."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "MyState -[DONE]-> MyState" in record.getMessage():
            self.count += 1


WINDOW = 32  # steps a never-waiting run() takes before yielding to the loop, in these tests


@pytest.fixture
def transitions(monkeypatch: pytest.MonkeyPatch) -> Any:
    # A small fairness window keeps the for-ever snippets (and their INFO logs) cheap to watch.
    monkeypatch.setattr("mycorrhizal.septum.engine.YIELD_EVERY", WINDOW)
    logger = logging.getLogger("mycorrhizal.septum")
    handler, level = Transitions(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def restore_root_logging() -> Any:
    """The guide's logging snippet calls logging.basicConfig(); keep that out of other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the guide leaves undefined, as a reader would define it."""
    kafka = types.ModuleType("aiokafka")

    class AIOKafkaConsumer:
        def __init__(self, topic: str, bootstrap_servers: str) -> None:
            self.topic, self.started = topic, False

        async def start(self) -> None:
            self.started = True

        def __aiter__(self) -> Any:
            async def messages() -> Any:
                for value in (b"cmd-1", b"cmd-2"):
                    yield types.SimpleNamespace(value=value)

            return messages()

    class AIOKafkaProducer:
        sent: list[tuple[str, Any]] = []

        def __init__(self, bootstrap_servers: str) -> None:
            pass

        async def start(self) -> None:
            pass

        async def send_and_wait(self, topic: str, value: Any) -> None:
            AIOKafkaProducer.sent.append((topic, value))

    kafka.AIOKafkaConsumer = AIOKafkaConsumer  # type: ignore[attr-defined]
    kafka.AIOKafkaProducer = AIOKafkaProducer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "aiokafka", kafka)

    class Pool:
        def __init__(self, max_size: int) -> None:
            self.max_size, self.closed = max_size, False

        async def close(self) -> None:
            self.closed = True

    async def create_db_pool(max_size: int) -> Pool:
        return Pool(max_size)

    class SteadyRandom:
        """``random`` for the chaos snippet: seeded, and its delays are zero (no real sleeping)."""

        def __init__(self) -> None:
            import random

            self._r = random.Random(7)

        def random(self) -> float:
            return self._r.random()

        def uniform(self, a: float, b: float) -> float:
            return 0.0

    return {
        "TemporaryError": TemporaryError,
        "CompletedState": CompletedState,
        "ErrorState": ErrorState,
        "NextState": NextState,
        "create_db_pool": create_db_pool,
        "deserialize": lambda raw: raw.decode(),
        "serialize": lambda state: state.name.encode(),
        "random": SteadyRandom(),
        "kafka_sent": AIOKafkaProducer.sent,
    }


async def run_guide(helpers: dict[str, Any], *, upto: int = len(BLOCKS), **before: Any) -> dict[str, Any]:
    """Execute blocks 1..upto in one namespace; ``before`` maps 'b<N>' to names set before block N."""
    namespace: dict[str, Any] = {"__name__": "septum_guide", **helpers}
    for number, block in enumerate(BLOCKS[:upto], 1):
        original = namespace.get("MyState")
        if number == THREADS_BLOCK:
            # Its worker threads must finish: they run a MyState whose loop ends (see module doc).
            namespace["MyState"] = bounded_my_state()
        namespace.update(before.get(f"b{number}", {}))
        code = compile(block, f"guide block {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # noqa: S307 - running the guide is the point
        if inspect.iscoroutine(result):
            await result
        if number == THREADS_BLOCK:
            namespace["MyState"] = original
    return namespace


async def runs_for_ever(coro: Any, rounds: int = 3) -> None:
    """Run ``coro`` as a task for a few loop turns, check it has not ended, then cancel it."""
    task = asyncio.ensure_future(coro)
    for _ in range(rounds):
        await asyncio.sleep(0)
    assert not task.done(), task
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def test_single_instance_runs_indefinitely_and_keeps_transitioning(helpers, transitions) -> None:
    ns = await run_guide(helpers, upto=1)
    assert ns["MyState"].name == "MyState"
    await runs_for_ever(ns["main"]())
    assert transitions.count >= 2 * WINDOW


async def test_multiple_instances_all_progress(helpers, transitions) -> None:
    ns = await run_guide(helpers, upto=2)
    await runs_for_ever(ns["run_multiple_fsms"]())
    assert transitions.count >= 10 * 2 * WINDOW  # all ten machines progress, turn by turn


async def test_pool_pattern(helpers, transitions) -> None:
    ns = await run_guide(helpers, upto=3)
    pool = ns["FSMPool"](ns["MyState"], pool_size=4)
    await pool.initialize()
    assert pool.pool.qsize() == 4
    fsm = await pool.acquire()
    await pool.release(fsm)
    await runs_for_ever(ns["with_fsm_pool"]())
    assert transitions.count >= 2 * WINDOW
    bounded = bounded_my_state()
    ns["MyState"] = bounded
    await ns["with_fsm_pool"]()  # with a loop that ends, the pattern runs to completion


async def test_logging_snippet_names_our_logger(helpers) -> None:
    ns = await run_guide(helpers, upto=4)
    assert ns["logger"] is logging.getLogger("mycorrhizal.septum")


async def test_metrics_state_is_a_clear_definition_error_and_its_hooks_resolve(helpers, capsys) -> None:
    ns = await run_guide(helpers, upto=5)
    MetricsFSM = ns["MetricsFSM"]
    state = MetricsFSM.MyState
    assert state.__name__ == "MyState"
    # The snippet declares hooks only: as a machine it has nothing to run, and says so.
    # Named as the header names the machine (not by its qualified name, MetricsFSM.MyState).
    with pytest.raises(
        DefinitionError,
        match=r"^state machine MyState has 1 problem:\n  - state MyState: has no @septum\.on_state handler",
    ):
        StateMachine(state)
    # Its hooks resolve ``MyState`` (the state itself) and ``ctx.common.get`` on a dict blackboard.
    metrics = MetricsFSM()
    ctx = types.SimpleNamespace(common={"metrics": metrics})
    names = scope(state, None)
    await bind(state.handler("on_enter"), names)(ctx)
    await bind(state.handler("on_leave"), names)(ctx)
    assert metrics.state_counts == {"MyState": 1}
    assert len(metrics.transition_times) == 1
    MetricsFSM.report_metrics(metrics)
    assert "State visits: {'MyState': 1}" in capsys.readouterr().out


async def test_health_checker(helpers) -> None:
    ns = await run_guide(helpers, upto=6)
    fsm = StateMachine(initial_state=ns["MyState"])
    await fsm.initialize()
    checker = ns["FSMHealthChecker"](fsm)
    assert await checker.check_health() == {"status": "healthy", "current_state": "MyState", "stack_depth": 0}
    checker.last_activity -= 60
    assert (await checker.check_health())["status"] == "unhealthy"
    checker.record_activity()
    assert (await checker.check_health())["status"] == "healthy"


@pytest.fixture
def flaky(helpers: dict[str, Any]) -> dict[str, Any]:
    """Switchable behaviour for the guide's external calls."""
    behaviour: dict[str, Any] = {"api": "ok", "flaky_failures": 99, "risky": "ok", "calls": 0}

    async def call_external_api(timeout: float) -> str:
        if behaviour["api"] == "timeout":
            raise TimeoutError
        if behaviour["api"] == "hang":
            await behaviour["clock"].sleep(1000)
        return "result"

    async def flaky_operation() -> str:
        behaviour["calls"] += 1
        if "clock" in behaviour:
            behaviour.setdefault("first_flaky_at", behaviour["clock"].now())
        if behaviour["calls"] <= behaviour["flaky_failures"]:
            raise TemporaryError("try again")
        return "ok"

    async def risky_operation() -> str:
        if behaviour["risky"] == "value":
            raise ValueError("bad value")
        if behaviour["risky"] == "other":
            raise KeyError("surprise")
        return "ok"

    helpers.update(
        call_external_api=call_external_api, flaky_operation=flaky_operation, risky_operation=risky_operation
    )
    return behaviour


@pytest.mark.parametrize(
    ("api", "expected", "retry_from"),
    [("ok", "CompletedState", None), ("timeout", "ErrorState", 0.0), ("hang", "ErrorState", 30.0)],
)
async def test_timeout_handling(helpers, flaky, clock: ManualClock, api, expected, retry_from) -> None:
    ns = await run_guide(helpers, upto=9)
    flaky.update(api=api, clock=clock)
    fsm = StateMachine(ns["ExternalAPIState"], timebase=clock)
    task = asyncio.create_task(fsm.run())
    await clock.run_for(60)
    await task
    # TIMEOUT (raised by the call, or the state's own 30 s timeout interrupting a hung call) leads
    # to RetryState, whose flaky operation keeps failing here, so the machine ends in ErrorState.
    assert fsm.current_state.name == expected
    assert flaky.get("first_flaky_at") == retry_from
    assert flaky["calls"] == (0 if retry_from is None else 4)


async def test_retry_logic_gives_up_after_three_retries(helpers, flaky, caplog) -> None:
    ns = await run_guide(helpers, upto=9)
    bb: dict[str, Any] = {}
    fsm = StateMachine(ns["RetryState"], common_data=bb)
    await fsm.run()
    assert fsm.current_state is ErrorState
    assert bb["retry_attempt"] == 4 and flaky["calls"] == 4  # the first attempt and three retries
    assert "Operation failed after 3 attempts" in caplog.text


async def test_retry_logic_succeeds_on_a_later_attempt(helpers, flaky) -> None:
    flaky["flaky_failures"] = 2
    ns = await run_guide(helpers, upto=9)
    fsm = StateMachine(ns["RetryState"])
    await fsm.run()
    assert fsm.current_state is CompletedState
    assert fsm.common["retry_attempt"] == 3


@pytest.mark.parametrize(
    ("risky", "expected"), [("ok", NextState), ("value", ErrorState), ("other", ErrorState)]
)
async def test_exception_propagation(helpers, flaky, caplog, risky, expected) -> None:
    flaky["risky"] = risky
    ns = await run_guide(helpers, upto=9)
    fsm = StateMachine(ns["SafeState"])
    await fsm.run()
    assert fsm.current_state is expected
    if risky == "value":
        assert fsm.common["last_error"] == "bad value"
    if risky == "other":
        assert "Unexpected error in SafeState: 'surprise'" in caplog.text


async def test_concurrent_fsms(helpers, transitions) -> None:
    ns = await run_guide(helpers, upto=10)
    await runs_for_ever(ns["run_concurrent_fsms"]())
    assert transitions.count >= 100 * WINDOW  # all hundred machines progress
    ns["MyState"] = bounded_my_state()
    await ns["run_concurrent_fsms"]()  # with machines that end, all hundred complete


async def test_thread_snippet_with_machines_that_end(helpers) -> None:
    ns = await run_guide(helpers, upto=THREADS_BLOCK)
    assert ns["fsm"].is_complete  # the machine shared with the worker thread ran to its end there
    assert all(f.done() and f.exception() is None for f in ns["futures"])


async def test_memory_aware_runner(helpers, caplog) -> None:
    ns = await run_guide(helpers, upto=12)
    runner = ns["MemoryAwareFSM"]()
    runner.fsm = StateMachine(initial_state=bounded_my_state())
    runner.tick_count = 1
    await runner.run_with_memory_limit(memory_limit_mb=0)  # over the limit at once: stops with a warning
    assert "Memory limit exceeded" in caplog.text
    await runs_for_ever(runner.run_with_memory_limit(memory_limit_mb=1000), rounds=5)
    assert runner.fsm.is_complete


async def test_connection_pool_state_without_events_is_a_clear_definition_error(helpers) -> None:
    ns = await run_guide(helpers, upto=13)
    owner = ns["ConnectionPoolFSM"](pool_size=3)
    await owner.initialize()
    assert owner.db_pool.max_size == 3
    with pytest.raises(
        DefinitionError,
        match=r"^state machine QueryState has 1 problem:\n  - state QueryState: "
        r"handler on_state refers to 'Events', which is not defined",
    ) as info:
        StateMachine(owner.QueryState, common_data={"db_pool": owner.db_pool})
    text = str(info.value)
    assert "define `class Events(Enum)` inside the state" in text
    await owner.cleanup()
    assert owner.db_pool.closed


async def test_process_scaling_function(helpers) -> None:
    ns = await run_guide(helpers, upto=14)
    ns["MyState"] = bounded_my_state()
    # run_fsm_process calls asyncio.run(), so it runs outside this loop, as in a child process.
    await asyncio.get_running_loop().run_in_executor(None, ns["run_fsm_process"], 0)


async def test_kafka_worker(helpers) -> None:
    ns = await run_guide(helpers, upto=15)
    ns["MyState"] = bounded_my_state()
    await ns["distributed_fsm_worker"]()
    assert helpers["kafka_sent"][-2:] == [("fsm-events", b"Finished"), ("fsm-events", b"Finished")]


async def test_load_test(helpers, capsys) -> None:
    ns = await run_guide(helpers, upto=16)
    ns["MyState"] = bounded_my_state()
    await ns["load_test_fsm"](num_concurrent=20, num_ticks=3)
    out = capsys.readouterr().out
    assert "Load test: 20 FSMs × 3 ticks" in out and "Throughput:" in out


async def test_chaos_test(helpers, transitions) -> None:
    ns = await run_guide(helpers)
    await runs_for_ever(ns["chaos_test_fsm"]())
    assert transitions.count >= 10 * WINDOW
    ns["MyState"] = bounded_my_state()
    await ns["chaos_test_fsm"]()
