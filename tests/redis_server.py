"""A throw-away ``redis-server`` for the tests: its own process, loopback port and temporary folder.

The tests never rely on a system service.  :func:`start` runs Debian's ``redis-server`` (``.ci/run``
installs it when missing) on a free port of 127.0.0.1, without persistence (no RDB or AOF file is
written), in a temporary folder that :meth:`RedisServer.stop` removes with the process.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer", "start"]

STARTUP_TIMEOUT = 10.0


class RedisServer:
    """A running ``redis-server`` child process and where it listens."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
        self.process = process
        self.port = port
        self.folder = folder

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """End the server and remove its folder (nothing of it stays on the machine)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: the kernel ends the server when the test process dies, even by
    SIGKILL or a timeout, so no server outlives its test run (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))


def start(port: int | None = None) -> RedisServer:
    """Start a server on a free loopback port (or on ``port``: a server stopped there comes back);
    raises RuntimeError if ``redis-server`` is missing."""
    program = shutil.which("redis-server")
    if program is None:
        raise RuntimeError(
            "redis-server is not installed; run 'apt-get install -y redis-server' (.ci/run does)"
        )
    folder = Path(tempfile.mkdtemp(prefix="mycorrhizal-redis-"))
    given = port
    for _ in range(5):  # another program may take the free port before the server binds it
        port = given if given is not None else _free_port()
        process = subprocess.Popen(
            [
                program,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(folder),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--logfile", str(folder / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(port):
                return RedisServer(process, port, folder)
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
        process.wait()
    log = (
        (folder / "redis.log").read_text(errors="replace")[-2000:] if (folder / "redis.log").exists() else ""
    )
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError(f"redis-server did not start after 5 attempts; its log ends: {log}")
