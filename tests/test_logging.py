"""The package's logging: silent until the application configures logging, one line per handled fault."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import asyncio, logging, sys
    from mycorrhizal.hypha import Runner, pn

    if sys.argv[1] == "configured":
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    @pn.net
    def Audit(builder):
        src = builder.place("src", initial=[1, -1, -2])
        out, bad = builder.place("out"), builder.place("bad")

        @builder.transition(inputs=[src], outputs=[out], on_error=bad)
        def check(consumed, bb, timebase):
            if consumed[0] < 0:
                raise ValueError("negative")
            return {out: consumed[0]}

    runner = Runner(Audit, {})
    asyncio.run(runner.run_until_idle())
    assert runner.tokens("bad") and runner.tokens("out") == (1,)
    """
)


def run(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == ""
    return done.stderr


def test_handled_faults_print_nothing_while_logging_is_unconfigured() -> None:
    assert run("unconfigured") == ""


def test_a_configured_application_sees_one_warning_line_per_handled_fault() -> None:
    lines = run("configured").splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("WARNING mycorrhizal.hypha: ") for line in lines)
    assert all("Traceback" not in line for line in lines)
