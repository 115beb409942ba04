"""The process the hypha crash tests kill: a journaled net with retries on the timebase, fed tokens
until it is killed.

The net: ``inbox -> work -> outbox -> finish -> done -> track -> tracked``, where ``work`` sometimes
suspends (so firings are in flight when the kill lands) and sends every 17th job to the error place
``broken``, ``finish`` fails while a job is not yet due (retried 0.5 s later on the child's
ManualClock), and ``track`` hands each job to the ``fsm=`` machine of its key (job % 5, at most 4
machines, so keys are evicted too): ``Open`` routes it on, and every 4th job sends the machine to
``Hold`` for 1 s (a timeout, handled outside any firing, brings it back).  Every token carries its
job id, so the parent can find each job wherever it ended up.

The child writes, with one ``os.write`` per line group (whatever the kill interrupts, the file
holds complete lines): ``a <id>`` for each job whose ``add_token`` was durable (``flush()``
returned), ``d <deadline>`` for each retry deadline it armed, ``h <key> <job> <deadline>`` each
time job ``job`` sent the machine of ``key`` to ``Hold`` until ``deadline``, and ``t <time>`` as its
clock moves.
"""

from __future__ import annotations

import asyncio
import os
import random
from enum import Enum, auto
from multiprocessing.synchronize import Event
from typing import Any

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetSpec, PlaceType, Runner
from mycorrhizal.mycelium import LabeledTransition, MyceliumBuilder, StateConfiguration
from mycorrhizal.septum import septum

from .crashes import random_store

RUN = "crash"
RETRY = 0.5
HOLD = 1.0
STEP = 0.25
KEYS = 5


class Ev(Enum):
    HOLD = auto()
    OPEN = auto()


def key_of(token: Any) -> str:
    """The machine a job goes to."""
    return f"k{token[1] % KEYS}"


@septum.state(config=StateConfiguration(can_dwell=True))
def Open() -> None:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if ctx.msg is None:
            return None
        ctx.msg.route("tracked")
        job = ctx.msg.token[1]
        if job % 4:
            return None
        if "log" in ctx.common:
            os.write(
                ctx.common["log"],
                b"h %s %d %r\n" % (key_of(ctx.msg.token).encode(), job, ctx.timebase.now() + HOLD),
            )
        return Ev.HOLD

    @septum.transitions
    def transitions() -> Any:
        return [LabeledTransition(Ev.HOLD, Hold)]


@septum.state(config=StateConfiguration(timeout=HOLD))
def Hold() -> None:
    @septum.on_state
    def on_state(ctx: Any) -> Any:
        if ctx.msg is not None:
            ctx.msg.route("tracked")

    @septum.on_timeout
    def on_timeout(ctx: Any) -> Any:
        return Ev.OPEN

    @septum.transitions
    def transitions() -> Any:
        return [LabeledTransition(Ev.OPEN, Open)]


def net(log: int | None = None) -> NetSpec:
    """The crash test's net; ``log`` is the file descriptor its failures write deadlines to."""
    b = MyceliumBuilder("Crash")
    inbox, outbox, done = b.place("inbox"), b.place("outbox"), b.place("done", type=PlaceType.BAG)
    broken, tracked = b.place("broken"), b.place("tracked", type=PlaceType.BAG)

    @b.transition(inputs=[inbox], outputs=[outbox], on_error=broken, concurrency=4)
    async def work(consumed: Any, bb: Any, tb: Any) -> Any:
        job, due = consumed[0]
        if job % 3 == 0:
            await asyncio.sleep(0)  # in flight across an event-loop turn
        if job % 17 == 0:
            raise ValueError(f"job {job} is broken")
        return {outbox: ("w", job, due)}

    @b.transition(inputs=[outbox], outputs=[done], retry_delay=RETRY)
    def finish(consumed: Any, bb: Any, tb: Any) -> Any:
        _, job, due = consumed[0]
        if tb.now() < due:
            if log is not None:
                os.write(log, b"d %r\n" % (tb.now() + RETRY))
            raise RuntimeError(f"job {job} not due before {due}")
        return {done: ("d", job)}

    @b.transition(fsm=Open, fsm_key=key_of, fsm_max_machines=KEYS - 1, inputs=[done], outputs=[tracked])
    def track(consumed: Any, bb: Any, tb: Any) -> None:
        pass

    return b.build()


def main(path: str, log: str, first: int, start: float, seed: float, ready: Event) -> None:
    """Entry point of a child process (run by the forkserver, which already imported this module)."""
    asyncio.run(_run_forever(path, log, first, start, random.Random(seed), ready))


async def _run_forever(
    path: str, log: str, first: int, start: float, rng: random.Random, ready: Event
) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    store = random_store(path, rng)
    clock = ManualClock(start)
    runner = await Runner.recover(
        net(fd), store, {"log": fd}, timebase=clock, run=RUN, snapshot_every=rng.choice([20, 200])
    )
    await runner.start()
    job, pending = first, []
    while True:
        # Quiet turns (no new job) let a held-back transition wait for its retry deadline.
        for _ in range(rng.randint(1, 8) if rng.random() < 0.5 else 0):
            runner.add_token("inbox", (job, clock.now() + rng.choice([0.0, 0.0, 0.3, 1.2, 2.5])))
            pending.append(job)
            job += 1
        clock.advance(STEP)
        os.write(fd, b"t %r\n" % clock.now())
        for _ in range(rng.randint(1, 3)):
            await asyncio.sleep(0)
        if rng.random() < 0.3:
            await runner.flush()
            os.write(fd, b"".join(b"a %d\n" % acked for acked in pending) + b"f %r\n" % clock.now())
            pending = []
            if job - first >= 5:  # under load a child may get little CPU: let each get some work done
                ready.set()
