"""``mycorrhizal inspect run.db``: what a durability store holds, as recovery would rebuild it.

For every run in an SQLite store (or the one named with ``--run``): its epoch and journal, the
recovered marking (the latest snapshot with the journal records after it replayed, the way
``Runner.recover`` does, without the net or the token types: tokens are shown in their encoded JSON
form), what holds transitions and sinks back, what transitions keep in ``ctx.memory``, and the most
recent journal records.  The command shares ``inspect`` with the Redis view of a distributed net
(:mod:`.distributed`): a path to an existing file (or anything without ``MODULE:ATTR``'s colon) is a
store.  Failures end in one line on stderr and exit status 1, like the rest of the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from ..common.codecs import JSON
from ..common.errors import CommandError, StoreError, did_you_mean, fix_last
from ..common.store import Record, Recovery, RunInfo
from ..durability import SQLiteStore
from ..hypha.replay import replay
from .parser import DEFAULT_RECORDS, REDIS_DEFAULTS

__all__ = ["inspect_store", "is_store", "store_report"]

SHOWN_TOKENS = 5
"""Tokens shown per place (the count says how many there are)."""
PREVIEW = 72
"""Characters of a record's JSON shown before it is cut with '...'."""
TOKEN_PREVIEW = 40
"""The same for a token."""
MACHINE_POOL = "mycelium.MachinePool"
"""The type name of an fsm= transition's machines in documents (listed one per line)."""


_STORE = "give the file a Runner with store=SQLiteStore(...) wrote"


def _no_run(infos: tuple[RunInfo, ...], path: str, run: str) -> str:
    """The error for ``--run run``, which the store ``path`` does not hold, with the runs it holds."""
    known = [info.run for info in infos]
    if not known:
        return f"store {path!r} has no run {run!r}: it holds none yet. Fix: drop --run"
    shown = ", ".join(map(repr, known))
    fix = did_you_mean(run, known, f"give --run one of: {shown}")
    return f"store {path!r} has no run {run!r}. Fix: {fix}"


def is_store(target: str) -> bool:
    """Whether ``inspect``'s TARGET names a store file rather than a net (``MODULE:ATTR``)."""
    return ":" not in target or Path(target).is_file()


def inspect_store(args: argparse.Namespace) -> int:
    """Print the report of the store file ``args.target``; exit status 0."""
    given = [f"--{name}" for name in sorted(REDIS_DEFAULTS) if getattr(args, name) is not None]
    if given:
        one = len(given) == 1
        raise CommandError(
            f"{', '.join(given)} {'is' if one else 'are'} for a net distributed over Redis "
            f"(MODULE:ATTR), not the store file {args.target!r}. Fix: drop {'it' if one else 'them'}, "
            "or name the net as MODULE:ATTR",
            usage=True,
        )
    records = DEFAULT_RECORDS if args.records is None else args.records
    for line in asyncio.run(store_report(args.target, run=args.run, records=records)):
        print(line)
    return 0


async def store_report(path: str, *, run: str | None = None, records: int = 10) -> list[str]:
    """The lines ``mycorrhizal inspect PATH`` prints."""
    if Path(path).is_dir():
        raise CommandError(
            f"{path!r} is a folder, not a store file. Fix: give the file in it a Runner with "
            f"store=SQLiteStore(...) wrote, e.g. {os.path.join(path, 'run.db')!r}"
        )
    if not Path(path).is_file():
        raise CommandError(
            f"no store file {path!r}. Fix: give the file a Runner with store=SQLiteStore(...) wrote, or "
            "MODULE:ATTR of a net with --redis for a distributed net"
        )
    if Path(path).stat().st_size == 0:  # SQLite would make it a new, empty store: inspect writes nothing
        raise CommandError(
            f"{path!r} is empty, not a store. Fix: give the file a Runner with store=SQLiteStore(...) wrote"
        )
    try:
        store = SQLiteStore(path)
    except StoreError as exc:
        raise CommandError(fix_last(f"cannot open {path!r} as a store: {exc}", "", otherwise=_STORE)) from exc
    try:
        infos = everything = await store.runs()
        if run is not None:
            infos = tuple(info for info in everything if info.run == run)
            if not infos:
                raise CommandError(_no_run(everything, path, run))
        lines = [f"store {path}: {len(infos)} run(s)"]
        for info in infos:
            lines.extend(_run_report(info, await store.load(info.run), records))
        return lines
    finally:
        await store.close()


def _run_report(info: RunInfo, recovery: Recovery | None, shown: int) -> list[str]:
    snapshot = "no snapshot" if info.snapshot_seq is None else f"snapshot at record {info.snapshot_seq}"
    lines = ["", f"run {info.run!r}: epoch {info.epoch}, {info.last_seq} records, {snapshot}"]
    if recovery is None or recovery.snapshot is None:
        lines.append("  nothing to recover yet")
    else:
        lines.extend(_state(recovery))
    kept = () if recovery is None else recovery.records
    if shown and kept:
        lines.append(f"  recent journal ({min(shown, len(kept))} of {len(kept)} kept after the snapshot):")
        lines.extend(f"    {_record(record)}" for record in kept[-shown:])
    return lines


def _state(recovery: Recovery) -> list[str]:
    assert recovery.snapshot is not None
    document: Any = recovery.snapshot.document
    if type(document) is not dict or document.get("engine") != "hypha":
        engine = document.get("engine", "?") if type(document) is dict else "?"
        return [f"  a snapshot of engine {engine!r}: {_preview(document)}"]
    try:
        state: Any = replay(document, recovery.records)
    except StoreError as exc:
        said = f"run {recovery.run!r} cannot be recovered: {exc}"
        raise CommandError(fix_last(said, "", otherwise="drop --run to see the other runs")) from exc
    lines = [f"  net {state['net']}, recovered from the snapshot and {len(recovery.records)} record(s):"]
    lines.append("  marking:")
    places: dict[str, list[JSON]] = state["places"]
    width = max(map(len, places), default=0)
    for name, tokens in places.items():
        head = ", ".join(_preview(token, TOKEN_PREVIEW) for token in tokens[:SHOWN_TOKENS])
        more = f", ... ({len(tokens) - SHOWN_TOKENS} more)" if len(tokens) > SHOWN_TOKENS else ""
        lines.append(f"    {name:<{width}}  {len(tokens):>6}  {head}{more}")
    lines.extend(_held_back(state))
    return lines


def _held_back(state: dict[str, Any]) -> list[str]:
    lines = []
    for name, entry in state["transitions"].items():
        blocked = entry.get("blocked")
        if blocked is not None:
            lines.append(f"  transition {name} is held back{_why(blocked)}")
        if "memory" in entry:
            lines.extend(_memory(name, entry["memory"]))
    for name, entry in state["sinks"].items():
        blocked = entry.get("blocked")
        if blocked is not None:
            lines.append(f"  sink {name} is held back{_why(blocked)}")
    fired = {name: entry.get("fired", 0) for name, entry in state["transitions"].items()}
    lines.append("  fired: " + (", ".join(f"{name} {count}" for name, count in fired.items()) or "-"))
    return lines


def _memory(name: str, memory: Any) -> list[str]:
    """What a transition keeps in ctx.memory: its fsm= machines one per line, the rest as JSON."""
    if type(memory) is not dict:
        return [f"  transition {name} keeps ctx.memory {_preview(memory)}"]
    lines, rest = [], {}
    for key, value in memory.items():
        body = value.get("v") if type(value) is dict and value.get("$t") == MACHINE_POOL else None
        if type(body) is dict and type(body.get("machines")) is list:
            lines.extend(_machines(name, body["machines"]))
        else:
            rest[key] = value
    if rest:
        lines.append(f"  transition {name} keeps ctx.memory {_preview(rest)}")
    return lines


def _machines(name: str, machines: list[Any]) -> list[str]:
    lines = [f"  transition {name}: {len(machines)} fsm= machine(s)"]
    for item in machines[:SHOWN_TOKENS]:
        if type(item) is not list or len(item) < 2:
            continue
        timer = item[2].get("timer") if len(item) > 2 and type(item[2]) is dict else None
        until = f", timeout at {timer['deadline']:g}" if type(timer) is dict and "deadline" in timer else ""
        lines.append(f"    {_preview(item[0], TOKEN_PREVIEW)}: {item[1]}{until}")
    if len(machines) > SHOWN_TOKENS:
        lines.append(f"    ... ({len(machines) - SHOWN_TOKENS} more)")
    return lines


def _why(blocked: dict[str, Any]) -> str:
    error = blocked.get("error")
    why = f" after {error[0]}: {error[1]}" if isinstance(error, list) and len(error) == 2 else ""
    at = blocked.get("at")
    when = " until a new token arrives" if at is None else f" until {at:g} (on its timebase) or a new token"
    return f"{why};{when}"


def _record(record: Record) -> str:
    payload: Any = record.payload
    subject = (
        payload.get("t") or payload.get("place") or payload.get("sink") if type(payload) is dict else None
    )
    shown = f"{record.seq:>6} {record.kind:<10} {subject or ''}"
    return f"{shown}  {_preview(payload)}"


def _preview(value: Any, limit: int = PREVIEW) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
