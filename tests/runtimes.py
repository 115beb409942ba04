"""One net, one tree and one machine whose runs emit every kind of event their engine has (and a net
failing outside its firings, ``Edges``).

Shared by the tests of what observes runtimes (``tests/metrics``, ``tests/spores``) and of
rhizomorph's own events, so that each reads the same run and says what it makes of it.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Any

from mycorrhizal.hypha import NetBuilder, pn
from mycorrhizal.rhizomorph import ErrorPolicy, Status, Tree, TreeBuilder
from mycorrhizal.septum import LabeledTransition, Retry, StateConfiguration, septum

# -- a net ------------------------------------------------------------------------------------------


@pn.net
def Shop(builder: NetBuilder) -> None:
    """inbox -> work -> done; a token of negative ``size`` fails into 'dead', one over 100 sleeps."""
    inbox = builder.place("inbox")
    done = builder.place("done")
    dead = builder.place("dead")

    @builder.transition(inputs=[inbox], outputs=[done], on_error=dead)
    async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
        job = consumed.token
        if job.size < 0:
            raise ValueError(f"bad size {job.size}")
        if job.size > 100:
            await timebase.sleep(60)  # still suspended when the runner is stopped: cancelled
        return {done: job}


@pn.net
def Edges(builder: NetBuilder) -> None:
    """A source, a guard and a sink that each raise once (failures outside any firing); ``fallback``
    takes the token the guard of ``forward`` cannot."""

    @builder.io_input_place()
    async def feed(bb: Any, timebase: Any) -> Any:
        yield 1
        raise OSError("feed gone")

    dead = builder.place("dead")

    @builder.io_output_place(on_error=dead)
    def sink(token: Any, bb: Any, timebase: Any) -> None:
        raise OSError("sink gone")

    @builder.transition(inputs=[feed], outputs=[sink], guard=lambda consumed: 1 / 0)
    def forward(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {sink: consumed[0]}  # pragma: no cover - its guard raises

    @builder.transition(inputs=[feed], outputs=[sink], priority=-1)
    def fallback(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {sink: consumed[0]}


# -- a tree -----------------------------------------------------------------------------------------


def patrol_tree(name: str = "Patrol") -> Tree:
    """selector main: flaky (raises, taken as FAILURE) then limit = timeout(5, slow)."""

    def flaky() -> Status:
        raise ValueError("flaky")

    async def slow(timebase: Any) -> Status:
        await timebase.sleep(60)
        return Status.SUCCESS

    b = TreeBuilder(name)
    b.root(
        b.selector(
            "main",
            b.action(flaky, on_error=ErrorPolicy.FAILURE),
            b.timeout(5, b.action(slow), name="limit"),
        )
    )
    return b.build()


# -- a machine: Idle -> Working (fails once, is retried, times out) -> Idle -> Broken ---------------
# (a "slow" message makes Idle wait for ``common["gate"]``, an ``asyncio.Event``: a step to cancel)


class E(Enum):
    WORK = auto()
    FAIL = auto()
    LATE = auto()


@septum.state
class Idle:
    @septum.on_state
    async def on_state(ctx: Any) -> Any:
        if ctx.msg == "bad":
            raise KeyError("bad input")
        if ctx.msg == "slow":
            await ctx.common["gate"].wait()  # the caller may be cancelled here
        return E.WORK if ctx.msg == "work" else None

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(E.WORK, Working)]


@septum.state(config=StateConfiguration(timeout=5, retries=1))
class Working:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return E.FAIL if ctx.retry_count == 0 else None  # fails once, then waits

    @septum.on_timeout
    def on_timeout(ctx: Any) -> Any:
        return E.LATE

    @septum.on_fail
    def on_fail(ctx: Any) -> Any:
        return E.LATE

    @septum.transitions
    def transitions() -> list[Any]:
        return [LabeledTransition(E.FAIL, Retry), LabeledTransition(E.LATE, Idle)]


@septum.state(config=StateConfiguration(can_dwell=True))
class Broken:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        return None
