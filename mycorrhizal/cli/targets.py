"""Finding what a command works on: the user's ``MODULE:ATTR``, a dotted module or a ``.py`` file."""

from __future__ import annotations

import contextlib
import importlib
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..common.diagram import Diagram, Diagrammable
from ..common.errors import CommandError, MycorrhizalError, did_you_mean, fix_last

__all__ = ["first_on_path", "load_drawable", "load_target"]


@contextlib.contextmanager
def first_on_path(folder: Path) -> Iterator[None]:
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


_SEE = "correct it there; loading it with python alone shows the whole traceback"


def _load_failure(what: str, exc: BaseException) -> CommandError:
    if isinstance(exc, SystemExit):  # a script run on import: it would end the command unexplained
        return CommandError(
            f"cannot load {what}: it calls sys.exit({exc.code!r}) as it loads{_where(exc)}. Fix: put what "
            "runs it as a script under if __name__ == '__main__':"
        )
    if isinstance(exc, MycorrhizalError):
        return CommandError(fix_last(f"cannot load {what}: {exc}", "", otherwise=_SEE))
    first_line = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
    return CommandError(f"cannot load {what}: {type(exc).__name__}: {first_line}{_where(exc)}. Fix: {_SEE}")


def _run_file(module_part: str) -> dict[str, Any]:
    path = Path(module_part)
    if not path.is_file():
        raise CommandError(f"no such file {module_part!r}. Fix: give a path to a .py file or a dotted module")
    with first_on_path(path.resolve().parent):
        try:
            return runpy.run_path(str(path), run_name=f"mycorrhizal_target_{path.stem}")
        except (Exception, SystemExit) as exc:  # anything the user's file raises while it runs
            raise _load_failure(repr(module_part), exc) from exc


def _import_module(module_part: str) -> dict[str, Any]:
    # Like 'python -m', a dotted name resolves from the current folder first.
    with first_on_path(Path.cwd()):
        try:
            return vars(importlib.import_module(module_part))
        except ModuleNotFoundError as exc:
            if exc.name is not None and f"{module_part}.".startswith(f"{exc.name}."):
                raise CommandError(
                    f"cannot import module {module_part!r}: no module named {exc.name!r}. Fix: run from the "
                    "folder that holds it, or give a path to the .py file"
                ) from exc
            raise _load_failure(f"module {module_part!r}", exc) from exc
        except (Exception, SystemExit) as exc:  # anything the user's module raises while it is imported
            raise _load_failure(f"module {module_part!r}", exc) from exc


def load_target(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (dotted module or .py path) and return the attribute."""
    module_part, sep, attr_path = spec.partition(":")
    if not sep or not module_part or not attr_path:
        raise CommandError(
            f"{spec!r} is not MODULE:ATTRIBUTE. Fix: write e.g. 'examples/hypha/order_pipeline.py:Shop'",
            usage=True,
        )
    is_file = module_part.endswith(".py") or "/" in module_part or os.sep in module_part
    namespace = _run_file(module_part) if is_file else _import_module(module_part)
    obj: Any = namespace
    for i, name in enumerate(attr_path.split(".")):
        try:
            obj = obj[name] if i == 0 else getattr(obj, name)
        except (KeyError, AttributeError) as exc:
            offer = _drawables(namespace, name) if i == 0 else _attributes(obj, name)
            raise CommandError(f"{module_part!r} has no attribute {attr_path!r}{offer}") from exc
    return obj


def _drawables(namespace: dict[str, Any], wanted: str) -> str:
    """What a loaded file offers, to end the error for ``wanted``, which it lacks (most often a typo)."""
    # A class with to_diagram (an imported Runner) passes the protocol check but is not drawable.
    names = [
        name
        for name, value in namespace.items()
        if not name.startswith("_")
        and not isinstance(value, type)
        and isinstance(value, Diagram | Diagrammable)
    ]
    if not names:
        return (
            "; it defines nothing that can be drawn or checked. Fix: name a file that defines a net, "
            "state machine or tree"
        )
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return ". Fix: " + did_you_mean(
        wanted, names, f"name one of what it defines that can be drawn or checked: {shown}"
    )


def _attributes(obj: Any, wanted: str) -> str:
    """The end of the error for ``wanted``, an attribute that ``obj`` (reached by the path) lacks."""
    public = [name for name in dir(obj) if not name.startswith("_")]
    return ". Fix: " + did_you_mean(wanted, public, "check the attribute path after the ':'")


def load_drawable(spec: str) -> Diagram | Diagrammable:
    """:func:`load_target`, refusing anything that cannot be drawn or checked."""
    target = load_target(spec)
    if isinstance(target, type) and issubclass(target, Diagrammable):  # to_diagram needs an instance
        raise CommandError(
            f"{spec!r} is the class {target.__name__}, which cannot be drawn or checked. Fix: name an "
            "instance of it, or the net, state machine or tree it runs"
        )
    if not isinstance(target, Diagram | Diagrammable):
        shown = repr(target)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise CommandError(
            f"{spec!r} is {shown} (of type {type(target).__name__}), which cannot be drawn or checked. "
            "Fix: name a septum state or machine, a hypha net or runner, a rhizomorph tree or runner, "
            "or a mycelium net"
        )
    return target
