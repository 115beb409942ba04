"""Structural analysis on two textbook nets: mutual exclusion (no deadlock) and the dining
philosophers (deadlock when every philosopher holds a left fork), then the runner reaching that
very deadlock when the philosophers are greedy.

Run:
    python examples/hypha/dining_philosophers.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from mycorrhizal.hypha import NetBuilder, NetSpec, Runner, analyze


def passing(*outputs: str) -> Any:
    """A handler that puts one token into each output place (the token's value does not matter)."""

    def handler(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {out: "token" for out in outputs}

    return handler


def mutual_exclusion(processes: int) -> NetSpec:
    builder = NetBuilder("MutualExclusion")
    mutex = builder.place("mutex", initial=["m"])
    for i in range(processes):
        idle = builder.place(f"idle{i}", initial=["p"])
        critical = builder.place(f"critical{i}")
        builder.transition(name=f"enter{i}", inputs=[idle, mutex], outputs=[critical])(passing(critical))
        builder.transition(name=f"leave{i}", inputs=[critical], outputs=[idle, mutex])(passing(idle, mutex))
    return builder.build()


def philosophers(n: int, *, greedy: bool = False) -> NetSpec:
    builder = NetBuilder("Philosophers")
    forks = [builder.place(f"fork{i}", initial=["f"]) for i in range(n)]
    for i in range(n):
        thinking = builder.place(f"thinking{i}", initial=["p"])
        has_left = builder.place(f"has_left{i}")
        eating = builder.place(f"eating{i}")
        left, right = forks[i], forks[(i + 1) % n]
        # greedy philosophers grab their left fork before anyone may take a right one
        builder.transition(
            name=f"take_left{i}", priority=1 if greedy else 0, inputs=[thinking, left], outputs=[has_left]
        )(passing(has_left))
        builder.transition(name=f"take_right{i}", inputs=[has_left, right], outputs=[eating])(passing(eating))
        builder.transition(name=f"release{i}", inputs=[eating], outputs=[thinking, left, right])(
            passing(thinking, left, right)
        )
    return builder.build()


DIAGRAMS = {
    "philosophers": philosophers(5),
    "mutex": mutual_exclusion(2),
}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    mutex = analyze(mutual_exclusion(3))
    assert mutex.reachability is not None
    print(
        f"mutual exclusion, 3 processes: {mutex.reachability.graph.number_of_nodes()} reachable markings, "
        f"deadlocks: {mutex.deadlocks or 'none'}"
    )

    five = analyze(philosophers(5))
    assert five.reachability is not None
    (deadlock,) = five.deadlocks
    print(
        f"dining philosophers, 5 seats: {five.reachability.graph.number_of_nodes()} reachable markings, "
        f"deadlock: {sorted(deadlock)}"
    )
    print(f"  reached by firing: {', '.join(five.reachability.path_to(deadlock))}")

    runner = Runner(philosophers(5, greedy=True), {})
    await runner.run_until_idle()
    held = sorted(name for name, count in runner.marking().counts().items() if count)
    print(f"the runner with greedy philosophers stops after {runner.stats.firings} firings holding: {held}")
    assert held == sorted(deadlock)


if __name__ == "__main__":
    asyncio.run(main())
