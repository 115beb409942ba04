"""Download from whichever mirror answers first; cancel the others.

A parallel node with ``success_threshold=1`` races three mirrors.  As soon as one succeeds the
parallel is decided and the downloads still in flight are cancelled - their coroutines receive
``CancelledError`` at their ``await`` and clean up.  The whole race has a deadline (``timeout``)
and is retried once if every mirror fails.  The tree is made with the programmatic TreeBuilder,
since the mirrors are only known at run time.  Latencies are simulated on a ManualClock, so the
race is deterministic and instant; with the default clock the same tree runs on real time.

Run: python examples/rhizomorph/first_mirror_wins.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from mycorrhizal.common import ManualClock, Timebase
from mycorrhizal.rhizomorph import Runner, Status, Tree, TreeBuilder

MIRRORS = {"eu": 0.05, "us": 0.02, "asia": 0.08}  # simulated latency in seconds


def download_from(mirror: str, latency: float) -> Any:
    async def download(bb: dict[str, Any], timebase: Timebase) -> Status:
        bb["events"].append(f"{mirror}: started")
        try:
            await timebase.sleep(latency)
        except asyncio.CancelledError:
            bb["events"].append(f"{mirror}: cancelled (connection closed)")
            raise
        bb["events"].append(f"{mirror}: finished at t={timebase.now():g}s")
        bb["file"] = f"payload from {mirror}"
        return Status.SUCCESS

    download.__name__ = f"download_{mirror}"
    return download


def build_tree(mirrors: dict[str, float]) -> Tree:
    b = TreeBuilder("FirstMirrorWins")
    race = b.parallel(
        "race",
        *(b.action(download_from(name, latency)) for name, latency in mirrors.items()),
        success_threshold=1,
    )
    b.root(b.retry(2, b.timeout(1.0, race)))
    return b.build()


DIAGRAMS = {"tree": build_tree(MIRRORS)}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    tree = build_tree(MIRRORS)
    bb: dict[str, Any] = {"events": []}
    clock = ManualClock()
    runner = Runner(tree, bb, clock)
    run = asyncio.create_task(runner.tick_until_complete())  # waits for the downloads; no polling
    await clock.run_for(1.0)
    status = await run
    print(f"result: {status.name}: {bb['file']} after {runner.ticks} ticks")
    print("\n".join(bb["events"]))
    print(runner.trace())


if __name__ == "__main__":
    asyncio.run(main())
