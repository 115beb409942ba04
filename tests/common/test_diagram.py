import html
import re
from pathlib import Path

import pytest

from mycorrhizal.common import Cluster, Diagram, Edge, Node, RenderError, dot_available, dot_program
from mycorrhizal.common import diagram as diagram_module
from mycorrhizal.hypha import Runner
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
    with pytest.raises(RenderError, match=r"unknown nodes: \['ghost'\]\. Fix: "):
        to_dot(bad)


def test_non_diagrammable_is_refused_with_what_to_pass() -> None:
    with pytest.raises(TypeError, match="cannot draw 42 .*pass a septum state"):
        to_dot(42)


def test_a_class_with_to_diagram_is_refused_with_what_to_pass() -> None:
    # Before: "Runner.to_diagram() missing 1 required positional argument: 'self'".
    with pytest.raises(TypeError, match="cannot draw the class Runner: pass an instance of it"):
        to_dot(Runner)


@pytest.mark.parametrize("fmt", ["dot", "mmd", "svg"])
def test_render_writes_each_format(diagram: Diagram, tmp_path: Path, fmt: str) -> None:
    if fmt == "svg" and not dot_available():
        pytest.fail("no layout program: graphviz-pure is a dependency and must be installed with the package")
    out = render(diagram, tmp_path / f"net.{fmt}", format=fmt)
    text = out.read_text()
    assert {"dot": "digraph Net", "mmd": "flowchart LR", "svg": "<svg"}[fmt] in text


@pytest.mark.parametrize(
    ("name", "start"),
    [("net.dot", "digraph Net"), ("net.mmd", "flowchart LR"), ("net.Mermaid", "flowchart"), ("net", "<svg")],
)
def test_without_a_format_the_file_name_picks_it(
    diagram: Diagram, tmp_path: Path, name: str, start: str
) -> None:
    # Before: every call without format= wrote SVG, whatever the suffix (SVG text in net.dot).
    assert start in render(diagram, tmp_path / name).read_text()


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        (
            "net.png",
            "svg",
            r"format='svg' does not match the file name '\S*net.png'\. Fix: drop format= to write png, "
            r"or name the file '\S*net.svg'",
        ),
        (
            "net.svg",
            "dot",
            r"format='dot' does not match the file name '\S*net.svg'\. Fix: drop format= to write svg, "
            r"or name the file '\S*net.dot'",
        ),
        (
            "net.jpg",
            None,
            r"cannot tell which format to write to '.*net.jpg'\. Fix: name it '.*net.svg' \(or .png",
        ),
    ],
)
def test_a_file_name_the_format_contradicts_is_refused_and_nothing_written(
    diagram: Diagram, tmp_path: Path, name: str, fmt: str | None, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render(diagram, tmp_path / name, format=fmt)
    assert list(tmp_path.iterdir()) == []  # before: SVG bytes in net.png, DOT text in net.svg


def test_unknown_format_is_a_render_error(diagram: Diagram, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"as 'bogus'\. Fix: use svg, png, pdf, dot or mmd$"):
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


@pytest.fixture
def without_system_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH on which Graphviz's dot is not found; returns that PATH's only folder."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


@pytest.mark.parametrize("fmt, magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
@pytest.mark.usefixtures("without_system_dot")
def test_without_graphviz_the_bundled_fallback_draws(
    diagram: Diagram, tmp_path: Path, fmt: str, magic: bytes
) -> None:
    program = dot_program()
    assert program is not None and Path(program).name.startswith(diagram_module.FALLBACK_PROGRAM)
    data = render(diagram, tmp_path / f"net.{fmt}", format=fmt).read_bytes()
    assert magic in data[:400]
    if fmt == "svg":
        assert b"CLOSED" in data and b"say &quot;hi&quot;" in data


@pytest.mark.usefixtures("without_system_dot")
def test_the_fallback_has_no_pdf_and_says_what_to_do(diagram: Diagram, tmp_path: Path) -> None:
    with pytest.raises(
        RenderError,
        match=r"writes only svg and png\. Fix: install Graphviz \(e\.g\. 'apt-get install graphviz'\), "
        r"or write svg or png$",
    ):
        render(diagram, tmp_path / "net.pdf", format="pdf")
    assert not (tmp_path / "net.pdf").exists()


def test_a_failing_fallback_is_a_render_error(
    diagram: Diagram, tmp_path: Path, without_system_dot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = without_system_dot / "broken-layout"
    fake.write_text("#!/bin/sh\necho 'Error: something broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(diagram_module, "FALLBACK_PROGRAM", "broken-layout")
    with pytest.raises(RenderError, match="as svg: .*broken-layout failed: Error: something broke"):
        render(diagram, tmp_path / "net.svg")


@pytest.mark.usefixtures("without_system_dot")
def test_with_no_layout_program_at_all_images_are_refused_and_text_still_works(
    diagram: Diagram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagram_module, "FALLBACK_PROGRAM", "graphviz-pure-not-installed")
    assert not dot_available() and dot_program() is None
    with pytest.raises(
        RenderError,
        match=r"neither Graphviz's 'dot' nor 'graphviz-pure-not-installed' is installed\. Fix: install "
        r"Graphviz \(e\.g\. 'apt-get install graphviz'\)",
    ):
        render(diagram, tmp_path / "net.png", format="png")
    assert render(diagram, tmp_path / "net.mmd", format="mmd").read_text().startswith("flowchart")


def test_graphviz_dot_is_preferred_when_installed(without_system_dot: Path) -> None:
    fake_dot = without_system_dot / "dot"
    fake_dot.write_text("#!/bin/sh\n")
    fake_dot.chmod(0o755)
    assert dot_program() == str(fake_dot)


#: Names Graphviz would misread if written into DOT as they are: '<...>' is an HTML-like label
#: (its brackets dropped, '&' or an unclosed tag a syntax error), '\\N'/'\\l' are Graphviz escapes,
#: and a name ending with a backslash escapes the closing quote of its string.
AWKWARD_NAMES = ["<lambda>", "<a & b>", "C:\\new\\lot", "ends with \\", 'say "hi"', "\\N \\l", "ünï ✓"]


@pytest.fixture
def awkward() -> Diagram:
    """Every awkward name in every place a picture shows text: labels, tooltips, edges, frames."""
    nodes = tuple(Node(f"n{i}", name, tooltip=name) for i, name in enumerate(AWKWARD_NAMES))
    edges = tuple(Edge(f"n{i}", f"n{i + 1}", name) for i, name in enumerate(AWKWARD_NAMES[:-1]))
    frame = Cluster("c", "<frame>", nodes[:1])
    return Diagram("ends with \\", nodes=nodes[1:], edges=edges, clusters=(frame,))


@pytest.mark.parametrize("layout", ["dot", "fallback"])
def test_awkward_names_are_drawn_as_written(
    awkward: Diagram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    # Before: '<lambda>' was drawn as 'lambda', and the backslashes made a DOT file dot rejects.
    if layout == "fallback":
        monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz: graphviz-pure lays it out
    svg = render(awkward, tmp_path / "awkward.svg").read_text()
    texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    assert set(AWKWARD_NAMES) | {"<frame>"} <= texts
    tooltips = {html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', svg)}
    # Graphviz itself reads '\\N' in a tooltip as the node's name, however it is escaped.
    assert set(AWKWARD_NAMES) - {"\\N \\l"} <= tooltips


def test_awkward_names_in_mermaid_are_entity_codes(awkward: Diagram) -> None:
    text = to_mermaid(awkward)
    assert 'n0["#lt;a #amp; b#gt;"]' in text and 'n6["#lt;lambda#gt;"]' in text
    assert 'n3["say #quot;hi#quot;"]' in text and 'subgraph c0["#lt;frame#gt;"]' in text
    assert "<" not in text and "&" not in text


def test_a_failing_graphviz_is_a_render_error(
    diagram: Diagram, tmp_path: Path, without_system_dot: Path
) -> None:
    fake = without_system_dot / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: <stdin>: syntax error in line 7' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(
        RenderError,
        match=r"^cannot render 'Net' as png: Graphviz's dot failed: Error: <stdin>: syntax error in line 7\. "
        r"Fix: ",
    ):
        render(diagram, tmp_path / "net.png")
    assert not (tmp_path / "net.png").exists()
