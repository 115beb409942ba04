"""A removed transition's ``ctx.memory`` goes with it: the ``transition_removed()`` hook of its
values (how an embedder closes what it runs there) and the stop callbacks that are their methods."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mycorrhizal.common.errors import ExecutionError
from mycorrhizal.common.timebase import ManualClock
from mycorrhizal.hypha import NetChanged
from mycorrhizal.hypha.core import NetBuilder, Runner


class Held:
    """A live value a handler keeps in ``ctx.memory``: it notes its hook's calls in ``log``."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def stopped(self) -> None:
        self.log.append(f"{self.name} stopped")


class SyncHeld(Held):
    def transition_removed(self) -> None:
        self.log.append(f"{self.name} removed")


class AsyncHeld(Held):
    async def transition_removed(self) -> None:
        await asyncio.sleep(0)
        self.log.append(f"{self.name} removed")


class RaisingHeld(Held):
    def transition_removed(self) -> None:
        self.log.append(f"{self.name} removed")
        raise RuntimeError("cannot close")


def holding(name: str, held: type[Held], log: list[str], clock: ManualClock) -> Any:
    """A handler keeping a ``held`` in its memory (its stop callback registered), a second long."""

    async def handler(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
        if "held" not in ctx.memory:
            value = ctx.memory["held"] = held(name, log)
            ctx.runner.add_stop_callback(value.stopped)
        await clock.sleep(1)
        log.append(f"{name} fired {consumed[0]}")

    return handler


def two_holders(held: type[Held], log: list[str], clock: ManualClock) -> Any:
    """in -> work, in2 -> keep: each transition keeps a ``held`` in its memory."""
    builder = NetBuilder("Holding")
    inbox, inbox2 = builder.place("in"), builder.place("in2")
    builder.arc(inbox, builder.transition(name="work")(holding("work", held, log, clock)))
    builder.arc(inbox2, builder.transition(name="keep")(holding("keep", held, log, clock)))
    return builder.spec


@pytest.mark.parametrize("held", [SyncHeld, AsyncHeld, RaisingHeld], ids=["sync", "async", "raising"])
async def test_a_removed_transitions_memory_is_told_after_its_last_firing_and_before_the_change(
    clock: ManualClock, held: type[Held], caplog: pytest.LogCaptureFixture
) -> None:
    # A removed transition's memory was dropped without a word: what an embedder ran there (an
    # fsm= transition's machines, their timers) lived on, and its stop callback stayed with the
    # runner for good, called at every stop.
    log: list[str] = []
    runner = Runner(two_holders(held, log, clock), None, clock)
    runner.add_observer(lambda event: isinstance(event, NetChanged) and log.append("net changed"))
    runner.add_stop_callback(lambda: log.append("the runner's own callback"))
    await runner.start()
    runner.add_token("in", "a")
    runner.add_token("in2", "b")
    await clock.run_for(1.0)
    runner.add_token("in", "c")  # in flight as the removal starts: it ends first
    await asyncio.sleep(0)
    assert runner.in_flight == 1
    removal = asyncio.ensure_future(runner.remove("work"))
    with caplog.at_level(logging.ERROR, logger="mycorrhizal.hypha"):
        await clock.run_for(1.0)
        await removal
    assert log == ["work fired a", "keep fired b", "work fired c", "work removed", "net changed"]
    if held is RaisingHeld:  # logged, and the removal goes on
        assert "transition Holding.work: transition_removed() of its ctx.memory['held'] raised" in caplog.text
        assert "RuntimeError: cannot close" in caplog.text
    else:
        assert caplog.text == ""
    log.clear()
    await runner.stop()
    assert log == ["the runner's own callback", "keep stopped"]  # work's went with its memory


def io_net() -> Any:
    """src (an IO input place) -> move -> sink (an IO output place)."""
    builder = NetBuilder("IO")
    src = builder.io_input_place("src", lambda bb, timebase: iter([1]))
    sink = builder.io_output_place("sink", lambda token, bb, timebase: None)
    builder.transition(name="move", inputs=[src], outputs=[sink])(lambda c, bb, tb: {sink: c[0]})
    return builder.spec


@pytest.mark.parametrize("name", ["src", "sink", "IO.src", "IO.sink"])
async def test_removing_an_io_place_names_it_by_its_qualified_name(clock: ManualClock, name: str) -> None:
    # The error named an IO place by its name in the net ('sink'), where every other removal
    # error names a place by its qualified name ('IO.sink').
    runner = Runner(io_net(), None, clock)
    await runner.start()
    qname = "IO." + name.removeprefix("IO.")
    message = rf"^place '{qname}' is an IO place, which a running net cannot lose \(.*\)\. Fix: [^.]*$"
    with pytest.raises(ExecutionError, match=message) as caught:
        await runner.remove(name)
    assert caught.value.place == qname and str(caught.value).count(". Fix: ") == 1
    await runner.stop()
