"""Worker processes for the tests: ``mycorrhizal worker`` started as a user would start it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NETS = "tests/distribution/nets.py"


def start_worker(
    url: str, prefix: str, net: str = "TwoStage", *options: str, ignore_sigint: bool = False
) -> subprocess.Popen[str]:
    """A ``mycorrhizal worker`` process running ``net`` of tests/distribution/nets.py (or the
    ``MODULE:NET`` target ``net``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    target = net if ":" in net else f"{NETS}:{net}"
    return subprocess.Popen(
        [sys.executable, "-m", "mycorrhizal", "worker", target, "--redis", url, "--prefix", prefix,
         *options],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )  # fmt: skip


def started(process: subprocess.Popen[str]) -> str:
    """Wait for the worker's first line ('worker NAME started: ...'); its name."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("worker "):
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"the worker did not start: {line!r} {err[-2000:]}")
    return line.split()[1]
