"""``mycorrhizal serve`` and ``mycorrhizal demo ... --serve``: one clear line for every bad input."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mycorrhizal.cli import main, running

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["demo", "job-queue", "--serve"],
            "demo 'job-queue' has no live view. Fix: drop --serve, or serve one that has: circuit-breaker",
        ),
        (
            ["demo", "circuit-breaker", "--speed", "2"],
            "--speed only applies with --serve. Fix: add --serve to watch the run in the browser, "
            "or drop --speed",
        ),
        (
            ["demo", "circuit-breaker", "--port", "9000"],
            "--port only applies with --serve. Fix: add --serve to watch the run in the browser, "
            "or drop --port",
        ),
        (
            ["demo", "circuit-breaker", "--serve", "--out", "x"],
            "--out and --serve do not go together. Fix: run the demo twice, once with --out and "
            "once with --serve",
        ),
    ],
)
def test_demo_option_mistakes(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == f"mycorrhizal: {message}\n"


@pytest.mark.parametrize(
    "option, message",
    [
        (["--speed", "0"], "'0' is not a speed above 0"),
        (["--speed", "fast"], "'fast' is not a speed above 0"),
        (["--speed", "inf"], "'inf' is not a speed above 0"),
        (["--speed", "1e300"], "'1e300' is not a speed above 0 and at most 1e+06 (virtual seconds per"),
        (["--port", "70000"], "'70000' is not a port number from 0 to 65535"),
        (["--port", "-1"], "'-1' is not a port number from 0 to 65535"),
    ],
)
def test_malformed_live_options(option: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "x.py:X", *option])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_serve_refuses_what_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "things.py").write_text("NUMBER = 42\n")
    assert main(["serve", f"{tmp_path / 'things.py'}:NUMBER"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mycorrhizal: ") and err.count("\n") == 1
    assert "cannot serve 42 (of type int). Fix: name a hypha/mycelium net or its Runner" in err


def test_serve_without_the_live_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(running, "live", None)
    assert main(["serve", "x.py:X"]) == 1
    assert main(["demo", "circuit-breaker", "--serve"]) == 1
    assert (
        capsys.readouterr().err
        == (
            "mycorrhizal: the live view needs aiohttp, which is not installed. Fix: pip install "
            "'mycorrhizal[live]'\n"
        )
        * 2
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_serve_on_a_taken_port(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{EXAMPLES / 'septum' / 'single_machine.py'}:MyState"
    assert main(["serve", target, "--port", str(busy_port)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"mycorrhizal: cannot serve the live view on 127.0.0.1:{busy_port}: address already in use. Fix: "
        f"stop the program listening on port {busy_port}, or pick another port (--port, or port= in "
        "Python; 0: any free one)\n"
    )


@pytest.mark.parametrize(
    "host, reason",
    [
        ("no.such.host.invalid", "no address found for 'no.such.host.invalid'"),
        ("192.0.2.1", "192.0.2.1 is not an address of this machine"),  # TEST-NET-1: nobody's
    ],
)
def test_serve_on_a_host_it_cannot_listen_on(
    host: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"{EXAMPLES / 'septum' / 'single_machine.py'}:MyState"
    assert main(["serve", target, "--host", host, "--port", "0"]) == 1
    assert one_line_error(capsys) == (
        f"mycorrhizal: cannot serve the live view on {host}:0: {reason}. Fix: give host (--host) an address "
        "of this machine: 127.0.0.1 (this machine only) or 0.0.0.0 (every network it is on)"
    )


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """All of stderr, checked to be one line."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


def test_pacing_needs_a_virtual_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "running.py"
    script.write_text(
        "import runpy\n"
        "from mycorrhizal.septum import StateMachine\n"
        f"states = runpy.run_path({str(EXAMPLES / 'septum' / 'single_machine.py')!r})\n"
        "MACHINE = StateMachine(states['MyState'], common_data={'loops': 0})\n"
    )
    assert main(["serve", f"{script}:MACHINE", "--port", "0", "--speed", "2"]) == 1
    assert capsys.readouterr().err == (
        "mycorrhizal: --speed and --paused pace a virtual clock, but this StateMachine runs on "
        "MonotonicClock. Fix: build it with timebase=ManualClock(), or drop them\n"
    )


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "started-in-background"])
def test_serve_a_machine_until_ctrl_c(tmp_path: Path, sigint_ignored: bool) -> None:
    """A real `mycorrhizal serve`: it runs the machine to its end, keeps the view open, stops on Ctrl-C.

    Also when it was started the way a non-interactive shell starts a background job: with SIGINT
    ignored, which Python would otherwise keep (the view then never stopped)."""
    target = f"{EXAMPLES / 'septum' / 'single_machine.py'}:MyState"
    process = subprocess.Popen(
        [sys.executable, "-m", "mycorrhizal", "serve", target, "--port", "0", "--speed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_ignore_sigint if sigint_ignored else None,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("live view of machine 'MyState': http://127.0.0.1:")
    second = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    try:
        rest = process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, rest
    # No blackboard was given, so the handler fails; the view stays open to show it.
    assert second.startswith("the run failed: HandlerError: state MyState: on_state raised KeyError: 'loops'")
    assert second.endswith("; the view stays open\n")
    assert rest.strip() == "live view closed"
