"""The JSON-lines fast path: events handed over as the parts of their line (Dispatcher.event_line)
are written exactly as the record path writes them, and times are written to the microsecond."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum, auto
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mycorrhizal import spores
from mycorrhizal.common import ManualClock
from mycorrhizal.hypha import NetBuilder, PlaceType, pn
from mycorrhizal.hypha import Runner as NetRunner
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import (
    AsyncFileTransport,
    EventAttr,
    HyphaAdapter,
    JSONEncoder,
    ObjectRef,
    ObjectScope,
    Relationship,
    SeptumAdapter,
    observe,
)
from mycorrhizal.spores.encoder import time_text
from mycorrhizal.spores.observing import base as observing_base

from .nets import Pairing, Sorting


@given(st.floats(min_value=0, max_value=4e9), st.floats(min_value=0, max_value=4e9))
@example(before=67108864.0, t=67108864.8828125)  # a tie: either neighbour is right
def test_a_time_is_written_to_the_microsecond(before: float, t: float) -> None:
    time_text(before)  # the second the fast path makes the next text from, maybe t's
    text = time_text(t)
    assert re.fullmatch(r"\d+\.\d{6}", text)
    # exactly: the float's own value against the text (floats near 4e9 are ~0.5 us apart)
    assert abs(Decimal(text) - Decimal(t)) <= Decimal("0.0000005000000001")
    on_the_grid = round(t * 1_000_000) / 1_000_000  # what observe writes: no tie to round
    assert time_text(on_the_grid) == f"{on_the_grid:.6f}"


@pytest.mark.parametrize("t", [-1.5, float("inf"), 1e16])
def test_times_outside_the_fast_path_are_written_as_they_always_were(t: float) -> None:
    assert time_text(t) == f"{t:.6f}"


class RecordPath(JSONEncoder):
    """The stock JSON, made by encoding records: the dispatcher cannot hand over line parts."""

    __slots__ = ()

    def encode_event(self, raw: Any) -> bytes:
        return super().encode_event(raw)


@dataclass
class Robot:
    id: str
    battery: int = 100


@dataclass
class Parcel:
    id: str
    weight: float = 1.5


@dataclass
class Board:
    mission: Annotated[str, EventAttr] = "patrol"
    speed: Annotated[float, EventAttr(name="robot_speed")] = 1.5
    robot: Annotated[Robot, ObjectRef("actor", ObjectScope.GLOBAL)] = field(
        default_factory=lambda: Robot("r1")
    )
    parcels: Annotated[list[Parcel], ObjectRef("cargo")] = field(default_factory=list)  # EVENT scope
    nothing: Annotated[str | None, EventAttr] = None


machine_adapter = SeptumAdapter()


class Step(Enum):
    AGAIN = auto()


@septum.state(config=StateConfiguration(can_dwell=True))
def Loading():
    @septum.on_state
    @machine_adapter.log_state("load")
    async def on_state(ctx):
        if ctx.msg is None:
            return None
        ctx.common.parcels.append(Parcel(ctx.msg))
        ctx.common.robot.battery -= 5
        ctx.common.mission = f"load {ctx.msg}"  # a new text: its attribute is made anew
        return Step.AGAIN

    @septum.transitions
    def transitions():
        return [LabeledTransition(Step.AGAIN, Loading)]


async def run_machine(observed: bool = False) -> None:
    fsm = StateMachine(Loading, common_data=Board())
    if observed:
        observe(fsm)
    await fsm.initialize()
    for parcel in ["p1", "p2", "p3"]:
        fsm.send_message(parcel)
        await fsm.run()
    await fsm.tick()


async def observe_machine() -> None:
    await run_machine(observed=True)


net_adapter = HyphaAdapter()


@pn.net
def Depot(builder: NetBuilder) -> None:
    inbox = builder.place("inbox", type=PlaceType.QUEUE)
    shelf = builder.place("shelf", type=PlaceType.QUEUE)

    @builder.transition(inputs=[inbox], outputs=[shelf])
    @net_adapter.log_transition("stored", log_outputs=True)
    async def store(consumed: Any, bb: Board, timebase: Any) -> Any:
        bb.robot.battery -= 1
        return {shelf: [{"id": f"{token['id']}-stored", "size": 2} for token in consumed]}


async def run_net(observed: bool = False) -> None:
    runner = NetRunner(Depot, Board(parcels=[Parcel("p0")]))
    if observed:
        observe(runner)
    await runner.start()
    for i in range(3):
        runner.add_token("inbox", {"id": f"t{i}"})
    runner.add_token("inbox", {"id": "t0"})  # seen before: related, not written again
    await runner.run_until_idle()
    await runner.stop()


async def observe_net() -> None:
    await run_net(observed=True)


@pn.net
def Relay(builder: NetBuilder) -> None:
    waiting = builder.place("waiting", type=PlaceType.QUEUE)
    done = builder.place("done", type=PlaceType.QUEUE)

    @builder.transition(inputs=[waiting], outputs=[done])
    async def relay(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {done: [*consumed, {"id": "extra"}]}  # the token itself (two roles) and a new one


async def observe_relay() -> None:
    """Firings relating a token in two roles (one relationship, both qualifiers), ids to escape."""
    runner = NetRunner(Relay, {})
    observe(runner)
    await runner.start()
    for ident in ["r1", 'q"2', 7, "r4"]:
        runner.add_token("waiting", {"id": ident})
    await runner.run_until_idle()
    await runner.stop()


async def observe_pairing() -> None:
    """Firings of two input places (one taking two tokens) into two output places."""
    runner = NetRunner(Pairing, {})
    observe(runner)
    await runner.start()
    runner.add_tokens("left", [{"id": c} for c in "abcd"])
    runner.add_tokens("right", [{"id": i} for i in range(8)])
    await runner.run_until_idle()
    await runner.stop()


async def observe_sorting() -> None:
    """Firings producing nothing or one token, twice each (the second written from the
    transition's plan): ids repeated within a firing, one the net's own, tokens seen before,
    tokens passed on, new tokens of a consumed token's id."""
    runner = NetRunner(Sorting, {})
    observe(runner)
    await runner.start()
    for ident in ["t1", "Sorting", "t2"]:
        runner.add_token("a", {"id": ident})
    runner.add_tokens(
        "b", [{"id": "u1"}, {"id": "u2"}, {"id": "t2"}, {"id": "t2"}, {"id": "u1"}, {"id": "u3"}]
    )
    runner.add_tokens("c", [{"id": "c1"}, {"id": "t1"}, {"id": "Sorting"}])
    runner.add_tokens("e", [{"id": "e1"}, {"id": "e2", "same": True}, {"id": "Sorting"}, {"id": "e3"}])
    await runner.run_until_idle()
    await runner.stop()


@pn.net
def Handing(builder: NetBuilder) -> None:
    left = builder.place("left", type=PlaceType.QUEUE)
    right = builder.place("right", type=PlaceType.QUEUE)
    done = builder.place("done", type=PlaceType.QUEUE)

    @builder.transition(inputs=[left, right], outputs=[done])
    async def hand(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {done: consumed[1]}


async def observe_handing() -> None:
    """Firings taking one token object from two places and passing it on (one relationship, its
    three roles in order), the first written the general way, the next from the plan."""
    runner = NetRunner(Handing, {})
    observe(runner)
    await runner.start()
    for i in range(4):
        token = {"id": f"h{i}"}
        runner.add_token("left", token)
        runner.add_token("right", token)
        await runner.run_until_idle()
    await runner.stop()


@pytest.mark.parametrize("place", ["a", "c"])  # producing nothing; one token, passed on
async def test_firings_are_written_at_their_timebase_times_to_the_microsecond(
    tmp_path: Path, place: str
) -> None:
    clock = ManualClock()
    transport = AsyncFileTransport(tmp_path / "times.jsonl")
    spores.configure(transport=transport)
    runner = NetRunner(Sorting, {}, clock)
    observe(runner)
    await runner.start()
    moves = [0.0, 0.0, 0.25, 0.7500004, 2.0, 0.000001, 1e-7, 59.9999996, 0.5]  # across seconds
    for i, move in enumerate(moves):
        clock.advance(move)
        if place == "a":
            runner.add_tokens("b", [{"id": f"b{i}"}, {"id": f"c{i}"}])
        runner.add_token(place, {"id": f"t{i}"})
        await runner.run_until_idle()
    await runner.stop()
    await transport.close()
    texts = re.findall(r'"time":([^,]+),', transport.path.read_text())
    assert len(texts) == len(moves) and all(re.fullmatch(r"\d{10}\.\d{6}", t) for t in texts)
    written = [int(Decimal(t) * 1_000_000) - int(Decimal(texts[0]) * 1_000_000) for t in texts]
    # at the timebase's time, and a microsecond after the last at least (a reader sorting by
    # time keeps the order): within a microsecond (the anchor's float rounding)
    expected, at = [0], 0.0
    for move in moves[1:]:
        at += move
        expected.append(max(round(at * 1_000_000), expected[-1] + 1))
    assert all(abs(got - want) <= 1 for got, want in zip(written, expected, strict=True)), (written, expected)
    assert all(a < b for a, b in zip(written, written[1:], strict=False))


@pytest.mark.parametrize(
    "wall",
    [1_700_000_000.9999995, -2.5, 1e10],
    ids=["crossing seconds", "before 1970, then after", "after 2^33 s: floats coarser than a microsecond"],
)
async def test_the_fast_path_writes_the_times_of_the_record_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wall: float
) -> None:
    # the wall time observe() anchors its times to, the same for both paths
    monkeypatch.setattr(observing_base, "_time", SimpleNamespace(time=lambda: wall))
    written = []
    for name, encoder in [("fast", None), ("records", RecordPath())]:
        clock = ManualClock()
        transport = AsyncFileTransport(tmp_path / f"{name}.jsonl")
        spores.configure(transport=transport, encoder=encoder)
        runner = NetRunner(Sorting, {}, clock)
        observe(runner)
        await runner.start()
        for i, move in enumerate([0.0, 0.0, 0.0, 1e-7, 0.9999996, 0.0, 1.0, 0.5, 0.0, 0.0]):
            clock.advance(move)
            runner.add_token("c", {"id": f"c{i}", "n": i})  # (its object written at the event's time)
            await runner.run_until_idle()
        await runner.stop()
        await transport.close()
        lines = transport.path.read_text().splitlines()
        written.append([re.sub(r'"id":"evt-[^"]+"', "", line) for line in lines])  # all but the ids
    fast, records = written
    assert len(fast) == 21 and fast == records


async def test_a_new_configuration_gets_the_net_and_its_firings(tmp_path: Path) -> None:
    files = [AsyncFileTransport(tmp_path / f"{n}.jsonl") for n in range(3)]
    runner = NetRunner(Sorting, {})
    observe(runner)
    await runner.start()
    for transport in [*files, files[0]]:  # and back to the first
        # the second file's lines made from records (no plan for that dispatcher), the others' not
        spores.configure(transport=transport, encoder=RecordPath() if transport is files[1] else None)
        for _ in range(2):  # the second firing written from the transition's plan
            runner.add_token("c", {"id": f"c{len(runner.marking().get('d', []))}"})
            await runner.run_until_idle()
    await runner.stop()
    for transport in files:
        await transport.close()
    records = [[json.loads(line) for line in t.path.read_text().splitlines()] for t in files]
    objects = [[r["object"]["id"] for r in written if r["object"]] for written in records]
    assert objects == [
        ["Sorting", "c0", "c1", "Sorting", "c6", "c7"],
        ["Sorting", "c2", "c3"],
        ["Sorting", "c4", "c5"],
    ]
    assert [sum(1 for r in written if r["event"]) for written in records] == [4, 2, 2]


class Mood(Enum):
    CALM = auto()


async def emit_directly() -> None:
    """emit_event in every form it takes (attributes as a mapping or pairs; relationships as
    pairs, Relationship objects or a mapping of them; a time given; an activity)."""
    spores.emit_event("step", {"n": 1}, [("r1", "robot")])
    spores.emit_event("step", {"n": 2, "ratio": 0.5, "ok": True, "note": 'x"y', "mood": Mood.CALM})
    spores.emit_event("step", [("label", "a")], [Relationship("r1", "robot"), ("p1", "cargo")], time=1.25)
    spores.emit_event("step", None, {"r": Relationship("r2", "robot")}, time=datetime(2026, 1, 2, 3, 4))
    spores.emit_event("step", {"n": 3}, [(7, "number")], activity="counting")


def lines_of(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, without what differs from run to run (ids, times)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        if record["event"]:
            record["event"].pop("id")
            record["event"].pop("time")
        else:
            for attribute in record["object"]["attributes"]:
                attribute.pop("time")
    return records


@pytest.mark.parametrize(
    "scenario",
    [
        run_machine,
        observe_machine,
        run_net,
        observe_net,
        observe_relay,
        observe_pairing,
        observe_sorting,
        observe_handing,
        emit_directly,
    ],
    ids=[
        "SeptumAdapter.log_state",
        "observe(machine)",
        "HyphaAdapter.log_transition",
        "observe(runner)",
        "observe(runner), a token in two roles",
        "observe(runner), two input and two output places",
        "observe(runner), firings producing nothing or one token",
        "observe(runner), one token taken from two places and passed on",
        "emit_event",
    ],
)
async def test_the_fast_path_writes_the_lines_of_the_record_path(
    tmp_path: Path, scenario: Callable[[], Awaitable[None]]
) -> None:
    fast = await fast_and_records(tmp_path, scenario)
    events = [r["event"] for r in fast if r["event"]]
    assert len(events) >= 4 and any(len(e["relationships"]) > 1 for e in events)


async def fast_and_records(tmp_path: Path, scenario: Callable[[], Awaitable[None]]) -> list[dict[str, Any]]:
    """The lines ``scenario`` writes on the fast path, checked to be those of the record path."""
    written = []
    for name, encoder, lines in [("fast", None, True), ("records", RecordPath(), False)]:
        transport = AsyncFileTransport(tmp_path / f"{name}.jsonl")
        spores.configure(transport=transport, encoder=encoder)
        assert spores.get_dispatcher().lines is lines
        await scenario()
        await transport.close()
        written.append(lines_of(transport.path))
    fast, records = written
    assert fast == records
    return fast


@dataclass
class OneRobot:
    """The usual blackboard: one ObjectRef field holding one object (the reader's shortest path)."""

    mission: Annotated[str, EventAttr] = "patrol"
    robot: Annotated[Robot | None, ObjectRef("actor", ObjectScope.GLOBAL)] = field(
        default_factory=lambda: Robot("r1")
    )


@septum.state(config=StateConfiguration(can_dwell=True))
def Driving():
    @septum.on_state
    @machine_adapter.log_state("drive")
    async def on_state(ctx):
        if ctx.msg == "swap":
            ctx.common.robot = Robot("r2")  # a new object: written before it is related
        elif ctx.msg == "park":
            ctx.common.robot = None  # nothing to relate
        elif ctx.msg == "go":
            ctx.common.robot.battery -= 5  # changed: its object record is written again
        return None

    @septum.transitions
    def transitions():
        return []


async def test_one_object_on_the_blackboard_is_related_as_the_record_path_relates_it(tmp_path: Path) -> None:
    async def drive() -> None:
        fsm = StateMachine(Driving, common_data=OneRobot())
        await fsm.initialize()
        for msg in ["go", "go", "swap", "go", "park", "wait"]:
            fsm.send_message(msg)
            await fsm.run()

    fast = await fast_and_records(tmp_path, drive)
    events = [r["event"] for r in fast if r["event"]]
    related = [[rel["objectId"] for rel in e["relationships"]] for e in events]
    assert related == [["r1"], ["r1"], ["r1"], ["r2"], ["r2"], [], []]  # the entry run first
    batteries = [r["object"] for r in fast if r["object"] and r["object"]["id"] == "r1"]
    assert len(batteries) == 3  # first seen, then each change


async def test_emit_event_returns_the_id_it_wrote(tmp_path: Path) -> None:
    for encoder in (None, RecordPath()):
        transport = AsyncFileTransport(tmp_path / f"{encoder is None}.jsonl")
        spores.configure(transport=transport, encoder=encoder)
        idents = [spores.emit_event("step", {"n": i}, [("r1", "robot")]) for i in range(3)]
        await transport.close()
        written = [json.loads(line)["event"]["id"] for line in transport.path.read_text().splitlines()]
        assert written == idents and len(set(idents)) == 3


def test_event_line_is_refused_where_records_are_written_otherwise() -> None:
    spores.configure()  # no transport: records are counted, not written as lines
    dispatcher = spores.get_dispatcher()
    assert not dispatcher.lines
    with pytest.raises(RuntimeError, match="check dispatcher.lines first"):
        dispatcher.event_line('"t"', 0.0, "", "")
