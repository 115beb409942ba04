"""Tasks of suspended firings and sink deliveries: what they leave behind when they end."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, Runner, pn

from .conftest import settle


class Halt(BaseException):
    """A user's own BaseException (like KeyboardInterrupt): no failure, raised to the caller."""


def halting_net(where: str, *, eager: bool = True) -> Any:
    """orders -> ship -> shipped (a sink); ``where`` ("handler" or "sink") suspends, then raises Halt."""

    @pn.net
    def Shipping(builder: NetBuilder) -> None:
        orders = builder.place("orders", initial=["order 1"])

        @builder.io_output_place()
        async def shipped(token: Any, bb: Any, timebase: Any) -> None:
            await timebase.sleep(1)
            if where == "sink":
                raise Halt()

        @builder.transition(inputs=[orders], outputs=[shipped], eager=eager)
        async def ship(consumed: Any, bb: Any, timebase: Any) -> Any:
            await timebase.sleep(1)
            if where == "handler":
                raise Halt()
            return {shipped: consumed[0]}

    return Shipping


@pytest.mark.parametrize(("where", "eager"), [("handler", True), ("handler", False), ("sink", True)])
async def test_a_base_exception_raised_to_the_caller_leaves_no_unretrieved_task_error(
    clock: ManualClock, where: str, eager: bool
) -> None:
    # The runner raises the exception from run_until_idle() and logs it at INFO; the task it ended
    # must not also be reported by asyncio as "Task exception was never retrieved" (an ERROR).
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context))
    runner = Runner(halting_net(where, eager=eager), {}, clock)
    with pytest.raises(Halt):
        await settle(clock, runner.run_until_idle(), limit=5)
    await runner.stop()
    gc.collect()  # an unretrieved task exception is reported when the task is collected
    assert runner.marking().total() == 1 and runner.in_flight == 0  # the token is kept
    assert [context["message"] for context in reported] == []
