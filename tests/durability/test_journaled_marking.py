"""Every way a program changes a journaled hypha runner's marking from outside is journaled: a run
recovered from the SQLite file after a crash holds exactly the marking the live run had at its last
flush."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycorrhizal.common import ExecutionError, ManualClock, StoreError
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import NetBuilder, NetSpec, PlaceType, Runner


def net() -> NetSpec:
    """``inbox`` (QUEUE) -> move -> ``out``; two tokens of ``bag`` (a BAG) -> pair -> their sum in
    ``out``; ``kept`` (QUEUE) has no transition."""
    b = NetBuilder("Net")
    inbox, bag, out = b.place("inbox"), b.place("bag", type=PlaceType.BAG), b.place("out")
    b.place("kept")

    @b.transition(inputs=[inbox], outputs=[out])
    def move(consumed: Any, bb: Any, tb: Any) -> Any:
        return {out: consumed[0]}

    @b.transition(inputs=[(bag, 2)], outputs=[out])
    def pair(consumed: Any, bb: Any, tb: Any) -> Any:
        return {out: ("sum", _value(consumed[0]) + _value(consumed[1]))}

    return b.build()


def _value(token: Any) -> int:
    return token if type(token) is int else int(token[1])


def held(runner: Runner) -> dict[str, Any]:
    """The marking, a BAG's tokens as a multiset (it promises no order, and recovery keeps none)."""
    marking = runner.marking()
    found: dict[str, Any] = {name: tuple(tokens) for name, tokens in marking.items()}
    found["Net.bag"] = sorted(map(repr, marking["bag"]))
    return found


async def crash(store: SQLiteStore, path: Path) -> SQLiteStore:
    """The process dies: only what is in the file counts (a new store reads it)."""
    await store.close()
    return SQLiteStore(path, commit_interval=0.0005)


# -- each way, at each moment of a run's life ----------------------------------------------------------

Change = Callable[[Runner], Awaitable[None]]


def places(runner: Runner, name: str) -> Any:
    return runner.runtime.places[("Net", name)]


async def remove_one_of_a_queue(runner: Runner) -> None:
    assert places(runner, "kept").remove_tokens([1]) == [1]


async def remove_from_the_middle_of_a_queue(runner: Runner) -> None:
    assert places(runner, "kept").remove_tokens([("t", 2), 3]) == [("t", 2), 3]


async def remove_one_of_equal_tokens(runner: Runner) -> None:
    assert places(runner, "kept").remove_tokens([("t", 1)]) == [("t", 1)]


async def remove_from_a_bag(runner: Runner) -> None:
    assert places(runner, "bag").remove_tokens([5]) == [5]


async def remove_everything(runner: Runner) -> None:
    kept = places(runner, "kept")
    kept.remove_tokens(kept.tokens)


async def add_through_the_runtime(runner: Runner) -> None:
    places(runner, "kept").add_token(9)


async def add_several_through_the_runtime(runner: Runner) -> None:
    places(runner, "kept").add_tokens([9, ("t", 9)])


async def add_through_the_runner(runner: Runner) -> None:
    runner.add_token("kept", 9)


async def add_several_through_the_runner(runner: Runner) -> None:
    runner.add_tokens("Net.kept", [9, ("t", 9)])


KEPT = (1, ("t", 1), ("t", 2), ("t", 1), 3)
"""What ``kept`` holds before the change (the two ``("t", 1)`` are equal, not the same object)."""

CHANGES = [
    (remove_one_of_a_queue, (("t", 1), ("t", 2), ("t", 1), 3)),
    (remove_from_the_middle_of_a_queue, (1, ("t", 1), ("t", 1))),
    (remove_one_of_equal_tokens, (1, ("t", 2), ("t", 1), 3)),
    (remove_from_a_bag, KEPT),
    (remove_everything, ()),
    (add_through_the_runtime, (*KEPT, 9)),
    (add_several_through_the_runtime, (*KEPT, 9, ("t", 9))),
    (add_through_the_runner, (*KEPT, 9)),
    (add_several_through_the_runner, (*KEPT, 9, ("t", 9))),
]


async def before_the_journal_opens(runner: Runner, change: Change) -> None:
    await change(runner)
    await runner.flush()  # opens the journal: its first snapshot holds the change


async def after_a_flush(runner: Runner, change: Change) -> None:
    await runner.flush()
    await change(runner)


async def while_running(runner: Runner, change: Change) -> None:
    await runner.start()
    await change(runner)


async def after_a_stop(runner: Runner, change: Change) -> None:
    await runner.run_until_idle()
    await runner.stop()
    await change(runner)


async def after_a_periodic_snapshot(runner: Runner, change: Change) -> None:
    # The journal opens with a snapshot of 6 tokens, so the next is due after 6 records: 4 before
    # the change (an add, three firings), the change's own and an add after it.  That snapshot
    # holds the change; the firing of the token added last is journaled after it.
    await runner.run_until_idle()
    runner.add_tokens("inbox", [7, 8, 9])
    await runner.run_until_idle()
    await change(runner)
    runner.add_token("inbox", 10)
    await runner.run_until_idle()


MOMENTS = [before_the_journal_opens, after_a_flush, while_running, after_a_stop, after_a_periodic_snapshot]


@pytest.mark.parametrize(("change", "kept"), CHANGES, ids=[c.__name__ for c, _ in CHANGES])
@pytest.mark.parametrize("moment", MOMENTS)
async def test_a_recovered_run_holds_the_marking_the_live_run_flushed(
    change: Change, kept: tuple[Any, ...], moment: Any, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=0.0005)
    runner = Runner(net(), store=store, timebase=ManualClock(), snapshot_every=3)
    runner.add_tokens("kept", [KEPT[0], ("t", 1), KEPT[2], ("t", 1), KEPT[4]])
    runner.add_tokens("bag", [5])  # one token: pair never fires
    await moment(runner, change)
    await runner.flush()
    live = held(runner)
    assert live["Net.kept"] == kept
    assert live["Net.bag"] == ([] if change is remove_from_a_bag else ["5"])
    store = await crash(store, path)
    recovered = await Runner.recover(net(), store, timebase=ManualClock())
    assert held(recovered) == live
    # The ids the journal knows the remaining tokens by are theirs: a firing taking them replays.
    recovered.add_tokens("bag", [4, 6])
    await recovered.run_until_idle()
    await recovered.stop()
    store = await crash(store, path)
    again = await Runner.recover(net(), store, timebase=ManualClock())
    assert held(again) == held(recovered)
    await store.close()


async def test_a_removal_is_one_record_naming_the_durable_ids_it_took(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "run.db", commit_interval=0.0005)
    runner = Runner(net(), store=store, timebase=ManualClock())
    runner.add_tokens("kept", [1, 2, 1])  # ids 1, 2, 3 (the snapshot opening the journal)
    await runner.flush()
    runner.add_token("kept", 2)  # id 4: an "add" record
    places(runner, "kept").remove_tokens([2, 1, 2])
    places(runner, "kept").remove_tokens([])  # nothing removed: no record
    await runner.flush()
    recovery = await store.load("Net")
    assert recovery is not None
    assert [(r.kind, r.payload) for r in recovery.records][-1:] == [
        ("remove", {"place": "Net.kept", "in": [1, 2, 4]}),
    ]
    assert runner.tokens("kept") == (1,)
    await store.close()


async def test_a_journaled_run_cannot_lose_a_place_with_its_tokens(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=0.0005)
    runner = Runner(net(), store=store, timebase=ManualClock())
    runner.add_tokens("kept", [1, 2])
    await runner.start()
    refused = r"runner.remove\(\): the run of net 'Net' is journaled.*start a new run instead"
    with pytest.raises(ExecutionError, match=refused):
        await runner.remove("kept", tokens_to="out")
    await runner.flush()
    live = held(runner)
    assert live["Net.kept"] == (1, 2)
    store = await crash(store, path)
    assert held(await Runner.recover(net(), store, timebase=ManualClock())) == live
    await store.close()


async def test_a_removal_by_a_fenced_runner_fails_its_flush(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=0.0005)
    runner = Runner(net(), store=store, timebase=ManualClock())
    runner.add_tokens("kept", [1, 2])
    await runner.flush()
    newer = SQLiteStore(path, commit_interval=0.0005)
    recovered = await Runner.recover(net(), newer, timebase=ManualClock())  # another process took over
    places(runner, "kept").remove_tokens([1])  # a record the newer writer's journal fences out
    with pytest.raises(StoreError, match="taken over by a newer writer"):
        await runner.flush()
    await recovered.flush()
    assert held(recovered)["Net.kept"] == (1, 2)
    await newer.close()
    await store.close()


# -- any sequence of changes and firings ---------------------------------------------------------------

Op = tuple[Any, ...]
TOKENS = st.one_of(st.integers(0, 3), st.tuples(st.just("t"), st.integers(0, 2)))
"""Small ints are the same object each time; tuples are equal, distinct objects."""
PLACES = ("inbox", "bag", "kept")
REMOVE = st.tuples(
    st.just("remove"), st.sampled_from(PLACES), st.lists(st.integers(0, 5), min_size=1, max_size=3)
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(PLACES), TOKENS),
        st.tuples(st.just("add_rt"), st.sampled_from(PLACES), st.lists(TOKENS, max_size=3)),
        REMOVE,
        REMOVE,  # (twice as likely as each other step)
        st.tuples(st.sampled_from(["run", "stop", "flush"])),
    ),
    max_size=20,
)
files = itertools.count()


async def apply(runner: Runner, op: Op) -> None:
    kind = op[0]
    if kind == "add":
        runner.add_token(op[1], op[2])
    elif kind == "add_rt":
        places(runner, op[1]).add_tokens(op[2])
    elif kind == "remove":
        tokens = places(runner, op[1]).tokens
        picked = sorted({i % len(tokens) for i in op[2]}) if tokens else []
        places(runner, op[1]).remove_tokens([tokens[i] for i in picked])
    elif kind == "run":
        await runner.run_until_idle()
    elif kind == "stop":
        await runner.stop()
    else:
        await runner.flush()


async def live_and_recovered(
    path: Path, ops_list: list[Op], snapshot_every: int, open_first: bool
) -> tuple[Any, Any]:
    store = SQLiteStore(path, commit_interval=0.0005)
    runner = Runner(net(), store=store, timebase=ManualClock(), snapshot_every=snapshot_every)
    runner.add_tokens("kept", [0, ("t", 1), 0, ("t", 1)])
    if open_first:
        await runner.flush()  # what follows is journaled record by record
    for op in ops_list:
        await apply(runner, op)
    if runner.running:
        await runner.run_until_idle()  # nothing fires during the flush, after the marking is read
    await runner.flush()
    live = held(runner)
    store = await crash(store, path)
    recovered = held(await Runner.recover(net(), store, timebase=ManualClock()))
    await store.close()
    return live, recovered


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=ops, snapshot_every=st.sampled_from([2, 1000]), open_first=st.booleans())
def test_any_sequence_of_changes_and_firings_recovers_the_live_marking(
    ops: list[Op], snapshot_every: int, open_first: bool, tmp_path: Path
) -> None:
    path = tmp_path / f"run-{next(files)}.db"  # a new run file per example
    live, recovered = asyncio.run(live_and_recovered(path, ops, snapshot_every, open_first))
    assert recovered == live
