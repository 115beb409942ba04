"""The ``mycorrhizal render``, ``check`` and ``diagrams`` commands: pictures and checks of a spec."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from ..common.diagram import FALLBACK_PROGRAM, Diagram, dot_available
from ..common.errors import CommandError
from ..inspection import check_report, diagram_targets
from ..render import diagram_of, render, to_dot
from .parser import FORMATS
from .targets import load_drawable

__all__ = ["NO_PICTURES", "cmd_check", "cmd_diagrams", "cmd_render", "file_stem", "make_folder"]

NO_PICTURES = (
    f"mycorrhizal: note: neither Graphviz's 'dot' nor {FALLBACK_PROGRAM} is installed, so pictures "
    f"are written as .dot text only; 'pip install {FALLBACK_PROGRAM}' or install Graphviz for SVG/PNG"
)


def make_folder(folder: Path, option: str) -> None:
    """Create ``folder`` (given with ``option``) if missing; CommandError if it cannot be one."""
    if folder.exists() and not folder.is_dir():
        raise CommandError(
            f"{option} {str(folder)!r} is a file. Fix: give a folder (it is created if missing)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"cannot create folder {str(folder)!r} for {option}: {exc.strerror}. Fix: give {option} a "
            "place you may write to (its folders are created if missing)"
        ) from exc


def _why(exc: OSError, path: Path) -> str:
    """What stopped writing under ``path``: a file where a folder must be (whose error would read
    'File exists' or 'Not a directory'), else the system's reason."""
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    return f"{str(blocking)!r} is a file, not a folder" if blocking else str(exc.strerror or exc)


def _format_of(output: str | None, fmt: str | None) -> str:
    """The format to write, from ``-f`` and/or the suffix of ``-o``; refuses a contradiction."""
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    suffix = "mmd" if suffix == "mermaid" else suffix
    if fmt is not None:
        if suffix and suffix != fmt:
            better = Path(str(output)).with_suffix(f".{fmt}")
            raise CommandError(
                f"-f {fmt} does not match the file name {output!r}. Fix: drop -f to write {suffix}, "
                f"or name the file {str(better)!r}",
                usage=True,
            )
        return fmt
    if output is None:
        return "svg"
    if not suffix:
        raise CommandError(
            f"cannot tell which format to write to -o {output!r}. Fix: name it {output}.svg (or .png, "
            ".pdf, .dot, .mmd), or pass -f",
            usage=True,
        )
    if suffix not in FORMATS:
        raise CommandError(
            f"-o {output!r}: mycorrhizal does not write .{suffix} files. Fix: use .svg, .png, .pdf, .dot "
            "or .mmd",
            usage=True,
        )
    return suffix


def file_stem(name: str) -> str:
    """A file name for the diagram ``name``, the default of ``-o``: each run of characters other than
    letters, digits, '-', '_' and '.' made one '_', and leading or trailing '.' and '_' dropped, so a
    name holding a path separator writes no folder and '..' does not leave the current folder."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "diagram"


def _is_folder(output: str | None) -> bool:
    """Whether ``-o`` names a folder: one that exists, or a name ending with a slash."""
    return output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir())


def cmd_render(args: argparse.Namespace) -> int:
    """``mycorrhizal render TARGET [-o FILE] [-f FORMAT]``."""
    if _is_folder(args.output):
        name = f"{file_stem(diagram_of(load_drawable(args.target)).name)}.{args.format or 'svg'}"
        example = Path(args.output) / name
        raise CommandError(
            f"-o {args.output!r} is a folder. Fix: give a file name, e.g. -o {example}", usage=True
        )
    fmt = _format_of(args.output, args.format)
    target = load_drawable(args.target)
    if args.output is None and fmt == "dot":
        sys.stdout.write(to_dot(target))
        return 0
    output = args.output or f"{file_stem(diagram_of(target).name)}.{fmt}"
    try:
        path = render(target, output, format=fmt)
    except OSError as exc:
        raise CommandError(
            f"cannot write -o {output!r}: {_why(exc, Path(output))}. Fix: give -o a file in a folder "
            "that exists and that you may write to"
        ) from exc
    print(f"wrote {path}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """``mycorrhizal check TARGET``: exit status 1 if the report found a problem."""
    ok, lines = check_report(load_drawable(args.target))
    for line in lines:
        print(line)
    return 0 if ok else 1


def _example_diagrams(examples: Path) -> list[tuple[str, Diagram]]:
    if not examples.is_dir():
        raise CommandError(
            f"no examples folder at {str(examples)!r}: 'mycorrhizal diagrams' draws the examples of a "
            "source checkout. Fix: run it in one, or pass --examples DIR"
        )
    found = list(diagram_targets(examples))
    if not found:
        raise CommandError(
            f"no example in {str(examples)!r} declares DIAGRAMS, so there is nothing to draw or check. "
            "Fix: list an example's pictures in a module-level DIAGRAMS = {'name': spec}, or pass "
            "--examples DIR"
        )
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
            raise CommandError(
                f"cannot write the diagrams into {str(out)!r}: {_why(exc, out)}. Fix: give --out a folder "
                "you may write to"
            ) from exc


def cmd_diagrams(args: argparse.Namespace) -> int:
    """``mycorrhizal diagrams [--check]``: exit status 1 if ``--check`` found stale pictures."""
    out = Path(args.out)
    found = _example_diagrams(Path(args.examples))
    if args.check:
        stale = _stale(out, found)
        if stale:
            print("stale diagrams (run 'mycorrhizal diagrams'): " + ", ".join(stale))
            return 1
        print(f"diagrams are current ({len(found)} checked)")
        return 0
    make_folder(out, "--out")
    _write_diagrams(out, found)
    print(f"wrote {len(found)} diagrams to {out}")
    return 0
