"""The ``mycorrhizal`` command: run a scenario, draw any net/machine/tree, check one.

The command line is the one place that prints; the library underneath only logs. Every failure a
user can cause ends in one line on stderr and exit status 1 (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import math
import os
import runpy
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__, cli_redis
from .common.diagram import FALLBACK_PROGRAM, Diagram, Diagrammable, dot_available
from .common.errors import CommandError, MycorrhizalError
from .inspection import check_report, diagram_targets
from .render import diagram_of, render, to_dot
from .spores.logfile import LOG_SUFFIXES

try:
    from . import live
except ModuleNotFoundError as _missing:  # the optional extra mycorrhizal[live] (aiohttp) is absent
    if _missing.name is None or _missing.name.split(".")[0] != "aiohttp":
        raise
    live = None  # type: ignore[assignment]

__all__ = ["build_parser", "load_target", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
FORMATS = ("svg", "png", "pdf", "dot", "mmd")

#: Scenario name -> example script, relative to examples/.
DEMOS: dict[str, str] = {
    "circuit-breaker": "mycelium/circuit_breaker_handler.py",
    "job-queue": "mycelium/job_queue_processor.py",
}
#: Demos whose script takes --serve (and --speed, --paused, --host, --port): a live view of the run.
LIVE_DEMOS = ("circuit-breaker",)
NO_LIVE = "the live view needs aiohttp: pip install 'mycorrhizal[live]'"

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
NO_PICTURES = (
    f"mycorrhizal: note: neither Graphviz's 'dot' nor {FALLBACK_PROGRAM} is installed, so pictures "
    f"are written as .dot text only; 'pip install {FALLBACK_PROGRAM}' or install Graphviz for SVG/PNG"
)


# --------------------------------------------------------------------------- loading a target


@contextlib.contextmanager
def _first_on_path(folder: Path) -> Iterator[None]:
    """Put ``folder`` first on ``sys.path`` while loading, so the target imports its neighbours."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        sys.path.remove(entry)


def _where(exc: BaseException) -> str:
    """' (file, line N)' for the innermost frame of ``exc``'s traceback, or ''."""
    if isinstance(exc, SyntaxError):
        return ""  # its message already says where
    frames = traceback.extract_tb(exc.__traceback__)
    return f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""


def _load_failure(what: str, exc: Exception) -> CommandError:
    if isinstance(exc, MycorrhizalError):
        return CommandError(f"cannot load {what}: {exc}")
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return CommandError(f"cannot load {what}: {type(exc).__name__}: {first_line}{_where(exc)}")


def _run_file(module_part: str) -> dict[str, Any]:
    path = Path(module_part)
    if not path.is_file():
        raise CommandError(f"no such file {module_part!r}; give a path to a .py file or a dotted module")
    with _first_on_path(path.resolve().parent):
        try:
            return runpy.run_path(str(path), run_name=f"mycorrhizal_target_{path.stem}")
        except Exception as exc:  # anything the user's file raises while it runs
            raise _load_failure(repr(module_part), exc) from exc


def _import_module(module_part: str) -> dict[str, Any]:
    # Like 'python -m', a dotted name resolves from the current folder first.
    with _first_on_path(Path.cwd()):
        try:
            return vars(importlib.import_module(module_part))
        except ModuleNotFoundError as exc:
            if exc.name is not None and f"{module_part}.".startswith(f"{exc.name}."):
                raise CommandError(
                    f"cannot import module {module_part!r}: no module named {exc.name!r}; run from the "
                    "folder that holds it, or give a path to the .py file"
                ) from exc
            raise _load_failure(f"module {module_part!r}", exc) from exc
        except Exception as exc:  # anything the user's module raises while it is imported
            raise _load_failure(f"module {module_part!r}", exc) from exc


def load_target(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (dotted module or .py path) and return the attribute."""
    module_part, sep, attr_path = spec.partition(":")
    if not sep or not module_part or not attr_path:
        raise CommandError(
            f"{spec!r} is not MODULE:ATTRIBUTE; write e.g. 'examples/hypha/order_pipeline.py:Shop'",
            usage=True,
        )
    is_file = module_part.endswith(".py") or "/" in module_part or os.sep in module_part
    namespace = _run_file(module_part) if is_file else _import_module(module_part)
    obj: Any = namespace
    for i, name in enumerate(attr_path.split(".")):
        try:
            obj = obj[name] if i == 0 else getattr(obj, name)
        except (KeyError, AttributeError) as exc:
            raise CommandError(f"{module_part!r} has no attribute {attr_path!r}") from exc
    return obj


def _load_drawable(spec: str) -> Any:
    target = load_target(spec)
    if not isinstance(target, Diagram | Diagrammable):
        shown = repr(target)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise CommandError(
            f"{spec!r} is {shown} (of type {type(target).__name__}), which cannot be drawn or checked; "
            "name a septum state or machine, a hypha net or runner, a rhizomorph tree or runner, "
            "or a mycelium net"
        )
    return target


# --------------------------------------------------------------------------- commands


def _demo_argv(args: argparse.Namespace) -> list[str]:
    """The demo script's own options, from ours; refuses live-view options without --serve."""
    live_options = [f"--{name}" for name in ("speed", "paused", "host", "port") if getattr(args, name)]
    if not args.serve:
        if live_options:
            raise CommandError(f"{live_options[0]} only applies with --serve", usage=True)
        return []
    for option in ("out", "log"):
        if getattr(args, option) is not None:
            raise CommandError(f"--{option} and --serve do not go together; run the demo twice", usage=True)
    if args.name not in LIVE_DEMOS:
        raise CommandError(
            f"demo {args.name!r} has no live view; --serve works with: {', '.join(LIVE_DEMOS)}", usage=True
        )
    _need_live()
    port = 8000 if args.port is None else args.port
    argv = ["--serve", "--host", args.host or "127.0.0.1", "--port", str(port)]
    return argv + ["--speed", repr(args.speed or 1.0)] + (["--paused"] if args.paused else [])


def _need_live() -> None:
    if live is None:
        raise CommandError(NO_LIVE)


def _cmd_demo(args: argparse.Namespace) -> int:
    script = EXAMPLES / DEMOS[args.name]
    extra = _demo_argv(args)
    if not script.is_file():
        raise CommandError(
            f"demo {args.name!r} runs {script}, which is missing: demos ship with the source tree "
            "(clone the repository and 'pip install -e .')"
        )
    argv = [str(script), *extra]
    if args.serve:
        _ctrl_c_stops()
    if args.out is not None:
        _make_folder(Path(args.out), "--out")
        argv += ["--out", str(args.out)]
        if not dot_available():
            print(NO_PICTURES, file=sys.stderr)
    if args.log is not None:
        argv += ["--log", _log_file(args.log)]
    old_argv, sys.argv = sys.argv, argv
    try:
        with _first_on_path(script.parent):
            runpy.run_path(str(script), run_name="__main__")
    except OSError as exc:
        if args.serve:
            raise CommandError(str(exc)) from exc
        what = (
            "its pictures" if args.log is None else "its log" if args.out is None else "its pictures or log"
        )
        raise CommandError(f"demo {args.name!r} could not write {what}: {exc}") from exc
    finally:
        sys.argv = old_argv
    return 0


def _log_file(text: str) -> str:
    """Check a demo's ``--log`` file name and make its folder; returns it."""
    path = Path(text)
    if not path.name.lower().endswith(LOG_SUFFIXES):
        raise CommandError(
            f"--log {text!r}: end the file name with .json (OCEL 2.0 JSON), .sqlite (OCEL 2.0 SQLite) "
            "or .jsonl (JSON lines)",
            usage=True,
        )
    if path.is_dir():
        raise CommandError(
            f"--log {text!r} is a folder; give a file name such as {text.rstrip('/')}/events.json"
        )
    _make_folder(path.parent, "--log")
    return text


def _ctrl_c_stops() -> None:
    """Make Ctrl-C (SIGINT) end a served view even if this process inherited SIGINT as ignored.

    A program started in the background by a non-interactive shell (a CI job, ``nohup``...) has
    SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the view would never stop.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _cmd_serve(args: argparse.Namespace) -> int:
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


def _make_folder(folder: Path, option: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"{option} {str(folder)!r} is a file; give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create folder {str(folder)!r} for {option}: {exc.strerror}") from exc


def _format_of(output: str | None, fmt: str | None) -> str:
    """The format to write, from ``-f`` and/or the suffix of ``-o``; refuses a contradiction."""
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    suffix = "mmd" if suffix == "mermaid" else suffix
    if fmt is not None:
        if suffix and suffix != fmt:
            better = Path(str(output)).with_suffix(f".{fmt}")
            raise CommandError(
                f"-f {fmt} does not match the file name {output!r}; drop -f to write {suffix}, "
                f"or name the file {str(better)!r}",
                usage=True,
            )
        return fmt
    if output is None:
        return "svg"
    if not suffix:
        raise CommandError(
            f"cannot tell which format to write to {output!r}: name it {output}.svg (or .png, .pdf, "
            ".dot, .mmd), or pass -f",
            usage=True,
        )
    if suffix not in FORMATS:
        raise CommandError(
            f"{output!r}: mycorrhizal does not write .{suffix} files; use .svg, .png, .pdf, .dot or .mmd",
            usage=True,
        )
    return suffix


def _cmd_render(args: argparse.Namespace) -> int:
    fmt = _format_of(args.output, args.format)
    target = _load_drawable(args.target)
    if args.output is None and fmt == "dot":
        sys.stdout.write(to_dot(target))
        return 0
    output = args.output or f"{diagram_of(target).name}.{fmt}"
    try:
        path = render(target, output, format=fmt)
    except OSError as exc:
        raise CommandError(f"cannot write {output!r}: {exc.strerror or exc}") from exc
    print(f"wrote {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    target = _load_drawable(args.target)
    ok, lines = check_report(target)
    for line in lines:
        print(line)
    return 0 if ok else 1


def _example_diagrams(examples: Path) -> list[tuple[str, Diagram]]:
    if not examples.is_dir():
        raise CommandError(
            f"no examples folder at {str(examples)!r}: 'mycorrhizal diagrams' draws the examples of a "
            "source checkout; run it in one, or pass --examples DIR"
        )
    found = list(diagram_targets(examples))
    if not found:
        raise CommandError(f"no example in {str(examples)!r} declares DIAGRAMS; nothing to draw or check")
    return found


def _stale(out: Path, found: list[tuple[str, Diagram]]) -> list[str]:
    stale: list[str] = []
    for stem, diagram in found:
        dot_path = out / f"{stem}.dot"
        if not dot_path.is_file() or dot_path.read_text(encoding="utf-8") != to_dot(diagram):
            stale.append(stem)
        elif not (out / f"{stem}.svg").is_file():
            stale.append(f"{stem} (svg missing)")
    return stale


def _write_diagrams(out: Path, found: list[tuple[str, Diagram]]) -> None:
    draw = dot_available()
    if not draw:
        print(NO_PICTURES, file=sys.stderr)
    for stem, diagram in found:
        try:
            render(diagram, out / f"{stem}.dot", format="dot")
            if draw:
                render(diagram, out / f"{stem}.svg")
        except OSError as exc:
            raise CommandError(f"cannot write the diagrams into {str(out)!r}: {exc}") from exc


def _cmd_diagrams(args: argparse.Namespace) -> int:
    out = Path(args.out)
    found = _example_diagrams(Path(args.examples))
    if args.check:
        stale = _stale(out, found)
        if stale:
            print("stale diagrams (run 'mycorrhizal diagrams'): " + ", ".join(stale))
            return 1
        print(f"diagrams are current ({len(found)} checked)")
        return 0
    _make_folder(out, "--out")
    _write_diagrams(out, found)
    print(f"wrote {len(found)} diagrams to {out}")
    return 0


# --------------------------------------------------------------------------- the parser


def _add_commands(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run a named scenario", description="Run a named scenario.")
    demo.add_argument("name", choices=sorted(DEMOS))
    demo.add_argument("--out", help="folder for the scenario's pictures (created if missing)")
    demo.add_argument(
        "--log",
        help="write the run's event log: OCEL 2.0 JSON (.json) or SQLite (.sqlite), JSON lines (.jsonl)",
    )
    demo.add_argument("--serve", action="store_true", help="watch the scenario run in the browser")
    _add_live_options(demo)
    demo.set_defaults(func=_cmd_demo)

    serve = sub.add_parser(
        "serve",
        help="run a net, machine or tree with a live view in the browser",
        description="Run a net, state machine or tree and watch it in the browser until Ctrl-C "
        "(needs mycorrhizal[live]).",
    )
    serve.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    _add_live_options(serve)
    serve.set_defaults(func=_cmd_serve)

    rend = sub.add_parser(
        "render",
        help="draw a net, state machine or tree",
        description="Draw a net, state machine or tree as svg, png, pdf, dot or mmd (Mermaid).",
    )
    rend.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    rend.add_argument("-o", "--output", help="output file; its suffix picks the format (default: <name>.svg)")
    rend.add_argument("-f", "--format", choices=FORMATS, help="format when -o has no suffix (dot: stdout)")
    rend.set_defaults(func=_cmd_render)

    check = sub.add_parser("check", help="validate and analyse a net, state machine or tree")
    check.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    check.set_defaults(func=_cmd_check)

    diagrams = sub.add_parser("diagrams", help="regenerate (or --check) the pictures of every example")
    diagrams.add_argument("--out", default=str(REPO_ROOT / "diagrams"), help="default: the diagrams/ folder")
    diagrams.add_argument("--examples", default=str(EXAMPLES), help="default: the examples/ folder")
    diagrams.add_argument("--check", action="store_true", help="only report stale pictures (exit 1)")
    diagrams.set_defaults(func=_cmd_diagrams)

    cli_redis.add_commands(sub, load_target)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed above 0 (virtual seconds per real second)")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number from 0 to 65535 (0: any free one)")
    return int(text)


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=_port, help="port of the live view (default 8000; 0: any free one)")
    parser.add_argument(
        "--host", help="address to serve on (default 127.0.0.1: this machine only; others must be asked for)"
    )
    parser.add_argument("--speed", type=_speed, help="pace virtual time: virtual seconds per real second")
    parser.add_argument("--paused", action="store_true", help="start paused; step with the page's Step")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mycorrhizal`` command."""
    parser = argparse.ArgumentParser(
        prog="mycorrhizal",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mycorrhizal {__version__}")
    _add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mycorrhizal`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except CommandError as exc:
        print(f"mycorrhizal: {exc}", file=sys.stderr)
        return exc.exit_status
    except MycorrhizalError as exc:
        print(f"mycorrhizal: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
