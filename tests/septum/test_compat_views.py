"""0.x's interface views in septum (UPSTREAM-API §5.3): ``ctx: SharedContext[Iface]`` sees ``ctx.common``
through a view of ``Iface`` for that call; other handlers see the blackboard itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest

from mycorrhizal.common import AccessControlError, DefinitionError
from mycorrhizal.common.interface_builder import blackboard_interface, readonly, readwrite
from mycorrhizal.septum.core import SharedContext, StateConfiguration, StateMachine, septum


@dataclass
class Board:
    limit: int = 2
    done: int = 0
    secret: str = "s3cret"
    seen: list[str] = field(default_factory=list)


@blackboard_interface
class Counting:
    limit: Annotated[int, readonly]
    done: Annotated[int, readwrite]


@septum.state(config=StateConfiguration(can_dwell=True))
def Work():
    @septum.on_enter
    async def on_enter(ctx):
        ctx.common.seen.append(f"enter sees {type(ctx.common).__name__}")  # unannotated: the board

    @septum.on_state
    async def on_state(ctx: SharedContext[Counting]):
        if ctx.msg is None:
            return None
        ctx.common.done += 1  # read-write: goes to the board
        with pytest.raises(
            AccessControlError, match=r"'Counting' may not write 'limit': .*\. Fix: mark it readwrite"
        ):
            ctx.common.limit = 99
        with pytest.raises(
            AttributeError,
            match=r"'Counting' has no field 'secret' \(its fields: .*\)\. Fix: add 'secret' to the interface",
        ):
            ctx.common.secret  # noqa: B018 - not in the interface
        if ctx.msg == "first":
            ctx.send_message("again")  # the rest of ctx is the machine's
        return None


async def test_an_annotated_handler_sees_the_blackboard_through_its_interface() -> None:
    board = Board()
    fsm = StateMachine(Work, common_data=board)
    fsm.send_message("first")
    await fsm.run()
    assert board.done == 2 and board.limit == 2  # "first", then "again" it sent
    assert board.seen == ["enter sees Board"]


def test_a_plain_handler_annotated_with_an_interface_gets_a_plain_function() -> None:
    @septum.state(config=StateConfiguration(can_dwell=True))
    def Plain():
        @septum.on_state
        def on_state(ctx: SharedContext[Counting]):
            ctx.common.done += 1

    board = Board()
    fsm = StateMachine(Plain, common_data=board)
    fsm.send("x")
    assert board.done == 2  # the entry run and "x", with no event loop


def test_an_annotation_naming_nothing_is_a_definition_error() -> None:
    namespace: dict[str, Any] = {"septum": septum}
    exec(  # noqa: S102 - a handler whose annotation names a type that does not exist
        "async def on_state(ctx: 'SharedContext[Nowhere]'):\n    return None\n", namespace
    )

    @septum.state(config=StateConfiguration(can_dwell=True))
    class Broken:
        on_state = septum.on_state(namespace["on_state"])

    with pytest.raises(DefinitionError, match="the annotation .*Nowhere.* cannot be resolved"):
        StateMachine(Broken)
