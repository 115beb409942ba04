from pathlib import Path

import pytest

from mycorrhizal.common import Cluster, Diagram, Edge, Node, RenderError, dot_available
from mycorrhizal.render import render, to_dot, to_mermaid


@pytest.fixture
def diagram() -> Diagram:
    inner = Diagram(
        "Breaker",
        nodes=(Node("closed", "CLOSED"), Node("open", "OPEN", "doublecircle")),
        edges=(Edge("closed", "open", "FAIL"),),
    )
    cluster, inner_edges = inner.as_cluster("fsm_")
    return Diagram(
        "Net",
        nodes=(Node("inbox", "inbox", "circle"), Node("route", "route", fill="#ddeeff")),
        edges=(Edge("inbox", "route", "2"), Edge("route", "fsm_closed", style="dashed"), *inner_edges),
        clusters=(cluster, Cluster("grp", "group", nodes=(Node("x", 'say "hi"'),))),
    )


def test_dot_contains_nodes_edges_and_clusters(diagram: Diagram) -> None:
    dot = to_dot(diagram)
    assert "subgraph cluster_fsm_root" in dot
    assert "fsm_closed -> fsm_open [label=FAIL]" in dot
    assert "inbox -> route [label=2]" in dot
    assert 'fillcolor="#ddeeff"' in dot


def test_mermaid_numbers_nodes_and_keeps_labels(diagram: Diagram) -> None:
    text = to_mermaid(diagram)
    assert text.startswith("flowchart LR\n")
    assert 'n0(("inbox"))' in text
    assert 'subgraph c0["Breaker"]' in text
    assert "#quot;hi#quot;" in text
    assert '-->|"FAIL"|' in text


def test_edge_to_unknown_node_is_an_error() -> None:
    bad = Diagram("Bad", nodes=(Node("a"),), edges=(Edge("a", "ghost"),))
    with pytest.raises(RenderError, match=r"unknown nodes: \['ghost'\]"):
        to_dot(bad)


def test_non_diagrammable_is_refused_with_what_to_pass() -> None:
    with pytest.raises(TypeError, match="cannot draw 42 .*pass a septum state"):
        to_dot(42)


@pytest.mark.parametrize("fmt", ["dot", "mmd", "svg"])
def test_render_writes_each_format(diagram: Diagram, tmp_path: Path, fmt: str) -> None:
    if fmt == "svg" and not dot_available():
        pytest.fail("Graphviz 'dot' must be installed for the test suite (.ci/run installs it)")
    out = render(diagram, tmp_path / f"net.{fmt}", format=fmt)
    text = out.read_text()
    assert {"dot": "digraph Net", "mmd": "flowchart LR", "svg": "<svg"}[fmt] in text


def test_unknown_format_is_a_render_error(diagram: Diagram, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="use svg, png, pdf, dot or mmd"):
        render(diagram, tmp_path / "x.bogus", format="bogus")


def test_ids_graphviz_would_misread_are_made_safe_and_stay_distinct() -> None:
    picture = Diagram(
        "Ports",
        nodes=(Node("t::a", "A"), Node("t__a", "B"), Node("plain")),
        edges=(Edge("t::a", "t__a"), Edge("t__a", "plain")),
    )
    dot = to_dot(picture)
    assert "::" not in dot
    assert "t__a -> t__a_2" in dot and "t__a_2 -> plain" in dot
