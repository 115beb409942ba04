"""The ``mycorrhizal`` command: run a scenario, draw any net/machine/tree, check one, watch one live,
run a net over Redis, look into a store.

The command line is the one place that prints; the library underneath only logs. Every failure a
user can cause ends in one line on stderr and exit status 1 (2 for a malformed command line, 130
for Ctrl-C).

Reading the command line needs only :mod:`.parser`; each command lives in the module named for it in
:data:`COMMANDS`, imported when that command runs.  So ``mycorrhizal render`` does not load the live
view's web server, nor does every ``mycorrhizal worker`` process pay for pictures and event logs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from ..common.errors import CommandError, MycorrhizalError
from .parser import build_parser, parse
from .targets import load_target

__all__ = ["COMMANDS", "build_parser", "command", "load_target", "main"]

#: Command -> the module of this package that carries it out, as ``cmd_<command>(args)``.
COMMANDS: dict[str, str] = {
    "demo": "running",
    "serve": "running",
    "render": "drawing",
    "check": "drawing",
    "diagrams": "drawing",
    "worker": "distributed",
    "submit": "distributed",
    "inspect": "distributed",
}


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that carries out command ``name``, its module imported now."""
    handler: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f"{__name__}.{COMMANDS[name]}"), f"cmd_{name}"
    )
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mycorrhizal`` command; returns the exit status."""
    args = parse(argv)
    try:
        status: int = command(args.command)(args)
    except CommandError as exc:
        print(f"mycorrhizal: {exc}", file=sys.stderr)
        return exc.exit_status
    except MycorrhizalError as exc:
        print(f"mycorrhizal: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C where a command does not stop cleanly by itself: no traceback
        print("mycorrhizal: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    return status
