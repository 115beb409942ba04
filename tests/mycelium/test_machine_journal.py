"""A journaled net whose fsm= transition takes several tokens per firing (an input arc weight above 1):
a machine is journaled with the firing that changed it, never ahead of that firing's tokens (a
timeout watched from an earlier record must not write it meanwhile) and never behind a firing that
committed (another firing must not hand it a token meanwhile)."""

from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.durability import MemoryStore
from mycorrhizal.hypha import Runner
from mycorrhizal.mycelium import LabeledTransition, StateConfiguration, machines, pn
from mycorrhizal.septum import septum


def handles(ctx: Any, state: str) -> bool:
    """Route the token as (token, the state that handled it); True for 'k:arm'."""
    token = ctx.msg.token
    ctx.msg.route("done", produce=(token, state))
    return token.endswith(":arm")


@septum.state(config=StateConfiguration(can_dwell=True))
def Waiting():  # type: ignore[no-untyped-def]
    @septum.on_state
    async def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        if ctx.msg.token.endswith(":slow"):  # takes 100 s
            await ctx.timebase.sleep(100.0)
        return "arm" if handles(ctx, "Waiting") else None

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition("arm", Armed)]


@septum.state(config=StateConfiguration(timeout=10.0))
def Armed():  # type: ignore[no-untyped-def]
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            handles(ctx, "Armed")
            return "again"

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return "off"

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition("again", Rearmed), LabeledTransition("off", Waiting)]


@septum.state(config=StateConfiguration(timeout=10.0))
def Rearmed():  # type: ignore[no-untyped-def]
    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            handles(ctx, "Rearmed")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return "off"

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition("off", Waiting)]


def pairs(concurrency: int) -> Any:
    """inbox -> work (two tokens a firing, a machine per key: the text before ':') -> done."""

    @pn.net
    def Pairs(builder):  # type: ignore[no-untyped-def]
        inbox, done = builder.place("inbox"), builder.place("done")

        @builder.transition(
            fsm=Waiting,
            fsm_key=lambda token: token.split(":")[0],
            inputs=[(inbox, 2)],
            outputs=[done],
            concurrency=concurrency,
        )
        def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Pairs


def states(runner: Runner) -> dict[str, str]:
    return {key: fsm.current_state.name for key, fsm in machines(runner, "work").items()}


async def crash_and_recover(net: Any, store: MemoryStore, clock: ManualClock) -> Runner:
    """What a process recovering the run would find after a crash now (on a copy of the store, so
    that the runner goes on)."""
    recovery = await store.load("p")
    assert recovery is not None and recovery.snapshot is not None
    kept = MemoryStore()
    journal = await kept.open_journal("p")
    journal.snapshot(recovery.snapshot.document)
    for record in recovery.records:
        journal.append(record.kind, record.payload)
    return await Runner.recover(net, kept, {}, ManualClock(clock.now()), run="p")


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_a_timeout_watched_from_an_earlier_record_does_not_write_a_machine_a_firing_holds(
    concurrency: int,
) -> None:
    net, store, clock = pairs(concurrency), MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="p")
    await runner.start()
    runner.add_tokens("inbox", ["a:arm", "b:x"])  # a is Armed until t=10, and journaled so
    await runner.run_until_idle()
    await clock.run_for(5.0)
    runner.add_tokens("inbox", ["a:x", "b:slow"])  # a is Rearmed until t=15; the firing runs to t=105
    await clock.run_for(6.0)  # t=11: a's first deadline (10) has passed while the firing holds a
    await runner.flush()
    assert states(runner)["a"] == "Rearmed"
    assert runner.tokens("done") == (("a:arm", "Waiting"), ("b:x", "Waiting"))
    recovered = await crash_and_recover(net, store, clock)
    # The firing did not commit: its tokens are back, and a is where that firing found it.
    assert recovered.tokens("inbox") == ("a:x", "b:slow")
    assert states(recovered)["a"] == "Armed"
    await recovered.stop()
    await clock.run_for(100.0)  # the firing commits at t=105; a timed out at t=15 meanwhile
    await runner.run_until_idle()
    recovered = await crash_and_recover(net, store, clock)
    assert states(recovered) == states(runner) == {"a": "Waiting", "b": "Waiting"}
    await runner.stop()
    await recovered.stop()


async def test_a_firing_of_several_tokens_waits_for_a_machine_another_firing_holds() -> None:
    net, store, clock = pairs(2), MemoryStore(), ManualClock()
    runner = Runner(net, {}, clock, store=store, run="p")
    await runner.start()
    # The first firing arms a, then spends 100 s on b; the second has a token for a too.
    runner.add_tokens("inbox", ["a:arm", "b:slow", "a:x", "c:x"])
    await clock.run_for(1.0)
    await runner.flush()
    # The second firing waits for the first: had it handed a:x to the machine the first changed and
    # committed, a crash now would recover a without the Armed state that handled a:x.
    assert runner.tokens("done") == () and states(runner) == {"a": "Armed", "b": "Waiting"}
    recovered = await crash_and_recover(net, store, clock)
    assert recovered.tokens("inbox") == ("a:arm", "b:slow", "a:x", "c:x") and states(recovered) == {}
    await recovered.stop()
    await clock.run_for(100.0)  # a times out at t=10; the first firing commits at t=100, then the second
    await runner.run_until_idle()
    assert sorted(runner.tokens("done")) == [
        ("a:arm", "Waiting"),
        ("a:x", "Waiting"),
        ("b:slow", "Waiting"),
        ("c:x", "Waiting"),
    ]
    recovered = await crash_and_recover(net, store, clock)
    assert states(recovered) == states(runner) == {"a": "Waiting", "b": "Waiting", "c": "Waiting"}
    await runner.stop()
    await recovered.stop()
