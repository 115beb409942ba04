"""A net built by hand and changed while it runs, the way mycorrhizal 0.x programs did it: runs here
unchanged.

The net is made with ``NetBuilder(name, parent)`` and kept on a "net function" (``f._spec =
builder.spec``); places are declared with ``@builder.place`` / ``@builder.place(type=...)`` and a
function is attached to one by calling its ref.  Once the runner is started, ``runner.add_place``,
``add_transition`` and ``add_arc`` grow the net (a priority lane), and ``remove_arc`` / ``remove``
take it away again.  Unlike 0.x, ``remove`` really removes, and a place that still holds tokens is
removed only with ``tokens_to=``, so nothing is lost.  See docs/compat.md.
"""

import asyncio
import logging

from mycorrhizal.common.timebase import CycleClock
from mycorrhizal.hypha.core import NetBuilder, PlaceType, Runner
from mycorrhizal.hypha.util import to_mermaid


def build_triage():
    builder = NetBuilder("Triage", None)

    @builder.place(type=PlaceType.QUEUE)
    def tickets():
        """0.x kept this function with the place and never called it; so do we."""

    @builder.place
    def handled():
        pass

    def describe():
        return "tickets handled in arrival order"

    handled(describe)  # calling a ref with a function attaches it to the place, returns the ref

    @builder.transition()
    async def handle(consumed, bb, timebase):
        for ticket in consumed:
            bb["log"].append(f"handled {ticket['id']}")
            yield {handled: ticket}

    builder.arc(tickets, handle).arc(handled)

    def Triage():
        """A hand-made "net function": anything holding a net as _spec is one."""

    Triage._spec = builder.spec
    return Triage


Triage = build_triage()
DIAGRAMS = {"net": Triage._spec}  # what `mycorrhizal diagrams` draws (the net as built)


async def main():
    logging.getLogger("mycorrhizal").setLevel(logging.ERROR)
    board = {"log": []}
    runner = Runner(Triage, board)
    await runner.start(CycleClock())
    places = runner.runtime.places
    places[("Triage", "tickets")].add_token({"id": 1, "urgent": False})
    await asyncio.sleep(0)

    # A priority lane, added while the net runs.
    runner.add_place("Triage.urgent", PlaceType.QUEUE)
    runner.add_place("Triage.escalated", PlaceType.QUEUE)

    async def escalate(consumed, bb, timebase):
        for ticket in consumed:
            bb["log"].append(f"escalated {ticket['id']}")
            yield {"escalated": ticket}

    runner.add_transition("Triage.escalate", escalate)
    runner.add_arc("Triage.urgent", "Triage.escalate")
    runner.add_arc("Triage.escalate", "Triage.escalated")
    places[("Triage", "urgent")].add_token({"id": 2, "urgent": True})
    places[("Triage", "tickets")].add_token({"id": 3, "urgent": False})
    await asyncio.sleep(0)
    print(to_mermaid(runner.spec))

    # The lane closes again: its transition goes, and its place's token moves, nothing is lost.
    await runner.remove_arc("Triage.urgent", "Triage.escalate")
    await runner.remove("Triage.escalate")
    places[("Triage", "urgent")].add_token({"id": 4, "urgent": True})
    await runner.remove("Triage.urgent", tokens_to="Triage.tickets")
    await asyncio.sleep(0)
    await runner.stop()

    print("log:", board["log"])
    print("handled:", [t["id"] for t in places[("Triage", "handled")].tokens])
    print("escalated:", [t["id"] for t in places[("Triage", "escalated")].tokens])
    print("places now:", [p.name for p in runner.spec.places])
    assert [t["id"] for t in places[("Triage", "handled")].tokens] == [1, 3, 4]
    assert [t["id"] for t in places[("Triage", "escalated")].tokens] == [2]


if __name__ == "__main__":
    asyncio.run(main())
