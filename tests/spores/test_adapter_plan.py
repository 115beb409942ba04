"""HyphaAdapter.log_transition's plan: the lines a handler's firings write from it are, to the byte
(but for event ids), those its general path writes (its lines, and the records a record path
encodes), for every shape of handler, blackboard and call the plan takes or refuses."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import pytest

from mycorrhizal import spores
from mycorrhizal.hypha import NetBuilder, PlaceType, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.spores import AsyncFileTransport, EventAttr, HyphaAdapter, ObjectRef, ObjectScope
from mycorrhizal.spores import encoder as spores_encoder
from mycorrhizal.spores.dsl import hypha as hypha_dsl

from .test_lines import Parcel, RecordPath, Robot

adapter = HyphaAdapter()


@dataclass
class Usual:
    """One EventAttr field and one object: the reader's shortest path."""

    mission: Annotated[str, EventAttr] = "patrol"
    robot: Annotated[Robot | None, ObjectRef("actor", ObjectScope.GLOBAL)] = field(
        default_factory=lambda: Robot("r1")
    )


@dataclass
class Crowded:
    """Fields of every kind: a None attribute, a float, EVENT-scoped objects in a list."""

    mission: Annotated[str, EventAttr] = "patrol"
    speed: Annotated[float, EventAttr(name="robot_speed")] = 1.5
    nothing: Annotated[str | None, EventAttr] = None
    robot: Annotated[Robot, ObjectRef("actor", ObjectScope.GLOBAL)] = field(
        default_factory=lambda: Robot("r1")
    )
    parcels: Annotated[list[Parcel], ObjectRef("cargo")] = field(default_factory=lambda: [Parcel("p0")])


def change(bb: Any, i: int) -> None:
    """Change the blackboard between firings: texts new and again, an object changed, swapped, gone."""
    if isinstance(bb, dict):
        return
    bb.mission = ["patrol", "load", "patrol"][i % 3]
    if i == 2:
        bb.robot.battery -= 5
    elif i == 4:
        bb.robot = Robot("r2")
    elif i == 6 and isinstance(bb, Usual):
        bb.robot = None


@pn.net
def Handlers(builder: NetBuilder) -> None:
    """One transition per shape of handler, each fed by its own place."""
    places = {name: builder.place(name, type=PlaceType.QUEUE) for name in ["a", "b", "c", "d", "e", "f"]}
    done = builder.place("done", type=PlaceType.QUEUE)

    @builder.transition(inputs=[places["a"]])
    @adapter.log_transition("usual")
    async def usual(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    @builder.transition(inputs=[places["b"], (places["c"], 2)], outputs=[done])
    @adapter.log_transition("produced", log_outputs=True)
    async def produced(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {done: [consumed[0], {"id": f"new-{consumed[1]['id']}", "n": 2}]}

    @builder.transition(inputs=[places["d"]], outputs=[done])
    @adapter.log_transition("emitted", log_outputs=True)
    async def emitted(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
        ctx.emit("done", {"id": f"e-{consumed[0]['id']}"})

    @builder.transition(inputs=[places["e"]])
    @adapter.log_transition("no inputs", log_inputs=False)
    async def quiet(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    @builder.transition(inputs=[(places["f"], 2)])
    @adapter.log_transition("dropping")
    async def dropping(consumed: Any, bb: Any, timebase: Any) -> None:
        if consumed[0]["id"].endswith("1"):
            consumed.pop()  # the handler's own list: one token fewer related (a count of 1)


async def run(bb: Any) -> None:
    """Eight rounds of firings of every handler, the blackboard changed between them; ids repeat
    (objects seen before)."""
    runner = NetRunner(Handlers, bb)
    await runner.start()
    for i in range(8):
        change(bb, i)
        runner.add_token("a", {"id": f"a{i % 3}"})
        runner.add_token("b", {"id": f"b{i}"})
        runner.add_tokens("c", [{"id": f"c{i}"}, {"id": "c0", "n": i}])
        runner.add_token("d", {"id": f"d{i % 2}"})
        runner.add_token("e", {"id": f"e{i}"})
        runner.add_tokens("f", [{"id": f"f{i % 2}"}, {"id": f"g{i}"}])
        await runner.run_until_idle()
    await runner.stop()


def unplanned(self: Any, state: Any, args: Any, kwargs: Any) -> tuple[Any, ...]:
    """_Firing.plan refusing every call: each firing written by the general path."""
    return (state, -1)


async def three_ways(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Callable[[], Awaitable[None]],
    start: float = 1e9,
) -> list[str]:
    """The lines ``scenario`` writes from the plans, checked to be those of the general path and
    of the record path, to the byte but for event ids (every time taken from ``start`` on)."""
    written = []
    for name, encoder, planned in [
        ("plan", None, True),
        ("general", None, False),
        ("records", RecordPath(), False),
    ]:
        with monkeypatch.context() as patch:
            ticks = itertools.count()
            patch.setattr(
                hypha_dsl, "_clock", lambda ticks=ticks: start + next(ticks) * 1e-7
            )  # the same times
            patch.setattr(spores_encoder, "_second", (float("inf"), ""))  # no second made before
            if not planned:
                patch.setattr(hypha_dsl._Firing, "plan", unplanned)
            transport = AsyncFileTransport(tmp_path / f"{name}.jsonl")
            spores.configure(transport=transport, encoder=encoder)
            await scenario()
            await transport.close()
        lines = transport.path.read_text().splitlines()
        written.append([re.sub(r'"id":"evt-[^"]+"', '"id":"evt"', line) for line in lines])
    plan, general, records = written
    assert plan == general == records
    return plan


@pytest.mark.parametrize("board", [Usual, Crowded, dict])
@pytest.mark.parametrize(
    "start", [1_700_000_000.999999, -2.5, 1e10], ids=["crossing a second", "before 1970", "2^33 s on"]
)
async def test_the_plan_writes_the_lines_of_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: type, start: float
) -> None:
    written = await three_ways(tmp_path, monkeypatch, lambda: run(board()), start)
    events = [json.loads(line)["event"] for line in written if line.startswith('{"event":{')]
    assert len(events) == 5 * 8
    # Two tokens of one object (round 0's two "c0"s) relate it once: an OCEL relationship is a
    # pair, and the SQLite layout keeps one of each (a JSON log read back had two rows).
    for event in events:
        pairs = [(r["objectId"], r["qualifier"]) for r in event["relationships"]]
        assert len(pairs) == len(set(pairs)), event
    produced = [e["relationships"] for e in events if e["type"] == "produced"][0]
    assert [(r["objectId"], r["qualifier"]) for r in produced][:4] == [
        ("b0", "input"),
        ("c0", "input"),
        ("b0", "output"),
        ("new-c0", "output"),
    ]


@adapter.log_transition("called")
async def called(consumed: Any, bb: Any = None, timebase: Any = None, **extra: Any) -> None:
    return None


@adapter.log_transition("called with ctx", log_outputs=True)
async def called_with_ctx(consumed: Any, bb: Any, timebase: Any, ctx: Any = None) -> Any:
    return {"out": {"id": f"out-{len(consumed)}"}}


def context(transition: str) -> Any:
    return SimpleNamespace(transition=transition, emitted=lambda: iter([("out", {"id": transition})]))


# Calls the plan made by the first does not fit: another blackboard class, fewer arguments,
# keywords, another number of tokens, another transition's ctx (or none); and calls it fits again.
CALLS = {
    "called": [
        (called, ([{"id": "t1"}], Usual(), None), {}),
        (called, ([{"id": "t2"}], Usual(), None), {}),
        (called, ([{"id": "t3"}], Crowded(), None), {}),
        (called, ([{"id": "t4"}],), {}),
        (called, ([{"id": "t5"}], Usual()), {}),
        (called, (), {"consumed": [{"id": "t6"}], "bb": Usual()}),
        (called, ([{"id": "t7"}, {"id": "t8"}], Usual(), None), {}),
        (called, ([{"id": "t7"}], Usual(), None), {"ctx": context("z")}),  # (its name taken from ctx)
        (called, ([{"id": "t9"}], Usual(), None), {}),
    ],
    "called with ctx": [
        (called_with_ctx, ([{"id": "t1"}], Usual(), None, context("x")), {}),
        (called_with_ctx, ([{"id": "t2"}], Usual(), None, context("x")), {}),
        (called_with_ctx, ([{"id": "t3"}], Usual(), None, context("y")), {}),
        (called_with_ctx, ([{"id": "t4"}], Usual(), None), {}),
        (called_with_ctx, ([{"id": "t5"}], Usual(), None, None), {}),
        (called_with_ctx, ([{"id": "t6"}], Usual(), None), {"ctx": context("x")}),
        (called_with_ctx, ([{"id": "t7"}], Usual(), None, context("x")), {}),
    ],
}


@pytest.mark.parametrize("calls", CALLS.values(), ids=CALLS.keys())
async def test_calls_the_plan_does_not_fit_are_written_the_general_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[Any]
) -> None:
    async def call_each() -> None:
        for handler, args, kwargs in calls:
            await handler(*args, **kwargs)

    written = await three_ways(tmp_path, monkeypatch, call_each)
    assert sum(1 for line in written if line.startswith('{"event":{')) == len(calls)


@pytest.mark.parametrize("off", ["adapter.disable()", "configure(enabled=False)"])
async def test_a_handler_with_a_plan_writes_nothing_while_switched_off(tmp_path: Path, off: str) -> None:
    transport = AsyncFileTransport(tmp_path / "off.jsonl")
    spores.configure(transport=transport)
    for i, on in enumerate([True, True, False, False, True]):  # a plan made, then switched off
        if off == "adapter.disable()":
            adapter.enable() if on else adapter.disable()
        else:
            spores.configure(transport=transport, enabled=on)
        await called([{"id": f"t{i}"}], Usual(), None)
    await transport.close()
    lines = transport.path.read_text().splitlines()
    assert [line.count('"type":"called"') for line in lines if line.startswith('{"event":{')] == [1, 1, 1]
    written = "".join(lines)
    assert '"t2"' not in written and '"t3"' not in written and '{"id":"t4"' in written
