"""A connection handshake written the way mycorrhizal 0.x programs were: runs here unchanged.

States are functions decorated with ``@septum.state(...)`` whose body declares the ``Events``
enum, the handlers and ``transitions()``; handlers take a ``SharedContext`` and may return a label
by its name; retries use the instance form ``Retry()``; states are named through the registry with
``StateRef("module.Name")`` (as a target and as the initial state); the ``on_error_fn`` hook answers
a garbled reply with a label; the terminal state has an ``on_state``;
``fsm.log`` is silenced by assignment; ``await fsm.run(timeout=...)`` waits until the machine ends
(wrapped in ``try/except StateMachineComplete`` as 0.x required); the picture comes from
``mycorrhizal.septum.util.to_mermaid``.  See docs/compat.md.
"""

import asyncio
from dataclasses import dataclass, field
from enum import Enum, auto

from mycorrhizal.septum.core import (
    LabeledTransition,
    Retry,
    SharedContext,
    StateConfiguration,
    StateMachine,
    StateMachineComplete,
    StateRef,
    septum,
)
from mycorrhizal.septum.util import to_mermaid


@dataclass
class Link:
    replies: list[str] = field(default_factory=lambda: ["", "garbled", "ack"])  # the third try gets through
    attempts: int = 0
    journal: list[str] = field(default_factory=list)


@septum.state(config=StateConfiguration(terminal=True))
def Connected():
    @septum.on_state
    async def on_state(ctx: SharedContext[Link]):
        ctx.common.journal.append(f"connected after {ctx.common.attempts} attempts")
        ctx.log("connected")


@septum.state(config=StateConfiguration(terminal=True))
def GaveUp():
    @septum.on_state
    async def on_state(ctx: SharedContext[Link]):
        ctx.common.journal.append("gave up")


@septum.state(config=StateConfiguration(timeout=0.02, retries=5))
def Handshake():
    @septum.events
    class Events(Enum):
        ACK = auto()
        RESEND = auto()
        GIVE_UP = auto()

    @septum.on_enter
    async def on_enter(ctx: SharedContext[Link]):
        ctx.common.attempts += 1
        reply = ctx.common.replies.pop(0) if ctx.common.replies else ""
        if reply:
            ctx.send_message(reply)

    @septum.on_state
    async def on_state(ctx: SharedContext[Link]):
        if ctx.msg == "garbled":
            raise ValueError("garbled reply")  # the machine's on_error_fn decides
        return "ACK" if ctx.msg == "ack" else None  # a label by its name, as 0.x allowed

    @septum.on_timeout
    async def on_timeout(ctx):
        return Events.RESEND

    @septum.on_fail
    async def on_fail(ctx):
        return Events.GIVE_UP

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.ACK, StateRef(f"{__name__}.Connected")),  # by registered name
            LabeledTransition(Events.RESEND, Retry()),
            LabeledTransition(Events.GIVE_UP, GaveUp),
        ]


DIAGRAMS = {"machine": Handshake}  # what `mycorrhizal diagrams` draws


async def main() -> Link:
    link = Link()

    def on_error(ctx, exc):
        ctx.common.journal.append("garbled")
        return "RESEND"  # a label of the failing state: Retry, as if on_state had returned it

    fsm = StateMachine(
        initial_state=StateRef(f"{__name__}.Handshake"), common_data=link, on_error_fn=on_error
    )
    fsm.log = lambda message: None  # 0.x printed; here it logs, and this silences it all the same
    print(to_mermaid(fsm))
    await fsm.initialize()
    try:
        await fsm.run(timeout=1)  # waits (for timeouts too) until a terminal state
    except StateMachineComplete:
        pass  # 0.x raised this; here reaching a terminal state simply ends run()
    print(fsm.current_state.name, link.journal)
    assert fsm.current_state is Connected and link.attempts == 3
    assert link.journal == ["garbled", "connected after 3 attempts"]
    return link


if __name__ == "__main__":
    asyncio.run(main())
