"""The production guide's single machine, bounded so that it ends.

The guide's ``MyState`` transitions to itself for ever.  Here it counts its loops on the
blackboard and, after a few, leaves for a terminal state, so ``run()`` returns normally.

    python examples/septum/single_machine.py
"""

# septum resolves `Events` (and sibling states) by bare name inside a state's handlers.
# ruff: noqa: F821

import asyncio
import logging
from enum import Enum, auto

from mycorrhizal.septum.core import LabeledTransition, StateConfiguration, StateMachine, septum

LOOPS = 5


@septum.state
class MyState:
    class Events(Enum):
        DONE = auto()
        ENOUGH = auto()

    @septum.on_state
    async def on_state(ctx):
        ctx.common["loops"] += 1
        return Events.ENOUGH if ctx.common["loops"] >= LOOPS else Events.DONE

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.DONE, MyState),
            LabeledTransition(Events.ENOUGH, Finished),
        ]


@septum.state(config=StateConfiguration(terminal=True))
class Finished:
    @septum.on_enter
    async def on_enter(ctx):
        ctx.common["finished"] = True


class PrintTransitions(logging.Handler):
    """Shows septum's INFO log (one line per transition) on stdout."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"  log: {record.getMessage()}")


async def main() -> None:
    logger = logging.getLogger("mycorrhizal.septum")
    handler = PrintTransitions()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        board = {"loops": 0}
        fsm = StateMachine(initial_state=MyState, common_data=board)
        await fsm.initialize()
        steps = await fsm.run()  # returns normally once a terminal state is reached
    finally:
        logger.removeHandler(handler)
    print(f"{steps} steps; ended in {fsm.current_state.name} after {board['loops']} loops")


if __name__ == "__main__":
    asyncio.run(main())
