"""Small trees, machines and a net harness shared by the mycelium tests."""

from collections.abc import AsyncIterator, Callable
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import ManualClock
from mycorrhizal.mycelium import PNRunner
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import LabeledTransition, StateConfiguration, septum


@bt.tree
def PriorityRouter():
    @bt.action
    def route(ctx):  # type: ignore[no-untyped-def]
        priority = ctx.token["priority"]
        if priority < 0:
            ctx.reject(f"priority {priority} is negative")
        else:
            ctx.route("fast" if priority > 5 else "slow")
        return Status.SUCCESS

    bt.root(route)


def tree_failing_on(bad: Any, output: str) -> Any:
    """A tree whose action ``boom`` raises on token ``bad`` and routes every other token to ``output``."""

    @bt.tree
    def Exploding():
        @bt.action
        def boom(ctx):  # type: ignore[no-untyped-def]
            if ctx.token == bad:
                raise ValueError(f"cannot handle {bad!r}")
            ctx.route(output)
            return Status.SUCCESS

        bt.root(boom)

    return Exploding


def machine_failing_on(bad: Any, output: str) -> Any:
    """A machine (state ``Fragile``) that raises on token ``bad`` and routes the others to ``output``."""

    @septum.state(config=StateConfiguration(can_dwell=True))
    def Fragile():
        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            if ctx.msg is not None:
                if ctx.msg.token == bad:
                    raise ValueError(f"cannot handle {bad!r}")
                ctx.msg.route(output)

    return Fragile


def machine_mislabelling(output: str) -> Any:
    """A machine (state ``Mislabelled``, timeout 10 s) whose handlers return a label it does not
    declare: its on_timeout always, its on_state on a token holding 'mislabel'; it routes the other
    tokens to ``output``."""

    @septum.state(config=StateConfiguration(timeout=10.0, can_dwell=True))
    def Mislabelled():
        class Events(Enum):
            STRAY = auto()

        @septum.on_state
        def on_state(ctx):  # type: ignore[no-untyped-def]
            if ctx.msg is None:
                return None
            if "mislabel" in str(ctx.msg.token):
                return Events.STRAY
            ctx.msg.route(output)
            return None

        @septum.on_timeout
        def on_timeout(ctx):  # type: ignore[no-untyped-def]
            return Events.STRAY

    return Mislabelled


STRAY = r"returned <Events\.STRAY: 1>, which its transitions\(\) does not declare"
"""How an undeclared label of :func:`machine_mislabelling` is said (as a regular expression)."""
STRAY_FIX = r"\. Fix: add LabeledTransition\(STRAY, \.\.\.\) or return a declared label$"
"""The fix that ends it (as a regular expression)."""


@septum.state(config=StateConfiguration(can_dwell=True))
def Tally():
    """Counts the tokens it sees on the blackboard and routes them all to 'done'."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.common["tally"] = ctx.common.get("tally", 0) + 1
            ctx.msg.route("done")


@septum.state(config=StateConfiguration(timeout=5.0))
def Gate():
    """Lets tokens through; 'close' tokens close it for five seconds."""

    class Events(Enum):
        CLOSE = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is None:
            return None
        if str(ctx.msg.token).endswith("close"):
            ctx.msg.route("passed")
            return Events.CLOSE
        ctx.msg.route("passed")
        return None

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return None

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.CLOSE, Shut)]


@septum.state(config=StateConfiguration(timeout=5.0))
def Shut():
    class Events(Enum):
        REOPEN = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.reject("gate is shut")

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return Events.REOPEN

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.REOPEN, Gate)]


RunNet = Callable[..., Any]


@pytest.fixture
async def running(clock: ManualClock) -> AsyncIterator[RunNet]:
    """Start a runner for a net on the virtual clock; every runner is stopped after the test."""
    runners: list[PNRunner] = []

    async def start(net: Any, bb: Any = None) -> PNRunner:
        runner = PNRunner(net, {} if bb is None else bb, clock)
        await runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        await runner.stop()
