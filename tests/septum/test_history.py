"""History: shallow (H) and deep (H*) re-entry of a compound state where it was left."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

from typing import Any

import pytest

from mycorrhizal.septum import LabeledTransition, StateMachine
from mycorrhizal.septum.history import DeepHistory, History
from tests.septum._charts import box, drain, leaf, names, on
from tests.septum._helpers import E


def player(kind: type[History], default: str | None = None) -> Any:
    """Player > (Playing > (Normal, Fast), Muted); Paused outside.  "pause" leaves Player; "play"
    returns through ``kind(Player)``."""
    holder: dict[str, Any] = {}
    normal = leaf(
        "Normal", on_state=on({"fast": E.GO}), transitions=lambda: [LabeledTransition(E.GO, holder["Fast"])]
    )
    holder["Fast"] = leaf("Fast", on_state=on({}))
    playing = box("Playing", normal, holder["Fast"])
    muted = leaf("Muted", on_state=on({}))
    player = box(
        "Player",
        playing,
        muted,
        on_state=on({"pause": E.BACK, "mute": E.SKIP}),
        transitions=lambda: [LabeledTransition(E.BACK, holder["Paused"]), LabeledTransition(E.SKIP, muted)],
    )
    chosen = {"Muted": muted, None: None}[default]
    holder["Paused"] = leaf(
        "Paused",
        on_state=on({"play": E.GO}),
        transitions=lambda: [LabeledTransition(E.GO, kind(player, default=chosen))],
    )
    return player, holder["Paused"]


async def send_all(fsm: StateMachine, *messages: str) -> None:
    for msg in messages:
        fsm.send_message(msg)
        await fsm.run()


@pytest.mark.parametrize(
    ("kind", "where"),
    [
        (History, ["Player", "Playing", "Normal"]),  # shallow: Playing again, from its initial child
        (DeepHistory, ["Player", "Playing", "Fast"]),  # deep: exactly where it was
    ],
)
async def test_history_after_re_entry(kind: type[History], where: list[str]) -> None:
    top, paused = player(kind)
    fsm = StateMachine(top)
    await send_all(fsm, "fast", "pause")
    assert fsm.configuration == (paused,)
    drain(fsm)
    await send_all(fsm, "play")
    assert names(fsm.configuration) == where
    assert drain(fsm) == ["leave Paused", *(f"enter {name}" for name in where)]


@pytest.mark.parametrize("kind", [History, DeepHistory])
async def test_history_remembers_the_last_time_it_was_left(kind: type[History]) -> None:
    top, _ = player(kind)
    fsm = StateMachine(top)
    await send_all(fsm, "fast", "mute", "pause", "play")
    assert names(fsm.configuration) == ["Player", "Muted"]


async def test_before_the_first_exit_history_enters_its_default_or_the_initial_child() -> None:
    paused_first, _ = player(History)
    starts_paused = StateMachine(_paused_of(paused_first))
    await send_all(starts_paused, "play")
    assert names(starts_paused.configuration) == ["Player", "Playing", "Normal"]
    with_default, _ = player(DeepHistory, default="Muted")
    fsm = StateMachine(_paused_of(with_default))
    await send_all(fsm, "play")
    assert names(fsm.configuration) == ["Player", "Muted"]


def _paused_of(top: Any) -> Any:
    """The Paused state of a player (reached from its transitions), to start a machine there."""
    return next(s for s in top.machine_spec().nodes if s.name == "Paused")


def test_history_targets_read_as_they_are_written() -> None:
    top, _ = player(History)
    assert repr(History(top)) == "History(Player)" and History(top) == History(top)
    assert DeepHistory(top) != History(top) and hash(DeepHistory(top)) == hash(DeepHistory(top))


def broken_player(kind: type[History]) -> tuple[Any, Any]:
    """A player whose Fast and Muted raise on "boom", and an error state Broken that "resume"s
    through ``kind(Player)``."""

    def fragile(ctx: Any) -> None:
        if ctx.msg == "boom":
            raise ValueError("boom")

    holder: dict[str, Any] = {}
    normal = leaf(
        "Normal", on_state=on({"fast": E.GO}), transitions=lambda: [LabeledTransition(E.GO, holder["Fast"])]
    )
    holder["Fast"] = leaf("Fast", on_state=fragile)
    muted = leaf("Muted", on_state=fragile)
    top = box(
        "Player",
        box("Playing", normal, holder["Fast"]),
        muted,
        on_state=on({"mute": E.SKIP}),
        transitions=lambda: [LabeledTransition(E.SKIP, muted)],
    )
    broken = leaf(
        "Broken", on_state=on({"resume": E.GO}), transitions=lambda: [LabeledTransition(E.GO, kind(top))]
    )
    return top, broken


@pytest.mark.parametrize(
    ("kind", "messages", "where"),
    [
        (History, ["mute"], ["Player", "Muted"]),  # was: the initial child (never left before)
        (DeepHistory, ["fast"], ["Player", "Playing", "Fast"]),  # was: Normal
        (DeepHistory, ["fast", "mute"], ["Player", "Muted"]),  # was: Fast, left by "mute" before
    ],
)
async def test_a_failure_routed_to_the_error_state_saves_the_history_of_the_states_it_abandons(
    kind: type[History], messages: list[str], where: list[str]
) -> None:
    top, broken = broken_player(kind)
    fsm = StateMachine(top, error_state=broken)
    await send_all(fsm, *messages, "boom")
    assert fsm.configuration == (broken,)
    drain(fsm)
    await send_all(fsm, "resume")
    assert names(fsm.configuration) == where
    assert drain(fsm) == ["leave Broken", *(f"enter {name}" for name in where)]
