"""Changing a started net (UPSTREAM-API.md §2.5, §4.3): ``runner.add_place``, ``add_transition``,
``add_arc``, ``remove_arc``, ``remove`` - on hypha's ``Runner`` and mycelium's ``PNRunner``."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import CapacityError, DefinitionError, ExecutionError
from mycorrhizal.common.timebase import CycleClock, ManualClock
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import ListValue, NetChanged
from mycorrhizal.hypha.core import NetBuilder, PlaceType, Runner
from mycorrhizal.mycelium import PNRunner


def forward(out: str) -> Any:
    async def handler(consumed: Any, bb: Any, timebase: Any) -> Any:
        for token in consumed:
            yield {out: token}

    return handler


def pipeline() -> Any:
    builder = NetBuilder("Dyn")
    inbox, done = builder.place("input"), builder.place("output")
    builder.arc(inbox, builder.transition(name="move")(forward(done))).arc(done)
    return builder.spec


def slow_pipeline(clock: ManualClock) -> Any:
    builder = NetBuilder("Slow")
    inbox, done = builder.place("input"), builder.place("output")

    @builder.transition()
    async def work(consumed: Any, bb: Any, timebase: Any) -> Any:
        await timebase.sleep(1)
        return {done: consumed[0]}

    builder.arc(inbox, work).arc(done)
    return builder.spec


async def one_in_flight(runner_class: Any, clock: ManualClock) -> Any:
    """A started runner of :func:`slow_pipeline` with one firing (of token "a") in flight."""
    runner = runner_class(slow_pipeline(clock), None, clock)
    await runner.start()
    runner.add_token("input", "a")
    await asyncio.sleep(0)
    assert runner.in_flight == 1
    return runner


@pytest.mark.parametrize("runner_class", [Runner, PNRunner])
def test_a_started_net_grows_a_place_a_transition_and_arcs(runner_class: type[Runner]) -> None:
    async def go() -> Any:
        runner = runner_class(pipeline(), None)
        await runner.start(CycleClock())
        seen: list[Any] = []
        runner.add_observer(seen.append)
        runtime = runner.runtime
        places = runtime.places  # 0.x programs hold this dict: it sees the changes
        extra = runner.add_place("Dyn.extra", PlaceType.QUEUE)

        async def double(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {"extra": consumed[0] * 2}

        double_ref = runner.add_transition("Dyn.double", double)
        runner.add_arc("Dyn.output", double_ref)
        runner.add_arc(("Dyn", "double"), extra)
        places[("Dyn", "input")].add_token(21)
        assert ("Dyn", "extra") in places and ("Dyn", "double") in runtime.transitions
        await runner.run_until_idle()
        await runner.stop()
        return runner, runtime, seen, extra

    runner, runtime, seen, extra = asyncio.run(go())
    assert extra.fqn == "Dyn.extra" and runtime.places[("Dyn", "extra")].tokens == (42,)
    assert runner.fired() == {"Dyn.move": 1, "Dyn.double": 1}
    changes = [e.change for e in seen if isinstance(e, NetChanged)]
    assert changes == [
        "add_place('Dyn.extra')",
        "add_transition('Dyn.double')",
        "add_arc('Dyn.output', 'Dyn.double')",
        "add_arc('Dyn.double', 'Dyn.extra')",
    ]
    assert all(e.net is not None for e in seen if isinstance(e, NetChanged))
    assert [(a.src, a.dst) for a in runner.spec.arcs][-2:] == [("output", "double"), ("double", "extra")]
    assert '"double"' in runner.spec.to_mermaid() and "Dyn.extra" in runner.snapshot()["places"]


def test_changes_before_start_raise_runtime_error_as_in_0x() -> None:
    runner = Runner(pipeline(), None)
    with pytest.raises(RuntimeError, match=r"runner.add_place\(\): net 'Dyn' has not been started"):
        runner.add_place("Dyn.extra")


def test_an_invalid_change_is_a_definition_error_and_changes_nothing() -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)
        await runner.start(CycleClock())
        before = runner.spec
        with pytest.raises(DefinitionError, match=r"place 'input'"):
            runner.add_place("Dyn.input")  # the name is taken
        with pytest.raises(ValueError, match=r"an arc must join a place and a transition"):
            runner.add_arc("Dyn.input", "Dyn.output")  # 0.x: ValueError for two ends of one kind
        await runner.stop()
        return before, runner

    before, runner = asyncio.run(go())
    assert runner.spec is before


def test_a_transition_without_an_input_arc_waits_for_one() -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)
        await runner.start(CycleClock())
        calls: list[Any] = []

        async def idle(consumed: Any, bb: Any, timebase: Any) -> None:
            calls.append(consumed)

        runner.add_transition("Dyn.idle", idle)
        await runner.run_until_idle()
        assert calls == []
        runner.add_arc("Dyn.output", "Dyn.idle")
        runner.add_token("input", "job")
        await runner.run_until_idle()
        await runner.stop()
        return calls

    assert [list(c) for c in asyncio.run(go())] == [["job"]]


def test_remove_really_removes_and_keeps_every_token() -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)
        await runner.start(CycleClock())
        runner.add_place("Dyn.archive")
        runner.add_token("output", "kept")
        with pytest.raises(ExecutionError, match=r"place 'Dyn.output' holds 1 token\(s\).*tokens_to="):
            await runner.remove("Dyn.output")
        await runner.remove("Dyn.output", tokens_to="Dyn.archive")
        assert runner.marking()["archive"] == ("kept",)
        await runner.remove("Dyn.move")
        with pytest.raises(DefinitionError, match=r"it names nothing"):
            await runner.remove("Dyn.move")
        await runner.stop()
        return runner

    runner = asyncio.run(go())
    assert [p.name for p in runner.spec.places] == ["input", "archive"]
    assert runner.spec.transitions == () and runner.spec.arcs == ()
    assert set(runner.runtime.places) == {("Dyn", "input"), ("Dyn", "archive")}


def test_remove_arc_waits_for_the_firings_in_flight() -> None:
    clock = ManualClock()

    async def go() -> Any:
        runner = await one_in_flight(Runner, clock)
        removal = asyncio.ensure_future(runner.remove_arc("Slow.work", "Slow.output"))
        runner.add_token("input", "b")
        await asyncio.sleep(0)
        # the transition is held: "b" waits, "a"'s firing goes on under the arcs it started with
        assert not removal.done() and runner.in_flight == 1 and runner.spec.arcs[-1].dst == "output"
        clock.advance(1)
        await removal
        assert runner.marking()["output"] == ("a",)
        assert [(a.src, a.dst) for a in runner.spec.arcs] == [("input", "work")]
        assert runner.in_flight == 1  # released: "b" fires now
        await runner.stop(cancel=True)
        assert runner.marking()["input"] == ("b",)

    asyncio.run(go())


def test_an_arc_added_to_a_busy_transition_leaves_its_firing_intact() -> None:
    clock = ManualClock()

    async def go() -> Any:
        runner = await one_in_flight(Runner, clock)
        runner.add_place("Slow.permits", capacity=1)
        runner.add_arc("Slow.permits", "Slow.work")  # after the input arc its firing took from
        await runner.stop(cancel=True)  # the firing gives back exactly what it took
        runner.add_token("permits", "p")  # the room the firing held in the new bounded place is free
        with pytest.raises(
            CapacityError, match=r"place 'Slow\.permits' is full \(capacity 1\)\. Fix: wait for room"
        ):
            runner.add_token("permits", "q")
        return runner.marking()

    marking = asyncio.run(go())
    assert marking["input"] == ("a",) and marking["permits"] == ("p",)


def test_changes_are_refused_for_a_journaled_run(tmp_path: Any) -> None:
    async def go() -> None:
        runner = Runner(pipeline(), None, store=SQLiteStore(str(tmp_path / "run.db")))
        await runner.start(CycleClock())
        with pytest.raises(ExecutionError, match=r"is journaled"):
            runner.add_place("Dyn.extra")
        await runner.stop()

    asyncio.run(go())


def nested() -> Any:
    inner = NetBuilder("Inner")
    q, done = inner.place("q"), inner.place("done")
    inner.arc(q, inner.transition(name="t")(forward(done))).arc(done)
    builder = NetBuilder("Top")
    builder.subnet(inner.spec, "sub")
    inbox = builder.place("inbox")
    builder.arc(inbox, builder.transition(name="feed")(forward("sub.q"))).arc("sub.q")
    return builder.spec


def test_changes_inside_a_subnet_and_across_scopes_by_any_name_form() -> None:
    async def go() -> Any:
        runner = Runner(nested(), None)
        await runner.start(CycleClock())
        runner.add_place("Top.sub.extra")  # qualified
        runner.add_place(("Top", "collected"))  # name parts, as runtime.places keys
        state: list[int] = []

        async def collect(consumed: Any, bb: Any, timebase: Any, counter: list[int]) -> Any:
            counter.append(len(consumed))
            return {"collected": consumed[0]}

        runner.add_transition("sub.gather", collect, state_factory=lambda: state)  # relative to the top
        runner.add_arc("sub.done", "sub.gather")
        runner.add_arc("Top.sub.gather", "Top.collected")  # declared in the top net: it holds both
        runner.add_token("inbox", "job")
        await runner.run_until_idle()
        await runner.stop()
        return runner, state

    runner, state = asyncio.run(go())
    assert runner.marking()["collected"] == ("job",) and state == [1]
    sub = runner.spec.subnets[0].net
    assert [p.name for p in sub.places] == ["q", "done", "extra"]
    assert [(a.src, a.dst) for a in sub.arcs][-1] == ("done", "gather")
    assert [(a.src, a.dst) for a in runner.spec.arcs][-1] == ("sub.gather", "collected")


def test_a_changed_net_snapshots_and_restores_as_the_changed_net() -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)
        await runner.start(CycleClock())
        runner.add_place("Dyn.later", initial=["x"])
        runner.add_token("output", "y")
        await runner.stop()
        document = runner.snapshot()
        again = Runner.restore(runner.spec, document)
        return again.marking()

    marking = asyncio.run(go())
    assert marking["later"] == ("x",) and marking["output"] == ("y",)


def test_removing_an_io_place_or_moving_tokens_nowhere_is_refused() -> None:
    builder = NetBuilder("IO")

    @builder.io_input_place()
    async def feed(bb: Any, timebase: Any) -> Any:
        yield 1

    out = builder.place("out")
    builder.arc(feed, builder.transition(name="take")(forward(out))).arc(out)

    async def go() -> Any:
        runner = Runner(builder.spec, None)
        await runner.start(CycleClock())
        await runner.run_until_idle()
        with pytest.raises(ExecutionError, match=r"place 'IO.feed' is an IO place"):
            await runner.remove("IO.feed")
        with pytest.raises(ExecutionError, match=r"tokens_to='IO.nowhere': the net has no such place"):
            await runner.remove("IO.out", tokens_to="nowhere")
        with pytest.raises(DefinitionError, match=r"no such arc"):
            await runner.remove_arc("IO.out", "IO.take")
        await runner.stop()
        return runner.marking()

    assert asyncio.run(go())["out"] == (1,)


def test_a_removed_transition_with_a_firing_in_flight_ends_it_first() -> None:
    clock = ManualClock()

    async def go() -> Any:
        runner = await one_in_flight(PNRunner, clock)
        removal = asyncio.ensure_future(runner.remove("Slow.work"))
        await asyncio.sleep(0)
        assert not removal.done()
        clock.advance(1)
        await removal
        picture = runner.to_mermaid()
        await runner.stop()
        return runner, picture

    runner, picture = asyncio.run(go())
    assert runner.marking()["output"] == ("a",) and runner.fired() == {}
    assert '"work"' not in picture and '"output 1"' in picture  # the picture of the net now


def test_an_arc_that_would_reorder_a_busy_transitions_inputs_is_refused() -> None:
    clock = ManualClock()
    builder = NetBuilder("Top")
    sub = builder.subnet(slow_pipeline(clock), "sub")
    builder.arc(builder.place("inbox"), sub.work)  # after the subnet's own input arc of 'work'

    async def go() -> Any:
        runner = Runner(builder.spec, None, clock)
        await runner.start()
        runner.add_token("sub.input", "a")
        runner.add_token("inbox", "x")
        await asyncio.sleep(0)
        runner.add_place("sub.more")
        # declared in the subnet, the arc would come before the top net's arc into 'work'
        with pytest.raises(ExecutionError, match=r"transition 'Top.sub.work' has 1 firing\(s\) in flight"):
            runner.add_arc("sub.more", "sub.work")
        assert [(a.src, a.dst) for a in runner.spec.arcs] == [("inbox", "sub.work")]  # nothing changed
        clock.advance(1)
        await runner.run_until_idle()
        runner.add_arc("sub.more", "sub.work")  # between firings it is fine
        await runner.stop()
        return runner

    runner = asyncio.run(go())
    assert runner.marking()["sub.output"] == ("a",) and runner.marking()["inbox"] == ()
    assert [(a.src, a.dst) for a in runner.spec.subnets[0].net.arcs][-1] == ("more", "work")


def test_the_change_methods_take_0x_keyword_names() -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)
        await runner.start(CycleClock())
        runner.add_place(fqn="Dyn.extra", place_type=PlaceType.BAG, state_factory=None)
        runner.add_transition(fqn="Dyn.copy", handler=forward("extra"), guard=None, state_factory=None)
        runner.add_arc(source_fqn="Dyn.output", target_fqn="Dyn.copy", weight=1, name="feed")
        runner.add_arc(source_fqn="Dyn.copy", target_fqn="Dyn.extra")
        runner.add_token("input", 1)
        await runner.run_until_idle()
        await runner.remove_arc(src="Dyn.copy", dst="Dyn.extra")
        await runner.remove(fqn="Dyn.copy")
        await runner.stop()
        return runner

    runner = asyncio.run(go())
    assert runner.marking()["extra"] == (1,) and runner.spec.lookup("extra").type is PlaceType.BAG
    assert [(a.src, a.dst) for a in runner.spec.arcs] == [("input", "move"), ("move", "output")]


# -- an invariant: whatever changes, every token is somewhere, once --------------------------------

Step = tuple[str, int]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "feed", "remove_arc", "remove", "settle"]), st.integers(0, 3)),
        max_size=14,
    )
)
def test_changes_in_any_order_keep_every_token(steps: list[Step]) -> None:
    clock = ManualClock()

    async def go() -> tuple[list[Any], list[Any]]:
        runner = Runner(slow_pipeline(clock), None, clock)
        await runner.start()
        fed: list[Any] = []
        lanes: list[int] = []
        for action, n in steps:
            if action == "feed":
                fed.append(len(fed))
                runner.add_token("input", fed[-1])
            elif action == "add" and n not in lanes:  # a lane output -> mv{n} -> lane{n}
                lanes.append(n)
                runner.add_place(f"lane{n}", capacity=2)
                runner.add_transition(f"mv{n}", forward(f"lane{n}"))
                runner.add_arc("output", f"mv{n}")
                runner.add_arc(f"mv{n}", f"lane{n}")
            elif action == "remove_arc" and n in lanes and runner.spec.lookup(f"mv{n}") is not None:
                if any(a.src == "output" and a.dst == f"mv{n}" for a in runner.spec.arcs):
                    await runner.remove_arc("output", f"mv{n}")
            elif action == "remove" and n in lanes:
                lanes.remove(n)
                if runner.spec.lookup(f"mv{n}") is not None:
                    await runner.remove(f"mv{n}")
                await runner.remove(f"lane{n}", tokens_to="output")
            clock.advance(0.5)
            await asyncio.sleep(0)
        clock.advance(5)
        await runner.stop(cancel=True)
        return fed, [t for tokens in runner.marking().values() for t in tokens]

    fed, held = asyncio.run(go())
    assert sorted(held) == fed


@pytest.mark.parametrize(
    ("options", "expected"), [({}, (["a", "b"],)), ({"list_value": ListValue.SEVERAL}, ("a", "b"))]
)
def test_an_added_transition_reads_a_list_value_as_the_nets_transitions_do(
    options: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)  # declared through hypha.core: a list value is one token
        await runner.start(CycleClock())

        async def pair(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {"pairs": list(consumed)}

        runner.add_place("pairs")
        runner.add_transition("pair", pair, **options)
        runner.add_arc("output", "pair", weight=2)
        runner.add_arc("pair", "pairs")
        runner.add_tokens("input", ["a", "b"])
        await runner.run_until_idle()
        await runner.stop()
        return runner.marking()["pairs"]

    assert asyncio.run(go()) == expected


# -- an added transition is declared as the net's builder declares one --------------------------------


@pytest.mark.parametrize("runner_class", [Runner, PNRunner])
def test_an_added_transition_takes_its_arcs_as_the_builder_does(runner_class: type[Runner]) -> None:
    async def go() -> Any:
        runner = runner_class(pipeline(), None)
        await runner.start(CycleClock())
        seen: list[Any] = []
        runner.add_observer(lambda e: isinstance(e, NetChanged) and seen.append(e.change))

        async def pair(consumed: Any, bb: Any, timebase: Any) -> Any:
            return {"pairs": "+".join(consumed)}

        runner.add_place("pairs")
        runner.add_transition("pair", pair, inputs=[("output", 2)], outputs=["Dyn.pairs"], priority=3)
        runner.add_tokens("input", ["a", "b", "c"])
        await runner.run_until_idle()
        await runner.stop()
        return runner, seen

    runner, seen = asyncio.run(go())
    assert runner.marking()["pairs"] == ("a+b",) and runner.marking()["output"] == ("c",)
    assert seen == ["add_place('Dyn.pairs')", "add_transition('Dyn.pair')"]  # one change, arcs and all
    assert [(a.src, a.dst, a.weight) for a in runner.spec.arcs][-2:] == [
        ("output", "pair", 2),
        ("pair", "pairs", 1),
    ]
    assert runner.spec.lookup("pair").priority == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"fsm": object()},
            r"got fsm, which NetBuilder.transition\(\), the builder of net 'Dyn', does not take",
        ),
        ({"name": "other", "colour": "red"}, r"got colour, name, which NetBuilder.transition\(\)"),
        ({"outputs": "output"}, r"outputs='output' is not a list"),
        ({"inputs": ["nowhere"]}, r"nowhere"),
    ],
)
def test_an_added_transition_the_builder_would_refuse_is_refused_and_changes_nothing(
    options: dict[str, Any], message: str
) -> None:
    async def go() -> Any:
        runner = Runner(pipeline(), None)
        await runner.start(CycleClock())
        before = runner.spec
        with pytest.raises(DefinitionError, match=message) as info:
            runner.add_transition("late", forward("output"), **options)
        await runner.stop()
        return runner, before, info.value

    runner, before, error = asyncio.run(go())
    assert runner.spec is before and re.search(r"transition '(Dyn\.)?late'", str(error))


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("Dyn.mvoe", r"did you mean 'move'\? If not, remove places and transitions one by one"),
        ("outptu", r"did you mean 'output'\? If not, remove"),
        ("Dyn.nowhere", r"remove places and transitions one by one \(a subnet's elements by their qualified"),
    ],
)
async def test_removing_a_misspelt_element_is_answered_with_the_nearest(name: str, fix: str) -> None:
    runner = Runner(pipeline(), None)
    await runner.start(CycleClock())
    try:
        with pytest.raises(DefinitionError, match=rf"it names nothing, not a place or a \w+\. Fix: {fix}"):
            await runner.remove(name)
    finally:
        await runner.stop()
