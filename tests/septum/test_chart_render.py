"""Pictures and structural analysis of statecharts: nested frames, dashed regions, H/H*, and what
``mycorrhizal check`` says about composite states."""

# ruff: noqa: E501 - statecharts read best one state a line

from __future__ import annotations

from typing import Any

from mycorrhizal.common.diagram import Cluster, Diagram, to_graphviz
from mycorrhizal.septum import DeepHistory, History, LabeledTransition, StateMachine
from mycorrhizal.septum.compound import Completed
from tests.septum._charts import box, final, leaf, on, regions
from tests.septum._helpers import E


def chart(history: type[History] = History) -> dict[str, Any]:
    """Root > (Work > (A -GO-> B), Both || (R1 > (X -GO-> XDone), R2 > (Y -GO-> YDone)), Paused);
    Work -PAUSE-> Paused -BACK-> history(Work); Both -Completed-> Work; Root -STOP-> End."""
    held: dict[str, Any] = {}
    b = leaf(
        "B", on_state=on({"both": E.SKIP}), transitions=lambda: [LabeledTransition(E.SKIP, held["Both"])]
    )
    a = leaf("A", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, b)])
    work = box(
        "Work",
        a,
        b,
        on_state=on({"pause": E.BACK}),
        transitions=lambda: [LabeledTransition(E.BACK, held["Paused"])],
    )
    x_done, y_done = final("XDone"), final("YDone")
    x = leaf("X", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, x_done)])
    y = leaf("Y", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, y_done)])
    held["Both"] = regions(
        "Both",
        box("R1", x, x_done),
        box("R2", y, y_done),
        transitions=lambda: [LabeledTransition(Completed, work)],
    )
    held["Paused"] = leaf(
        "Paused", on_state=on({"play": E.GO}), transitions=lambda: [LabeledTransition(E.GO, history(work))]
    )
    end = final("End")
    root = box(
        "Root",
        work,
        held["Both"],
        held["Paused"],
        on_state=on({"stop": E.DONE}),
        transitions=lambda: [LabeledTransition(E.DONE, end)],
    )
    return {"Root": root, "Work": work, "Both": held["Both"], "End": end}


def frames(diagram: Diagram) -> dict[str, Cluster]:
    found: dict[str, Cluster] = {}

    def walk(cluster: Cluster) -> None:
        found[cluster.label] = cluster
        for inner in cluster.clusters:
            walk(inner)

    for cluster in diagram.clusters:
        walk(cluster)
    return found


def edges(diagram: Diagram) -> set[tuple[str, str, str, str]]:
    return {(e.src, e.dst, e.label, e.style) for e in diagram.edges}


def test_composite_states_are_nested_frames_and_regions_are_dashed() -> None:
    d = chart()["Root"].to_diagram()
    shown = frames(d)
    assert set(shown) == {"Root", "Work", "Both (parallel)", "R1", "R2"}
    assert [c.label for c in shown["Root"].clusters] == ["Work", "Both (parallel)"]
    assert [c.label for c in shown["Both (parallel)"].clusters] == ["R1", "R2"]
    assert {c.style for c in shown["Both (parallel)"].clusters} == {"dashed"}
    assert {shown["Root"].style, shown["Work"].style} == {"solid"}
    assert {n.id for n in shown["Work"].nodes} == {"Work", "A", "B", "Work_H"}
    assert {n.id for n in d.nodes} == {"_start", "End"}  # everything else sits in a frame
    assert {
        ("_start", "Root", "", "solid"),
        ("Root", "Work", "initial", "dotted"),
        ("Work", "A", "initial", "dotted"),
        ("Both", "R1", "region", "dotted"),
        ("Both", "R2", "region", "dotted"),
        ("Both", "Work", "Completed", "solid"),
        ("Work", "Paused", "BACK", "solid"),
        ("Root", "End", "DONE", "solid"),
    } <= edges(d)
    source = to_graphviz(d).source
    assert "subgraph cluster_R1_frame" in source and 'style="rounded,dashed"' in source


def test_history_is_drawn_as_h_or_h_star_with_its_default() -> None:
    for kind, mark, ident in ((History, "H", "Work_H"), (DeepHistory, "H*", "Work_Hdeep")):
        d = chart(kind)["Root"].to_diagram()
        node = next(n for n in d.all_nodes() if n.id == ident)
        assert (node.label, node.shape) == (mark, "circle")
        assert ("Paused", ident, "GO", "solid") in edges(d)
        assert (ident, "A", "default", "dotted") in edges(d)


async def test_a_running_machine_fills_every_active_state() -> None:
    fsm = StateMachine(chart()["Root"])
    await fsm.initialize()
    for msg in ("go", "both"):
        fsm.send_message(msg)
        await fsm.run()
    filled = {n.id for n in fsm.to_diagram().all_nodes() if n.fill is not None}
    assert filled == {"Root", "Both", "R1", "X", "R2", "Y"}


def test_check_reports_levels_and_where_the_machine_completes() -> None:
    findings = chart()["Root"].analysis_report()
    assert findings == [
        (True, "13 states reachable from Root"),
        (
            True,
            "composite states: Root (compound), Work (compound), Both (parallel), R1 (compound), R2 (compound)",
        ),
        (True, "the machine completes in: End"),
        (True, "every state reachable from the start can still lead to completion"),
    ]


def test_check_names_states_that_can_never_complete_and_compounds_that_wait_in_a_final_state() -> None:
    stuck = leaf("Stuck", on_state=on({}), transitions=lambda: [])
    inner_done = final("InnerDone")
    inner = box(
        "Inner",
        leaf("Go", on_state=on({"go": E.GO}), transitions=lambda: [LabeledTransition(E.GO, inner_done)]),
        inner_done,
    )
    end = final("End")
    start = leaf("Start", on_state=on({"s": E.SKIP}), transitions=lambda: [LabeledTransition(E.SKIP, stuck)])
    root = box(
        "Root",
        start,
        stuck,
        inner,
        on_state=on({"in": E.BACK, "stop": E.DONE}),
        transitions=lambda: [LabeledTransition(E.BACK, inner), LabeledTransition(E.DONE, end)],
    )
    findings = dict((text, fine) for fine, text in root.analysis_report())
    # Stuck is inside Root, whose STOP leaves it: only a Stuck with no way out at all would be stuck.
    assert findings["every state reachable from the start can still lead to completion"] is True
    assert (
        findings["complete but declare no Completed transition (then wait in a final state): Inner"] is False
    )
    island = leaf("Island", on_state=on({}), transitions=lambda: [])
    first = leaf(
        "First",
        on_state=on({"x": E.GO, "y": E.DONE}),
        transitions=lambda: [LabeledTransition(E.GO, island), LabeledTransition(E.DONE, end)],
    )
    texts = {text: fine for fine, text in box("Outside", first, island).analysis_report()}
    assert texts["the machine can never complete from Island"] is False
