"""The header every engine's snapshot document starts with, and the checks of it.

A snapshot (of a net's runner, a tree's runner, a state machine) is a JSON-compatible dict whose
``engine`` names what wrote it and whose ``version`` is the format it is written in.  Reading one
starts with the same three refusals in every engine: not a document of this engine, a malformed
version, a version newer than this code reads.  Each engine then checks its own parts.
"""

from __future__ import annotations

from typing import Any

from .errors import CodecError

__all__ = ["check_header", "refusal"]


def check_header(document: Any, *, engine: str, reads: int, what: str, made_by: str) -> dict[str, Any]:
    """``document`` as a dict, if it is a document of ``engine`` in a format up to ``reads``.

    Otherwise a :class:`CodecError` starting ``"<engine> snapshot: "``; ``what`` names the kind of
    document (``"behaviour-tree snapshot"``) and ``made_by`` what makes one (``"runner.snapshot()"``).
    """
    if type(document) is not dict or document.get("engine") != engine:
        raise refusal(engine, f"not a {what}: {str(document)[:80]!r}. Fix: pass what {made_by} made")
    version = document.get("version")
    if type(version) is not int or version < 1:
        raise refusal(
            engine,
            f"malformed version {version!r}",
            f"pass what {made_by} made, unchanged (this one was damaged or edited)",
        )
    if version > reads:
        raise refusal(
            engine,
            f"format {version} is newer than format {reads} that this mycorrhizal reads. "
            "Fix: restore it with the (newer) mycorrhizal version that wrote it",
        )
    return document


def refusal(engine: str, message: str, fix: str | None = None) -> CodecError:
    """The error for a snapshot document of ``engine`` that cannot be read: ``message`` says why and
    ``fix`` what to do (None: ``message`` ends with its own ``. Fix: ...``)."""
    return CodecError(
        f"{engine} snapshot: {message}" if fix is None else f"{engine} snapshot: {message}. Fix: {fix}"
    )
