"""The ``mycorrhizal`` command: run a scenario, draw any net/machine/tree, check one.

    mycorrhizal demo circuit-breaker [--out DIR]
    mycorrhizal render MODULE:ATTR [-o PATH] [-f svg|png|pdf|dot|mmd]
    mycorrhizal check MODULE:ATTR
    mycorrhizal diagrams [--out DIR] [--check]

``MODULE`` is a dotted module name (``mypkg.flows``) or a path to a ``.py`` file
(``examples/hypha/pipeline.py``). The command line is the one place that prints; the library
underneath only logs.
"""

from __future__ import annotations

import argparse
import importlib
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common.diagram import dot_available
from .common.errors import CommandError, MycorrhizalError
from .inspection import check_report, diagram_targets
from .render import diagram_of, render, to_dot

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"

#: Scenario name -> example script, relative to examples/.
DEMOS: dict[str, str] = {
    "circuit-breaker": "mycelium/circuit_breaker_handler.py",
    "job-queue": "mycelium/job_queue_processor.py",
}


def load_target(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (dotted module or .py path) and return the attribute."""
    module_part, sep, attr_path = spec.partition(":")
    if not sep or not module_part or not attr_path:
        raise CommandError(
            f"{spec!r} is not MODULE:ATTRIBUTE; write e.g. 'examples/hypha/pipeline.py:Pipeline'"
        )
    namespace: Any
    if module_part.endswith(".py") or "/" in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise CommandError(f"no such file {module_part!r}; give a path to a .py file or a dotted module")
        # The script's own folder goes first on sys.path so it can import its neighbours.
        sys.path.insert(0, str(path.resolve().parent))
        namespace = runpy.run_path(str(path), run_name=f"mycorrhizal_target_{path.stem}")
    else:
        try:
            namespace = vars(importlib.import_module(module_part))
        except ImportError as exc:
            raise CommandError(f"cannot import module {module_part!r}: {exc}") from exc
    obj: Any = namespace
    for i, name in enumerate(attr_path.split(".")):
        try:
            obj = obj[name] if i == 0 else getattr(obj, name)
        except (KeyError, AttributeError) as exc:
            raise CommandError(f"{module_part!r} has no attribute {attr_path!r}") from exc
    return obj


def _cmd_demo(args: argparse.Namespace) -> int:
    script = EXAMPLES / DEMOS[args.name]
    if not script.is_file():
        raise CommandError(
            f"demo {args.name!r} runs {script}, which is missing: demos ship with the source tree "
            "(clone the repository and 'pip install -e .')"
        )
    argv = [str(script)] + (["--out", str(args.out)] if args.out else [])
    old_argv, sys.argv = sys.argv, argv
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = old_argv
        sys.path.remove(str(script.parent))
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "svg")
    if args.output is None:
        if fmt == "dot":
            sys.stdout.write(to_dot(target))
            return 0
        name = diagram_of(target).name
        args.output = f"{name}.{fmt}"
    path = render(target, args.output, format=fmt)
    print(f"wrote {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    ok, lines = check_report(target)
    for line in lines:
        print(line)
    return 0 if ok else 1


def _cmd_diagrams(args: argparse.Namespace) -> int:
    out = Path(args.out)
    stale: list[str] = []
    written = 0
    for stem, diagram in diagram_targets(EXAMPLES):
        dot_path = out / f"{stem}.dot"
        source = to_dot(diagram)
        if args.check:
            if not dot_path.is_file() or dot_path.read_text(encoding="utf-8") != source:
                stale.append(stem)
            elif not (out / f"{stem}.svg").is_file():
                stale.append(f"{stem} (svg missing)")
            continue
        dot_path.parent.mkdir(parents=True, exist_ok=True)
        dot_path.write_text(source, encoding="utf-8")
        if dot_available():
            render(diagram, out / f"{stem}.svg")
        written += 1
    if args.check:
        if stale:
            print("stale diagrams (run 'mycorrhizal diagrams'): " + ", ".join(stale))
            return 1
        print("diagrams are current")
        return 0
    print(f"wrote {written} diagrams to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mycorrhizal`` command."""
    parser = argparse.ArgumentParser(prog="mycorrhizal", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run a named scenario")
    demo.add_argument("name", choices=sorted(DEMOS))
    demo.add_argument("--out", help="folder for the scenario's pictures")
    demo.set_defaults(func=_cmd_demo)

    rend = sub.add_parser("render", help="draw a net, state machine or tree given as MODULE:ATTR")
    rend.add_argument("target")
    rend.add_argument("-o", "--output", help="output file (default: <name>.<format>; dot goes to stdout)")
    rend.add_argument("-f", "--format", choices=["svg", "png", "pdf", "dot", "mmd"])
    rend.set_defaults(func=_cmd_render)

    check = sub.add_parser("check", help="validate and analyse a net, state machine or tree")
    check.add_argument("target")
    check.set_defaults(func=_cmd_check)

    diagrams = sub.add_parser("diagrams", help="regenerate the pictures of every example")
    diagrams.add_argument("--out", default=str(REPO_ROOT / "diagrams"))
    diagrams.add_argument("--check", action="store_true", help="only report stale pictures")
    diagrams.set_defaults(func=_cmd_diagrams)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mycorrhizal`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except MycorrhizalError as exc:
        print(f"mycorrhizal: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())
