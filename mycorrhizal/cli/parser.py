"""The command line's grammar: every command, its arguments and their checks, and nothing else.

Reading the command line loads only this module: what a command does lives in its own module,
imported when it runs (see :data:`mycorrhizal.cli.COMMANDS`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__
from ..common.errors import fix_last

__all__ = [
    "DEFAULT_RECORDS",
    "DEMOS",
    "EXAMPLES",
    "FORMATS",
    "LIVE_DEMOS",
    "MAX_SPEED",
    "REDIS_DEFAULTS",
    "STORE_DEFAULTS",
    "Parser",
    "build_parser",
    "parse",
]

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO_ROOT / "examples"
FORMATS = ("svg", "png", "pdf", "dot", "mmd")

#: Scenario name -> example script, relative to examples/.
DEMOS: dict[str, str] = {
    "circuit-breaker": "mycelium/circuit_breaker_handler.py",
    "job-queue": "mycelium/job_queue_processor.py",
}
MAX_SPEED = 1e6
"""The live view's fastest pace (``mycorrhizal.live.pacer.MAX_SPEED``, not imported: reading the
command line loads no web server)."""
#: Demos whose script takes --serve (and --speed, --paused, --host, --port): a live view of the run.
LIVE_DEMOS = ("circuit-breaker",)

DESCRIPTION = (
    "Run a scenario, draw any net, state machine or tree, check one, watch one run live, or run a net "
    "over Redis with many workers."
)
EPILOG = """\
examples:
  mycorrhizal demo circuit-breaker --out out
  mycorrhizal demo circuit-breaker --log out/events.json
  mycorrhizal demo circuit-breaker --serve --speed 2
  mycorrhizal serve examples/hypha/order_pipeline.py:Shop --port 8000
  mycorrhizal render examples/hypha/order_pipeline.py:Shop -o shop.svg
  mycorrhizal render myapp.flows:Checkout -f mmd
  mycorrhizal check myapp.flows:Checkout
  mycorrhizal diagrams --check
  mycorrhizal worker myapp.flows:Orders --redis redis://127.0.0.1:6379/0 --concurrency 32
  mycorrhizal submit myapp.flows:Orders jobs 1 2 3
  mycorrhizal inspect myapp.flows:Orders
  mycorrhizal inspect run.db --run orders

TARGET is MODULE:ATTR. MODULE is a dotted module name importable from the current folder
(myapp.flows) or a path to a .py file (examples/hypha/order_pipeline.py); ATTR may be dotted.
"""
TARGET_HELP = "MODULE:ATTR, e.g. myapp.flows:Checkout or examples/hypha/order_pipeline.py:Shop"
NET_HELP = "MODULE:ATTR of the net, e.g. myapp.flows:Orders (the same for every worker)"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
#: The Redis options' defaults.  ``inspect`` parses them as None instead, so that with a store file it
#: can tell which were given (they mean nothing there) and fill in these for a net.
REDIS_DEFAULTS: dict[str, object] = {
    "redis": DEFAULT_URL,
    "prefix": "mycorrhizal",
    "shared": None,
    "codecs": None,
    "partitions": 16,
}
#: ``inspect``'s options for a store file, and their defaults: parsed as None too, so that with a net
#: (MODULE:ATTR) it can tell which were given (they mean nothing there).
DEFAULT_RECORDS = 10
STORE_DEFAULTS: dict[str, object] = {"run": None, "records": DEFAULT_RECORDS}


class Parser(argparse.ArgumentParser):
    """An argument parser whose own errors end with a fix, like every other error of the command."""

    commands: Mapping[str, argparse.ArgumentParser] = {}
    """The parser of each command (set on the top-level parser only)."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message``, ended with a fix unless a type check gave one; exit 2."""
        super().error(fix_last(message, "", otherwise=f"see '{self.prog} --help'"))

    def parse(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """:meth:`parse_args`, an unknown argument after a command told with that command's usage."""
        args, unknown = self.parse_known_args(argv)
        if unknown:
            parser = self.commands.get(getattr(args, "command", None) or "", self)
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        return args


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The ``mycorrhizal`` command line ``argv`` (default: ``sys.argv[1:]``) read; exit 2 if malformed."""
    return build_parser().parse(argv)


def build_parser() -> Parser:
    """The argument parser of the ``mycorrhizal`` command."""
    parser = Parser(
        prog="mycorrhizal",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mycorrhizal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_running(sub)
    _add_drawing(sub)
    _add_distributed(sub)
    parser.commands = sub.choices
    return parser


# --------------------------------------------------------------------------- demo, serve


def _add_running(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run a named scenario", description="Run a named scenario.")
    demo.add_argument("name", choices=sorted(DEMOS))
    demo.add_argument("--out", help="folder for the scenario's pictures (created if missing)")
    demo.add_argument(
        "--log",
        help="write the run's event log: OCEL 2.0 JSON (.json) or SQLite (.sqlite), JSON lines (.jsonl)",
    )
    demo.add_argument("--serve", action="store_true", help="watch the scenario run in the browser")
    _add_live_options(demo)

    serve = sub.add_parser(
        "serve",
        help="run a net, machine or tree with a live view in the browser",
        description="Run a net, state machine or tree and watch it in the browser until Ctrl-C "
        "(needs mycorrhizal[live]).",
    )
    serve.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    _add_live_options(serve)


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=_port, help="port of the live view (default 8000; 0: any free one)")
    parser.add_argument(
        "--host", help="address to serve on (default 127.0.0.1: this machine only; others must be asked for)"
    )
    parser.add_argument("--speed", type=_speed, help="pace virtual time: virtual seconds per real second")
    parser.add_argument("--paused", action="store_true", help="start paused; step with the page's Step")


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a speed above 0 and at most {MAX_SPEED:g} (virtual seconds per real second). "
            "Fix: give e.g. 2 (twice real time) or 0.5"
        )
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number from 0 to 65535. Fix: give e.g. 8080, or 0 for any free one"
        )
    return int(text)


# --------------------------------------------------------------------------- render, check, diagrams


def _add_drawing(sub: Any) -> None:
    rend = sub.add_parser(
        "render",
        help="draw a net, state machine or tree",
        description="Draw a net, state machine or tree as svg, png, pdf, dot or mmd (Mermaid). Without "
        "-o, the file is named after the diagram, each run of characters other than letters, digits, "
        "'-', '_' and '.' made one '_' (orders/eu: orders_eu.svg).",
    )
    rend.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    rend.add_argument(
        "-o", "--output", help="output file; its suffix picks the format (default: <diagram name>.svg)"
    )
    rend.add_argument("-f", "--format", choices=FORMATS, help="format when -o has no suffix (dot: stdout)")

    check = sub.add_parser(
        "check",
        help="validate and analyse a net, state machine or tree",
        description="Validate and analyse a net, state machine or tree: print every definition problem "
        "and warning, and what the analysis found; exit status 1 if it found a problem.",
    )
    check.add_argument("target", metavar="TARGET", help=TARGET_HELP)

    diagrams = sub.add_parser(
        "diagrams",
        help="regenerate (or --check) the pictures of every example",
        description="Draw the pictures every example lists in its DIAGRAMS into the diagrams/ folder "
        "(.dot and .svg), or with --check only report the stale ones (exit status 1).",
    )
    diagrams.add_argument("--out", default=str(REPO_ROOT / "diagrams"), help="default: the diagrams/ folder")
    diagrams.add_argument("--examples", default=str(EXAMPLES), help="default: the examples/ folder")
    diagrams.add_argument("--check", action="store_true", help="only report stale pictures (exit 1)")


# --------------------------------------------------------------------------- worker, submit, inspect


def _add_distributed(sub: Any) -> None:
    worker = sub.add_parser(
        "worker",
        help="run a net's share of work from Redis until SIGTERM or Ctrl-C",
        description="Run a worker of a net whose shared places live in Redis Streams; stops cleanly "
        "on SIGTERM or Ctrl-C (firings in flight finish, tokens not fired go back to the others); a second "
        "one stops it at once (what it held goes to the others after its lease).",
    )
    _add_redis_options(worker)
    worker.add_argument("--concurrency", type=_positive, help="firings in flight per transition")
    worker.add_argument("--prefetch", type=_positive, help="tokens held at most (default 2 x concurrency)")
    worker.add_argument("--lease", type=_seconds, default=30.0, help="seconds before others reclaim a "
                        "silent worker's tokens (default 30)")  # fmt: skip
    worker.add_argument("--name", help="consumer name (default host-pid-random)")

    submit = sub.add_parser(
        "submit",
        help="put tokens into a shared place",
        description="Append tokens to a shared place. Each TOKEN is JSON (a codec's tagged form for "
        "other types); with no TOKEN, one JSON value per line is read from stdin.",
    )
    _add_redis_options(submit)
    submit.add_argument("place", help="the shared place, e.g. jobs")
    submit.add_argument("tokens", nargs="*", metavar="TOKEN", help="JSON, e.g. 42 or '{\"id\": 7}'")

    inspect = sub.add_parser(
        "inspect",
        help="show a durable run's store file (run.db), or a distributed net in Redis",
        description="With a store file (run.db): every run's recovered marking, what holds it back, "
        "and its recent journal.  With MODULE:ATTR of a net: tokens per shared place in Redis, "
        "pending per worker, live workers.",
    )
    _add_redis_options(inspect)
    inspect.set_defaults(**dict.fromkeys(REDIS_DEFAULTS))
    inspect.add_argument("--run", help="a store file: show only this run (default: every run)")
    inspect.add_argument(
        "--records",
        type=_count,
        default=None,
        help=f"a store file: recent journal records shown per run (default {DEFAULT_RECORDS})",
    )


def _add_redis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help=NET_HELP)
    parser.add_argument("--redis", default=DEFAULT_URL, help=f"Redis URL (default {DEFAULT_URL})")
    parser.add_argument("--prefix", default="mycorrhizal", help="key prefix (default mycorrhizal)")
    parser.add_argument("--shared", help="comma-separated shared places (default: every plain place)")
    parser.add_argument("--codecs", metavar="MODULE:ATTR", help="a CodecRegistry for the tokens' types")
    parser.add_argument(
        "--partitions", type=_positive, default=16, help="streams per fsm= transition input (default 16)"
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0. Fix: give 1 or more")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 86400:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds from 0.05 to 86400. Fix: give e.g. 30"
        )
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more). Fix: give e.g. 10")
    return int(text)
