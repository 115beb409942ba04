"""Pictures of nets and runners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mycorrhizal.common import Diagram, Edge, Node
from mycorrhizal.hypha import NetBuilder, Runner, pn
from mycorrhizal.render import render, to_dot, to_mermaid

EMBEDDED = Diagram(
    "Breaker",
    nodes=(Node("closed", "Closed", "rounded"), Node("open", "Open", "rounded")),
    edges=(Edge("closed", "open", "trip"),),
)


@pn.net
def Stage(builder: NetBuilder) -> None:
    inbox = builder.place("inbox", capacity=3)
    outbox = builder.place("outbox")

    @builder.transition(inputs=[inbox], outputs=[outbox], priority=2, guard=lambda c: True)
    def step(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {outbox: consumed[0]}


@pn.net
def Picture(builder: NetBuilder) -> None:
    jobs = builder.place("jobs", initial=[1, 2])
    dead = builder.place("dead")
    stage = builder.subnet(Stage, "stage1")
    builder.transition(name="feed", outputs=[(stage.inbox, 2)], on_error=dead, attachment=EMBEDDED)(
        lambda c, bb, tb: {stage.inbox: [c[0], c[1]]}
    )
    builder.arc(jobs, "feed", weight=2)


def test_net_diagram_shapes_weights_clusters_and_attachments() -> None:
    diagram = Picture.to_diagram()
    nodes = {n.id: n for n in diagram.all_nodes()}
    assert nodes["Picture.jobs"].shape == "circle" and nodes["Picture.jobs"].label == "jobs\n2"
    assert nodes["Picture.feed"].shape == "box"
    assert nodes["Picture.stage1.inbox"].label == "inbox\n0/3"
    assert nodes["Picture.stage1.step"].label == "step\n[guard] prio 2"
    (attached, stage) = sorted(diagram.clusters, key=lambda c: c.id)
    assert stage.label == "stage1: Stage" and {n.id for n in stage.nodes} == {
        "Picture.stage1.inbox",
        "Picture.stage1.outbox",
        "Picture.stage1.step",
    }
    assert attached.style == "dashed" and {n.id for n in attached.nodes} == {
        "Picture.feed.closed",
        "Picture.feed.open",
    }
    edges = {(e.src, e.dst): e for e in diagram.edges}
    assert edges["Picture.jobs", "Picture.feed"].label == "2"
    assert edges["Picture.feed", "Picture.stage1.inbox"].label == "2"
    assert edges["Picture.feed", "Picture.dead"].style == "dashed"
    assert edges["Picture.feed", "Picture.feed.closed"].style == "dotted"
    assert edges["Picture.feed.closed", "Picture.feed.open"].label == "trip"
    diagram.check()


async def test_runner_diagram_shows_current_counts() -> None:
    runner = Runner(Picture, {})
    await runner.run_until_idle()
    nodes = {n.id: n for n in runner.to_diagram().all_nodes()}
    assert nodes["Picture.jobs"].label == "jobs\n0" and nodes["Picture.jobs"].fill is None
    assert nodes["Picture.stage1.outbox"].label == "outbox\n2" and nodes["Picture.stage1.outbox"].fill


def test_dot_and_mermaid_text() -> None:
    dot = to_dot(Picture)
    assert "cluster_Picture.stage1" in dot and '"Picture.jobs" -> "Picture.feed" [label=2]' in dot
    mermaid = to_mermaid(Picture)
    assert mermaid.startswith("flowchart LR") and '(("jobs' in mermaid


def test_render_svg(tmp_path: Path) -> None:
    path = render(Picture, tmp_path / "picture.svg")
    assert path.read_text().lstrip().startswith(("<?xml", "<svg"))


async def test_runner_diagram_shows_firings_in_flight() -> None:
    from mycorrhizal.common import ManualClock

    clock = ManualClock()

    @pn.net
    def Busy(builder: NetBuilder) -> None:
        src = builder.place("src", initial=[1, 2])

        @builder.transition(inputs=[src])
        async def slow(consumed: Any, bb: Any, timebase: Any) -> None:
            await timebase.sleep(1)

    runner = Runner(Busy, {}, clock)
    await runner.start()
    await clock.run_for(0)
    nodes = {n.id: n for n in runner.to_diagram().all_nodes()}
    assert nodes["Busy.slow"].label == "slow\n2 in flight" and nodes["Busy.slow"].fill
    await clock.run_for(1)
    await runner.stop()
    nodes = {n.id: n for n in runner.to_diagram().all_nodes()}
    assert nodes["Busy.slow"].label == "slow" and nodes["Busy.slow"].fill is None
