"""The ``mycorrhizal`` command line."""

import argparse
import asyncio
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mycorrhizal import __version__
from mycorrhizal.cli import COMMANDS, build_parser, command, main
from mycorrhizal.cli.drawing import NO_PICTURES
from mycorrhizal.cli.targets import load_target
from mycorrhizal.common import CommandError
from mycorrhizal.common import diagram as diagram_module
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import NetBuilder, Runner

REPO_ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
from mycorrhizal.common import Diagram, Edge, Node

Flow = Diagram(
    "Flow", nodes=(Node("a", "start"), Node("b", "end", "doublecircle")), edges=(Edge("a", "b", "go"),)
)
DIAGRAMS = {"flow": Flow}
"""


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(SCRIPT)
    return path


def test_render_dot_to_stdout(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", f"{target}:Flow", "-f", "dot"]) == 0
    assert "a -> b [label=go]" in capsys.readouterr().out


@pytest.mark.parametrize("fmt, marker", [("svg", "<svg"), ("mmd", "flowchart LR"), ("dot", "digraph Flow")])
def test_render_to_file_in_each_format(target: Path, tmp_path: Path, fmt: str, marker: str) -> None:
    out = tmp_path / f"flow.{fmt}"
    assert main(["render", f"{target}:Flow", "-o", str(out)]) == 0
    assert marker in out.read_text()


def test_check_reports_a_valid_target(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{target}:Flow"]) == 0
    assert "Flow: valid (2 elements, 1 connections)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "spec, message, status",
    [
        ("nocolon", "is not MODULE:ATTRIBUTE", 2),
        ("missing/file.py:X", "no such file 'missing/file.py'", 1),
        ("no_such_module_xyz:X", "cannot import module 'no_such_module_xyz': no module named", 1),
    ],
)
def test_bad_targets_get_a_clear_error(
    spec: str, message: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", spec]) == status
    assert message in one_line_error(capsys)


@pytest.mark.parametrize(
    ("script", "names"),
    [
        (SCRIPT, ". Fix: name one of what it defines that can be drawn or checked: Flow"),
        (
            "RATE = 3\n",
            "; it defines nothing that can be drawn or checked. Fix: name a file that "
            "defines a net, state machine or tree",
        ),
    ],
    ids=["a_diagram", "nothing_drawable"],
)
def test_missing_attribute_is_named_with_what_the_file_offers(
    tmp_path: Path, script: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flows.py"
    path.write_text(script)
    assert main(["check", f"{path}:Nope"]) == 1
    # Before: "... has no attribute 'Nope'" and nothing more, whatever the typo was.
    assert one_line_error(capsys) == f"mycorrhizal: '{path}' has no attribute 'Nope'{names}\n"


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The whole of stderr, checked to be one 'mycorrhizal: ...' line and no traceback."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mycorrhizal: ") and "Traceback" not in err, err
    return err


BAD_FILES = {
    "syntax": ("x = (\n", "cannot load '{path}': SyntaxError: '(' was never closed"),
    "import": ("import no_such_package_for_cli_tests\n", "ModuleNotFoundError: No module named"),
    "raises": ("\n\nX = 1 / 0\n", "ZeroDivisionError: division by zero (bad.py, line 3)"),
    "wrong kind": ("X = 42\n", "'{path}:X' is 42 (of type int), which cannot be drawn or checked"),
    # Before: a traceback, "Runner.to_diagram() missing 1 required positional argument: 'self'".
    "a class": ("from mycorrhizal.hypha import Runner as X\n", "'{path}:X' is the class Runner, which "
                "cannot be drawn or checked. Fix: name an instance of it"),
    "exits": ("import sys\n\nsys.exit(0)\n", "cannot load '{path}': it calls sys.exit(0) as it loads "
              "(bad.py, line 3). Fix: put what runs it as a script under if __name__ == '__main__':"),
    "exits saying why": ("import sys\nsys.exit('no config')\n", "cannot load '{path}': it calls "
                         "sys.exit('no config') as it loads (bad.py, line 2). Fix: put what runs"),
}  # fmt: skip


@pytest.mark.parametrize("command", ["render", "check"])
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_target_file_is_one_line_and_exit_1(
    kind: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, message = BAD_FILES[kind]
    path = tmp_path / "bad.py"
    path.write_text(source)
    assert main([command, f"{path}:X"]) == 1
    assert message.format(path=path) in one_line_error(capsys)


def test_a_module_raising_at_import_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken_flows_pkg").mkdir()
    (tmp_path / "broken_flows_pkg" / "__init__.py").write_text("")
    (tmp_path / "broken_flows_pkg" / "flows.py").write_text("raise RuntimeError('no config\\nat all')\n")
    monkeypatch.chdir(tmp_path)
    assert main(["render", "broken_flows_pkg.flows:X"]) == 1
    expected = "cannot load module 'broken_flows_pkg.flows': RuntimeError: no config (flows.py, line 1)"
    assert expected in one_line_error(capsys)


@pytest.mark.parametrize("command", ["render", "check"])
def test_ctrl_c_is_one_line_and_exit_130(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("raise KeyboardInterrupt  # Ctrl-C while a slow module loads\n")
    assert main([command, f"{slow}:X"]) == 130  # not a KeyboardInterrupt that reaches the user
    assert one_line_error(capsys) == "mycorrhizal: interrupted (Ctrl-C)\n"


def test_a_module_exiting_at_import_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "exiting_flows.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "exiting_flows:X"]) == 1
    expected = "cannot load module 'exiting_flows': it calls sys.exit(0) as it loads"
    assert f"{expected} (exiting_flows.py, line 2)" in one_line_error(capsys)


def test_dotted_names_resolve_from_the_current_folder(
    target: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(target.parent)
    monkeypatch.delitem(sys.modules, "flows", raising=False)
    assert main(["render", "flows:Flow", "-f", "dot"]) == 0
    assert "a -> b [label=go]" in capsys.readouterr().out
    assert str(target.parent) not in sys.path  # the folder was only borrowed for the import


def test_a_dotted_example_module_resolves_from_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(REPO_ROOT))])
    out = tmp_path / "shop.mmd"
    assert main(["render", "examples.hypha.order_pipeline:Shop", "-o", str(out)]) == 0
    assert out.read_text().startswith("flowchart")


def test_an_unwritable_output_is_one_line(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A path under a file, not a folder: unwritable even for root.
    assert main(["render", f"{target}:Flow", "-o", str(target / "flow.svg")]) == 1
    error = one_line_error(capsys)
    assert f"cannot write -o '{target / 'flow.svg'}': '{target}' is a file, not a folder" in error
    assert error.rstrip().endswith(". Fix: give -o a file in a folder that exists and that you may write to")


def test_demo_out_pointing_at_a_file_is_one_line(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "circuit-breaker", "--out", str(target)]) == 1
    assert f"--out '{target}' is a file. Fix: give a folder" in one_line_error(capsys)


@pytest.mark.parametrize("option, name", [("--out", "pictures"), ("--log", "logs/events.json")])
def test_demo_folder_that_cannot_be_made_is_one_line(
    target: Path, option: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A folder under a file: it cannot be made, even by root.
    assert main(["demo", "circuit-breaker", option, str(target / name)]) == 1
    folder = target / name if option == "--out" else target / "logs"
    assert one_line_error(capsys) == (
        f"mycorrhizal: cannot create folder '{folder}' for {option}: Not a directory. "
        f"Fix: give {option} a place you may write to (its folders are created if missing)\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["-f", "png", "-o", "x.svg"],
            "-f png does not match the file name 'x.svg'. Fix: drop -f to write svg, or",
        ),
        (["-o", "shop"], "cannot tell which format to write to -o 'shop'. Fix: name it shop.svg"),
        (
            ["-o", "shop.txt"],
            "-o 'shop.txt': mycorrhizal does not write .txt files. Fix: use .svg, .png, .pdf, .dot or .mmd",
        ),
    ],
)
def test_format_and_file_name_must_agree(
    target: Path,
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["render", f"{target}:Flow", *args]) == 2
    assert message in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows.py"]  # nothing written


@pytest.mark.parametrize(
    "output, options, written",
    [
        ("pictures", [], "pictures/Flow.svg"),
        ("pictures/", [], "pictures/Flow.svg"),
        ("pictures", ["-f", "mmd"], "pictures/Flow.mmd"),
        ("new/", [], "new/Flow.svg"),  # not there yet: still meant as a folder
    ],
)
def test_output_naming_a_folder_asks_for_a_file_in_it(
    target: Path,
    output: str,
    options: list[str],
    written: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pictures").mkdir()
    assert main(["render", f"{target}:Flow", "-o", output, *options]) == 2
    assert one_line_error(capsys) == (
        f"mycorrhizal: -o {output!r} is a folder. Fix: give a file name, e.g. -o {written}\n"
    )
    assert not (tmp_path / "pictures" / ".svg").exists() and not (tmp_path / "new").exists()


def test_a_format_without_a_suffix_writes_that_format(target: Path, tmp_path: Path) -> None:
    out = tmp_path / "flow"
    assert main(["render", f"{target}:Flow", "-f", "mmd", "-o", str(out)]) == 0
    assert out.read_text().startswith("flowchart LR")


def test_png_is_written_as_png(target: Path, tmp_path: Path) -> None:
    out = tmp_path / "flow.png"
    assert main(["render", f"{target}:Flow", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"mycorrhizal {__version__}\n"
    with pytest.raises(SystemExit) as helped:
        main(["--help"])
    assert helped.value.code == 0  # help is not an error
    text = capsys.readouterr().out
    assert "``" not in text and "TARGET is MODULE:ATTR" in text and "mycorrhizal demo circuit-breaker" in text


def test_a_malformed_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["render"])
    assert exit_.value.code == 2 and "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("module", ["mycorrhizal", "mycorrhizal.cli"])
def test_python_dash_m_runs_the_command(target: Path, module: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", module, "render"]
    done = subprocess.run([*command, f"{target}:Flow", "-f", "dot"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "digraph Flow" in done.stdout
    bad = subprocess.run([*command, f"{target}:Nope"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith(
        f"mycorrhizal: '{target}' has no attribute 'Nope'. Fix: "
    )


def test_every_command_has_a_module_that_carries_it_out() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) == set(subparsers.choices)
    assert all(callable(command(name)) for name in COMMANDS)


LOADED_BY_RENDER = """
import sys
from mycorrhizal.cli import build_parser, main

COMMAND_MODULES = {f"mycorrhizal.cli.{name}" for name in ("running", "drawing", "distributed")}


def loaded():
    extras = [name for name in sys.modules if name.split(".")[0] in ("aiohttp", "redis")]
    return sorted(extras + [name for name in COMMAND_MODULES if name in sys.modules])


build_parser()
print(loaded())
main(["render", sys.argv[1], "-f", "dot"])
print(loaded())
"""


def test_reading_the_command_line_loads_no_command_and_render_no_web_server_or_redis(target: Path) -> None:
    """Each command's module (and the extras it needs) is imported only when that command runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", LOADED_BY_RENDER, f"{target}:Flow"], capture_output=True, text=True, env=env
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[0] == "[]" and lines[-1] == "['mycorrhizal.cli.drawing']"


@pytest.mark.parametrize(
    "name, expected, picture",
    [
        ("circuit-breaker", "counts: success=3, failure=4, rejected=4, invalid=1", "circuit_breaker.svg"),
        ("job-queue", "Counts: submitted=10 completed=7 rejected=3", "job_queue_net.svg"),
    ],
)
def test_demo_runs_the_scenario_and_writes_its_pictures(
    name: str, expected: str, picture: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", name, "--out", str(tmp_path)]) == 0
    assert expected in capsys.readouterr().out
    assert (tmp_path / picture).read_text().lstrip().startswith("<?xml")


def test_diagrams_check_reports_stale_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two examples (a real machine and a hand-made diagram) rather than the whole examples/ folder,
    # which tests/test_diagrams.py checks against diagrams/ once.
    examples, out = tmp_path / "examples", tmp_path / "out"
    (examples / "septum").mkdir(parents=True)
    (examples / "septum" / "single_machine.py").write_text(
        (REPO_ROOT / "examples/septum/single_machine.py").read_text()
    )
    (examples / "flows.py").write_text(SCRIPT)
    options = ["--examples", str(examples), "--out", str(out)]
    assert main(["diagrams", *options, "--check"]) == 1
    assert (
        "stale diagrams (run 'mycorrhizal diagrams'): flows, septum/single_machine\n"
        in capsys.readouterr().out
    )
    assert main(["diagrams", *options]) == 0
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.*")} == {
        "flows.dot",
        "flows.svg",
        "septum/single_machine.dot",
        "septum/single_machine.svg",
    }
    assert main(["diagrams", *options, "--check"]) == 0
    assert capsys.readouterr().out.endswith("diagrams are current (2 checked)\n")
    (out / "flows.svg").unlink()
    assert main(["diagrams", *options, "--check"]) == 1
    assert "stale diagrams (run 'mycorrhizal diagrams'): flows (svg missing)\n" in capsys.readouterr().out


def test_unwritable_diagrams_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "flows.py").write_text(SCRIPT + "\nDIAGRAMS = {'flow': Flow}\n")
    (tmp_path / "pictures" / "flows.dot").mkdir(parents=True)  # a folder where the picture goes
    args = ["diagrams", "--out", str(tmp_path / "pictures"), "--examples", str(tmp_path / "examples")]
    assert main(args) == 1
    error = one_line_error(capsys)
    assert error.startswith(f"mycorrhizal: cannot write the diagrams into '{tmp_path / 'pictures'}': ")
    assert error.rstrip().endswith(". Fix: give --out a folder you may write to")


def test_diagrams_without_examples_is_an_error_not_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What a non-editable install sees: no examples folder beside the package.
    assert main(["diagrams", "--check", "--examples", str(tmp_path / "examples")]) == 1
    assert "no examples folder at" in one_line_error(capsys)
    (tmp_path / "examples").mkdir()
    assert main(["diagrams", "--check", "--examples", str(tmp_path / "examples")]) == 1
    assert "declares DIAGRAMS, so there is nothing to draw or check. Fix: " in one_line_error(capsys)


@pytest.fixture
def no_layout_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with neither Graphviz's dot nor graphviz-pure."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(diagram_module, "FALLBACK_PROGRAM", "graphviz-pure-not-installed")


@pytest.mark.usefixtures("no_layout_program")
def test_demo_without_any_dot_says_so_once_and_writes_dot_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pictures"
    assert main(["demo", "circuit-breaker", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == NO_PICTURES + "\n"
    assert [p.name for p in out.iterdir()] == ["circuit_breaker.dot"]


@pytest.mark.usefixtures("no_layout_program")
def test_render_svg_without_any_dot_is_one_line(
    target: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", f"{target}:Flow", "-o", str(tmp_path / "flow.svg")]) == 1
    assert "neither Graphviz's 'dot' nor 'graphviz-pure-not-installed' is installed" in one_line_error(capsys)


# the net's firings, and what the net forwards: the breaker machine's records (its 'breaker let go' at
# stop included), the job queue's trees' ticks
@pytest.mark.parametrize("name, events", [("circuit-breaker", 23 + 20), ("job-queue", 24 + 97)])
@pytest.mark.parametrize("suffix", ["json", "sqlite", "jsonl"])
def test_demo_log_writes_the_runs_event_log(
    name: str, events: int, suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "out" / f"events.{suffix}"
    assert main(["demo", name, "--log", str(log)]) == 0
    assert f"wrote {events} events to {log}" in capsys.readouterr().out
    if suffix == "json":
        assert len(json.loads(log.read_text())["events"]) == events
    elif suffix == "sqlite":
        with contextlib.closing(sqlite3.connect(log)) as db:
            assert db.execute("SELECT COUNT(*) FROM event").fetchone() == (events,)
    else:
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert sum(1 for line in lines if line["event"] is not None) == events


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (
            ["--log", "events.txt"],
            2,
            "--log 'events.txt' names no log format. Fix: end the file name with .json",
        ),
        (["--log", "x.json", "--serve"], 2, "--log and --serve do not go together. Fix: run the demo twice"),
    ],
)
def test_demo_log_mistakes_are_one_line(
    argv: list[str], status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "circuit-breaker", *argv]) == status
    assert message in one_line_error(capsys)


def test_demo_log_in_a_folder_that_is_a_file_or_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    assert main(["demo", "circuit-breaker", "--log", str(tmp_path / "file" / "events.json")]) == 1
    assert "is a file. Fix: give a folder" in one_line_error(capsys)
    (tmp_path / "logs.json").mkdir()
    assert main(["demo", "circuit-breaker", "--log", str(tmp_path / "logs.json")]) == 1
    assert "is a folder. Fix: give a file name" in one_line_error(capsys)


# --------------------------------------------------------------------------- inspect a store file


def _journaled_run(path: Path) -> None:
    """A run of a small net in the SQLite store at ``path``: 3 jobs done, 1 held back, 1 waiting."""
    builder = NetBuilder("Jobs")
    inbox, done = builder.place("inbox"), builder.place("done")

    @builder.transition(inputs=[inbox], outputs=[done], retry_delay=None)
    def work(consumed: list[int], bb: object, tb: object) -> dict[str, object]:
        if consumed[0] == 13:
            raise ValueError("unlucky")
        return {done: {"job": consumed[0]}}

    async def run() -> None:
        async with SQLiteStore(path) as store:
            runner = Runner(builder.build(), store=store)
            await runner.start()
            runner.add_tokens("inbox", [10, 11, 12, 13, 14])
            await runner.run_until_idle()
            await runner.stop()

    asyncio.run(run())


def test_inspect_prints_a_runs_recovered_marking_and_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _journaled_run(tmp_path / "run.db")
    assert main(["inspect", str(tmp_path / "run.db"), "--records", "2"]) == 0
    out = capsys.readouterr().out
    assert "run 'Jobs': epoch 1, 5 records, snapshot at record 0" in out
    assert "    Jobs.inbox       2  13, 14\n" in out
    assert '    Jobs.done        3  {"job":10}, {"job":11}, {"job":12}\n' in out
    assert "transition Jobs.work is held back after ValueError: unlucky; until a new token arrives" in out
    assert "recent journal (2 of 5 kept after the snapshot):" in out
    assert out.rstrip().splitlines()[-1].split()[:3] == ["5", "block", "Jobs.work"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect", "{dir}/missing.db"], "no store file '{dir}/missing.db'. Fix: give the file a Runner"),
        (["inspect", "{dir}/notes.txt"], "cannot open '{dir}/notes.txt' as a store: "),
        (
            ["inspect", "{dir}/run.db", "--run", "Other"],
            "store '{dir}/run.db' has no run 'Other'. Fix: give --run one of: 'Jobs'\n",
        ),
        (
            ["inspect", "{dir}/run.db", "--run", "jobs"],
            "store '{dir}/run.db' has no run 'jobs'. Fix: did you mean 'Jobs'? If not, give --run one of: "
            "'Jobs'\n",
        ),
    ],
)
def test_inspect_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _journaled_run(tmp_path / "run.db")
    (tmp_path / "notes.txt").write_text("not a database, but long enough to be read as one" * 40)
    assert main([part.format(dir=tmp_path) for part in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mycorrhizal: {message.format(dir=tmp_path)}")
    assert err.count("\n") == 1


def test_inspect_leaves_an_empty_file_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "run.db"
    empty.touch()
    assert main(["inspect", str(empty)]) == 1
    assert one_line_error(capsys) == (
        f"mycorrhizal: '{empty}' is empty, not a store. Fix: give the file a Runner with "
        "store=SQLiteStore(...) wrote\n"
    )
    assert [(p.name, p.stat().st_size) for p in tmp_path.iterdir()] == [("run.db", 0)]  # nothing written


def test_inspect_records_must_be_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["inspect", "run.db", "--records", "many"])
    assert exited.value.code == 2
    assert "'many' is not a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--redis", "redis://127.0.0.1:6379/0"], "--redis is"),
        (["--shared", "jobs", "--prefix", "app"], "--prefix, --shared are"),
        (["--codecs", "app:CODECS", "--partitions", "4"], "--codecs, --partitions are"),
    ],
)
def test_inspect_of_a_store_file_refuses_the_redis_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], named: str
) -> None:
    _journaled_run(tmp_path / "run.db")
    assert main(["inspect", str(tmp_path / "run.db"), *options]) == 2  # a malformed command line
    assert one_line_error(capsys) == (
        f"mycorrhizal: {named} for a net distributed over Redis (MODULE:ATTR), not the store file "
        f"'{tmp_path / 'run.db'}'. Fix: drop {'it' if ' is' in named else 'them'}, or name the net as "
        "MODULE:ATTR\n"
    )


def test_inspect_of_a_folder_says_it_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path)]) == 1
    assert one_line_error(capsys) == (
        f"mycorrhizal: '{tmp_path}' is a folder, not a store file. Fix: give the file in it a Runner with "
        "store=SQLiteStore(...) wrote, e.g. "
        f"'{tmp_path / 'run.db'}'\n"
    )


@pytest.mark.parametrize(
    ("attribute", "fix"),
    [
        (
            "Flwo",
            "did you mean 'Flow'? If not, name one of what it defines that can be drawn or checked: Flow",
        ),
        ("flow", "did you mean 'Flow'? If not, name one of what it defines"),
        ("Flow.nodez", "did you mean 'nodes'? If not, check the attribute path after the ':'"),
        ("Flow.zzz", "check the attribute path after the ':'"),
    ],
    ids=["name", "case", "attribute_path", "nothing_close"],
)
def test_a_misspelt_target_attribute_is_answered_with_the_nearest(
    target: Path, attribute: str, fix: str
) -> None:
    # Before: "'.../flows.py' has no attribute 'Flwo'; name one of what it defines ...: Flow", and
    # nothing at all after an attribute path's misspelt part.
    with pytest.raises(
        CommandError, match=re.escape(f"'{target}' has no attribute '{attribute}'. Fix: {fix}")
    ):
        load_target(f"{target}:{attribute}")


# Every refusal of the drawing and running commands: (argv, exit status, what it names). Before, each
# gave its advice after '; ' (or none: '--port only applies with --serve', a file that raises as it
# loads, argparse's type checks), so it did not end with the '. Fix: ...' every other error ends with.
REFUSALS = [
    (["render", "nocolon"], 2, "'nocolon' is not MODULE:ATTRIBUTE"),
    (["render", "{dir}/missing.py:X"], 1, "no such file '{dir}/missing.py'"),
    (["render", "no_such_module_xyz:X"], 1, "cannot import module 'no_such_module_xyz'"),
    (["render", "{dir}/flows.py:Nope"], 1, "'{dir}/flows.py' has no attribute 'Nope'"),
    (["render", "{dir}/flows.py:Flow.zzz"], 1, "has no attribute 'Flow.zzz'"),
    (["check", "{dir}/bad.py:X"], 1, "cannot load '{dir}/bad.py': ZeroDivisionError: division by zero"),
    (["check", "{dir}/syntax.py:X"], 1, "cannot load '{dir}/syntax.py': SyntaxError"),
    (["check", "{dir}/exits.py:X"], 1, "it calls sys.exit(0) as it loads"),
    (["check", "{dir}/flows.py:RATE"], 1, "'{dir}/flows.py:RATE' is 3 (of type int)"),
    (["render", "{dir}/flows.py:Flow", "-f", "png", "-o", "x.svg"], 2, "-f png does not match"),
    (["render", "{dir}/flows.py:Flow", "-o", "shop"], 2, "which format to write to -o 'shop'"),
    (["render", "{dir}/flows.py:Flow", "-o", "shop.txt"], 2, "'shop.txt': mycorrhizal does not write .txt"),
    (["render", "{dir}/flows.py:Flow", "-o", "{dir}/"], 2, "-o '{dir}/' is a folder"),
    (["render", "{dir}/flows.py:Flow", "-o", "{dir}/flows.py/x.svg"], 1,
     "cannot write -o '{dir}/flows.py/x.svg': '{dir}/flows.py' is a file"),
    (["diagrams", "--check", "--examples", "{dir}/none"], 1, "no examples folder at '{dir}/none'"),
    (["diagrams", "--check", "--examples", "{dir}/empty"], 1, "no example in '{dir}/empty' declares"),
    (["demo", "circuit-breaker", "--port", "80"], 2, "--port only applies with --serve"),
    (["demo", "circuit-breaker", "--out", "{dir}/flows.py"], 1, "--out '{dir}/flows.py' is a file"),
    (["demo", "circuit-breaker", "--out", "{dir}/flows.py/x"], 1, "cannot create folder '{dir}/flows.py/x'"),
    (["demo", "circuit-breaker", "--log", "x.txt"], 2, "--log 'x.txt' names no log format"),
    (["demo", "circuit-breaker", "--log", "{dir}/logs.json"], 1, "--log '{dir}/logs.json' is a folder"),
    (["demo", "circuit-breaker", "--log", "x.json", "--serve"], 2, "--log and --serve do not go together"),
    (["demo", "job-queue", "--serve"], 2, "demo 'job-queue' has no live view"),
    (["demo", "circuit-breaker", "--speed", "0"], 2, "argument --speed: '0' is not a speed above 0"),
    (["serve", "x:Y", "--port", "99999"], 2, "argument --port: '99999' is not a port number"),
    (["worker", "x:Y", "--lease", "0"], 2, "argument --lease: '0' is not a number of seconds"),
    (["worker", "x:Y", "--concurrency", "0"], 2, "argument --concurrency: '0' is not a whole number above 0"),
    (["inspect", "run.db", "--records", "-1"], 2, "argument --records: '-1' is not a whole number"),
    # argparse's own checks: before, they ended with what was wrong and no fix.
    (["rendr"], 2, "argument COMMAND: invalid choice: 'rendr'"),
    (["check"], 2, "the following arguments are required: TARGET"),
    (["check", "x:Y", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["render", "x:Y", "-f", "gif"], 2, "argument -f/--format: invalid choice: 'gif'"),
    (["demo", "nope"], 2, "argument name: invalid choice: 'nope'"),
    # inspect of a store file: before, its advice came after '; ' or not at all.
    (["inspect", "{dir}/missing.db"], 1, "no store file '{dir}/missing.db'"),
    (["inspect", "{dir}/empty"], 1, "'{dir}/empty' is a folder, not a store file"),
    (["inspect", "{dir}/blank.db"], 1, "'{dir}/blank.db' is empty, not a store"),
    (["inspect", "{dir}/run.db", "--run", "Jbos"], 1, "store '{dir}/run.db' has no run 'Jbos'"),
    (["inspect", "{dir}/run.db", "--prefix", "x"], 2, "--prefix is for a net distributed over Redis"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "status", "names"), REFUSALS, ids=[f"{i}-{argv[0]}" for i, (argv, _, _) in enumerate(REFUSALS)]
)
def test_every_refusal_names_the_argument_and_ends_with_a_fix(
    argv: list[str],
    status: int,
    names: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "flows.py").write_text(SCRIPT + "RATE = 3\n")
    (tmp_path / "bad.py").write_text("X = 1 / 0\n")
    (tmp_path / "syntax.py").write_text("x = (\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "logs.json").mkdir()
    (tmp_path / "blank.db").touch()
    _journaled_run(tmp_path / "run.db")
    monkeypatch.chdir(tmp_path)
    try:
        got = main([part.format(dir=tmp_path) for part in argv])
    except SystemExit as exited:  # argparse's own checks
        got = exited.code
    assert got == status
    last = capsys.readouterr().err.splitlines()[-1]
    assert names.format(dir=tmp_path) in last
    assert re.search(r"[^.]\. Fix: [^\n]+[^.]$", last), last
    assert last.count("Fix:") == 1, last  # an argparse type check's own fix is not followed by another


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (
            ["check"],
            "usage: mycorrhizal check [-h] TARGET\nmycorrhizal check: error: the following arguments are "
            "required: TARGET. Fix: see 'mycorrhizal check --help'\n",
        ),
        (
            ["check", "x:Y", "--bogus", "1"],
            "usage: mycorrhizal check [-h] TARGET\nmycorrhizal check: error: unrecognized arguments: "
            "--bogus 1. Fix: see 'mycorrhizal check --help'\n",
        ),
        (
            ["--bogus"],
            "usage: mycorrhizal [-h] [--version] COMMAND ...\nmycorrhizal: error: the following arguments "
            "are required: COMMAND. Fix: see 'mycorrhizal --help'\n",
        ),
        (
            ["render", "x:Y", "-o"],
            "usage: mycorrhizal render [-h] [-o OUTPUT] [-f {svg,png,pdf,dot,mmd}] TARGET\nmycorrhizal "
            "render: error: argument -o/--output: expected one argument. Fix: see 'mycorrhizal render "
            "--help'\n",
        ),
    ],
    ids=["missing", "unknown_option", "no_command", "option_without_value"],
)
def test_a_usage_error_prints_the_usage_and_ends_with_a_fix(
    argv: list[str], stderr: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: argparse's own message, ending with what was wrong and no fix; an unknown option after
    # a command was reported with the usage of 'mycorrhizal' rather than that of the command.
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == stderr


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_has_a_description(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: 'check --help' and 'diagrams --help' went from the usage line straight to the arguments.
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    description = capsys.readouterr().out.split("\n\n")[1]
    assert not description.startswith(("positional arguments:", "options:")), description
    assert description.endswith(".") and len(description.split()) >= 3, description


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("orders/eu", "orders_eu.mmd"),
        ("../up", "up.mmd"),
        ("a\\b:c*d?", "a_b_c_d.mmd"),
        ("Käse Shop", "Käse_Shop.mmd"),
        ("..", "diagram.mmd"),
        ("Shop", "Shop.mmd"),
    ],
    ids=["slash", "parent", "windows", "unicode_space", "dots_only", "plain"],
)
def test_render_names_the_default_file_safely(
    name: str,
    file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: the diagram's name was the file name as it was: 'orders/eu' wrote into a folder
    # orders/ (or failed when there was none), '../up' outside the current folder.
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "flows.py").write_text(
        f"from mycorrhizal.common import Diagram, Node\n\nFlow = Diagram({name!r}, nodes=(Node('a', 'a'),))\n"
    )
    monkeypatch.chdir(work)
    assert main(["render", f"{tmp_path / 'flows.py'}:Flow", "-f", "mmd"]) == 0
    assert capsys.readouterr().out == f"wrote {file}\n"
    assert [p.name for p in work.iterdir()] == [file]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows.py", "work"]
