"""mycorrhizal.metrics on mycelium nets: the trees living in a net's transitions."""

from __future__ import annotations

import logging
from enum import Enum, auto
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from mycorrhizal.common import ManualClock
from mycorrhizal.metrics import Metrics
from mycorrhizal.mycelium import Delivery, PNRunner, machines, pn
from mycorrhizal.mycelium.machine_pool import POOL
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum

from ..mycelium.conftest import tree_failing_on
from ..mycelium.test_tree_transitions import router_net


async def test_tree_runs_whose_tick_raised_leave_nothing_behind(caplog: Any) -> None:
    # A tick's start was kept per tree run (the transition and the run's token) until its
    # TickFinished, which a tick that raises never tells: one entry per failed run, for the
    # observer's life (a net whose tree fails now and then grew it without bound).
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    runner = PNRunner(router_net(tree_failing_on({"id": "bad"}, "fast")), {}, ManualClock())
    observer = metrics.observe(runner)
    # 40 failing runs (their tokens, 40 objects, kept in 'failed'), then 3 that succeed
    tokens = [{"id": "bad"} for _ in range(40)] + [{"id": f"ok{i}"} for i in range(3)]
    with caplog.at_level(logging.CRITICAL, logger="mycorrhizal.hypha"):
        await runner.start()
        for token in tokens:
            runner.add_token("inbox", token)
            await runner.run_until_idle()
        await runner.stop()
    assert len(runner.tokens("failed")) == 40 and len(runner.tokens("fast")) == 3
    assert len(observer._ticks) <= 1
    route = {"tree": "route"}
    finished = registry.get_sample_value("mycorrhizal_tree_ticks_total", {**route, "status": "SUCCESS"})
    timed = registry.get_sample_value("mycorrhizal_tree_tick_seconds_count", route)
    assert finished == timed == 3


class Go(Enum):
    GO = auto()


@septum.state(config=StateConfiguration(can_dwell=True))
class Ready:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if not isinstance(ctx.msg, Delivery):
            return None  # (a message sent to the machine from outside the net: it waits in its queue)
        if ctx.msg.token["do"] == "bad":
            raise KeyError("bad token")
        ctx.msg.route("done")
        return Go.GO if ctx.msg.token["do"] == "go" else None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(Go.GO, Going)]


@septum.state(config=StateConfiguration(can_dwell=True))
class Going:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if isinstance(ctx.msg, Delivery):
            ctx.msg.route("done")


@septum.state(config=StateConfiguration(can_dwell=True))
class Fallen:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return None


def desk_net(**eviction: Any) -> Any:
    """inbox -> desk (one machine per token["key"], evicted as ``eviction`` says) -> done."""

    @pn.net
    def Desks(builder: Any) -> None:
        inbox, done, failed = builder.place("inbox"), builder.place("done"), builder.place("failed")

        @builder.transition(
            fsm=Ready,
            fsm_key=lambda token: token["key"],
            fsm_options={"error_state": Fallen},
            inputs=[inbox],
            outputs=[done],
            rejected=failed,
            **eviction,
        )
        async def desk(consumed: Any, bb: Any, timebase: Any) -> None:
            pass

    return Desks


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"machine": "desk", **labels})


@pytest.mark.parametrize(
    "eviction",
    [{"fsm_max_machines": 1}, {"fsm_idle_ttl": 2.0, "fsm_idle_states": [Ready, Going]}],
    ids=["lru", "idle"],
)
async def test_an_evicted_machines_states_are_not_timed_when_a_new_machine_of_its_key_fails(
    registry: CollectorRegistry, caplog: Any, eviction: dict[str, Any]
) -> None:
    # The observer kept an evicted machine's active states under its key: the next machine of that
    # key, routed to the error state by a failure, observed the time since the evicted one entered
    # Going (3 s) as time spent in Going, a state it never was in.
    clock = ManualClock()
    runner = PNRunner(desk_net(**eviction), {}, clock)
    Metrics(registry).observe(runner)
    await runner.start()
    tokens = [(0, {"key": "a", "do": "go"}), (1, {"key": "b", "do": "x"}), (3, {"key": "a", "do": "bad"})]
    with caplog.at_level(logging.CRITICAL):
        for at, token in tokens:  # b's token evicts a (lru); by 3, a's idle time evicted it (idle)
            await clock.run_for(at - clock.now())
            runner.add_token("inbox", token)
            await runner.run_until_idle()
    assert machines(runner, "desk").evicted_lru + machines(runner, "desk").evicted_idle >= 1
    await runner.stop()
    assert value(registry, "mycorrhizal_machine_transitions_total", source="Ready", target="Fallen") == 1
    assert value(registry, "mycorrhizal_machine_state_seconds_count", state="Going") is None
    # Ready: a's first, left at once by "go"; the second a's, abandoned by the failure at once
    assert value(registry, "mycorrhizal_machine_state_seconds_count", state="Ready") == 2
    assert value(registry, "mycorrhizal_machine_state_seconds_sum", state="Ready") == 0


async def test_the_queue_gauge_counts_the_messages_of_a_nets_living_machines(
    registry: CollectorRegistry,
) -> None:
    # machine_queue_size read standalone machines only: the machines of a net's fsm= transitions,
    # however many messages waited for them, had no sample.
    runner = PNRunner(desk_net(fsm_max_machines=2), {}, ManualClock())
    Metrics(registry).observe(runner)
    await runner.start()
    runner.add_tokens("inbox", [{"key": "a", "do": "x"}, {"key": "b", "do": "x"}])
    await runner.run_until_idle()
    desks = machines(runner, "desk")
    for key, waiting in (("a", 2), ("b", 1)):
        for _ in range(waiting):
            desks[key].send_message("later")
    queued = "mycorrhizal_machine_queue_size"
    assert value(registry, queued) == 3
    runner.add_token("inbox", {"key": "c", "do": "x"})  # a new key evicts a, and its two messages
    await runner.run_until_idle()
    assert sorted(desks) == ["b", "c"]
    assert value(registry, queued) == 1
    await runner.stop()
    assert value(registry, queued) == 0


class Evicting:
    """Stands in a pool for a machine that the event loop evicts while a scrape reads its queue."""

    def __init__(self, living: dict[Any, Any], key: str) -> None:
        self.living, self.key = living, key

    @property
    def queue_size(self) -> int:
        del self.living[self.key]  # what an eviction does, from the event loop's thread
        return 2


async def test_a_machine_evicted_while_the_queue_gauge_is_read_does_not_break_the_scrape(
    registry: CollectorRegistry,
) -> None:
    # The gauge iterated the pool's living machines themselves: a machine created or evicted by
    # the event loop while prometheus_client's thread scraped raised "dictionary changed size
    # during iteration", and the scrape failed.
    runner = PNRunner(desk_net(), {}, ManualClock())
    Metrics(registry).observe(runner)
    await runner.start()
    runner.add_token("inbox", {"key": "a", "do": "x"})
    await runner.run_until_idle()
    machines(runner, "desk")["a"].send_message("later")
    pool = runner.memory(f"{runner.net.name}.desk")[POOL]
    pool.living["gone"] = Evicting(pool.living, "gone")
    assert value(registry, "mycorrhizal_machine_queue_size") == 1 + 2  # read before it went
    assert "gone" not in pool.living
    assert value(registry, "mycorrhizal_machine_queue_size") == 1
    await runner.stop()
