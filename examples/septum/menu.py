"""A push/pop menu: sub-menus are called with Push and return with Pop.

``Main`` pushes ``Settings`` (returning to ``Main``); ``Settings`` pushes ``Confirm`` (returning to
``Settings``).  Keys arrive as messages; the stack shows where each Pop will return.  The
diagram of the machine is printed as Mermaid text at the end.

    python examples/septum/menu.py
"""

# septum resolves `Events` (and sibling states) by bare name inside a state's handlers.
# ruff: noqa: F821

import asyncio
from enum import Enum, auto

from mycorrhizal.render import to_mermaid
from mycorrhizal.septum.core import (
    LabeledTransition,
    Pop,
    Push,
    StateConfiguration,
    StateMachine,
    Unhandled,
    septum,
)


@septum.state
class Main:
    class Events(Enum):
        SETTINGS = auto()
        QUIT = auto()
        OTHER = auto()

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is None:
            return None
        return {"s": Events.SETTINGS, "q": Events.QUIT}.get(ctx.msg, Events.OTHER)

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.SETTINGS, Push(Settings, Main)),
            LabeledTransition(Events.QUIT, Bye),
            LabeledTransition(Events.OTHER, Unhandled),
        ]


@septum.state
class Settings:
    class Events(Enum):
        RESET = auto()
        BACK = auto()
        OTHER = auto()

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg is None:
            return None
        return {"r": Events.RESET, "b": Events.BACK}.get(ctx.msg, Events.OTHER)

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.RESET, Push(Confirm, Settings)),
            LabeledTransition(Events.BACK, Pop),
            LabeledTransition(Events.OTHER, Unhandled),
        ]


@septum.state
class Confirm:
    class Events(Enum):
        YES = auto()
        NO = auto()

    @septum.on_state
    async def on_state(ctx):
        if ctx.msg == "y":
            ctx.common["reset"] = True
            return Events.YES
        return Events.NO if ctx.msg is not None else None

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.YES, Pop), LabeledTransition(Events.NO, Pop)]


@septum.state(config=StateConfiguration(terminal=True))
class Bye:
    pass


async def main() -> None:
    fsm = StateMachine(Main, common_data={"reset": False})
    await fsm.run()
    for key in ["x", "s", "r", "y", "b", "q"]:
        fsm.send_message(key)
        await fsm.run()
        stack = " > ".join(s.name for s in fsm.state_stack) or "-"
        print(f"key {key!r}: now in {fsm.current_state.name:8} stack: {stack}")
    print(f"reset confirmed: {fsm.common['reset']}; unhandled keys: {fsm.unhandled_count}")
    print(to_mermaid(fsm))


if __name__ == "__main__":
    asyncio.run(main())
