"""RedisStore as a hypha runner's journal: the same drop-in as SQLiteStore, across 'processes'."""

from __future__ import annotations

from mycorrhizal.distribution import RedisStore
from mycorrhizal.hypha import Runner

from .nets import TwoStage


async def test_a_runner_journaled_in_redis_is_recovered_by_another(redis_url: str, redis_prefix: str) -> None:
    first = RedisStore(redis_url, prefix=redis_prefix)
    runner = Runner(TwoStage, store=first, run="orders", snapshot_every=40)
    runner.add_tokens("jobs", range(100))
    await runner.run_until_idle()
    await runner.stop()
    runner.add_tokens("jobs", [100, 101])  # the runner stopped: they stay in 'jobs'
    await runner.flush()
    before = {place: sorted(tokens, key=str) for place, tokens in runner.marking().items()}
    await first.close()

    second = RedisStore(redis_url, prefix=redis_prefix)  # as another process would
    (info,) = await second.runs()
    assert info.run == "orders" and info.snapshot_seq is not None  # snapshots were taken
    recovered = await Runner.recover(TwoStage, second, run="orders")
    after = {place: sorted(tokens, key=str) for place, tokens in recovered.marking().items()}
    assert after == before
    assert len(after["TwoStage.done"]) == 100 and after["TwoStage.jobs"] == [100, 101]
    await recovered.run_until_idle()
    assert len(recovered.tokens("done")) == 102
    await recovered.flush()
    await recovered.stop()
    await second.close()
