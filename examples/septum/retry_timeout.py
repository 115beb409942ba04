"""Retries and timeouts on a virtual clock: a flaky upload with a watchdog.

``Uploading`` retries a flaky upload up to 3 times, then gives up.  Each attempt has 10 s
(state timeout) before the hung call is interrupted and counted as a failure.  After
a success, ``Cooldown`` waits 60 s with no message at all, and its timer moves it on.  Everything
runs on a ManualClock, so minutes of simulated time take milliseconds.

    python examples/septum/retry_timeout.py
"""

# septum resolves `Events` (and sibling states) by bare name inside a state's handlers.
# ruff: noqa: F821

import asyncio
from enum import Enum, auto

from mycorrhizal.common import ManualClock
from mycorrhizal.septum.core import LabeledTransition, Retry, StateConfiguration, StateMachine, septum

# Per attempt: "fail" raises quickly, "hang" never answers, "ok" succeeds.
SCRIPT = ["fail", "hang", "ok"]


async def upload(ctx) -> None:
    outcome = SCRIPT[ctx.retry_count]
    if outcome == "fail":
        raise ConnectionError("connection reset")
    if outcome == "hang":
        await ctx.timebase.sleep(3600)


def say(ctx, text: str) -> None:
    print(f"t={ctx.timebase.now():6.1f}s  {text}")


@septum.state(config=StateConfiguration(timeout=10.0, retries=3))
class Uploading:
    class Events(Enum):
        UPLOADED = auto()
        FAILED = auto()
        GAVE_UP = auto()

    @septum.on_enter
    async def on_enter(ctx):
        say(ctx, f"upload attempt {ctx.retry_count + 1}")

    @septum.on_state
    async def on_state(ctx):
        try:
            await upload(ctx)
        except ConnectionError as exc:
            say(ctx, f"  failed: {exc}")
            return Events.FAILED
        say(ctx, "  uploaded")
        return Events.UPLOADED

    @septum.on_timeout
    async def on_timeout(ctx):
        say(ctx, "  no answer within 10 s: interrupted")
        return Events.FAILED

    @septum.on_fail
    async def on_fail(ctx):
        say(ctx, f"  giving up after {ctx.retry_count} retries")
        return Events.GAVE_UP

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.UPLOADED, Cooldown),
            LabeledTransition(Events.FAILED, Retry),
            LabeledTransition(Events.GAVE_UP, Failed),
        ]


@septum.state(config=StateConfiguration(timeout=60.0))
class Cooldown:
    class Events(Enum):
        RESTED = auto()

    @septum.on_state
    async def on_state(ctx):
        return None  # nothing to do but wait

    @septum.on_timeout
    async def on_timeout(ctx):
        say(ctx, "cooldown over")
        return Events.RESTED

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.RESTED, Ready)]


@septum.state(config=StateConfiguration(terminal=True))
class Ready:
    @septum.on_enter
    async def on_enter(ctx):
        say(ctx, "ready")


@septum.state(config=StateConfiguration(terminal=True))
class Failed:
    @septum.on_enter
    async def on_enter(ctx):
        say(ctx, "failed for good")


async def main() -> None:
    clock = ManualClock()
    fsm = StateMachine(Uploading, timebase=clock)
    runner = asyncio.create_task(fsm.run())
    await clock.run_for(30)  # the hung attempt is interrupted at t=10
    await runner  # the run ends idle in Cooldown, whose timer is now pending
    print(f"now in {fsm.current_state.name}, nobody is running it")
    await clock.run_for(60)  # the timer alone moves the machine on
    print(f"ended in {fsm.current_state.name} at t={clock.now():.0f}s")
    assert fsm.current_state is Ready


if __name__ == "__main__":
    asyncio.run(main())
