"""Nets the distribution tests run (also as MODULE:ATTR targets of worker processes)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from mycorrhizal.hypha import NetBuilder, pn
from mycorrhizal.mycelium import pn as mpn
from mycorrhizal.septum import LabeledTransition, Retry, StateConfiguration, septum


@pn.net
def TwoStage(builder: NetBuilder) -> None:
    """jobs -> double -> middle -> label -> done: each token is an int, labelled at the end."""
    jobs = builder.place("jobs")
    middle = builder.place("middle")
    done = builder.place("done")

    @builder.transition(inputs=[jobs], outputs=[middle])
    async def double(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        return {middle: consumed[0] * 2}

    @builder.transition(inputs=[middle], outputs=[done])
    async def label(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        await asyncio.sleep(0)  # suspends, like a handler doing I/O
        return {done: f"job-{consumed[0] // 2}"}


@pn.net
def Gated(builder: NetBuilder) -> None:
    """jobs -> work -> done; a worker whose blackboard holds a 'gate' event waits on it in work."""
    jobs = builder.place("jobs")
    done = builder.place("done")

    @builder.transition(inputs=[jobs], outputs=[done], retry_delay=0.01)
    async def work(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        if bb is not None and "gate" in bb:
            bb.setdefault("waiting", []).append(consumed[0])
            await bb["gate"].wait()
        if bb is not None and bb.get("fail", 0) > 0:
            bb["fail"] -= 1
            raise RuntimeError("transient failure")
        return {done: consumed[0]}


@pn.net
def Stuck(builder: NetBuilder) -> None:
    """jobs -> work -> done, whose handler never returns (a firing a stopping worker waits for)."""
    jobs = builder.place("jobs")
    done = builder.place("done")

    @builder.transition(inputs=[jobs], outputs=[done])
    async def work(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {done: consumed[0]}


@pn.net
def Mixed(builder: NetBuilder) -> None:
    """A local inbox feeding a shared queue; a generator handler and ctx.emit; a local sink place."""
    inbox = builder.place("inbox")  # local to each worker (not shared)
    jobs = builder.place("jobs")
    done = builder.place("done")
    log = builder.place("log")  # local

    @builder.transition(inputs=[inbox], outputs=[jobs, log])
    def accept(consumed: Any, bb: Any, timebase: Any) -> Any:
        yield {jobs: consumed[0]}
        yield {log: f"accepted {consumed[0]}"}

    @builder.transition(inputs=[jobs], outputs=[done])
    async def work(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
        ctx.emit(done, [consumed[0], consumed[0] + 0.5])


@pn.net
def Broken(builder: NetBuilder) -> None:
    """Everything a distributed net may not do with shared places."""
    left = builder.place("left")
    right = builder.place("right", capacity=5)
    seeded = builder.place("seeded", initial=[1])
    local = builder.place("local")
    errors = builder.place("errors")

    @builder.transition(inputs=[left, right], outputs=[local])
    async def join(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    @builder.transition(inputs=[seeded], outputs=[left], on_error=errors)
    async def parked(consumed: Any, bb: Any, timebase: Any) -> None:
        return None


@pn.net
def Station(builder: NetBuilder) -> None:
    """inbox -> work -> outbox (a plain function handler)."""
    inbox = builder.place("inbox")
    outbox = builder.place("outbox")

    @builder.transition(inputs=[inbox], outputs=[outbox])
    def work(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> dict[str, Any]:
        return {outbox: (ctx.transition, consumed[0])}


@pn.net
def Stations(builder: NetBuilder) -> None:
    """jobs routed to two embedded stations by parity; their outputs collected into done."""
    jobs = builder.place("jobs")
    done = builder.place("done")
    left = builder.subnet(Station, "left")
    right = builder.subnet(Station, "right")

    @builder.transition(inputs=[jobs], outputs=[left.inbox, right.inbox])
    def route(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
        return {left.inbox if consumed[0] % 2 else right.inbox: consumed[0]}

    for station in (left, right):

        @builder.transition(name=f"collect_{station}", inputs=[station.outbox], outputs=[done])
        async def collect(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
            return {done: consumed[0]}


@septum.state(config=StateConfiguration(can_dwell=True))
def Counting() -> Any:
    """Routes each token [key, n] to done as (key, n, tokens of its key this machine saw before)."""

    class Events(Enum):
        NEXT = auto()

    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if ctx.msg is None:
            return None
        key, n = ctx.msg.token
        ctx.msg.route("done", produce=(key, n, ctx.retry_count))  # a list would be several tokens
        if isinstance(ctx.common, dict):
            ctx.common.setdefault("seen", []).append((key, n))
        return Events.NEXT

    @septum.transitions
    def transitions() -> list[LabeledTransition]:
        return [LabeledTransition(Events.NEXT, Retry)]


@septum.state(config=StateConfiguration(terminal=False, can_dwell=True))
def Expired() -> Any:
    """The key's deadline passed: its tokens are routed as (key, n, "expired")."""

    @septum.on_state
    def on_state(ctx: Any) -> None:
        if ctx.msg is not None:
            key, n = ctx.msg.token
            ctx.msg.route("done", produce=(key, n, "expired"))

    @septum.transitions
    def transitions() -> list[LabeledTransition]:
        return []


@septum.state(config=StateConfiguration(timeout=10.0))
def Armed() -> Any:
    """Routes tokens as (key, n, "armed") until 10 s after the first; then Expired."""

    class Events(Enum):
        EXPIRE = auto()

    @septum.on_state
    def on_state(ctx: Any) -> None:
        if ctx.msg is not None:
            key, n = ctx.msg.token
            ctx.msg.route("done", produce=(key, n, "armed"))

    @septum.on_timeout
    def on_timeout(ctx: Any) -> Any:
        return Events.EXPIRE

    @septum.transitions
    def transitions() -> list[LabeledTransition]:
        return [LabeledTransition(Events.EXPIRE, Expired)]


def keyed(name: str, machine: Any, transition: str) -> Any:
    """jobs -> ``transition`` (a ``machine`` per key: the token's first item) -> done.  A worker whose
    blackboard holds a 'gate' event waits on it in ``transition``; one whose blackboard holds 'fail': n
    fails its next n firings there (before the machine sees the token)."""

    def body(builder: Any) -> None:
        jobs = builder.place("jobs")
        done = builder.place("done")

        @builder.transition(
            name=transition, fsm=machine, fsm_key=lambda t: t[0], inputs=[jobs], outputs=[done]
        )
        async def handle(consumed: Any, bb: Any, timebase: Any) -> None:
            if isinstance(bb, dict) and "gate" in bb:
                bb.setdefault("waiting", []).append(consumed[0])
                await bb["gate"].wait()
            if isinstance(bb, dict) and bb.get("fail", 0) > 0:
                bb["fail"] -= 1
                raise RuntimeError("transient failure")

    return mpn.net(body, name=name)


Tally = keyed("Tally", Counting, "count")
Deadlines = keyed("Deadlines", Armed, "expire")  # an Armed machine per key, expiring 10 s after it starts


@dataclass
class Job:
    """A token type no codec registry knows until a test registers it."""

    n: int
