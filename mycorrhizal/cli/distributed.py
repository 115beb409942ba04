"""The ``mycorrhizal worker``, ``submit`` and ``inspect`` commands: a net distributed over Redis.

Like the rest of the command line, every failure a user can cause ends in one line on stderr and
exit status 1 (2 for a malformed command line).  Needs the ``redis`` extra, except ``inspect`` of a
store file (:mod:`.stores`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError, CommandError, ExecutionError, StoreError, fix_last, reason
from ..hypha import NetSpec
from .parser import REDIS_DEFAULTS, STORE_DEFAULTS
from .stores import inspect_store, is_store
from .targets import load_target

try:
    from redis.exceptions import RedisError

    from .. import distribution
except ModuleNotFoundError as _missing:  # the optional extra mycorrhizal[redis] is absent
    if _missing.name is None or _missing.name.split(".")[0] != "redis":
        raise
    distribution = None  # type: ignore[assignment]
    RedisError = OSError  # type: ignore[misc,assignment]

__all__ = ["cmd_inspect", "cmd_submit", "cmd_worker"]

NO_REDIS = (
    "distribution needs the redis package, which is not installed. Fix: pip install 'mycorrhizal[redis]'"
)


def _setup(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """(net, the keyword arguments every Worker/Client of it takes)."""
    if distribution is None:
        raise CommandError(NO_REDIS)
    net = load_target(args.target)
    if not isinstance(net, NetSpec):
        raise CommandError(
            f"{args.target!r} is {type(net).__name__}, not a hypha net. Fix: name a net built with @pn.net"
        )
    codecs = CodecRegistry()
    if args.codecs:
        codecs = load_target(args.codecs)
        if not isinstance(codecs, CodecRegistry):
            raise CommandError(
                f"--codecs {args.codecs!r} is {type(codecs).__name__}, not a CodecRegistry. Fix: name the "
                "CodecRegistry your tokens' types are in"
            )
    shared = [name.strip() for name in args.shared.split(",") if name.strip()] if args.shared else None
    options = {"redis": args.redis, "prefix": args.prefix, "shared": shared, "codecs": codecs}
    return net, {**options, "partitions": args.partitions}


def _run(coroutine: Any, url: str) -> Any:
    try:
        return asyncio.run(coroutine)
    except (RedisError, OSError) as exc:
        raise CommandError(
            f"cannot reach Redis at {url}: {type(exc).__name__}: {reason(exc)}. Fix: check the URL (--redis "
            f"{url}), that its redis-server runs and that this machine can reach it"
        ) from exc
    except (StoreError, ExecutionError) as exc:
        raise CommandError(str(exc)) from exc


# --------------------------------------------------------------------------- worker


def cmd_worker(args: argparse.Namespace) -> int:
    """``mycorrhizal worker TARGET``: work on the net until SIGTERM or Ctrl-C."""
    net, options = _setup(args)
    worker = distribution.Worker(
        net, **options, concurrency=args.concurrency, prefetch=args.prefetch, lease=args.lease, name=args.name
    )
    _run(_work(worker), args.redis)
    stats = worker.runner.stats
    print(f"worker {worker.name} stopped: {stats.firings} firings, {worker.reclaimed} tokens reclaimed, "
          f"{worker.fenced} firings fenced, {worker.dropped} tokens dropped unfired", flush=True)  # fmt: skip
    return 0


async def _work(worker: Any) -> None:
    stop, force = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        if stop.is_set():  # a second signal: stop at once, as a crash would
            force.set()
            return
        stop.set()
        print(f"worker {worker.name} stopping: firings in flight get up to {worker.lease:g} s to finish; "
              "SIGTERM or Ctrl-C again stops it at once", flush=True)  # fmt: skip

    # Installed explicitly: a process started in the background by a non-interactive shell has
    # SIGINT ignored, and SIGTERM (what service managers send) would otherwise kill it outright.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled)
    await worker.start()
    print(f"worker {worker.name} started: net {worker.shared.flat.name}, shared places "
          f"{', '.join(worker.shared.shared)}", flush=True)  # fmt: skip
    # Until SIGTERM/Ctrl-C or the worker fails (it stops then, and this raises why). Firings still in
    # flight after one lease are cancelled and their tokens given back: by then the other workers
    # would have reclaimed them anyway.
    running = asyncio.ensure_future(worker.run(stop, timeout=worker.lease))
    forced = asyncio.ensure_future(force.wait())
    await asyncio.wait([running, forced], return_when=asyncio.FIRST_COMPLETED)
    forced.cancel()
    if running.done():
        running.result()  # (raises why the worker failed, if it did)
        return
    held = worker.holding
    await worker.abort()  # (cancels the clean stop under way)
    await asyncio.gather(running, return_exceptions=True)
    raise CommandError(
        f"worker {worker.name} stopped at once on a second signal: the {held} token(s) it held stay leased "
        f"to it, and other workers take them over once its lease of {worker.lease:g} s runs out. Fix: to "
        "stop cleanly, send one signal and wait"
    )


# --------------------------------------------------------------------------- submit


_JSON_TOKEN = (
    "give each TOKEN as JSON, e.g. 42, '\"text\"' or '{\"id\": 7}' (a codec's tagged form for other types)"
)


def _tokens(args: argparse.Namespace, codecs: CodecRegistry) -> list[Any]:
    if not args.tokens and sys.stdin.isatty():  # else it would seem to hang, waiting for typing
        print(
            "mycorrhizal: no TOKEN given: type one JSON token per line, then Ctrl-D "
            "(Ctrl-Z Enter on Windows)",
            file=sys.stderr,
        )
    texts = args.tokens or [line for line in sys.stdin.read().splitlines() if line.strip()]
    tokens = []
    for number, text in enumerate(texts, 1):
        try:
            tokens.append(codecs.decode(json.loads(text)))
        except (ValueError, CodecError) as exc:
            said = f"token {number} ({text[:40]!r}) is not a JSON token: {exc}"
            raise CommandError(fix_last(said, "", otherwise=_JSON_TOKEN)) from exc
    return tokens


def cmd_submit(args: argparse.Namespace) -> int:
    """``mycorrhizal submit TARGET PLACE [TOKEN...]``: append tokens to a shared place."""
    net, options = _setup(args)
    tokens = _tokens(args, options["codecs"])

    async def submit() -> int:
        async with distribution.Client(net, **options) as client:
            return len(await client.submit(args.place, tokens))

    count = _run(submit(), args.redis)
    print(f"submitted {count} token(s) to {args.place}")
    return 0


# --------------------------------------------------------------------------- inspect


def cmd_inspect(args: argparse.Namespace) -> int:
    """``mycorrhizal inspect TARGET``: a store file's runs, or a distributed net's places and workers."""
    if is_store(args.target):
        return inspect_store(args)
    given = [f"--{name}" for name in sorted(STORE_DEFAULTS) if getattr(args, name) is not None]
    if given:  # parsed as None so a net can refuse them, as a store file refuses the Redis options
        one = len(given) == 1
        raise CommandError(
            f"{', '.join(given)} {'is' if one else 'are'} for a store file (run.db), not the net "
            f"{args.target!r} distributed over Redis. Fix: drop {'it' if one else 'them'}, or name the store "
            "file instead of MODULE:ATTR",
            usage=True,
        )
    for name, default in REDIS_DEFAULTS.items():  # parsed as None so a store file can refuse them
        if getattr(args, name) is None:
            setattr(args, name, default)
    net, options = _setup(args)

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
    for k in status.keyed:
        held = ", ".join(f"{name}: {count}" for name, count in sorted(k.held.items())) or "-"
        states = ", ".join(f"{state} {count}" for state, count in sorted(k.machines.items()))
        lines += [
            f"keyed {k.place} (machines of {k.transition}): {k.partitions} partitions",
            f"  held: {held} (free: {k.free})",
            f"  machines: {sum(k.machines.values())}" + (f" ({states})" if states else ""),
        ]
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
