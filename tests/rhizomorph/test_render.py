"""Pictures of trees and runners."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mycorrhizal.render import render, to_dot, to_mermaid
from mycorrhizal.rhizomorph import Runner, Status, TreeBuilder, bt
from mycorrhizal.rhizomorph.render import NOT_TICKED, STATUS_COLOURS


@bt.tree
def Door() -> None:
    @bt.condition
    def is_open(bb: dict[str, bool]) -> bool:
        return bb["open"]

    @bt.action
    def open_door(bb: dict[str, bool]) -> Status:
        return Status.RUNNING

    @bt.action
    def walk_through() -> Status:
        return Status.SUCCESS

    @bt.selector
    def get_open() -> Any:
        yield is_open
        yield bt.timeout(10)(open_door)

    @bt.root
    @bt.sequence(memory=False)
    def enter() -> Any:
        yield get_open
        yield bt.retry(3)(walk_through)
        yield bt.guard(is_open)(walk_through)


def test_tree_diagram_has_identifier_ids_and_edges_in_tick_order() -> None:
    diagram = Door.to_diagram()
    assert diagram.name == Door.name == "Door"
    ids = [n.id for n in diagram.nodes]
    assert ids == [
        "enter",
        "get_open",
        "is_open",
        "timeout_open_door",
        "open_door",
        "retry_walk_through",
        "walk_through",
        "guard_walk_through",
        "is_open_2",
        "walk_through_2",
    ]
    assert all(re.fullmatch(r"[A-Za-z_]\w*", i) for i in ids)
    edges = [(e.src, e.dst, e.label) for e in diagram.edges]
    assert [dst for src, dst, _ in edges if src == "enter"] == [
        "get_open",
        "retry_walk_through",
        "guard_walk_through",
    ]
    assert [dst for src, dst, _ in edges if src == "get_open"] == ["is_open", "timeout_open_door"]
    assert ("guard_walk_through", "is_open_2", "if") in edges
    assert ("guard_walk_through", "walk_through_2", "then") in edges
    labels = {n.id: n.label for n in diagram.nodes}
    assert labels["enter"] == "→ enter\nsequence (reactive)"
    assert labels["get_open"] == "? get_open\nselector"
    assert labels["timeout_open_door"] == "timeout 10s"
    assert labels["retry_walk_through"] == "retry ×3"
    assert all(n.fill is None for n in diagram.nodes)


async def test_runner_diagram_is_coloured_by_the_last_tick() -> None:
    runner = Runner(Door, {"open": False})
    await runner.tick()
    fills = {n.id: n.fill for n in runner.to_diagram().nodes}
    assert fills["enter"] == STATUS_COLOURS[Status.RUNNING]
    assert fills["is_open"] == STATUS_COLOURS[Status.FAILURE]
    assert fills["open_door"] == STATUS_COLOURS[Status.RUNNING]
    assert fills["walk_through"] == NOT_TICKED
    runner.reset()
    fills = {n.id: n.fill for n in runner.to_diagram().nodes}
    assert fills["open_door"] == STATUS_COLOURS[Status.CANCELLED]  # halted after the last tick


def test_dot_and_mermaid_come_from_the_same_picture() -> None:
    dot = to_dot(Door)
    assert "timeout_open_door -> open_door" in dot
    mermaid = to_mermaid(Door)
    assert mermaid.startswith("flowchart TB")
    assert mermaid.count("-->") == len(Door.to_diagram().edges)


async def test_render_writes_an_svg(tmp_path: Path) -> None:
    runner = Runner(Door, {"open": True})
    await runner.tick()
    path = render(runner, tmp_path / "door.svg")
    assert path.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_subtrees_appear_inline_under_their_subtree_node() -> None:
    b = TreeBuilder("Outer")
    b.root(b.sequence("main", b.subtree(Door), b.action(lambda: Status.SUCCESS, name="leave")))
    diagram = b.build().to_diagram()
    assert ("main", "Door", "") in [(e.src, e.dst, e.label) for e in diagram.edges]
    assert ("Door", "enter", "") in [(e.src, e.dst, e.label) for e in diagram.edges]
    assert {n.id: n.label for n in diagram.nodes}["Door"] == "Door\nsubtree Door"
