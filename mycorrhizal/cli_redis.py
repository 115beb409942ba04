"""The ``mycorrhizal worker``, ``submit`` and ``inspect`` commands: a net distributed over Redis.

Like the rest of the command line, every failure a user can cause ends in one line on stderr and
exit status 1 (2 for a malformed command line).  Needs the ``redis`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from typing import Any

from . import cli_store
from .common.codecs import CodecRegistry
from .common.errors import CodecError, CommandError, StoreError
from .hypha import NetSpec

try:
    from redis.exceptions import RedisError

    from . import distribution
except ModuleNotFoundError as _missing:  # the optional extra mycorrhizal[redis] is absent
    if _missing.name is None or _missing.name.split(".")[0] != "redis":
        raise
    distribution = None  # type: ignore[assignment]
    RedisError = OSError  # type: ignore[misc,assignment]

__all__ = ["add_commands"]

NO_REDIS = "distribution needs the redis package: pip install 'mycorrhizal[redis]'"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
TARGET_HELP = "MODULE:ATTR of the net, e.g. myapp.flows:Orders (the same for every worker)"

Loader = Callable[[str], Any]


def add_commands(sub: Any, load_target: Loader) -> None:
    """Add ``worker``, ``submit`` and ``inspect`` to the command line's subparsers."""
    worker = sub.add_parser(
        "worker",
        help="run a net's share of work from Redis until SIGTERM or Ctrl-C",
        description="Run a worker of a net whose shared places live in Redis Streams; stops cleanly "
        "on SIGTERM or Ctrl-C (firings in flight finish, tokens not fired go back to the others).",
    )
    _common(worker)
    worker.add_argument("--concurrency", type=_positive, help="firings in flight per transition")
    worker.add_argument("--prefetch", type=_positive, help="tokens held at most (default 2 x concurrency)")
    worker.add_argument("--lease", type=_seconds, default=30.0, help="seconds before others reclaim a "
                        "silent worker's tokens (default 30)")  # fmt: skip
    worker.add_argument("--name", help="consumer name (default host-pid-random)")
    worker.set_defaults(func=lambda args: _cmd_worker(args, load_target))

    submit = sub.add_parser(
        "submit",
        help="put tokens into a shared place",
        description="Append tokens to a shared place. Each TOKEN is JSON (a codec's tagged form for "
        "other types); with no TOKEN, one JSON value per line is read from stdin.",
    )
    _common(submit)
    submit.add_argument("place", help="the shared place, e.g. jobs")
    submit.add_argument("tokens", nargs="*", metavar="TOKEN", help="JSON, e.g. 42 or '{\"id\": 7}'")
    submit.set_defaults(func=lambda args: _cmd_submit(args, load_target))

    inspect = sub.add_parser(
        "inspect",
        help="show a durable run's store file (run.db), or a distributed net in Redis",
        description="With a store file (run.db): every run's recovered marking, what holds it back, "
        "and its recent journal.  With MODULE:ATTR of a net: tokens per shared place in Redis, "
        "pending per worker, live workers.",
    )
    _common(inspect)
    cli_store.add_inspect_options(inspect)
    inspect.set_defaults(
        func=lambda args: (
            cli_store.inspect_store(args)
            if cli_store.is_store(args.target)
            else _cmd_inspect(args, load_target)
        )
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument("--redis", default=DEFAULT_URL, help=f"Redis URL (default {DEFAULT_URL})")
    parser.add_argument("--prefix", default="mycorrhizal", help="key prefix (default mycorrhizal)")
    parser.add_argument("--shared", help="comma-separated shared places (default: every plain place)")
    parser.add_argument("--codecs", metavar="MODULE:ATTR", help="a CodecRegistry for the tokens' types")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0.05 to 86400")
    return value


def _setup(args: argparse.Namespace, load_target: Loader) -> tuple[Any, dict[str, Any]]:
    """(net, the keyword arguments every Worker/Client of it takes)."""
    if distribution is None:
        raise CommandError(NO_REDIS)
    net = load_target(args.target)
    if not isinstance(net, NetSpec):
        raise CommandError(
            f"{args.target!r} is {type(net).__name__}, not a hypha net; name a net built with @pn.net"
        )
    codecs = CodecRegistry()
    if args.codecs:
        codecs = load_target(args.codecs)
        if not isinstance(codecs, CodecRegistry):
            raise CommandError(f"--codecs {args.codecs!r} is {type(codecs).__name__}, not a CodecRegistry")
    shared = [name.strip() for name in args.shared.split(",") if name.strip()] if args.shared else None
    return net, {"redis": args.redis, "prefix": args.prefix, "shared": shared, "codecs": codecs}


def _run(coroutine: Any, url: str) -> Any:
    try:
        return asyncio.run(coroutine)
    except (RedisError, OSError) as exc:
        raise CommandError(f"cannot reach Redis at {url}: {type(exc).__name__}: {exc}") from exc
    except StoreError as exc:
        raise CommandError(str(exc)) from exc


# --------------------------------------------------------------------------- worker


def _cmd_worker(args: argparse.Namespace, load_target: Loader) -> int:
    net, options = _setup(args, load_target)
    worker = distribution.Worker(
        net, **options, concurrency=args.concurrency, prefetch=args.prefetch, lease=args.lease, name=args.name
    )
    _run(_work(worker), args.redis)
    stats = worker.runner.stats
    print(f"worker {worker.name} stopped: {stats.firings} firings, {worker.reclaimed} tokens reclaimed, "
          f"{worker.fenced} stale firings dropped", flush=True)  # fmt: skip
    return 0


async def _work(worker: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Installed explicitly: a process started in the background by a non-interactive shell has
    # SIGINT ignored, and SIGTERM (what service managers send) would otherwise kill it outright.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    print(f"worker {worker.name} started: net {worker.shared.flat.name}, shared places "
          f"{', '.join(worker.shared.shared)}", flush=True)  # fmt: skip
    try:
        await stop.wait()
    finally:
        # Firings still in flight after one lease are cancelled and their tokens given back: by then
        # the other workers would have reclaimed them anyway.
        await worker.stop(timeout=worker.lease)


# --------------------------------------------------------------------------- submit


def _tokens(args: argparse.Namespace, codecs: CodecRegistry) -> list[Any]:
    texts = args.tokens or [line for line in sys.stdin.read().splitlines() if line.strip()]
    tokens = []
    for number, text in enumerate(texts, 1):
        try:
            tokens.append(codecs.decode(json.loads(text)))
        except (ValueError, CodecError) as exc:
            raise CommandError(f"token {number} ({text[:40]!r}) is not a JSON token: {exc}") from exc
    return tokens


def _cmd_submit(args: argparse.Namespace, load_target: Loader) -> int:
    net, options = _setup(args, load_target)
    tokens = _tokens(args, options["codecs"])

    async def submit() -> int:
        async with distribution.Client(net, **options) as client:
            return len(await client.submit(args.place, tokens))

    count = _run(submit(), args.redis)
    print(f"submitted {count} token(s) to {args.place}")
    return 0


# --------------------------------------------------------------------------- inspect


def _cmd_inspect(args: argparse.Namespace, load_target: Loader) -> int:
    net, options = _setup(args, load_target)

    async def status() -> Any:
        async with distribution.Client(net, **options) as client:
            return await client.status()

    for line in _report(_run(status(), args.redis)):
        print(line)
    return 0


def _report(status: Any) -> list[str]:
    width = max([len("place"), *(len(p.place) for p in status.places)])
    lines = [
        f"net {status.net}",
        f"{'place':<{width}}  {'tokens':>8}  {'waiting':>8}  {'dead':>5}  pending per worker",
    ]
    for p in status.places:
        pending = ", ".join(f"{name}: {count}" for name, count in sorted(p.pending.items())) or "-"
        lines.append(f"{p.place:<{width}}  {p.depth:>8}  {p.waiting:>8}  {p.dead:>5}  {pending}")
    alive = [w for w in status.workers if w.alive]
    lines.append(
        f"workers: {len(alive)} alive"
        + (f", {len(status.workers) - len(alive)} silent" if len(alive) < len(status.workers) else "")
    )
    for w in status.workers:
        state = "alive" if w.alive else "silent"
        where = f"{w.info.get('host', '?')} pid {w.info.get('pid', '?')}"
        lines.append(
            f"  {w.name}  {state}, seen {w.seen:.1f}s ago, {where}, holding {w.info.get('holding', '?')}"
        )
    return lines
