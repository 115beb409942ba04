"""A job router whose net runs a behaviour tree per token and draws a worker's state machine,
written the way mycorrhizal 0.x programs were (BT-in-PN and FSM-in-PN): runs here unchanged.

``@builder.transition(bt=Router, bt_mode="token", outputs=[...])``: the tree decides where each
token goes through ``bb.pn_ctx`` (each run gets its own, so concurrent firings never see another
token's).  ``@builder.transition(fsm=Idle, outputs=[...])`` on a body that yields its outputs is
0.x's picture-only form: the body does the work, the machine is drawn beside it.  See
docs/compat.md.
"""

import asyncio
from enum import Enum, auto

from mycorrhizal.common.timebase import CycleClock
from mycorrhizal.mycelium import PlaceType, PNRunner, pn
from mycorrhizal.rhizomorph.core import Status, bt
from mycorrhizal.septum.core import LabeledTransition, StateConfiguration, septum


class Board:  # 0.x nets used objects that accept new attributes (Pydantic, extra="allow")
    def __init__(self):
        self.routed = 0


@bt.tree
def Router():
    @bt.condition
    def urgent(bb):
        return bb.pn_ctx.current_token["priority"] > 5

    @bt.action
    async def to_fast(bb):
        await asyncio.sleep(0)  # asks a scheduler; other tokens' trees run meanwhile
        bb.pn_ctx.route_to(bb.pn_ctx.places.fast)
        bb.routed += 1
        return Status.SUCCESS

    @bt.action
    def to_slow(bb):
        job = bb.pn_ctx.current_token
        bb.pn_ctx.route_to(bb.pn_ctx.places.slow, token={**job, "lane": "slow"})  # an enriched copy
        bb.routed += 1
        return Status.SUCCESS

    @bt.root
    @bt.selector
    def route():
        yield bt.sequence(urgent, to_fast)
        yield to_slow


@septum.state(config=StateConfiguration(can_dwell=True))
def Idle():
    class Events(Enum):
        JOB = auto()

    @septum.on_state
    async def on_state(ctx):
        return Events.JOB if ctx.msg is not None else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.JOB, Idle)]


@pn.net
def Jobs(builder):
    inbox = builder.place("inbox", type=PlaceType.QUEUE)
    fast = builder.place("fast", type=PlaceType.QUEUE)
    slow = builder.place("slow", type=PlaceType.QUEUE)
    done = builder.place("done", type=PlaceType.QUEUE)

    @builder.transition(bt=Router, bt_mode="token", outputs=[fast, slow])
    async def route(consumed, bb, timebase):
        pass  # the tree routes

    @builder.transition(fsm=Idle, outputs=[done])
    async def work(consumed, bb, timebase):
        for job in consumed:
            yield {done: {**job, "done": True}}

    builder.arc(inbox, route)
    builder.arc(fast, work).arc(done)
    builder.forward(slow, done)


DIAGRAMS = {"net": Jobs}  # what `mycorrhizal diagrams` draws


async def main():
    bb = Board()
    runner = PNRunner(Jobs, bb)
    await runner.start(CycleClock())
    inbox = runner.runtime.places[("Jobs", "inbox")]
    for i, priority in enumerate([9, 1, 7, 2]):
        inbox.add_token({"id": i, "priority": priority})
    await runner.run_until_idle()  # 0.x programs slept here; this waits exactly as long as needed
    await runner.stop()
    done = runner.runtime.places[("Jobs", "done")].tokens
    for job in done:
        print(job)
    print(runner.to_mermaid().splitlines()[0], f"({len(runner.to_mermaid().splitlines())} lines)")
    assert bb.routed == 4 and not hasattr(bb, "pn_ctx")  # the tree's context never landed on the board
    assert sorted(job["id"] for job in done) == [0, 1, 2, 3]
    assert {job["id"]: job.get("lane") for job in done} == {0: None, 1: "slow", 2: None, 3: "slow"}
    assert all(job.get("done") for job in done if job.get("lane") is None)


if __name__ == "__main__":
    asyncio.run(main())
