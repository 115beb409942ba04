"""mycorrhizal.metrics on mycelium nets: the trees living in a net's transitions."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry

from mycorrhizal.common import ManualClock
from mycorrhizal.metrics import Metrics
from mycorrhizal.mycelium import PNRunner

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
