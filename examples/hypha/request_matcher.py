"""Guards that pick any token, priorities, and retries on the timebase.

Requests wait in a BAG until the reply with the same id arrives (a guard joins the two places);
urgent requests are answered first (priority); a flaky backend fails now and then, and its
transition retries after a delay on the runner's clock instead of spinning.

Run:
    python examples/hypha/request_matcher.py
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, PlaceType, Runner, pn


@pn.net
def Matcher(builder: NetBuilder) -> None:
    requests = builder.place("requests", type=PlaceType.BAG)
    replies = builder.place("replies", type=PlaceType.BAG)
    answered = builder.place("answered")
    backend = builder.place("backend")

    def same_id(consumed: Any) -> bool:
        return bool(consumed[requests][0]["id"] == consumed[replies][0]["id"])

    def is_urgent(consumed: Any) -> bool:
        return same_id(consumed) and bool(consumed[requests][0]["urgent"])

    @builder.transition(inputs=[requests, replies], outputs=[answered], guard=is_urgent, priority=1)
    def answer_urgent(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {answered: ("urgent", consumed[requests][0]["id"], consumed[replies][0]["body"])}

    @builder.transition(inputs=[requests, replies], outputs=[answered], guard=same_id)
    def answer(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {answered: ("normal", consumed[requests][0]["id"], consumed[replies][0]["body"])}

    @builder.transition(inputs=[backend], outputs=[replies], retry_delay=5.0, concurrency=4)
    async def call_backend(consumed: Any, bb: Any, timebase: Any) -> Any:
        await timebase.sleep(1)
        if bb["rng"].random() < 0.3:
            bb["backend_errors"] += 1
            raise ConnectionError(f"backend timed out for request {consumed[0]}")
        return {replies: {"id": consumed[0], "body": f"result {consumed[0]}"}}


DIAGRAMS = {"net": Matcher}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    clock = ManualClock()
    board = {"rng": random.Random(7), "backend_errors": 0}
    runner = Runner(Matcher, board, clock)
    for i in range(8):
        runner.add_token("requests", {"id": i, "urgent": i % 3 == 0})
        runner.add_token("backend", i)
    await runner.start()
    while len(runner.tokens("answered")) < 8:  # one simulated second at a time
        await clock.run_for(1)
    await runner.stop()
    for kind, request, body in runner.marking()["answered"]:
        print(f"{kind:>6} request {request}: {body}")
    print(
        f"{board['backend_errors']} backend errors retried; nothing lost: "
        f"{runner.marking().total()} tokens = 8 answers; t={clock.now():.0f}s"
    )


if __name__ == "__main__":
    # The failures in this example are expected (and reported above); keep the library's error
    # log, which carries a traceback for each, quiet while it runs.
    logging.getLogger("mycorrhizal.hypha").setLevel(logging.CRITICAL)
    asyncio.run(main())
