"""The ``mycorrhizal demo`` and ``serve`` commands: run a scenario or a target, maybe with a live view."""

from __future__ import annotations

import argparse
import asyncio
import runpy
import signal
import sys
from pathlib import Path

from ..common.diagram import dot_available
from ..common.errors import CommandError, reason
from ..spores.logfile import LOG_SUFFIXES
from .drawing import NO_PICTURES, make_folder
from .parser import DEMOS, EXAMPLES, LIVE_DEMOS
from .targets import first_on_path, load_target

try:
    from .. import live
except ModuleNotFoundError as _missing:  # the optional extra mycorrhizal[live] (aiohttp) is absent
    if _missing.name is None or _missing.name.split(".")[0] != "aiohttp":
        raise
    live = None  # type: ignore[assignment]

__all__ = ["cmd_demo", "cmd_serve"]

NO_LIVE = "the live view needs aiohttp, which is not installed. Fix: pip install 'mycorrhizal[live]'"


def _demo_argv(args: argparse.Namespace) -> list[str]:
    """The demo script's own options, from ours; refuses live-view options without --serve."""
    live_options = [f"--{name}" for name in ("speed", "paused", "host", "port") if getattr(args, name)]
    if not args.serve:
        if live_options:
            raise CommandError(
                f"{live_options[0]} only applies with --serve. Fix: add --serve to watch the run in the "
                f"browser, or drop {live_options[0]}",
                usage=True,
            )
        return []
    for option in ("out", "log"):
        if getattr(args, option) is not None:
            raise CommandError(
                f"--{option} and --serve do not go together. Fix: run the demo twice, once with "
                f"--{option} and once with --serve",
                usage=True,
            )
    if args.name not in LIVE_DEMOS:
        raise CommandError(
            f"demo {args.name!r} has no live view. Fix: drop --serve, or serve one that has: "
            f"{', '.join(LIVE_DEMOS)}",
            usage=True,
        )
    _need_live()
    port = 8000 if args.port is None else args.port
    argv = ["--serve", "--host", args.host or "127.0.0.1", "--port", str(port)]
    return argv + ["--speed", repr(args.speed or 1.0)] + (["--paused"] if args.paused else [])


def _need_live() -> None:
    if live is None:
        raise CommandError(NO_LIVE)


def cmd_demo(args: argparse.Namespace) -> int:
    """``mycorrhizal demo NAME``: run the example script of a named scenario."""
    script = EXAMPLES / DEMOS[args.name]
    extra = _demo_argv(args)
    if not script.is_file():
        raise CommandError(
            f"demo {args.name!r} runs {script}, which is missing: demos ship with the source tree. "
            "Fix: clone the repository and 'pip install -e .' in it"
        )
    argv = [str(script), *extra]
    if args.serve:
        _ctrl_c_stops()
    if args.out is not None:
        make_folder(Path(args.out), "--out")
        argv += ["--out", str(args.out)]
        if not dot_available():
            print(NO_PICTURES, file=sys.stderr)
    if args.log is not None:
        argv += ["--log", _log_file(args.log)]
    old_argv, sys.argv = sys.argv, argv
    try:
        with first_on_path(script.parent):
            runpy.run_path(str(script), run_name="__main__")
    except OSError as exc:
        if args.serve:
            raise CommandError(str(exc)) from exc
        what = (
            "its pictures" if args.log is None else "its log" if args.out is None else "its pictures or log"
        )
        raise CommandError(
            f"demo {args.name!r} could not write {what}: {reason(exc)}. Fix: give --out and --log "
            "places you may write to"
        ) from exc
    finally:
        sys.argv = old_argv
    return 0


def _log_file(text: str) -> str:
    """Check a demo's ``--log`` file name and make its folder; returns it."""
    path = Path(text)
    if not path.name.lower().endswith(LOG_SUFFIXES):
        raise CommandError(
            f"--log {text!r} names no log format. Fix: end the file name with .json (OCEL 2.0 JSON), "
            ".sqlite (OCEL 2.0 SQLite) or .jsonl (JSON lines)",
            usage=True,
        )
    if path.is_dir():
        raise CommandError(
            f"--log {text!r} is a folder. Fix: give a file name such as {text.rstrip('/')}/events.json"
        )
    make_folder(path.parent, "--log")
    return text


def _ctrl_c_stops() -> None:
    """Make Ctrl-C (SIGINT) end a served view even if this process inherited SIGINT as ignored.

    A program started in the background by a non-interactive shell (a CI job, ``nohup``...) has
    SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the view would never stop.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


def cmd_serve(args: argparse.Namespace) -> int:
    """``mycorrhizal serve TARGET``: run it with a live view until Ctrl-C."""
    _need_live()
    assert live is not None
    target = load_target(args.target)
    _ctrl_c_stops()
    try:
        live.runtime_of(target)
    except TypeError as exc:
        raise CommandError(f"{args.target!r}: {exc}") from exc
    try:
        asyncio.run(
            live.serve(
                target,
                host=args.host or "127.0.0.1",
                port=8000 if args.port is None else args.port,
                speed=args.speed,
                paused=args.paused,
                say=lambda text: print(text, flush=True),
            )
        )
    except KeyboardInterrupt:
        print("live view closed")
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    return 0
