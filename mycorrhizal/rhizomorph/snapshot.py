"""A runner written down: ``runner.snapshot()`` -> a plain, versioned JSON document, and back.

The document holds everything a tick reads: the blackboard (through a
:class:`~mycorrhizal.common.CodecRegistry`), and per node its last status, tick stamp, cursor (the
child a memory composite resumes at, a retry's count, a reactive composite's followed child, the
running case of a match ...) and working data (a parallel's results this round, a rate limit's last
start, a timeout's deadline on the timebase).

What cannot be written down restarts: an ``async def`` leaf that was RUNNING (its coroutine was in
the middle of an ``await``) is started again from the beginning on the restored runner's next tick.
Its node keeps its RUNNING status, so its parent resumes it as usual, and a halt before that tick
runs its halt hook.  One whose coroutine had already finished, returning a status, a bool or None
that no tick had collected yet, did its work: that result is written down (``{"returned": ...}``)
and the restored runner's next tick reports it without running the leaf again.
Plain-function leaves hold nothing between ticks, so they continue exactly.
A restored timeout's timer is set again for its original deadline on the restored runner's
timebase (give it a clock that continues from the snapshot's time).

    {"engine": "rhizomorph", "version": 1, "tree": "Patrol", "kinds": ["selector", ...],
     "ticks": 12, "last": "running", "polling": false, "blackboard": {"codec": 1, "value": ...},
     "status": ["running", null, ...], "seen": [12, 0, ...], "cur": [1, 0, ...],
     "data": {"3": {"deadline": 17.5}, "5": {"results": ["success", null]}, "8": {"started": 10.0},
              "11": {"returned": "success"}}}
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from ..common.codecs import JSON, CodecRegistry
from ..common.documents import check_header, refusal
from ..common.errors import CodecError
from .behaviours.decorators import Deadline
from .behaviours.host import Host
from .program import Program
from .status import Status

__all__ = ["FORMAT", "Finished", "blackboard", "read", "write"]

FORMAT = 1
"""Version of the snapshot document; a newer one is refused."""
ENGINE = "rhizomorph"
_STATUS = {status.value: status for status in Status}


_LEAVES = ("action", "condition")


class Finished:
    """A restored async leaf's coroutine that had finished: what a tick collects of a done task."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def done(self) -> bool:
        """Always: it finished before the snapshot."""
        return True

    def cancelled(self) -> bool:
        """Never: it returned."""
        return False

    def exception(self) -> None:
        """None: it returned (one that raised is not written down; it starts again)."""
        return None

    def result(self) -> Any:
        """What the coroutine returned."""
        return self.value


def _returned(data: Any) -> JSON:
    """What an async leaf's finished, uncollected coroutine returned, if it can be written down: a
    status (its value), a bool or None; else (still at work, cancelled, raised, another value) None."""
    if isinstance(data, Finished):
        value = data.value
    elif isinstance(data, asyncio.Task) and data.done() and not data.cancelled() and data.exception() is None:
        value = data.result()
    else:
        return None
    if value.__class__ is Status:
        return {"returned": value.value}
    if value is None or value is True or value is False:
        return {"returned": value}
    return None


def _status(value: Status | None) -> str | None:
    return None if value is None else value.value


def _data(kind: str, data: Any) -> JSON:
    """The JSON form of one node's working data (None: nothing worth keeping, e.g. a leaf's task)."""
    if kind == "timeout" and isinstance(data, Deadline):
        return {"deadline": data.at}
    if kind == "rate_limit" and isinstance(data, int | float):
        return {"started": data}
    if kind == "parallel" and isinstance(data, list):
        return {"results": [_status(r) for r in data]}
    if kind in _LEAVES:
        return _returned(data)
    return None


def write(
    runner: Host, program: Program, name: str, last: Status | None, codecs: CodecRegistry | None
) -> dict[str, JSON]:
    """The snapshot document of ``runner`` (see the module); ``codecs``: the caller's, if given."""
    kinds = program.plan.kinds
    data: dict[str, JSON] = {}
    for i, value in enumerate(runner.data):
        if value is not None:
            kept = _data(kinds[i], value)
            if kept is not None:
                data[str(i)] = kept
    return {
        "engine": ENGINE,
        "version": FORMAT,
        "tree": name,
        "kinds": list(kinds),
        "ticks": runner.ticks,
        "last": _status(last),
        "polling": runner.polling,
        "blackboard": _blackboard(runner.bb, name, codecs),
        "status": [_status(s) for s in runner.status],
        "seen": list(runner.seen),
        "cur": list(runner.cur),
        "data": data,
    }


def _blackboard(bb: Any, name: str, codecs: CodecRegistry | None) -> dict[str, JSON]:
    """``bb`` as a codec document; a :class:`CodecError` names tree ``name`` and what to pass."""
    try:
        return (codecs or CodecRegistry()).document(bb)
    except CodecError as exc:
        how = "runner.snapshot(codecs=registry), and Runner.restore(..., codecs=registry) to read it back"
        where = f"tree {name!r}: its blackboard cannot be written down"
        raise exc.at(where, pass_as=None if codecs is not None else how) from exc


def blackboard(document: dict[str, Any], name: str, codecs: CodecRegistry | None) -> Any:
    """The blackboard in ``document`` (checked); a :class:`CodecError` names tree ``name``."""
    try:
        return (codecs or CodecRegistry()).from_document(document.get("blackboard"))
    except CodecError as exc:
        how = "Runner.restore(..., codecs=registry), the registry the snapshot was taken with"
        where = f"tree {name!r}: the blackboard in the document cannot be read"
        raise exc.at(where, pass_as=None if codecs is not None else how) from exc


_DAMAGED = (
    "pass Runner.restore() the document runner.snapshot() wrote, unchanged (this one was damaged or edited)"
)
"""The fix for a document whose parts are of the wrong shape."""


def _refuse(message: str, fix: str = _DAMAGED) -> CodecError:
    return refusal(ENGINE, message, fix)


def check(document: Any, program: Program, name: str) -> dict[str, Any]:
    """``document`` if it is a snapshot of this tree in a format this version reads; else CodecError."""
    checked = check_header(
        document, engine=ENGINE, reads=FORMAT, what="behaviour-tree snapshot", made_by="runner.snapshot()"
    )
    kinds = program.plan.kinds
    if checked.get("tree") != name or checked.get("kinds") != list(kinds):
        raise _refuse(_mismatch(checked, program, name), "restore it with the tree it was taken of")
    size = len(kinds)
    for key in ("status", "seen", "cur"):
        values = checked.get(key)
        if type(values) is not list or len(values) != size:
            raise _refuse(f"{key!r} is not a list of {size} entries")
    return checked


_WHEN = "when the snapshot was taken"


def _mismatch(document: dict[str, Any], program: Program, name: str) -> str:
    """What differs between the tree ``document`` was taken of and tree ``name`` as defined now."""
    saved, kinds = document.get("kinds"), program.plan.kinds
    taken = f"tree {document.get('tree')!r} with {len(saved) if type(saved) is list else 0} nodes"
    if document.get("tree") != name or type(saved) is not list:
        return f"it was taken of {taken}, not of tree {name!r} with {len(kinds)} nodes as defined now"
    # Same name: say which node changed, since both sides' names and sizes may read alike.
    for i, (was, now) in enumerate(zip(saved, kinds, strict=False)):
        if was != now:
            node = f"node {program.plan.ids[i]!r} (node {i})"
            return f"{node} is a {now} in tree {name!r} as defined now, but was a {was} {_WHEN}"
    return f"tree {name!r} has {len(kinds)} nodes as defined now, but had {len(saved)} {_WHEN}"


def _is_time(value: Any) -> bool:
    """A reading of a timebase: a finite number (json.loads reads NaN and Infinity too)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _node_data(kind: str, saved: Any) -> Any:
    if type(saved) is not dict:
        raise _refuse(f"node data {saved!r} is not an object")
    if kind == "rate_limit" and _is_time(saved.get("started")):
        return saved["started"]
    if kind == "parallel" and type(saved.get("results")) is list:
        return [None if r is None else _parse_status(r) for r in saved["results"]]
    if kind == "timeout" and _is_time(saved.get("deadline")):
        return float(saved["deadline"])
    if kind in _LEAVES and set(saved) == {"returned"}:
        value = saved["returned"]
        return Finished(value if value is None or type(value) is bool else _parse_status(value))
    raise _refuse(f"node data {saved!r} does not fit a {kind} node")


def _cursor_range(program: Program, i: int) -> range:
    """The cursors node ``i`` can hold (a damaged one would skip work or index another child)."""
    plan, kind = program.plan, program.plan.kinds[i]
    low = plan.cursors[i]  # -1 where "no child" is a state (reactive composites, match)
    if kind in ("sequence", "selector", "match"):
        return range(low, len(plan.children[i]))  # the child it resumes at or follows
    if kind in ("retry", "repeat"):
        return range(0, max(1, int(getattr(plan.specs[i], "arg", None) or 1)))  # runs that ended
    if kind in ("timeout", "try_catch"):
        return range(0, 2)  # a flag: the time is up / in the catch block
    return range(low, low + 1)


def _check_cursors(program: Program, cursors: list[int]) -> None:
    for i, cursor in enumerate(cursors):
        fits = _cursor_range(program, i)
        if cursor not in fits:
            kind = program.plan.kinds[i]
            article = "an" if kind[0] in "aeiou" else "a"
            raise _refuse(
                f"node {program.plan.ids[i]!r} (node {i}): cursor {cursor} does not fit {article} {kind} "
                f"(it holds {fits.start}..{fits.stop - 1})"
            )


def _parse_status(value: Any) -> Status:
    status = _STATUS.get(value) if isinstance(value, str) else None
    if status is None:
        raise _refuse(f"{value!r} is not a status")
    return status


def read(runner: Host, program: Program, document: dict[str, Any]) -> Status | None:
    """Put the state of ``document`` (already :func:`check`-ed) into a fresh ``runner``; its last status.

    Timeouts that were running get their timers again, for their original deadlines.
    """
    kinds = program.plan.kinds
    runner.status[:] = [None if s is None else _parse_status(s) for s in document["status"]]
    if not all(type(n) is int for n in (*document["seen"], *document["cur"], document.get("ticks"))):
        raise _refuse("tick stamps and cursors must be whole numbers")
    if document["ticks"] < 0 or min(document["seen"], default=0) < 0:
        raise _refuse("tick stamps must be >= 0")
    _check_cursors(program, document["cur"])
    runner.seen[:] = document["seen"]
    runner.cur[:] = document["cur"]
    runner.ticks = document["ticks"]
    runner.polling = bool(document.get("polling"))
    data = document.get("data") or {}
    if type(data) is not dict:
        raise _refuse("'data' is not an object")
    for key, saved in data.items():
        i = int(key) if key.isdigit() else -1
        if not 0 <= i < len(kinds):
            raise _refuse(f"node {key!r} does not exist")
        value = _node_data(kinds[i], saved)
        if isinstance(value, Finished) and not (
            runner.status[i] is Status.RUNNING and getattr(program.plan.specs[i], "is_async", False)
        ):
            raise _refuse(f"node {key!r}: a coroutine's result for a leaf that is no RUNNING async leaf")
        if kinds[i] == "timeout":
            program.rearms[i](runner, value)  # a Deadline with a fresh timer
        else:
            runner.data[i] = value
    last = document.get("last")
    return None if last is None else _parse_status(last)
