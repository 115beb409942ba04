"""Payloads and documents as text: strict JSON, written once when appended, read back on load."""

from __future__ import annotations

import json

from ..common.codecs import JSON
from ..common.errors import StoreError
from ..common.interpreter import compact_json

__all__ = ["dumps", "loads", "record_text"]


def dumps(data: JSON, what: str) -> str:
    """``data`` as compact strict JSON; a StoreError naming ``what`` if it is not JSON data."""
    try:
        return compact_json(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _not_json(what, exc) from None


def record_text(kind: str, payload: JSON, run: str) -> str:
    """A journal record as JSON text, ``[kind, payload]``: what the journal tables keep."""
    try:
        return compact_json((kind, payload))
    except (TypeError, ValueError, RecursionError) as exc:
        raise _not_json(f"the payload of a {kind!r} record of run {run!r}", exc) from None


def _not_json(what: str, exc: BaseException) -> StoreError:
    return StoreError(
        f"{what} is not JSON data ({exc}). Fix: encode tokens and other values with a CodecRegistry "
        f"first (registry.encode(value)), which gives JSON data"
    )


def loads(text: str, what: str) -> JSON:
    """The data in ``text`` read back; a StoreError naming ``what`` if the stored text is damaged."""
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"{what} in the store is not valid JSON ({exc}): the store was damaged") from None
